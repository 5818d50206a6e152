"""Issue 15: clients that ask for a large file and then read nothing (a tiny
receive buffer) must not hold a site's workers. Three such readers against
a 2-worker site: the workers pass the files to the dispatcher (SENDFILE),
normal requests are still answered at once, and the dispatcher drops each
reader after send_timeout without progress. A large body that is not a
file, and a streamed (chunked) one, are spooled by the worker once the
reader takes nothing for PASS_WAIT, and passed the same way."""

import socket
import time

import pytest

from harness import Cluster, add_static_file, make_home, wait_until

pytestmark = pytest.mark.timeout(120)

BIG = 20 * 1024 * 1024

SLASH = '''\
import os
from qpd.web.directory import Directory
from qpd.web.publish import Publisher
from qpd.web.static import StaticDirectory


class SitePublisher(Publisher):
    configuration = %(configuration)r


class SiteDirectory(Directory):
    _q_exports = ['', 'static', 'page', 'stream']
    static = StaticDirectory(os.path.join(os.path.dirname(__file__),
                                          'static'))

    def _q_index(self):
        return 'hello'

    def page(self):
        return b'x' * %(big)d      # a large body made by the page

    def stream(self):
        def chunks():              # unknown length: chunked
            for _ in range(%(big)d // 65536):
                yield b'x' * 65536
        return chunks()
'''


def stall(address, path):
    """A client with a tiny receive buffer that asks for path and then
    reads nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect(address)
    sock.sendall(('GET %s HTTP/1.1\r\nHost: test\r\n\r\n' % path).encode())
    return sock


def timed_get(cluster):
    start = time.monotonic()
    status, headers, body = cluster.get('/', timeout=30)
    return status, time.monotonic() - start


@pytest.mark.parametrize('path', ['/static/big.bin', '/page', '/stream'])
def test_stalled_readers_do_not_hold_workers(tmp_path, path):
    send_timeout = 2
    configuration = {
        'http_address': ('127.0.0.1', 0),
        'send_timeout': send_timeout,
        'request_timeout': 60,
    }
    home = make_home(tmp_path, slash=SLASH % {'configuration': configuration,
                                              'big': BIG})
    add_static_file(home, 'big.bin', size=BIG)
    with Cluster(home) as cluster:
        cluster.boot(workers=2)
        address = cluster.addresses['http']
        readers = [stall(address, path) for _ in range(3)]
        try:
            time.sleep(0.5)         # the readers' requests reach workers
            latencies = []
            for _ in range(5):
                status, seconds = timed_get(cluster)
                assert status == 200
                latencies.append(seconds)
            print('\nLATENCY with 3 stalled readers of %s: %s' % (path, ', '.join(
                '%.3f s' % s for s in latencies)))
            assert max(latencies) < send_timeout + 3
            # No worker holds a reader: the dispatcher sends the files.
            def passed():
                stats = cluster.get_stats()
                return stats['busy'] == 0 and stats['sending'] == 3
            wait_until(passed, timeout=5)       # well before send_timeout
            assert cluster.get_stats()['sendfiles'] == 3
            # A reader that takes nothing for send_timeout is dropped.
            wait_until(lambda: cluster.get_stats()['sending'] == 0,
                       timeout=send_timeout + 5)
            assert cluster.get_stats()['send_timeouts'] == 3
        finally:
            for sock in readers:
                sock.close()


def test_stream_passed_to_the_dispatcher_arrives_whole(tmp_path):
    """A reader that stalls on a stream and then reads it all gets every
    chunk, framed, from the dispatcher, and its connection goes on."""
    configuration = {'http_address': ('127.0.0.1', 0), 'send_timeout': 10}
    home = make_home(tmp_path, slash=SLASH % {'configuration': configuration,
                                              'big': BIG})
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        sock = stall(cluster.addresses['http'], '/stream')
        try:
            wait_until(lambda: cluster.get_stats()['sending'] == 1,
                       timeout=10)
            assert cluster.get_stats()['busy'] == 0
            f = sock.makefile('rb')
            status = f.readline()
            assert status.startswith(b'HTTP/1.1 200')
            headers = {}
            while True:
                line = f.readline()
                if line == b'\r\n':
                    break
                name, _, value = line.decode('latin-1').partition(':')
                headers[name.strip().lower()] = value.strip()
            assert headers['transfer-encoding'] == 'chunked'
            body = bytearray()
            while True:
                size = int(f.readline().split(b';')[0], 16)
                if size == 0:
                    assert f.readline() == b'\r\n'
                    break
                body += f.read(size)
                assert f.read(2) == b'\r\n'
            assert len(body) == BIG // 65536 * 65536
            sock.sendall(b'GET / HTTP/1.1\r\nHost: test\r\n\r\n')
            assert f.readline().startswith(b'HTTP/1.1 200')
        finally:
            sock.close()


def test_stream_to_an_http10_reader_is_passed_too(tmp_path):
    """HTTP/1.0: a stream's end is the connection's; a stalled reader of
    it is passed to the dispatcher all the same, and gets it whole."""
    configuration = {'http_address': ('127.0.0.1', 0), 'send_timeout': 10}
    home = make_home(tmp_path, slash=SLASH % {'configuration': configuration,
                                              'big': BIG})
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        sock.connect(cluster.addresses['http'])
        sock.sendall(b'GET /stream HTTP/1.0\r\nHost: test\r\n\r\n')
        try:
            wait_until(lambda: cluster.get_stats()['sending'] == 1,
                       timeout=10)
            assert cluster.get_stats()['busy'] == 0
            data = sock.makefile('rb').read()
            head, _, body = data.partition(b'\r\n\r\n')
            assert head.startswith(b'HTTP/1.1 200')
            assert b'transfer-encoding' not in head.lower()
            assert len(body) == BIG // 65536 * 65536
        finally:
            sock.close()
