"""Real front ends before a site, configured from `qpd build`: https
through stunnel to as_https_address, and cgi2scgi run as a CGI program by
lighttpd, forwarding to scgi_address."""

import os
import re
import shutil
import subprocess
import time

import pytest
import requests

from harness import QpdHome, free_port

pytestmark = pytest.mark.timeout(180)


def _wait_for_port(port, process, timeout=15):
    import socket
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=1).close()
            return
        except OSError:
            assert process.poll() is None, process.stdout.read()
            assert time.monotonic() < deadline, 'port %d never opened' % port
            time.sleep(0.1)


@pytest.fixture(scope='module')
def home():
    home = QpdHome.make()
    try:
        # SCGI is off in a new site (issue 15): turn it on for cgi2scgi.
        home.new('front', as_https_address=True, scgi_address=True)
        home.run('start', 'front')
        yield home
    finally:
        assert home.cleanup() == [], 'processes outlived qpd shutdown'


@pytest.fixture
def built(home, tmp_path):
    """qpd build front --output DIR: DIR"""
    output = tmp_path / 'built'
    result = home.run('build', 'front', '--output', str(output))
    assert 'built %s/cgi2scgi (C)' % output in result.stdout
    return output


def test_build_prints_every_front_end(home):
    result = home.run('build', 'front')
    ports = home.get_ports('front')
    scgi = ports['scgi_address']
    for text in ('scgi_pass 127.0.0.1:%d;' % scgi,
                 'proxy_pass http://127.0.0.1:%d;' % ports['http_address'],
                 'ProxyPass / scgi://127.0.0.1:%d/' % scgi,
                 '"port" => %d' % scgi,
                 'connect = 127.0.0.1:%d' % ports['as_https_address'],
                 'accept = 0.0.0.0:443'):
        assert text in result.stdout
    # nginx's proxy_pass sends X-Forwarded-For and X-Forwarded-Proto: the
    # site must trust nginx's address for them (issue 27 #5).
    assert ("# nginx-proxy.conf: set trusted_proxies=['127.0.0.1'] in site "
            "front's configuration") in result.stdout
    assert "# with trusted_proxies=['127.0.0.1'] in its configuration." \
        in result.stdout


@pytest.mark.skipif(not shutil.which('stunnel4') and not shutil.which(
    'stunnel'), reason='stunnel is not installed')
def test_https_through_stunnel(home, built, tmp_path):
    pem = tmp_path / 'site.pem'
    subprocess.run(
        ['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
         '-keyout', str(pem), '-out', str(tmp_path / 'cert.pem'),
         '-days', '1', '-subj', '/CN=localhost'],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with open(pem, 'a') as f:
        f.write(open(tmp_path / 'cert.pem').read())
    conf = open(built / 'stunnel.conf').read()
    https_port = free_port()
    conf = conf.replace('cert = /etc/ssl/private/front.pem',
                        'cert = %s' % pem).replace(
        'accept = 0.0.0.0:443', 'accept = 127.0.0.1:%d' % https_port)
    assert 'cert = %s' % pem in conf and str(https_port) in conf
    (tmp_path / 'stunnel.conf').write_text(conf)
    stunnel = subprocess.Popen(
        [shutil.which('stunnel4') or shutil.which('stunnel'),
         str(tmp_path / 'stunnel.conf')],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_port(https_port, stunnel)
        url = 'https://127.0.0.1:%d' % https_port
        result = subprocess.run(['curl', '-sk', url + '/'],
                                stdout=subprocess.PIPE, text=True,
                                timeout=30)
        assert 'Welcome to front' in result.stdout
        # the site sees https: its redirects are https URLs
        result = subprocess.run(['curl', '-sk', '-o', '/dev/null', '-w',
                                 '%{redirect_url}', url + '/durus'],
                                stdout=subprocess.PIPE, text=True,
                                timeout=30)
        assert result.stdout == url + '/durus/'
        plain = requests.get('http://127.0.0.1:%d/durus' % home.get_port(
            'front'), allow_redirects=False)
        assert plain.headers['Location'].startswith('http://')
    finally:
        stunnel.terminate()
        stunnel.wait(10)


@pytest.mark.skipif(not shutil.which('lighttpd'),
                    reason='lighttpd is not installed')
def test_cgi2scgi_under_lighttpd(home, built, tmp_path):
    www = tmp_path / 'www'
    www.mkdir()
    shutil.copy(built / 'cgi2scgi', www / 'site.cgi')
    port = free_port()
    (tmp_path / 'lighttpd.conf').write_text('\n'.join([
        'server.modules = ( "mod_cgi" )',
        'server.document-root = "%s"' % www,
        'server.port = %d' % port,
        'server.bind = "127.0.0.1"',
        'server.errorlog = "%s"' % (tmp_path / 'error.log'),
        'cgi.assign = ( ".cgi" => "" )',
        '']))
    lighttpd = subprocess.Popen(
        [shutil.which('lighttpd'), '-D', '-f',
         str(tmp_path / 'lighttpd.conf')],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_port(port, lighttpd)
        base = 'http://127.0.0.1:%d/site.cgi' % port
        response = requests.get(base + '/visits?x=1', timeout=30)
        assert response.status_code == 200, response.text
        assert 'id="visits">' in response.text
        session = requests.Session()
        page = session.get(base + '/sign_in', timeout=30).text
        fields = dict(re.findall(
            r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
        fields.update(qpd_sign_in_user='nobody',
                      qpd_sign_in_password='x' * 5000)
        response = session.post(base + '/sign_in', data=fields, timeout=30)
        assert response.status_code == 403     # QP: the form comes with 403
        assert 'unknown user' in response.text.lower()  # the fields arrived
        response = requests.get(base + '/no/such/page', timeout=30)
        assert response.status_code == 404
    finally:
        lighttpd.terminate()
        lighttpd.wait(10)


def test_python_cgi2scgi(home, tmp_path):
    """The fallback when there is no C compiler, run as CGI by hand."""
    from qpd.ops.build import build_cgi2scgi
    scgi_port = home.get_ports('front')['scgi_address']
    path, kind = build_cgi2scgi(_FakeSite(('127.0.0.1', scgi_port)),
                                str(tmp_path), compiler='/nonexistent/cc')
    assert kind == 'Python'
    environ = dict(os.environ, REQUEST_METHOD='GET', PATH_INFO='/visits',
                   SCRIPT_NAME='/x.cgi', QUERY_STRING='', SERVER_NAME='h',
                   SERVER_PORT='80', SERVER_PROTOCOL='HTTP/1.1',
                   REMOTE_ADDR='127.0.0.1', HTTP_HOST='localhost')
    result = subprocess.run([path], env=environ, stdout=subprocess.PIPE,
                            timeout=30)
    assert result.stdout.startswith(b'Status: 200')
    assert b'id="visits">' in result.stdout


class _FakeSite:
    def __init__(self, scgi_address):
        self.scgi_address = scgi_address

    def get_scgi_address(self):
        return self.scgi_address

    def get_name(self):
        return 'fake'
