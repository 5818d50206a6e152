"""systemd socket activation: a parent process binds the listening
sockets, puts them at descriptors 3, 4, ..., sets LISTEN_PID (its own
pid, which exec keeps), LISTEN_FDS and LISTEN_FDNAMES, and execs `qpd
serve NAME`, as systemd does; serve hands them to its dispatcher, which
serves on them and opens only the keys not passed. `qpd build NAME
--systemd` prints the units that do that."""

import json
import os
import socket
import sys

import pytest

from qpd.server.listeners import ActivationError, take_activated
from qpd.site import Site

from harness import Cluster, make_home
from harness.processes import Process

pytestmark = pytest.mark.timeout(120)

# argv: PORTS_FILE NAMES(http:scgi) then the qpd arguments.
ACTIVATE = r'''
import json, os, socket, sys
ports_file, names = sys.argv[1], sys.argv[2].split(':')
socks = []
for name in names:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', 0))
    s.listen(128)
    socks.append(s)
ports = [s.getsockname()[1] for s in socks]
high = [os.dup(s.fileno()) for s in socks]
for s in socks:
    s.close()
for i, fd in enumerate(high):
    os.dup2(fd, 3 + i)           # inheritable, as dup2 makes it
    os.close(fd)
with open(ports_file, 'w') as f:
    json.dump(ports, f)
os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(names)),
                  LISTEN_FDNAMES=':'.join(names))
os.execv(sys.executable, [sys.executable, '-m', 'qpd'] + sys.argv[3:])
'''


def _scgi_get(port):
    headers = b''.join(k + b'\0' + v + b'\0' for k, v in (
        (b'CONTENT_LENGTH', b'0'), (b'SCGI', b'1'),
        (b'REQUEST_METHOD', b'GET'), (b'REQUEST_URI', b'/'),
        (b'PATH_INFO', b'/'), (b'SCRIPT_NAME', b''),
        (b'QUERY_STRING', b''), (b'SERVER_NAME', b'test'),
        (b'SERVER_PORT', b'80'), (b'HTTP_HOST', b'test'),
        (b'SERVER_PROTOCOL', b'HTTP/1.1'), (b'REMOTE_ADDR', b'127.0.0.1')))
    with socket.create_connection(('127.0.0.1', port), timeout=10) as sock:
        sock.sendall(b'%d:%s,' % (len(headers), headers))
        return sock.makefile('rb').read()     # until the dispatcher closes


def test_serve_on_sockets_passed_like_systemd(tmp_path):
    home = make_home(tmp_path)
    ports_file = str(tmp_path / 'ports.json')
    with Cluster(home) as cluster:
        argv = [sys.executable, '-c', ACTIVATE, ports_file, 'http:scgi',
                '--home', home, 'serve', 'hello', '--workers', '2']
        serve = Process(argv, cluster.env, 'serve')
        cluster.processes['serve'] = serve
        ready = serve.wait_ready('serve')[0]
        with open(ports_file) as f:
            http_port, scgi_port = json.load(f)
        fields = ready[3]
        assert fields['http'] == '127.0.0.1:%d' % http_port
        assert fields['scgi'] == '127.0.0.1:%d' % scgi_port
        assert 'as_https' in fields          # opened by the dispatcher
        cluster._set_addresses(fields)
        assert cluster.get('/')[::2] == (200, b'hello')
        assert b'hello' in _scgi_get(scgi_port)
        errors = '\n'.join(serve.errors)
        assert 'http_address from systemd' in errors
        assert 'scgi_address from systemd' in errors
        # The workers accept from the passed http socket too.
        for _ in range(20):
            assert cluster.get('/')[0] == 200


def test_take_activated_names_and_refusals():
    keys = ['http_address', 'scgi_address']
    a, b = socket.socketpair()
    try:
        assert take_activated(keys, {'LISTEN_PID': '1', 'LISTEN_FDS': '1'}) \
            == {}
        environ = {'LISTEN_PID': str(os.getpid()), 'LISTEN_FDS': '1',
                   'LISTEN_FDNAMES': 'static'}
        with pytest.raises(ActivationError, match='FileDescriptorName'):
            take_activated(keys, environ)
        assert 'LISTEN_FDS' not in environ     # never passed on
    finally:
        a.close()
        b.close()


def test_build_systemd_units(tmp_path):
    from harness import QpdHome
    home = make_home(tmp_path, configuration={
        'http_address': ('127.0.0.1', 8123), 'scgi_address': None,
        'as_https_address': None})
    result = QpdHome(home).run('build', 'hello', '--systemd')
    text = result.stdout
    assert '# ==== qpd-hello-http.socket ====' in text
    assert 'ListenStream=127.0.0.1:8123' in text
    assert 'FileDescriptorName=http' in text
    assert '# ==== qpd-hello.service ====' in text
    assert 'Sockets=qpd-hello-http.socket' in text
    assert "serve hello" in text and 'KillMode=mixed' in text
    assert Site('hello', home=home).get_name() == 'hello'
