"""Metrics: `qpd metrics NAME` and the metrics_address listener give the
Prometheus text format, and the counters move as requests are made."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import SLASH, Cluster, make_home

pytestmark = pytest.mark.timeout(120)

BUMP = SLASH.replace("'pid']", "'pid', 'bump']").replace(
    'from qpd.web.common import get_request, get_response',
    'from qpd.web.common import get_request, get_response, get_publisher'
) + '''
    def bump(self):
        root = get_publisher().get_root()
        root['n'] = root.get('n', 0) + 1
        get_response().set_content_type('text/plain')
        return str(root['n'])
'''


def samples(text):
    """(text:str) -> {(name, frozenset(labels)): value}"""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = \
                sample.value
    return found


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0)


def qpd_metrics(home):
    result = subprocess.run(
        [sys.executable, '-m', 'qpd', '--home', home, 'metrics', 'hello'],
        capture_output=True, text=True, timeout=60, check=True)
    return result.stdout


def test_metrics_parse_and_move(tmp_path):
    home = make_home(tmp_path, slash=BUMP % {'configuration': {
        'http_address': ('127.0.0.1', 0), 'scgi_address': None,
        'as_https_address': None, 'metrics_address': ('127.0.0.1', 0)}})
    with Cluster(home) as cluster:
        cluster.start_durus()
        dispatcher = cluster.start('dispatcher', 'dispatcher', 'hello')
        ready = dispatcher.wait_ready('dispatcher')[0][3]
        cluster._set_addresses(ready)
        metrics_port = int(ready['metrics'].rpartition(':')[2])
        for i in range(2):
            cluster.start_worker(i)
        assert cluster.get('/')[0] == 200
        before = samples(qpd_metrics(home))
        assert value(before, 'qpd_dispatcher_up') == 1
        assert value(before, 'qpd_workers') == 2
        for _ in range(3):
            assert cluster.get('/')[0] == 200
        assert cluster.get('/nowhere')[0] == 404
        assert cluster.get('/bump')[0] == 200
        after = samples(qpd_metrics(home))
        ok = dict(method='GET', status='2xx')
        assert value(after, 'qpd_requests_total', **ok) == \
            value(before, 'qpd_requests_total', **ok) + 4
        assert value(after, 'qpd_requests_total', method='GET',
                     status='4xx') == 1
        assert value(after, 'qpd_request_duration_seconds_count') == \
            value(before, 'qpd_request_duration_seconds_count') + 5
        assert value(after, 'qpd_request_duration_seconds_bucket',
                     le='+Inf') == value(
                         after, 'qpd_request_duration_seconds_count')
        assert value(after, 'qpd_dispatcher_served_total') >= 6
        assert value(after, 'qpd_storage_commits_total') >= \
            value(before, 'qpd_storage_commits_total') + 1
        assert value(after, 'qpd_storage_syncs_total') >= 1
        for name in ('qpd_workers_busy', 'qpd_workers_idle',
                     'qpd_queue_length', 'qpd_worker_restarts_total',
                     'qpd_queue_wait_seconds_count',
                     'qpd_conflict_retries_total',
                     'qpd_storage_reconnects_total'):
            assert any(key[0] == name for key in after), name
        # The same text over HTTP, on the loopback metrics_address.
        with urllib.request.urlopen('http://127.0.0.1:%d/metrics'
                                    % metrics_port, timeout=10) as r:
            served = samples(r.read().decode())
        assert value(served, 'qpd_requests_total', **ok) >= \
            value(after, 'qpd_requests_total', **ok)


def test_metrics_address_must_be_loopback(tmp_path):
    home = make_home(tmp_path, configuration={
        'metrics_address': ('0.0.0.0', 9100)})
    result = subprocess.run(
        [sys.executable, '-m', 'qpd', '--home', home, 'metrics', 'hello'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert 'metrics_address' in result.stderr and 'loopback' in \
        result.stderr


def _threads(pid):
    return len(os.listdir('/proc/%d/task' % pid))


def test_idle_connections_cost_no_threads(tmp_path):
    # Issue 27 #11: 200 idle connections to the metrics listener made 202
    # threads in the dispatcher; a scrape is still answered meanwhile.
    home = make_home(tmp_path, configuration={
        'http_address': ('127.0.0.1', 0), 'scgi_address': None,
        'as_https_address': None, 'metrics_address': ('127.0.0.1', 0)})
    with Cluster(home) as cluster:
        cluster.start_durus()
        dispatcher = cluster.start('dispatcher', 'dispatcher', 'hello')
        line = dispatcher.wait_ready('dispatcher')[0]
        pid, ready = line[2], line[3]
        metrics_port = int(ready['metrics'].rpartition(':')[2])
        before = _threads(pid)
        idle = []
        try:
            for _ in range(200):
                idle.append(socket.create_connection(
                    ('127.0.0.1', metrics_port), timeout=5))
            time.sleep(0.5)
            assert _threads(pid) <= before + 1
            started = time.monotonic()
            with urllib.request.urlopen('http://127.0.0.1:%d/metrics'
                                        % metrics_port, timeout=10) as r:
                assert r.status == 200
                assert b'qpd_dispatcher_up' in r.read()
            assert time.monotonic() - started < 5
            assert _threads(pid) <= before + 1
            # Idle ones are cut: at most MAX_CONNECTIONS stay open, and
            # those only for READ_TIMEOUT.
            from qpd.server.metrics import MAX_CONNECTIONS, READ_TIMEOUT
            time.sleep(READ_TIMEOUT + 1.5)
            open_now = 0
            for sock in idle:
                sock.settimeout(0.05)
                try:
                    if sock.recv(1) == b'':
                        continue
                except socket.timeout:
                    open_now += 1
                except OSError:
                    continue
            assert open_now == 0
            assert MAX_CONNECTIONS < 200
        finally:
            for sock in idle:
                sock.close()
