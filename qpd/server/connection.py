"""qpd.server.connection: a client connection as the dispatcher holds it
(`Client`), and as a worker holds it between requests (`Held`).

A `Client` is one connection from accept to close: where it is (`state`,
below, and the deadline that state runs under), the worker it is with,
the request intake reading its next request (qpd.server.intake), and,
while the dispatcher sends a response's file a worker passed it
(fdpass.SENDFILE), what is left to send (`Sending`).

States:

    HEAD     waiting for a request head (a kept-alive connection between
             requests too: `intake.started` says whether one has begun)
    BODY     reading a request body
    QUEUED   a whole request waits in the dispatcher's queue for a worker
    BUSY     handed to a worker, which answers it
    HELD     a worker holds it and reads its next requests itself
    LINGER   refused or finished: the client may still send, unread, for
             LINGER_TIME
    SENDING  the dispatcher sends a response's file a worker passed it

A worker's `Held` is much smaller: the socket, the dispatcher's id for the
connection (or one of the worker's own, for a connection it accepted and
has not yet sent the dispatcher: `known` false), the bytes read and not
served, and when its next request was seen (Hit.arrived).
"""

import time

from qpd.server.intake import Intake

__all__ = ['Client', 'Held', 'Sending', 'HEAD', 'BODY', 'QUEUED', 'BUSY', 'LINGER',
           'HELD', 'SENDING']

HEAD, BODY, QUEUED, BUSY, LINGER, HELD, SENDING = range(7)


class Client:
    """(sock, id:int, listener:Listener, peer:(host, port), rules:Rules)
    A client connection, from accept to close (not to be confused with
    a Durus Connection): where it is (state, deadline, queued_at, the
    worker it is with, the file being sent), and its request intake."""

    __slots__ = ('sock', 'fd', 'id', 'listener', 'family', 'peer', 'host',
                 'state', 'deadline', 'flags', 'queued_at', 'worker',
                 'polled', 'sending', 'intake')

    def __init__(self, sock, id, listener, peer, rules):
        self.sock = sock
        self.fd = sock.fileno()
        self.id = id
        self.listener = listener
        self.family = sock.family
        self.peer = peer          # (host, port); ('', 0) on a unix socket
        self.host = peer[0]
        self.state = HEAD
        self.deadline = 0.0
        self.flags = 0            # fdpass F_* of the request handed over
        self.queued_at = 0.0
        self.worker = None
        self.polled = False      # registered with epoll yet?
        self.sending = None      # a Sending, in state SENDING
        self.intake = Intake(rules, listener.scgi)


class Sending:
    """What the dispatcher still has to send of a response a worker passed
    it (fdpass.SENDFILE): the head, then length bytes of the file fd from
    offset; then keep the connection (with leftover) or close it."""

    __slots__ = ('fd', 'head', 'offset', 'length', 'keep', 'leftover')

    def __init__(self, fd, head, offset, length, keep, leftover):
        self.fd = fd
        self.head = head
        self.offset = offset
        self.length = length
        self.keep = keep
        self.leftover = leftover


class Held:
    """(sock, id:int, base:dict, buf:bytes)
    A keep-alive connection a worker holds between requests: its socket,
    the dispatcher's id for it, the environ keys of the connection, and
    the bytes read and not yet served."""

    __slots__ = ('sock', 'fd', 'id', 'base', 'buf', 'last', 'ready',
                 'known', 'number', 'seen')

    def __init__(self, sock, id, base, buf):
        self.sock = sock
        self.fd = sock.fileno()
        self.id = id
        self.base = base
        self.buf = buf
        self.last = time.monotonic()
        self.ready = False
        self.known = True     # False: accepted here; the dispatcher has no
                              # copy of it until OWN
        self.number = -1      # the shared listener it came from
        self.seen = None      # time.monotonic() by which its next request
                              # had begun to arrive (Hit.arrived)
