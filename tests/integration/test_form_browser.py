"""A form in a real browser: headless Debian chromium, driven by Playwright,
against a real `qpd serve` of the tiny site in form_site/ (two workers).

Open the order form, type into the fields, submit a name the site refuses,
see the error beside the field with the typing kept, fix it, submit, and
see the result. Along the way: "Add row" of a WidgetList keeps what was
typed, and Enter in a field submits with the form's own button.
"""

import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

sync_api = pytest.importorskip('playwright.sync_api')

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run']
SITE_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'form_site')
SITE_NAME = 'formdemo'
WORKERS = 2
START_TIMEOUT = 60

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason='needs Debian chromium at /usr/bin/chromium')


def get_free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class Server:
    """`qpd --home HOME serve formdemo --workers 2` in its own process group."""

    def __init__(self):
        self.home = tempfile.mkdtemp(prefix='qpdf')  # short: unix socket paths
        shutil.copytree(SITE_SOURCE, os.path.join(self.home, 'sites', SITE_NAME),
                        ignore=shutil.ignore_patterns('__pycache__'))
        self.port = get_free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.lines = []
        self.queue = queue.Queue()
        env = dict(os.environ, QPD_FORM_SITE_PORT=str(self.port), PYTHONUNBUFFERED='1')
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'qpd', '--home', self.home, 'serve', SITE_NAME,
             '--workers', str(WORKERS)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True, text=True)
        threading.Thread(target=self.read_output, daemon=True).start()

    def read_output(self):
        for line in self.process.stdout:
            self.queue.put(line)
        self.queue.put(None)

    def wait_ready(self):
        """Wait for the READY lines of the dispatcher and every worker."""
        deadline = time.monotonic() + START_TIMEOUT
        dispatcher, workers = False, 0
        while not (dispatcher and workers >= WORKERS):
            try:
                line = self.queue.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = ''
            if line is None or time.monotonic() > deadline:
                raise AssertionError('qpd serve did not get ready:\n' + ''.join(self.lines))
            self.lines.append(line)
            if line.startswith('READY dispatcher %s' % SITE_NAME):
                dispatcher = True
            elif line.startswith('READY worker %s' % SITE_NAME):
                workers += 1

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture(scope='module')
def server():
    server = Server()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope='module')
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        yield page
    finally:
        context.close()


def test_order_form_in_a_browser(server, page):
    page.goto(server.url + '/order')
    assert page.title() == 'Order'
    # every visible control has a label that names it
    assert page.get_by_label('Name').get_attribute('id') == 'name'
    assert page.get_by_label('Quantity').get_attribute('type') == 'number'
    assert page.get_by_label('Email').get_attribute('type') == 'email'

    page.fill('#name', 'admin')
    page.fill('#email', 'ann@example.com')
    page.fill('#quantity', '3')
    page.select_option('#size', 'l')
    page.check('#gift')
    page.fill('[id="tags$0"]', 'red')
    with page.expect_navigation():
        page.click('#order')

    # the form comes back with the error beside the name field
    error = page.locator('#name-error')
    assert error.inner_text() == 'this name is taken'
    row = page.locator('div.widget', has=page.locator('#name'))
    assert 'this name is taken' in row.inner_text()
    assert page.get_attribute('#name', 'aria-invalid') == 'true'
    # and with what was typed
    assert page.input_value('#name') == 'admin'
    assert page.input_value('#email') == 'ann@example.com'
    assert page.input_value('#quantity') == '3'
    assert page.input_value('#size') == 'l'
    assert page.is_checked('#gift')
    assert page.input_value('[id="tags$0"]') == 'red'

    # add a row: the form comes back with one more tag field, typing kept
    with page.expect_navigation():
        page.click('[id="tags$add"]')
    assert page.input_value('[id="tags$0"]') == 'red'
    page.fill('[id="tags$1"]', 'blue')

    # fix the name and press Enter in it: the form's own button submits
    page.fill('#name', 'Ann')
    with page.expect_navigation():
        page.press('#name', 'Enter')
    assert page.title() == 'Thank you'
    assert page.inner_text('#summary') == 'Ann ordered 3 Large (gift wrapped).'
    assert page.inner_text('#tags') == 'Tags: red, blue'

    # going back (when the browser shows the page from its cache) and
    # submitting the same form again is refused: its token was used
    try:
        page.go_back()
    except sync_api.Error:
        return
    if page.title() == 'Order' and page.locator('#order').count():
        with page.expect_navigation():
            page.click('#order')
        assert page.title() == 'Order'
        assert 'already submitted' in page.inner_text('.form-error')


def test_browser_checks_help_too(server, page):
    page.goto(server.url + '/order')
    page.fill('#quantity', '0')
    page.click('#order')  # required name and min=1: the browser refuses to send
    assert page.evaluate("document.querySelector('#name').validity.valueMissing")
    assert page.evaluate("document.querySelector('#quantity').validity.rangeUnderflow")
    assert page.title() == 'Order'
    assert page.locator('.error').count() == 0
