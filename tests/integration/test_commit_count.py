"""The commit count (qpd.storage.commit_count) against a real StorageServer:
a sync skips its round trip only when nothing was committed, and never
hides a commit acknowledged before it began.

The freshness test would fail if a skipped sync could miss a commit: a
writer thread commits a counter and, only once the commit is answered,
publishes the value it wrote; reader connections note the published value,
sync, and must see at least that value. Readers sync far more often than
the writer commits, so most of their syncs are skipped ones."""

import os
import stat
import threading
import time

import pytest
from durus.error import ConflictError, ReadConflictError
from durus.persistent_dict import PersistentDict

from qpd.storage import commit_count
from qpd.storage.connection import connect

SECONDS = 2.0


def _skipped(connection):
    return connection.get_storage().get_skipped_syncs()


def test_a_skipped_sync_never_hides_an_acknowledged_commit(durus_server):
    writer = durus_server.connect()
    writer.get_root()['n'] = 0
    writer.commit()
    acknowledged = [0]
    stale, reads = [], [0]
    deadline = time.monotonic() + SECONDS

    def write():
        n = 0
        while time.monotonic() < deadline:
            n += 1
            writer.get_root()['n'] = n
            writer.commit()
            acknowledged[0] = n       # only after the answer
            time.sleep(0.001)

    def read():
        reader = connect(durus_server.address)
        while time.monotonic() < deadline:
            floor = acknowledged[0]
            try:
                reader.abort()        # the sync a worker makes per hit
                seen = reader.get_root()['n']
            except ReadConflictError:
                continue              # as a worker, try the hit again
            reads[0] += 1
            if seen < floor:
                stale.append((floor, seen))
        readers_skipped.append(_skipped(reader))
        reader.get_storage().close()

    readers_skipped = []
    threads = [threading.Thread(target=write)] + [
        threading.Thread(target=read) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not stale, stale[:5]
    assert acknowledged[0] > 50
    # Syncs really were skipped: most reads found nothing new.
    assert sum(readers_skipped) > reads[0] // 4, (readers_skipped, reads)


def test_an_idle_client_makes_no_round_trips_and_sees_the_next_commit(
        durus_server):
    reader = connect(durus_server.address)
    writer = durus_server.connect()
    reader.abort()
    before = _skipped(reader)
    for _ in range(100):
        reader.abort()
    assert _skipped(reader) - before == 100
    writer.get_root()['thing'] = PersistentDict(a=1)
    writer.commit()
    reader.abort()
    assert reader.get_root()['thing']['a'] == 1
    writer.get_root()['thing']['a'] = 2
    writer.commit()
    reader.abort()
    assert reader.get_root()['thing']['a'] == 2


def test_after_its_own_commit_a_client_is_current_without_a_sync(
        durus_server):
    connection = connect(durus_server.address)
    connection.abort()
    for n in range(20):
        connection.get_root()['n'] = n
        connection.commit()
    before = _skipped(connection)
    connection.abort()
    assert _skipped(connection) == before + 1


def test_after_a_conflict_the_abort_makes_no_round_trip(durus_server):
    # The refused commit's answer brought the winner's invalidation: the
    # abort (and the retry's sync) are as current without a round trip,
    # and the retry sees the winning value.
    winner = durus_server.connect()
    loser = connect(durus_server.address)
    winner.get_root()['n'] = PersistentDict(value=0)
    winner.commit()
    loser.abort()
    counter = loser.get_root()['n']
    assert counter['value'] == 0
    winner.get_root()['n']['value'] = 1
    winner.commit()
    counter['value'] = 2                 # over a value it has not seen
    with pytest.raises(ConflictError):
        loser.commit()
    before = _skipped(loser)
    loser.abort()
    assert _skipped(loser) == before + 1
    assert loser.get_root()['n']['value'] == 1
    loser.get_root()['n']['value'] = 3
    loser.commit()
    winner.abort()
    assert winner.get_root()['n']['value'] == 3


def test_the_counter_file_is_private_and_outlives_the_server(durus_server):
    path = commit_count.counter_path(durus_server.address)
    mode = os.stat(path).st_mode
    assert stat.S_IMODE(mode) == 0o600
    watch = commit_count.CommitWatch(path)
    first = watch.read()
    durus_server.stop()
    assert os.path.exists(path)
    assert watch.read() > first      # a clean stop moves it once more
    durus_server.start()
    assert watch.read() > first + 1  # and so does a start


def test_a_tcp_address_has_no_counter():
    assert commit_count.counter_path(('127.0.0.1', 1234)) is None
    assert commit_count.counter_path('@abstract') is None
    assert commit_count.CommitWatch.open('/nonexistent/durus.sock') is None
