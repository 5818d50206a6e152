"""One signing key for every web host of a PostgreSQL site
(qpd.storage.shared_secret): two StorageServers on one database, each
writing its own host's key file, end with the same key; a rotation made
through one reaches the other's file; a form token a publisher of host A
signed verifies on host B; `qpd secret NAME --rotate` rotates it in the
database."""

import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

import pytest
from durus.persistent_dict import PersistentDict

from qpd.lib.secret_file import SecretFile, make_keys, parse_keys
from qpd.storage import shared_secret
from qpd.web.profile import Profile
from tests.conftest import DurusServer, write_site
from tests.test_hardening_27b import FORM_SLASH as SLASH

psycopg = pytest.importorskip('psycopg')


def _read(path):
    with open(path, 'rb') as f:
        return f.read()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError('timed out')
        time.sleep(0.02)


class Hosts:
    """n web hosts' directories (var/ with secret.key) and their
    StorageServers on one database."""

    def __init__(self, dsn, n=2, name='site'):
        self.dsn = dsn
        self.directories = [tempfile.mkdtemp(prefix='qpd-pgkey-', dir='/tmp')
                            for _ in range(n)]
        self.servers = [DurusServer(
            directory, name=name, dsn=dsn,
            secret_file=os.path.join(directory, 'var', 'secret.key'))
            for directory in self.directories]

    def key_file(self, n):
        return self.servers[n].secret_file

    def start_together(self):
        errors = []

        def start(server):
            try:
                server.start()
            except Exception as e:
                errors.append(e)
        threads = [threading.Thread(target=start, args=(server,))
                   for server in self.servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        return self

    def stop(self):
        for server in self.servers:
            server.stop()
        for directory in self.directories:
            shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def hosts(postgres):
    made = Hosts(postgres.new_database('secret'))
    try:
        yield made
    finally:
        made.stop()


def _shared(dsn):
    with psycopg.connect(dsn, autocommit=True) as conn:
        return shared_secret.read_shared(conn)


def test_servers_starting_together_agree_on_one_key(hosts):
    hosts.start_together()
    one, two = (_read(hosts.key_file(n)) for n in range(2))
    assert one == two == _shared(hosts.dsn)
    assert len(parse_keys(one, 'one')[0]) == 32
    for n in range(2):
        assert stat.S_IMODE(os.stat(hosts.key_file(n)).st_mode) == 0o600
    # Restarted: the same key, not a new one.
    hosts.servers[1].stop()
    os.unlink(hosts.key_file(1))
    hosts.servers[1].start()
    assert _read(hosts.key_file(1)) == one


def test_first_inserts_race_to_one_key(hosts):
    """Eight connections offering eight keys at one moment (as servers
    starting together do, at the SQL level): all read back one of them."""
    hosts.servers[0].start()        # the tables, and a key: remove it
    with psycopg.connect(hosts.dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM qpd_meta WHERE key = 'secret'")
    barrier = threading.Barrier(8)
    seeds = [make_keys(bytes([65 + n]) * 32) for n in range(8)]
    got = [None] * 8

    def offer(n):
        with psycopg.connect(hosts.dsn, autocommit=True) as conn:
            barrier.wait(10)
            got[n] = shared_secret._insert_or_read(conn, seeds[n])
    threads = [threading.Thread(target=offer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(set(got)) == 1 and got[0] in seeds


def test_a_rotation_reaches_every_running_servers_file(hosts):
    hosts.start_together()
    before = _read(hosts.key_file(0))
    old = parse_keys(before, 'file')[0]
    with psycopg.connect(hosts.dsn, autocommit=True) as conn:
        # As `qpd secret NAME --rotate` on host 0: its own file at once.
        text = shared_secret.rotate(conn, SecretFile(hosts.key_file(0)))
    assert _read(hosts.key_file(0)) == text
    started = time.monotonic()
    wait_for(lambda: _read(hosts.key_file(1)) == text, timeout=3)
    elapsed = time.monotonic() - started
    current, previous, rotated_at = parse_keys(text, 'text')
    assert previous == old and current != old
    assert abs(rotated_at - time.time()) < 60
    print('a rotation reached the other host in %.3f s' % elapsed)
    # A file removed by hand is put back from the database at the next
    # start (and while running, within CHECK_INTERVAL).
    hosts.servers[1].stop()
    os.unlink(hosts.key_file(1))
    hosts.servers[1].start()
    assert _read(hosts.key_file(1)) == text


def test_the_first_server_keeps_its_hosts_key_and_the_old_root_entry(
        postgres):
    """A file site switched to PostgreSQL: the first server's existing key
    file becomes the shared key (its tokens still verify), the other
    host's different file is replaced. A copied database still holding
    root['qpd_secret'] (qpd before the key file): that key is the shared
    one, and the root entry is dropped."""
    made = Hosts(postgres.new_database('secret'))
    try:
        mine = make_keys(b'k' * 32)
        os.makedirs(os.path.dirname(made.key_file(0)), mode=0o700)
        os.makedirs(os.path.dirname(made.key_file(1)), mode=0o700)
        with open(made.key_file(0), 'wb') as f:
            f.write(mine)
        with open(made.key_file(1), 'wb') as f:
            f.write(make_keys(b'o' * 32))
        made.servers[0].start()
        made.servers[1].start()
        assert _read(made.key_file(0)) == _read(made.key_file(1)) == mine
    finally:
        made.stop()
    # The old root entry.
    from qpd.storage.postgresql import PostgresStorage
    from durus.connection import Connection
    dsn = postgres.new_database('secret')
    storage = PostgresStorage(dsn, site='site', say=lambda line: None)
    connection = Connection(storage)
    connection.get_root()['qpd_secret'] = b'r' * 32
    connection.get_root()['page'] = PersistentDict(text='kept')
    connection.commit()
    storage.close()
    made = Hosts(dsn)
    try:
        made.start_together()
        text = _read(made.key_file(0))
        assert parse_keys(text, 'file')[0] == b'r' * 32
        assert _read(made.key_file(1)) == text
        client = made.servers[1].connect()
        assert 'qpd_secret' not in client.get_root()
        assert client.get_root()['page']['text'] == 'kept'
    finally:
        made.stop()



_counter = [0]


def _site(home, server, var):
    _counter[0] += 1
    name = 'pgkey_%d_%d' % (os.getpid(), _counter[0])
    configuration = dict(durus_address=server.address, var_directory=var)
    return write_site(home, name, 'CONFIGURATION = %r\n\n%s' % (
        configuration, SLASH))


def test_a_form_shown_by_one_host_is_accepted_by_the_other(hosts):
    """Host A's publisher signs an anonymous visitor's stateless token
    with A's key file; host B's publisher (its own key file, its own
    StorageServer) accepts the post; and again after a rotation, with a
    token signed just before it."""
    hosts.start_together()
    publishers = []
    for n in range(2):
        var = os.path.dirname(hosts.key_file(n))
        publishers.append(Profile(_site(
            os.path.join(hosts.directories[n], 'home'), hosts.servers[n],
            var)))
    a, b = publishers

    def show_on_a():
        text = a.get_text(a.get('/a'))
        token = re.search(r'name="_form_token" value="([^"]+)"',
                          text).group(1)
        (key,) = a.get_cookies().values()
        b.cookies.clear()
        b.cookies[b.get_publisher().get_session_cookie_name() + '_key'] = key
        return token

    def post_on_b(token, name):
        return b.get_text(b.post('/a', _form_token=token, name=name,
                                 save='Save'))
    assert post_on_b(show_on_a(), 'x') == 'saved x'
    signed_before = show_on_a()
    with psycopg.connect(hosts.dsn, autocommit=True) as conn:
        text = shared_secret.rotate(conn, SecretFile(hosts.key_file(0)))
    wait_for(lambda: _read(hosts.key_file(1)) == text, timeout=3)
    assert post_on_b(show_on_a(), 'y') == 'saved y'
    assert post_on_b(signed_before, 'z') == 'saved z'    # the previous key


def test_qpd_secret_rotates_in_the_database(tmp_path, postgres):
    dsn = postgres.new_database('secret')
    home = str(tmp_path / 'home')
    var = str(tmp_path / 'var')
    configuration = dict(durus_storage='postgresql', durus_dsn=dsn,
                         var_directory=var)
    site = write_site(home, 'keyed_in_pg', 'CONFIGURATION = %r\n\n%s' % (
        configuration, SLASH))

    def qpd(*args):
        return subprocess.run(
            [sys.executable, '-m', 'qpd', '--home', home] + list(args),
            capture_output=True, text=True, timeout=60)
    result = qpd('secret', 'keyed_in_pg')
    assert result.returncode == 1, result
    assert 'Traceback' not in result.stderr
    assert 'durus_dsn' in result.stderr
    print(result.stderr)
    os.makedirs(var, mode=0o700)        # this host has run the site
    # Another host's StorageServer made the key in the database.
    other = Hosts(dsn, n=1, name='keyed_in_pg')
    try:
        other.servers[0].start()
        before = _read(other.key_file(0))
        result = qpd('secret', 'keyed_in_pg')
        assert result.returncode == 0, result
        assert 'never rotated' in result.stdout + result.stderr
        result = qpd('secret', 'keyed_in_pg', '--rotate')
        assert result.returncode == 0, result
        assert 'database' in result.stdout + result.stderr
        text = _shared(dsn)
        assert parse_keys(text, 'db')[1] == parse_keys(before, 'file')[0]
        # This host's file at once, the other host's by its StorageServer.
        assert _read(site.get_secret_file()) == text
        wait_for(lambda: _read(other.key_file(0)) == text, timeout=3)
    finally:
        other.stop()


def test_the_mirror_puts_back_a_file_removed_or_edited(hosts, tmp_path):
    """A SecretMirror (the thread each StorageServer runs; here in this
    process, reading every 0.2 s instead of CHECK_INTERVAL) rewrites a
    key file that no longer holds the database's text."""
    hosts.start_together()
    text = _shared(hosts.dsn)
    keys = SecretFile(str(tmp_path / 'secret.key'))
    lines = []
    mirror = shared_secret.SecretMirror(hosts.dsn, keys, say=lines.append,
                                        interval=0.2)
    mirror.start()
    try:
        # (the count once the line is said: after the file is written)
        wait_for(lambda: len(lines) == 1)
        assert keys.read_text() == text
        os.unlink(keys.path)
        wait_for(lambda: len(lines) == 2)
        assert keys.read_text() == text
        with open(keys.path, 'wb') as f:
            f.write(make_keys(b'x' * 32))
        wait_for(lambda: len(lines) == 3)
        assert keys.read_text() == text
        assert stat.S_IMODE(os.stat(keys.path).st_mode) == 0o600
        assert mirror.written == 3
    finally:
        mirror.stop()
        mirror.join(5)
    assert not mirror.is_alive()
