"""Plain HTTP from tests and benchmarks, below any client library.

read_response/connect/request speak raw bytes (for malformed requests,
pipelining and exact heads); http_get and wait_for_200 are the probes a
harness uses to see that a server answers.
"""

import http.client
import socket
import time

from harness.processes import HarnessError

__all__ = ['read_response', 'connect', 'request', 'http_get',
           'wait_for_200']


def read_response(sock, head_only_for_head=False):
    """(sock:buffered socket, head_only_for_head=False) -> (status:int, headers:dict, body:bytes)
    One HTTP response (Content-Length framed, or read to the end); a 100
    Continue is skipped. sock comes from connect()."""
    buf = b''
    while b'\r\n\r\n' not in buf:
        data = sock.recv(65536)
        if not data:
            raise EOFError('connection closed before a response: %r' % buf)
        buf += data
    head, _, rest = buf.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(':')
        headers[name.strip().lower()] = value.strip()
    if status == 100:
        sock.pending = rest
        return read_response(sock)
    if head_only_for_head:
        sock.pending = rest
        return status, headers, b''
    length = headers.get('content-length')
    if length is not None:
        length = int(length)
        while len(rest) < length:
            data = sock.recv(65536)
            if not data:
                break
            rest += data
        body, extra = rest[:length], rest[length:]
    else:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            rest += data
        body, extra = rest, b''
    sock.pending = extra
    return status, headers, body


class _Buffered:
    """A socket wrapper whose recv() first returns what a previous
    read_response left over (pipelined responses)."""

    def __init__(self, sock):
        self.sock = sock
        self.pending = b''

    def recv(self, n):
        if self.pending:
            data, self.pending = self.pending, b''
            return data
        return self.sock.recv(n)

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def settimeout(self, t):
        self.sock.settimeout(t)


def connect(address, timeout=10.0):
    """(address:(host, port), timeout=10.0) -> buffered socket"""
    sock = socket.create_connection(address, timeout=timeout)
    return _Buffered(sock)


def request(address, data, timeout=10.0):
    """(address, data:bytes, timeout=10.0) -> (status, headers, body) of
    the first response on a new connection."""
    sock = connect(address, timeout)
    try:
        sock.sendall(data)
        return read_response(sock)
    finally:
        sock.close()


def http_get(host, port, path='/', timeout=2.0):
    """(host:str, port:int, path:str='/', timeout:float=2.0)
        -> (status:int, body:bytes)
    Raises OSError (or http.client.HTTPException) when nothing answers."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request('GET', path, headers={'Connection': 'close'})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_for_200(host, port, path='/', timeout=30.0, alive=None,
                 interval=0.01):
    """(host:str, port:int, path:str='/', timeout:float=30.0, alive=None,
        interval:float=0.01) -> float
    Poll until GET path answers 200; return the seconds it took. alive(),
    when given, is called between polls and must return True while the
    server can still come up. Raises HarnessError."""
    start = time.monotonic()
    last = 'nothing answered'
    while time.monotonic() - start < timeout:
        try:
            status, body = http_get(host, port, path, timeout=2.0)
            if status == 200:
                return time.monotonic() - start
            last = 'status %d: %r' % (status, body[:200])
        except (OSError, http.client.HTTPException) as e:
            last = '%s: %s' % (type(e).__name__, e)
        if alive is not None and not alive():
            raise HarnessError('server exited before answering 200 on %s:%s%s'
                             ' (%s)' % (host, port, path, last))
        time.sleep(interval)
    raise HarnessError('no 200 from %s:%s%s within %.0f s (%s)' % (
        host, port, path, timeout, last))
