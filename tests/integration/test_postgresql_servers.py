"""Several StorageServers on one PostgreSQL database (one per web host in
production; here two on this host, each with its own socket and its own
clients): what one server's clients commit, the other's see; no update is
lost; no client ever sees a mix of old and new states; the database may
restart under them."""

import os
import shutil
import signal
import tempfile
import threading
import time

import pytest
from durus.error import ConflictError
from durus.persistent_dict import PersistentDict

from tests.conftest import DurusServer

psycopg = pytest.importorskip('psycopg')


@pytest.fixture
def two_servers(postgres):
    """Two started StorageServers on one new database."""
    dsn = postgres.new_database('servers')
    made = []
    try:
        for n in range(2):
            directory = tempfile.mkdtemp(prefix='qpd-pgs-', dir='/tmp')
            made.append(DurusServer(directory, name='site', dsn=dsn).start())
        yield made
    finally:
        for server in made:
            server.stop()
            shutil.rmtree(server.directory, ignore_errors=True)


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('timed out')
        time.sleep(0.01)


def test_a_commit_on_one_server_is_seen_on_the_other(two_servers):
    one, two = two_servers
    a = one.connect()
    b = two.connect()
    a.get_root()['page'] = PersistentDict(text='first')
    a.commit()

    def seen(text):
        b.abort()       # a sync (a real one once the server polled)
        page = b.get_root().get('page')
        return page is not None and page['text'] == text
    wait_for(lambda: seen('first'), timeout=2)
    # b has the page cached; a changes it: b is told (invalidated).
    a.get_root()['page']['text'] = 'second'
    a.commit()
    wait_for(lambda: seen('second'), timeout=2)
    # And the other way round.
    b.get_root()['page']['text'] = 'third'
    b.commit()
    wait_for(lambda: (a.abort(), a.get_root()['page']['text'])[1] == 'third',
             timeout=2)


def _page_on_both(one, two):
    """-> (a, b): a client of each server, b having read the page a made."""
    a = one.connect()
    b = two.connect()
    a.get_root()['page'] = PersistentDict(text='0')
    a.commit()
    wait_for(lambda: (b.abort(), 'page' in b.get_root())[1], timeout=2)
    return a, b


def _commit_while_stopped(a, server, text):
    """a commits the page's text while server is stopped (as a busy server
    would be slow to read the NOTIFY); server goes on 0.3 s later."""
    os.kill(server.get_pid(), signal.SIGSTOP)
    try:
        a.get_root()['page']['text'] = text
        a.commit()
    finally:
        threading.Timer(
            0.3, os.kill, (server.get_pid(), signal.SIGCONT)).start()


def test_the_next_sync_on_the_other_server_sees_an_acknowledged_commit(
        two_servers):
    # A commit acknowledged by one server is in the very next sync of a
    # client of the other, even when that server has not yet heard of it.
    # A client that skipped the round trip because its own server's commit
    # counter had not moved would read the old text; with the round trip,
    # the sync waits for the server, which asks the database first.
    one, two = two_servers
    a, b = _page_on_both(one, two)
    for n in range(1, 4):
        b.abort()
        assert b.get_root()['page']['text'] == str(n - 1)   # cached
        _commit_while_stopped(a, two, str(n))
        b.abort()
        assert b.get_root()['page']['text'] == str(n)


def test_a_sync_is_left_out_only_after_a_poll_that_followed_the_request(
        two_servers):
    # A worker tells its storage when the request it syncs for arrived
    # (CommitWatch.arrived); the sync is left out only when its server
    # polled the database after that and found nothing new.
    one, two = two_servers
    a, b = _page_on_both(one, two)
    watch = b.get_storage().commit_watch
    assert watch is not None
    arrived = time.monotonic()
    b.abort()           # no arrival known: a real sync, the server polls
    skipped = watch.skipped
    watch.arrived = arrived
    b.abort()           # the poll followed the request: left out
    assert watch.skipped == skipped + 1
    # A request that arrives after a commit the server has not heard of
    # gets a real sync.
    _commit_while_stopped(a, two, '1')
    watch.arrived = time.monotonic()
    b.abort()
    watch.arrived = None
    assert b.get_root()['page']['text'] == '1'
    assert watch.skipped == skipped + 1


def _increment(server, counts, index, stop):
    connection = server.connect()
    done = conflicts = 0
    while not stop.is_set():
        try:
            counter = connection.get_root()['counter']
            counter['value'] += 1
            connection.commit()
            done += 1
        except ConflictError:
            connection.abort()
            conflicts += 1
    counts[index] = (done, conflicts)


def test_hot_counter_from_both_servers_loses_no_update(two_servers):
    one, two = two_servers
    a = one.connect()
    a.get_root()['counter'] = PersistentDict(value=0)
    a.commit()
    stop = threading.Event()
    counts = [None] * 4
    threads = [threading.Thread(target=_increment,
                                args=(server, counts, n, stop))
               for n, server in enumerate([one, two, one, two])]
    for thread in threads:
        thread.start()
    time.sleep(4)
    stop.set()
    for thread in threads:
        thread.join(30)
    done = sum(c[0] for c in counts)
    conflicts = sum(c[1] for c in counts)
    b = two.connect()
    assert b.get_root()['counter']['value'] == done
    a.abort()
    assert a.get_root()['counter']['value'] == done
    # Both servers' clients got commits through, and conflicts happened.
    assert counts[0][0] + counts[2][0] > 0 and counts[1][0] + counts[3][0] > 0
    assert conflicts > 0
    print('hot counter: %d commits, %d conflicts in 4 s' % (done, conflicts))


def test_no_mixed_state_is_ever_read_across_servers(two_servers):
    """Pairs of objects always changed together on one server, read
    together from the other in a tight loop, with a small cache so that
    objects are loaded again and again: a pair that differs is a mixed
    state."""
    one, two = two_servers
    pairs = 20
    a = one.connect()
    root = a.get_root()
    for n in range(pairs):
        root['p%d' % n] = PersistentDict(value=0)
        root['q%d' % n] = PersistentDict(value=0)
    a.commit()
    stop = threading.Event()
    written = [0]
    failures = []

    def write():
        connection = one.connect()
        n = 0
        while not stop.is_set():
            n += 1
            r = connection.get_root()
            for k in range(0, pairs, 3 if n % 2 else 1):
                r['p%d' % k]['value'] = n
                r['q%d' % k]['value'] = n
            connection.commit()
            written[0] = n
            # A pause between commits: without it nearly every pass of the
            # reader overlaps a commit and ends in a read conflict. With a
            # 4 ms pause one machine read 6,000 times in 4 s and another
            # fewer than 50 (its passes ran into the next commit and
            # conflicted, about 500 times); with 8 ms that one read 2,500
            # to 4,200 times, with 65 to 160 read conflicts in 340 commits.
            time.sleep(0.008)
    reads = conflicts = 0
    writer = threading.Thread(target=write)
    writer.start()
    try:
        b = two.connect(cache_size=8)
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            try:
                r = b.get_root()
                for k in range(pairs):
                    p = r['p%d' % k]['value']
                    q = r['q%d' % k]['value']
                    if p != q:
                        failures.append((k, p, q))
                reads += 1
            except ConflictError:
                conflicts += 1
            b.abort()
    finally:
        stop.set()
        writer.join(30)
    assert not failures, 'mixed states read: %r' % failures[:5]
    assert written[0] > 50 and reads > 50
    print('consistency: %d writes, %d reads, %d read conflicts' % (
        written[0], reads, conflicts))


def test_servers_carry_on_after_postgresql_restarts(two_servers, postgres):
    one, two = two_servers
    a = one.connect()
    a.get_root()['item'] = PersistentDict(value='before')
    a.commit()
    postgres.restart()
    # The server reconnects by itself: the next requests work.
    a.get_root()['item']['value'] = 'after'
    a.commit()
    b = two.connect()
    wait_for(lambda: (b.abort(), b.get_root()['item']['value'])[1] == 'after')
    assert one.is_running() and two.is_running()


def test_a_server_starts_afresh_when_the_database_lost_what_it_saw(
        two_servers, postgres):
    """After a crash or a failover that lost commits not yet durable, the
    tids after the last durable one name other transactions. Simulated:
    the last transaction's row rewritten (another start time) while
    PostgreSQL restarts under the servers. A server that reconnects finds
    its last transaction changed, drops every client unanswered and goes
    on from the database as it is; the clients reconnect."""
    from qpd.storage.connection import reconnect
    one, two = two_servers
    a = one.connect()
    a.get_root()['item'] = PersistentDict(value='kept')
    a.commit()
    wait_for(lambda: (two.connect().get_root().get('item') or {}).get(
        'value') == 'kept')
    dsn = one.dsn
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE qpd_transaction SET at = at - interval '1 s' "
                     "WHERE tid = (SELECT max(tid) FROM qpd_transaction)")
    postgres.restart()
    # The next request meets a dropped connection (or, if the server had
    # not noticed yet, the drop comes with it): reconnect and go on.
    deadline = time.monotonic() + 20
    while True:
        try:
            a.abort()
            a.get_root()['item']['value'] = 'after'
            a.commit()
            break
        except Exception:
            assert time.monotonic() < deadline
            time.sleep(0.2)
            try:
                reconnect(a, wait=10)
            except Exception:
                pass
    assert one.is_running() and two.is_running()
    b = two.connect()
    wait_for(lambda: (b.abort(), b.get_root()['item']['value'])[1] ==
             'after', timeout=10)


def test_a_commit_is_answered_only_once_the_standby_has_it(tmp_path):
    """With synchronous_standby_names naming a standby that is not there,
    PostgreSQL never finishes a synchronous COMMIT: the StorageServer
    writes the commit (its row is visible) but must not answer it until
    the flush returns, which it does once the operator drops the setting.
    (A flush that wrote no row would not wait: its answer would come at
    once.)"""
    from harness.postgres import PostgresCluster
    cluster = PostgresCluster().start()
    server = None
    try:
        dsn = cluster.create_database('held')
        server = DurusServer(str(tmp_path), name='site', dsn=dsn).start()
        a = server.connect()
        a.get_root()['item'] = PersistentDict(value=1)
        a.commit()
        cluster.execute("ALTER SYSTEM SET synchronous_standby_names = "
                        "'nobody'")
        cluster.execute('SELECT pg_reload_conf()')
        time.sleep(0.5)
        a.get_root()['item']['value'] = 2
        answered = []

        def commit():
            try:
                a.commit()
                answered.append('answered')
            except Exception as e:
                answered.append(e)
        thread = threading.Thread(target=commit, daemon=True)
        thread.start()
        thread.join(2.5)
        assert not answered, 'the commit was answered before the standby ' \
            'had it: %r' % answered
        with psycopg.connect(dsn, autocommit=True) as conn:
            assert conn.execute('SELECT max(tid) FROM qpd_transaction'
                                ).fetchone()[0] >= 3     # written, held
        cluster.execute("ALTER SYSTEM RESET synchronous_standby_names")
        cluster.execute('SELECT pg_reload_conf()')
        thread.join(15)
        assert answered == ['answered'], answered
        b = server.connect()
        assert b.get_root()['item']['value'] == 2
    finally:
        if server is not None:
            server.stop()
        cluster.remove()
