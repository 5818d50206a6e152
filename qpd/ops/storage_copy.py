"""`qpd copy NAME SRC DEST`: a site's database copied between a Durus file
and PostgreSQL, either way (or file to file, PostgreSQL to PostgreSQL),
then verified: the copy has as many objects as the source, and `qpd
check`'s walk from the root finds every object readable and every
reference whole.

SRC and DEST. The word `file` is the site's own Durus file
(sites/NAME/var/NAME.durus, `durus_file`), the word `postgresql` the
database of the site's `durus_dsn`; anything else with `=` or `://` in it
is a libpq connection string (checked as durus_dsn is: never a password),
anything else a file path. So moving a site to PostgreSQL is: set
durus_dsn, `qpd stop NAME`, `qpd copy NAME file postgresql`, set
durus_storage = 'postgresql', `qpd start NAME`; and back, `qpd copy NAME
postgresql file`.

What is copied. Every object's current record, byte for byte and under
its own oid: no object is unpickled to be copied, so nothing about the
site's classes matters until the check (which imports the site's code, as
`qpd check` does). A copy is not a pack: unreachable records are copied
too (and counted apart by the check).

Consistency. A PostgreSQL source is read in one REPEATABLE READ
transaction: one consistent state, also while the site runs (so `qpd copy
NAME postgresql /backups/NAME.durus` is a live snapshot as a Durus file).
A file source needs the site stopped (its StorageServer not answering): a
copy would miss the commits made after it began, and moving the site to
PostgreSQL is the moment it switches storage anyway.

Writing. Into PostgreSQL: the database must hold no qpd tables yet, or
only what a StorageServer's first start made (the empty root); the tables
are made for site NAME (qpd.storage.postgresql), the records written in
transactions of BATCH_BYTES or so, and the oid sequence set past the
largest oid. Into a file: a new shelf (Durus's own packed layout, one
transaction) in a private temporary file beside DEST, synced and renamed
to DEST; an existing DEST is refused unless --force.
"""

import os

from qpd.ops.errors import OperationError, UsageError
from qpd.ops.progress import Progress, say

__all__ = ['copy_storage', 'parse_location', 'CopyReport', 'BATCH_BYTES']

BATCH_BYTES = 8 << 20       # records per PostgreSQL transaction, about
_BATCH_RECORDS = 5000
_PROGRESS_EVERY = 5000


class Location:
    """(kind:str, where:str) kind 'file' (where: a path) or 'postgresql'
    (where: a libpq connection string)."""

    def __init__(self, kind, where):
        self.kind = kind
        self.where = where

    def __str__(self):
        if self.kind == 'file':
            return self.where
        return 'PostgreSQL (%s)' % self.where

    def __eq__(self, other):
        return (isinstance(other, Location) and
                (self.kind, self.where) == (other.kind, other.where))


def parse_location(site, text, role):
    """(site:Site, text:str, role:str) -> Location: SRC or DEST (role)
    as the module's docstring says; UsageError in one line."""
    if text == 'file':
        return Location('file', site.get_durus_file())
    if text == 'postgresql':
        dsn = site.get('durus_dsn')
        if not dsn:
            raise UsageError(
                "%s is 'postgresql', but site %s has no durus_dsn: set "
                "durus_dsn = 'host=/run/postgresql dbname=%s' in its "
                "configuration (durus_storage may stay 'file' until the "
                "copy is made)" % (role, site.get_name(), site.get_name()))
        return Location('postgresql', dsn)
    if '=' in text or '://' in text:
        from qpd.config import dsn as dsn_check
        try:
            return Location('postgresql', dsn_check()(text))
        except ValueError as e:
            problem = getattr(e, 'problem', 'is not a libpq connection '
                                            'string')
            fix = getattr(e, 'fix', "write it as 'host=/run/postgresql "
                                    "dbname=NAME'")
            raise UsageError('%s %s: %s' % (role, problem, fix)) from None
    return Location('file', os.path.abspath(text))


class CopyReport:
    """What a copy did: source, dest (Location), objects (copied), batches
    (PostgreSQL transactions written), check (the dest's CheckReport)."""

    def __init__(self, source, dest):
        self.source = source
        self.dest = dest
        self.objects = 0
        self.bytes = 0
        self.batches = 0
        self.check = None

    def summary(self):
        """() -> str: one line."""
        return ('copied %d objects (%s) from %s to %s; the copy has %d '
                'objects, %d reachable from the root: %s' % (
                    self.objects, _megabytes(self.bytes), self.source,
                    self.dest, self.check.objects, self.check.reachable,
                    'clean' if self.check.is_clean() else 'NOT clean'))


def _megabytes(n):
    if n < 1e6:
        return '%d bytes' % n
    return '%.1f MB' % (n / 1e6)


def copy_storage(site, source, dest, force=False, progress=None):
    """(site:Site, source:Location, dest:Location, force=False,
        progress=None) -> CopyReport
    Copy, count and check (see the module's docstring); OperationError or
    UsageError in one line when it cannot."""
    from qpd.ops.backup import is_storage_running
    from qpd.storage.postgresql import StorageSetupError
    progress = progress or Progress()
    if source == dest:
        raise UsageError('SRC and DEST are both %s: name two different '
                         'databases' % source)
    if source.kind == 'file' and is_storage_running(site):
        raise OperationError(
            "site %s's StorageServer is running: stop the site first (qpd "
            'stop %s), so that no commit is made after the copy begins'
            % (site.get_name(), site.get_name()))
    report = CopyReport(source, dest)
    try:
        reader = _open_source(site, source)
        try:
            expected = reader.count()
            records = _counting(reader.records(), report, progress,
                                expected)
            if dest.kind == 'postgresql':
                _write_postgresql(site, dest.where, records, report,
                                  progress)
            else:
                _write_file(dest.where, records, force)
        finally:
            reader.close()
        if report.objects != expected:
            raise OperationError(
                'the source changed while it was copied (%d objects '
                'counted, %d copied): stop the site and copy again' % (
                    expected, report.objects))
        report.check = _check(site, dest, progress)
    except StorageSetupError as e:
        raise OperationError('qpd copy %s: %s' % (site.get_name(), e)
                             ) from None
    progress.done()
    if report.check.objects != report.objects:
        raise OperationError(
            '%s has %d objects after the copy, %d were copied: it was not '
            'empty, or something wrote to it meanwhile' % (
                dest, report.check.objects, report.objects))
    return report


def _counting(records, report, progress, expected):
    for oid, record in records:
        report.objects += 1
        report.bytes += len(record)
        if report.objects % _PROGRESS_EVERY == 0:
            progress.update('copying: %d of %d objects' % (
                report.objects, expected))
        yield oid, record


# Reading -----------------------------------------------------------------

class _FileSource:

    def __init__(self, path):
        from durus.shelf import Shelf
        if not os.path.isfile(path):
            raise OperationError('SRC %s is not a file (a site makes its '
                                 'Durus file when it first starts)' % path)
        try:
            self.shelf = Shelf(path, readonly=True)
        except Exception as e:
            raise OperationError(
                'SRC %s is not a readable Durus file (%s: %s): see qpd '
                'check --file %s' % (path, type(e).__name__, e, path)
            ) from None

    def count(self):
        return sum(1 for _ in self.shelf.iterindex())

    def records(self):
        return self.shelf.iteritems()

    def close(self):
        self.shelf.close()


class _PostgresSource:

    def __init__(self, site, dsn):
        from qpd.storage.postgresql import PostgresStorage
        self.storage = PostgresStorage(dsn, site=site.get_name(),
                                       create=False)
        conn = self.conn = self.storage.conn
        conn.isolation_level = (
            self.storage.psycopg.IsolationLevel.REPEATABLE_READ)
        conn.read_only = True
        self.transaction = conn.transaction()
        self.transaction.__enter__()

    def count(self):
        return self.conn.execute(
            'SELECT count(*) FROM qpd_object').fetchone()[0]

    def records(self):
        from durus.utils import int8_to_str
        cursor = self.conn.cursor(name='qpd_copy', binary=True)
        cursor.itersize = 1000
        cursor.execute('SELECT oid, record FROM qpd_object ORDER BY oid')
        for oid, record in cursor:
            yield int8_to_str(oid), bytes(record)
        cursor.close()

    def close(self):
        try:
            self.transaction.__exit__(None, None, None)
        finally:
            self.storage.close()


def _open_source(site, location):
    if location.kind == 'file':
        return _FileSource(location.where)
    return _PostgresSource(site, location.where)


# Writing -----------------------------------------------------------------

def _write_postgresql(site, dsn, records, report, progress):
    from durus.utils import str_to_int8
    from qpd.storage.postgresql import PostgresStorage
    storage = PostgresStorage(dsn, site=site.get_name(), say=say)
    try:
        top = storage.last_tid
        objects = storage.count_objects()
        if top > 1 or objects > 1:
            raise OperationError(
                'DEST %s already holds %d objects in %d transactions: copy '
                'into an empty database (createdb NAME), or drop its qpd '
                'tables first (DROP TABLE qpd_meta, qpd_object, '
                'qpd_transaction; DROP SEQUENCE qpd_oid)' % (
                    Location('postgresql', dsn), objects, top))
        largest = 0
        size = count = 0
        storage.begin()
        for oid, record in records:
            storage.store(oid, record)
            largest = max(largest, str_to_int8(oid))
            size += len(record)
            count += 1
            if size >= BATCH_BYTES or count >= _BATCH_RECORDS:
                storage.end()
                report.batches += 1
                storage.begin()
                size = count = 0
        if count:
            storage.end()
            report.batches += 1
        if largest:
            storage.conn.execute("SELECT setval('qpd_oid', %s)", (largest,))
    finally:
        storage.close()


class _ShelfFile:
    """What durus.shelf.Shelf.generate_shelf writes through (durus.file.
    File's seek, seek_end, tell, read, write), over an open file."""

    def __init__(self, f):
        self.f = f
        self.write = f.write
        self.read = f.read
        self.tell = f.tell

    def seek(self, n, whence=0):
        self.f.seek(n, whence)

    def seek_end(self):
        self.f.seek(0, 2)


def _write_file(path, records, force):
    from durus.shelf import Shelf
    from qpd.lib.private_dir import replacing_private_file
    if os.path.lexists(path) and not force:
        raise UsageError('DEST %s exists; give --force to replace it' % path)
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise UsageError('DEST %s: there is no directory %s' % (
            path, directory))
    with replacing_private_file(path, 'w+b') as out:
        for step in Shelf.generate_shelf(_ShelfFile(out), records):
            pass


# Checking ----------------------------------------------------------------

def _check(site, location, progress):
    progress.update('checking the copy')
    site.get_slash_module()     # the site's classes, to load its objects
    if location.kind == 'file':
        from qpd.storage.check import check_file
        return check_file(location.where, progress=progress.update)
    from qpd.storage.postgresql import check_database
    return check_database(location.where, site.get_name(), progress.update)
