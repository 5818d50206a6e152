"""qpd.server.scgi: QP's SCGI helpers (qp.hub), for scripts and tests.

The dispatcher parses SCGI from its own buffers (qpd.server.protocol);
these functions read it from a file-like object and build or send whole
requests, as QP's hub module offered:

    ns_read_size(file)   the length prefix of a netstring
    ns_reads(file)       one netstring's payload
    read_env(file)       the SCGI headers of a request, as a dict
    scgi_request(content, **headers)   -> the bytes of an SCGI request
    send_scgi(port, host='localhost', content=b'', **headers)
                         -> the bytes of the response
    exchange(sock, request)   send a request on a connected socket
                         -> the bytes of the response

Headers are checked as the dispatcher checks them (CONTENT_LENGTH first,
`SCGI: 1`, NUL-terminated pairs, no repeats); a malformed request raises
ValueError.
"""

import socket

from qpd.server.protocol import scgi_pairs

__all__ = ['ns_read_size', 'ns_reads', 'read_env', 'scgi_request',
           'send_scgi', 'exchange']

_MAX_SIZE_DIGITS = 9   # netstrings of up to a billion bytes


def ns_read_size(input):
    """(input:binary file) -> int
    Read the decimal length and the ':' that start a netstring.
    ValueError when they are malformed or the input ends.
    """
    digits = b''
    while True:
        char = input.read(1)
        if not char:
            raise ValueError('netstring: input ended in the length')
        if char == b':':
            break
        if not char.isdigit() or len(digits) >= _MAX_SIZE_DIGITS:
            raise ValueError('netstring: malformed length %r' % (digits + char))
        digits += char
    if not digits or (len(digits) > 1 and digits[:1] == b'0'):
        raise ValueError('netstring: malformed length %r' % digits)
    return int(digits)


def ns_reads(input):
    """(input:binary file) -> bytes
    Read one netstring ('5:hello,') and return its payload.
    """
    size = ns_read_size(input)
    payload = b''
    while len(payload) < size:
        chunk = input.read(size - len(payload))
        if not chunk:
            raise ValueError('netstring: input ended in the payload')
        payload += chunk
    if input.read(1) != b',':
        raise ValueError('netstring: not ended by a comma')
    return payload


def read_env(input):
    """(input:binary file) -> {str: str}
    Read the SCGI headers of a request (the netstring that starts it).
    """
    payload = ns_reads(input)
    try:
        environ = scgi_pairs(payload)
    except Exception as error:   # HTTPError
        raise ValueError('SCGI headers: %s' % error) from None
    if not payload.startswith(b'CONTENT_LENGTH\0'):
        raise ValueError('SCGI headers must start with CONTENT_LENGTH')
    if environ.get('SCGI') != '1':
        raise ValueError('SCGI header missing')
    return environ


def scgi_request(content=b'', **headers):
    """(content:bytes|str=b'', **headers:str) -> bytes
    An SCGI request carrying content: CONTENT_LENGTH and SCGI=1 first,
    then headers (REQUEST_METHOD='GET', SCRIPT_NAME='', PATH_INFO='/' and
    SERVER_PROTOCOL='HTTP/1.1' unless given).
    """
    if isinstance(content, str):
        content = content.encode('utf-8')
    headers.setdefault('REQUEST_METHOD', 'GET')
    headers.setdefault('SCRIPT_NAME', '')
    headers.setdefault('PATH_INFO', '/')
    headers.setdefault('SERVER_PROTOCOL', 'HTTP/1.1')
    pairs = [('CONTENT_LENGTH', str(len(content))), ('SCGI', '1')]
    pairs += [(name, str(value)) for name, value in headers.items()
              if name not in ('CONTENT_LENGTH', 'SCGI')]
    payload = b''.join(name.encode('latin-1') + b'\0' + value.encode('latin-1')
                       + b'\0' for name, value in pairs)
    return b'%d:%s,' % (len(payload), payload) + content


def send_scgi(port, host='localhost', content=b'', timeout=30, **headers):
    """(port:int, host:str='localhost', content:bytes=b'', timeout:float=30,
        **headers) -> bytes
    Send scgi_request(content, **headers) to host:port and return all the
    response, read until the server closes the connection.
    """
    with socket.create_connection((host, port), timeout=timeout) as connection:
        return exchange(connection, scgi_request(content, **headers))


def exchange(sock, request):
    """(sock:socket, request:bytes) -> bytes
    Send request (as scgi_request makes it) on a connected socket, say
    that nothing more comes, and return all the response, read until the
    server closes the connection. The caller closes sock.
    """
    sock.sendall(request)
    sock.shutdown(socket.SHUT_WR)
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
    return b''.join(chunks)
