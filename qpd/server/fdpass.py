"""qpd.server.fdpass: messages between the dispatcher and its workers.

They talk over a unix SOCK_SEQPACKET socket, so each message arrives whole
and alone. A message may carry file descriptors (SCM_RIGHTS); received
descriptors are close-on-exec.

    worker -> dispatcher   HELLO  index, pid; carries the worker's counters
                                  (a memfd the dispatcher maps)
    dispatcher -> worker   REQUEST flags, family, connection id, and the
                                  bytes read so far; carries the client socket
    worker -> dispatcher   KEEP   connection id + bytes read past the request:
                                  the dispatcher waits for the next request
                           CLOSE  connection id: the dispatcher closes it
                           HELD   connection id: the worker answered the
                                  request and keeps the connection to read
                                  its next requests itself; a later KEEP or
                                  CLOSE with that id gives it back
    dispatcher -> worker   RELEASE give back every connection held (the
                                  dispatcher is stopping)
    worker -> dispatcher   SENDFILE connection id, keep, a file span and
                                  the response head (+ bytes read past the
                                  request); carries the file: the
                                  dispatcher sends the head and the span
                                  (sendfile), then goes on as for KEEP or
                                  CLOSE, so a slow reader of a large file
                                  never holds the worker
    dispatcher -> worker   BANNED the banned file changed: reread it
                           SHARE  listener number + the listener's info;
                                  carries a TCP listening socket the worker
                                  accepts from itself (see below)
    worker -> dispatcher   ADOPT  listener number + the bytes read; carries
                                  a connection the worker accepted and
                                  cannot serve at once (nothing or part of a
                                  request there): the dispatcher takes it as
                                  if it had accepted it
                           OWN    connection id (a worker's own, high bit
                                  set) and listener number; carries a
                                  connection the worker accepted and is
                                  answering or keeping alive: the
                                  dispatcher keeps the copy as if after
                                  HELD, so that KEEP, CLOSE and a 502 on
                                  the worker's death work as for any held
                                  connection
                           LEAVE  the worker reached max_requests or
                                  max_worker_memory and asks to leave
    dispatcher -> worker   GO     leave now: one worker at a time is let
                                  go, in the order they asked, each once
                                  the one before is back (its index says
                                  HELLO again)

Workers accept from a shared listener only what is all there when they
accept (TCP_DEFER_ACCEPT wakes them once bytes arrive): a connection with
nothing or part of a request goes to the dispatcher at once (ADOPT), so a
slow client never holds a worker. The dispatcher gets its own copy of a
connection a worker accepted (OWN) when the worker keeps it alive, or when
a request on it runs past OWN_AFTER (the dispatcher asks with SIGUSR2).
The counters let the dispatcher tell, when a worker dies, whether it had
received its last request, which connection it was reading or answering
(and since when), and whether it had begun to answer.

This module is the only place that builds or splits these messages:
pack_hello/unpack_hello, pack_request/unpack_request, pack_done/unpack_done,
pack_held/unpack_held, pack_release, pack_sendfile/unpack_sendfile,
pack_share/unpack_share, pack_adopt/unpack_adopt, pack_own/unpack_own,
pack_banned, pack_leave, pack_go.
A REQUEST's "info" is the connection's peer and the listener's address
(REMOTE_ADDR, REMOTE_PORT, SERVER_NAME, SERVER_PORT), NUL-separated.
"""

import array
import mmap
import os
import socket
import struct
import time

__all__ = [
    'HELLO', 'REQUEST', 'KEEP', 'CLOSE', 'F_HTTPS', 'F_SCGI', 'F_COMPLETE',
    'F_CHUNKED', 'F_CLOSE', 'F_CONTINUED', 'F_SPOOLED',
    'F_UNCHECKED', 'F_MORE',
    'MAX_MESSAGE',
    'send_message', 'recv_message_into', 'Counters', 'peer_pid',
    'pack_hello', 'unpack_hello', 'format_server_info', 'pack_request',
    'unpack_request', 'RequestMessage', 'pack_done', 'unpack_done',
    'DONE_SIZE', 'HELD', 'RELEASE', 'pack_held', 'unpack_held',
    'pack_release', 'IDLE', 'READING', 'ANSWERING', 'SENDFILE',
    'pack_sendfile', 'unpack_sendfile', 'SHARE', 'ADOPT', 'OWN',
    'pack_share', 'unpack_share', 'pack_adopt', 'unpack_adopt', 'pack_own',
    'unpack_own', 'OWN_ID', 'OWN_AFTER', 'TruncatedMessage', 'BANNED',
    'pack_banned', 'LEAVE', 'GO', 'pack_leave', 'pack_go',
]

HELLO = b'W'
REQUEST = b'R'
KEEP = b'K'
CLOSE = b'C'
HELD = b'H'
RELEASE = b'X'
SENDFILE = b'F'
SHARE = b'S'
BANNED = b'B'
ADOPT = b'A'
OWN = b'O'
LEAVE = b'L'
GO = b'G'

OWN_ID = 0x80000000    # set in the ids workers give connections they accept
OWN_AFTER = 0.1        # seconds into a request on such a connection after
                       # which the dispatcher asks for its copy (SIGUSR2)

# kind, flags, socket family, connection id, info, head and body lengths
REQUEST_HEADER = struct.Struct('<cHBIIII')
# kind, connection id (+ leftover bytes)
DONE_HEADER = struct.Struct('<cxxxI')
# kind, keep, connection id, file offset, length, head length
SENDFILE_HEADER = struct.Struct('<c?xxIQQI')
# kind, worker index, pid
HELLO_HEADER = struct.Struct('<cxxxii')
# kind, listener number (+ info or bytes read)
SHARE_HEADER = struct.Struct('<cxxxI')
# kind, connection id, listener number
OWN_HEADER = struct.Struct('<cxxxII')

F_HTTPS = 1        # the listener is as_https: HTTPS=on
F_SCGI = 2         # head is an SCGI netstring payload
F_COMPLETE = 4     # body is the whole (decoded) body
F_CHUNKED = 8      # body is the start of a raw chunked body
F_CLOSE = 16       # close after this response (the dispatcher is draining)
F_CONTINUED = 32   # a 100 Continue was sent already
F_SPOOLED = 64     # the whole (decoded) body is in a second descriptor,
                   # a temporary file the dispatcher wrote
F_UNCHECKED = 256  # head is a bodiless HTTP head the dispatcher did not
                   # parse: the worker parses it, strictly, once
F_MORE = 512       # the dispatcher has read bytes past this request (a
                   # pipelined next one): the worker must not hold the
                   # connection, but say KEEP

MAX_MESSAGE = 256 * 1024
DONE_SIZE = DONE_HEADER.size


def pack_hello(index, pid):
    """(index:int, pid:int) -> bytes: a worker's HELLO (send it with its
    Counters descriptor)."""
    return HELLO_HEADER.pack(HELLO, index, pid)


def unpack_hello(buffer):
    """(buffer) -> (index:int, pid:int)"""
    _, index, pid = HELLO_HEADER.unpack_from(buffer)
    return index, pid


def format_server_info(address):
    """(address:(host, port)|str) -> bytes: the listener's part of a
    REQUEST's info (SERVER_NAME, SERVER_PORT), computed once per listener."""
    if isinstance(address, tuple):
        return ('%s\0%d' % address[:2]).encode('latin-1')
    return b'localhost\0'


def pack_request(flags, family, conn_id, peer, server_info, head, body):
    """(flags:int, family:int, conn_id:int, peer:(host, port),
        server_info:bytes, head:bytes, body:bytes) -> bytes
    A REQUEST: send it with the client socket's descriptor (and a spool's)."""
    info = ('%s\0%d\0' % peer).encode('latin-1') + server_info
    return b''.join((
        REQUEST_HEADER.pack(REQUEST, flags, family, conn_id, len(info),
                            len(head), len(body)),
        info, head, body))


class RequestMessage:
    """A REQUEST as the worker reads it."""

    __slots__ = ('flags', 'family', 'conn_id', 'remote_addr', 'remote_port',
                 'server_name', 'server_port', 'head', 'body')


def unpack_request(buffer):
    """(buffer:bytes-like) -> RequestMessage"""
    message = RequestMessage()
    (_, message.flags, message.family, message.conn_id, info_size,
     head_size, body_size) = REQUEST_HEADER.unpack_from(buffer)
    view = memoryview(buffer)
    start = REQUEST_HEADER.size
    (message.remote_addr, message.remote_port, message.server_name,
     message.server_port) = bytes(view[start:start + info_size]).decode(
        'latin-1').split('\0')
    start += info_size
    message.head = bytes(view[start:start + head_size])
    start += head_size
    message.body = bytes(view[start:start + body_size])
    return message


def pack_done(keep, conn_id, leftover=b''):
    """(keep:bool, conn_id:int, leftover:bytes=b'') -> bytes: KEEP (with
    the bytes read past the request) or CLOSE."""
    if keep:
        return DONE_HEADER.pack(KEEP, conn_id) + leftover
    return DONE_HEADER.pack(CLOSE, conn_id)


def unpack_done(buffer, nbytes):
    """(buffer, nbytes:int) -> (keep:bool, conn_id:int, leftover:bytes)
    for a message whose kind is KEEP or CLOSE."""
    kind, conn_id = DONE_HEADER.unpack_from(buffer)
    leftover = bytes(memoryview(buffer)[DONE_SIZE:nbytes]) \
        if nbytes > DONE_SIZE else b''
    return kind == KEEP, conn_id, leftover


def pack_held(conn_id):
    """(conn_id:int) -> bytes: HELD, the worker keeps the connection."""
    return DONE_HEADER.pack(HELD, conn_id)


def unpack_held(buffer):
    """(buffer) -> conn_id:int"""
    return DONE_HEADER.unpack_from(buffer)[1]


def pack_release():
    """() -> bytes: RELEASE, give back every held connection."""
    return DONE_HEADER.pack(RELEASE, 0)


def pack_leave():
    """() -> bytes: LEAVE, may this worker leave to be replaced?"""
    return DONE_HEADER.pack(LEAVE, 0)


def pack_go():
    """() -> bytes: GO, the worker that asked LEAVE may leave now."""
    return DONE_HEADER.pack(GO, 0)


def pack_sendfile(keep, conn_id, offset, length, head, leftover=b''):
    """(keep:bool, conn_id:int, offset:int, length:int, head:bytes,
        leftover:bytes=b'') -> bytes
    SENDFILE: the dispatcher is to send head, then length bytes of the
    file (send the message with its descriptor) from offset, then keep
    the connection (with leftover, the bytes read past the request) or
    close it."""
    return b''.join((SENDFILE_HEADER.pack(SENDFILE, keep, conn_id, offset,
                                          length, len(head)),
                     head, leftover))


def unpack_sendfile(buffer, nbytes):
    """(buffer, nbytes:int) -> (keep:bool, conn_id:int, offset:int,
        length:int, head:bytes, leftover:bytes)"""
    _, keep, conn_id, offset, length, head_size = \
        SENDFILE_HEADER.unpack_from(buffer)
    view = memoryview(buffer)
    start = SENDFILE_HEADER.size
    head = bytes(view[start:start + head_size])
    leftover = bytes(view[start + head_size:nbytes])
    return keep, conn_id, offset, length, head, leftover

def pack_banned():
    """() -> bytes: BANNED, reread the banned file."""
    return DONE_HEADER.pack(BANNED, 0)


def pack_share(number, server_info):
    """(number:int, server_info:bytes) -> bytes: SHARE (send it with the
    listening socket)."""
    return SHARE_HEADER.pack(SHARE, number) + server_info


def unpack_share(buffer, nbytes):
    """(buffer, nbytes:int) -> (number:int, server_info:bytes)"""
    return (SHARE_HEADER.unpack_from(buffer)[1],
            bytes(memoryview(buffer)[SHARE_HEADER.size:nbytes]))


def pack_adopt(number, data):
    """(number:int, data:bytes) -> bytes: ADOPT (send it with the
    connection): what was read of it, from the listener SHAREd as number."""
    return SHARE_HEADER.pack(ADOPT, number) + data


def unpack_adopt(buffer, nbytes):
    """(buffer, nbytes:int) -> (number:int, data:bytes)"""
    return unpack_share(buffer, nbytes)


def pack_own(conn_id, number):
    """(conn_id:int, number:int) -> bytes: OWN (send it with the
    connection)."""
    return OWN_HEADER.pack(OWN, conn_id, number)


def unpack_own(buffer):
    """(buffer) -> (conn_id:int, number:int)"""
    _, conn_id, number = OWN_HEADER.unpack_from(buffer)
    return conn_id, number


_FD_SPACE = socket.CMSG_SPACE(array.array('i', [0]).itemsize * 2)
_CLOEXEC = int(socket.MSG_CMSG_CLOEXEC)
_TRUNCATED = int(socket.MSG_TRUNC | socket.MSG_CTRUNC)


def send_message(sock, data, fds=(), flags=0):
    """(sock, data:bytes, fds=(), flags:int=0) -> None
    Send data as one message, with the descriptors fds."""
    if fds:
        sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                               array.array('i', fds))], flags)
    else:
        sock.send(data, flags)


class TruncatedMessage(OSError):
    """A message that did not arrive whole (see recv_message_into)."""


def recv_message_into(sock, buffer, flags=0):
    """(sock, buffer:bytearray, flags:int=0) -> (nbytes:int, fds:[int])
    Receive one message into buffer; nbytes is 0 at end of file. Received
    descriptors are close-on-exec; a truncated message (too long, or its
    descriptors refused: the receiver is out of them) closes those that
    came and raises TruncatedMessage."""
    nbytes, ancdata, msg_flags, _ = sock.recvmsg_into(
        [buffer], _FD_SPACE, flags | _CLOEXEC)
    fds = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            items = array.array('i')
            items.frombytes(data[:len(data) - len(data) % items.itemsize])
            fds.extend(items)
    if msg_flags & _TRUNCATED:
        for fd in fds:
            os.close(fd)
        raise TruncatedMessage('truncated message from %r' % (sock,))
    return nbytes, fds


def peer_pid(sock):
    """(sock:unix socket) -> int: the pid of the process at the other end."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                            struct.calcsize('3i'))
    return struct.unpack('3i', creds)[0]


# What a worker is doing with the connection its counters name.
IDLE, READING, ANSWERING = range(3)
_READ_TRIES = 1000  # reads of the counters until one is whole (_read)


class Counters:
    """(fd:int=None)
    A worker's state in shared memory: the REQUEST messages it has received,
    the ones it has begun to answer, the connection it is reading or
    answering a request on (handed over or held), its phase (IDLE, READING,
    ANSWERING) and since when (time.monotonic(), one clock for every
    process), the requests it has answered, and the connections it has
    accepted itself (written with the next state change). Without fd, creates a new
    memfd (the worker's side); with fd, maps that one (the dispatcher's
    side)."""

    # The number of the write, the state, the number again: all in one
    # pack_into, field by field, so that a reader can tell a read that
    # met a write half done (see _read).
    _LAYOUT = struct.Struct('<QIIIIdQQQ')
    _STATE = struct.Struct('<IIIIdQQ')
    _NUMBER = struct.Struct('<Q')
    _LAST = _LAYOUT.size - _NUMBER.size

    def __init__(self, fd=None):
        if fd is None:
            fd = os.memfd_create('qpd-worker-counters', os.MFD_CLOEXEC)
            os.ftruncate(fd, self._LAYOUT.size)
        try:
            self.map = mmap.mmap(fd, self._LAYOUT.size)
        finally:
            self.fd = fd
        self.received = 0
        self.started = 0
        self.conn_id = 0
        self.phase = IDLE
        self.since = 0.0
        self.served = 0
        self.accepted = 0
        self.writes = 0

    def get_fd(self):
        """() -> int: the memfd, for send_message."""
        return self.fd

    def close_fd(self):
        """() -> None: close the memfd (the mapping stays)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def _write(self):
        self.writes = number = self.writes + 1
        self._LAYOUT.pack_into(self.map, 0, number, self.received,
                               self.started, self.conn_id, self.phase,
                               self.since, self.served, self.accepted, number)

    def _read(self):
        """() -> the state as one write left it. The worker writes the
        fields one by one while the dispatcher may be reading them: a read
        without this check met a write half done in 0.7% of the reads of
        a worker writing in a loop (the new phase with the old `since`: a
        worker idle a while looked busy since then, and was sent SIGUSR2,
        or had its stack dumped for a request_timeout it never ran). So
        the write's number is read at the end (written last), then the
        state, then the number at the start (written first): when the two
        agree, the state is that write's."""
        number, state, start = self._NUMBER, self._STATE, self._NUMBER.size
        for _ in range(_READ_TRIES):
            last = number.unpack_from(self.map, self._LAST)[0]
            fields = state.unpack_from(self.map, start)
            if number.unpack_from(self.map, 0)[0] == last:
                break
        return fields

    def mark_received(self, conn_id=0):
        """(conn_id:int=0) -> None: a REQUEST for conn_id came in; the
        worker is reading it."""
        self.received += 1
        self.mark_reading(conn_id)

    def mark_reading(self, conn_id):
        """(conn_id:int) -> None: about to read (or serve what was read)
        from the connection conn_id."""
        self.conn_id = conn_id
        self.phase = READING
        self.since = time.monotonic()
        self._write()

    def mark_started(self):
        """() -> None: the answer to the current request begins."""
        self.started = self.received
        self.phase = ANSWERING
        self._write()

    def mark_idle(self, answered=True):
        """(answered:bool=True) -> None: done with the current connection,
        having answered a request on it (or not)."""
        self.phase = IDLE
        if answered:
            self.served += 1
        self._write()

    def read(self):
        """() -> (received:int, started:int)"""
        return self._read()[:2]

    def read_state(self):
        """() -> (conn_id:int, phase:int, since:float, served:int)"""
        return self._read()[2:6]

    def read_accepted(self):
        """() -> int: the connections the worker accepted itself."""
        return self._read()[6]

    def close(self):
        """() -> None"""
        self.close_fd()
        self.map.close()
