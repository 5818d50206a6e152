"""qpd.storage.durable: a StorageServer that acknowledges a commit only once
it is on disk, and the recovery of a torn tail when a file is opened.

Durable commits with group commit. Durus's StorageServer writes each
transaction into the FileStorage and answers the client at once, without
syncing: a power cut can lose transactions that clients were told were
committed. DurableStorageServer keeps Durus's protocol and its
single-threaded select loop, and changes when the commit's answer is sent:

1. Each turn of the loop takes the sockets that are readable. Those whose
   next command is a commit (`C`, seen with MSG_PEEK) are served first:
   their transactions are written to the file, their answers held back.
2. One `fdatasync` of the file covers every transaction written in this
   turn; then the held answers go out. While a sync runs, the commits of
   other clients wait in their sockets and are all written in the next
   turn: they share the next sync (group commit). Under concurrency the
   cost of a sync is spread over many commits.
3. Then the other commands of the turn (loads, syncs, pack) are served.
   Since they come after the sync, no client can read a transaction
   before it is on disk.

A sync that fails (an I/O error) stops the server without answering: the
held commits may or may not be on disk, and the next start checks the
tail of the file. With `sync=False` (the `durus_sync` key off, for scratch
sites) commits are answered at once, as stock Durus does.

Packing works as in Durus (in steps between requests, the packed file
fsynced by Durus before it replaces the old one); when the new file is in
place, its directory is synced too, so the rename itself is durable.

Torn tails. `recover_tail(path, side_directory)` runs before the file is
opened. When the file ends in a torn tail (a transaction a crash cut
short, or garbage after the last transaction; see
qpd.storage.shelf_scan), the cut bytes are copied to
`side_directory/NAME.torn-<timestamp>`, the file is truncated to the end
of its last complete transaction and synced, and one line says so. Any
other damage raises StorageDamaged: nothing is cut, and the message names
the command that inspects the file.
"""

import os
import select
import socket
import sys
import time
from datetime import datetime

from durus.error import ConflictError
from durus.logger import log, is_logging
from durus.serialize import extract_class_name
from durus.storage_server import (
    ClientError, StorageServer, _Client, STATUS_INVALID, STATUS_OKAY)
from durus.utils import (
    int4_to_str, join_bytes, read_int4_str, str_to_int4, str_to_int8,
    write, write_all)

from qpd.storage.shelf_scan import analyze_tail

__all__ = ['DurableStorageServer', 'StorageDamaged', 'recover_tail',
           'sync_file', 'sync_directory']

_COMMIT = b'C'


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
    out = out or sys.stderr
    out.write('%s %s\n' % (time.strftime('%Y-%m-%d %H:%M:%S'), message))
    out.flush()


def recover_tail(path, side_directory=None, check_command=None, say=None):
    """(path:str, side_directory:str=None, check_command:str=None,
        say=None) -> str | None
    Cut a torn tail off the FileStorage at path (see the module's
    docstring); the side file's path, or None when the file is clean or
    missing. side_directory defaults to the file's directory;
    check_command is named in the StorageDamaged message; say(line)
    reports the cut (default: a line on stderr).
    """
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    report = analyze_tail(path)
    if report.kind == 'clean':
        return None
    command = check_command or 'qpd check NAME'
    if report.kind == 'damaged':
        raise StorageDamaged(
            '%s is damaged at byte %d of %d (%s); it is left as it is: '
            'inspect it with "%s" and restore a backup' % (
                path, report.offset, report.size, report.reason, command))
    directory = side_directory or os.path.dirname(os.path.abspath(path))
    stamp = datetime.now().strftime('%Y%m%dT%H%M%S.%f')
    side = os.path.join(directory, '%s.torn-%s' % (
        os.path.basename(path), stamp))
    with open(path, 'r+b') as f:
        f.seek(report.cut)
        cut_bytes = f.read()
        with open(side, 'xb') as out:
            out.write(cut_bytes)
            sync_file(out)
        sync_directory(directory)
        f.truncate(report.cut)
        sync_file(f)
    (say or _say)('recovered %s: cut a torn tail of %d bytes at byte %d '
                  '(%s); they are saved in %s' % (
                      path, len(cut_bytes), report.cut, report.reason, side))
    return side


class DurableStorageServer(StorageServer):
    """(storage:FileStorage, address, sync:bool=True, on_listening=None,
        gcbytes:int=0)
    Durus's StorageServer with durable, grouped commits (see the module's
    docstring). on_listening(sock) is called once the listening socket
    exists."""

    def __init__(self, storage, address, sync=True, on_listening=None,
                 gcbytes=0):
        StorageServer.__init__(self, storage, address=address,
                               gcbytes=gcbytes)
        self.sync = sync
        self.on_listening = on_listening
        self.held = []          # sockets whose commit awaits the sync
        self.unsynced = False   # transactions written since the last sync
        self.sync_count = 0
        self.commit_count = 0

    def get_sync_count(self):
        """() -> int: the number of syncs so far."""
        return self.sync_count

    # The loop ------------------------------------------------------------

    def serve(self):
        """() -> None: serve until a client says Q or a signal ends it."""
        listener = self.address.get_listening_socket()
        if self.on_listening is not None:
            self.on_listening(listener)
        log(20, 'Ready on %s', self.address)
        self.sockets.append(listener)
        try:
            while True:
                timeout = 0.0 if self.packer is not None else None
                readable = select.select(self.sockets, [], [], timeout)[0]
                later = []
                for s in readable:
                    if s is listener:
                        self.accept(listener)
                    elif not self.sync or self.next_is_commit(s):
                        self.serve_client(s)
                    else:
                        later.append(s)
                self.flush()
                for s in later:
                    self.serve_client(s)
                if not readable and self.packer is not None:
                    self.pack_step()
        finally:
            self.flush()
            self.address.close(listener)

    def accept(self, listener):
        conn, addr = listener.accept()
        self.address.set_connection_options(conn)
        self.clients.append(_Client(conn, addr))
        self.sockets.append(conn)

    def next_is_commit(self, s):
        """(s:socket) -> bool: is the client's next command a commit? (An
        error or end of file is served now, to drop the client.)"""
        try:
            first = s.recv(1, socket.MSG_PEEK)
        except OSError:
            return True
        return first == _COMMIT or not first

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
        if s in self.held:
            self.held.remove(s)
        s.close()

    def flush(self):
        """() -> None: sync what was written, then answer the held
        commits."""
        if not self.unsynced:
            return
        try:
            sync_file(self.storage.shelf.get_file().file)
        except OSError as e:
            # Never answer a commit that may not be on disk: stop, and let
            # the next start check the file.
            log(50, 'sync failed: %s', e)
            _say('qpd durus: syncing %s failed (%s); stopping without '
                 'answering %d commits' % (
                     self.storage.get_filename(), e, len(self.held)))
            raise SystemExit(1)
        self.sync_count += 1
        self.unsynced = False
        held, self.held = self.held, []
        for s in held:
            try:
                write(s, STATUS_OKAY)
            except (socket.error, socket.timeout, IOError):
                self.drop(s)

    def pack_step(self):
        try:
            step = next(self.packer)
            if isinstance(step, str):
                log(15, 'gc ' + step)
        except StopIteration:
            self.packer = None
            self.bytes_since_pack = 0
            if self.sync:
                sync_directory(os.path.dirname(os.path.abspath(
                    self.storage.get_filename())))
            log(20, 'pack finished at %s' % datetime.now())

    # Commands ------------------------------------------------------------

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
        self.commit_count += 1
        log(20, 'Committed %3s objects %s bytes at %s',
            len(oids), len(tdata), datetime.now())
        client.unused_oids -= oid_set
        for other in self.clients:
            if other is not client:
                other.invalid.update(oids)
        self.bytes_since_pack += len(tdata) + 8
        if self.sync:
            self.unsynced = True
            self.held.append(s)
        else:
            write(s, STATUS_OKAY)
