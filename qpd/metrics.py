"""qpd.metrics: what a site's processes count, for `qpd metrics NAME`.

Each of a site's processes (workers, the StorageServer) records into
prometheus-client metrics kept in the site's metrics directory
(`var/metrics`) in prometheus-client's multiprocess mode: every process
writes its own memory-mapped files there, and `qpd metrics` (or the
`metrics_address` listener) adds them up with its MultiProcessCollector.
Nothing is sent anywhere and no process waits for another: a counter
increment is a write into a mapped page (a few microseconds).

A worker answers thousands of requests a second, and those microseconds
were a tenth of its time per request: `observe_request` only adds to plain
Python counts, and `flush` moves them into the mapped files. The worker
flushes when it is about to wait for work and at least once a second
(FLUSH_INTERVAL) while it is busy, so `qpd metrics` lags the truth by at
most that second; a worker killed with SIGKILL loses at most its last
second of counts.

Names (all prefixed `qpd_`; the dispatcher's pool figures are added at
collection time by qpd.server.metrics, from its control socket):

- `qpd_requests_total{method, status}`: requests a worker answered, by
  method (GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, else OTHER) and
  status class (2xx, 3xx, 4xx, 5xx, 1xx).
- `qpd_request_duration_seconds`: histogram of the time from a worker
  receiving a request to having sent its response.
- `qpd_conflict_retries_total`, `qpd_storage_reconnects_total`: hits the
  publishers reran after a Durus conflict, and reconnections to the
  StorageServer.
- `qpd_storage_commits_total`, `qpd_storage_syncs_total`: transactions the
  StorageServer committed, and the fdatasyncs that made them durable (one
  sync covers every commit written while it waited).
- `qpd_worker_recycles_total{reason}`: workers that left on their own to
  be replaced by fresh ones, by reason (`max_requests`,
  `max_worker_memory`).

Counters and histograms of processes that have exited stay in the sums,
so totals survive worker restarts, but not in files of their own: each
process that opens a recorder first folds the files of the processes that
are gone (`fold_exited`: their values added into `counter_totals.db`,
`histogram_totals.db`, under a lock, then the files removed), so the
directory holds one set of files per live process and the totals, however
many workers came and went. `qpd serve` starts from an empty directory.

The multiprocess mode is chosen when prometheus-client creates a metric,
from the PROMETHEUS_MULTIPROC_DIR environment variable: `Recorder` sets
it and makes prometheus-client pick its value class again, so it works
whatever was imported first.
"""

import fcntl
import os
import re
import shutil
from bisect import bisect_left

from qpd.lib.process import is_alive

__all__ = ['Recorder', 'open_recorder', 'get_metrics_directory',
           'clear_metrics_directory', 'fold_exited', 'DURATION_BUCKETS',
           'METHODS', 'FLUSH_INTERVAL', 'TOTALS']

DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                    0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, float('inf'))
METHODS = frozenset(('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH',
                     'OPTIONS'))
_STATUS_CLASSES = {1: '1xx', 2: '2xx', 3: '3xx', 4: '4xx', 5: '5xx'}
FLUSH_INTERVAL = 1.0   # seconds a busy worker keeps its counts unwritten
TOTALS = 'totals'      # counter_totals.db: what exited processes counted
_FOLD_LOCK = 'fold.lock'
# A process's own file, by prometheus-client's naming: TYPE_PID.db (the
# types whose values add up; qpd records no gauges).
_PROCESS_FILE = re.compile(r'(counter|histogram|summary)_(\d+)\.db')
_ASIDE = '.folding'    # a file being folded (out of the collector's sight)


def get_metrics_directory(site):
    """(site:Site) -> str: the site's metrics directory (created, 0700)."""
    path = os.path.join(site.get_var_directory(), 'metrics')
    if not os.path.isdir(path):
        site.ensure_var_directory()
        os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def clear_metrics_directory(site):
    """(site:Site) -> None: forget every figure (before a fresh start)."""
    path = os.path.join(site.get_var_directory(), 'metrics')
    shutil.rmtree(path, ignore_errors=True)
    get_metrics_directory(site)


def fold_exited(directory):
    """(directory:str) -> int: add the values in the files of processes
    that are gone into the totals file of their type and remove them; how
    many files went. One folder at a time (an flock on fold.lock), so
    nothing is added twice; the files are renamed out of the collector's
    sight (*.db) before their values are added, so a reader never counts
    a value in both places. A file left aside by a folder that died
    half-way is removed (its values may be in the totals already)."""
    from prometheus_client.mmap_dict import MmapedDict
    lock = os.open(os.path.join(directory, _FOLD_LOCK),
                   os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    folded = 0
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        totals = {}
        for name in sorted(os.listdir(directory)):
            if name.endswith(_ASIDE):
                os.unlink(os.path.join(directory, name))
                continue
            match = _PROCESS_FILE.fullmatch(name)
            if match is None or is_alive(int(match.group(2))):
                continue
            path = os.path.join(directory, name)
            aside = path[:-len('.db')] + _ASIDE
            os.rename(path, aside)
            kind = match.group(1)
            total = totals.get(kind)
            if total is None:
                total = totals[kind] = MmapedDict(os.path.join(
                    directory, '%s_%s.db' % (kind, TOTALS)))
            for key, value, timestamp, _ in \
                    MmapedDict.read_all_values_from_file(aside):
                if value:
                    total.write_value(
                        key, total.read_value(key)[0] + value, timestamp)
            os.unlink(aside)
            folded += 1
        for total in totals.values():
            total.close()
    finally:
        os.close(lock)
    return folded


class Recorder:
    """(directory:str)
    This process's metrics, written to directory (multiprocess mode)."""

    def __init__(self, directory):
        fold_exited(directory)
        os.environ['PROMETHEUS_MULTIPROC_DIR'] = directory
        from prometheus_client import values
        values.ValueClass = values.get_value_class()
        from prometheus_client import Counter, Histogram
        self.directory = directory
        self.requests = Counter(
            'qpd_requests', 'requests answered by the workers, by method '
            'and status class', ['method', 'status'], registry=None)
        self.duration = Histogram(
            'qpd_request_duration_seconds', 'time a worker took to answer '
            'a request, from receiving it to sending the last byte',
            buckets=DURATION_BUCKETS, registry=None)
        self.retries = Counter(
            'qpd_conflict_retries', 'hits rerun after a Durus conflict',
            registry=None)
        self.reconnects = Counter(
            'qpd_storage_reconnects', 'reconnections of workers to the '
            'StorageServer', registry=None)
        self.commits = Counter(
            'qpd_storage_commits', 'transactions the StorageServer '
            'committed', registry=None)
        self.syncs = Counter(
            'qpd_storage_syncs', 'fdatasyncs of the database file by the '
            'StorageServer', registry=None)
        self.recycles = Counter(
            'qpd_worker_recycles', 'workers that left to be replaced by '
            'fresh ones, by reason (max_requests, max_worker_memory)',
            ['reason'], registry=None)
        self.children = {}
        self.seen_retries = 0
        self.seen_reconnects = 0
        self.counts = {}                  # (method, status class) -> n
        self.bounds = DURATION_BUCKETS
        self.bucket_counts = [0] * len(DURATION_BUCKETS)
        self.duration_sum = 0.0
        self.pending = False

    def observe_request(self, method, status, seconds):
        """(method:str, status:int, seconds:float) -> None: count a
        request in this process (flush writes it out)."""
        key = (method, status // 100)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        self.duration_sum += seconds
        # the first bucket whose bound is at least seconds
        self.bucket_counts[bisect_left(self.bounds, seconds)] += 1
        self.pending = True

    def flush(self):
        """() -> None: write the counts observed since the last flush into
        the metrics files."""
        if not self.pending:
            return
        self.pending = False
        counts, self.counts = self.counts, {}
        for (method, status_class), count in counts.items():
            if method not in METHODS:
                method = 'OTHER'
            key = (method, status_class)
            child = self.children.get(key)
            if child is None:
                child = self.children[key] = self.requests.labels(
                    method, _STATUS_CLASSES.get(status_class, 'other'))
            child.inc(count)
        # Histogram.observe adds one to one bucket and the sum; these are
        # the same values, added to once per flush (prometheus-client keeps
        # a histogram's buckets uncumulated in its files).
        buckets = self.duration._buckets
        for index, count in enumerate(self.bucket_counts):
            if count:
                buckets[index].inc(count)
                self.bucket_counts[index] = 0
        self.duration._sum.inc(self.duration_sum)
        self.duration_sum = 0.0

    def note_publisher(self, publisher):
        """(publisher) -> None: add the retries and reconnections the
        publisher counted since the last call."""
        retries = publisher.get_retry_count()
        if retries != self.seen_retries:
            self.retries.inc(max(0, retries - self.seen_retries))
            self.seen_retries = retries
        reconnects = publisher.get_reconnect_count()
        if reconnects != self.seen_reconnects:
            self.reconnects.inc(max(0, reconnects - self.seen_reconnects))
            self.seen_reconnects = reconnects

    def add_recycle(self, reason):
        """(reason:str) -> None: this worker leaves to be replaced."""
        self.recycles.labels(reason).inc()

    def add_commit(self):
        """() -> None: the StorageServer committed a transaction."""
        self.commits.inc()

    def add_sync(self):
        """() -> None: the StorageServer synced the file."""
        self.syncs.inc()


def open_recorder(site):
    """(site:Site) -> Recorder | None: this process's recorder for site;
    None (after one line on stderr) when the directory cannot be made."""
    try:
        return Recorder(get_metrics_directory(site))
    except (OSError, ImportError) as e:
        import sys
        sys.stderr.write('qpd: metrics off for site %s: %s\n' % (
            site.get_name(), e))
        return None
