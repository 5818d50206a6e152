"""The technical 500 page: `qpd serve NAME --debug` shows the traceback,
locals and request with secrets masked; plain `qpd serve` and `qpd start`
show the plain page and log the report; `--debug` refuses a listener that
other machines reach."""

import os
import subprocess
import sys

import pytest

from harness import Cluster, QpdHome, SLASH, free_port, make_home, request
from harness.http import http_get

pytestmark = pytest.mark.timeout(120)

BOOM = SLASH.replace("'pid']", "'pid', 'boom']") + '''
    def boom(self):
        secret_note = 'Basic c2VjcmV0'
        items = ['<b>one</b>', 2]
        raise RuntimeError('it broke <here>')
'''
HEADERS = (('Cookie', 'hello_session=sekrit-cookie-value'),
           ('Authorization', 'Basic c2VjcmV0'))


def home_with_boom(tmp_path, **configuration):
    config = dict(configuration)
    return make_home(tmp_path, slash=BOOM % {'configuration': dict(
        {'http_address': ('127.0.0.1', 0), 'scgi_address': None,
         'as_https_address': None}, **config)})


def test_debug_page_under_serve_debug(tmp_path):
    with Cluster(home_with_boom(tmp_path)) as cluster:
        process = cluster.start('serve', 'serve', 'hello', '--workers', '1',
                                '--debug')
        cluster._set_addresses(process.wait_ready('serve')[0][3])
        # Host 'test' is no localhost name: with allowed_hosts unset, a
        # page another site's name resolved to 127.0.0.1 (DNS rebinding)
        # gets the plain page (issue 27 #6).
        status, headers, body = cluster.get('/boom', headers=HEADERS)
        assert status == 500 and b'it broke' not in body
        data = ('GET /boom?q=%%3Ci%%3E HTTP/1.1\r\nHost: localhost:%d\r\n'
                'Connection: close\r\n%s\r\n' % (
                    cluster.get_port(), ''.join('%s: %s\r\n' % h
                                                for h in HEADERS))).encode()
        status, headers, body = request(cluster.addresses['http'], data)
        page = body.decode()
        assert status == 500
        assert headers['content-type'].startswith('text/html')
        assert 'RuntimeError at /boom' in page
        assert 'it broke &lt;here&gt;' in page
        assert 'raise RuntimeError(' in page          # the source line
        assert '&#39;&lt;b&gt;one&lt;/b&gt;&#39;' in page   # a local, quoted
        assert 'hello_session' in page                # the cookie's name
        for secret in ('sekrit-cookie-value', 'c2VjcmV0'):
            assert secret not in page
        assert '&lt;i&gt;' in page                     # the field, quoted


def test_plain_page_under_serve(tmp_path):
    home = home_with_boom(tmp_path)
    with Cluster(home) as cluster:
        cluster.start_serve(workers=1)
        status, headers, body = cluster.get('/boom', headers=HEADERS)
        assert status == 500
        assert b'Traceback' not in body and b'it broke' not in body
    log = open(os.path.join(home, 'sites', 'hello', 'var', 'site.log')).read()
    assert 'Traceback' in log and 'it broke <here>' in log
    assert 'sekrit-cookie-value' not in log


def test_plain_page_under_start(tmp_path):
    port = free_port()
    home = QpdHome(home_with_boom(tmp_path, http_address=('127.0.0.1', port)))
    try:
        home.run('start', 'hello')
        status, body = http_get("127.0.0.1", port, "/boom")
        assert status == 500
        assert b'Traceback' not in body and b'it broke' not in body
    finally:
        assert home.cleanup(remove=False) == []


def test_debug_refuses_a_public_listener(tmp_path):
    home = home_with_boom(tmp_path, http_address=('0.0.0.0', free_port()))
    result = subprocess.run(
        [sys.executable, '-m', 'qpd', '--home', home, 'serve', 'hello',
         '--debug'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert 'site hello: http_address 0.0.0.0:' in result.stderr
    assert '--debug' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
