"""qpd.server.dispatcher: the front process of a site's worker pool.

    qpd dispatcher NAME  ->  main(Site(NAME))

One epoll loop owns the listening sockets (http_address, scgi_address,
as_https_address), the unix socket its workers connect to, and the control
socket that answers the pool's stats. It shares the HTTP listener over TCP
with its workers (fdpass SHARE), which accept from it themselves and serve
at once the requests that arrive whole, and hand it every connection they
accepted with nothing or part of a request read (ADOPT). Since accept(2)
on a listener with TCP_DEFER_ACCEPT returns only once bytes have come,
most connections never pass through the dispatcher; it watches the shared
listener itself only while no worker can accept (none is there, or each
has been on one request for OWN_AFTER) or requests wait in its queue, so
that a queue it bounds forms here, not unseen in the kernel's backlog
(watch_workers, every WATCH_INTERVAL). It asks a worker (SIGUSR2) for its
copy of a connection the worker accepted once a request on it has run
OWN_AFTER, and gets one when the worker keeps such a connection alive
(OWN), so that the worker's death or a request_timeout still gets a 502
or 504 there; a worker killed within OWN_AFTER of a request on a fresh
connection costs that client a reset instead.

For each connection it holds it reads the
request head and body itself, under deadlines, refusing malformed requests
(see qpd.server.protocol); then it hands the socket and the bytes read to an
idle worker (qpd.server.fdpass), keeping its own copy of the socket. A body
longer than preread_body_size is spooled to a temporary file whose
descriptor goes along, so a slow upload never ties up a worker (while the
spooled bodies in hand stay under max_spool_size; past that, the worker
reads the rest of a body itself). The worker answers and says KEEP (the
dispatcher waits for the next request on the connection), CLOSE, or HELD:
the worker keeps the connection and reads its next requests itself while
they come quickly and whole, giving it back (KEEP) when one does not, so
that a busy keep-alive connection costs the dispatcher nothing per request
(see qpd.server.worker). The dispatcher hands a request to the idle worker
that holds the fewest connections.

While every worker is busy, ready requests wait in a bounded queue; past the
bound or the queue wait the client gets 503 with Retry-After. A worker that
dies before it received its request gives the request to another worker;
one that dies while answering costs that request (502 when nothing was sent
yet); the connections it held idle wait in the dispatcher again. A worker busy past request_timeout is asked to dump its stack
(SIGUSR1, faulthandler) and killed (then 504).

SIGTERM or SIGINT: stop accepting (a shared listener is shut down, which
stops the workers' copies listening too), finish the requests in hand (up
to shutdown_timeout), exit.
"""

import collections
import os
import select
import signal
import socket
import sys
import time

from qpd.lib.process import log_line
from qpd.lib.ready import format_ready_line
from qpd.server import fdpass, protocol
from qpd.server.banned import Banned
from qpd.server.connection import (
    BODY, BUSY, HEAD, HELD, LINGER, QUEUED, SENDING, Client)
from qpd.server.control import ControlServer
from qpd.server.intake import CONTINUE, READY, REFUSE, STARTED, WAIT, Rules
from qpd.server.listeners import (
    DONTWAIT, Accepting, Listener, format_listeners, open_listener,
    set_connection_options, share_socket, take_activated)
from qpd.server.pool import Pool

__all__ = ['main', 'Dispatcher']

_EPOLLIN = select.EPOLLIN
_ARM = select.EPOLLIN | select.EPOLLONESHOT

SENDFILE_CHUNK = 1 << 20     # bytes per sendfile(2) call

LINGER_TIME = 2.0        # how long a refused client may keep sending
SWEEP_INTERVAL = 0.25    # timeouts are checked this often
WATCH_INTERVAL = 0.05    # workers that accept are looked at this often
_CONTINUE = b'HTTP/1.1 100 Continue\r\n\r\n'


def _now():
    return time.monotonic()


class Dispatcher:
    """(site:Site)
    The event loop; run() returns the exit status."""

    def __init__(self, site):
        self.site = site
        self.name = site.get_name()
        self.who = 'qpd dispatcher %s' % self.name
        limits = protocol.get_limits(site)
        self.limits = limits
        self.retry_after = [('Retry-After', str(int(limits['retry_after'])))]
        self.epoll = select.epoll()
        self.handlers = {}         # fd -> (callback, object)
        self.listeners = []
        self.numbered = []         # every listener opened, by its number
                                   # (kept when draining empties listeners)
        self.conns = {}            # fd -> Client
        self.pool = None           # Pool: the workers
        self.queue = collections.deque()
        self.next_id = 0
        self.now = _now()
        self.started_at = time.time()
        self.draining = False
        self.drain_deadline = 0.0
        self.stop_requested = False
        self.banned = Banned(site)
        self.rules = Rules(limits, site.get_var_directory(), self.banned,
                           self.who)
        self.stats = collections.Counter()
        self.accepting = Accepting(self.epoll, self.listeners, self.stats,
                                   self.log)
        self.control = None          # ControlServer
        self.wakeup = None

    # Setup -------------------------------------------------------------------

    def log(self, message):
        """(message:str) -> None: one line on stderr."""
        log_line(self.who, message)

    def open(self):
        """() -> None: open every socket; raise OSError when one fails."""
        self.site.ensure_var_directory()
        group = self.site.get('unix_socket_group')
        addresses = self.site.get_listening_addresses()
        activated = take_activated([key for key, _ in addresses])
        for key, address in addresses:
            if key in activated:
                # systemd's (qpd build --systemd): its unit set the mode.
                listener = Listener(key, activated[key])
                listener.activated = True
                self.log('%s from systemd: %s' % (
                    key, listener.format_address()))
            else:
                # A listener on a unix socket is the site user's alone
                # (0600), or its group's too (0660) with
                # unix_socket_group: whoever connects to SCGI speaks for
                # the client (HTTPS, REMOTE_ADDR).
                listener = Listener(key, open_listener(address, umask=0o177))
            if group is not None and listener.unix_path and \
                    not listener.activated:
                share_socket(listener.unix_path, group)
            set_connection_options(listener.sock, self.limits)
            listener.number = len(self.listeners)
            self.listeners.append(listener)
            self.numbered.append(listener)
            self.register(listener.fd, self.on_accept, listener)
        self.worker_path = self.site.get_dispatcher_socket()
        self.pool = Pool(self, open_listener(
            self.worker_path, socket.SOCK_SEQPACKET, umask=0o177))
        self.control_path = self.site.get_control_socket()
        self.control = ControlServer(open_listener(
            self.control_path, socket.SOCK_STREAM, umask=0o177, backlog=16),
            self.register, self.unregister, self.get_stats)
        self.wakeup, wakeup_write = socket.socketpair()
        self.wakeup.setblocking(False)
        wakeup_write.setblocking(False)
        self._wakeup_write = wakeup_write
        signal.set_wakeup_fd(wakeup_write.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.on_signal)
        signal.signal(signal.SIGHUP, self.on_signal)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.register(self.wakeup.fileno(), self.on_wakeup, None)
        self.banned.refresh(self.now, force=True)

    def register(self, fd, callback, obj, events=_EPOLLIN):
        self.handlers[fd] = (callback, obj)
        self.epoll.register(fd, events)

    def unregister(self, fd):
        self.handlers.pop(fd, None)
        try:
            self.epoll.unregister(fd)
        except (OSError, ValueError):
            pass

    def on_signal(self, signum, frame):
        if signum == signal.SIGHUP:
            self.banned.checked = None      # reread by the loop at once
        else:
            self.stop_requested = True

    def on_wakeup(self, obj, events):
        try:
            while self.wakeup.recv(512):
                pass
        except OSError:
            pass

    # The loop -------------------------------------------------------------------

    def run(self):
        """() -> int: serve until stopped; the exit status."""
        poll = self.epoll.poll
        handlers = self.handlers
        next_sweep = _now() + SWEEP_INTERVAL
        next_watch = 0.0
        while True:
            try:
                events = poll(WATCH_INTERVAL)
            except InterruptedError:
                events = ()
            self.now = now = _now()
            for fd, mask in events:
                entry = handlers.get(fd)
                if entry is not None:
                    entry[0](entry[1], mask)
            if self.stop_requested and not self.draining:
                self.begin_drain()
            if self.banned.checked is None:      # SIGHUP
                self.refresh_banned(now)
            if now >= next_watch:
                next_watch = now + WATCH_INTERVAL
                self.watch_workers(now)
            if now >= next_sweep:
                next_sweep = now + SWEEP_INTERVAL
                self.sweep(now)
                if self.draining and self.is_drained(now):
                    break
        self.close_all()
        return 0

    # Accepting --------------------------------------------------------------------

    def on_accept(self, listener, events, limit=64):
        """(listener, events, limit:int|None=64) -> None: accept up to
        limit connections (None: all that wait)."""
        count = 0
        while limit is None or count < limit:
            count += 1
            try:
                sock, peer = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.accepting.failed(e, self.now)
                return
            self.add_connection(listener, sock, peer)

    def watch_workers(self, now):
        """(now:float) -> None: every WATCH_INTERVAL: tell a worker (SIGUSR2)
        once a request has run OWN_AFTER, so that it sends its copy of that
        connection (OWN; then the worker's death or a request_timeout still
        gets a 502 or 504 there) and gives the dispatcher its other
        connections, which would wait behind it; hand queued requests to
        workers that went idle without a word (after a request on a
        connection they hold or accepted); and accept on the shared
        listeners here only while no worker can (none there, or each busy
        on one request past OWN_AFTER) or requests wait here, so that a
        queue forms here, with its bounds, and not unseen in the kernel's
        backlog."""
        stuck = self.pool.watch(now)
        if self.queue:
            self.pump()
        self.accepting.share(
            not self.draining and (stuck or bool(self.queue)))

    def new_id(self):
        """() -> int: an id for a connection here (OWN_ID clear)."""
        self.next_id = (self.next_id + 1) & (fdpass.OWN_ID - 1)
        return self.next_id

    def add_connection(self, listener, sock, peer, data=None):
        """(listener, sock, peer, data:bytes=None) -> None: a new
        connection; data, the bytes of it a worker read (ADOPT)."""
        if sock.family == socket.AF_UNIX:
            host, port = '', 0
        else:
            host, port = peer[0], peer[1]
        conn = Client(sock, self.new_id(), listener, (host, port),
                      self.rules)
        conn.deadline = self.now + self.limits['header_timeout']
        self.conns[conn.fd] = conn
        self.stats['connections'] += 1
        if host in self.banned and not listener.scgi:
            self.refuse(conn, 403, 'address banned')
        else:
            # The request has usually arrived with the connection: read it
            # now (a bodiless head goes on unparsed, for the worker to parse
            # once). The connection joins epoll only when it has to wait
            # (arm), so one answered and closed costs no epoll_ctl at all.
            # It is never handed over unread: a slow head or upload would
            # then pass through a worker.
            if not data:
                self.on_readable(conn, 0)
            else:
                self.advance(conn, data)

    def arm(self, conn):
        """(conn) -> None: wake on_readable once when conn has more to read."""
        try:
            if conn.polled:
                self.epoll.modify(conn.fd, _ARM)
            else:
                self.register(conn.fd, self.on_readable, conn, _ARM)
                conn.polled = True
        except OSError:
            self.close(conn)

    # Reading requests ----------------------------------------------------------------

    def on_readable(self, conn, events):
        try:
            data = conn.sock.recv(65536, DONTWAIT)
        except (BlockingIOError, InterruptedError):
            self.arm(conn)
            return
        except OSError:
            self.close(conn)
            return
        if not data:
            self.close(conn)
            return
        if conn.state == LINGER:
            self.arm(conn)
            return
        self.advance(conn, data)

    def advance(self, conn, data=b''):
        """(conn, data:bytes=b'') -> None: feed the bytes that came to
        conn's intake; hand over a complete request, or wait for more."""
        result = conn.intake.feed(data)
        if result == READY:
            self.ready(conn)
            return
        if result == REFUSE:
            error = conn.intake.error
            self.refuse(conn, error.get_status(), error.get_message())
            return
        if result == STARTED:
            conn.deadline = self.now + self.limits['header_timeout']
        elif result != WAIT:                # BODY, CONTINUE
            conn.state = BODY
            conn.deadline = self.now + self.limits['body_timeout']
            if result == CONTINUE:
                try:
                    conn.sock.send(_CONTINUE, DONTWAIT)
                except OSError:
                    self.close(conn)
                    return
        self.arm(conn)

    # Handing requests to workers ----------------------------------------------------------

    def ready(self, conn):
        """(conn) -> None: conn's intake holds a request to hand over."""
        conn.flags = conn.intake.flags | conn.listener.flags
        conn.deadline = 0.0
        worker = None if self.queue else self.pool.take_idle()
        if worker is not None:
            self.pool.handoff(worker, conn)
        elif len(self.queue) >= self.limits['queue_length']:
            self.stats['overflows'] += 1
            self.refuse(conn, 503, 'every worker is busy',
                        headers=self.retry_after)
        else:
            conn.state = QUEUED
            conn.queued_at = self.now
            self.queue.append(conn)
            self.pump()

    def pump(self):
        """() -> None: hand queued requests to idle workers."""
        while self.queue:
            worker = self.pool.take_idle()
            if worker is None:
                return
            conn = self.queue.popleft()
            # What `qpd metrics` shows as the queue wait (queued path only).
            self.stats['queued'] += 1
            self.stats['queue_wait'] += self.now - conn.queued_at
            self.pool.handoff(worker, conn)

    def send_file(self, conn, events):
        """(conn, events) -> None: send what conn.sending holds, as far as
        the client takes it now; wait for it to take more (EPOLLOUT) with
        a deadline of send_timeout from the last progress."""
        sending = conn.sending
        if sending is None:
            return
        progress = False
        try:
            while sending.head:
                sent = conn.sock.send(sending.head, DONTWAIT)
                sending.head = sending.head[sent:]
                progress = True
            while sending.length > 0:
                sent = os.sendfile(conn.fd, sending.fd, sending.offset,
                                   min(sending.length, SENDFILE_CHUNK))
                if not sent:
                    raise OSError('the file ended early')
                sending.offset += sent
                sending.length -= sent
                progress = True
        except (BlockingIOError, InterruptedError):
            if progress:
                conn.deadline = self.now + self.limits['send_timeout']
            self.handlers[conn.fd] = (self.send_file, conn)
            events = select.EPOLLOUT | select.EPOLLONESHOT
            try:
                if conn.polled:
                    self.epoll.modify(conn.fd, events)
                else:
                    self.epoll.register(conn.fd, events)
                    conn.polled = True
            except OSError:
                self.close(conn)
            return
        except OSError:
            self.close(conn)
            return
        self.end_sending(conn)

    def end_sending(self, conn):
        """(conn) -> None: the response is sent; keep the connection for
        the next request (blocking again, as workers use it) or close."""
        sending = conn.sending
        conn.sending = None
        os.close(sending.fd)
        if conn.polled:
            self.handlers[conn.fd] = (self.on_readable, conn)
        try:
            conn.sock.setblocking(True)
        except OSError:
            self.close(conn)
            return
        if sending.keep and not self.draining:
            self.wait_next(conn, sending.leftover)
        else:
            self.finish(conn)

    def wait_next(self, conn, leftover=b''):
        """(conn, leftover:bytes=b'') -> None: wait for the next request on
        a kept-alive connection (leftover: bytes read of it already). One
        a worker accepted (OWN) gets an id of the dispatcher's: its
        worker's id would be another worker's for one of its own (each
        worker counts from 1, and recycled workers start again)."""
        if conn.id & fdpass.OWN_ID:
            conn.id = self.new_id()
        conn.worker = None
        conn.state = HEAD
        if conn.intake.next_request(leftover):
            conn.deadline = self.now + self.limits['header_timeout']
            self.advance(conn)
        else:
            conn.deadline = self.now + self.limits['keepalive_timeout']
            self.arm(conn)

    # Workers ------------------------------------------------------------------------------

    def requeue(self, conn):
        """(conn) -> None: a request a worker never received waits first in
        the queue again."""
        conn.state = QUEUED
        conn.queued_at = self.now
        self.queue.appendleft(conn)

    def add_held(self, worker, sock, conn_id, listener, peer):
        """(worker, sock, conn_id:int, listener, peer) -> Client: the copy
        of a connection a worker accepted and holds (OWN)."""
        conn = Client(sock, conn_id, listener, peer, self.rules)
        conn.state = HELD
        conn.worker = worker
        self.conns[conn.fd] = conn
        return conn

    def start_sending(self, conn, sending):
        """(conn, sending:Sending) -> None: the worker answered conn's
        request but for a file body (at least handoff_size bytes, or the
        rest of a response a slow client did not take), passed here to
        send (SENDFILE): it is free at once, and a client that reads
        slowly, or not at all, costs a descriptor here instead of a
        worker."""
        conn.worker = None
        conn.state = SENDING
        conn.sending = sending
        conn.deadline = self.now + self.limits['send_timeout']
        self.stats['sendfiles'] += 1
        try:
            conn.sock.setblocking(False)
        except OSError:
            self.close(conn)
            return
        self.send_file(conn, 0)

    # Ending connections ----------------------------------------------------------------

    def refuse(self, conn, status, message='', headers=()):
        """(conn, status:int, message:str='', headers=()) -> None: answer
        with a short error and close, letting the client finish sending."""
        self.stats['refused'] += 1
        if conn.state == QUEUED:
            try:
                self.queue.remove(conn)
            except ValueError:
                pass
        data = protocol.format_error(status, message, conn.listener.scgi,
                                     headers)
        try:
            conn.sock.send(data, DONTWAIT)
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close(conn)
            return
        self.linger(conn)

    def linger(self, conn):
        conn.state = LINGER
        conn.intake.clear()
        conn.deadline = self.now + LINGER_TIME
        self.arm(conn)

    def finish(self, conn):
        """(conn) -> None: close after a worker's last response, lingering
        only when the client has sent more."""
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            data = conn.sock.recv(65536, DONTWAIT)
        except (BlockingIOError, InterruptedError):
            data = b''
        except OSError:
            data = b''
        if data:
            self.linger(conn)
        else:
            self.close(conn)

    def close(self, conn):
        conn.intake.drop_spool()
        if conn.sending is not None:
            os.close(conn.sending.fd)
            conn.sending = None
        if self.conns.pop(conn.fd, None) is None:
            return
        if conn.polled:
            self.unregister(conn.fd)
        conn.sock.close()
        conn.state = LINGER

    # Timeouts, stats, shutdown ---------------------------------------------------------

    def sweep(self, now):
        accepting = self.accepting
        if accepting.paused_until and now >= accepting.paused_until:
            accepting.resume()
        for conn in list(self.conns.values()):
            deadline = conn.deadline
            if deadline and now >= deadline:
                state = conn.state
                if state == LINGER or (state == HEAD and not conn.intake.started):
                    self.close(conn)
                elif state in (HEAD, BODY):
                    self.stats['timeouts'] += 1
                    self.refuse(conn, 408, 'request not received in time')
                elif state == SENDING:
                    # The client took nothing for send_timeout seconds.
                    self.stats['send_timeouts'] += 1
                    self.close(conn)
        queue = self.queue
        limit = now - self.limits['queue_timeout']
        while queue and queue[0].queued_at <= limit:
            self.stats['overflows'] += 1
            conn = queue.popleft()
            conn.state = BODY
            self.refuse(conn, 503, 'no worker was free in time',
                        headers=self.retry_after)
        for worker in self.pool.registered():
            self.pool.check_worker_time(worker, now)
        if self.control is not None:
            self.control.sweep(now)
        self.refresh_banned(now)

    def refresh_banned(self, now):
        """(now:float) -> None: reread the banned file when it is time (or
        after SIGHUP); when it changed, tell the workers (BANNED)."""
        if self.banned.refresh(now):
            self.pool.tell_all(fdpass.pack_banned())

    def begin_drain(self):
        self.draining = True
        self.drain_deadline = self.now + self.limits['shutdown_timeout']
        self.log('stopping: finishing %d requests in hand' % sum(
            1 for c in self.conns.values() if c.state in (BODY, QUEUED, BUSY)))
        for worker in self.pool.workers.values():
            # RELEASE: they give back what they hold, and stop accepting
            # from the shared listeners (an activated one is not shut
            # down below).
            self.pool.release(worker)
        for listener in self.listeners:
            self.unregister(listener.fd)
            if listener.activated:
                # systemd's too: left listening, its backlog kept for the
                # next dispatcher; only this copy closes.
                if listener.shared:
                    self.on_accept(listener, 0, limit=None)
                listener.sock.close()
                continue
            if listener.shared:
                # The clients waiting in the backlog are taken here first
                # (they are served); then shutting the listener down stops
                # the workers' copies listening too: new connections are
                # refused at once, and the workers' accept fails (EINVAL)
                # and drops them.
                self.on_accept(listener, 0, limit=None)
                try:
                    listener.sock.shutdown(socket.SHUT_RD)
                except OSError:
                    pass
            listener.sock.close()
            if listener.unix_path:
                _unlink(listener.unix_path)
        del self.listeners[:]
        for conn in list(self.conns.values()):
            if conn.state == HEAD and not conn.intake.started:
                self.close(conn)

    def is_drained(self, now):
        if now >= self.drain_deadline:
            left = sum(1 for c in self.conns.values() if c.state != LINGER)
            if left:
                self.log('stopping with %d requests unfinished' % left)
            return True
        for conn in list(self.conns.values()):
            if conn.state != LINGER and (conn.state != HEAD or conn.intake.started):
                return False
            if conn.state == HEAD:
                self.close(conn)
        return True

    def close_all(self):
        for conn in list(self.conns.values()):
            if conn.state == QUEUED:
                self.refuse(conn, 503, 'shutting down',
                            headers=self.retry_after)
            self.close(conn)
        if self.pool is not None:
            self.pool.close()
        if self.control is not None:
            self.control.close()
        for path in (self.worker_path, self.control_path):
            _unlink(path)
        signal.set_wakeup_fd(-1)
        self.epoll.close()
        self.log('stopped')

    def get_stats(self):
        """() -> dict: the pool's state and counters."""
        registered = self.pool.registered()
        busy = sum(1 for w in registered if w.is_busy())
        served = {w: w.get_state()[3] for w in registered}
        return {
            'site': self.name,
            'pid': os.getpid(),
            'uptime': round(time.time() - self.started_at, 1),
            'workers': len(registered),
            'busy': busy,
            'idle': len(registered) - busy,
            'queue': len(self.queue),
            'connections': len(self.conns),
            'served': self.stats['served_gone'] + sum(served.values()),
            'restarts': self.stats['restarts'],
            'recycles': self.stats['recycles'],
            'accepted': self.stats['connections'] + sum(
                w.counters.read_accepted() for w in registered
                if w.counters is not None),
            'refused': self.stats['refused'],
            'overflows': self.stats['overflows'],
            'timeouts': self.stats['timeouts'],
            'sending': sum(1 for c in self.conns.values()
                           if c.state == SENDING),
            'sendfiles': self.stats['sendfiles'],
            'send_timeouts': self.stats['send_timeouts'],
            'accept_failures': self.stats['accept_failures'],
            'failed': self.stats['failed'],
            'queued': self.stats['queued'],
            'queue_wait': round(self.stats['queue_wait'], 6),
            'draining': self.draining,
            'pool': [{'index': w.index, 'pid': w.pid, 'busy': w.is_busy(),
                      'served': served[w], 'held': len(w.held)}
                     for w in sorted(registered,
                                     key=lambda w: (w.index or 0, w.pid))],
        }

def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def main(site):
    """(site:Site) -> int: run the site's dispatcher until SIGTERM."""
    import setproctitle
    setproctitle.setproctitle('qpd dispatcher %s' % site.get_name())
    try:
        dispatcher = Dispatcher(site)
        dispatcher.open()
        from qpd.server.metrics import start_metrics_server
        metrics = start_metrics_server(site)     # metrics_address, if set
    except Exception as e:
        sys.stderr.write('qpd dispatcher %s: cannot start: %s\n' % (
            site.get_name(), e))
        return 1
    listeners = format_listeners(dispatcher.listeners)
    if metrics is not None:
        listeners += ' metrics=%s:%s' % metrics.server_address[:2]
    sys.stdout.write(format_ready_line(
        'dispatcher', site.get_name(), listeners) + '\n')
    sys.stdout.flush()
    return dispatcher.run()
