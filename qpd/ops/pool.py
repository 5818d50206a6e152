"""The dispatcher's pool stats, asked over the site's control socket.

The dispatcher answers the line `stats` with one line of JSON: the number
of workers, how many are busy or idle, the queue, and its counters (see
qpd.web.dispatcher.Dispatcher.get_stats).
"""

import json
import socket

__all__ = ['get_stats', 'format_stats']


def get_stats(site, timeout=2.0):
    """(site:Site, timeout:float=2.0) -> dict | None: the pool's stats, or
    None when the dispatcher does not answer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(site.get_control_socket())
        sock.sendall(b'stats\n')
        data = b''
        while not data.endswith(b'\n'):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        stats = json.loads(data.decode('utf-8'))
    except (OSError, ValueError):
        return None
    finally:
        sock.close()
    if not isinstance(stats, dict) or 'error' in stats:
        return None
    return stats


_SHOWN = ('workers', 'busy', 'idle', 'queue', 'connections', 'served',
          'restarts', 'refused', 'overflows', 'timeouts', 'failed')


def format_stats(stats):
    """(stats:dict) -> str: one line, such as 'workers 2, busy 0, ...'"""
    parts = ['%s %s' % (key, stats[key]) for key in _SHOWN if key in stats]
    if stats.get('draining'):
        parts.append('draining')
    return ', '.join(parts)
