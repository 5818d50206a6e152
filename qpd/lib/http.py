"""qpd.lib.http: HTTP facts that the framework and the server share.

The date format of `Date`, `Expires` and `Last-Modified`, the reason
phrases, and the bytes of a response head. The worker, the dispatcher's
own short answers, the WSGI-less test client (Profile) and the response
object all write heads and dates through here, so they cannot drift.
"""

import time
from email.utils import formatdate
from http import HTTPStatus

__all__ = ['http_date', 'get_reason_phrase', 'format_head']

_cached = [None, '']


def http_date(seconds=None):
    """(seconds:float=None) -> str: an RFC 9110 date ('Sun, 06 Nov 1994
    08:49:37 GMT') for seconds since the epoch, default now. The current
    second's text is cached: servers ask for it on every response."""
    if seconds is None:
        now = int(time.time())
        if now != _cached[0]:
            _cached[1] = formatdate(now, usegmt=True)
            _cached[0] = now
        return _cached[1]
    return formatdate(seconds, usegmt=True)


_PHRASES = {status.value: status.phrase for status in HTTPStatus}


def get_reason_phrase(status):
    """(status:int) -> str: the standard phrase, '' when unknown."""
    return _PHRASES.get(status, '')


def format_head(first_line, headers):
    """(first_line:str, headers:[(str, str)]) -> bytes
    The head of a response: the status line (or an SCGI `Status:` line),
    each header, and the blank line. Raises ValueError when a line break
    hides in a name or value (it would let a value start a new header)."""
    lines = [first_line]
    for name, value in headers:
        lines.append('%s: %s' % (name, value))
    for line in lines:              # a CR or LF would start another line
        if '\r' in line or '\n' in line:
            raise ValueError('line break in a response header: %r'
                             % (line,))
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')

