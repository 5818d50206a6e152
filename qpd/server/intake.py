"""qpd.server.intake: reading a request, in the dispatcher and in a worker.

`Intake` is one connection's request intake in the dispatcher: fed the
bytes that come (`feed`), it frames and checks the head
(qpd.server.protocol), reads the body (Content-Length or chunked) and
spools a long one, and answers what the dispatcher is to do next:

    READY     the request is all here (or as much of it as is to be read
              here): hand it to a worker (head, body, spool, flags)
    WAIT      wait for more bytes
    STARTED   wait; the head has just begun (its header_timeout runs)
    BODY      wait; the head is read and the body begins (body_timeout)
    CONTINUE  as BODY, and the client waits for `100 Continue` first
    REFUSE    refuse the request with `error` (an HTTPError)

It calls nothing in the dispatcher and touches no socket, so the tests
feed it plain bytes. A bodiless HTTP head is not parsed here: it goes on
unchecked (F_UNCHECKED) for the worker to parse once
(protocol.parse_http_request refuses whatever parse_http_head would).

The intakes of one dispatcher share their `Rules`: the limits, the banned
addresses (an SCGI request's REMOTE_ADDR is checked here), and the room
for spooled bodies: a body longer than preread_body_size goes to a
temporary file in the var directory while the spools in hand stay under
max_spool_size; past that, the worker reads the rest of the body itself.

`SocketBody` and `read_chunked` are the worker's side: the rest of a body
the dispatcher did not read, read from the socket while the hit is
processed.
"""

import tempfile

from qpd.lib.process import log_line
from qpd.server import fdpass, protocol
from qpd.server.chunked import ChunkedDecoder
from qpd.web.errors import HTTPError

__all__ = ['Intake', 'Rules', 'SocketBody', 'read_chunked', 'READY', 'WAIT',
           'STARTED', 'BODY', 'CONTINUE', 'REFUSE']

READY, WAIT, STARTED, BODY, CONTINUE, REFUSE = range(6)

_RECV_SIZE = 65536

find_head_end = protocol.find_head_end


class Rules:
    """(limits:dict, directory:str=None, banned=(), who:str=None)
    What the intakes of one dispatcher share: the limits
    (protocol.get_limits), the spool directory, the banned addresses (a
    container of host strings), who logs a spool failure (log_line), and
    `spooled`, the bytes in the spools of the connections in hand."""

    __slots__ = ('limits', 'preread', 'max_body', 'max_spool', 'directory',
                 'banned', 'who', 'spooled')

    def __init__(self, limits, directory=None, banned=(), who=None):
        self.limits = limits
        self.preread = limits['preread_body_size']
        self.max_body = limits['max_body_size']
        self.max_spool = limits['max_spool_size']
        self.directory = directory
        self.banned = banned
        self.who = who
        self.spooled = 0


class Intake:
    """(rules:Rules, scgi:bool=False)
    One connection's request intake (see the module's docstring): `buf`
    holds the bytes not yet used; once READY, `head`, `body`, `spool` (a
    file holding the body, or None) and `flags` (fdpass F_*) describe the
    request. `started`: has the head of the next request begun?"""

    __slots__ = ('rules', 'scgi', 'buf', 'in_body', 'started', 'head',
                 'length', 'chunked', 'expect', 'continued', 'decoder',
                 'raw', 'parts', 'body', 'spool', 'spool_size', 'unchecked',
                 'flags', 'error')

    def __init__(self, rules, scgi=False):
        self.rules = rules
        self.scgi = scgi
        self.buf = b''
        self.in_body = False
        self.started = False
        self.head = b''
        self.length = 0
        self.chunked = False
        self.expect = False
        self.continued = False
        self.decoder = None
        self.raw = b''
        self.parts = None
        self.body = b''
        self.spool = None
        self.spool_size = 0
        self.unchecked = False   # head left for the worker to parse
        self.flags = 0
        self.error = None

    def feed(self, data):
        """(data:bytes) -> int: READY, WAIT, STARTED, BODY, CONTINUE or
        REFUSE, after adding data to what has come."""
        if data:
            self.buf = self.buf + data if self.buf else data
        try:
            began = not self.in_body
            if began:
                result = (self.read_scgi_head() if self.scgi
                          else self.read_http_head())
                if result is not None:
                    return result
            if self.chunked:
                result = self.read_chunked_body()
            else:
                result = self.read_body()
        except HTTPError as e:
            self.error = e
            return REFUSE
        if result == WAIT:
            if self.expect and not self.continued:
                self.continued = True
                return CONTINUE
            if began:
                return BODY
        return result

    def next_request(self, leftover=b''):
        """(leftover:bytes=b'') -> bool: make ready for the next request on
        a kept-alive connection (leftover: bytes read of it already); has
        it begun?"""
        self.in_body = False
        self.head = self.body = b''
        if leftover:
            self.buf += leftover
        self.started = bool(self.buf)
        return self.started

    def clear(self):
        """() -> None: forget what was read (a refused request)."""
        self.buf = b''
        self.head = self.body = b''

    # Heads ------------------------------------------------------------------

    def read_http_head(self):
        """() -> None | WAIT | STARTED: None once the head is read."""
        buf, end = find_head_end(self.buf)
        if end < 4:
            self.buf = buf
            protocol.check_partial_head(buf, self.rules.limits)
            return self.wait_head()
        self.head = head = buf[:end]
        self.buf = buf[end:]
        if protocol.may_have_body(head):
            parsed = protocol.parse_http_head(head, self.rules.limits)
            self.length = parsed.content_length or 0
            self.chunked = parsed.chunked
            self.expect = parsed.expect_continue
        else:
            # Bodiless: the worker parses (and checks) the head, once.
            self.length = 0
            self.chunked = self.expect = False
            self.unchecked = True
        self.start_body()
        return None

    def read_scgi_head(self):
        """() -> None | WAIT | STARTED: None once the netstring is read."""
        parsed = protocol.parse_scgi(self.buf, self.rules.limits)
        if parsed is None:
            return self.wait_head()
        payload, environ, end = parsed
        if environ.get('REMOTE_ADDR') in self.rules.banned:
            raise HTTPError(403, 'address banned')
        self.head = payload
        self.buf = self.buf[end:]
        self.length = int(environ['CONTENT_LENGTH'])
        self.chunked = False
        self.expect = False
        self.start_body()
        return None

    def wait_head(self):
        if self.buf and not self.started:
            self.started = True
            return STARTED
        return WAIT

    # Bodies ------------------------------------------------------------------

    def start_body(self):
        self.in_body = True
        self.continued = False
        if self.chunked:
            self.decoder = ChunkedDecoder(self.rules.max_body)
            self.raw = b''
            self.parts = []

    def read_body(self):
        buf = self.buf
        length = self.length
        if self.spool is not None:
            need = length - self.spool_size
            self.write_spool(buf[:need])
            self.buf = buf[need:]
            if self.spool_size == length:
                return self.ready(fdpass.F_COMPLETE | fdpass.F_SPOOLED)
            return WAIT
        if len(buf) >= length:
            if len(buf) == length:
                self.body = buf
                self.buf = b''
            else:
                self.body = buf[:length]
                self.buf = buf[length:]
            return self.ready(fdpass.F_COMPLETE)
        if len(buf) < self.rules.preread:
            return WAIT
        if self.start_spool(length):
            return self.read_body()
        self.body = buf
        self.buf = b''
        return self.ready(0)

    def read_chunked_body(self):
        decoder = self.decoder
        if self.buf:
            data = self.buf
            self.buf = b''
            pieces = decoder.feed(data)
            if self.spool is not None:
                for piece in pieces:
                    self.write_spool(piece)
            else:
                self.raw += data
                self.parts.extend(pieces)
        if decoder.done:
            self.buf = decoder.leftover
            if self.spool is not None:
                return self.ready(fdpass.F_COMPLETE | fdpass.F_SPOOLED)
            self.body = b''.join(self.parts)
            self.raw = b''
            self.parts = None
            return self.ready(fdpass.F_COMPLETE)
        if self.spool is None and len(self.raw) >= self.rules.preread:
            if self.start_spool(len(self.raw)):
                for piece in self.parts:
                    self.write_spool(piece)
                self.raw = b''
                self.parts = None
                return WAIT
            self.body = self.raw
            self.raw = b''
            self.parts = None
            return self.ready(fdpass.F_CHUNKED)
        return WAIT

    def ready(self, flags):
        """(flags:int) -> READY: the request is here; flags say how."""
        if self.continued:
            flags |= fdpass.F_CONTINUED
        if self.unchecked:
            flags |= fdpass.F_UNCHECKED
            self.unchecked = False
        self.flags = flags
        self.decoder = None
        return READY

    # Spooling bodies -------------------------------------------------------------

    def start_spool(self, size):
        """(size:int) -> bool: a temporary file for the body, unless the
        bodies spooled already leave no room for size."""
        rules = self.rules
        if rules.spooled + size > rules.max_spool:
            return False
        try:
            self.spool = tempfile.TemporaryFile(
                buffering=0, dir=rules.directory)
        except OSError as e:
            log_line(rules.who, 'cannot spool a request body (%s)' % e)
            return False
        self.spool_size = 0
        return True

    def write_spool(self, data):
        """(data:bytes) -> None: append data to the spooled body."""
        if not data:
            return
        try:
            self.spool.write(data)
        except OSError as e:
            log_line(self.rules.who, 'cannot spool a request body (%s)' % e)
            raise HTTPError(503, 'no room for the request body')
        self.spool_size += len(data)
        self.rules.spooled += len(data)

    def drop_spool(self):
        """() -> None: close this process's copy of the spool."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None
            self.rules.spooled -= self.spool_size
            self.spool_size = 0


class SocketBody:
    """(sock, prefix:bytes, length:int)
    A request body of `length` bytes, as a worker reads it: prefix (read
    by the dispatcher), then the rest read from sock, never past the end of
    the body."""

    def __init__(self, sock, prefix, length):
        self.sock = sock
        self.prefix = prefix
        self.remaining = length - len(prefix)

    def read(self, size=-1):
        """(size:int=-1) -> bytes: at most size bytes, b'' at the end."""
        if self.prefix:
            if size is None or size < 0 or size >= len(self.prefix):
                data, self.prefix = self.prefix, b''
                if size is None or size < 0:
                    return data + self._recv(-1)
                return data
            data, self.prefix = self.prefix[:size], self.prefix[size:]
            return data
        return self._recv(size)

    def _recv(self, size):
        if size is None or size < 0:
            parts = []
            while self.remaining > 0:
                data = self._recv(_RECV_SIZE)
                if not data:
                    break
                parts.append(data)
            return b''.join(parts)
        size = min(size, self.remaining)
        if size <= 0:
            return b''
        try:
            data = self.sock.recv(size)
        except (BlockingIOError, TimeoutError):
            raise HTTPError(408, 'request body not received in time')
        self.remaining -= len(data)
        if not data:
            self.remaining = 0
            self.truncated = True
        return data

    def drain(self, limit):
        """(limit:int) -> bool: read and drop the unread rest of the body,
        when it is at most limit bytes; is the body read to its end?"""
        if self.remaining > limit or getattr(self, 'truncated', False):
            return False
        try:
            while self.remaining > 0:
                if not self._recv(_RECV_SIZE):
                    return False
        except (OSError, HTTPError):
            return False
        return True


def read_chunked(sock, prefix, environ, max_body):
    """(sock, prefix:bytes, environ:dict, max_body:int) -> (file, leftover:bytes)
    Read the rest of a chunked body in a worker (the dispatcher had no room
    to spool it); CONTENT_LENGTH is set to its size."""
    decoder = ChunkedDecoder(max_body)
    spool = tempfile.SpooledTemporaryFile(1024 * 1024)
    data = prefix
    while True:
        for piece in decoder.feed(data):
            spool.write(piece)
        if decoder.done:
            break
        try:
            data = sock.recv(_RECV_SIZE)
        except (BlockingIOError, TimeoutError):
            raise HTTPError(408, 'request body not received in time')
        if not data:
            raise HTTPError(400, 'chunked body ended early')
    environ['CONTENT_LENGTH'] = str(decoder.size)
    spool.seek(0)
    return spool, decoder.leftover
