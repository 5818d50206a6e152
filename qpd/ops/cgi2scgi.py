"""cgi2scgi in Python, for machines without a C compiler.

`make_script(address)` answers the text of a standalone CGI program (it
imports nothing from qpd) that does what cgi2scgi.c does: forward the CGI
request to the SCGI server at `address` and copy the response back, an HTTP
status line turned into a CGI Status header, a 502 page when the server
cannot be reached.
"""

import sys

__all__ = ['make_script']

_SCRIPT = r'''#!%(python)s
"""cgi2scgi (written by qpd build): forward a CGI request to %(where)s."""
import os
import socket
import sys

ADDRESS = %(address)r


def main():
    try:
        if isinstance(ADDRESS, tuple):
            sock = socket.create_connection(ADDRESS)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(ADDRESS)
    except OSError as e:
        sys.stdout.write('Status: 502 Bad Gateway\r\n'
                         'Content-Type: text/plain; charset=utf-8\r\n\r\n'
                         'cgi2scgi: connecting to %%s: %%s\n' %% (ADDRESS, e))
        return 0
    length = os.environ.get('CONTENT_LENGTH') or '0'
    environ = [(b'CONTENT_LENGTH', length.encode()), (b'SCGI', b'1')]
    environ.extend((k, v) for k, v in os.environb.items()
                   if k not in (b'CONTENT_LENGTH', b'SCGI'))
    headers = b''.join(k + b'\0' + v + b'\0' for k, v in environ)
    sock.sendall(b'%%d:%%s,' %% (len(headers), headers))
    remaining = max(int(length), 0) if length.isdigit() else 0
    stdin = sys.stdin.buffer
    while remaining > 0:
        chunk = stdin.read(min(remaining, 65536))
        if not chunk:
            break
        sock.sendall(chunk)
        remaining -= len(chunk)
    out = sys.stdout.buffer
    first = b''
    while b'\n' not in first:
        chunk = sock.recv(65536)
        if not chunk:
            break
        first += chunk
    if first.startswith(b'HTTP/') and b' ' in first.split(b'\n', 1)[0]:
        first = b'Status: ' + first.split(b' ', 1)[1]
    out.write(first)
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        out.write(chunk)
    out.flush()
    sock.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
'''


def make_script(address, python=None):
    """(address:(host, port) | str, python:str=sys.executable) -> str"""
    if isinstance(address, tuple):
        where = '%s:%s' % address
    else:
        where = address
    return _SCRIPT % dict(python=python or sys.executable, where=where,
                          address=address)
