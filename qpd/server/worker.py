"""qpd.server.worker: one single-threaded worker of a site's pool.

    qpd worker NAME --index N  ->  main(Site(NAME), index=N)

A worker imports the site (exiting with a one-line reason when it cannot),
opens its own Durus connection through the site's publisher, connects to
the dispatcher's unix socket (retrying with backoff while it is not up) and
says HELLO. Then, for each client socket the dispatcher passes it with the
bytes of a request: build the environ, HTTPRequest and Hit, let the
publisher process the hit and write the response.

The dispatcher also shares its HTTP listener (SHARE). The idle workers
are woken for a new connection; one accepts it, reads what has come
without waiting, and serves the request when it is all there; anything
else goes to the dispatcher at once with the bytes read (ADOPT), so a
slow client still never waits on a worker. Connections it accepted are
unknown to the dispatcher until the worker keeps one alive or a request on
it runs OWN_AFTER (SIGUSR2 from the dispatcher): then the worker sends the
dispatcher a copy (OWN) and the connection is held like any other.

Each Hit carries when its request was known to have begun to arrive
(Hit.arrived: after the epoll wait that reported it, or the read that got
it), so that the requests found waiting together on held connections share the
publisher's one sync (coalesce_syncs).

Hit lines and metrics are kept in memory (qpd.server.respond.HitLog) and
written when the worker is about to wait, and at least every
FLUSH_INTERVAL while it is busy.

A connection to keep alive is then held (HELD): the worker polls it with
the dispatcher's socket and the other connections it holds, and reads and
serves its next requests itself, each held connection in turn, parsing
each head once (protocol.parse_http_request). That keeps the dispatcher
out of a keep-alive request's path: no handoff, no DONE, no wake-up of a
third process per request. The worker gives a connection back to the
dispatcher (KEEP, with the bytes read and not served) as soon as waiting
on it could tie the worker up: a head or a body not all there (a slow
client, Expect: 100-continue, a long upload), an idle time of HOLD_TIME,
a request of its own that took SLOW_REQUEST or more (so the others do not
wait behind it while another worker may be idle), SIGTERM, or the
dispatcher's RELEASE. A connection to close is shut down here (the client
sees the end at once) and the dispatcher told CLOSE.

The counters (fdpass.Counters) say which connection the worker is reading
or answering, so that the dispatcher, when the worker dies, answers 502 on
that one only and takes the idle held ones back.

SIGTERM (or SIGINT) ends the worker once its current request is answered;
so does the dispatcher's GO after the worker asked to leave (LEAVE: its
`max_requests` or `max_worker_memory` reached, qpd.server.recycle).
SIGUSR1 dumps its Python stack to stderr (the dispatcher's request_timeout).
SIGHUP reopens the site's log file (logrotate; `qpd build NAME --logrotate`).

The response is written by qpd.server.respond (Responder, which also
hands a file or a slow reader's rest to the dispatcher); the rest of a
body the dispatcher did not read is read by qpd.server.intake
(SocketBody, read_chunked).
"""

import collections
import faulthandler
import io
import os
import select
import signal
import socket
import sys
import time
import traceback

from qpd.lib.backoff import Backoff
from qpd.lib import collector
from qpd.lib.process import log_line
from qpd.lib.ready import format_ready_line
from qpd.metrics import FLUSH_INTERVAL, open_recorder
from qpd.server import fdpass, protocol
from qpd.server.banned import Banned
from qpd.server.connection import Held
from qpd.server.protocol import find_head_end
from qpd.server.recycle import Recycling
from qpd.server.listeners import (
    DONTWAIT, Shared, SharedListeners)
from qpd.server.respond import ClientGone, HitLog, Responder, request_base
from qpd.server.write_turn import open_write_turn
from qpd.web.errors import HTTPError

__all__ = ['main', 'Worker', 'Shared', 'HOLD_TIME', 'SLOW_REQUEST']

_RECV_SIZE = 65536

HOLD_TIME = 0.25      # a held connection idle this long goes back
SWEEP_TIME = 0.05     # how often held connections are checked
SLOW_REQUEST = 0.25   # after a request this long, the others go back


def _shutdown(sock):
    """(sock) -> None: end the response (FIN) now; the dispatcher closes."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class Worker:
    """(site:Site, index:int=0)"""

    def __init__(self, site, index=0):
        self.site = site
        self.name = site.get_name()
        self.index = index
        self.who = 'qpd worker %s %s' % (self.name, index)
        self.limits = None
        self.responder = None      # qpd.server.respond.Responder
        self.respond = None        # its respond, bound
        self.script_name = ''
        self.publisher = None
        self.sock = None
        self.counters = None
        self.idle = False
        self.stopping = False
        self.buffer = bytearray(fdpass.MAX_MESSAGE)
        self.metrics = None        # qpd.metrics.Recorder
        self.hit_log = HitLog(site, self.log)
        self.epoll = None
        self.held = {}             # fd -> Held
        self.ready = collections.deque()   # Held with a request to read
        self.holding = True        # False once the dispatcher says RELEASE
        self.swept = 0.0
        self.listeners = None      # SharedListeners, once run() polls
        self.shared = {}           # fd -> Shared (the listeners' by_fd)
        self.accept_from = None    # a Shared with a connection waiting
        self.own_ids = 0           # ids of connections accepted here
        self.serving = None        # the Held a request is answered on
        self.received_at = None    # when the last message came
        self.banned = Banned(site)
        self.paused = []           # Shared not watched until paused_until
        self.recycling = None      # qpd.server.recycle.Recycling
        # message kind (its byte) -> (handler, fewest fds, most fds)
        self.handlers = {
            fdpass.REQUEST[0]: (self.handle_request, 1, 2),
            fdpass.SHARE[0]: (self.handle_share, 1, 1),
            fdpass.BANNED[0]: (self.handle_banned, 0, 0),
            fdpass.RELEASE[0]: (self.handle_release, 0, 0),
            fdpass.GO[0]: (self.handle_go, 0, 0),
        }

    def log(self, message):
        """(message:str) -> None: one line on stderr."""
        log_line(self.who, message)

    # Starting ------------------------------------------------------------------

    def on_signal(self, signum, frame):
        self.stopping = True
        if self.idle:
            raise SystemExit(0)

    def install_signals(self):
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        faulthandler.register(signal.SIGUSR1, file=sys.stderr,
                              all_threads=True)
        signal.signal(signal.SIGUSR2, self.on_own_request)
        signal.signal(signal.SIGHUP, self.on_reopen_log)

    def on_reopen_log(self, signum, frame):
        """SIGHUP: reopen the site's log file (logrotate moved it)."""
        self.hit_log.reopen()

    def wait_for(self, what, attempt, errors):
        """(what:str, attempt:callable, errors:tuple) -> attempt's value
        Call attempt() until it returns, sleeping with backoff after each
        of errors (idle meanwhile, so that SIGTERM ends the worker at
        once); the first failure is logged: 'waiting for WHAT (error)'. A
        worker told to stop before (SIGTERM while it answered a request,
        then the dispatcher went away) does not wait: SystemExit."""
        backoff = Backoff(0.05, 2.0)
        complained = False
        while True:
            try:
                return attempt()
            except errors as e:
                if not complained:
                    self.log('waiting for %s (%s)' % (what, e))
                    complained = True
            if self.stopping:
                raise SystemExit(0)
            self.idle = True
            backoff.sleep()
            self.idle = False

    def connect_storage(self):
        """() -> None: make the publisher, retrying while the storage
        server is not up. (AssertionError: Durus's Connection() on a new
        database when another client made the root object first; the next
        attempt finds the root.)"""
        self.publisher = self.wait_for(
            'the storage server', self.site.make_publisher,
            (OSError, EOFError, AssertionError))

    def connect_dispatcher(self):
        """() -> None: connect and say HELLO, retrying while the
        dispatcher is not up."""
        path = self.site.get_dispatcher_socket()

        def attempt():
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                sock.connect(path)
                counters = fdpass.Counters()
                try:
                    fdpass.send_message(
                        sock, fdpass.pack_hello(self.index, os.getpid()),
                        (counters.get_fd(),))
                finally:
                    counters.close_fd()
            except OSError:
                sock.close()
                raise
            return sock, counters
        self.sock, counters = self.wait_for(
            'the dispatcher at %s' % path, attempt, (OSError,))
        self.counters = self.responder.counters = counters

    def start(self):
        """() -> int | None: an exit status when the site cannot be served."""
        try:
            self.site.get_publisher_class()
            self.responder = responder = Responder(self.site, self.log)
            responder.banned = self.banned
            self.banned.refresh(time.monotonic(), force=True)
            self.limits = responder.limits
            self.script_name = responder.script_name
        except BaseException as e:
            if isinstance(e, KeyboardInterrupt):
                raise
            reason = str(e).splitlines()[0] if str(e) else ''
            sys.stderr.write('qpd worker %s: cannot import the site: %s%s\n'
                             % (self.name, type(e).__name__,
                                ': ' + reason if reason else ''))
            sys.stderr.flush()
            return 1
        self.respond = responder.respond
        self.install_signals()
        self.connect_storage()
        responder.publisher = self.publisher
        self.publisher.write_turn = open_write_turn(self.site)
        self.hit_log.open(self.publisher)
        self.metrics = responder.metrics = self.hit_log.metrics = \
            open_recorder(self.site)
        self.connect_dispatcher()
        self.recycling = Recycling(self.site, self.index)
        collector.settle()
        sys.stdout.write(format_ready_line(
            'worker', self.name, self.site.get_dispatcher_socket()) + '\n')
        sys.stdout.flush()
        return None

    # Leaving on its own (qpd.server.recycle) ------------------------------

    def handle_go(self, nbytes, fds):
        """GO: the dispatcher lets this worker leave, as it asked (LEAVE):
        stop as on SIGTERM, once the request in hand, if any, is
        answered."""
        asked = self.recycling.asked if self.recycling else None
        if asked is None or self.stopping:
            return
        reason, why = asked
        self.log('leaving at %s; a fresh worker takes its place' % why)
        if self.metrics is not None:
            self.metrics.add_recycle(reason)
        self.stopping = True

    # Serving --------------------------------------------------------------------

    def run(self):
        """() -> int: serve requests until SIGTERM; the exit status."""
        status = self.start()
        if status is not None:
            return status
        self.epoll = select.epoll()
        self.listeners = SharedListeners(self.epoll, self.log)
        self.shared = self.listeners.by_fd         # bound for turn()
        self.paused = self.listeners.paused
        self.epoll.register(self.sock.fileno(), select.EPOLLIN)
        try:
            while not self.stopping:
                self.turn()
        except SystemExit:
            pass
        finally:
            self.idle = False
            self.hit_log.flush()
            self.release_all()
            if self.sock is not None:
                self.sock.close()
            self.epoll.close()
        return 0

    def turn(self):
        """() -> None: one pass of the loop: wait for a message from the
        dispatcher, a held connection's next request or a connection on a
        shared listener; then serve every request that is ready, each held
        connection in turn, accepting and serving a new connection after
        each (while any wait), and then one new connection."""
        ready = self.ready
        self.idle = True
        try:
            if self.stopping:
                return
            events = self.epoll.poll(0)
            if not events and not ready:
                # About to wait: write what is kept first.
                self.hit_log.flush()
                events = self.epoll.poll(
                    SWEEP_TIME if self.held or self.paused else -1)
            elif time.monotonic() - self.hit_log.flushed >= FLUSH_INTERVAL:
                self.hit_log.flush()
        finally:
            self.idle = False
        dispatcher_fd = self.sock.fileno()
        held = self.held
        now = time.monotonic()
        for fd, mask in events:
            if fd == dispatcher_fd:
                self.on_message()
            else:
                conn = held.get(fd)
                if conn is not None:
                    if conn.seen is None:
                        conn.seen = now
                    if not conn.ready:
                        conn.ready = True
                        ready.append(conn)
                elif fd in self.shared:
                    self.accept_from = self.shared[fd]
        for _ in range(len(ready)):
            if self.stopping:
                break
            conn = ready.popleft()
            conn.ready = False
            if held.get(conn.fd) is conn:
                self.serve_held(conn)
            # New connections take turns with held ones (one per pass put
            # the last of a burst 0.5 s behind 32 held connections).
            shared = self.accept_from
            if shared is not None and not self.stopping and self.holding:
                if not self.accept_own(shared):
                    self.accept_from = None
        shared = self.accept_from
        if shared is not None:
            self.accept_from = None
            if not self.stopping and self.holding:
                self.accept_own(shared)
        if held or self.paused:
            now = time.monotonic()
            if now - self.swept >= SWEEP_TIME:
                self.swept = now
                for conn in list(held.values()):
                    if now - conn.last >= HOLD_TIME and not conn.ready:
                        self.give_back(conn, True)
                if self.paused:
                    self.listeners.resume(now)

    # Connections accepted here ---------------------------------------------------

    def add_shared(self, nbytes, fd):
        """(nbytes:int, fd:int) -> None: a listener the dispatcher SHAREd:
        accept from it too."""
        number, info = fdpass.unpack_share(self.buffer, nbytes)
        self.listeners.add(Shared(socket.socket(fileno=fd), number, info))

    def accept_own(self, shared):
        """(shared:Shared) -> bool: accept a connection and serve its
        request when it is all there; hand it to the dispatcher at once
        (ADOPT) when it is not (nothing or part of a request read) or comes
        from a banned address: a slow client never waits on a worker. False
        when there was none. One at a time, served before the next, so none
        waits behind another's request while a second worker could take
        it."""
        accepted = self.listeners.accept(shared)
        if accepted is None:
            return False
        sock, peer = accepted
        self.own_ids = (self.own_ids + 1) & (fdpass.OWN_ID - 1)
        self.counters.accepted += 1
        base = protocol.make_base_environ(
            peer[0], peer[1], shared.server_name, shared.server_port, False)
        conn = Held(sock, fdpass.OWN_ID | self.own_ids, base, b'')
        conn.known = False
        conn.number = shared.number
        self.banned.refresh(conn.last)
        if peer[0] in self.banned:
            self.give_back(conn, True)        # the dispatcher refuses it
        else:
            self.serve_held(conn)
        return True

    def own(self, conn):
        """(conn:Held) -> bool: send the dispatcher its copy of a connection
        accepted here (OWN); False when it cannot be reached."""
        try:
            fdpass.send_message(self.sock, fdpass.pack_own(
                conn.id, conn.number), (conn.fd,))
        except OSError as e:
            self.log('cannot reach the dispatcher (%s)' % e)
            return False
        conn.known = True
        return True

    def on_own_request(self, signum, frame):
        """SIGUSR2: the dispatcher says this worker has been on one request
        for OWN_AFTER. Send it a copy of that connection, when it is one
        accepted here, and give it every other connection here, so that
        their requests do not wait behind this one: the held ones (KEEP)."""
        conn = self.serving
        if conn is None:
            return
        if not conn.known:
            self.own(conn)
        for other in list(self.held.values()):
            if other is not conn:
                self.give_back(other, True)

    def on_message(self):
        """() -> None: a message from the dispatcher."""
        try:
            nbytes, fds = fdpass.recv_message_into(
                self.sock, self.buffer, DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self.log('lost the dispatcher (%s)' % e)
            nbytes, fds = 0, ()
        self.received_at = time.monotonic()
        if nbytes == 0:
            if self.stopping:
                raise SystemExit(0)
            self.reconnect()
            return
        entry = self.handlers.get(self.buffer[0])
        if entry is not None and entry[1] <= len(fds) <= entry[2]:
            entry[0](nbytes, fds)
        else:
            for fd in fds:
                os.close(fd)
            self.log('unexpected message from the dispatcher')

    # The dispatcher's messages, by kind: handle_X(nbytes, fds), called by
    # on_message when the message carries as many descriptors as its
    # entry in handlers says (a new kind: a handler and an entry).

    def handle_request(self, nbytes, fds):
        """REQUEST (a client socket, and its spooled body's file): serve."""
        self.handle(*fds)

    def handle_share(self, nbytes, fds):
        """SHARE (a listener): accept from it too."""
        self.add_shared(nbytes, fds[0])

    def handle_banned(self, nbytes, fds):
        """BANNED: the banned file changed; reread it."""
        self.banned.refresh(time.monotonic(), force=True)

    def handle_release(self, nbytes, fds):
        """RELEASE (the dispatcher drains): give back every held
        connection, hold no more, and stop accepting from its listeners."""
        self.holding = False
        self.release_all()
        self.listeners.drop_all()

    def reconnect(self):
        self.log('the dispatcher went away; reconnecting')
        for conn in list(self.held.values()):
            self.forget(conn)
        # The new dispatcher shares its own (and must be able to listen
        # on the address again).
        self.listeners.drop_all()
        self.epoll.unregister(self.sock.fileno())
        self.sock.close()
        self.sock = None
        self.counters.close()
        if self.recycling is not None:
            self.recycling.asked = None    # the new dispatcher was never
                                           # asked: the next hit asks again
        self.connect_dispatcher()
        self.epoll.register(self.sock.fileno(), select.EPOLLIN)
        self.holding = True
        self.log('reconnected')

    def tell(self, data):
        """(data:bytes) -> None: a message to the dispatcher."""
        try:
            self.sock.send(data)
        except OSError as e:
            self.log('cannot reach the dispatcher (%s)' % e)

    def handle(self, fd, spool_fd=None):
        """(fd:int, spool_fd:int=None) -> None: serve the request in
        self.buffer on fd; spool_fd, when given, holds its body. A
        keep-alive connection is then held: its next requests are read
        here while they come quickly."""
        message = fdpass.unpack_request(self.buffer)
        self.counters.mark_received(message.conn_id)
        began = time.monotonic()
        sock = socket.socket(message.family, socket.SOCK_STREAM, 0, fd)
        spool = None
        if spool_fd is not None:
            spool = os.fdopen(spool_fd, 'rb')
        try:
            keep, leftover = self.responder.serve(
                sock, message, spool, self.received_at)
        except ClientGone:
            keep, leftover = False, b''
        except Exception:
            self.log('error serving a request:\n' + traceback.format_exc())
            keep, leftover = False, b''
        finally:
            if spool is not None:
                spool.close()
        self.counters.mark_idle()
        if self.responder.passing is not None:
            self.responder.pass_response(self.sock, sock, message.conn_id,
                                         keep, leftover)
            self.after_request(began, None)
            return
        if (keep and self.holding and not self.stopping
                and not message.flags & (fdpass.F_CLOSE | fdpass.F_SCGI
                                         | fdpass.F_MORE)):
            conn = Held(sock, message.conn_id, request_base(message),
                        leftover)
            self.hold(conn)
            self.tell(fdpass.pack_held(conn.id))
            self.after_request(began, conn)
            return
        if not keep:
            _shutdown(sock)
        sock.close()
        self.tell(fdpass.pack_done(keep, message.conn_id, leftover))
        self.after_request(began, None)

    def serve_held(self, conn):
        """(conn:Held) -> None: read conn's next request (read_held), serve
        it, and finish it (finish_held); give the connection back to the
        dispatcher when the request is not all there (a slow client, a body
        still coming, Expect: 100-continue) or when the client closed it."""
        end = self.read_held(conn)
        if not end:
            return
        counters = self.counters
        began = time.monotonic()
        buf = conn.buf
        head = buf[:end]
        try:
            parsed, environ = protocol.parse_http_request(
                head, self.limits, conn.base, self.script_name)
        except HTTPError as e:
            self.responder.send_error(conn.sock, e, False)
            counters.mark_idle()
            _shutdown(conn.sock)
            self.give_back(conn, False)
            return
        length = parsed.content_length or 0
        if (parsed.chunked or parsed.expect_continue
                or len(buf) - end < length):
            # The dispatcher reads the rest of the body (spooling it).
            counters.mark_idle(False)
            self.give_back(conn, True)
            return
        body = buf[end:end + length]
        conn.buf = buf[end + length:]
        if 'CONTENT_LENGTH' in environ or body:
            environ['CONTENT_LENGTH'] = str(length)
        self.serving = conn
        arrived = conn.seen
        conn.seen = None
        try:
            keep = self.respond(conn.sock, environ, io.BytesIO(body),
                                parsed.keep_alive, False, arrived=arrived)
        except ClientGone:
            keep = False
        except Exception:
            self.log('error serving a request:\n' + traceback.format_exc())
            keep = False
        self.serving = None
        counters.mark_idle()
        self.finish_held(conn, keep, began)

    def read_held(self, conn):
        """(conn:Held) -> int: the end of the head of conn's next request
        in conn.buf (the empty lines before it dropped), after reading what
        has come; 0 when the head is not all there: then conn is held again
        (nothing of it came) or given back (or, the client gone, closed)."""
        counters = self.counters
        counters.mark_reading(conn.id)
        buf, end = find_head_end(conn.buf)
        if end >= 4:
            conn.buf = buf
            return end
        try:
            data = conn.sock.recv(_RECV_SIZE, DONTWAIT)
        except (BlockingIOError, InterruptedError):
            data = None
        except OSError:
            data = b''
        if data == b'':
            counters.mark_idle(False)
            self.give_back(conn, False)
            return 0
        if data:
            if conn.seen is None:
                conn.seen = time.monotonic()
            buf, end = find_head_end(buf + data if buf else data)
        conn.buf = buf
        if end >= 4:
            return end
        counters.mark_idle(False)
        if buf or not conn.known:
            self.give_back(conn, True)
        else:
            self.hold(conn)
        return 0

    def finish_held(self, conn, keep, began):
        """(conn:Held, keep:bool, began:float) -> None: after a request on
        conn was answered: pass the response's rest to the dispatcher, or
        hold conn for its next request, or give it back (KEEP) or close it
        (CLOSE)."""
        responder = self.responder
        if responder.passing is not None:
            if not conn.known and not self.own(conn):
                responder.passing[0].close()
                responder.passing = None
                self.forget(conn)
                return
            self.forget(conn)
            responder.pass_response(self.sock, None, conn.id, keep,
                                    conn.buf if keep else b'')
            self.after_request(began, None)
            return
        if keep and self.holding and not self.stopping:
            conn.last = time.monotonic()
            self.hold(conn)
            self.after_request(began, conn)
        else:
            if not keep and conn.known:
                # The dispatcher's copy stays open until CLOSE: end the
                # response now. One accepted here has no other copy, and
                # closing it (give_back) sends the FIN itself.
                _shutdown(conn.sock)
            self.give_back(conn, keep)
            self.after_request(began, None)

    def hold(self, conn):
        """(conn:Held) -> None: poll conn for its next request (first
        sending the dispatcher its copy of one accepted here); when bytes
        of it are read already, it is ready at once."""
        if conn.fd not in self.held:
            if not conn.known and not self.own(conn):
                self.forget(conn)
                return
            self.held[conn.fd] = conn
            self.epoll.register(conn.fd, select.EPOLLIN)
        if conn.buf and not conn.ready:
            conn.ready = True
            self.ready.append(conn)

    def after_request(self, began, conn):
        """(began:float, conn:Held|None) -> None: after a request that took
        long, give back the other held connections, so that their requests
        do not wait for this worker while another may be idle; and when
        this worker should leave (qpd.server.recycle), ask the dispatcher
        (LEAVE; handle_go acts on its answer)."""
        if not self.stopping and self.recycling.after_hit() is not None:
            self.tell(fdpass.pack_leave())
        if self.held and time.monotonic() - began >= SLOW_REQUEST:
            for other in list(self.held.values()):
                if other is not conn:
                    self.give_back(other, True)

    def give_back(self, conn, keep):
        """(conn:Held, keep:bool) -> None: KEEP (with the bytes read and not
        served) or CLOSE to the dispatcher, which has its own copy of the
        socket; one accepted here goes with ADOPT (or is just closed)."""
        if not conn.known:
            if keep:
                try:
                    fdpass.send_message(self.sock, fdpass.pack_adopt(
                        conn.number, conn.buf), (conn.fd,))
                except OSError as e:
                    self.log('cannot reach the dispatcher (%s)' % e)
            self.forget(conn)
            return
        self.forget(conn)
        self.tell(fdpass.pack_done(keep, conn.id, conn.buf if keep else b''))

    def forget(self, conn):
        """(conn:Held) -> None: stop holding conn; close this copy."""
        if self.held.pop(conn.fd, None) is not None:
            try:
                self.epoll.unregister(conn.fd)
            except (OSError, ValueError):
                pass
        conn.sock.close()

    def release_all(self):
        """() -> None: give back every held connection."""
        if self.sock is None:
            for conn in list(self.held.values()):
                self.forget(conn)
            return
        for conn in list(self.held.values()):
            self.give_back(conn, True)
        self.ready.clear()

def main(site, index=0):
    """(site:Site, index:int=0) -> int: run one worker until SIGTERM."""
    import setproctitle
    setproctitle.setproctitle('qpd worker %s %s' % (site.get_name(), index))
    return Worker(site, index).run()
