"""PostgreSQL down for longer than reconnect_for: the storage waits that
long once per outage, then each request tries once and fails at once (its
client is dropped; the StorageServer keeps running and does not select on
the lost connection); when the database is back, it carries on."""

import time

import pytest

from harness.postgres import PostgresCluster

pytest.importorskip('psycopg')

from qpd.storage.postgresql import (                          # noqa: E402
    PostgresStorage, PostgresStorageServer, PostgresUnavailable)


def test_an_outage_is_waited_for_once_then_fails_fast(tmp_path):
    cluster = PostgresCluster().start()
    try:
        cluster.execute('CREATE DATABASE qpd_outage')
        storage = PostgresStorage(cluster.dsn('qpd_outage'), site='x',
                                  reconnect_for=1.0, say=lambda line: None)
        server = PostgresStorageServer(storage, str(tmp_path / 's.sock'))
        assert server.get_watched() == [storage.fileno()]
        cluster.stop(mode='immediate')
        start = time.monotonic()
        with pytest.raises(PostgresUnavailable):
            storage.poll()
        assert 1.0 <= time.monotonic() - start < 5
        assert server.get_watched() == []
        start = time.monotonic()
        with pytest.raises(PostgresUnavailable):
            storage.poll()
        assert time.monotonic() - start < 0.5
        server.poll_now()           # logged, not raised
        cluster.start()
        storage.poll()
        assert server.get_watched() == [storage.fileno()]
        # A new outage gets its whole reconnect_for again.
        cluster.stop(mode='immediate')
        start = time.monotonic()
        with pytest.raises(PostgresUnavailable):
            storage.poll()
        assert time.monotonic() - start >= 1.0
        storage.close()
    finally:
        cluster.remove()
