"""qpd.storage.shared_secret: one signing key for every web host of a
PostgreSQL site.

A site's form tokens and HTTP Digest nonces are signed with the key of
its `var/secret.key` (qpd.lib.secret_file). On `durus_storage =
'postgresql'` every web host runs its own StorageServer on one database,
and a form shown by one host may be posted to another (a load balancer
in front): every host must sign and verify with the same key. So the key
file's text (its very format: the current key and, after a rotation, the
previous one with the time of the rotation) is kept in the database, in
the storage's `qpd_meta` table under the key 'secret'. No Durus client
reaches it: clients only ever get records of `qpd_object`, through a
StorageServer. Each host's StorageServer writes it to that host's
`var/secret.key`, where the workers read it as on a file site.

At start (`share_at_start`, before the server listens): the text is
inserted with `ON CONFLICT DO NOTHING` and read back in one transaction,
so that servers starting together agree, the losers taking the winner's
(the insert of the second waits for the first's commit on the key's
index). The first server's seed is the old `root['qpd_secret']` when a
copied database still has one (then dropped from the root, as on a file
site), else the host's existing key file (a file site switched to
PostgreSQL keeps the key its tokens were signed with), else a new key.
The host's file is then made to hold the database's text.

While it runs (`SecretMirror`, a thread of the StorageServer with its own
connection): it LISTENs on `qpd_secret`, which a rotation NOTIFYs; on a
notification, and every CHECK_INTERVAL seconds whatever happened (a
notification is lost while the connection is down), it reads the text
again and rewrites the file when the file differs (a file removed or
edited by hand is put back too). So a rotation made on one host reaches
every running host's file as soon as the NOTIFY is delivered (within
milliseconds), at the latest CHECK_INTERVAL seconds after PostgreSQL
answers again after an outage, and a stopped host's file at its next
start. A token signed with the new key in the moment before another
host's file changes is refused there (the visitor posts the form again).

`rotate(dsn, ...)` (`qpd secret NAME --rotate`) rotates the text in one
transaction (the row locked, so two rotations do not lose one), NOTIFYs,
and writes this host's file when asked.

The key is in the database, so in its backups (pg_dump, pg_basebackup,
a standby): whoever holds one can sign tokens until the next rotation.
"""

import threading

from qpd.lib.process import start_thread
from qpd.lib.secret_file import (
    ROOT_KEY, SecretFile, make_keys, parse_keys, rotate_keys)

__all__ = ['share_at_start', 'rotate', 'read_shared', 'SecretMirror',
           'start_mirror', 'META_KEY', 'CHANNEL', 'CHECK_INTERVAL']

META_KEY = 'secret'         # its row in qpd_meta
CHANNEL = 'qpd_secret'      # NOTIFYed by a rotation
CHECK_INTERVAL = 10.0       # seconds between reads at the most
RETRY_INTERVAL = 2.0        # seconds between connection attempts
_WHERE = "the qpd_meta row 'secret' of the site's database"


def read_shared(conn):
    """(conn: psycopg connection) -> bytes|None: the key file's text kept
    in the database (None when there is none yet)."""
    row = conn.execute('SELECT value FROM qpd_meta WHERE key = %s',
                       (META_KEY,)).fetchone()
    return None if row is None else row[0].encode('ascii')


def _insert_or_read(conn, seed):
    """(conn, seed:bytes) -> bytes: the text in the database, seed when
    there was none (one transaction: the first of servers starting
    together wins, the others read its text)."""
    with conn.transaction():
        conn.execute('INSERT INTO qpd_meta (key, value) VALUES (%s, %s) '
                     'ON CONFLICT (key) DO NOTHING',
                     (META_KEY, seed.decode('ascii')))
        return read_shared(conn)


def _seed(keys, root):
    """(keys:SecretFile, root) -> bytes: the text the first server offers:
    the old root entry's key, else the host's key file, else a new key."""
    old = root.get(ROOT_KEY)
    if isinstance(old, bytes) and old:
        return make_keys(old)
    text = keys.read_text()
    if text is not None:
        try:
            parse_keys(text, keys.path)
            return text
        except ValueError:
            pass        # replaced by the database's text below
    return make_keys()


def share_at_start(storage, root, keys):
    """(storage:qpd.storage.postgresql.PostgresStorage, root:mapping,
        keys:SecretFile) -> bool
    The site's key from the database (made there by the first server to
    start, see the module's docstring) written to keys' file; the old
    root entry dropped: whether root changed (the caller commits)."""
    text = _insert_or_read(storage.conn, _seed(keys, root))
    keys.write_text(text)
    keys.get_current()      # checks the file's mode
    if ROOT_KEY in root:
        del root[ROOT_KEY]
        return True
    return False


def rotate(conn, keys=None, now=None):
    """(conn: psycopg connection, keys:SecretFile=None, now:float=None)
        -> bytes|None
    A new current key in the database, the old one kept as previous
    (qpd.lib.secret_file.rotate_keys); every StorageServer is told
    (NOTIFY); keys' file (this host's) written too when given. The new
    text, or None when the database has no key yet."""
    with conn.transaction():
        row = conn.execute('SELECT value FROM qpd_meta WHERE key = %s '
                           'FOR UPDATE', (META_KEY,)).fetchone()
        if row is None:
            return None
        text = rotate_keys(row[0].encode('ascii'), _WHERE, now)
        conn.execute('UPDATE qpd_meta SET value = %s WHERE key = %s',
                     (text.decode('ascii'), META_KEY))
        conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
    if keys is not None:
        keys.write_text(text)
    return text


class SecretMirror(threading.Thread):
    """(dsn:str, keys:SecretFile, say=None, interval=CHECK_INTERVAL)
    A daemon thread keeping keys' file the database's text (see the
    module's docstring); say(line) reports a rotation received and a lost
    connection (once per outage). stop() ends it within interval seconds.
    """

    def __init__(self, dsn, keys, say=None, interval=CHECK_INTERVAL):
        threading.Thread.__init__(self, name='qpd secret mirror', daemon=True)
        self.dsn = dsn
        self.keys = keys
        self.say = say or (lambda line: None)
        self.interval = interval
        self.stopping = threading.Event()
        self.conn = None
        self.checks = 0         # reads of the database's text
        self.written = 0        # times the file was rewritten

    def stop(self):
        """() -> None"""
        self.stopping.set()

    def _connect(self):
        import psycopg
        conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10,
                               application_name='qpd secret mirror')
        conn.execute('LISTEN %s' % CHANNEL)
        self.conn = conn

    def check(self):
        """() -> bool: read the text, write the file when it differs;
        whether it did."""
        text = read_shared(self.conn)
        self.checks += 1
        if text is None or not self.keys.write_text(text):
            return False
        self.written += 1
        self.say('%s: the signing key changed in the database (rotated '
                 'on another host?): written' % self.keys.path)
        return True

    def run(self):
        import psycopg
        failed = False
        while not self.stopping.is_set():
            try:
                if self.conn is None:
                    self._connect()
                self.check()
                if failed:
                    self.say('the signing key is followed in the database '
                             'again')
                    failed = False
                for notify in self.conn.notifies(timeout=self.interval,
                                                 stop_after=1):
                    pass
            except (psycopg.Error, OSError, ValueError) as e:
                if not failed:
                    self.say('cannot follow the signing key in the database '
                             '(%s): trying again every %g s' % (
                                 ' '.join(str(e).split()) or
                                 e.__class__.__name__, RETRY_INTERVAL))
                    failed = True
                self._close()
                self.stopping.wait(RETRY_INTERVAL)
        self._close()

    def _close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None


def start_mirror(dsn, keys, say=None):
    """(dsn:str, keys:SecretFile, say=None) -> SecretMirror, started"""
    mirror = SecretMirror(dsn, keys, say=say)
    start_thread(mirror)
    return mirror
