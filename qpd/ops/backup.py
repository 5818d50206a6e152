"""`qpd backup NAME DEST [--incremental]` and `qpd check NAME`: copy and
check a site's database, while the site runs.

A FileStorage file is append-only (until a pack replaces it), so a
consistent copy is a prefix of it that ends on a transaction boundary. A
backup opens the live file (the descriptor keeps that file even if a pack
replaces it meanwhile), takes its size, finds the end of the last complete
transaction within that size (qpd.storage.shelf_scan), and copies the
bytes up to there: every transaction acknowledged before the backup began
is in the copy, since the StorageServer writes a transaction completely
before it answers. The copy is written to a new file of an unpredictable
name beside DEST (`.NAME.RANDOM.partial`, mode 0600, O_EXCL|O_NOFOLLOW:
see qpd.lib.private_dir), synced, and renamed to DEST (its directory
synced), so DEST is always a whole backup, readable by this user only,
and a file or symlink someone else put at DEST or beside it is never
written through.

With --incremental, DEST is an earlier backup of the same file: its
length must be a transaction boundary of the live file and its head and
last bytes must match the live file's; then only the new transactions are
appended (and synced); DEST must be a regular file of ours (not a
symlink), and is closed to 0600 if it was wider. After a pack the file starts over: an incremental
backup says so and asks for a full one.

Restoring is copying a backup back while the site is stopped:
`qpd stop NAME`, `cp DEST sites/NAME/var/NAME.durus`, `qpd start NAME`.

`qpd check NAME` checks the live file the same way (qpd.storage.check),
or, with --file, any FileStorage file such as a backup.
"""

import os

from qpd.lib.private_dir import (
    UnsafeFile, open_own_file, replacing_private_file)
from qpd.ops.errors import OperationError
from qpd.ops.progress import Progress
from qpd.storage.durable import sync_file
from qpd.storage.shelf_scan import Damage, scan

__all__ = ['backup_site', 'check_site', 'is_storage_running']

_CHUNK = 4 * 1024 * 1024
_COMPARE = 64 * 1024


def is_storage_running(site):
    """(site:Site) -> bool: does the site's StorageServer answer?"""
    from durus.storage_server import SocketAddress
    address = site.get_storage_address()     # over TLS with durus_tls
    try:
        sock = SocketAddress.new(address).get_connected_socket()
    except OSError:
        return False
    if sock is None:
        return False
    sock.close()
    return True


def _local_file(site):
    path = site.get_durus_file()
    if not os.path.exists(path):
        raise OperationError(
            'site %s has no database at %s (it is created when the site '
            'first starts)' % (site.get_name(), path))
    return path


def _target(source, dest):
    """(source:str, dest:str) -> str: dest, or dest/<source's name> when
    dest is a directory."""
    if os.path.isdir(dest) or dest.endswith(os.sep):
        os.makedirs(dest, mode=0o700, exist_ok=True)
        return os.path.join(dest, os.path.basename(source))
    return dest


def _megabytes(n):
    if n < 1e6:
        return '%d bytes' % n
    return '%.1f MB' % (n / 1e6)


def _copy(source, out, start, end, progress, label):
    """Copy source's bytes [start, end) to out (at its position)."""
    total = end - start
    done = 0
    source.seek(start)
    while done < total:
        data = source.read(min(_CHUNK, total - done))
        if not data:
            raise OperationError('%s ended early while it was copied' % (
                source.name,))
        out.write(data)
        done += len(data)
        progress.update('%s: %s of %s (%d%%)' % (
            label, _megabytes(done), _megabytes(total),
            100 * done // total if total else 100))


def _same_bytes(a, b, offset, n):
    a.seek(offset)
    b.seek(offset)
    return a.read(n) == b.read(n)


def _refuse_postgresql(site, command):
    """One line for a PostgreSQL site: which PostgreSQL tool does it."""
    if site.get('durus_storage') == 'postgresql':
        raise OperationError(
            "qpd %s %s: the site's objects are in PostgreSQL (durus_dsn=%r): "
            'back them up with PostgreSQL\'s tools: pg_dump -Fc (a copy), or '
            'pg_basebackup with WAL archiving (point-in-time recovery)' % (
                command, site.get_name(), site.get('durus_dsn')))


def backup_site(site, dest, incremental=False, progress=None):
    """(site:Site, dest:str, incremental:bool=False, progress=None)
        -> (target:str, size:int, copied:int)
    Back up the site's database to dest (a file, or a directory to hold
    NAME.durus); see the module's docstring. The backup's path, its size
    and the bytes copied this time."""
    progress = progress or Progress()
    _refuse_postgresql(site, 'backup')
    source_path = _local_file(site)
    target = _target(source_path, dest)
    label = 'backing up %s' % site.get_name()
    with open(source_path, 'rb') as source:
        size = os.fstat(source.fileno()).st_size
        start = None
        if incremental:
            if not os.path.exists(target):
                raise OperationError(
                    'no earlier backup at %s for --incremental; run "qpd '
                    'backup %s %s" first' % (target, site.get_name(), dest))
            start = os.path.getsize(target)
        progress.update('%s: finding the last committed transaction' % label)
        try:
            result = scan(source, size, start=start)
        except Damage as damage:
            if start is not None:
                raise OperationError(
                    '%s is not an earlier backup of %s as it is now (was '
                    'the site packed since?): make a full backup without '
                    '--incremental' % (target, source_path))
            raise OperationError('%s is damaged %s; see "qpd check %s"' % (
                source_path, damage, site.get_name()))
        end = result.committed_end
        if start is None:
            try:
                with replacing_private_file(target) as out:
                    _copy(source, out, 0, end, progress, label)
            except PermissionError as error:
                # A sticky directory (/tmp) where someone else's file is
                # at DEST, or a directory we may not write to.
                raise OperationError(
                    'cannot write the backup %s (%s): give a DEST in a '
                    'directory of yours' % (target, error.strerror)) from None
            copied = end
        else:
            try:
                out = open_own_file(target)
            except UnsafeFile as error:
                raise OperationError(str(error)) from None
            with out:
                tail = max(0, start - _COMPARE)
                if not (_same_bytes(source, out, 0, min(start, _COMPARE))
                        and _same_bytes(source, out, tail, start - tail)):
                    raise OperationError(
                        '%s is not an earlier backup of %s as it is now '
                        '(was the site packed since?): make a full backup '
                        'without --incremental' % (target, source_path))
                out.seek(start)
                _copy(source, out, start, end, progress, label)
                sync_file(out)
            copied = end - start
    progress.done('backed up %s to %s: %s (every transaction committed '
                  'when the backup began), %s copied' % (
                      site.get_name(), target, _megabytes(end),
                      _megabytes(copied)))
    return target, end, copied


def check_site(site, path=None, progress=None):
    """(site:Site, path:str=None, progress=None) -> CheckReport
    Check the site's database (or the FileStorage file at path)."""
    from qpd.storage.check import check_file
    progress = progress or Progress()
    if path is None and site.get('durus_storage') == 'postgresql':
        from qpd.storage.postgresql import StorageSetupError, check_database
        site.get_slash_module()
        try:
            report = check_database(site.get('durus_dsn'), site.get_name(),
                                    progress.update)
        except StorageSetupError as e:
            raise OperationError('qpd check %s: %s' % (site.get_name(), e))
        progress.done()
        return report
    if path is None:
        path = _local_file(site)
        live = is_storage_running(site)
    else:
        if not os.path.exists(path):
            raise OperationError('no file %s to check' % path)
        live = False
    site.get_slash_module()     # the site's classes, to load its objects
    report = check_file(path, live=live, progress=progress.update)
    progress.done()
    return report
