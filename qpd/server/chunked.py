"""qpd.server.chunked: a chunked request body (RFC 9112, 7.1), decoded as
its bytes arrive.

The dispatcher's intake feeds a connection's bytes to a ChunkedDecoder
while it spools a body, and a worker reading a body on its own does the
same (qpd.server.intake.read_chunked). The decoder is strict where
request smuggling lives: a chunk size is 1-16 hex digits (an extension
after `;` is allowed and ignored, control bytes are not), every chunk's
data ends in CRLF, a line is at most _MAX_CHUNK_LINE bytes, a bare LF is
refused, trailers are header lines that are read and dropped, and the
decoded size is checked against the limit as it grows (413), never after.
"""

import re

from qpd.web.errors import HTTPError

__all__ = ['ChunkedDecoder']

_CHUNK_SIZE = re.compile(
    rb'([0-9A-Fa-f]{1,16})(?:[ \t]*;[^\x00-\x08\x0a-\x1f\x7f]*)?')
_TRAILER_LINE = re.compile(
    rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[^\x00-\x08\x0a-\x1f\x7f]*")
_MAX_CHUNK_LINE = 4096


class ChunkedDecoder:
    """(max_size:int)
    Decodes a chunked request body fed in pieces. feed(data) returns the
    decoded pieces; `done` is true after the last chunk and the trailers,
    and `leftover` then holds the bytes that followed. HTTPError 400 for a
    malformed body, 413 when it decodes to more than max_size bytes."""

    __slots__ = ('max_size', 'size', 'state', 'remaining', 'pending', 'done',
                 'leftover', 'raw_size')

    _SIZE, _DATA, _DATA_END, _TRAILER = range(4)

    def __init__(self, max_size):
        self.max_size = max_size
        self.size = 0
        self.raw_size = 0
        self.state = self._SIZE
        self.remaining = 0
        self.pending = b''
        self.done = False
        self.leftover = b''

    def feed(self, data):
        """(data:bytes) -> [bytes]"""
        if self.done:
            self.leftover += data
            return []
        buf = self.pending + data if self.pending else data
        pos = 0
        out = []
        end = len(buf)
        while pos < end:
            state = self.state
            if state == self._DATA:
                n = min(self.remaining, end - pos)
                out.append(buf[pos:pos + n])
                pos += n
                self.remaining -= n
                if self.remaining:
                    break
                self.state = self._DATA_END
            elif state == self._DATA_END:
                if end - pos < 2:
                    if buf[pos:pos + 1] != b'\r':
                        raise HTTPError(400, 'chunk data not followed by CRLF')
                    break
                if buf[pos:pos + 2] != b'\r\n':
                    raise HTTPError(400, 'chunk data not followed by CRLF')
                pos += 2
                self.state = self._SIZE
            else:
                i = buf.find(b'\r\n', pos)
                if i < 0:
                    if (end - pos > _MAX_CHUNK_LINE
                            or b'\n' in buf[pos:end]):
                        raise HTTPError(400, 'malformed chunk line')
                    break
                line = buf[pos:i]
                pos = i + 2
                if state == self._SIZE:
                    match = _CHUNK_SIZE.fullmatch(line)
                    if not match:
                        raise HTTPError(400, 'malformed chunk size')
                    size = int(match.group(1), 16)
                    self.size += size
                    if self.size > self.max_size:
                        raise HTTPError(413, 'request body too large')
                    if size:
                        self.remaining = size
                        self.state = self._DATA
                    else:
                        self.state = self._TRAILER
                elif line:
                    if not _TRAILER_LINE.fullmatch(line):
                        raise HTTPError(400, 'malformed trailer')
                else:
                    self.done = True
                    self.leftover = buf[pos:]
                    self.raw_size += pos
                    self.pending = b''
                    return out
        self.raw_size += pos
        self.pending = buf[pos:]
        if len(self.pending) > _MAX_CHUNK_LINE + 2:
            raise HTTPError(400, 'malformed chunk line')
        return out
