"""qpd.web.control: ask a site's dispatcher for its pool's stats.

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


def format_stats(stats):
    """(stats:dict) -> str: one line for `qpd status`."""
    return ('workers %(workers)s (busy %(busy)s, idle %(idle)s), queue '
            '%(queue)s, served %(served)s, restarts %(restarts)s, '
            'connections %(connections)s' % stats)
