"""Issue 15 against a site's real processes (StorageServer, dispatcher and
two workers): anonymous form views write nothing and tokens stay one-time;
sign-in failures are throttled across workers and worker restarts; Host
must be allowed; HTML responses refuse framing and sniffing, personal
ones are not cached; methods a page does not answer get 405 (unknown
ones 501) and HEAD is GET without the body; the error report's first line
in the log is quoted even when an SCGI front end sends a newline."""

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from harness import Cluster, make_home, request, wait_until
from qpd.server.scgi import send_scgi
from qpd.web.form import TOKEN_MESSAGE
from qpd.web.signin import PASSWORD_FIELD, USER_FIELD

pytestmark = pytest.mark.timeout(180)

SLASH = '''\
from qpd.web.common import (
    ensure_signed_in, get_response, get_root, get_user, redirect)
from qpd.web.directory import Directory
from qpd.web.form import Form
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = %(configuration)r


class SiteDirectory(Directory):
    _q_exports = ['', 'form', 'secret', 'go', 'boom']

    def _q_index(self):
        return 'hello'

    def form(self):
        form = Form()
        form.add_string('name')
        form.add_submit('save', 'Save')
        if not form.is_submitted() or form.has_errors():
            return form.render()
        get_root()['saved'] = get_root().get('saved', 0) + 1
        return 'saved %%s' %% form.get('name')

    def secret(self):
        ensure_signed_in()
        return 'secret of ' + get_user().get_id()

    def go(self):
        redirect('/form')

    def boom(self):
        raise RuntimeError('boom')
'''

CONFIGURATION = {
    'http_address': ('127.0.0.1', 0),
    'scgi_address': ('127.0.0.1', 0),
    'allowed_hosts': ['127.0.0.1', 'localhost', 'test'],
    'sign_in_free_failures': 3,
    'sign_in_max_delay': 30,
}


def booted(root, configuration):
    """(root, configuration:dict) -> a Cluster of the site (2 workers) with
    the user ann (password 'secret'), to use in a with statement."""
    home = make_home(root, slash=SLASH % {'configuration': configuration})
    cluster = Cluster(home)
    try:
        cluster.boot(workers=2)
        shell = subprocess.run(
            [sys.executable, '-m', 'qpd', '--home', home, 'shell', 'hello',
             '-c', "create_user('ann', 'secret')"],
            env=cluster.env, capture_output=True, text=True, timeout=60)
        assert shell.returncode == 0, shell.stderr
    except BaseException:
        cluster.stop_all()
        raise
    return cluster


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    with booted(tmp_path_factory.mktemp('hardening'), CONFIGURATION) as cluster:
        yield cluster


class Browser:
    """http.client with a cookie jar, one connection per request."""

    def __init__(self, cluster, host='test'):
        self.address = cluster.addresses['http']
        self.host = host
        self.cookies = {}

    def request(self, method, path, fields=None, headers=None):
        connection = http.client.HTTPConnection(*self.address, timeout=10)
        sent = {'Host': self.host}
        if self.cookies:
            sent['Cookie'] = '; '.join('%s=%s' % item
                                       for item in self.cookies.items())
        body = None
        if fields is not None:
            from urllib.parse import urlencode
            body = urlencode(fields)
            sent['Content-Type'] = 'application/x-www-form-urlencoded'
        sent.update(headers or {})
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode('utf-8', 'replace')
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == 'set-cookie':
                cookie = value.split(';', 1)[0]
                key, _, item = cookie.partition('=')
                if 'Max-Age=0' in value or 'expires=Thu, 01 Jan 1970' in value:
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = item
        return response, text


def token_of(text):
    return re.search(r'name="_form_token" value="([^"]+)"', text).group(1)


def durus_file(cluster):
    return os.path.join(cluster.home, 'sites', 'hello', 'var', 'hello.durus')


def test_anonymous_form_views_write_nothing(cluster):
    Browser(cluster).request('GET', '/form')            # warm up
    size = os.path.getsize(durus_file(cluster))
    for _ in range(200):
        response, text = Browser(cluster).request('GET', '/form')
        assert response.status == 200 and '_form_token' in text
        assert response.getheader('Cache-Control') == 'private, no-store'
    assert os.path.getsize(durus_file(cluster)) == size

    ann = Browser(cluster)
    response, text = ann.request('GET', '/form')
    token = token_of(text)
    assert list(ann.cookies) == ['hello_session_key']   # no session
    response, text = ann.request('POST', '/form', dict(
        _form_token=token, name='one', save='Save'))
    assert text == 'saved one'
    # The same token again (a double submit, or a replay) is refused, by
    # whichever worker gets it.
    for _ in range(3):
        response, text = ann.request('POST', '/form', dict(
            _form_token=token, name='two', save='Save'))
        assert TOKEN_MESSAGE in text.replace('&#39;', "'")
    # A token is bound to its browser: another one cannot use it.
    other = Browser(cluster)
    other.request('GET', '/form')
    response, text = ann.request('GET', '/form')
    fresh = token_of(text)
    response, text = other.request('POST', '/form', dict(
        _form_token=fresh, name='three', save='Save'))
    assert TOKEN_MESSAGE in text.replace('&#39;', "'")


def sign_in(browser, password):
    response, text = browser.request('GET', '/secret')
    return browser.request('POST', '/secret', {
        '_form_token': token_of(text), USER_FIELD: 'ann',
        PASSWORD_FIELD: password, 'qpd_sign_in': 'Sign in'})


def restart_workers(cluster):
    for pid in cluster.get_worker_pids():
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: cluster.get_stats()['workers'] == 0)
    for index in range(2):
        cluster.start_worker(index, wait=False)
    wait_until(lambda: cluster.get_stats()['workers'] == 2, timeout=30)


def test_sign_in_failures_are_throttled_and_survive_restarts(cluster):
    browser = Browser(cluster)
    for _ in range(2):
        response, text = sign_in(browser, 'wrong')
        assert response.status == 403 and 'Unknown user or wrong' in text
    # The count is in the database: new workers know it.
    restart_workers(cluster)
    response, text = sign_in(browser, 'wrong')
    assert response.status == 403
    response, text = sign_in(browser, 'secret')     # too soon, even right
    assert response.status == 429
    wait = int(response.getheader('Retry-After'))
    assert 1 <= wait <= 30
    assert 'try again in' in text
    # Not locked out for long: after the wait, the right password works
    # and forgets the failures.
    time.sleep(wait + 0.2)
    response, text = sign_in(browser, 'secret')
    assert response.status == 302
    assert browser.request('GET', '/secret')[1] == 'secret of ann'
    stranger = Browser(cluster)
    for _ in range(3):
        assert sign_in(stranger, 'wrong')[0].status == 403
    assert sign_in(stranger, 'wrong')[0].status == 429
    time.sleep(1.2)      # the 4th failure's wait, 2 ** 0 seconds


def test_host_must_be_allowed(cluster):
    status, headers, body = cluster.get('/go', headers=[])
    assert status == 302 and headers['location'] == 'http://test/form'
    data = (b'GET /go HTTP/1.1\r\nHost: evil.example\r\n'
            b'Connection: close\r\n\r\n')
    status, headers, body = request(cluster.addresses['http'], data)
    assert status == 400 and 'location' not in headers


def test_security_headers(cluster):
    status, headers, body = cluster.get('/')
    assert headers['x-content-type-options'] == 'nosniff'
    assert headers['x-frame-options'] == 'DENY'
    assert headers['content-security-policy'] == "frame-ancestors 'none'"
    assert 'cache-control' not in headers      # anonymous, no cookie
    browser = Browser(cluster)
    response, text = sign_in(browser, 'secret')
    assert response.status == 302
    response, text = browser.request('GET', '/')
    assert response.getheader('Cache-Control') == 'private, no-store'


def test_methods(cluster):
    address = cluster.addresses['http']
    for method in ('TRACE', 'PROPFIND', 'PUT', 'DELETE', 'OPTIONS'):
        data = ('%s / HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n'
                'Connection: close\r\n\r\n' % method).encode()
        status, headers, body = request(address, data)
        assert status == 405, method
        assert headers['allow'] == 'GET, HEAD, POST'
        assert b'hello' not in body
    # A method nobody defines: the dispatcher's parser refuses what it does
    # not know (400); one that reaches the publisher (through SCGI) is 501.
    data = b'BREW / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n'
    assert request(address, data)[0] in (400, 501)
    answer = send_scgi(cluster.get_port('scgi'), host='127.0.0.1',
                       REQUEST_METHOD='BREW', HTTP_HOST='test')
    assert answer.startswith(b'Status: 501') or b' 501 ' in answer[:40]
    get = cluster.get('/')
    data = b'HEAD / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n'
    from harness import connect, read_response
    sock = connect(address)
    try:
        sock.sendall(data)
        status, headers, body = read_response(sock, head_only_for_head=True)
        sock.sock.settimeout(0.5)
        try:
            extra = sock.recv(100)
        except socket.timeout:
            extra = b''
    finally:
        sock.close()
    assert status == 200 and body == b'' and extra == b''
    assert headers['content-length'] == get[1]['content-length']


def test_error_report_first_line_is_quoted(cluster):
    log = os.path.join(cluster.home, 'sites', 'hello', 'var', 'site.log')
    answer = send_scgi(cluster.get_port('scgi'), host='127.0.0.1',
                       PATH_INFO='/boom', HTTP_HOST='test',
                       QUERY_STRING='a\nFORGED 10.0.0.1 - admin "GET /" 200')
    assert b'500' in answer.split(b'\r\n', 1)[0]

    def reported():
        with open(log, encoding='utf-8', errors='replace') as f:
            text = f.read()
        return 'RuntimeError: boom' in text and text
    text = wait_until(reported)
    assert not any(line.startswith('FORGED') for line in text.splitlines())
    assert 'GET /boom?a\\nFORGED' in text


# Issue 27, served: a front end in front, the client address it gives -------

PROXIED = {
    'http_address': ('127.0.0.1', 0),
    'scgi_address': ('127.0.0.1', 0),
    'allowed_hosts': None,            # a ported QP site's default
    'trusted_proxies': ['127.0.0.1'],     # nginx, connecting from there
    'display_exceptions': True,
}


@pytest.fixture(scope='module')
def proxied(tmp_path_factory):
    """(cluster, nginx): a site trusting 127.0.0.1, and a real nginx at
    127.0.0.1 in front of its http_address with the location lines `qpd
    build` writes (X-Forwarded-For, X-Forwarded-Proto)."""
    from harness import Nginx, find_nginx
    from qpd.ops import build
    from qpd.site import Site
    if not find_nginx():
        pytest.skip('nginx is not installed')
    root = tmp_path_factory.mktemp('proxied')
    with booted(root, PROXIED) as cluster:
        site = Site('hello', home=cluster.home)
        upstream = 'http://127.0.0.1:%d' % cluster.get_port()
        location = '\n'.join(build._proxy_pass(site, upstream, False))
        assert 'X-Forwarded-For $proxy_add_x_forwarded_for' in location
        nginx = Nginx(str(root / 'nginx'), ('127.0.0.1', cluster.get_port()),
                      http=True, location=location).start()
        try:
            yield cluster, nginx
        finally:
            nginx.stop()


class ClientAt(Browser):
    """A browser at its own loopback address (source 127.0.0.N), through
    nginx, or straight to the site with direct=True."""

    def __init__(self, proxied, source, direct=False, host='localhost'):
        cluster, nginx = proxied
        Browser.__init__(self, cluster, host=host)
        self.source = source
        if not direct:
            self.address = ('127.0.0.1', nginx.port)

    def request(self, method, path, fields=None, headers=None):
        original = http.client.HTTPConnection
        source = self.source

        def connect(host, port, timeout=10):
            return original(host, port, timeout=timeout,
                            source_address=(source, 0))
        http.client.HTTPConnection = connect
        try:
            return Browser.request(self, method, path, fields, headers)
        finally:
            http.client.HTTPConnection = original


def test_one_attacker_behind_nginx_locks_only_itself_out(proxied):
    # issue 27 #5 as it ran: 7 failures with 7 user ids through the proxy,
    # then the admin with the right password. The attacker also claims to
    # be the admin's address: what it writes is left of what nginx adds.
    attacker = ClientAt(proxied, '127.0.0.5')
    for n in range(7):
        response, text = attacker.request('GET', '/secret')
        response, text = attacker.request('POST', '/secret', {
            '_form_token': token_of(text), USER_FIELD: 'user%d' % n,
            PASSWORD_FIELD: 'wrong', 'qpd_sign_in': 'Sign in'},
            headers={'X-Forwarded-For': '127.0.0.6'})
    assert response.status == 429
    admin = ClientAt(proxied, '127.0.0.6')
    response, text = sign_in(admin, 'secret')
    assert response.status == 302
    assert admin.request('GET', '/secret')[1] == 'secret of ann'


def test_banned_clients_behind_nginx(proxied):
    # banned names the clients nginx forwards, by network too.
    cluster, nginx = proxied
    banned = os.path.join(cluster.home, 'sites', 'hello', 'var', 'banned')
    with open(banned, 'w') as f:
        f.write('127.0.0.8/31\n::ffff:127.0.0.10\n')
    dispatcher = cluster.processes['dispatcher'].get_pids()
    try:
        for pid in dispatcher:
            os.kill(pid, signal.SIGHUP)

        def refused(source):
            return ClientAt(proxied, source).request('GET', '/')[0].status
        wait_until(lambda: refused('127.0.0.9') == 403)
        assert refused('127.0.0.8') == 403
        assert refused('127.0.0.10') == 403
        assert refused('127.0.0.11') == 200
    finally:
        os.unlink(banned)
        for pid in dispatcher:
            os.kill(pid, signal.SIGHUP)
    wait_until(lambda: ClientAt(proxied, '127.0.0.9').request(
        'GET', '/')[0].status == 200)


def test_cookies_secure_when_the_trusted_proxy_says_https(proxied):
    def cookies(source, proto):
        browser = ClientAt(proxied, source, direct=True)
        response, text = browser.request(
            'GET', '/form', headers={'X-Forwarded-Proto': proto})
        return [value for name, value in response.getheaders()
                if name.lower() == 'set-cookie']
    # From 127.0.0.1 (trusted: the proxy's address) https is believed ...
    assert all('Secure' in c and c.startswith('__Host-')
               for c in cookies('127.0.0.1', 'https'))
    # ... from anyone else it is the client's own word.
    assert not any('Secure' in c for c in cookies('127.0.0.12', 'https'))


def test_debug_page_never_to_a_client_elsewhere(proxied):
    # issue 27 #6 as it ran: an SCGI request (nginx on loopback) for a
    # client elsewhere got the technical page, locals and all.
    cluster, nginx = proxied
    answer = send_scgi(cluster.get_port('scgi'), host='127.0.0.1',
                       PATH_INFO='/boom', HTTP_HOST='localhost',
                       REMOTE_ADDR='203.0.113.9')
    assert b' 500 ' in answer.split(b'\r\n', 1)[0] + b' '
    assert b'Traceback' not in answer and b'RuntimeError' not in answer
    answer = send_scgi(cluster.get_port('scgi'), host='127.0.0.1',
                       PATH_INFO='/boom', HTTP_HOST='localhost',
                       REMOTE_ADDR='127.0.0.1')
    assert b'RuntimeError' in answer          # a client on this machine
    # A trusted front end (127.0.0.1) over SCGI, naming a client elsewhere.
    answer = send_scgi(cluster.get_port('scgi'), host='127.0.0.1',
                       PATH_INFO='/boom', HTTP_HOST='localhost',
                       REMOTE_ADDR='127.0.0.1',
                       HTTP_X_FORWARDED_FOR='203.0.113.9')
    assert b' 500 ' in answer.split(b'\r\n', 1)[0] + b' '
    assert b'RuntimeError' not in answer
    # Through nginx (which qpd trusts) from this machine; DNS rebinding.
    response, text = ClientAt(proxied, '127.0.0.13').request('GET', '/boom')
    assert response.status == 500 and 'RuntimeError' in text
    response, text = ClientAt(proxied, '127.0.0.13',
                              host='evil.example').request('GET', '/boom')
    assert response.status == 500 and 'RuntimeError' not in text


def test_redirects_never_name_the_clients_host(proxied):
    # issue 27 #8: allowed_hosts unset, Host: evil.example.
    response, text = ClientAt(proxied, '127.0.0.14',
                              host='evil.example').request('GET', '/go')
    assert response.status == 302
    assert response.getheader('Location') == '/form'


def test_asterisk_and_absolute_form(cluster):
    # issue 27 #15: GET * once answered 301 Location: http://localhost*/*.
    address = cluster.addresses['http']
    status, headers, body = request(
        address, b'GET * HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n')
    assert status == 400 and 'location' not in headers
    status, headers, body = request(
        address, b'OPTIONS * HTTP/1.1\r\nHost: test\r\n'
                 b'Connection: close\r\n\r\n')
    assert status == 200 and 'location' not in headers and 'allow' in headers
    # An absolute-form target's host is the Host, checked like one.
    status, headers, body = request(
        address, b'GET http://evil.example/go HTTP/1.1\r\nHost: test\r\n'
                 b'Connection: close\r\n\r\n')
    assert status == 400 and 'location' not in headers
    status, headers, body = request(
        address, b'GET http://test/go HTTP/1.1\r\nHost: evil.example\r\n'
                 b'Connection: close\r\n\r\n')
    assert status == 302 and headers['location'] == 'http://test/form'
