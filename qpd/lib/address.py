"""qpd.lib.address: the socket addresses of qpd's configuration.

A listener or server address in a site's configuration is either a TCP
address, held as a `(host:str, port:int)` tuple, or a unix socket, held as
its path (a str containing '/'); None means off. `parse_address` is the one
reader of what a configuration may say ('host:port', a bare port number, a
pair, a path), `format_address` the one writer of what qpd shows, and
`get_local_address` the one rule for reaching a wildcard listener from this
machine. They sit in qpd.lib so that the configuration schema (qpd.config),
Site, the servers and the commands can all share them.

Client addresses (IP addresses as a request carries them) are compared in
one spelling, `normalize_ip`'s: IPv6 compressed in lower case and an
IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a dual-stack listener
reports for an IPv4 client) as the IPv4 address, so `banned` and
`trusted_proxies` name a client once. `parse_network` reads an address
or a CIDR network of those keys, `in_networks` matches one, and
`get_client_address` is the one rule for X-Forwarded-For: the rightmost
address that is not a trusted proxy's (each proxy appends the address it
was connected from, so only the part right of the first untrusted hop is
believed; what a client writes itself is left of it).
"""

import ipaddress

__all__ = ['parse_address', 'format_address', 'get_local_address',
           'is_loopback', 'normalize_ip', 'parse_network', 'in_networks',
           'get_client_address', 'is_loopback_ip', 'UNIX_PEER']

# In trusted_proxies: whatever connects to the site's unix socket listener
# (whose peer has no address: REMOTE_ADDR is '').
UNIX_PEER = 'unix'


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
    return is_loopback_ip(host)


def _ip(text):
    """(text:str) -> IPv4Address | IPv6Address | None: text as an IP
    address (a zone such as %eth0 dropped, an IPv4-mapped IPv6 address
    as its IPv4 address); None when it is none."""
    if not isinstance(text, str) or not text or len(text) > 64:
        return None
    try:
        ip = ipaddress.ip_address(text.partition('%')[0])
    except ValueError:
        return None
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def normalize_ip(text):
    """(text:str) -> str: the IP address text in its one spelling (see
    the module's docstring); text as it is when it is no IP address."""
    ip = _ip(text)
    return text if ip is None else str(ip)


def is_loopback_ip(text):
    """(text:str) -> bool: is text a loopback IP address (127.0.0.0/8,
    ::1, ::ffff:127.0.0.1)?"""
    ip = _ip(text)
    return ip is not None and ip.is_loopback


def parse_network(text):
    """(text:str) -> IPv4Network | IPv6Network | str: an address
    ('10.0.0.7', '::1') or a CIDR network ('10.0.0.0/8', '2001:db8::/32';
    host bits may be set); an IPv4-mapped IPv6 address is its IPv4
    address; UNIX_PEER ('unix') stays itself. Raises ValueError for
    anything else."""
    if not isinstance(text, str):
        raise ValueError('not a str')
    text = text.strip()
    if text == UNIX_PEER:
        return UNIX_PEER
    address, slash, prefix = text.partition('/')
    ip = _ip(address)
    if ip is None or (slash and not prefix.isdigit()):
        raise ValueError('%r is not an IP address or network' % text)
    if slash and str(ip) != address.partition('%')[0] and ip.version == 4:
        # ::ffff:10.0.0.0/104 and the like: say it in IPv4.
        prefix = str(max(0, int(prefix) - 96))
    return ipaddress.ip_network('%s/%s' % (ip, prefix) if slash else ip,
                                strict=False)


def in_networks(text, networks):
    """(text:str, networks:[network]) -> bool: is the IP address text in
    one of networks (parse_network's)? False when text is no IP
    address; '' (a unix socket's peer) is in them when UNIX_PEER is."""
    if not networks:
        return False
    if text == '':
        return UNIX_PEER in networks     # a unix socket's peer
    ip = _ip(text)
    if ip is None:
        return False
    return any(not isinstance(network, str) and ip.version ==
               network.version and ip in network for network in networks)


def _strip_port(hop):
    """(hop:str) -> str: an X-Forwarded-For entry without a port
    ('[::1]:80', '10.0.0.1:5000') or quotes."""
    hop = hop.strip().strip('"')
    if hop.startswith('['):
        return hop[1:].partition(']')[0]
    if hop.count(':') == 1:
        return hop.partition(':')[0]
    return hop


def get_client_address(remote, forwarded_for, trusted):
    """(remote:str, forwarded_for:str|None, trusted:[network]) -> str
    The client's address: remote (the peer, or the address an SCGI front
    end gave) unless it is a trusted proxy; then, walking forwarded_for
    (X-Forwarded-For, 'client, proxy1, proxy2') from the right, the
    first address that is not a trusted proxy's, or the leftmost valid
    one when all are. An entry that is no IP address ends the walk
    (what is left of it was written by someone untrusted)."""
    if not in_networks(remote, trusted):
        return remote
    client = normalize_ip(remote) if remote else remote
    if not forwarded_for:
        return client
    for hop in reversed(forwarded_for.split(',')):
        ip = _ip(_strip_port(hop))
        if ip is None:
            break
        client = str(ip)
        if not in_networks(client, trusted):
            break
    return client
