"""qpd.server.control: a site's dispatcher's control socket, both ends.

The dispatcher answers one command per connection on its control socket
(site.get_control_socket(), mode 0600): the client sends `stats` and a
newline and reads one line of JSON:

    {"workers": 2, "busy": 1, "idle": 1, "queue": 0, "served": 1234,
     "restarts": 0, "connections": 17, "pool": [...], ...}

`get_stats` is the client (`qpd status`, `qpd metrics`, the tests);
`ControlServer` is the dispatcher's side, driven by the dispatcher's
epoll loop: it never blocks the loop for long (a client has CLIENT_TIME to
send its command, and its answer goes out within a second or not at all).
"""

import json
import socket
import time

__all__ = ['get_stats', 'format_stats', 'ControlServer']

CLIENT_TIME = 5.0       # a control client has this long to send a command
_DONTWAIT = int(socket.MSG_DONTWAIT)


def get_stats(site, timeout=2.0):
    """(site:Site, timeout:float=2.0) -> dict
    The dispatcher's stats; OSError when it does not answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(site.get_control_socket())
        sock.sendall(b'stats\n')
        data = b''
        while not data.endswith(b'\n'):
            more = sock.recv(65536)
            if not more:
                break
            data += more
    if not data:
        raise OSError('the dispatcher of %s closed the control socket'
                      % site.get_name())
    return json.loads(data)


_SHOWN = ('workers', 'busy', 'idle', 'queue', 'connections', 'served',
          'restarts', 'refused', 'overflows', 'timeouts', 'failed')


def format_stats(stats):
    """(stats:dict) -> str: one line for `qpd status`, such as
    'workers 2, busy 0, idle 2, queue 0, ...'"""
    parts = ['%s %s' % (key, stats[key]) for key in _SHOWN if key in stats]
    if stats.get('draining'):
        parts.append('draining')
    return ', '.join(parts)


class _ControlClient:
    __slots__ = ('sock', 'fd', 'buf', 'deadline')

    def __init__(self, sock, deadline):
        self.sock = sock
        self.fd = sock.fileno()
        self.buf = b''
        self.deadline = deadline


class ControlServer:
    """(sock, register, unregister, get_stats)
    The dispatcher's end of the control socket: sock is the listening
    socket; register(fd, callback, obj) and unregister(fd) are the
    dispatcher's epoll's; get_stats() -> dict is what `stats` answers."""

    def __init__(self, sock, register, unregister, get_stats):
        self.sock = sock
        self.register = register
        self.unregister = unregister
        self.get_stats = get_stats
        self.clients = {}      # fd -> _ControlClient
        register(sock.fileno(), self.on_accept, None)

    def on_accept(self, obj, events):
        try:
            sock, _ = self.sock.accept()
        except OSError:
            return
        client = _ControlClient(sock, time.monotonic() + CLIENT_TIME)
        self.clients[client.fd] = client
        self.register(client.fd, self.on_readable, client)

    def on_readable(self, client, events):
        try:
            data = client.sock.recv(1024, _DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b''
        client.buf += data
        if data and b'\n' not in client.buf and len(client.buf) < 1024:
            return
        command = client.buf.strip().decode('latin-1', 'replace')
        if command in ('stats', ''):
            reply = json.dumps(self.get_stats(), sort_keys=True)
        else:
            reply = json.dumps({'error': 'unknown command %r' % command})
        try:
            client.sock.settimeout(1.0)
            client.sock.sendall(reply.encode() + b'\n')
        except OSError:
            pass
        self.close_client(client)

    def sweep(self, now):
        """(now:float) -> None: drop the clients past their time."""
        for client in list(self.clients.values()):
            if now >= client.deadline:
                self.close_client(client)

    def close_client(self, client):
        self.clients.pop(client.fd, None)
        self.unregister(client.fd)
        client.sock.close()

    def close(self):
        """() -> None: stop listening."""
        self.sock.close()
