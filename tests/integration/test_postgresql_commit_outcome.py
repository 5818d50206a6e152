"""A commit whose connection to PostgreSQL fails during COMMIT: the
PostgreSQL storage looks for its transaction row once reconnected, and
acknowledges it only when it is there (so a worker's retry never repeats
a commit that happened, and never loses one that did not).

The COMMIT is held with a synchronous standby that does not exist
(`synchronous_standby_names = 'nobody'`), in a cluster of this test's own;
then its backend is terminated (PostgreSQL: "the transaction has already
committed locally"), or the client's socket is shut under it while the
backend still waits (the storage waits for the outcome)."""

import os
import socket
import threading
import time

import pytest

from harness import wait_until
from harness.postgres import PostgresCluster

psycopg = pytest.importorskip('psycopg')

from durus.connection import Connection                      # noqa: E402

from qpd.storage.postgresql import (                          # noqa: E402
    PostgresStorage, PostgresUnavailable)


@pytest.fixture
def held():
    """A cluster whose commits wait for a standby named 'nobody', once
    `hold()` is called; `release()` lets them through."""
    cluster = PostgresCluster().start()
    cluster.execute('CREATE DATABASE qpd_outcome')

    def set_standby(names):
        cluster.execute("ALTER SYSTEM SET synchronous_standby_names = '%s'"
                        % names)
        cluster.execute('SELECT pg_reload_conf()')
        # The reload is a signal: until the postmaster has read the file,
        # a new connection still gets the old setting.
        deadline = time.monotonic() + 10
        while True:
            with cluster.connect() as conn:
                if conn.execute('SHOW synchronous_standby_names'
                                ).fetchone()[0] == names:
                    return
            assert time.monotonic() < deadline, 'the reload did not happen'
            time.sleep(0.02)
    cluster.hold = lambda: set_standby('nobody')
    cluster.release = lambda: set_standby('')
    try:
        yield cluster
    finally:
        cluster.remove()


def _waiting_commit(cluster):
    """() -> pid of the backend waiting for the synchronous standby."""
    rows = []

    def waiting():
        rows[:] = cluster.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' "
            "AND datname = 'qpd_outcome'")
        return rows
    wait_until(waiting, timeout=20)
    return rows[0][0]


def _commit_in_thread(connection):
    outcome = []

    def commit():
        try:
            connection.commit()
            outcome.append('committed')
        except Exception as e:
            outcome.append(e)
    thread = threading.Thread(target=commit)
    thread.start()
    return thread, outcome


def _count_rows(cluster):
    with psycopg.connect(cluster.dsn('qpd_outcome')) as conn:
        return conn.execute('SELECT count(*) FROM qpd_transaction'
                            ).fetchone()[0]


def test_a_commit_whose_connection_failed_is_acknowledged_when_it_happened(
        held):
    lines = []
    storage = PostgresStorage(held.dsn('qpd_outcome'), site='x',
                              reconnect_for=20, say=lines.append)
    connection = Connection(storage)
    connection.get_root()['n'] = 1
    connection.commit()
    held.hold()

    # 1. The backend is terminated while its COMMIT waits: committed
    # locally, so the storage acknowledges it after reconnecting.
    before = _count_rows(held)
    connection.get_root()['n'] = 2
    thread, outcome = _commit_in_thread(connection)
    pid = _waiting_commit(held)
    held.execute('SELECT pg_terminate_backend(%d)' % pid)
    thread.join(30)
    assert outcome == ['committed'], outcome
    assert _count_rows(held) == before + 1
    assert any('committed, though its connection failed' in line
               for line in lines), lines

    # 2. The client's socket is shut while the backend still waits: the
    # storage waits for the transaction's outcome, and acknowledges it
    # once the standby requirement is lifted.
    connection.get_root()['n'] = 3
    thread, outcome = _commit_in_thread(connection)
    pid = _waiting_commit(held)
    sock = socket.socket(fileno=os.dup(storage.conn.fileno()))
    sock.shutdown(socket.SHUT_RDWR)
    sock.close()
    time.sleep(1.0)
    assert not outcome, 'answered while its transaction still ran'
    held.release()
    thread.join(30)
    assert outcome == ['committed'], outcome
    assert _count_rows(held) == before + 2

    # 3. The backend is gone before COMMIT: not acknowledged, not there.
    held.hold()
    connection.get_root()['n'] = 4
    held.execute('SELECT pg_terminate_backend(%d)'
                 % storage.conn.info.backend_pid)
    held.release()
    with pytest.raises(PostgresUnavailable):
        connection.commit()
    connection.abort()
    assert _count_rows(held) == before + 2
    other = Connection(PostgresStorage(held.dsn('qpd_outcome'), site='x'))
    assert other.get_root()['n'] == 3
    other.get_storage().close()
    storage.close()


def test_the_group_commit_flush_waits_for_the_standby(held):
    """The StorageServer's flush (what its held answers wait for) really
    waits for the synchronous standby (a flush transaction that writes no
    WAL would not)."""
    storage = PostgresStorage(held.dsn('qpd_outcome'), site='x',
                              say=lambda line: None)
    connection = Connection(storage)
    connection.get_root()['n'] = 1
    connection.commit()
    target = (storage.last_tid, storage.last_at)
    held.hold()
    done = []
    thread = threading.Thread(
        target=lambda: done.append(storage.flush(target) or 'flushed'))
    thread.start()
    time.sleep(1.5)
    assert not done, 'the flush did not wait for the standby'
    held.release()
    thread.join(20)
    assert done == ['flushed']
    storage.close()
