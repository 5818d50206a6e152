"""Failover, once: a site on a primary and its synchronous standby (real
streaming replication, harness.postgres_standby), its durus_dsn the libpq
multi-host string with target_session_attrs=read-write. Under a write load
(clients incrementing the counter site's counter, each 200 recorded) the
primary's postmaster is killed with SIGKILL and the standby promoted. The
StorageServer reconnects by itself and the writes carry on; while it
happens hits may fail (503, or a lost connection that the worker retried),
never with a wrong answer; every acknowledged count is on the new primary.

One test function, since it is slow (two clusters, a site, a drill of a
few seconds); it prints its figures."""

import http.client
import threading
import time

import pytest

from harness import COUNTER_SLASH, Cluster, make_home
from harness.postgres_standby import failover_dsn, make_pair, promote

psycopg = pytest.importorskip('psycopg')

CLIENTS = 4
BEFORE = 3.0        # seconds of load before the kill
PROMOTE_AFTER = 1.0  # seconds between the kill and pg_ctl promote
AFTER = 4.0         # seconds of load after the first write on the new one


def _get(port, path, timeout=60):
    connection = http.client.HTTPConnection('127.0.0.1', port,
                                            timeout=timeout)
    try:
        connection.request('GET', path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_a_killed_primary_fails_over_with_nothing_acknowledged_lost(
        tmp_path):
    primary, standby = make_pair(synchronous=True)
    try:
        primary.execute('CREATE DATABASE qpd_failover')
        dsn = failover_dsn([primary, standby], 'qpd_failover')
        configuration = {
            'http_address': ('127.0.0.1', 0),
            'durus_storage': 'postgresql',
            'durus_dsn': dsn,
            'max_retries': 3,
            'reconnect_wait': 20,
        }
        home = make_home(tmp_path, configuration=configuration,
                         slash=COUNTER_SLASH % {
                             'configuration': configuration})
        with Cluster(home) as cluster:
            cluster.boot(workers=2)
            port = cluster.get_port('http')
            assert _get(port, '/inc') == (200, b'1')
            _drill(cluster, port, primary, standby)
    finally:
        standby.remove()
        primary.remove()


def _drill(cluster, port, primary, standby):
    acknowledged = []           # (time, count) of each 200 from /inc
    failed = []                 # (time, status or exception)
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                status, body = _get(port, '/inc')
            except OSError as e:
                failed.append((time.monotonic(), type(e).__name__))
                time.sleep(0.05)
                continue
            if status == 200:
                acknowledged.append((time.monotonic(), int(body)))
            else:
                failed.append((time.monotonic(), status))
                time.sleep(0.05)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(BEFORE)
        assert acknowledged, 'no write went through before the kill'
        killed_at = time.monotonic()
        primary.kill()
        time.sleep(PROMOTE_AFTER)
        promote_took = promote(standby)
        deadline = time.monotonic() + 30
        while not [t for t, _ in acknowledged if t > killed_at]:
            assert time.monotonic() < deadline, (
                'no write went through in 30 s after the promotion: %s'
                % cluster.get_errors('durus')[-2000:])
            time.sleep(0.05)
        time.sleep(AFTER)
    finally:
        stop.set()
        for thread in threads:
            thread.join(90)
    before = [t for t, _ in acknowledged if t <= killed_at]
    after = [t for t, _ in acknowledged if t > killed_at]
    times = sorted(t for t, _ in acknowledged)
    unavailable = max(b - a for a, b in zip(times, times[1:]))
    counts = [n for _, n in acknowledged]
    # No wrong answer: each acknowledged count was given once.
    assert len(counts) == len(set(counts)), 'a count was acknowledged twice'
    # Every acknowledged write is on the new primary.
    status, body = _get(port, '/count')
    assert status == 200
    final = int(body)
    with psycopg.connect(standby.dsn('qpd_failover')) as conn:
        transactions = conn.execute(
            'SELECT count(*) FROM qpd_transaction').fetchone()[0]
    assert max(counts) <= final
    # Each increment is one counted hit (the first one, /inc -> 1, was
    # before the load); a failed hit may have committed (its outcome was
    # unknown), never more than one increment each.
    unacknowledged = (final - 1) - len(counts)
    assert 0 <= unacknowledged <= len(failed), (
        final, len(counts), len(failed))
    assert all(n <= final for n in counts)
    lost_acknowledged = len([n for n in counts if n > final])
    assert lost_acknowledged == 0
    print('\nfailover: %d writes acknowledged (%d before the kill, %d '
          'after), %d failed (%s); longest time without an acknowledged write %.2f s (promote took '
          '%.2f s, %.1f s after the kill); final count %d, %d increments '
          'committed but not acknowledged, acknowledged and lost: %d; '
          '%d transactions on the new primary' % (
              len(counts), len(before), len(after), len(failed),
              _summary(failed), unavailable, promote_took, PROMOTE_AFTER,
              final, unacknowledged, lost_acknowledged, transactions))
    print(cluster.get_errors('durus')[-3000:])


def _summary(failed):
    kinds = {}
    for _, kind in failed:
        kinds[kind] = kinds.get(kind, 0) + 1
    return ', '.join('%s: %d' % item for item in sorted(
        kinds.items(), key=str)) or 'none'
