"""The QP example site (qp_site/, written with QP's imports) ported by
`qpd port` and run under a real `qpd serve` (StorageServer, dispatcher,
two workers), driven over HTTP: QP's publisher hooks, traversal, a Form
with several widgets, spec'd persistent classes in a Keep, sign-in through
ensure_signed_in_using_form, and an Email delivered to a real aiosmtpd
server.
"""

import email
import http.client
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email import policy
from urllib.parse import urlencode

import pytest
from aiosmtpd.controller import Controller

SITE_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           'qp_site')
NAME = 'qpsite'
WORKERS = 2


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def qpd(*args, **kwargs):
    return subprocess.run([sys.executable, '-m', 'qpd'] + list(args),
                          capture_output=True, text=True, timeout=60,
                          **kwargs)


class Recorder:
    """aiosmtpd handler keeping every message."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return '250 Message accepted'


class Browser:
    """HTTP/1.1 requests with a cookie jar; redirects are not followed."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}

    def request(self, method, path, fields=None):
        connection = http.client.HTTPConnection('127.0.0.1', self.port,
                                                timeout=20)
        headers = {}
        if self.cookies:
            headers['Cookie'] = '; '.join('%s=%s' % item
                                          for item in self.cookies.items())
        body = None
        if fields is not None:
            body = urlencode(fields)
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read().decode('utf-8')
        for value in response.headers.get_all('Set-Cookie') or ():
            name, _, rest = value.partition('=')
            self.cookies[name] = rest.split(';')[0]
        connection.close()
        return response.status, response.headers, text

    def get(self, path):
        return self.request('GET', path)

    def post(self, path, fields):
        return self.request('POST', path, fields)

    def submit(self, path, fields):
        """GET path, then post fields with the page's hidden fields."""
        status, headers, text = self.get(path)
        hidden = dict(re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text))
        hidden.update(fields)
        return self.post(path, hidden)


@pytest.fixture(scope='module')
def site():
    """The ported site under `qpd serve`, with user ann and an SMTP
    server: yields (port, home, recorder)."""
    home = tempfile.mkdtemp(prefix='qpdqp')    # short: unix socket paths
    package = os.path.join(home, 'sites', NAME)
    shutil.copytree(SITE_SOURCE, package,
                    ignore=shutil.ignore_patterns('__pycache__'))
    ported = qpd('port', package)
    assert ported.returncode == 0, ported.stderr
    recorder = Recorder()
    controller = Controller(recorder, hostname='127.0.0.1', port=free_port())
    controller.start()
    port = free_port()
    env = dict(os.environ, QP_SITE_HTTP_PORT=str(port), PYTHONUNBUFFERED='1',
               QP_SITE_SMTP='127.0.0.1:%d' % controller.port)
    process = subprocess.Popen(
        [sys.executable, '-m', 'qpd', '--home', home, 'serve', NAME,
         '--workers', str(WORKERS)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, env=env, start_new_session=True, text=True)
    lines = queue.Queue()
    output = []

    def read():
        for line in process.stdout:
            output.append(line)
            lines.put(line)
        lines.put(None)
    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 60
        workers = 0
        while workers < WORKERS:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None or time.monotonic() > deadline:
                raise AssertionError('qpd serve did not get ready:\n' +
                                     ''.join(output))
            if line.startswith('READY worker %s' % NAME):
                workers += 1
        made = qpd('--home', home, 'shell', NAME, '-c',
                   "create_user('ann', 'secret')", env=env)
        assert made.returncode == 0, made.stdout + made.stderr
        yield port, home, recorder, output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        controller.stop()
        shutil.rmtree(home, ignore_errors=True)


def test_port_rewrote_every_import(site):
    port, home, recorder, output = site
    package = os.path.join(home, 'sites', NAME)
    with open(os.path.join(package, 'slash.qpy')) as f:
        text = f.read()
    assert 'from qp.' not in text and 'from qpy ' not in text
    assert 'from qpd.web.publish import Publisher' in text
    assert os.path.exists(os.path.join(package, 'slash.qpy.qp-orig'))
    with open(os.path.join(package, 'model.py')) as f:
        assert 'from qpd.storage.keep import Keep, Keyed, Stamped' in f.read()


def test_pages_hooks_and_traversal(site):
    port = site[0]
    browser = Browser(port)
    status, headers, text = browser.get('/')
    assert status == 200 and headers['X-Site'] == 'qp_site'
    assert '<title>QP example site</title>' in text
    assert 'Not signed in' in text and 'QP example site</p>' in text
    assert browser.get('/whoami')[2] == 'nobody'     # the null user
    assert browser.get('/path')[2] == '/path -'
    assert browser.get('/notes')[0] == 301           # a directory's slash
    assert browser.get('/notes')[1]['Location'].endswith('/notes/')
    assert browser.get('/nothing')[0] == 404          # None is not found
    status, headers, text = browser.get('/missing')
    assert status == 404 and '<title>Not Found</title>' in text
    status, headers, text = browser.get('/boom')
    assert status == 500 and 'broken on purpose' not in text


def test_sign_in_add_note_and_mail_it(site):
    port, home, recorder, output = site
    browser = Browser(port)
    status, headers, text = browser.get('/add')
    assert status == 403 and 'Please Sign In' in text
    status, headers, text = browser.submit(
        '/add', {'qpd_sign_in_user': 'ann', 'qpd_sign_in_password': 'wrong'})
    assert status == 403
    status, headers, text = browser.submit(
        '/add', {'qpd_sign_in_user': 'ann', 'qpd_sign_in_password': 'secret'})
    assert status == 302, text
    assert browser.get('/whoami')[2] == 'ann'

    status, headers, text = browser.get('/add')
    assert status == 200 and 'Signed in as ann' in text, text
    for control in ('type="text" name="title"', '<textarea', '<select',
                    'type="radio"', 'type="checkbox"'):
        assert control in text, control
    status, headers, text = browser.submit('/add', {
        'title': 'First <note>', 'text': 'line one\nline two',
        'color': 'red', 'priority': '3', 'public': 'on', 'save': 'Save'})
    assert status == 302, text
    location = headers['Location']
    # A QP site keeps allowed_hosts unset: its redirects are site-relative
    # (issue 27 #8), never built on the client's Host.
    assert re.fullmatch(r'/notes/\d+', location), location
    path = location
    status, headers, text = browser.get(path)
    assert status == 200
    assert 'First &lt;note&gt;' in text and 'line one<br />' in text
    assert 'class="note red"' in text and 'priority 3' in text
    assert 'First &lt;note&gt;' in Browser(port).get('/notes/')[2]

    key = path.rsplit('/', 1)[1]
    status, headers, text = browser.submit('/mail', {
        'to': 'bob@example.com', 'note': key, 'send': 'Send'})
    assert status == 200 and 'sent' in text and 'not sent' not in text
    message = email.message_from_bytes(recorder.envelopes[-1].content,
                                       policy=policy.default)
    assert message['Subject'] == 'Note: First <note>'
    assert message['To'] == 'bob@example.com'
    assert message['X-Note'] == key
    assert recorder.envelopes[-1].rcpt_tos == ['bob@example.com']

    status, headers, text = browser.get('/sign_out')
    assert status == 302 and headers['Location'] == '/'     # site-relative
    assert browser.get('/whoami')[2] == 'nobody'
