"""qpd.storage.durable: a StorageServer that acknowledges a commit only once
it is on disk, and the recovery of a torn tail when a file is opened.

Durable commits with group commit. Durus's StorageServer writes each
transaction into the FileStorage and answers the client at once, without
syncing: a power cut can lose transactions that clients were told were
committed. DurableStorageServer keeps Durus's protocol and its
single-threaded select loop, and changes when the commit's answer is sent:

1. A commit is written to the file as in Durus (the file is append-only),
   numbered, and its answer is held back.
2. When transactions wait and no sync runs, the loop asks a helper thread
   to `fdatasync` the file; that sync covers every transaction written so
   far. The loop goes on serving other clients meanwhile: commits that
   arrive while a sync runs are written, and share the next sync (group
   commit), so under concurrency one sync (a few milliseconds on a disk)
   answers many commits.
3. When the sync is done (the thread writes a byte to a pipe the loop
   selects on), the answers of the commits it covers go out, and the next
   sync starts if more were written meanwhile.

So a commit is answered only once it is on disk, and, the file being
append-only, so is every commit written before it. Loads are not held: a
client may read a transaction during the few milliseconds its sync takes;
a crash in that window loses a transaction that no client was told was
committed.

A sync that fails (an I/O error) stops the server without answering: the
held commits may or may not be on disk, and the next start checks the
tail of the file. With `sync=False` (the `durus_sync` key off, for scratch
sites) commits are answered at once, as stock Durus does.

Packing works as in Durus (in steps between requests, the packed file
fsynced by Durus before it replaces the old one); no pack step runs while
a sync does (the last step closes the old file), and when the new file is
in place its directory is synced too, so the rename itself is durable.

Torn tails. `recover_tail(path, side_directory)` runs before the file is
opened. When the file ends in a torn tail (a transaction a crash cut
short, or garbage after the last transaction; see
qpd.storage.shelf_scan), the cut bytes are copied to
`side_directory/NAME.torn-<timestamp>`, the file is truncated to the end
of its last complete transaction and synced, and one line says so. Any
other damage raises StorageDamaged: nothing is cut, and the message names
the command that inspects the file.
"""

import fcntl
import os
import queue
import select
import socket
import sys
import threading
from datetime import datetime

from durus.error import ConflictError
from durus.logger import log, is_logging
from durus.serialize import extract_class_name
from durus.storage_server import (
    ClientError, StorageServer, _Client, STATUS_INVALID, STATUS_OKAY)
from durus.utils import (
    int4_to_str, join_bytes, read_int4_str, str_to_int4, str_to_int8,
    write, write_all)

from qpd.lib.private_dir import create_private_file
from qpd.lib.process import log_line, start_thread
from qpd.storage.shelf_scan import analyze_tail

__all__ = ['DurableStorageServer', 'StorageDamaged', 'recover_tail',
           'sync_file', 'sync_directory']

class StorageDamaged(Exception):
    """A storage file is damaged other than at its tail; str() is one line
    that says where and which command inspects it."""


def sync_file(fileobj):
    """(fileobj) -> None: flush fileobj and fdatasync it (fsync where the
    platform has no fdatasync)."""
    fileobj.flush()
    (getattr(os, 'fdatasync', None) or os.fsync)(fileobj.fileno())


def sync_directory(path):
    """(path:str) -> None: fsync the directory path, so that renames and
    new files in it are durable."""
    fd = os.open(path, os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _say(message, out=None):
    log_line(None, message, out)


def recover_tail(path, side_directory=None, check_command=None, say=None):
    """(path:str, side_directory:str=None, check_command:str=None,
        say=None) -> str | None
    Cut a torn tail off the FileStorage at path (see the module's
    docstring); the side file's path, or None when the file is clean,
    missing, or locked by the process that serves it. side_directory
    defaults to the file's directory; check_command is named in the
    StorageDamaged message; say(line) reports the cut (default: a line on
    stderr).
    """
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path, 'r+b') as f:
        try:
            # Durus's own lock: a file that another StorageServer serves
            # is being written, not torn; Durus refuses to open it next.
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None
        report = analyze_tail(path)
        if report.kind == 'clean':
            return None
        if report.kind == 'damaged':
            raise StorageDamaged(
                '%s is damaged at byte %d of %d (%s); it is left as it is: '
                'inspect it with "%s" and restore a backup' % (
                    path, report.offset, report.size, report.reason,
                    check_command or 'qpd check NAME'))
        directory = side_directory or os.path.dirname(os.path.abspath(path))
        stamp = datetime.now().strftime('%Y%m%dT%H%M%S.%f')
        side = os.path.join(directory, '%s.torn-%s' % (
            os.path.basename(path), stamp))
        f.seek(report.cut)
        cut_bytes = f.read()
        with create_private_file(side) as out:
            out.write(cut_bytes)
            sync_file(out)
        sync_directory(directory)
        f.truncate(report.cut)
        sync_file(f)
    (say or _say)('recovered %s: cut a torn tail of %d bytes at byte %d '
                  '(%s); they are saved in %s' % (
                      path, len(cut_bytes), report.cut, report.reason, side))
    return side


def _fdatasync(fd):
    (getattr(os, 'fdatasync', None) or os.fsync)(fd)


class _Syncer:
    """(function=fdatasync)
    A thread that calls function(target) (fdatasyncs a file descriptor)
    when asked, and says it is done by writing a byte to a pipe that the
    server's loop selects on. An OSError (or, for another function, any
    error) is kept in `error`."""

    def __init__(self, function=_fdatasync):
        self.function = function
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        self.requests = queue.SimpleQueue()
        self.error = None
        self.thread = threading.Thread(target=self.run, name='qpd-sync',
                                       daemon=True)
        start_thread(self.thread)

    def run(self):
        while True:
            fd = self.requests.get()
            if fd is None:
                return
            try:
                self.function(fd)
            except Exception as e:
                self.error = e
            os.write(self.wake_w, b'.')

    def request(self, fd):
        """(fd:int) -> None: sync fd; wake_r becomes readable when done."""
        self.requests.put(fd)

    def wait(self):
        """() -> None: block until the requested sync is done."""
        select.select([self.wake_r], [], [])
        self.consume()

    def consume(self):
        try:
            os.read(self.wake_r, 64)
        except BlockingIOError:
            pass

    def close(self):
        self.requests.put(None)
        self.thread.join(5)
        os.close(self.wake_r)
        os.close(self.wake_w)


class DurableStorageServer(StorageServer):
    """(storage:FileStorage, address, sync:bool=True, on_listening=None,
        gcbytes:int=0)
    Durus's StorageServer with durable, grouped commits (see the module's
    docstring). on_listening(sock) is called once the listening socket
    exists. With commit_counter (qpd.storage.commit_count), local clients
    skip the round trip of a sync when nothing was committed."""

    def __init__(self, storage, address, sync=True, on_listening=None,
                 gcbytes=0, commit_counter=None):
        StorageServer.__init__(self, storage, address=address,
                               gcbytes=gcbytes)
        # A qpd.storage.commit_count.CommitCounter advanced for every
        # transaction written, before it is answered; None: not kept.
        self.commit_counter = commit_counter
        self.sync = sync
        self.on_listening = on_listening
        self.written = 0        # transactions written
        self.synced = 0         # of which known to be on disk
        self.syncing = None     # `written` when the running sync started
        self.held = []          # (written, socket) of unanswered commits
        self.syncer = None
        self.sync_count = 0

    # A qpd.metrics.Recorder (set by qpd.storage.server.main) counting
    # commits and syncs for `qpd metrics NAME`; None: not counted.
    recorder = None

    def get_sync_count(self):
        """() -> int: the number of syncs so far."""
        return self.sync_count

    # The loop ------------------------------------------------------------

    def serve(self):
        """() -> None: serve until a client says Q or a signal ends it."""
        if self.commit_counter is not None:
            self.commit_counter.advance()   # clients of an earlier server
        listener = self.address.get_listening_socket()
        try:
            # From here on a signal still runs the clean-up below.
            if self.on_listening is not None:
                self.on_listening(listener)
            log(20, 'Ready on %s', self.address)
            self.sockets.append(listener)
            if self.sync:
                self.syncer = self.make_syncer()
            wake = self.syncer.wake_r if self.syncer else None
            while True:
                idle_pack = self.packer is not None and self.syncing is None
                extra = self.get_watched()
                watched = (self.sockets + ([wake] if wake is not None else [])
                           + extra)
                readable = select.select(
                    watched, [], [],
                    0.0 if idle_pack else self.get_timeout())[0]
                self.begin_round()
                for s in readable:
                    if s is listener:
                        self.accept(listener)
                    elif s is wake:
                        self.synced_up()
                    elif s in extra:
                        self.on_watched(s)
                    else:
                        self.serve_client(s)
                self.start_sync()
                self.after_round()
                if not readable and idle_pack:
                    self.pack_step()
        finally:
            self.finish()
            if self.commit_counter is not None:
                self.commit_counter.close()
            self.address.close(listener)

    # Hooks for another storage (qpd.storage.postgresql).

    def make_syncer(self):
        """() -> _Syncer: the thread that makes written commits durable."""
        return _Syncer()

    def get_sync_target(self):
        """() -> what the syncer's function is given: the file's fd."""
        return self.storage.shelf.get_file().file.fileno()

    def get_watched(self):
        """() -> [fd]: more file descriptors the loop selects on; when one
        is readable, on_watched(fd) is called. None here."""
        return []

    def on_watched(self, fd):
        """(fd) -> None"""

    def get_timeout(self):
        """() -> float|None: the longest the loop waits (None: until a
        socket is readable)."""
        return None

    def begin_round(self):
        """() -> None: called when the loop's select() returned, before the
        readable sockets are served: every request served in this round
        had arrived by now."""

    def after_round(self):
        """() -> None: called after each round of the loop."""

    def accept(self, listener):
        conn, addr = listener.accept()
        self.address.set_connection_options(conn)
        self.clients.append(_Client(conn, addr))
        self.sockets.append(conn)

    def serve_client(self, s):
        try:
            self.handle(s)
        except (ClientError, socket.error, socket.timeout, IOError):
            exc = sys.exc_info()[1]
            log(10, '%s', ''.join(map(str, exc.args)))
            self.drop(s)

    def drop(self, s):
        if s in self.sockets:
            self.sockets.remove(s)
            self.clients.remove(self._find_client(s))
        self.held = [(n, h) for n, h in self.held if h is not s]
        s.close()

    def start_sync(self):
        """() -> None: when transactions wait for a sync and none runs,
        start one that covers them all."""
        if self.syncing is None and self.written > self.synced:
            self.syncing = self.written
            self.syncer.request(self.get_sync_target())

    def synced_up(self):
        """() -> None: the running sync is done: answer the commits it
        covers."""
        self.syncer.consume()
        covered, self.syncing = self.syncing, None
        if self.syncer.error is not None:
            self.fail(self.syncer.error)
        self.synced = covered
        self.sync_count += 1
        if self.recorder is not None:
            self.recorder.add_sync()
        ready = [s for n, s in self.held if n <= self.synced]
        self.held = [(n, s) for n, s in self.held if n > self.synced]
        for s in ready:
            try:
                write(s, STATUS_OKAY)
            except (socket.error, socket.timeout, IOError):
                self.drop(s)

    def fail(self, error):
        """Never answer a commit that may not be on disk: stop, and let the
        next start check the file."""
        log(50, 'sync failed: %s', error)
        _say('qpd durus: syncing %s failed (%s); stopping without answering '
             '%d commits' % (self.storage.get_filename(), error,
                             len(self.held)))
        self.held = []
        self.written = self.synced
        raise SystemExit(1)

    def finish(self):
        """() -> None: on the way out, sync and answer what is written."""
        if self.syncer is None:
            return
        try:
            if self.syncer.error is not None:
                return
            if self.syncing is not None:
                self.syncer.wait()
                self.synced_up()
            self.start_sync()
            if self.syncing is not None:
                self.syncer.wait()
                self.synced_up()
        finally:
            self.syncer.close()
            self.syncer = None

    def pack_step(self):
        try:
            step = next(self.packer)
            if isinstance(step, str):
                log(15, 'gc ' + step)
        except StopIteration:
            self.packer = None
            self.bytes_since_pack = 0
            self.pack_done()
            log(20, 'pack finished at %s' % datetime.now())

    def pack_done(self):
        """() -> None: a pack finished: make the new file's name durable."""
        if self.sync:
            sync_directory(os.path.dirname(os.path.abspath(
                self.storage.get_filename())))

    # Commands ------------------------------------------------------------

    def handle_Q(self, s):
        """Quit: answer what is written first."""
        self.finish()
        StorageServer.handle_Q(self, s)

    def handle_C(self, s):
        """A commit, as Durus's, but with the answer held until the
        transaction is synced."""
        self._sync_storage()
        client = self._find_client(s)
        write_all(s, int4_to_str(len(client.invalid)),
                  join_bytes(client.invalid))
        client.invalid.clear()
        tdata = read_int4_str(s)
        if len(tdata) == 0:
            return      # the client found a conflict and does not commit
        self.storage.begin()
        i = 0
        oids = []
        debug = is_logging(10)
        while i < len(tdata):
            rlen = str_to_int4(tdata[i:i + 4])
            i += 4
            oid = tdata[i:i + 8]
            record = tdata[i + 8:i + rlen]
            i += rlen
            if debug:
                log(10, '  oid=%-6s rlen=%-6s %s', str_to_int8(oid), rlen,
                    extract_class_name(record))
            self.storage.store(oid, record)
            oids.append(oid)
        if i != len(tdata):
            raise ClientError('malformed transaction')
        oid_set = set(oids)
        for other in self.clients:
            if other is not client and oid_set & other.unused_oids:
                self.storage.begin()
                raise ClientError('invalid oid in a commit')
        try:
            self.storage.end(handle_invalidations=self._handle_invalidations)
        except ConflictError:
            log(20, 'Conflict during commit')
            write(s, STATUS_INVALID)
            return
        if debug:
            # Durus logs every commit at INFO, with datetime.now(): a
            # formatted line and a write(2) per commit in the one process
            # every commit of the site goes through; qpd counts commits in
            # its metrics and keeps the line for the debug level.
            log(10, 'Committed %3s objects %s bytes at %s',
                len(oids), len(tdata), datetime.now())
        client.unused_oids -= oid_set
        for other in self.clients:
            if other is not client:
                other.invalid.update(oids)
        if self.commit_counter is not None:
            self.commit_counter.advance()
        self.bytes_since_pack += len(tdata) + 8
        if self.recorder is not None:
            self.recorder.add_commit()
        if self.sync:
            self.written += 1
            self.held.append((self.written, s))
        else:
            write(s, STATUS_OKAY)
