"""qpd.lib.private_dir: directories that only this user can write to.

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
"""

import hashlib
import os
import stat

__all__ = ['UnsafeDirectory', 'make_private_directory', 'check_ancestors',
           'get_fallback_directory']


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
