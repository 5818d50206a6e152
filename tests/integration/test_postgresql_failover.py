"""Failover, once: a site on a primary and its synchronous standby (real
streaming replication, harness.postgres_standby), its durus_dsn the libpq
multi-host string with target_session_attrs=read-write. Under a write load
(clients visiting the proto site's /visits counter, each 200's count
recorded; the site run the operator's way, `qpd start` under supervisord)
the primary's postmaster is killed with SIGKILL and the standby promoted.
The StorageServer reconnects by itself (when it had seen commits the
standby never got, it drops its clients unanswered and starts afresh) and
the writes carry on; while it happens hits may fail (503, or a lost
connection that the worker retried), never with a wrong answer: no count
is acknowledged twice, and every acknowledged count is on the new
primary.

One test function, since it is slow (two clusters, a site, a drill of a
few seconds); it prints its figures."""

import re
import threading
import time

import pytest

from harness import QpdHome
from harness.postgres_standby import failover_dsn, make_pair, promote

psycopg = pytest.importorskip('psycopg')

CLIENTS = 4
BEFORE = 3.0        # seconds of load before the kill
PROMOTE_AFTER = 1.0  # seconds between the kill and pg_ctl promote
AFTER = 4.0         # seconds of load after the first write on the new one
_COUNT = re.compile(r'id="visits">(\d+)<')


def _visit(home):
    """() -> (status, count or None): one GET /visits (adds one)."""
    status, text = home.get('hello', '/visits')
    found = _COUNT.search(text) if status == 200 else None
    return status, int(found.group(1)) if found else None


def test_a_killed_primary_fails_over_with_nothing_acknowledged_lost():
    primary, standby = make_pair(synchronous=True)
    home = QpdHome.make()
    try:
        primary.execute('CREATE DATABASE qpd_failover')
        home.new('hello', durus_storage='postgresql',
                 durus_dsn=failover_dsn([primary, standby], 'qpd_failover'),
                 max_retries=3, reconnect_wait=20)
        home.run('start', 'hello')
        assert _visit(home) == (200, 1)
        _drill(home, primary, standby)
    finally:
        home.cleanup()
        standby.remove()
        primary.remove()


def _drill(home, primary, standby):
    acknowledged = []           # (time, count) of each 200 from /visits
    failed = []                 # (time, status or exception)
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                status, count = _visit(home)
            except OSError as e:
                failed.append((time.monotonic(), type(e).__name__))
                time.sleep(0.05)
                continue
            if status == 200:
                acknowledged.append((time.monotonic(), count))
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
        promoted_at = time.monotonic()
        deadline = time.monotonic() + 30
        while not [t for t, _ in acknowledged if t > killed_at]:
            assert time.monotonic() < deadline, (
                'no write went through in 30 s after the promotion: %s'
                % home.run('log', 'hello', '-p', 'durus').stdout[-2000:])
            time.sleep(0.05)
        time.sleep(AFTER)
    finally:
        stop.set()
        for thread in threads:
            thread.join(90)
    before = [t for t, _ in acknowledged if t <= killed_at]
    after = [t for t, _ in acknowledged if t > killed_at]
    assert before and after
    # The first write answered after the promotion.
    back = min(t for t in after if t > promoted_at) - promoted_at
    times = sorted(t for t, _ in acknowledged)
    unavailable = max(b - a for a, b in zip(times, times[1:]))
    counts = [n for _, n in acknowledged]
    status, after_all = _visit(home)
    assert status == 200, (status, _summary(failed))
    final = after_all - 1
    with psycopg.connect(standby.dsn('qpd_failover')) as conn:
        transactions = conn.execute(
            'SELECT count(*) FROM qpd_transaction').fetchone()[0]
    # An acknowledged increment that was lost shows: its count is given
    # again (the counter went back), or is above the final count.
    lost = (len(counts) - len(set(counts))
            + len([n for n in counts if n > final]))
    # Each count from 2 to final is one increment (1 was before the load);
    # one of a failed hit may have committed (its outcome unknown to the
    # client), and so may one in flight per client that the worker retried
    # after a lost connection (made, never answered, made again).
    unacknowledged = (final - 1) - len(set(counts))
    log = home.run('log', 'hello', '-p', 'durus').stdout
    restarts = log.count('READY durus') - 1 + log.count('start afresh')
    print('\nfailover: %d writes acknowledged (%d before the kill, %d '
          'after), %d failed (%s); longest time without an acknowledged '
          'write %.2f s (the standby promoted %.2f s after the kill '
          'began, pg_ctl promote taking %.2f s; the first write %.2f s '
          'after that; the StorageServer started afresh '
          '%d times); final count %d on the '
          'new primary (%d transactions), %d increments committed but not '
          'acknowledged; acknowledged and lost: %d' % (
              len(counts), len(before), len(after), len(failed),
              _summary(failed), unavailable, promoted_at - killed_at,
              promote_took,
              back, restarts, final, transactions, unacknowledged, lost))
    assert lost == 0, 'acknowledged writes were lost'
    assert 0 <= unacknowledged <= len(failed) + CLIENTS, (
        final, len(counts), len(failed))


def _summary(failed):
    kinds = {}
    for _, kind in failed:
        kinds[kind] = kinds.get(kind, 0) + 1
    return ', '.join('%s: %d' % item for item in sorted(
        kinds.items(), key=str)) or 'none'
