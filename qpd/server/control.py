"""qpd.server.control: ask a site's dispatcher for its pool's stats.

The dispatcher answers one command per connection on its control socket
(site.get_control_socket(), mode 0600): the client sends `stats` and a
newline and reads one line of JSON:

    {"workers": 2, "busy": 1, "idle": 1, "queue": 0, "served": 1234,
     "restarts": 0, "connections": 17, "pool": [...], ...}
"""

import json
import socket

__all__ = ['get_stats', 'format_stats']


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
