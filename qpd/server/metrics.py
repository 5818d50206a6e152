"""qpd.server.metrics: a site's metrics in the Prometheus text format.

    qpd metrics NAME           ->  print(get_metrics_text(site))
    metrics_address=('127.0.0.1', 9100)  ->  the dispatcher serves the same
                                             text on GET /metrics

The text is the sum of two sources, gathered when asked:

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
  of the text is still there).

The HTTP listener is prometheus-client's own small server
(start_http_server), run in a daemon thread of the dispatcher process; it asks the dispatcher's control
socket like any client, so it never touches the event loop's state.
`metrics_address` must be a loopback address (qpd.config refuses
others): put a proxy in front to expose it.
"""

from qpd.metrics import get_metrics_directory
from qpd.server.control import get_stats

__all__ = ['get_metrics_text', 'make_registry', 'start_metrics_server',
           'DispatcherCollector']

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


def make_registry(site):
    """(site:Site) -> CollectorRegistry: the site's whole metrics."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=get_metrics_directory(site))
    registry.register(DispatcherCollector(site))
    return registry


def get_metrics_text(site):
    """(site:Site) -> str: the Prometheus text exposition."""
    from prometheus_client import generate_latest
    return generate_latest(make_registry(site)).decode('utf-8')


def start_metrics_server(site):
    """(site:Site) -> server | None: serve the metrics on the site's
    metrics_address (a daemon thread); None when the key is off."""
    address = site.get('metrics_address')
    if address is None:
        return None
    from prometheus_client import start_http_server
    host, port = address
    server, _thread = start_http_server(port, addr=host,
                                        registry=make_registry(site))
    return server
