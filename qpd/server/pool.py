"""qpd.server.pool: the dispatcher's side of its workers.

Each worker process connects to the dispatcher's unix socket (SEQPACKET)
and is a `WorkerLink` here: its pid and index (HELLO), its counters (the
shared page where it says which connection it is reading or answering,
fdpass.Counters), the request handed to it (`conn`) and the connections it
holds (`held`). The `Pool` owns the links: it picks the idle worker a
request goes to (take_idle), hands the request over (handoff), reads and
routes the workers' messages (take_message, by a kind -> handle_X table
that also checks who may send it and how many descriptors it carries),
notices a worker's death (drop_worker: the request it never received goes
to another worker; the one it was answering costs a 502, or 504 after a
request_timeout; the connections it held idle wait in the dispatcher
again) and kills one busy past request_timeout (check_worker_time).
A worker that reached its max_requests or max_worker_memory asks to
leave (LEAVE); the pool lets one go at a time (GO, let_next_go), in the
order they asked, the next once a worker of the index let go says HELLO
again (or LEAVE_WAIT passed), so that two never leave together.

What happens to a client connection (wait for its next request, finish,
refuse, queue, send a passed file) is the dispatcher's: the pool calls it
back (`self.d`).

A new message from the workers: its pack_/unpack_ pair in fdpass, a
handle_X method here, and its entry in `handlers`.
"""

import errno
import os
import signal
import socket

from qpd.server import fdpass
from qpd.server.connection import HELD, BUSY, Sending
from qpd.server.listeners import DONTWAIT

__all__ = ['Pool', 'WorkerLink']

KILL_GRACE = 1.0         # between the stack dump and the kill
LEAVE_WAIT = 30.0        # a worker let go and not back by then: let the
                         # next one go all the same
_ANY = 1 << 30           # no bound on the descriptors a message carries


class WorkerLink:
    """The dispatcher's end of one worker process's unix socket."""

    __slots__ = ('sock', 'fd', 'pid', 'index', 'counters', 'dispatched',
                 'conn', 'since', 'kill_at', 'timed_out', 'registered',
                 'served', 'held', 'asked', 'gone')

    def __init__(self, sock):
        self.sock = sock
        self.fd = sock.fileno()
        self.pid = None
        self.index = None
        self.counters = None
        self.dispatched = 0
        self.conn = None
        self.since = 0.0
        self.kill_at = 0.0
        self.timed_out = False
        self.registered = False
        self.served = 0
        self.held = {}           # conn id -> Client the worker holds
        self.asked = None        # (conn id, since) its copy was asked for
        self.gone = False        # dropped (drop_worker)

    def get_state(self):
        """() -> (conn_id:int, phase:int, since:float, served:int): what
        the worker says it is doing (fdpass.Counters)."""
        if self.counters is None:
            return 0, fdpass.IDLE, 0.0, self.served
        return self.counters.read_state()

    def is_busy(self):
        """() -> bool: has a request been handed to it, or is it reading
        or answering one?"""
        return self.conn is not None or (
            self.counters is not None
            and self.get_state()[1] != fdpass.IDLE)


class Pool:
    """(dispatcher:Dispatcher, sock)
    The dispatcher's workers, connecting on sock (the listening unix
    socket); see the module's docstring."""

    def __init__(self, dispatcher, sock):
        self.d = dispatcher
        self.sock = sock
        self.log = dispatcher.log
        self.workers = {}          # fd -> WorkerLink
        self.idle = []             # idle WorkerLinks, most recently used last
        self.seen_indexes = set()
        self.leaving = None        # (index, since): let go, not back yet
        self.waiting = []          # WorkerLinks that asked LEAVE, in order
        self.buffer = bytearray(fdpass.MAX_MESSAGE)
        # message kind (its byte) -> (handler, registered: True, False or
        # None for either, fewest fds, most fds)
        many = _ANY
        self.handlers = {
            fdpass.KEEP[0]: (self.handle_done, None, 0, many),
            fdpass.CLOSE[0]: (self.handle_done, None, 0, many),
            fdpass.HELD[0]: (self.handle_held, None, 0, many),
            fdpass.SENDFILE[0]: (self.handle_sendfile, True, 1, many),
            fdpass.HELLO[0]: (self.handle_hello, False, 1, many),
            fdpass.ADOPT[0]: (self.handle_adopt, True, 1, 1),
            fdpass.OWN[0]: (self.handle_own, True, 1, 1),
            fdpass.LEAVE[0]: (self.handle_leave, True, 0, 0),
        }
        dispatcher.register(sock.fileno(), self.on_worker_accept, None)

    def registered(self):
        """() -> [WorkerLink]: the workers that said HELLO."""
        return [w for w in self.workers.values() if w.registered]

    def watch(self, now):
        """(now:float) -> bool: tell a worker (SIGUSR2) once a request has
        run OWN_AFTER, so that it sends its copy of that connection (OWN)
        and gives back the others, which would wait behind it; can no
        worker accept (none there, or each busy on one request past
        OWN_AFTER)?"""
        if self.leaving is not None and self.waiting:
            self.let_next_go()          # after LEAVE_WAIT
        stuck = 0
        registered = 0
        for worker in self.workers.values():
            if not worker.registered:
                continue
            registered += 1
            current, phase, since, _ = worker.get_state()
            if phase == fdpass.IDLE:
                if worker.conn is not None and now - worker.since >= \
                        fdpass.OWN_AFTER:
                    stuck += 1
                continue
            if now - since < fdpass.OWN_AFTER:
                continue
            stuck += 1
            if worker.asked != (current, since):
                worker.asked = (current, since)
                self.signal_worker(worker, signal.SIGUSR2)
        return stuck == registered

    def tell_all(self, message):
        """(message:bytes) -> None: send every registered worker message
        (BANNED), as far as it takes it now."""
        for worker in self.workers.values():
            if worker.registered:
                try:
                    fdpass.send_message(worker.sock, message, (), DONTWAIT)
                except OSError:
                    pass

    def close(self):
        """() -> None: close every link and the listening socket."""
        for worker in list(self.workers.values()):
            self.d.unregister(worker.fd)
            worker.sock.close()
        self.sock.close()

    def take_idle(self):
        """() -> WorkerLink | None: a worker that was handed nothing, one
        whose counters say idle before one answering a connection it holds
        or accepted, fewest held connections first (the most recently used
        among equals); never one busy on a request past OWN_AFTER (a
        request handed to it would wait behind a slow one: it waits here)."""
        idle = self.idle
        best = None
        best_key = None
        limit = self.d.now - fdpass.OWN_AFTER
        for i in range(len(idle) - 1, -1, -1):
            worker = idle[i]
            _, phase, since, _ = worker.get_state()
            busy = phase != fdpass.IDLE
            if busy and since <= limit:
                continue
            key = (busy, len(worker.held))
            if best_key is None or key < best_key:
                best, best_key = i, key
        return None if best is None else idle.pop(best)

    def handoff(self, worker, conn):
        flags = conn.flags
        if self.d.draining:
            flags |= fdpass.F_CLOSE
        intake = conn.intake
        if intake.buf:
            flags |= fdpass.F_MORE
        message = fdpass.pack_request(
            flags, conn.family, conn.id, conn.peer,
            conn.listener.server_info, intake.head, intake.body)
        try:
            fds = (conn.fd,) if intake.spool is None else (
                conn.fd, intake.spool.fileno())
            fdpass.send_message(worker.sock, message, fds, DONTWAIT)
        except OSError as e:
            self.log('worker %s pid=%s unreachable (%s); dropped' % (
                worker.index, worker.pid, e))
            self.d.requeue(conn)
            self.drop_worker(worker)
            return
        conn.state = BUSY
        conn.worker = worker
        worker.conn = conn
        worker.since = self.d.now
        worker.dispatched += 1

    def on_worker_message(self, worker, events):
        received = self.receive_message(worker)
        if received is None:
            return
        n, fds = received
        if n == 0:
            self.drop_worker(worker)
        elif not self.take_message(worker, n, fds):
            self.log('worker %s pid=%s sent a bad message; dropped' % (
                worker.index, worker.pid))
            self.drop_worker(worker)

    def receive_message(self, worker):
        """(worker) -> (n:int, fds) | None: the worker's next message (n
        0: it is gone); None when there is none now."""
        try:
            # Always with room for descriptors: a SENDFILE carries a file.
            return fdpass.recv_message_into(
                worker.sock, self.buffer, DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return None
        except fdpass.TruncatedMessage:
            # Its descriptor did not fit here: the connection it carried
            # (ADOPT, OWN) is lost, as an accept(2) at the open-file limit
            # would lose it; the worker is fine.
            self.d.accepting.failed(OSError(
                errno.EMFILE, 'Too many open files (a connection a worker '
                'passed was lost)'), self.d.now)
            return None
        except OSError:
            return 0, ()

    def take_message(self, worker, n, fds):
        """(worker, n:int, fds) -> bool: act on the message in
        self.buffer (handlers, by kind); False (its descriptors closed)
        when it is bad: of no kind known, from a worker not registered
        yet (or already), or carrying too few or too many descriptors."""
        entry = self.handlers.get(self.buffer[0])
        if entry is not None:
            handler, registered, fewest, most = entry
            if ((registered is None or registered == worker.registered)
                    and fewest <= len(fds) <= most):
                handler(worker, n, fds)
                return True
        for fd in fds:
            os.close(fd)
        return False

    # The workers' messages, by kind: handle_X(worker, n, fds), called by
    # take_message when the sender and the descriptors carried fit the
    # entry in handlers (a new kind: a handler and an entry).

    def handle_hello(self, worker, n, fds):
        """HELLO (its Counters): a worker is ready."""
        index, pid = fdpass.unpack_hello(self.buffer)
        for fd in fds[1:]:
            os.close(fd)
        try:
            worker.counters = fdpass.Counters(fds[0])
        finally:
            os.close(fds[0])
            if worker.counters is not None:
                worker.counters.fd = None
        try:
            worker.pid = fdpass.peer_pid(worker.sock)
        except OSError:
            worker.pid = pid
        worker.index = index
        worker.registered = True
        if index in self.seen_indexes:
            self.d.stats['restarts'] += 1
        if self.leaving is not None and self.leaving[0] == index:
            self.leaving = None
            self.let_next_go()
        self.seen_indexes.add(index)
        self.log('worker %s pid=%s ready' % (index, worker.pid))
        self.idle.append(worker)
        if not self.d.draining:
            self.share_listeners(worker)
            # It accepts from now on: the shared listeners are its, unless
            # requests wait here (watch_workers decides from then on).
            self.d.accepting.share(bool(self.d.queue))
        self.d.pump()

    def share_listeners(self, worker):
        """(worker) -> None: SHARE the shared listeners with a worker."""
        for listener in self.d.listeners:
            if listener.shared:
                try:
                    fdpass.send_message(worker.sock, fdpass.pack_share(
                        listener.number, listener.server_info),
                        (listener.fd,), DONTWAIT)
                except OSError as e:
                    self.log('cannot share %s with worker %s: %s' % (
                        listener.format_address(), worker.index, e))

    def _shared_connection(self, number, fd):
        """(number:int, fd:int) -> (Listener, sock, peer) | None: a
        connection a worker accepted from the listener SHAREd as number
        (None, the descriptor closed, when the listener is gone or the
        client is)."""
        sock = socket.socket(fileno=fd)
        if number < len(self.d.numbered) and self.d.numbered[number].shared:
            try:
                return self.d.numbered[number], sock, sock.getpeername()
            except OSError:
                pass
        sock.close()
        return None

    def handle_adopt(self, worker, n, fds):
        """ADOPT (a connection): a connection the worker
        accepted but could not serve at once (ADOPT): take it as if
        accepted here, with the bytes the worker read of it."""
        number, data = fdpass.unpack_adopt(self.buffer, n)
        found = self._shared_connection(number, fds[0])
        if found is not None:
            self.d.stats['adopted'] += 1
            self.d.stats['connections'] -= 1      # the worker counted it
            self.d.add_connection(*found, data=data)

    def handle_own(self, worker, n, fds):
        """OWN (a connection): a copy of a connection the worker
        accepted and is answering or keeping alive (OWN): kept as held by
        the worker, for its death (502) or its KEEP or CLOSE."""
        conn_id, number = fdpass.unpack_own(self.buffer)
        found = self._shared_connection(number, fds[0])
        if found is None:
            return
        listener, sock, peer = found
        conn = self.d.add_held(worker, sock, conn_id, listener, peer[:2])
        worker.held[conn_id] = conn
        if self.d.draining:
            self.release(worker)

    def handle_leave(self, worker, n, fds):
        """LEAVE: the worker would leave to be replaced (max_requests,
        max_worker_memory): it waits its turn (let_next_go)."""
        if worker not in self.waiting:
            self.waiting.append(worker)
        self.let_next_go()

    def let_next_go(self):
        """() -> None: when no worker let go is still away (or it has
        been away LEAVE_WAIT), let the first that asked go (GO)."""
        if self.leaving is not None:
            if self.d.now - self.leaving[1] < LEAVE_WAIT:
                return
            self.leaving = None
        while self.waiting and not self.d.draining:
            worker = self.waiting.pop(0)
            if worker.gone:
                continue
            try:
                fdpass.send_message(worker.sock, fdpass.pack_go(), (),
                                    DONTWAIT)
            except OSError:
                continue
            self.leaving = (worker.index, self.d.now)
            self.d.stats['recycles'] += 1
            return

    def handle_sendfile(self, worker, n, fds):
        """SENDFILE (a file): the worker answered its request
        but for a file body (at least handoff_size bytes), which it passed
        here to send: it is free at once, and a client that reads slowly,
        or not at all, costs a descriptor here instead of a worker."""
        keep, conn_id, offset, length, head, leftover = \
            fdpass.unpack_sendfile(self.buffer, n)
        for fd in fds[1:]:
            os.close(fd)
        conn = self.end_request(worker, conn_id)
        if conn is None:
            os.close(fds[0])
            self.log('worker %s pid=%s passed a response for no request' % (
                worker.index, worker.pid))
            self.d.pump()
            return
        self.d.start_sending(conn, Sending(
            fds[0], head, offset, length, keep and not self.d.draining,
            leftover))
        self.d.pump()

    def end_request(self, worker, conn_id):
        """(worker, conn_id:int) -> Client | None: the connection a worker
        says it is done with (KEEP, CLOSE, SENDFILE): the one handed to it
        (which makes the worker idle again) or one it held."""
        conn = worker.conn
        if conn is not None and conn.id == conn_id:
            self.finish_handoff(worker, conn)
            return conn
        return worker.held.pop(conn_id, None)

    def finish_handoff(self, worker, conn):
        """(worker, conn) -> None: the worker is done with the request it
        was handed on conn; it is idle again."""
        worker.conn = None
        # Kept until now, in case a worker died before receiving it.
        conn.intake.drop_spool()
        worker.served += 1
        self.d.stats['served'] += 1
        if not worker.gone:
            self.idle.append(worker)

    def handle_held(self, worker, n, fds):
        """HELD: the worker answered the request it was handed and keeps
        the connection for the next ones."""
        conn_id = fdpass.unpack_held(self.buffer)
        conn = worker.conn
        if conn_id in worker.held:
            return              # one it accepted itself (OWN)
        if conn is None or conn.id != conn_id:
            self.log('worker %s pid=%s holds a connection it was not handed'
                     % (worker.index, worker.pid))
            return
        self.finish_handoff(worker, conn)
        conn.state = HELD
        worker.held[conn_id] = conn
        if self.d.draining:
            self.release(worker)
        self.d.pump()

    def handle_done(self, worker, n, fds):
        """KEEP or CLOSE: the worker is done with a connection; wait for
        its next request here, or close it."""
        keep, conn_id, leftover = fdpass.unpack_done(self.buffer, n)
        conn = self.end_request(worker, conn_id)
        if conn is None:
            self.log('worker %s pid=%s finished no request' % (
                worker.index, worker.pid))
            self.d.pump()
            return
        if keep and not self.d.draining:
            self.d.wait_next(conn, leftover)
        else:
            conn.worker = None
            self.d.finish(conn)
        self.d.pump()

    def release(self, worker):
        """(worker) -> None: ask the worker to give back what it holds."""
        try:
            fdpass.send_message(worker.sock, fdpass.pack_release(), (),
                                DONTWAIT)
        except OSError:
            pass

    def on_worker_accept(self, obj, events):
        """A worker connects: its link, until it says HELLO."""
        for _ in range(16):
            try:
                sock, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.log('worker accept failed: %s' % e)
                return
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                                fdpass.MAX_MESSAGE * 2)
            except OSError:
                pass
            worker = WorkerLink(sock)
            self.workers[worker.fd] = worker
            self.d.register(worker.fd, self.on_worker_message, worker)

    def drop_worker(self, worker):
        """(worker) -> None: forget a worker that died or misbehaved. A
        request it never received goes to another worker; the one it was
        reading or answering costs that request (502 when nothing was sent
        yet); the connections it held idle wait here for their next
        request."""
        if self.workers.pop(worker.fd, None) is None:
            return
        self.d.unregister(worker.fd)
        worker.gone = True
        if worker in self.idle:
            self.idle.remove(worker)
        if worker in self.waiting:
            self.waiting.remove(worker)
        # What it sent before it went: an ADOPT or OWN carries a
        # connection that only it had, and closing the socket unread would
        # close that connection too.
        while worker.registered:
            received = self.receive_message(worker)
            if received is None or received[0] == 0:
                break
            self.take_message(worker, *received)
        worker.sock.close()
        conn = worker.conn
        worker.conn = None
        held = list(worker.held.values())
        worker.held = {}
        current, phase, _, served = worker.get_state()
        self.d.stats['served_gone'] += served
        if worker.counters is not None:
            self.d.stats['connections'] += worker.counters.read_accepted()
        if worker.registered:
            self.log('worker %s pid=%s gone%s' % (
                worker.index, worker.pid,
                ' while serving a request' if conn or phase else ''))
        if conn is not None:
            received, _ = worker.counters.read() if worker.counters \
                else (worker.dispatched, worker.dispatched)
            if received < worker.dispatched:
                conn.worker = None
                self.d.requeue(conn)
            else:
                held.append(conn)
        for conn in held:
            conn.worker = None
            if phase != fdpass.IDLE and conn.id == current:
                self.d.stats['failed'] += 1
                if phase == fdpass.ANSWERING:
                    self.d.close(conn)
                elif worker.timed_out:
                    self.d.refuse(conn, 504, 'the request took too long')
                else:
                    self.d.refuse(conn, 502, 'the worker died')
            else:
                conn.intake.drop_spool()
                self.d.wait_next(conn)
        if worker.counters is not None:
            worker.counters.close()
        self.d.pump()

    def check_worker_time(self, worker, now):
        """(worker, now:float) -> None: dump and kill a worker busy on one
        request past request_timeout."""
        current, phase, since, _ = worker.get_state()
        if phase == fdpass.IDLE:
            if worker.conn is None:
                if not worker.timed_out:
                    worker.kill_at = 0.0
                return
            since = worker.since
        if now - since < self.d.limits['request_timeout']:
            if not worker.timed_out:
                worker.kill_at = 0.0
            return
        if not worker.kill_at:
            conn = worker.conn
            if conn is None or conn.id != current or not conn.intake.head:
                what = b'a request it read itself'
            elif conn.listener.scgi:
                what = b'an SCGI request'
            else:
                what = conn.intake.head.split(b'\r\n', 1)[0][:200]
            self.log('worker %s pid=%s busy %.0fs on %s: dumping its stack '
                     'and killing it' % (worker.index, worker.pid,
                                         now - since,
                                         what.decode('latin-1')))
            worker.kill_at = now + KILL_GRACE
            self.signal_worker(worker, signal.SIGUSR1)
        elif now >= worker.kill_at and not worker.timed_out:
            worker.timed_out = True
            self.signal_worker(worker, signal.SIGKILL)

    def signal_worker(self, worker, signum):
        if worker.pid:
            try:
                os.kill(worker.pid, signum)
            except OSError as e:
                self.log('cannot signal worker pid=%s: %s' % (worker.pid, e))
