"""Metric files of exited processes are folded into the totals: across
1,000 worker restarts (real processes, forked, each recording through
qpd.metrics.Recorder into real files) the metrics directory keeps one set
of files per live process plus the totals, and the sums lose nothing."""

import os

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from qpd.metrics import Recorder, fold_exited

POOL = 4
RESTARTS = 1000


def _worker(directory, requests):
    """Fork a process that records `requests` requests and a retry-less
    recycle, then exits; its pid."""
    pid = os.fork()
    if pid == 0:
        try:
            recorder = Recorder(directory)
            for _ in range(requests):
                recorder.observe_request('GET', 200, 0.002)
            recorder.flush()
            recorder.add_recycle('max_requests')
        finally:
            os._exit(0)
    return pid


def _sums(directory):
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)
    text = generate_latest(registry).decode()
    values = {}
    for line in text.splitlines():
        if line.startswith(('qpd_requests_total{', 'qpd_worker_recycles_total',
                            'qpd_request_duration_seconds_count')):
            name, value = line.rsplit(' ', 1)
            values[name] = float(value)
    return values


def test_a_thousand_restarts_keep_the_directory_bounded(tmp_path):
    directory = str(tmp_path)
    most = 0
    pool = []
    for n in range(RESTARTS):
        pool.append(_worker(directory, 3))
        if n % POOL == POOL - 1 or n == RESTARTS - 1:
            # a pool's worth of them exits before the next ones start; only
            # our own are waited for (not -1: a process another test left
            # running would keep this one waiting)
            for pid in pool:
                os.waitpid(pid, 0)
            pool = []
        most = max(most, len(os.listdir(directory)))
    # per process: a counter and a histogram file; then the totals and the
    # lock
    assert most <= 2 * POOL + 3 + 2 * POOL
    fold_exited(directory)
    assert sorted(os.listdir(directory)) == [
        'counter_totals.db', 'fold.lock', 'histogram_totals.db']
    sums = _sums(directory)
    assert sums['qpd_requests_total{method="GET",status="2xx"}'] == \
        3 * RESTARTS
    assert sums['qpd_request_duration_seconds_count'] == 3 * RESTARTS
    assert sums['qpd_worker_recycles_total{reason="max_requests"}'] == \
        RESTARTS


def test_live_files_stay(tmp_path):
    directory = str(tmp_path)
    # One pipe each way: a child reading the pipe it wrote to could take
    # its own byte back, and both would wait for ever.
    ready_r, ready_w = os.pipe()     # child -> parent: its files are made
    hold_r, hold_w = os.pipe()       # parent -> child: stay alive
    pid = os.fork()
    if pid == 0:
        try:
            recorder = Recorder(directory)
            recorder.observe_request('GET', 200, 0.001)
            recorder.flush()
            os.write(ready_w, b'x')
            os.read(hold_r, 1)       # until killed
        finally:
            os._exit(0)
    try:
        assert os.read(ready_r, 1) == b'x'
        before = sorted(os.listdir(directory))
        assert fold_exited(directory) == 0
        assert sorted(os.listdir(directory)) == before
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, hold_r, hold_w):
            os.close(fd)
    assert fold_exited(directory) == 2
    assert _sums(directory)[
        'qpd_requests_total{method="GET",status="2xx"}'] == 1


def test_a_file_left_aside_is_removed(tmp_path):
    directory = str(tmp_path)
    with open(os.path.join(directory, 'counter_12345.folding'), 'wb'):
        pass
    fold_exited(directory)
    assert sorted(os.listdir(directory)) == ['fold.lock']
