"""qpd.server.metrics: a site's metrics in the Prometheus text format.

    qpd metrics NAME           ->  print(get_metrics_text(site))
    metrics_address=('127.0.0.1', 9100)  ->  the dispatcher serves the same
                                             text on GET /metrics

The text is the sum of these sources, gathered when asked:

- what the workers and the StorageServer recorded in the site's metrics
  directory (qpd.metrics: requests by method and status class, request
  durations, conflict retries, storage reconnects, commits and syncs),
  added up by prometheus-client's MultiProcessCollector;
- the dispatcher's pool, asked over its control socket
  (qpd.server.control): workers, busy, idle, queue length, served,
  worker restarts, connections accepted, refusals, queue overflows,
  timeouts, failures, and the queue wait (`qpd_queue_wait_seconds`, a
  summary: how many requests waited for a worker and their total wait).
  `qpd_dispatcher_up` is 0 when the dispatcher does not answer (the rest
  of the text is still there);
- on `durus_storage = 'postgresql'`, its database as a new client sees it
  (qpd.storage.pg_status): `qpd_postgresql_up`, `qpd_postgresql_primary`,
  `qpd_postgresql_round_trip_seconds`,
  `qpd_postgresql_standbys_streaming`, and per standby
  `qpd_postgresql_replication_lag_seconds` and `..._lag_bytes`.

The HTTP listener (`MetricsServer`) is one daemon thread of the
dispatcher process; it asks the dispatcher's control socket like any
client, so it never touches the event loop's state. It is bounded, so
that idle connections cost nothing but a descriptor each, and not many
of those (prometheus-client's own server started a thread per
connection, with no timeout: 200 idle connections, 202 threads): one
thread and a selector serve at most MAX_CONNECTIONS connections at a
time, each gets READ_TIMEOUT seconds to send a head of at most
MAX_HEAD bytes, then one answer, then it is closed (HTTP/1.0, no
keep-alive). A connection beyond the cap makes room by closing the one
that has waited longest, so a scrape is answered even while idle
connections pile up. `GET /metrics` (and `/`) answers the text; other
paths 404, other methods 405. `metrics_address` must be a loopback
address (qpd.config refuses others): put a proxy in front to expose it.
"""

import selectors
import threading
import time

from qpd.lib.process import start_thread
from qpd.metrics import get_metrics_directory
from qpd.server.control import get_stats

__all__ = ['get_metrics_text', 'make_registry', 'start_metrics_server',
           'DispatcherCollector', 'PostgresCollector']

# (stats key, metric name, type, help)
_POOL = (
    ('workers', 'qpd_workers', 'gauge', 'workers registered with the '
     'dispatcher'),
    ('busy', 'qpd_workers_busy', 'gauge', 'workers serving a request'),
    ('idle', 'qpd_workers_idle', 'gauge', 'workers waiting for a request'),
    ('queue', 'qpd_queue_length', 'gauge', 'requests waiting for a worker'),
    ('connections', 'qpd_connections_open', 'gauge',
     'client connections the dispatcher holds'),
    ('served', 'qpd_dispatcher_served', 'counter',
     'requests the workers reported done'),
    ('restarts', 'qpd_worker_restarts', 'counter',
     'workers that registered again after one with the same index'),
    ('accepted', 'qpd_connections_accepted', 'counter',
     'client connections accepted'),
    ('refused', 'qpd_dispatcher_refused', 'counter',
     'requests the dispatcher answered itself with an error'),
    ('overflows', 'qpd_queue_overflows', 'counter',
     'requests refused (503) because the queue was full or too slow'),
    ('timeouts', 'qpd_worker_timeouts', 'counter',
     'requests whose worker ran past request_timeout'),
    ('failed', 'qpd_worker_failures', 'counter',
     'requests lost with a worker that died'),
)


class DispatcherCollector:
    """(site:Site)
    A prometheus-client collector of the dispatcher's pool stats."""

    def __init__(self, site):
        self.site = site

    def collect(self):
        from prometheus_client.core import (CounterMetricFamily,
                                            GaugeMetricFamily,
                                            SummaryMetricFamily)
        try:
            stats = get_stats(self.site)
        except (OSError, ValueError):
            stats = None
        yield GaugeMetricFamily('qpd_dispatcher_up', 'does the dispatcher '
                                'answer on its control socket',
                                value=0 if stats is None else 1)
        if stats is None:
            return
        for key, name, kind, doc in _POOL:
            if key not in stats:
                continue
            family = (GaugeMetricFamily if kind == 'gauge'
                      else CounterMetricFamily)
            yield family(name, doc, value=stats[key])
        yield SummaryMetricFamily(
            'qpd_queue_wait_seconds', 'time requests waited in the queue '
            'for a free worker', count_value=stats.get('queued', 0),
            sum_value=stats.get('queue_wait', 0.0))


class PostgresCollector:
    """(site:Site)
    A prometheus-client collector of the site's PostgreSQL database as a
    new client sees it (qpd.storage.pg_status): up, primary, round trip,
    streaming standbys, and each standby's replay lag (seconds and
    bytes)."""

    def __init__(self, site):
        self.site = site

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        from qpd.storage.pg_status import get_database_state
        state = get_database_state(self.site.get('durus_dsn'))
        yield GaugeMetricFamily(
            'qpd_postgresql_up', "does the site's PostgreSQL database "
            'answer on durus_dsn', value=1 if state['reachable'] else 0)
        if not state['reachable']:
            return
        yield GaugeMetricFamily(
            'qpd_postgresql_primary', 'is the server durus_dsn reaches a '
            'primary (not in recovery)',
            value=1 if state['role'] == 'primary' else 0)
        yield GaugeMetricFamily(
            'qpd_postgresql_round_trip_seconds', 'one SELECT 1 on a new '
            'connection', value=state['round_trip'])
        standbys = state['standbys']
        yield GaugeMetricFamily(
            'qpd_postgresql_standbys_streaming', 'standbys streaming from '
            'the primary (pg_stat_replication)',
            value=sum(1 for s in standbys if s['state'] == 'streaming'))
        seconds = GaugeMetricFamily(
            'qpd_postgresql_replication_lag_seconds', "a standby's replay "
            'lag (pg_stat_replication.replay_lag; 0 when idle)',
            labels=['standby', 'sync_state'])
        behind = GaugeMetricFamily(
            'qpd_postgresql_replication_lag_bytes', 'WAL bytes a standby '
            'has not replayed yet', labels=['standby', 'sync_state'])
        for standby in standbys:
            if standby['lag_bytes'] is None:
                continue
            labels = [standby['name'] or '', standby['sync_state'] or '']
            seconds.add_metric(labels, standby['replay_lag'] or 0.0)
            behind.add_metric(labels, standby['lag_bytes'])
        yield seconds
        yield behind


def make_registry(site):
    """(site:Site) -> CollectorRegistry: the site's whole metrics."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=get_metrics_directory(site))
    registry.register(DispatcherCollector(site))
    if site.get('durus_storage') == 'postgresql':
        registry.register(PostgresCollector(site))
    return registry


def get_metrics_text(site):
    """(site:Site) -> str: the Prometheus text exposition."""
    from prometheus_client import generate_latest
    return generate_latest(make_registry(site)).decode('utf-8')


MAX_CONNECTIONS = 16        # connections open at once
READ_TIMEOUT = 5.0          # seconds a connection has to send its head
MAX_HEAD = 8192             # bytes of a request head


class MetricsServer:
    """(sock:socket, registry:CollectorRegistry)
    The metrics listener on a listening socket (see the module's
    docstring): serve_forever() in one thread, shutdown() from another.
    server_address is where it listens."""

    def __init__(self, sock, registry):
        self.socket = sock
        self.registry = registry
        self.server_address = sock.getsockname()
        self.selector = selectors.DefaultSelector()
        self.connections = {}       # socket -> [deadline, bytearray]
        self.stopping = False
        sock.setblocking(False)
        self.selector.register(sock, selectors.EVENT_READ)

    def serve_forever(self):
        """() -> None: serve until shutdown()."""
        while not self.stopping:
            for key, _ in self.selector.select(timeout=0.5):
                if key.fileobj is self.socket:
                    self._accept()
                else:
                    self._read(key.fileobj)
            now = time.monotonic()
            for conn, (deadline, _) in list(self.connections.items()):
                if deadline < now:
                    self._close(conn)
        for conn in list(self.connections):
            self._close(conn)
        self.selector.close()
        self.socket.close()

    def shutdown(self):
        """() -> None: stop serve_forever (within half a second)."""
        self.stopping = True

    def _accept(self):
        try:
            conn, _ = self.socket.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        except OSError:
            return      # out of descriptors: the next select tries again
        if len(self.connections) >= MAX_CONNECTIONS:
            oldest = min(self.connections,
                         key=lambda c: self.connections[c][0])
            self._close(oldest)
        conn.setblocking(False)
        self.connections[conn] = [time.monotonic() + READ_TIMEOUT,
                                  bytearray()]
        self.selector.register(conn, selectors.EVENT_READ)

    def _close(self, conn):
        self.connections.pop(conn, None)
        try:
            self.selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    def _read(self, conn):
        state = self.connections.get(conn)
        if state is None:
            return
        try:
            data = conn.recv(MAX_HEAD)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b''
        if not data:
            self._close(conn)
            return
        head = state[1]
        head += data
        end = head.find(b'\r\n\r\n')
        if end < 0:
            end = head.find(b'\n\n')
        if end < 0:
            if len(head) > MAX_HEAD:
                self._answer(conn, 431, 'Request Header Fields Too Large')
            return
        self._answer(conn, *self._respond(bytes(head[:end])))

    def _respond(self, head):
        """(head:bytes) -> (status:int, reason:str, body:bytes=b'')"""
        parts = head.split(b'\n', 1)[0].split()
        if len(parts) < 2:
            return 400, 'Bad Request'
        method, target = parts[0], parts[1].split(b'?', 1)[0]
        if method not in (b'GET', b'HEAD'):
            return 405, 'Method Not Allowed'
        if target not in (b'/', b'/metrics'):
            return 404, 'Not Found'
        from prometheus_client import generate_latest
        body = generate_latest(self.registry)
        return 200, 'OK', b'' if method == b'HEAD' else body, len(body)

    def _answer(self, conn, status, reason, body=b'', length=None):
        from prometheus_client import CONTENT_TYPE_LATEST
        if length is None:
            body = ('%d %s\n' % (status, reason)).encode('ascii')
            length = len(body)
        head = ('HTTP/1.0 %d %s\r\nContent-Type: %s\r\n'
                'Content-Length: %d\r\nConnection: close\r\n\r\n' % (
                    status, reason, CONTENT_TYPE_LATEST if status == 200
                    else 'text/plain; charset=utf-8', length))
        try:
            # A small answer: the socket's buffer takes it whole, or a
            # client that does not read gets a second before it is cut.
            conn.settimeout(1.0)
            conn.sendall(head.encode('ascii') + body)
        except OSError:
            pass
        self._close(conn)


def start_metrics_server(site):
    """(site:Site) -> MetricsServer | None: serve the metrics on the
    site's metrics_address (a daemon thread); None when the key is off."""
    address = site.get('metrics_address')
    if address is None:
        return None
    from qpd.server.listeners import open_listener
    server = MetricsServer(open_listener(tuple(address), backlog=64),
                           make_registry(site))
    start_thread(threading.Thread(target=server.serve_forever,
                                  name='qpd metrics', daemon=True))
    return server
