"""The dispatcher and two workers over real sockets: HTTP, as_https, SCGI
through nginx, keep-alive, pipelining, bodies, the malformed-request corpus,
idle connections, banned addresses and the stats line."""

import json
import os
import signal
import socket
import time

import pytest

from harness import (Cluster, Nginx, connect, make_home, read_response,
                     request, wait_until)

CORPUS = os.path.join(os.path.dirname(__file__), '..', 'corpus')
CONFIGURATION = {
    'header_timeout': 3,
    'keepalive_timeout': 5,
    'preread_body_size': 16384,
}


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    home = make_home(tmp_path_factory.mktemp('dispatcher'),
                     configuration=CONFIGURATION)
    with Cluster(home) as cluster:
        cluster.boot(workers=2)
        yield cluster


def get_env(cluster, key='http', headers=()):
    status, _, body = cluster.get('/env', key=key, headers=headers)
    assert status == 200
    return json.loads(body)


def test_hello(cluster):
    status, headers, body = cluster.get('/')
    assert (status, body) == (200, b'hello')
    assert headers['content-length'] == '5'
    assert headers['date'].endswith('GMT')
    assert headers['connection'] == 'close'


def test_environ(cluster):
    env = get_env(cluster)
    assert env['wsgi.url_scheme'] == 'http'
    assert 'HTTPS' not in env
    assert env['REMOTE_ADDR'] == '127.0.0.1'
    assert env['SERVER_PORT'] == str(cluster.get_port())
    assert env['PATH_INFO'] == '/env'


def test_as_https(cluster):
    env = get_env(cluster, key='as_https')
    assert env['HTTPS'] == 'on'
    assert env['wsgi.url_scheme'] == 'https'


def test_underscore_header_cannot_pose_as_dash(cluster):
    env = get_env(cluster, headers=[('X-Auth_User', 'mallory')])
    assert 'HTTP_X_AUTH_USER' not in env
    env = get_env(cluster, headers=[('X-Auth_User', 'mallory'),
                                    ('X-Auth-User', 'alice')])
    assert env['HTTP_X_AUTH_USER'] == 'alice'


def test_keep_alive(cluster):
    sock = connect(cluster.addresses['http'])
    try:
        pids = set()
        for _ in range(6):
            sock.sendall(b'GET /pid HTTP/1.1\r\nHost: x\r\n\r\n')
            status, headers, body = read_response(sock)
            assert status == 200 and 'connection' not in headers
            pids.add(int(body))
        sock.sendall(b'GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n')
        status, headers, body = read_response(sock)
        assert (status, body) == (200, b'hello')
        assert headers['connection'].lower() == 'keep-alive'
        sock.sendall(b'GET / HTTP/1.0\r\n\r\n')
        status, headers, body = read_response(sock)
        assert headers['connection'] == 'close'
        assert sock.recv(10) == b''
    finally:
        sock.close()


def test_pipelining_answers_in_order(cluster):
    sock = connect(cluster.addresses['http'])
    try:
        batch = b''
        expected = []
        for i in range(12):
            if i % 3 == 0:
                data = b'body %d' % i
                batch += (b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length:'
                          b' %d\r\n\r\n%s' % (len(data), data))
                expected.append(data)
            elif i % 3 == 1:
                batch += (b'POST /echo HTTP/1.1\r\nHost: x\r\n'
                          b'Transfer-Encoding: chunked\r\n\r\n'
                          b'3\r\nabc\r\n2;x=y\r\n%02d\r\n0\r\n\r\n' % i)
                expected.append(b'abc%02d' % i)
            else:
                batch += b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'
                expected.append(b'hello')
        sock.sendall(batch)
        for want in expected:
            status, _, body = read_response(sock)
            assert (status, body) == (200, want)
    finally:
        sock.close()


def test_large_bodies(cluster):
    data = os.urandom(300000)
    status, _, body = request(cluster.addresses['http'], (
        b'POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n'
        b'Content-Length: %d\r\n\r\n' % len(data)) + data)
    assert status == 200 and body == data
    chunks = b''.join(b'%x\r\n%s\r\n' % (len(data[i:i + 70000]),
                                         data[i:i + 70000])
                      for i in range(0, len(data), 70000))
    sock = connect(cluster.addresses['http'])
    try:
        sock.sendall(b'POST /echo HTTP/1.1\r\nHost: x\r\n'
                     b'Transfer-Encoding: chunked\r\n\r\n' + chunks
                     + b'0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n')
        status, _, body = read_response(sock)
        assert status == 200 and body == data
        assert read_response(sock)[2] == b'hello'
    finally:
        sock.close()


def test_slow_uploads_do_not_tie_up_workers(cluster):
    # Three clients (more than the two workers) send the start of a large
    # body and stall. The dispatcher spools each body, so every worker
    # stays free for other requests; each upload, once finished, is whole.
    data = [os.urandom(200000) for _ in range(3)]
    uploads = []
    try:
        for body in data:
            sock = connect(cluster.addresses['http'])
            sock.sendall(b'POST /echo HTTP/1.1\r\nHost: x\r\n'
                         b'Connection: close\r\nContent-Length: %d\r\n\r\n'
                         % len(body) + body[:100000])
            uploads.append(sock)
        time.sleep(0.3)
        started = time.monotonic()
        status, _, body = cluster.get('/')
        assert (status, body) == (200, b'hello')
        assert time.monotonic() - started < 1.0
        # The worker that answered tells the dispatcher it is done just
        # after the client has its response; no worker stays busy.
        wait_until(lambda: cluster.get_stats()['busy'] == 0, timeout=2)
        for sock, body in zip(uploads, data):
            sock.sendall(body[100000:])
        for sock, body in zip(uploads, data):
            status, _, echoed = read_response(sock)
            assert status == 200 and echoed == body
    finally:
        for sock in uploads:
            sock.close()


def test_expect_continue(cluster):
    sock = connect(cluster.addresses['http'])
    try:
        sock.sendall(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n'
                     b'Expect: 100-continue\r\n\r\n')
        assert sock.recv(100) == b'HTTP/1.1 100 Continue\r\n\r\n'
        sock.sendall(b'data')
        assert read_response(sock)[:3:2] == (200, b'data')
    finally:
        sock.close()


def test_head(cluster):
    sock = connect(cluster.addresses['http'])
    try:
        sock.sendall(b'HEAD / HTTP/1.1\r\nHost: x\r\n\r\n'
                     b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        status, headers, _ = read_response(sock, head_only_for_head=True)
        assert status == 200 and headers['content-length'] == '5'
        assert read_response(sock)[2] == b'hello'
    finally:
        sock.close()


def _read_all(sock):
    data = b''
    while True:
        more = sock.recv(65536)
        if not more:
            return data
        data += more


@pytest.mark.parametrize('name', sorted(
    n for n in os.listdir(CORPUS) if n.endswith(('.http', '.scgi'))))
def test_corpus(cluster, name):
    with open(os.path.join(CORPUS, name), 'rb') as f:
        data = f.read()
    scgi = name.endswith('.scgi')
    expected = int(name.split('-')[0])
    sock = socket.create_connection(
        cluster.addresses['scgi' if scgi else 'http'], timeout=10)
    try:
        sock.sendall(data)
        answer = _read_all(sock)     # the dispatcher closes the connection
    finally:
        sock.close()
    first = answer.split(b'\r\n', 1)[0]
    if scgi:
        assert first.startswith(b'Status: %d ' % expected), answer
    else:
        assert first.startswith(b'HTTP/1.1 %d ' % expected), answer
        assert answer.count(b'\r\n\r\n') == 1, answer   # nothing smuggled
    assert (cluster.get('/')[0]) == 200


def test_header_timeout(cluster):
    sock = socket.create_connection(cluster.addresses['http'], timeout=10)
    try:
        sock.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n')
        started = time.monotonic()
        answer = _read_all(sock)
        assert answer.startswith(b'HTTP/1.1 408 ')
        assert 2 < time.monotonic() - started < 6
    finally:
        sock.close()


def test_idle_connections_do_not_delay_requests(cluster):
    idle = []
    try:
        for i in range(200):
            sock = socket.create_connection(cluster.addresses['http'])
            if i % 2:
                sock.sendall(b'GET / HTTP/1.1\r\nHost')   # a slow client
            idle.append(sock)
        time.sleep(0.2)
        delays = []
        for _ in range(5):
            started = time.monotonic()
            status, _, body = cluster.get('/')
            delays.append(time.monotonic() - started)
            assert (status, body) == (200, b'hello')
        print('\nslow-client figure: a request with 200 idle connections '
              'open took %.1f ms (median of 5)' % (
                  sorted(delays)[2] * 1000))
        assert sorted(delays)[2] < 0.1
        # The 100 half-sent heads are held by the dispatcher; the 100 silent
        # connections wait in the kernel (TCP_DEFER_ACCEPT) until they send.
        assert cluster.get_stats()['connections'] >= 100
    finally:
        for sock in idle:
            sock.close()


def test_stats(cluster):
    stats = cluster.get_stats()
    assert stats['workers'] == 2
    assert stats['busy'] + stats['idle'] == 2
    assert stats['queue'] == 0
    assert stats['served'] > 0
    assert stats['restarts'] == 0
    assert len(stats['pool']) == 2


def test_banned(cluster):
    from qpd.site import Site
    banned = Site('hello', home=cluster.home).get_banned_file()
    dispatcher = cluster.processes['dispatcher'].get_pid()
    try:
        with open(banned, 'w') as f:
            f.write('127.0.0.1\n')
        os.kill(dispatcher, signal.SIGHUP)
        wait_until(lambda: cluster.get('/')[0] == 403, timeout=5)
    finally:
        os.unlink(banned)
        os.kill(dispatcher, signal.SIGHUP)
    wait_until(lambda: cluster.get('/')[0] == 200, timeout=5)


@pytest.fixture(scope='module')
def nginx(cluster, tmp_path_factory):
    if Nginx.find() is None:
        pytest.skip('nginx is not installed')
    server = Nginx(str(tmp_path_factory.mktemp('nginx')),
                   cluster.addresses['scgi'])
    server.start()
    yield server
    server.stop()


def test_scgi_through_nginx(cluster, nginx):
    address = ('127.0.0.1', nginx.port)
    sock = connect(address)
    try:
        sock.sendall(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
        assert read_response(sock)[::2] == (200, b'hello')
        data = os.urandom(100000)
        sock.sendall(b'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d'
                     b'\r\n\r\n' % len(data) + data)
        assert read_response(sock)[::2] == (200, data)
        sock.sendall(b'GET /env?a=%20b HTTP/1.1\r\nHost: x\r\n'
                     b'X-Auth-User: alice\r\n\r\n')
        status, _, body = read_response(sock)
    finally:
        sock.close()
    env = json.loads(body)
    assert env['PATH_INFO'] == '/env'
    assert env['QUERY_STRING'] == 'a=%20b'
    assert env['REMOTE_ADDR'] == '127.0.0.1'
    assert env['HTTP_X_AUTH_USER'] == 'alice'
    assert env['REQUEST_METHOD'] == 'GET'


def _listening_inodes(unix=True):
    inodes = set()
    for name in ('tcp', 'tcp6'):
        try:
            with open('/proc/net/' + name) as f:
                for line in list(f)[1:]:
                    fields = line.split()
                    if fields[3] == '0A':              # LISTEN
                        inodes.add(fields[9])
        except FileNotFoundError:
            pass
    if unix:
        with open('/proc/net/unix') as f:
            for line in list(f)[1:]:
                fields = line.split()
                if int(fields[3], 16) & 0x10000:       # __SO_ACCEPTCON
                    inodes.add(fields[6])
    return inodes


def _socket_inodes(pid):
    """(pid:int) -> ([link], {inode}): a process's descriptors, and the
    inodes of its sockets."""
    links = []
    for fd in os.listdir('/proc/%d/fd' % pid):
        try:
            links.append(os.readlink('/proc/%d/fd/%s' % (pid, fd)))
        except FileNotFoundError:
            pass
    return links, {l[8:-1] for l in links if l.startswith('socket:[')}


def test_workers_hold_only_their_own_descriptors(cluster):
    assert cluster.get('/')[0] == 200
    listening = _listening_inodes()
    _, dispatcher_sockets = _socket_inodes(
        cluster.processes['dispatcher'].get_pid())
    tcp = dispatcher_sockets & _listening_inodes(unix=False)
    held = set()
    for pid in cluster.get_worker_pids():
        links, sockets = _socket_inodes(pid)
        # The one listener the dispatcher shares (fdpass SHARE: its
        # http_address over TCP), and no other: no SCGI or unix listener,
        # no other client's connection.
        assert len(sockets & listening) == 1, links
        assert sockets & listening <= tcp, links
        held |= sockets & listening
        # stdin/out/err, the dispatcher, the storage server, the shared
        # listener, maybe a memfd
        assert len(sockets) <= 5, links
    assert len(held) == 1


