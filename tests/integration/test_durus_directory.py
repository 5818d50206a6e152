"""DurusDirectory in a real browser (headless chromium through
Playwright): an admin signs in and follows links from the root down to a
user object; someone else gets 403."""

import os
import re

import pytest

from harness import QpdHome

pytestmark = pytest.mark.timeout(180)

CHROMIUM = '/usr/bin/chromium'
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu',
                 '--disable-background-networking',
                 '--disable-component-update', '--disable-sync',
                 '--no-first-run']
NAME = 'browse'


@pytest.fixture(scope='module')
def home():
    home = QpdHome.make()
    try:
        home.new(NAME)
        home.run('start', NAME)
        home.run('shell', NAME, '-c',
                 "create_user('root', 'secret', admin=True); "
                 "create_user('bob', 'pw')")
        yield home
    finally:
        assert home.cleanup() == [], 'processes outlived qpd shutdown'


@pytest.fixture(scope='module')
def browser():
    sync_api = pytest.importorskip('playwright.sync_api')
    if not os.path.exists(CHROMIUM):
        pytest.skip('no chromium at %s' % CHROMIUM)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def sign_in(page, base, user, password):
    page.goto(base + '/durus/')
    page.fill('input[name=qpd_sign_in_user]', user)
    page.fill('input[name=qpd_sign_in_password]', password)
    with page.expect_navigation():
        page.click('input[type=submit]')


def test_admin_browses_down_to_a_user(home, browser):
    base = 'http://127.0.0.1:%d' % home.get_port(NAME)
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, base, 'root', 'secret')
        assert page.url == base + '/durus/'
        assert page.inner_text('h1') == 'PersistentDict 0'
        # The signing key is in var/secret.key, not the root (issue 27).
        assert 'qpd_secret' not in page.inner_text('table.durus')
        row = page.locator('tr', has_text="'users'")
        with page.expect_navigation():
            row.locator('a').click()
        assert re.match(r'BTree \d+$', page.inner_text('h1'))
        row = page.locator('tr', has_text="'bob'")
        with page.expect_navigation():
            row.locator('a').click()
        assert re.match(r'User \d+$', page.inner_text('h1'))
        assert "'bob'" in page.locator('tr', has_text='id').inner_text()
        with page.expect_navigation():
            page.locator('tr', has_text='permissions').locator('a').click()
        assert re.match(r'Permissions \d+$', page.inner_text('h1'))
        with page.expect_navigation():
            page.click('nav.durus-crumbs a:text("durus")')
        assert page.url == base + '/durus/'
    finally:
        context.close()


def test_non_admin_gets_403(home, browser):
    base = 'http://127.0.0.1:%d' % home.get_port(NAME)
    context = browser.new_context()
    try:
        page = context.new_page()
        sign_in(page, base, 'bob', 'pw')
        response = page.goto(base + '/durus/')
        assert response.status == 403
        response = page.goto(base + '/users/')
        assert response.status == 403
    finally:
        context.close()
