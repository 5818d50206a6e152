"""qpd.server.banned: the addresses a site refuses, as its processes see them.

    banned = Banned(site)
    banned.refresh(now)      # rereads the banned file when it changed,
                             # at most every CHECK_INTERVAL seconds; True
                             # when the addresses changed
    host in banned

The dispatcher refuses a banned address with 403; a worker that accepted a
connection from one hands it to the dispatcher, which refuses it. Both
read the file (the `banned` key) the same way, through this class. The
dispatcher rereads it at once on SIGHUP and tells its workers to reread
it whenever it changed (fdpass BANNED).

A line is an address or a CIDR network (`203.0.113.0/24`, `2001:db8::/32`),
matched in qpd.lib.address's one spelling: `::ffff:203.0.113.9` (an IPv4
client of a dual-stack listener) is `203.0.113.9`, and IPv6 is compared
whatever its case or compression. A line that is neither is kept as a
string and matches itself only. A worker behind a trusted proxy
(`trusted_proxies`) checks the client address the proxy gives too.
"""

import os

from qpd.lib.address import in_networks, normalize_ip, parse_network

__all__ = ['Banned', 'CHECK_INTERVAL']

CHECK_INTERVAL = 5.0    # seconds between looks at the file's mtime


class Banned:
    """(site:Site)"""

    def __init__(self, site):
        self.site = site
        self.addresses = frozenset()   # the file's lines
        self.exact = frozenset()       # addresses, normalized
        self.networks = ()             # the lines that are networks
        self.mtime = None
        self.checked = None

    def __contains__(self, host):
        if not self.addresses:
            return False
        if host in self.exact:
            return True
        return (normalize_ip(host) in self.exact
                or in_networks(host, self.networks))

    def __bool__(self):
        return bool(self.addresses)

    def set_addresses(self, lines):
        """(lines:[str]) -> None: ban these addresses and networks."""
        self.addresses = frozenset(lines)
        exact = set()
        networks = []
        for line in self.addresses:
            if '/' in line:
                try:
                    networks.append(parse_network(line))
                    continue
                except ValueError:
                    pass
            exact.add(normalize_ip(line))
        self.exact = frozenset(exact)
        self.networks = tuple(networks)

    def refresh(self, now, force=False):
        """(now:float, force:bool=False) -> bool: reread the file if it
        changed (without force, only CHECK_INTERVAL after the last look,
        or when `checked` is None); have the addresses changed?"""
        if (not force and self.checked is not None
                and now - self.checked < CHECK_INTERVAL):
            return False
        self.checked = now
        try:
            mtime = os.stat(self.site.get_banned_file()).st_mtime_ns
        except OSError:
            mtime = None
        if mtime != self.mtime or force:
            self.mtime = mtime
            before = self.addresses
            self.set_addresses(
                self.site.get_banned() if mtime is not None else ())
            return self.addresses != before
        return False
