"""qpd.lib.private_dir: directories and files that only this user can
read or write.

A unix socket's path must fit in 108 bytes. When a site's var directory is
too deep for that, its sockets (StorageServer, dispatcher, control,
supervisord) live in a short fallback directory instead:
`$XDG_RUNTIME_DIR/qpd-UID/DIGEST`, or `/tmp/qpd-UID/DIGEST` when there is
no runtime directory. Those paths are predictable, and /tmp is shared: a
local user who makes `/tmp/qpd-UID` first, world-writable, could put a
socket of their own where a worker expects the StorageServer, and the
worker would unpickle whatever it sends. So the directory is made the way
ssh-agent and systemd make theirs:

- every existing ancestor must be owned by root or by us, and not writable
  by group or others unless it is sticky (as /tmp is, mode 1777);
- each directory qpd adds is created with mode 0700, or, when it is there
  already, must be a real directory (not a symlink) owned by us that
  nobody else can write to (one that others may only read, as older qpd
  made the per-uid level, is then closed to 0700).

Anything else is refused with `UnsafeDirectory`, whose message is one line
naming the path, what is wrong and what to do. Nothing is repaired: a
directory someone else made is not ours to chmod.

Private files. Every file that holds data or secrets (a database, a
backup and its partial copy, a torn tail cut off a database, a key) is
made here, so that its mode never depends on the umask and it never
lands in a file or symlink someone else put there first (a backup
written to a sticky /tmp, where `nobody` pre-made `DEST.partial`, used
to be owned by `nobody`):

- `create_private_file(path)` makes path, new, mode 0600, with
  O_EXCL|O_NOFOLLOW: anything already there (a file, a dangling
  symlink) is FileExistsError, never opened;
- `replacing_private_file(path)` writes a new version of path: a file of
  an unpredictable name in path's directory (made as above), synced and
  renamed over path when the block ends, removed when it raises; rename
  replaces a symlink at path itself, never its target;
- `open_own_file(path)` opens an existing file of ours for update without
  following a symlink (an earlier backup, for --incremental), closing it
  to 0600 if it was wider;
- `tighten(path, mode)` closes a file or directory of ours to mode (0600,
  0700) whatever it was: a var directory a QP site shipped 0755, its
  .durus file 0644;
- `check_private_file(path)` is the start-up check of a key file: one
  line naming the file and the fix when group or others may read it.
"""

import contextlib
import secrets

import hashlib
import os
import stat

__all__ = ['UnsafeDirectory', 'make_private_directory', 'check_ancestors',
           'get_fallback_directory', 'create_private_file',
           'replacing_private_file', 'write_private_file', 'open_own_file',
           'tighten', 'check_private_file', 'UnsafeFile']


class UnsafeDirectory(OSError):
    """A directory meant to be private is not. str() is one line."""


def check_ancestors(path, uid=None):
    """(path:str, uid:int=None) -> None
    Raise UnsafeDirectory unless path and each of its ancestors is owned by
    root or uid (default: ours) and is not writable by group or others
    unless it has the sticky bit.
    """
    uid = os.getuid() if uid is None else uid
    path = os.path.abspath(path)
    while True:
        info = os.stat(path)
        if info.st_uid not in (0, uid):
            raise UnsafeDirectory(
                '%s is owned by uid %d, neither root nor you (uid %d); '
                'private sockets cannot live below it: set XDG_RUNTIME_DIR '
                'to a directory of yours' % (path, info.st_uid, uid))
        if (info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
                and not info.st_mode & stat.S_ISVTX):
            raise UnsafeDirectory(
                '%s is writable by others (mode %04o) and not sticky; '
                'private sockets cannot live below it: set XDG_RUNTIME_DIR '
                'to a directory of yours' % (
                    path, stat.S_IMODE(info.st_mode)))
        parent = os.path.dirname(path)
        if parent == path:
            return
        path = parent


def make_private_directory(path, uid=None):
    """(path:str, uid:int=None) -> str
    Make path (mode 0700) below an existing, safe parent, or check that
    the one there is private: a directory, not a symlink, owned by uid
    (default: ours), with no group or other permissions. Raise
    UnsafeDirectory (naming the path) otherwise. Returns path.
    """
    uid = os.getuid() if uid is None else uid
    path = os.path.abspath(path)
    check_ancestors(os.path.dirname(path), uid)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeDirectory(
            '%s exists and is not a directory (a symlink or a file); '
            'remove it and try again' % path)
    if info.st_uid != uid:
        raise UnsafeDirectory(
            '%s is owned by uid %d, not by you (uid %d): someone else made '
            'it; remove it (as root) and try again' % (
                path, info.st_uid, uid))
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o022:
        raise UnsafeDirectory(
            '%s has mode %04o, not 0700: others could put sockets in it; '
            'remove it and try again' % (path, mode))
    if mode & 0o077:
        # Ours, and nobody else could write in it (older qpd made the
        # per-uid level 0755): close it to others' eyes too.
        os.chmod(path, 0o700)
    return path


def get_fallback_directory(key):
    """(key:str) -> str
    The private directory for the sockets of `key` (a var directory or a
    home, whose path is too long for a socket address):
    $XDG_RUNTIME_DIR (else /tmp) / qpd-UID / 12 hex digits of key's
    digest, made or checked with make_private_directory.
    """
    base = os.environ.get('XDG_RUNTIME_DIR') or '/tmp'
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    mine = make_private_directory(
        os.path.join(base, 'qpd-%d' % os.getuid()))
    return make_private_directory(os.path.join(mine, digest))


class UnsafeFile(OSError):
    """A file meant to be private is not, or is not ours. str() is one
    line naming the file and the fix."""


_CREATE = (os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC)


def create_private_file(path, mode='wb'):
    """(path:str, mode:str='wb') -> file
    A new file at path, mode 0600 whatever the umask, opened with
    O_CREAT|O_EXCL|O_NOFOLLOW: FileExistsError when anything (a file, a
    symlink, dangling or not) is at path already. mode is open()'s ('wb',
    'w+b', 'w' for text).
    """
    flags = _CREATE | (os.O_RDWR if '+' in mode else os.O_WRONLY)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)        # a umask of 0o277 would leave 0400
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def _sync_directory(directory):
    fd = os.open(directory, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing_private_file(path, mode='wb', suffix='.partial'):
    """(path:str, mode:str='wb', suffix:str='.partial') -> context of file
    A new private file (create_private_file) at `.NAME.RANDOM<suffix>` in
    path's directory, yielded to be written; when the block ends it is
    synced and renamed to path (the directory synced), so path is always
    whole; when the block raises, it is removed and path left as it was.
    """
    directory = os.path.dirname(os.path.abspath(path))
    while True:
        temp = os.path.join(directory, '.%s.%s%s' % (
            os.path.basename(path), secrets.token_hex(8), suffix))
        try:
            out = create_private_file(temp, mode)
            break
        except FileExistsError:
            continue
    try:
        with out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _sync_directory(directory)


def write_private_file(path, data):
    """(path:str, data:bytes) -> None: path holds data, mode 0600, made
    with replacing_private_file."""
    with replacing_private_file(path) as out:
        out.write(data)


def open_own_file(path, mode='r+b'):
    """(path:str, mode:str='r+b') -> file
    An existing regular file of ours, opened without following a symlink
    (O_NOFOLLOW) and closed to 0600 when group or others had a way in;
    UnsafeFile when it is a symlink, not a regular file, or someone
    else's.
    """
    flags = os.O_NOFOLLOW | os.O_CLOEXEC | (
        os.O_RDWR if '+' in mode or 'w' in mode or 'a' in mode
        else os.O_RDONLY)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if os.path.islink(path):
            raise UnsafeFile('%s is a symlink: remove it, or name the file '
                             'it points to' % path) from None
        raise error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile('%s is not a regular file' % path)
        if info.st_uid != os.getuid():
            raise UnsafeFile(
                '%s is owned by uid %d, not by you (uid %d): someone else '
                'made it; remove it and try again' % (
                    path, info.st_uid, os.getuid()))
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


def tighten(path, mode):
    """(path:str, mode:int) -> bool
    Close the file or directory at path (not following a symlink) to
    mode (0600, 0700) when it is ours and grants group or others
    anything; whether it was changed. Missing, or someone else's: left
    as it is (False).
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid():
        return False
    if not stat.S_IMODE(info.st_mode) & 0o077:
        return False
    os.chmod(path, mode)
    return True


def check_private_file(path):
    """(path:str) -> str | None
    None when path is missing or only its owner may read it; else one
    line naming it, its mode and the fix (`chmod 600 PATH`).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    mode = stat.S_IMODE(info.st_mode)
    if not mode & 0o077:
        return None
    return ('%s has mode %04o: group or others may read it; run '
            '"chmod 600 %s"' % (path, mode, path))
