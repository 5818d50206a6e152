"""Streaming: a body of unknown length (a generator) goes out with chunked
transfer encoding on HTTP/1.1 keep-alive connections, which stay open;
HEAD and HTTP/1.0 stay correct. Through curl, and through nginx in front
(HTTP upstream with keep-alive), the body arrives whole and connections
are reused."""

import socket
import subprocess

import pytest

from harness import SLASH, Cluster, Nginx, find_nginx, make_home

pytestmark = pytest.mark.timeout(120)

LINES = 2000
EXPECTED = ''.join('line %d\n' % i for i in range(LINES)).encode()

STREAM = SLASH.replace("'pid']", "'pid', 'stream']") + '''
    def stream(self):
        get_response().set_content_type('text/plain')

        def lines():
            for i in range(COUNT):
                yield 'line %%d\\n' %% i
        return lines()
'''.replace('COUNT', str(LINES))


def boot(tmp_path):
    home = make_home(tmp_path, slash=STREAM % {'configuration': {
        'http_address': ('127.0.0.1', 0), 'scgi_address': None,
        'as_https_address': None}})
    return Cluster(home)


def read_chunked(sock_file):
    """(binary file) -> bytes: a chunked body, checking the framing."""
    body = b''
    while True:
        size_line = sock_file.readline()
        assert size_line.endswith(b'\r\n'), size_line
        size = int(size_line.split(b';')[0], 16)
        if size == 0:
            assert sock_file.readline() == b'\r\n'
            return body
        body += sock_file.read(size)
        assert sock_file.read(2) == b'\r\n'


def read_head(sock_file):
    status = sock_file.readline()
    headers = {}
    while True:
        line = sock_file.readline()
        if line == b'\r\n':
            return status, headers
        name, _, value = line.decode('latin-1').partition(':')
        headers[name.strip().lower()] = value.strip()


def test_chunked_on_keep_alive(tmp_path):
    with boot(tmp_path) as cluster:
        cluster.boot(workers=1)
        port = cluster.get_port()
        with socket.create_connection(('127.0.0.1', port), 10) as sock:
            f = sock.makefile('rb')
            for _ in range(3):      # one connection, three responses
                sock.sendall(b'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n')
                status, headers = read_head(f)
                assert status.startswith(b'HTTP/1.1 200')
                assert headers['transfer-encoding'] == 'chunked'
                assert 'content-length' not in headers
                assert headers.get('connection') != 'close'
                assert read_chunked(f) == EXPECTED
            # HEAD: the head only, and the connection goes on.
            sock.sendall(b'HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n')
            status, headers = read_head(f)
            assert status.startswith(b'HTTP/1.1 200')
            sock.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
            status, headers = read_head(f)
            assert status.startswith(b'HTTP/1.1 200')
            assert f.read(int(headers['content-length'])) == b'hello'
        # HTTP/1.0: no chunks; the end of the body is the end of the
        # connection.
        with socket.create_connection(('127.0.0.1', port), 10) as sock:
            sock.sendall(b'GET /stream HTTP/1.0\r\nHost: x\r\n\r\n')
            f = sock.makefile('rb')
            status, headers = read_head(f)
            assert status.split()[1] == b'200'     # HTTP/1.1 names the server's version
            assert 'transfer-encoding' not in headers
            assert f.read() == EXPECTED
        assert cluster.get_stats()['workers'] == 1


def test_chunked_through_curl(tmp_path):
    curl = subprocess.run(['which', 'curl'], capture_output=True,
                          text=True).stdout.strip()
    if not curl:
        pytest.skip('curl is not installed (it is in the Makefile\'s '
                    'TEST_DEBS)')
    with boot(tmp_path) as cluster:
        cluster.boot(workers=1)
        url = 'http://127.0.0.1:%d/stream' % cluster.get_port()
        out = tmp_path / 'out'
        result = subprocess.run(
            [curl, '-sv', '--http1.1', '-o', str(out), url, '-o',
             str(tmp_path / 'out2'), url], capture_output=True, text=True,
            timeout=60)
        assert result.returncode == 0, result.stderr
        assert out.read_bytes() == EXPECTED
        assert (tmp_path / 'out2').read_bytes() == EXPECTED
        assert 'transfer-encoding: chunked' in result.stderr.lower()
        assert 're-using existing connection' in result.stderr.lower() or \
            'reusing existing connection' in result.stderr.lower()


def test_chunked_through_nginx(tmp_path):
    if find_nginx() is None:
        pytest.skip('nginx is not installed (it is in the Makefile\'s '
                    'TEST_DEBS)')
    with boot(tmp_path) as cluster:
        cluster.boot(workers=1)
        nginx = Nginx(str(tmp_path / 'nginx'), ('127.0.0.1',
                                                cluster.get_port()),
                      http=True).start()
        port = nginx.port
        try:
            before = cluster.get_stats()['accepted']
            with socket.create_connection(('127.0.0.1', port), 10) as sock:
                f = sock.makefile('rb')
                for _ in range(5):
                    sock.sendall(b'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n')
                    status, headers = read_head(f)
                    assert status.startswith(b'HTTP/1.1 200'), status
                    assert headers['transfer-encoding'] == 'chunked'
                    assert read_chunked(f) == EXPECTED
            # nginx kept its upstream connection: the site accepted one
            # connection for five responses.
            assert cluster.get_stats()['accepted'] - before == 1
        finally:
            nginx.stop()
