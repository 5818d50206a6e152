"""qpd build: front-end configuration, and cgi2scgi against a small SCGI
server in a thread (the C program and the Python fallback)."""

import os
import socket
import subprocess
import threading

import pytest

from qpd.config import get_defaults
from qpd.ops import build


class FakeSite:
    def __init__(self, **addresses):
        self.addresses = addresses

    def get_name(self):
        return 'fake'

    def get_configuration(self):
        return get_defaults()

    def get(self, key):
        return self.addresses.get(key, get_defaults()[key])

    def get_script_name(self):
        return self.addresses.get('script_name', '')

    def get_scgi_address(self):
        return self.addresses.get('scgi')

    def get_http_address(self):
        return self.addresses.get('http')

    def get_as_https_address(self):
        return self.addresses.get('as_https')

    def get_https_address(self):
        return self.addresses.get('https')


def test_configs_name_the_addresses():
    site = FakeSite(scgi=('127.0.0.1', 7001), http=('0.0.0.0', 7000),
                    as_https=('127.0.0.1', 7002), https=('0.0.0.0', 7443))
    configs = dict(build.get_configs(site))
    assert 'scgi_pass 127.0.0.1:7001;' in configs['nginx-scgi.conf']
    assert 'proxy_pass http://127.0.0.1:7000;' in configs['nginx-proxy.conf']
    assert 'ProxyPass / scgi://127.0.0.1:7001/' in configs['apache.conf']
    assert '"port" => 7001' in configs['lighttpd.conf']
    assert 'accept = 0.0.0.0:7443' in configs['stunnel.conf']
    assert 'connect = 127.0.0.1:7002' in configs['stunnel.conf']


def test_configs_say_what_is_off():
    site = FakeSite(http=('127.0.0.1', 7000), script_name='/app')
    configs = dict(build.get_configs(site))
    assert configs['nginx-scgi.conf'].startswith('# scgi_address is off')
    assert configs['stunnel.conf'].startswith('# as_https_address is off')
    assert 'location /app {' in configs['nginx-proxy.conf']
    with pytest.raises(ValueError):
        build.build_cgi2scgi(site, '/tmp')


class SCGIServer:
    """Answers each SCGI request with its headers and body, echoed."""

    def __init__(self, status_line=b'Status: 200 OK'):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.status_line = status_line
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b''
                while b':' not in data:
                    data += conn.recv(1)
                length = int(data[:-1])
                headers = b''
                while len(headers) < length + 1:
                    headers += conn.recv(length + 1 - len(headers))
                items = headers[:-1].split(b'\0')
                environ = dict(zip(items[::2], items[1::2]))
                size = int(environ[b'CONTENT_LENGTH'])
                body = b''
                while len(body) < size:
                    body += conn.recv(size - len(body))
                conn.sendall(self.status_line + b'\r\nContent-Type: text/plain'
                             b'\r\n\r\nfirst=' + items[0] + b'\n' +
                             b'method=' + environ[b'REQUEST_METHOD'] +
                             b'\nscgi=' + environ[b'SCGI'] +
                             b'\nbody=' + body)

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


def _run_cgi(path, method='GET', body=b''):
    environ = dict(os.environ, REQUEST_METHOD=method, PATH_INFO='/x',
                   QUERY_STRING='', SCRIPT_NAME='/c.cgi')
    if body:
        environ['CONTENT_LENGTH'] = str(len(body))
    return subprocess.run([path], input=body, env=environ,
                          stdout=subprocess.PIPE, timeout=30).stdout


@pytest.mark.parametrize('kind', ['C', 'Python'])
def test_cgi2scgi_forwards(tmp_path, kind):
    if kind == 'C' and not build.find_compiler():
        pytest.skip('no C compiler')
    server = SCGIServer(b'HTTP/1.1 201 Created')
    try:
        site = FakeSite(scgi=('127.0.0.1', server.port))
        path, built = build.build_cgi2scgi(
            site, str(tmp_path),
            compiler=None if kind == 'C' else '/nonexistent/cc')
        assert built == kind
        out = _run_cgi(path)
        assert out.startswith(b'Status: 201 Created\r\n')
        assert b'first=CONTENT_LENGTH\nmethod=GET\nscgi=1\nbody=' in out
        body = os.urandom(200000).hex().encode()
        out = _run_cgi(path, 'POST', body)
        assert out.endswith(b'method=POST\nscgi=1\nbody=' + body)
    finally:
        server.close()
    out = _run_cgi(path)      # nobody listens now
    assert out.startswith(b'Status: 502 Bad Gateway')


def test_c_source_compiles_cleanly(tmp_path):
    compiler = build.find_compiler()
    if not compiler:
        pytest.skip('no C compiler')
    result = subprocess.run(
        [compiler, '-Wall', '-Wextra', '-Werror', '-DSCGI_SOCKET="/x/y"',
         '-o', str(tmp_path / 'c'), build.get_c_source()],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert result.returncode == 0, result.stdout


def test_nginx_proxy_says_what_trusted_proxies_it_needs():
    # issue 27 #5: nginx sends X-Forwarded-For and X-Forwarded-Proto, which
    # the site believes only from trusted_proxies.
    from qpd.config import check_value
    site = FakeSite(http=('127.0.0.1', 7000))
    config = dict(build.get_configs(site))['nginx-proxy.conf']
    assert "trusted_proxies=['127.0.0.1']" in config
    assert 'It does not trust it yet: set it.' in config
    assert 'X-Forwarded-For $proxy_add_x_forwarded_for' in config
    [note] = build.get_notes(site)
    assert note.startswith("nginx-proxy.conf: set trusted_proxies="
                           "['127.0.0.1'] in site fake's configuration")
    trusting = FakeSite(http=('0.0.0.0', 7000), trusted_proxies=check_value(
        'fake', 'trusted_proxies', ['127.0.0.0/8']))
    config = dict(build.get_configs(trusting))['nginx-proxy.conf']
    assert "trusted_proxies=['127.0.0.1']" in config
    assert 'does not trust' not in config
    assert build.get_notes(trusting) == []
    unix = FakeSite(http='/srv/fake/http.sock')
    assert "trusted_proxies=['unix']" in dict(
        build.get_configs(unix))['nginx-proxy.conf']
    assert build.get_notes(FakeSite(scgi=('127.0.0.1', 7001))) == []
    [note] = build.get_notes(site, [('web1', 7000)])
    assert "trusted_proxies=['NGINX-ADDRESS']" in note
    assert "trusted_proxies=['NGINX-ADDRESS'] in its configuration on " \
        "each web host" in build.nginx_upstream_proxy(site, [('web1', 7000)])


class PostgresSite(FakeSite):
    def get_durus_address(self):
        return self.addresses.get('durus',
                                  '/srv/qpd/sites/fake/var/durus.sock')


def test_a_postgresql_site_gets_what_a_web_host_needs():
    site = PostgresSite(
        http=('127.0.0.1', 7000), durus_storage='postgresql',
        durus_dsn='host=db1,db2 port=5432,5433 dbname=fake user=web '
                  'target_session_attrs=read-write')
    for configs in (build.get_configs(site),
                    build.get_upstream_configs(site, [('web1', 7000)])):
        text = dict(configs)['postgresql-web-host.txt']
        assert "durus_storage='postgresql'," in text
        assert "durus_dsn='host=db1,db2 port=5432,5433" in text
        assert ('db1:5432:fake:web:PASSWORD\n'
                'db2:5433:fake:web:PASSWORD\n') in text
        assert '/srv/qpd/sites/fake/var/durus.sock' in text
        assert 'GRANT pg_monitor TO web' in text
        assert 'qpd copy fake file postgresql' in text
        assert 'name every server' not in text      # it does already
    # One server named: the multi-host form is suggested; a socket
    # directory is the pgpass host, and libpq's defaults are wildcards.
    site = PostgresSite(durus_storage='postgresql',
                        durus_dsn='host=/run/postgresql dbname=fake')
    text = dict(build.get_configs(site))['postgresql-web-host.txt']
    assert 'target_session_attrs=read-write' in text
    assert '/run/postgresql:5432:fake:*:PASSWORD' in text
    assert 'postgresql-web-host.txt' not in dict(
        build.get_configs(FakeSite(http=('127.0.0.1', 7000))))


def test_pgpass_fields_are_escaped():
    from qpd.ops.build_postgresql import pgpass_lines
    assert pgpass_lines('postgresql://u@h:6/d') == ['h:6:d:u:PASSWORD']
    assert pgpass_lines("host=a:b dbname='x\\\\y'") == [
        'a\\:b:5432:x\\\\y:*:PASSWORD']
