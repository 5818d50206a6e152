"""qpd.storage.postgresql: a site's objects in PostgreSQL, below its
StorageServers (`durus_storage = 'postgresql'`, `durus_dsn`).

Workers and `qpd shell` still speak Durus's protocol to a StorageServer
on the site's private socket; only the storage under that server changes.
`PostgresStorage` implements Durus's Storage interface on psycopg 3, and
`PostgresStorageServer` (qpd.storage.durable's server, with a few
handlers changed) serves it. Several StorageServers, one per web host, can
share one database.

The schema (made at the first start, under an advisory lock, in the
current schema of the database `durus_dsn` names):

    qpd_meta(key, value)                 'site' (whose objects these are),
                                         'schema' (SCHEMA_VERSION)
    qpd_object(oid, tid, record)         one row per object: its current
                                         Durus record and the transaction
                                         that wrote it (history-free); the
                                         root is made with the tables
    qpd_transaction(tid, oids, at)       one row per committed transaction:
                                         the oids it wrote (8 bytes each)
    qpd_oid                              the sequence of new oids (0 is the
                                         root)

Transaction ids. A commit takes one advisory lock (per database), so
commits are serialized; under it the next tid is the last one plus one.
A transaction is visible to everyone before its lock is released, so tids
become visible in order, with no holes: a server that has seen every tid
up to `last_tid` learns all that changed since by `tid > last_tid`
(RelStorage's poll, over the small transaction table). NOTIFY qpd_commit,
sent by each commit, is only a hint that wakes the other servers to poll
at once; each also polls every POLL_INTERVAL seconds and at each commit.
A client's sync is answered only after a poll that began once the sync was
asked for (all the syncs of one round of the server's loop share one), so
a commit acknowledged by any server is in every later sync; the commit
counter's file says when the server last polled, and a worker whose
request arrived before that poll, with nothing new since, leaves its sync
out (qpd.storage.commit_count).

No mixed states. Within one server Durus keeps a client from reading a new
state beside older cached ones with each client's invalid set: an oid
another client changed is answered "invalid" (a read conflict, which the
worker retries) until the client syncs. Across servers, a load can meet a
row that another server wrote after this server's last poll (its tid >
last_tid). Such a load first polls: every oid changed since goes into
every client's invalid set, the loaded one included, and the load is
answered as Durus answers an invalidated object (STATUS_INVALID, a read
conflict). So a client is never handed a row newer than what its invalid
set accounts for.

Conflicts. A commit polls again inside its PostgreSQL transaction, under
the lock. Durus's client decides a conflict by comparing the invalid oids
the server sent when the commit began with every object it *read or
wrote* in the transaction, and the server cannot know what it read; so if
any other server committed between that sync and the lock (a window of
one round trip to the client), the commit is refused as a conflict
(ConflictError: the worker retries, as it does for Durus's own), and the
oids it learned go to every client. Two servers incrementing one counter
lose no update; a transaction that read an object another host changed
meanwhile is retried, as within one Durus server.

The server's cache. The storage keeps the records it loaded or wrote,
up to CACHE_BYTES, as of last_tid: a record is dropped when a poll shows
its oid changed, replaced when this server commits it, and only a row no
newer than last_tid is kept. A load found there is answered without asking
PostgreSQL: the state as of this server's last poll, which every client's
invalid set already accounts for (what a file storage's page cache gives
its server). A commit based on such a read is still checked: the sync at
the start of the commit and the poll under the lock bring newer changes
in as conflicts.

Durability, with group commit. As qpd.storage.durable does for a file,
the server writes each commit at once and holds its answer until it is
durable: each commit's transaction runs with synchronous_commit off (its
COMMIT returns without waiting for the WAL flush, and others see it at
once), and a helper thread then commits one small transaction of its own
(it writes a row: a transaction that wrote nothing does not wait for the
flush), on its own connection, with `synchronous_commit` (and
`synchronous_standby_names`) as the operator set them: when that returns,
the WAL is flushed (and, with a synchronous standby, replicated) up to
it, so every commit written before it is durable, and their answers go
out. Commits that arrive meanwhile share the next flush. A flush that
finds, after a reconnection, that the last transaction is gone answers
none of them (see Reconnection); one that cannot reach PostgreSQL within
reconnect_for stops the server without answering (supervisord starts it
again).
With `durus_sync` off, commits are answered as soon as their COMMIT
returned.

Reconnection. When the connection to PostgreSQL fails (a restart, a
failover to a standby that libpq's multi-host `target_session_attrs=
read-write` finds), the storage reconnects for up to `reconnect_for`
seconds; a load is retried. A commit whose connection failed during its
COMMIT looks for its own transaction row once reconnected (the tid, the
transaction's start time and the oids): there, it is acknowledged; absent
while its old backend still runs that transaction (a COMMIT waiting for a
synchronous standby), it waits for the outcome; absent otherwise, or still
unknown after reconnect_for, it is never acknowledged (the client is
dropped, and sees a lost connection). So a worker's retry never repeats a
commit that happened. If the database then lacks the last transaction this
server saw, as it saw it (a crash or a failover lost commits that were written
but not yet durable, so not acknowledged, and their tids may since name
other transactions: the start time of the last one seen tells), the server
cannot tell its clients what they must forget: it drops every client
(StorageLost; held commits are never answered), and starts from the
database as it is; every worker reconnects with an empty cache. The same
when a pack pruned transactions this server had not polled yet (a server
stopped for longer than TRANSACTION_KEEP).

Packing (online): a mark from the root in steps between requests, every
oid that a poll or a commit shows as changed meanwhile marked again; the
sweep runs under the commit lock after one last poll, and drops
transaction rows older than TRANSACTION_KEEP.
"""

import collections
import time

from durus.connection import ROOT_OID
from durus.error import ConflictError, ReadConflictError
from durus.serialize import split_oids, unpack_record
from durus.storage import Storage
from durus.storage_server import ClientError
from durus.utils import int8_to_str, str_to_int8

__all__ = ['PostgresStorage', 'PostgresStorageServer', 'StorageSetupError',
           'StorageLost', 'PostgresUnavailable', 'SCHEMA_VERSION',
           'POLL_INTERVAL', 'TABLES']

SCHEMA_VERSION = '1'
POLL_INTERVAL = 1.0            # seconds between polls at the most
TRANSACTION_KEEP = '1 hour'    # transaction rows a pack keeps
OID_BATCH = 100                # oids taken from the sequence at once
CACHE_BYTES = 64 << 20         # records the server keeps in memory
_COMMIT_LOCK = 0x717064636f6d  # advisory lock keys (per database)
_SCHEMA_LOCK = 0x71706473636d
CHANNEL = 'qpd_commit'
# The transactions committed after the last one this server saw (a poll;
# in a commit, the ones that refuse it).
_NEWER_ROWS = 'SELECT tid, oids, at FROM qpd_transaction WHERE tid > %(last)s'
TABLES = ('qpd_meta', 'qpd_object', 'qpd_transaction', 'qpd_oid')

_CREATE = """
CREATE TABLE qpd_meta (
    key text PRIMARY KEY,
    value text NOT NULL);
CREATE TABLE qpd_object (
    oid bigint PRIMARY KEY,
    tid bigint NOT NULL,
    record bytea NOT NULL);
CREATE TABLE qpd_transaction (
    tid bigint PRIMARY KEY,
    oids bytea NOT NULL,
    at timestamptz NOT NULL DEFAULT now());
CREATE SEQUENCE qpd_oid START 1;
"""


class StorageSetupError(Exception):
    """The database durus_dsn names cannot serve this site; str() is one
    line naming durus_dsn and the fix."""


class PostgresUnavailable(ClientError):
    """PostgreSQL did not answer within reconnect_for seconds: the
    StorageServer drops the client whose request needed it (a Durus
    ClientError) and serves the others."""


class StorageLost(Exception):
    """This server can no longer tell its clients what changed (the
    database went back in time, or dropped transactions it had not
    polled): it must stop, so that its clients reconnect afresh."""


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise StorageSetupError(
            "durus_storage='postgresql' needs psycopg 3: "
            "pip install 'qpd[postgresql]'") from None
    return psycopg


def _first_line(error):
    text = str(error).strip() or error.__class__.__name__
    return ' '.join(text.splitlines()[0].split())


def _connect_fix(error):
    """(error:str) -> str: what to do about a failed connection."""
    if 'does not exist' in error and 'database' in error:
        return ('create the database (createdb, as a PostgreSQL superuser), '
                'or correct dbname in durus_dsn')
    if 'password' in error or 'authentication' in error:
        return ("put the role's password in the server user's ~/.pgpass "
                '(mode 0600) or PGPASSWORD, or correct user in durus_dsn')
    return 'start the database server, or correct host and port in durus_dsn'


def _root_record():
    """() -> bytes: the record of a new root, as Durus makes it."""
    from durus.connection import Connection
    from durus.storage import MemoryStorage
    memory = MemoryStorage()
    Connection(memory)
    return memory.records[ROOT_OID]


def _pack_oids(oids):
    return b''.join(oids)


class PostgresStorage(Storage):
    """(dsn:str, site:str=None, create=True, reconnect_for:float=30.0,
        say=None)
    A Durus Storage in the PostgreSQL database dsn names (see the module's
    docstring). site: the site whose objects these are; a database made
    for another site is refused. create: make the tables when there are
    none (say(line) reports it; default: a line on stderr).
    """

    def __init__(self, dsn, site=None, create=True, reconnect_for=30.0,
                 say=None):
        self.psycopg = _psycopg()
        self.dsn = dsn
        self.site = site
        self.reconnect_for = reconnect_for
        self.say = say
        self.conn = None
        self.down_since = None      # monotonic time the outage began
        self.last_tid = 0
        self.last_at = None         # the `at` of transaction last_tid
        self.invalid = set()        # oids for the next sync()
        self.pending = {}           # oid -> record of the commit under way
        self.oid_pool = []
        self.pack_extra = None      # oids to mark again, while packing
        self.polls = 0              # polls made
        self.news = 0               # other servers' transactions seen
        self.on_news = None         # called with the count, when news come
        self.notified = False       # a NOTIFY came during a query
        self.cache = {}             # oid -> record, as of last_tid
        self.cache_bytes = 0
        self.cache_limit = CACHE_BYTES
        self.cache_hits = 0
        self.defer_flush = False    # commit with synchronous_commit off
        self.flush_conn = None      # the flushing thread's connection
        self._connect(first=True)
        self._check_schema(create)
        self.last_tid, self.last_at = self._newest()

    # Connecting ------------------------------------------------------------

    def _describe(self):
        return 'durus_dsn=%r' % self.dsn

    def _connect(self, first=False):
        psycopg = self.psycopg
        try:
            conn = psycopg.connect(self.dsn, autocommit=True,
                                   connect_timeout=10)
        except psycopg.ProgrammingError as e:
            raise StorageSetupError(
                '%s is not a libpq connection string (%s): write it as '
                "'host=/run/postgresql dbname=NAME' or a service name" % (
                    self._describe(), _first_line(e))) from None
        except psycopg.OperationalError as e:
            if first:
                raise StorageSetupError(
                    'cannot connect to PostgreSQL with %s (%s): %s' % (
                        self._describe(), _first_line(e),
                        _connect_fix(str(e)))) from None
            raise
        conn.prepare_threshold = 0
        conn.add_notify_handler(self._notice_notify)
        conn.execute('LISTEN %s' % CHANNEL)
        # The operator's setting, for commits that are not deferred.
        self.synchronous_commit = conn.execute(
            'SHOW synchronous_commit').fetchone()[0]
        self.conn = conn

    def _notice_notify(self, notify):
        if notify.pid != self.conn.info.backend_pid:
            self.notified = True

    def _reconnect(self):
        """Connect again, for up to reconnect_for seconds; then check that
        the database did not lose transactions this storage saw."""
        try:
            self.conn.close()
        except Exception:
            pass
        # One deadline per outage: once it passed, each call tries once
        # (the server keeps serving what needs no database meanwhile).
        if self.down_since is None:
            self.down_since = time.monotonic()
        deadline = self.down_since + self.reconnect_for
        while True:
            try:
                self._connect()
                self.down_since = None
                break
            except self.psycopg.OperationalError as e:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(
                        'PostgreSQL (%s) does not answer: %s' % (
                            self._describe(), _first_line(e))) from None
                time.sleep(0.2)
        if not self._has(self.last_tid, self.last_at):
            raise StorageLost(
                'the database of %s no longer has transaction %d as this '
                'server saw it (commits not yet acknowledged, lost in a '
                'crash or a failover): its clients start afresh'
                % (self._describe(), self.last_tid))

    def _has(self, tid, at, conn=None):
        """(tid:int, at, conn=None) -> bool: is transaction tid, begun at
        `at`, in the database (tid 0: nothing yet, always)? After a crash
        or a failover the tids after the last durable one are given again
        to other transactions: the start time tells them apart."""
        if not tid:
            return True
        row = (conn or self.conn).execute(
            'SELECT at FROM qpd_transaction WHERE tid = %s',
            (tid,)).fetchone()
        return row is not None and row[0] == at

    def start_afresh(self):
        """() -> None: forget what this storage knew (after StorageLost):
        start from the newest transaction, with no cached record and no
        oid taken from the sequence; the server drops every client."""
        self.last_tid, self.last_at = self._newest()
        self.clear_cache()
        self.invalid.clear()
        self.pending = {}
        self.oid_pool = []
        self.pack_extra = None

    def _retrying(self, function, *args):
        """function(*args), once more after a reconnection when the
        connection failed (for what can be repeated: reads)."""
        try:
            return function(*args)
        except self.psycopg.OperationalError:
            self._reconnect()
            return function(*args)

    def _query(self, sql, params=None):
        return self.conn.execute(sql, params, binary=True)

    # The schema ------------------------------------------------------------

    def _check_schema(self, create):
        with self.conn.transaction():
            self._query('SELECT pg_advisory_xact_lock(%s)', (_SCHEMA_LOCK,))
            present = [name for name in TABLES if self._query(
                'SELECT to_regclass(%s) IS NOT NULL', (name,)).fetchone()[0]]
            if not present:
                if not create:
                    raise StorageSetupError(
                        'the database of %s has no qpd tables: start the '
                        'StorageServer once to make them' % self._describe())
                for statement in _CREATE.split(';'):
                    if statement.strip():
                        self._query(statement)
                self._query("INSERT INTO qpd_meta VALUES ('schema', %s), "
                            "('site', %s)", (SCHEMA_VERSION, self.site or ''))
                # The root (oid 0) in the first transaction: servers that
                # start together never race to make it.
                self._query('INSERT INTO qpd_transaction (tid, oids) '
                            'VALUES (1, %s)', (ROOT_OID,))
                self._query('INSERT INTO qpd_object VALUES (0, 1, %s)',
                            (_root_record(),))
                self._say('made the qpd tables (%s) in the database of %s' % (
                    ', '.join(TABLES), self._describe()))
                return
        missing = [name for name in TABLES if name not in present]
        if missing:
            raise StorageSetupError(
                'the database of %s lacks %s (it has %s): it is not a whole '
                'qpd database; restore it from a backup, or point durus_dsn '
                'at an empty database' % (self._describe(),
                                          ', '.join(missing),
                                          ', '.join(present)))
        meta = dict(self.conn.execute(
            'SELECT key, value FROM qpd_meta').fetchall())
        if meta.get('schema') != SCHEMA_VERSION:
            raise StorageSetupError(
                'the qpd tables of %s are of schema %r, this qpd reads %r: '
                'use the qpd that made them' % (
                    self._describe(), meta.get('schema'), SCHEMA_VERSION))
        owner = meta.get('site') or ''
        if self.site and owner and owner != self.site:
            raise StorageSetupError(
                "the database of %s holds site %s's objects, not %s's: point "
                "durus_dsn at %s's own database" % (
                    self._describe(), owner, self.site, self.site))

    def _say(self, line):
        if self.say is not None:
            self.say(line)
        else:
            import sys
            sys.stderr.write('qpd durus: %s\n' % line)
            sys.stderr.flush()

    def _newest(self):
        """() -> (tid, at) of the newest transaction, (0, None) if none."""
        row = self._query('SELECT tid, at FROM qpd_transaction '
                          'ORDER BY tid DESC LIMIT 1').fetchone()
        return (row[0], row[1]) if row else (0, None)

    # Polling ---------------------------------------------------------------

    def _poll_rows(self):
        return self._query(_NEWER_ROWS + ' ORDER BY tid',
                           dict(last=self.last_tid)).fetchall()

    def _take(self, rows):
        """Account for polled rows: their oids become invalid; -> the oids."""
        self.polls += 1
        if not rows:
            return []
        if rows[0][0] != self.last_tid + 1:
            raise StorageLost(
                'transactions %d to %d of %s were pruned before this server '
                'polled them: its clients start afresh'
                % (self.last_tid + 1, rows[0][0] - 1, self._describe()))
        oids = []
        for tid, packed, at in rows:
            oids.extend(split_oids(bytes(packed)))
        self.last_tid, self.last_at = rows[-1][0], rows[-1][2]
        self._forget(oids)
        self.invalid.update(oids)
        if self.pack_extra is not None:
            self.pack_extra.extend(oids)
        self.news += len(rows)
        if self.on_news is not None:
            self.on_news(len(rows))
        return oids

    def poll(self):
        """() -> [oid]: learn the transactions committed since the last
        poll (by any server); their oids are also kept for sync()."""
        self.notified = False
        return self._take(self._retrying(self._poll_rows))

    def sync(self):
        """() -> [oid]: poll, and every oid invalidated since the last
        sync()."""
        self.poll()
        result = list(self.invalid)
        self.invalid.clear()
        return result

    # The cache -------------------------------------------------------------

    def _remember(self, oid, record):
        old = self.cache.pop(oid, None)
        if old is not None:
            self.cache_bytes -= len(old)
        self.cache[oid] = record
        self.cache_bytes += len(record)
        while self.cache_bytes > self.cache_limit and self.cache:
            first = next(iter(self.cache))
            self.cache_bytes -= len(self.cache.pop(first))

    def _forget(self, oids):
        cache = self.cache
        for oid in oids:
            record = cache.pop(oid, None)
            if record is not None:
                self.cache_bytes -= len(record)

    def clear_cache(self):
        """() -> None: forget every cached record."""
        self.cache.clear()
        self.cache_bytes = 0

    # Loading ---------------------------------------------------------------

    def _select(self, ints):
        if len(ints) == 1:
            return self._query('SELECT oid, tid, record FROM qpd_object '
                               'WHERE oid = %s', (ints[0],)).fetchall()
        return self._query('SELECT oid, tid, record FROM qpd_object '
                           'WHERE oid = ANY(%s)', (ints,)).fetchall()

    def load_many(self, oids):
        """(oids:[oid]) -> ({oid: record}, newer:bool)
        The records there are; newer when one was written after the last
        poll, in which case this polled (its oids, and those rows', are
        now in self.invalid): answer them as invalidated."""
        records = {}
        cache = self.cache
        missing = []
        for oid in oids:
            record = cache.get(oid)
            if record is None:
                missing.append(oid)
            else:
                records[oid] = record
        self.cache_hits += len(records)
        if not missing:
            return records, False
        rows = self._retrying(self._select, [str_to_int8(o) for o in missing])
        newer = []
        for oid, tid, record in rows:
            oid = int8_to_str(oid)
            record = records[oid] = bytes(record)
            if tid > self.last_tid:
                newer.append(oid)
            else:
                self._remember(oid, record)
        if newer:
            self.poll()
            self.invalid.update(newer)
        return records, bool(newer)

    def load(self, oid):
        """(oid) -> record; KeyError; ReadConflictError when the row is
        newer than the last poll (after polling)."""
        records, newer = self.load_many([oid])
        if oid not in records:
            raise KeyError(oid)
        if newer:
            raise ReadConflictError([oid])
        return records[oid]

    def bulk_load(self, oids):
        """(oids) -> [record]: as load() for each."""
        records, newer = self.load_many(list(oids))
        for oid in oids:
            if oid not in records:
                raise KeyError(oid)
        if newer:
            raise ReadConflictError(list(self.invalid & set(oids)))
        return [records[oid] for oid in oids]

    def _gen_all(self, batch_size):
        after = -1
        while True:
            rows = self._retrying(lambda: self._query(
                'SELECT oid, record FROM qpd_object WHERE oid > %s '
                'ORDER BY oid LIMIT %s', (after, batch_size)).fetchall())
            if not rows:
                return
            for oid, record in rows:
                yield int8_to_str(oid), bytes(record)
            after = rows[-1][0]

    def gen_oid_record(self, start_oid=None, batch_size=100):
        """(start_oid=None, batch_size=100) -> iter((oid, record)): every
        row in oid order; from start_oid, Durus's breadth-first walk."""
        if start_oid is None:
            return self._gen_all(batch_size)
        return Storage.gen_oid_record(self, start_oid, batch_size)

    # New oids --------------------------------------------------------------

    def new_oid(self):
        """() -> oid: an oid never handed out before (from the sequence,
        OID_BATCH at a time)."""
        if not self.oid_pool:
            rows = self._retrying(lambda: self._query(
                "SELECT nextval('qpd_oid') FROM generate_series(1, %s)",
                (OID_BATCH,)).fetchall())
            self.oid_pool = [int8_to_str(n) for (n,) in reversed(rows)]
        return self.oid_pool.pop()

    # Committing ------------------------------------------------------------

    def begin(self):
        self.pending = {}

    def store(self, oid, record):
        self.pending[oid] = record

    def end(self, handle_invalidations=None):
        """(handle_invalidations=None) -> None: commit what was stored, in
        one PostgreSQL transaction (see the module's docstring);
        ConflictError when another server committed since the last poll,
        after handle_invalidations(oids) told of what it changed."""
        pending, self.pending = self.pending, {}
        if not pending:
            return
        oids = list(pending)
        psycopg = self.psycopg
        learned = None
        started = None      # (now(), backend pid): the row's `at`
        tid = self.last_tid + 1
        conn = self.conn
        try:
            # Three round trips. BEGIN with the lock (a client-side cursor
            # sends both in one string), the wake-up for other servers
            # (sent only if this commits), no wait for the WAL flush when
            # flush() makes the commits durable, and the transaction's
            # start time and backend, to find it again if the connection
            # fails. Then the write, made only when no other server
            # committed since this one's last poll (else the rows of those
            # commits come back, nothing is written, and it rolls back).
            # Then COMMIT.
            try:
                cursor = psycopg.ClientCursor(conn)
                cursor.execute(
                    "BEGIN; SELECT pg_advisory_xact_lock(%s), "
                    "pg_notify(%s, ''), "
                    "set_config('synchronous_commit', %s, true), "
                    "now(), pg_backend_pid()",
                    (_COMMIT_LOCK, CHANNEL,
                     'off' if self.defer_flush else self.synchronous_commit))
                while cursor.description is None and cursor.nextset():
                    pass        # past BEGIN's result
                started = cursor.fetchone()[3:]
                learned = self._query(
                    'WITH news AS (' + _NEWER_ROWS + '), '
                    't AS (INSERT INTO qpd_transaction (tid, oids) '
                    '  SELECT %(tid)s, %(packed)s '
                    '  WHERE NOT EXISTS (SELECT FROM news)), '
                    'o AS (INSERT INTO qpd_object (oid, tid, record) '
                    '  SELECT u.o, %(tid)s, u.r '
                    '  FROM unnest(%(oids)s::bigint[], %(records)s::bytea[]) '
                    '  AS u(o, r) WHERE NOT EXISTS (SELECT FROM news) '
                    '  ON CONFLICT (oid) DO UPDATE '
                    '  SET tid = EXCLUDED.tid, record = EXCLUDED.record) '
                    'SELECT tid, oids, at FROM news ORDER BY tid',
                    dict(last=self.last_tid, tid=tid,
                         packed=_pack_oids(oids),
                         oids=[str_to_int8(o) for o in oids],
                         records=[pending[o] for o in oids])).fetchall()
            except psycopg.Error:
                if not conn.closed:
                    try:
                        conn.execute('ROLLBACK')
                    except psycopg.Error:
                        pass
                raise
            if learned:
                conn.execute('ROLLBACK')
                raise _Refused()
            conn.execute('COMMIT')
        except _Refused:
            changed = self._take(learned)
            if handle_invalidations is not None:
                handle_invalidations(changed)
            raise ConflictError(sorted(set(changed) & set(oids))
                                or changed[:1])
        except psycopg.errors.UniqueViolation:
            # Another writer that does not take the lock: never ours.
            raise ConflictError(oids[:1]) from None
        except psycopg.OperationalError as e:
            # The outcome of COMMIT is unknown until the row is looked for.
            self._reconnect_quietly()
            if started is None or not self._committed(
                    self.last_tid + 1, started, _pack_oids(oids)):
                raise PostgresUnavailable(
                    'a commit failed (%s); it is not acknowledged' %
                    _first_line(e)) from None
            tid = self.last_tid + 1
            self._say('transaction %d committed, though its connection '
                      'failed (%s)' % (tid, _first_line(e)))
        self.last_tid, self.last_at = tid, started[0]
        for oid in oids:
            self._remember(oid, pending[oid])
        if self.pack_extra is not None:
            self.pack_extra.extend(oids)

    def flush(self, target):
        """(target:(tid, at)) -> None: make every commit up to transaction
        tid (begun at `at`) durable: commit a transaction that writes a row
        (qpd_meta's 'flushed'), on the flushing connection, with the
        operator's synchronous_commit (see the module's docstring). On a
        new connection (the first, or after one failed: PostgreSQL
        restarted, or failed over), flush only if transaction tid, begun at
        `at`, is there: it and every one before it survived; else
        StorageLost. Called from the server's syncer thread only."""
        psycopg = self.psycopg
        try:
            there = self._flush(target if self.flush_conn is None else None)
        except psycopg.OperationalError:
            self._close_flush()
            deadline = time.monotonic() + self.reconnect_for
            while True:
                try:
                    there = self._flush(target)
                    break
                except psycopg.OperationalError:
                    self._close_flush()
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        if not there:
            raise StorageLost(
                'transaction %d is not in the database of %s after it '
                'reconnected (lost in a crash or a failover): its commits '
                'are not acknowledged and the clients start afresh' % (
                    target[0], self._describe()))

    def _flush(self, target=None):
        if self.flush_conn is None:
            self.flush_conn = self.psycopg.connect(
                self.dsn, connect_timeout=10, autocommit=True)
        there = target is None or self._has(*target, conn=self.flush_conn)
        # One statement, its own transaction: one round trip. A row
        # written, not just an xid taken: PostgreSQL commits a transaction
        # that wrote no WAL of its own without waiting for the flush (nor
        # for the synchronous standby).
        self.flush_conn.execute(
            "INSERT INTO qpd_meta VALUES ('flushed', %s) ON CONFLICT (key) "
            "DO UPDATE SET value = EXCLUDED.value",
            (str(target[0] if target else ''),))
        return there

    def _close_flush(self):
        conn, self.flush_conn = self.flush_conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass

    def _committed(self, tid, started, packed):
        """(tid:int, started:(datetime, int), packed:bytes) -> bool: did
        the commit whose connection failed (its transaction began at
        started[0], in backend started[1]) commit after all? Its
        transaction row says so, on this server or on a promoted standby
        (a synchronous one has every commit the primary could have
        acknowledged). While that transaction still runs (a COMMIT waiting
        for a synchronous standby), wait for it, up to reconnect_for
        seconds; False when the row is not there, or the outcome is still
        unknown (the commit is then not acknowledged either way)."""
        at, pid = started
        deadline = time.monotonic() + self.reconnect_for

        def there():
            return self._query(
                'SELECT 1 FROM qpd_transaction WHERE tid = %s AND at = %s '
                'AND oids = %s', (tid, at, packed)).fetchone() is not None
        while self.conn is not None and not self.conn.closed:
            try:
                if there():
                    return True
                running = self._query(
                    'SELECT 1 FROM pg_stat_activity WHERE pid = %s AND '
                    'xact_start = %s', (pid, at)).fetchone()
                # It may have ended between the two looks: committed
                # after the first, gone before the second.
                if not running:
                    return there()
            except self.psycopg.OperationalError:
                return False
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return False

    def _reconnect_quietly(self):
        try:
            self._reconnect()
        except PostgresUnavailable:
            pass

    # Packing ---------------------------------------------------------------

    def _refs(self, oids):
        records = {}
        for start in range(0, len(oids), 500):
            part = oids[start:start + 500]
            rows = self._retrying(self._select, [str_to_int8(o) for o in part])
            for oid, tid, record in rows:
                records[int8_to_str(oid)] = bytes(record)
        refs = []
        for record in records.values():
            refs.extend(split_oids(unpack_record(record)[2]))
        return refs

    def get_packer(self):
        """() -> generator|None: an online pack in steps (see the module's
        docstring); None when one runs already."""
        if self.pack_extra is not None:
            return None
        self.pack_extra = []
        return self._packer()

    def _packer(self):
        alive = set()
        todo = collections.deque([ROOT_OID])
        try:
            yield 'started'
            while True:
                self._mark(alive, todo, step=200)
                if not todo and not self.pack_extra:
                    with self.conn.transaction():
                        self._query('SELECT pg_advisory_xact_lock(%s)',
                                    (_COMMIT_LOCK,))
                        self._take(self._poll_rows())
                        if self.pack_extra:
                            # Changed meanwhile: mark them, under the lock.
                            self._mark(alive, todo, step=None)
                        ints = [str_to_int8(o) for o in alive]
                        removed = self._query(
                            'DELETE FROM qpd_object WHERE NOT '
                            '(oid = ANY(%s))', (ints,)).rowcount
                        self._query(
                            'DELETE FROM qpd_transaction WHERE tid < %s AND '
                            "at < now() - interval '" + TRANSACTION_KEEP +
                            "'", (self.last_tid,))
                    self.clear_cache()
                    yield 'finished: %d live objects, %d removed' % (
                        len(alive), removed)
                    return
                yield None
        finally:
            self.pack_extra = None

    def _mark(self, alive, todo, step):
        """Mark from todo and pack_extra; step: at most that many oids
        (None: until done)."""
        done = 0
        while todo or self.pack_extra:
            batch = []
            while self.pack_extra and len(batch) < 100:
                batch.append(self.pack_extra.pop())
            while todo and len(batch) < 100:
                oid = todo.popleft()
                if oid not in alive:
                    batch.append(oid)
            alive.update(batch)
            todo.extend(ref for ref in self._refs(batch) if ref not in alive)
            done += len(batch)
            if step is not None and done >= step:
                return

    def pack(self):
        for step in self.get_packer() or ():
            pass

    # The rest --------------------------------------------------------------

    def count_objects(self):
        """() -> int: rows in qpd_object."""
        return self._retrying(lambda: self._query(
            'SELECT count(*) FROM qpd_object').fetchone()[0])

    def fileno(self):
        """() -> int: the connection's socket, readable when a NOTIFY (or
        a closed connection) waits."""
        return self.conn.fileno()

    def get_filename(self):
        """() -> str: what names this storage in messages."""
        return self._describe()

    def close(self):
        for name in ('flush_conn', 'conn'):
            conn = getattr(self, name)
            if conn is not None:
                setattr(self, name, None)
                try:
                    conn.close()
                except Exception:
                    pass

    def __str__(self):
        return 'PostgresStorage(%s)' % self._describe()


class _Refused(Exception):
    """Inside end(): another server committed meanwhile; nothing was
    written."""



def _server_base():
    from qpd.storage.durable import DurableStorageServer
    return DurableStorageServer


class PostgresStorageServer(_server_base()):
    """(storage:PostgresStorage, address, sync=True, on_listening=None,
        commit_counter=None)
    The StorageServer of a PostgresStorage: qpd.storage.durable's server
    (with sync, its group commit: a flush on the storage's second
    connection makes the written commits durable), that also polls
    when a NOTIFY wakes it and every POLL_INTERVAL, advances the commit
    counter for what its polls saw, and answers loads as the module's
    docstring says."""

    def __init__(self, storage, address, sync=True, on_listening=None,
                 commit_counter=None):
        _server_base().__init__(self, storage, address, sync=sync,
                                on_listening=on_listening,
                                commit_counter=commit_counter)
        self.polled_at = time.monotonic()
        storage.on_news = self._news
        storage.defer_flush = sync

    def make_syncer(self):
        from qpd.storage.durable import _Syncer
        return _Syncer(self.storage.flush)

    def get_sync_target(self):
        return (self.storage.last_tid, self.storage.last_at)

    # Starting afresh -------------------------------------------------------

    def serve_client(self, s):
        try:
            _server_base().serve_client(self, s)
        except StorageLost as e:
            self.start_afresh(e)

    def synced_up(self):
        if isinstance(self.syncer.error, StorageLost):
            error, self.syncer.error = self.syncer.error, None
            self.syncer.consume()
            self.syncing = None
            self.start_afresh(error)
            return
        _server_base().synced_up(self)

    def start_afresh(self, error):
        """(error:StorageLost) -> None: the database lost transactions this
        server saw (a crash or a failover before they were durable): no
        client may go on with what it cached. Every client is dropped
        without an answer (held commits were never acknowledged; workers
        reconnect with an empty cache) and the storage starts from the
        database as it is."""
        from qpd.lib.process import log_line
        log_line(None, 'qpd durus: %s' % error)
        for client in list(self.clients):
            self.drop(client.s)
        self.held = []
        self.written = self.synced
        self.packer = None
        self.storage.start_afresh()
        if self.commit_counter is not None:
            self.commit_counter.advance()

    def pack_done(self):
        pass

    def _news(self, count):
        # Other servers' commits, seen by a poll: local clients must make
        # their next sync a real one.
        if self.commit_counter is not None:
            self.commit_counter.advance()

    def _sync_storage(self):
        began = time.monotonic_ns()
        self.polled_at = began / 1e9
        _server_base()._sync_storage(self)
        self.round_polled = True
        if self.commit_counter is not None:
            self.commit_counter.polled(began)

    # Syncs: one poll for a round's ----------------------------------------

    round_polled = False    # has the database been polled since select()?

    def begin_round(self):
        self.round_polled = False

    def handle_S(self, s):
        # Every sync served in this round was asked for before select()
        # returned, so a poll made since shows it every commit acknowledged
        # before it was asked for: the round's syncs share one poll.
        from durus.utils import int4_to_str, join_bytes, write_all
        if not self.round_polled:
            self._sync_storage()
        client = self._find_client(s)
        write_all(s, int4_to_str(len(client.invalid)),
                  join_bytes(client.invalid))
        client.invalid.clear()

    # The loop's hooks ------------------------------------------------------

    def get_watched(self):
        conn = self.storage.conn
        if conn is None or conn.closed:     # down: polled on the timeout
            return []
        return [self.storage.fileno()]

    def on_watched(self, fd):
        self.poll_now()

    def get_timeout(self):
        return max(0.0, self.polled_at + POLL_INTERVAL - time.monotonic())

    def after_round(self):
        if (self.storage.notified
                or time.monotonic() - self.polled_at >= POLL_INTERVAL):
            self.poll_now()

    def poll_now(self):
        """() -> None: poll, and hand what changed to every client."""
        try:
            self._sync_storage()
        except StorageLost as e:
            self.polled_at = time.monotonic()
            self.start_afresh(e)
        except PostgresUnavailable as e:
            self.polled_at = time.monotonic()
            from durus.logger import log
            log(30, '%s', e)

    # Loads -----------------------------------------------------------------

    def _send_load_response(self, s, oid):
        self._answer_loads(s, [oid])

    def handle_B(self, s):
        from durus.utils import read, read_int4
        count = read_int4(s)
        self._answer_loads(s, split_oids(read(s, 8 * count)))

    def _answer_loads(self, s, oids):
        from durus.storage_server import (
            STATUS_INVALID, STATUS_KEYERROR, STATUS_OKAY)
        from durus.utils import int4_to_str, write_all
        client = self._find_client(s)
        records, newer = self.storage.load_many(
            [oid for oid in oids if oid not in client.invalid])
        if newer:
            # Caught up: every client learns what changed before any is
            # answered, this one too.
            self._sync_storage()
        answer = []
        for oid in oids:
            if oid in client.invalid:
                answer.append(STATUS_INVALID)
            elif oid in records:
                record = records[oid]
                answer.extend((STATUS_OKAY, int4_to_str(len(record)), record))
            else:
                answer.append(STATUS_KEYERROR)
        write_all(s, *answer)


def check_database(dsn, site=None, progress=None):
    """(dsn:str, site:str=None, progress=None) -> qpd.storage.check.
        CheckReport
    `qpd check` on a PostgreSQL site: every object reachable from the root
    is read and unpickled, every reference followed, in one REPEATABLE
    READ transaction (one consistent state while the site runs). Raises
    StorageSetupError (one line) when the database cannot be checked."""
    from qpd.storage.check import CheckReport, walk_from_root
    say = progress or (lambda text: None)
    storage = PostgresStorage(dsn, site=site, create=False)
    try:
        conn = storage.conn
        conn.isolation_level = storage.psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        report = CheckReport(storage._describe())
        with conn.transaction():
            index = {int8_to_str(oid) for (oid,) in conn.execute(
                'SELECT oid FROM qpd_object')}
            report.objects = report.records = len(index)
            report.transactions, report.committed_end = conn.execute(
                'SELECT (SELECT count(*) FROM qpd_transaction), '
                '(SELECT coalesce(sum(length(record)), 0) FROM qpd_object)'
            ).fetchone()
            report.size = report.committed_end

            def read(oid):
                return bytes(conn.execute(
                    'SELECT record FROM qpd_object WHERE oid = %s',
                    (str_to_int8(oid),), binary=True).fetchone()[0])
            walk_from_root(report, index.__contains__, read, say)
        return report
    finally:
        storage.close()
