"""A static file goes out with sendfile(2) (issue 16): whole, in ranges,
for HEAD, and on a kept-alive connection that goes on afterwards."""

import os
import socket

from harness import (Cluster, add_static_file, connect, make_home,
                     read_response)
from harness.cluster import BASE_CONFIGURATION

SLASH = '''\
import os
import socket
from qpd.web.publish import Publisher
from qpd.web.directory import Directory
from qpd.web.static import StaticDirectory

HERE = os.path.dirname(os.path.abspath(__file__))


class SitePublisher(Publisher):
    configuration = %r


class SiteDirectory(Directory):
    _q_exports = ['', 'static']
    static = StaticDirectory(os.path.join(HERE, 'static'))

    def _q_index(self):
        return 'hello'
'''

DATA = os.urandom(300000)


def test_static_files_by_sendfile(tmp_path):
    home = make_home(tmp_path, slash=SLASH % (BASE_CONFIGURATION,))
    add_static_file(home, 'big.bin', DATA)
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        sock = connect(cluster.addresses['http'])
        try:
            for _ in range(3):
                sock.sendall(b'GET /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n')
                status, headers, body = read_response(sock)
                assert status == 200 and body == DATA
                assert headers['content-length'] == str(len(DATA))
            sock.sendall(b'GET /static/big.bin HTTP/1.1\r\nHost: x\r\n'
                         b'Range: bytes=1000-1999\r\n\r\n')
            status, _, body = read_response(sock)
            assert status == 206 and body == DATA[1000:2000]
            sock.sendall(b'HEAD /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n'
                         b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
            status, headers, _ = read_response(sock, head_only_for_head=True)
            assert status == 200
            assert headers['content-length'] == str(len(DATA))
            assert read_response(sock)[::2] == (200, b'hello')
        finally:
            sock.close()


def test_a_client_that_stops_reading_a_file_frees_the_worker(tmp_path):
    configuration = dict(BASE_CONFIGURATION, send_timeout=1)
    home = make_home(tmp_path, slash=SLASH % (configuration,))
    static = os.path.join(home, 'sites', 'hello', 'static')
    os.makedirs(static)
    with open(os.path.join(static, 'huge.bin'), 'wb') as f:
        f.truncate(64 * 1024 * 1024)         # more than any socket buffers
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect(cluster.addresses['http'])
        try:
            stalled.sendall(b'GET /static/huge.bin HTTP/1.1\r\nHost: x\r\n'
                            b'\r\n')         # and never reads
            # The one worker gives up after send_timeout and answers.
            status, _, body = cluster.get('/', timeout=30)
            assert (status, body) == (200, b'hello')
        finally:
            stalled.close()
