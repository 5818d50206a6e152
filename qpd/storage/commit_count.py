"""qpd.storage.commit_count: a sync that costs nothing when nothing changed.

A Durus client syncs to learn which objects other clients changed; a
worker syncs at the start of every hit. On most hits nothing was
committed since its last sync, and the round trip to the StorageServer
(about half of a short request's time) answers "nothing". The commit
count lets a client on the same host see that without asking.

The StorageServer of a unix socket `PATH` keeps an 8-byte counter in the
file `PATH.commits` (mode 0600, beside the socket, in the site's private
var directory), mapped into memory. It advances the counter

- when it starts (so a client of an earlier server syncs, finds its socket
  dead and reconnects),
- for every transaction it writes, before the commit is answered,
- when it stops cleanly.

A client (`CommitWatch`) reads the counter *before* each real sync and
remembers the value. When a later sync finds the same value, no
transaction was written in between, so the server would answer an empty
list of invalid oids: the client answers that itself. Freshness is the
same as a real sync's: a commit acknowledged before the client looked
advanced the counter before its acknowledgement, so the client sees a new
value and makes the round trip. The server handles one request at a time,
so every transaction counted in the value read before a sync is shown by
that sync.

After its own commit, a client whose counter moved by exactly one (its own
transaction; Durus sends a committing client every invalidation due to it
before it writes, and the commit is only made when none conflicts) is as
current as after a sync, and takes the new value as seen.

A StorageServer on PostgreSQL (qpd.storage.postgresql) keeps the
counter too, but it counts only what that server knows of: its own
clients' commits, and the other hosts' servers' commits once a NOTIFY or
a poll showed them, some time after they were acknowledged there. Its
file says so (the flag SHARED_DATABASE) and holds a third word: when the
server's newest finished poll of the database began (CLOCK_MONOTONIC, in
nanoseconds, written after that poll advanced the counter for what it
found). A client of it skips a sync only when it knows when the request
it syncs for arrived (`CommitWatch.arrived`, which qpd's publisher sets
from Hit.arrived) and the server polled after that, with the count
unmoved: a commit acknowledged on any host before the request arrived was
in the database before that poll began, so the poll counted it (or an
earlier one did, before the client's last real sync). Otherwise the sync
makes its round trip, and the server polls before answering it. So a
commit acknowledged on one host is in the next hit on every other, and
the syncs that one worker's round trip made the server poll for are
shared by the workers whose requests were already waiting.

Safety nets: a client makes a real sync at least every `MAX_SKIP`
seconds whatever the counter says (a counter file removed and made anew
under a running client costs at most that much staleness), and after a
read conflict. Clients of a TCP or TLS address, on another host, and
storages whose server does not keep a counter (no file), always make the
round trip. The file is never removed: a client holding the mapping of a
removed file would never see it move.
"""

import mmap
import os
import struct
import time

__all__ = ['counter_path', 'CommitCounter', 'CommitWatch', 'MAX_SKIP',
           'SHARED_DATABASE']

MAX_SKIP = 1.0              # seconds between real syncs at the most
SHARED_DATABASE = 1         # the flags' bit (see the docstring)
_COUNT = struct.Struct('=Q')
_WORDS = struct.Struct('=QQ')   # the count, the flags
_POLLED_AT = 16                 # the offset of the third word
_SIZE = 24


def counter_path(address):
    """(address:str|(host, port)|SocketAddress) -> str|None: the commit
    counter file of the StorageServer at address; None for TCP and for an
    abstract unix socket (no file beside it)."""
    address = getattr(address, 'filename', address)
    if isinstance(address, str) and address[:1] not in ('@', '\0', ''):
        return address + '.commits'
    return None


class CommitCounter:
    """(path:str, shared_database:bool=False)
    The StorageServer's side: the counter file, made 0600 if missing
    (never followed through a symlink), mapped for writing. With
    shared_database, the file tells clients that other servers commit to
    the same database, and the server calls polled() after each poll."""

    def __init__(self, path, shared_database=False):
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)
            self.map = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)
        # No poll yet (a value left by a server before a reboot would be
        # of another clock).
        _COUNT.pack_into(self.map, _POLLED_AT, 0)
        _COUNT.pack_into(self.map, _COUNT.size,
                         SHARED_DATABASE if shared_database else 0)

    def advance(self):
        """() -> int: count one more change; the new value."""
        value = (_COUNT.unpack_from(self.map)[0] + 1) & 0xFFFFFFFFFFFFFFFF
        _COUNT.pack_into(self.map, 0, value)
        return value

    def polled(self, began_ns):
        """(began_ns:int) -> None: a poll of the shared database that began
        at time.monotonic_ns() began_ns is done, and the counter advanced
        for what it found."""
        _COUNT.pack_into(self.map, _POLLED_AT, began_ns)

    def close(self):
        """() -> None: advance once more (clients sync, and find the server
        gone) and unmap; the file stays."""
        if self.map is not None:
            self.advance()
            self.map.close()
            self.map = None


class CommitWatch:
    """(path:str)
    A client's side: decides whether a sync needs its round trip. Use
    `open(address)`, which gives None where there is no counter."""

    @classmethod
    def open(cls, address):
        """(address) -> CommitWatch|None"""
        path = counter_path(address)
        if path is None:
            return None
        try:
            return cls(path)
        except (OSError, ValueError):
            return None

    def __init__(self, path):
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            self.map = mmap.mmap(fd, _SIZE, prot=mmap.PROT_READ)
        finally:
            os.close(fd)
        self.seen = None        # the value read before the last real sync
        self.seen_at = 0.0      # time.monotonic() of that sync
        self.skipped = 0        # syncs answered without a round trip
        # time.monotonic() by which the request the next sync is for had
        # begun to arrive; None: unknown (on a shared database, no skip).
        self.arrived = None

    def read(self):
        """() -> int: the counter now."""
        return _COUNT.unpack_from(self.map)[0]

    def moved(self):
        """() -> bool: was a transaction written since the last real sync
        (or is there none yet)?"""
        return _COUNT.unpack_from(self.map)[0] != self.seen

    def can_skip(self):
        """() -> (bool, int): may this sync be answered with [] without a
        round trip; and the value to pass to synced() if it is made."""
        # The poll's time is read before the count: the server advances
        # the count before it writes the time.
        polled_at = _COUNT.unpack_from(self.map, _POLLED_AT)[0]
        value, flags = _WORDS.unpack_from(self.map)
        if (value == self.seen
                and time.monotonic() - self.seen_at < MAX_SKIP
                and (not flags & SHARED_DATABASE
                     or (self.arrived is not None
                         and polled_at > self.arrived * 1e9))):
            self.skipped += 1
            return True, value
        return False, value

    def synced(self, value):
        """(value:int) -> None: a real sync, begun when the counter read
        value, was answered."""
        self.seen = value
        self.seen_at = time.monotonic()

    def committed(self, before):
        """(before:int) -> None: a commit begun when the counter read
        `before` was answered; when the count moved by just that commit,
        this client is current."""
        if _COUNT.unpack_from(self.map)[0] == before + 1:
            self.seen = before + 1
            self.seen_at = time.monotonic()

    def forget(self):
        """() -> None: make the next sync a real one."""
        self.seen = None

    def close(self):
        try:
            self.map.close()
        except (BufferError, ValueError):
            pass
