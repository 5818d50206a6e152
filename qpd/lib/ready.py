"""qpd.lib.ready: the READY line each process prints when it serves.

Every long-running qpd process (the StorageServer, the dispatcher, a
worker, `qpd serve`) prints one flushed line on stdout once it is ready:

    READY <role> <site> pid=<pid> <address text>

`qpd serve`, `qpd start` and the tests wait for these lines; this module
is the only place that writes or reads them.
"""

import os
import re

__all__ = ['format_ready_line', 'parse_ready_line', 'ReadyLine',
           'format_address_text']

_PATTERN = re.compile(r'^READY (\S+) (\S+) pid=(\d+) ?(.*)$')


class ReadyLine:
    """(role:str, site:str, pid:int, rest:str) a parsed READY line."""

    __slots__ = ('role', 'site', 'pid', 'rest')

    def __init__(self, role, site, pid, rest):
        self.role = role
        self.site = site
        self.pid = pid
        self.rest = rest

    def __repr__(self):
        return 'ReadyLine(%r, %r, %r, %r)' % (
            self.role, self.site, self.pid, self.rest)


def format_address_text(address):
    """(address:(host, port)|str) -> str: 'host:port', '[v6]:port' or the
    socket path."""
    if isinstance(address, (tuple, list)):
        host, port = address[:2]
        return ('[%s]:%s' if ':' in host else '%s:%s') % (host, port)
    return str(address)


def format_ready_line(role, site, rest='', pid=None):
    """(role:str, site:str, rest:str='', pid:int=None) -> str
    The line without its newline; pid defaults to this process's."""
    line = 'READY %s %s pid=%d' % (
        role, site, os.getpid() if pid is None else pid)
    return line + ' ' + rest if rest else line


def parse_ready_line(line):
    """(line:str|bytes) -> ReadyLine | None: None when line is no READY
    line."""
    if isinstance(line, bytes):
        line = line.decode('utf-8', 'replace')
    match = _PATTERN.match(line.rstrip('\r\n'))
    if match is None:
        return None
    role, site, pid, rest = match.groups()
    return ReadyLine(role, site, int(pid), rest)
