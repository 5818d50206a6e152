"""qpd.lib.secret_file: a site's signing key, in a private file.

The key that signs a site's stateless form tokens and HTTP Digest nonces
used to live in the database root (`root['qpd_secret']`): in every
backup, readable by any Durus client, never changed. It lives in a file
of the site's var directory now (`var/secret.key`, mode 0600, the
directory 0700), which no backup copies and no Durus client reads:

    qpd site secret
    current HEX
    previous HEX ROTATED_AT

`SecretFile(path)` reads it. `ensure(make)` makes the file when it is
missing (its key make(), by default 32 random bytes); two processes that
start together agree, since the file is written under a private
temporary name and linked into place, which fails when the other was
first. `take_over(root)` is the migration: the StorageServer of a site
calls it at start, before any client is served, and so does a publisher
at its first hit (for a database served otherwise): the file is made
from the old `root['qpd_secret']` when it is missing, so tokens signed
before the upgrade still verify, and the root entry is dropped.

`rotate()` replaces the current key with a new one and keeps the old one
as `previous`: `get_keys(grace)` gives the current key and, for grace
seconds after the rotation, the previous one, so that a token signed
just before a rotation still verifies for as long as it could live
anyway, and no longer. Running processes notice a rotation by
themselves (the file's identity is checked when a key is asked for).

On a PostgreSQL site the file is a copy of the key every web host shares,
kept in the database and written by each host's StorageServer
(qpd.storage.shared_secret, which uses format_keys, parse_keys,
rotate_keys and write_text here, the one owner of the file's text).

A file that group or others may read is closed to 0600 when it is read,
and reported as one line (its path and the fix: rotate the key, since
others may have copied it).
"""

import os
import secrets
import stat
import time

from qpd.lib.private_dir import create_private_file, write_private_file

__all__ = ['SecretFile', 'FILE_NAME', 'ROOT_KEY', 'format_keys', 'parse_keys',
           'make_keys', 'rotate_keys']

FILE_NAME = 'secret.key'
ROOT_KEY = 'qpd_secret'         # where the key was kept before
_HEADER = 'qpd site secret'


def format_keys(current, previous=None, rotated_at=None):
    """(current:bytes, previous:bytes=None, rotated_at:float=None) -> bytes
    The text of a key file (see the module's docstring)."""
    lines = [_HEADER, 'current %s' % current.hex()]
    if previous is not None:
        lines.append('previous %s %d' % (previous.hex(), int(rotated_at)))
    return ('\n'.join(lines) + '\n').encode('ascii')


def parse_keys(text, where):
    """(text:bytes, where:str) -> (current, previous, rotated_at)
    The keys of a key file's text; ValueError naming where (the file)
    when it is not one."""
    current = previous = rotated_at = None
    try:
        lines = text.decode('ascii').splitlines()
        for line in lines[1:] if lines[:1] == [_HEADER] else ():
            words = line.split()
            if len(words) == 2 and words[0] == 'current':
                current = bytes.fromhex(words[1])
            elif len(words) == 3 and words[0] == 'previous':
                previous = bytes.fromhex(words[1])
                rotated_at = int(words[2])
    except ValueError:
        current = None
    if not current:
        raise ValueError('%s is not a qpd secret file (no "current" '
                         'line): remove it, and a new one is made at '
                         'the next start' % where)
    return current, previous, rotated_at


def make_keys(key=None):
    """(key:bytes=None) -> bytes: the text of a new key file, its key
    key (default 32 random bytes)."""
    return format_keys(key if key is not None else secrets.token_bytes(32))


def rotate_keys(text, where, now=None):
    """(text:bytes, where:str, now:float=None) -> bytes: the text with a
    new current key, the old one kept as previous, rotated at now."""
    current = parse_keys(text, where)[0]
    return format_keys(secrets.token_bytes(32), current,
                       time.time() if now is None else now)


class SecretFile:
    """(path:str, say=None, site_name:str='NAME')
    A site's secret key file (see the module's docstring); say(line)
    reports a file found readable by others (default: ignored), naming
    `qpd secret SITE_NAME --rotate`."""

    def __init__(self, path, say=None, site_name='NAME'):
        self.path = path
        self.say = say or (lambda line: None)
        self.site_name = site_name
        self.identity = None
        self.current = None
        self.previous = None
        self.rotated_at = None

    def exists(self):
        """() -> bool"""
        return os.path.exists(self.path)

    def _load(self):
        info = os.stat(self.path)
        identity = (info.st_ino, info.st_mtime_ns, info.st_size)
        if identity == self.identity:
            return
        mode = stat.S_IMODE(info.st_mode)
        if mode & 0o077 and info.st_uid == os.getuid():
            os.chmod(self.path, 0o600)
            self.say('%s had mode %04o (group or others could read it): '
                     'closed to 0600; if someone else may have copied it, '
                     'run "qpd secret %s --rotate"' % (
                         self.path, mode, self.site_name))
        with open(self.path, 'rb') as f:
            current, previous, rotated_at = parse_keys(f.read(), self.path)
        self.identity = identity
        self.current, self.previous, self.rotated_at = (
            current, previous, rotated_at)

    def ensure(self, make=None):
        """(make=None) -> bool
        Make the file when it is missing, its key make() (default 32
        random bytes); whether this call made it."""
        if os.path.exists(self.path):
            return False
        text = make_keys(make() if make is not None else None)
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        temp = os.path.join(directory, '.%s.%s' % (
            os.path.basename(self.path), secrets.token_hex(8)))
        with create_private_file(temp) as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temp, self.path)        # never replaces: first wins
            made = True
        except FileExistsError:
            made = False
        finally:
            os.unlink(temp)
        return made

    def take_over(self, root):
        """(root:mapping) -> bool
        Move the old root entry root['qpd_secret'] (where qpd kept the key
        before) into the file: the file is made from it when missing
        (tokens signed with it still verify), and the entry is dropped.
        Whether root changed (the caller commits)."""
        if ROOT_KEY not in root:
            return False
        old = root[ROOT_KEY]
        self.ensure(make=(lambda: old) if isinstance(old, bytes) and old
                    else None)
        del root[ROOT_KEY]
        return True

    def get_current(self):
        """() -> bytes: the key that signs"""
        self._load()
        return self.current

    def get_keys(self, grace, now=None):
        """(grace:float, now:float=None) -> [bytes]
        The keys a signature may verify with: the current one, then the
        previous one while the rotation is less than grace seconds old."""
        self._load()
        keys = [self.current]
        now = time.time() if now is None else now
        if self.previous is not None and now - self.rotated_at < grace:
            keys.append(self.previous)
        return keys

    def rotate(self, now=None):
        """(now:float=None) -> None: a new current key; the old one kept
        as previous (see get_keys)."""
        self._load()
        with open(self.path, 'rb') as f:
            text = f.read()
        write_private_file(self.path, rotate_keys(text, self.path, now))
        self.identity = None

    def read_text(self):
        """() -> bytes|None: the file's text (None when missing)."""
        try:
            with open(self.path, 'rb') as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write_text(self, text):
        """(text:bytes) -> bool
        Make the file hold text (a key file's, kept elsewhere: see
        qpd.storage.shared_secret), replaced whole, mode 0600, when it
        held something else; whether it changed."""
        if self.read_text() == text:
            return False
        parse_keys(text, self.path)
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        write_private_file(self.path, text)
        self.identity = None
        return True
