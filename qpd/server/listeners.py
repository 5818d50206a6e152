"""qpd.server.listeners: the sockets a site listens on, and accepting.

The dispatcher opens every listener (http_address, scgi_address,
as_https_address, its workers' and its control unix sockets) with
`open_listener`: non-blocking, close-on-exec, SO_REUSEADDR on TCP; a unix
socket path is first cleared of a stale socket file nobody listens on
(qpd.lib.process.remove_stale_socket, which the storage server uses too)
and bound under a umask, so a private socket is never readable by others
even for an instant. `share_socket` opens one to a group
(unix_socket_group).

`Listener` is a listening socket as the dispatcher sees it: which key it
serves, the environ keys it gives a request (SCGI, HTTPS, SERVER_NAME and
SERVER_PORT), and whether the workers accept from it too (plain HTTP over
TCP: fdpass SHARE). `Shared` is the same listener as a worker sees it,
numbered as the dispatcher numbered it.

`set_connection_options` sets, once on a listener, what Linux copies to
every socket it accepts: TCP_NODELAY, TCP_DEFER_ACCEPT (accept(2) returns
only once a request's first bytes have come), and the receive and send
timeouts that bound a worker's blocking reads and writes.

Under systemd socket activation (`qpd build NAME --systemd`), the
listeners are passed in: `take_activated` reads LISTEN_PID, LISTEN_FDS
and LISTEN_FDNAMES (descriptors from 3 on, each named for its key:
`http`, `scgi`, `as_https`, or the key itself; unnamed ones are matched
to the site's listening keys in order) and the dispatcher opens only the
keys nobody passed. A passed socket is systemd's too, so draining does
not shut it down or remove its path: connections that come meanwhile
wait in its backlog for the next dispatcher.

Accepting fails now and then for want of descriptors or memory
(OUT_OF_RESOURCES); retrying at once only spins, since the listener stays
readable, so both the dispatcher and a worker leave the listener alone for
ACCEPT_PAUSE seconds (clients wait in the kernel's backlog meanwhile).
"""

import errno
import os
import select
import socket
import struct
import time

from qpd.lib.process import remove_stale_socket
from qpd.lib.ready import format_address_text
from qpd.server import fdpass

__all__ = ['Listener', 'Accepting', 'Shared', 'SharedListeners',
           'open_listener', 'share_socket', 'take_activated', 'take_passed',
           'format_passed',
           'ActivationError', 'format_listeners', 'set_connection_options',
           'ACCEPT_PAUSE', 'OUT_OF_RESOURCES', 'DONTWAIT',
           'LISTEN_FDS_START', 'ACTIVATION_VARIABLES']

DONTWAIT = int(socket.MSG_DONTWAIT)
ACCEPT_PAUSE = 0.5       # accepting stops this long when out of descriptors
ACCEPT_LOG_INTERVAL = 10.0   # at most one "accept failed" line this often
# accept(2) failures that mean "no descriptor or memory now".
OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
LISTEN_FDS_START = 3     # systemd's first passed descriptor (SD_LISTEN_FDS_START)
ACTIVATION_VARIABLES = ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES')


class Listener:
    """(key:str, sock) A listening socket and what the environ says about
    it."""

    def __init__(self, key, sock):
        self.key = key
        self.sock = sock
        self.fd = sock.fileno()
        self.scgi = key == 'scgi_address'
        self.https = key == 'as_https_address'
        self.flags = ((fdpass.F_SCGI if self.scgi else 0)
                      | (fdpass.F_HTTPS if self.https else 0))
        name = sock.getsockname()
        if isinstance(name, tuple):
            self.address = name[:2]
        else:
            self.address = name if isinstance(name, str) else name.decode()
        self.server_info = fdpass.format_server_info(self.address)
        self.unix_path = self.address if sock.family == socket.AF_UNIX \
            else None
        # Workers accept from it too (fdpass SHARE): plain HTTP over TCP,
        # where TCP_DEFER_ACCEPT wakes them only once a request arrives.
        self.shared = key == 'http_address' and sock.family in (
            socket.AF_INET, socket.AF_INET6)
        self.number = 0          # its place in Dispatcher.listeners
        self.activated = False   # passed by systemd (take_activated)

    def format_address(self):
        """() -> str"""
        return format_address_text(self.address)


class Shared:
    """(sock, number:int, server_info:bytes)
    A listening socket the dispatcher shares (fdpass SHARE), as a worker
    holds it: its number there, and the environ keys it gives the
    connections accepted."""

    __slots__ = ('sock', 'fd', 'family', 'number', 'server_name',
                 'server_port', 'paused_until')

    def __init__(self, sock, number, server_info):
        self.sock = sock
        self.fd = sock.fileno()
        self.family = int(sock.family)   # for the sockets accepted
        self.number = number
        self.server_name, self.server_port = server_info.decode(
            'latin-1').split('\0')
        self.paused_until = 0.0


class Accepting:
    """(epoll, listeners:[Listener], stats:Counter, log)
    Which of the dispatcher's listeners its epoll watches: each one, but
    none for ACCEPT_PAUSE after accept(2) failed for want of descriptors
    or memory (clients wait in the kernel's backlog; the dispatcher's
    sweep resumes), instead of failing again at once, forever; and the
    shared ones only while `shared` (no worker can accept, or requests wait
    in the dispatcher). listeners is the dispatcher's own list; failures
    are counted in stats and logged at most once per ACCEPT_LOG_INTERVAL,
    with the count since."""

    def __init__(self, epoll, listeners, stats, log):
        self.epoll = epoll
        self.listeners = listeners
        self.stats = stats
        self.log = log
        self.paused_until = 0.0   # listeners unwatched until then
        self.log_at = 0.0         # next time a failure may be logged
        self.failures = 0         # failures not logged yet
        self.shared = True        # shared listeners watched

    def failed(self, error, now):
        """(error:OSError, now:float) -> None: note a failed accept."""
        self.stats['accept_failures'] += 1
        self.failures += 1
        paused = error.errno in OUT_OF_RESOURCES
        if paused:
            if not self.paused_until:
                for listener in self.listeners:
                    try:
                        self.epoll.modify(listener.fd, 0)
                    except OSError:
                        pass
                self.stats['accept_pauses'] += 1
            self.paused_until = now + ACCEPT_PAUSE
        if now >= self.log_at:
            self.log('accept failed: %s%s (%d failures since the last report)'
                     % (error, '; accepting paused' if paused else '',
                        self.failures))
            self.failures = 0
            self.log_at = now + ACCEPT_LOG_INTERVAL

    def resume(self):
        """() -> None: watch the listeners again after a pause."""
        self.paused_until = 0.0
        for listener in self.listeners:
            if listener.shared and not self.shared:
                continue
            try:
                self.epoll.modify(listener.fd, select.EPOLLIN)
            except OSError:
                pass

    def share(self, accepting):
        """(accepting:bool) -> None: watch the shared listeners (accept
        from them in the dispatcher) or leave them to the workers."""
        if accepting == self.shared:
            return
        self.shared = accepting
        if self.paused_until:
            return              # resume looks at shared
        for listener in self.listeners:
            if listener.shared:
                try:
                    self.epoll.modify(listener.fd,
                                      select.EPOLLIN if accepting else 0)
                except OSError:
                    pass


class SharedListeners:
    """(epoll, log)
    The listeners a worker accepts from (Shared, by descriptor in
    `by_fd`), polled with its epoll; `paused`, those left alone for
    ACCEPT_PAUSE after accept(2) failed for want of descriptors or memory
    (the dispatcher accepts meanwhile). log(message) reports a failure."""

    def __init__(self, epoll, log):
        self.epoll = epoll
        self.log = log
        self.by_fd = {}
        self.paused = []

    def add(self, shared):
        """(shared:Shared) -> None: accept from it too."""
        self.by_fd[shared.fd] = shared
        self.watch(shared)

    def watch(self, shared):
        """(shared:Shared) -> None: poll it (level-triggered, every idle
        worker woken: with EPOLLEXCLUSIVE a wake-up can go to a worker
        that is about to be busy or to exit, and the connection then waits
        in the backlog while another worker sits idle)."""
        try:
            self.epoll.register(shared.fd, select.EPOLLIN)
        except OSError as e:
            self.log('cannot watch a shared listener (%s)' % e)
            self.drop(shared)

    def accept(self, shared):
        """(shared:Shared) -> (socket, peer) | None: a connection accepted
        from shared, blocking, of the listener's family (socket.accept()
        without its per-call family and type lookups, each an IntEnum);
        None when there was none (another worker took it), when accept(2)
        failed for want of descriptors or memory (shared is then paused:
        the dispatcher accepts meanwhile) or when the dispatcher stopped
        listening (EINVAL, it drains: shared is dropped)."""
        try:
            fd, peer = shared.sock._accept()
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as e:
            if e.errno in OUT_OF_RESOURCES:
                self.log('accept failed: %s; pausing' % e)
                self.pause(shared, time.monotonic())
            else:
                self.drop(shared)
            return None
        return socket.socket(shared.family, socket.SOCK_STREAM, 0, fd), peer

    def pause(self, shared, now):
        """(shared:Shared, now:float) -> None: leave it alone for
        ACCEPT_PAUSE."""
        self.epoll.unregister(shared.fd)
        shared.paused_until = now + ACCEPT_PAUSE
        self.paused.append(shared)

    def resume(self, now):
        """(now:float) -> None: poll again those paused long enough."""
        for shared in list(self.paused):
            if now >= shared.paused_until:
                self.paused.remove(shared)
                self.watch(shared)

    def drop(self, shared):
        """(shared:Shared) -> None: stop accepting from it; close this copy."""
        if self.by_fd.pop(shared.fd, None) is not None:
            if shared in self.paused:
                self.paused.remove(shared)
            else:
                try:
                    self.epoll.unregister(shared.fd)
                except (OSError, ValueError):
                    pass
            shared.sock.close()

    def drop_all(self):
        """() -> None: drop every one."""
        for shared in list(self.by_fd.values()):
            self.drop(shared)


def open_listener(address, kind=socket.SOCK_STREAM, umask=None, backlog=1024):
    """(address:(host, port)|str, kind=SOCK_STREAM, umask:int=None, backlog:int=1024) -> socket
    A non-blocking, close-on-exec listening socket on a TCP address or a
    unix socket path (created under umask when given)."""
    if isinstance(address, tuple):
        host, port = address
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host or None, port, socket.AF_UNSPEC, kind, 0,
            socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
        except BaseException:
            sock.close()
            raise
    else:
        remove_stale_socket(address)
        sock = socket.socket(socket.AF_UNIX, kind)
        old = os.umask(umask) if umask is not None else None
        try:
            sock.bind(address)
        except BaseException:
            sock.close()
            raise
        finally:
            if old is not None:
                os.umask(old)
    sock.listen(backlog)
    sock.setblocking(False)
    return sock


class ActivationError(ValueError):
    """A socket systemd passed fits none of the site's listeners."""


def take_passed(environ=None):
    """(environ:dict=None) -> [(fd:int, name:str)]: the descriptors
    systemd passed this process and their names ('' unnamed); [] when
    LISTEN_PID names another process or is unset. The variables are
    removed from environ (os.environ), so that no child takes them for
    its own."""
    environ = os.environ if environ is None else environ
    values = {name: environ.pop(name, None) for name in ACTIVATION_VARIABLES}
    try:
        pid = int(values['LISTEN_PID'] or 0)
        count = int(values['LISTEN_FDS'] or 0)
    except ValueError:
        return []
    if pid != os.getpid() or count <= 0:
        return []
    names = (values['LISTEN_FDNAMES'] or '').split(':')
    return [(LISTEN_FDS_START + i, names[i] if i < len(names) else '')
            for i in range(count)]


def format_passed(passed, pid):
    """([(fd, name)], pid:int) -> {variable: value}: the environment
    that passes them on to process pid (whose descriptors they are from
    LISTEN_FDS_START on, in order)."""
    return {'LISTEN_PID': str(pid), 'LISTEN_FDS': str(len(passed)),
            'LISTEN_FDNAMES': ':'.join(name or 'unknown'
                                       for _, name in passed)}


def take_activated(keys, environ=None):
    """(keys:[str], environ:dict=None) -> {key: socket}
    The listening sockets systemd passed this process (take_passed) for
    the listening keys (http_address, ...), non-blocking and
    close-on-exec; {} when it passed none. ActivationError names a socket
    no key fits."""
    found = {}
    for i, (fd, name) in enumerate(take_passed(environ)):
        if name in ('', 'unknown'):
            key = keys[i] if i < len(keys) else None
        else:
            key = name if name.endswith('_address') else name + '_address'
        if key not in keys or key in found:
            raise ActivationError(
                'systemd passed a socket (descriptor %d) named %r, which '
                'is no listener of the site or one passed twice; name each '
                'socket (FileDescriptorName=) after one of %s' % (
                    fd, name or 'unknown', ', '.join(
                        k.replace('_address', '') for k in keys)))
        os.set_inheritable(fd, False)
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        found[key] = sock
    return found


def share_socket(path, group):
    """(path:str, group:str | int) -> None: let group (a name or a gid)
    connect to the unix socket at path: its group, and mode 0660."""
    import grp
    gid = group if isinstance(group, int) else grp.getgrnam(group).gr_gid
    os.chown(path, -1, gid)
    os.chmod(path, 0o660)


def format_listeners(listeners):
    """(listeners:[Listener]) -> str: 'http=HOST:PORT scgi=…' for the
    READY line."""
    return ' '.join('%s=%s' % (l.key.replace('_address', ''),
                               l.format_address()) for l in listeners)


def set_connection_options(sock, limits):
    """(sock, limits:dict) -> None: options for the connections a listener
    accepts, set once on the listener: Linux copies them to each accepted
    socket. The timeouts (body_timeout, send_timeout) bound a worker's
    blocking reads and writes; TCP_DEFER_ACCEPT (header_timeout) wakes the
    dispatcher only once a request's first bytes have arrived."""
    if sock.family != socket.AF_UNIX:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        defer = getattr(socket, 'TCP_DEFER_ACCEPT', None)
        if defer is not None:
            sock.setsockopt(socket.IPPROTO_TCP, defer,
                            max(1, int(limits['header_timeout'])))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO,
                    _timeval(limits['body_timeout']))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO,
                    _timeval(limits['send_timeout']))


def _timeval(seconds):
    """(seconds:float) -> bytes: a struct timeval."""
    whole = int(seconds)
    return struct.pack('ll', whole, int((seconds - whole) * 1e6))
