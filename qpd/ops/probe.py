"""Asking a running site for its home page, over HTTP or SCGI.

`probe(site)` answers the HTTP status of one request to the site's home
page, sent to the first of its listening addresses (http_address, then
as_https_address, then scgi_address); `qpd start` uses it to know that a
site answers.
"""

import http.client
import socket

from qpd.server import scgi
from qpd.site import get_local_address

__all__ = ['probe', 'connect', 'scgi_request']


def connect(address, timeout=5.0):
    """(address:(host, port) | str, timeout:float=5.0) -> socket"""
    if isinstance(address, tuple):
        return socket.create_connection(get_local_address(address),
                                        timeout=timeout)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


class _Connection(http.client.HTTPConnection):
    """HTTPConnection over a socket made by `connect`."""

    def __init__(self, address, timeout):
        http.client.HTTPConnection.__init__(self, 'localhost',
                                            timeout=timeout)
        self.qpd_address = address

    def connect(self):
        self.sock = connect(self.qpd_address, self.timeout)


def _http_status(address, path, timeout):
    connection = _Connection(address, timeout)
    try:
        connection.request('GET', path, headers={'User-Agent': 'qpd-probe'})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def scgi_request(address, environ, body=b'', timeout=5.0):
    """(address, environ:{str: str}, body:bytes=b'', timeout=5.0) -> bytes

    Send one SCGI request and answer the whole response."""
    sock = connect(address, timeout)
    try:
        return scgi.exchange(sock, scgi.scgi_request(body, **environ))
    finally:
        sock.close()


def _scgi_status(address, path, timeout):
    response = scgi_request(address, {
        'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': path,
        'REQUEST_URI': path, 'QUERY_STRING': '', 'SERVER_NAME': 'localhost',
        'SERVER_PORT': '80', 'SERVER_PROTOCOL': 'HTTP/1.1',
        'REMOTE_ADDR': '127.0.0.1', 'HTTP_HOST': 'localhost',
        'HTTP_USER_AGENT': 'qpd-probe'}, timeout=timeout)
    head = response.split(b'\r\n\r\n', 1)[0].split(b'\r\n')
    if not head or not head[0]:
        raise OSError('empty SCGI response')
    first = head[0]
    if first.startswith(b'HTTP/'):
        return int(first.split()[1])
    for line in head:
        name, _, value = line.partition(b':')
        if name.strip().lower() == b'status':
            return int(value.split()[0])
    return 200


def probe(site, timeout=5.0):
    """(site:Site, timeout:float=5.0) -> int: the HTTP status of a GET of
    the site's home page. Raises OSError when nothing answers."""
    path = site.get_script_name() + '/'
    address = site.get_http_address() or site.get_as_https_address()
    try:
        if address:
            return _http_status(address, path, timeout)
        return _scgi_status(site.get_scgi_address(), path, timeout)
    except (http.client.HTTPException, ValueError, IndexError) as e:
        raise OSError('bad response: %s' % (e,))
