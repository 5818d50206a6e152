"""qpd.server.write_turn: the site's write turn, so that a hit that keeps
losing write conflicts is guaranteed to win its next attempt.

    turn = open_write_turn(site)        # one per worker, on one lock file
    publisher.write_turn = turn         # the worker installs it
    release = turn.acquire()            # a hit after a few conflicts
    ... its attempt: sync, run, commit ...
    release()
    with turn.committing():             # every other writing hit's commit
        connection.commit()

Every worker of a site opens the same file in the site's var directory and
uses two advisory locks (fcntl, one byte each) on it:

- the gate (byte 0): a committing hit passes it (shared, for an instant);
  the hit that takes the turn holds it exclusively, so no new commit
  starts;
- the commit lock (byte 1): a committing hit holds it shared for the
  duration of its commit; the hit that takes the turn, once it holds the
  gate, waits for it exclusively, i.e. until the commits in flight are
  done.

So from the moment acquire() returns until release(), no other hit of the
pool commits: the holder's next attempt starts with a sync that sees every
commit, and nothing can commit over it, so it wins. Two hits that want the
turn take it one after the other. The gate keeps a stream of overlapping
commits (grouped syncs make commits overlap) from starving the holder.

Why locks in the kernel rather than a token from the dispatcher: a worker
serves the next requests of a keep-alive connection it holds without the
dispatcher, so only a check at commit time can keep every other hit out;
the check costs a few lock calls per commit and no round trip, and the
kernel drops the locks of a worker that dies. Hits that never conflict
never wait, except while another hit holds the turn.

`qpd shell`'s commit() (and create_user) go through committing() too: a
hit holding the turn is not committed over by the shell either.
"""

import fcntl
import os
from contextlib import contextmanager

__all__ = ['WriteTurn', 'LOCK_FILE_NAME', 'open_write_turn']

LOCK_FILE_NAME = 'write-turn.lock'
_GATE = 0
_COMMIT = 1


class WriteTurn:
    """(path:str) the write turn of the site whose lock file is path
    (created, mode 0600, if missing)."""

    def __init__(self, path):
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.held = False
        self.count = 0          # turns taken by this worker

    def _lock(self, operation, byte):
        fcntl.lockf(self.fd, operation, 1, byte)

    def acquire(self):
        """() -> release:callable
        Wait until this worker holds the turn: no other hit commits until
        release() is called."""
        if self.held:
            return lambda: None
        self._lock(fcntl.LOCK_EX, _GATE)
        try:
            self._lock(fcntl.LOCK_EX, _COMMIT)
        except BaseException:
            self._lock(fcntl.LOCK_UN, _GATE)
            raise
        self.held = True
        self.count += 1
        return self.release

    def release(self):
        """() -> None: give the turn back."""
        if self.held:
            self.held = False
            self._lock(fcntl.LOCK_UN, _COMMIT)
            self._lock(fcntl.LOCK_UN, _GATE)

    @contextmanager
    def committing(self):
        """A context for one commit: waits while another hit holds the
        turn, and keeps the turn from being taken until the commit is
        done. (The holder's own commits pass straight through.)"""
        if self.held:
            yield
            return
        self._lock(fcntl.LOCK_SH, _GATE)
        try:
            self._lock(fcntl.LOCK_SH, _COMMIT)
        finally:
            self._lock(fcntl.LOCK_UN, _GATE)
        try:
            yield
        finally:
            self._lock(fcntl.LOCK_UN, _COMMIT)

    def get_count(self):
        """() -> int: how many times this worker took the turn."""
        return self.count

    def close(self):
        """() -> None"""
        self.release()
        os.close(self.fd)


def open_write_turn(site):
    """(site:Site) -> WriteTurn: the write turn of site on this host (its
    lock file in the var directory)."""
    return WriteTurn(os.path.join(site.get_var_directory(), LOCK_FILE_NAME))
