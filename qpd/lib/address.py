"""qpd.lib.address: the socket addresses of qpd's configuration.

A listener or server address in a site's configuration is either a TCP
address, held as a `(host:str, port:int)` tuple, or a unix socket, held as
its path (a str containing '/'); None means off. `parse_address` is the one
reader of what a configuration may say ('host:port', a bare port number, a
pair, a path), `format_address` the one writer of what qpd shows, and
`get_local_address` the one rule for reaching a wildcard listener from this
machine. They sit in qpd.lib so that the configuration schema (qpd.config),
Site, the servers and the commands can all share them.
"""

__all__ = ['parse_address', 'format_address', 'get_local_address',
           'is_loopback']


def parse_address(value):
    """(value) -> (host:str, port:int) | str | None

    Accepts a (host, port) pair, 'host:port', a port number, or a unix
    socket path (a str containing '/'); None and '' are None. Raises
    ValueError when it is none of these."""
    if value is None or value == '':
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = ('127.0.0.1', value)
    if isinstance(value, str):
        if '/' in value:
            return value
        host, sep, port = value.rpartition(':')
        if not sep or not port.isdigit():
            raise ValueError('not host:port or a socket path')
        value = (host.strip('[]'), int(port))
    if isinstance(value, (tuple, list)) and len(value) == 2:
        host, port = value
        if (isinstance(host, str) and isinstance(port, int)
                and not isinstance(port, bool) and 0 <= port <= 65535):
            return (host, port)
    raise ValueError('not (host, port) or a socket path')


def format_address(address):
    """(address) -> str: 'host:port', a socket path, or 'off'."""
    if address is None:
        return 'off'
    if isinstance(address, tuple):
        host, port = address
        if ':' in host:
            return '[%s]:%s' % (host, port)
        return '%s:%s' % (host or '*', port)
    return address


def get_local_address(address):
    """(address) -> (host, port) | str: where a client on this machine
    connects to reach a listener on address: a wildcard host becomes the
    loopback address of its family."""
    if isinstance(address, tuple):
        host, port = address
        if host in ('', '0.0.0.0'):
            return ('127.0.0.1', port)
        if host == '::':
            return ('::1', port)
    return address


def is_loopback(address):
    """(address) -> bool: does only this machine reach address? True for a
    unix socket path and for a loopback host ('localhost', 127.0.0.0/8,
    ::1); False for a wildcard or any other host."""
    if not isinstance(address, tuple):
        return address is not None
    host = address[0]
    if host == 'localhost':
        return True
    import ipaddress
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
