"""qpd.storage.connection: Durus client connections that can reconnect.

    connection = connect('/path/var/durus.sock')    # or ('127.0.0.1', 2972)
    ...
    except Exception as e:
        if is_disconnected(connection):
            reconnect(connection)                   # same Connection object

`connect()` returns an ordinary `durus.connection.Connection` whose storage
is a `ClientStorage` (a subclass of Durus's) that notes when its socket
fails. `reconnect()` gives the same Connection a new socket to the server,
in place, so that every persistent object and every reference to the
connection stays valid: the uncommitted changes are dropped and every cached
object is made a ghost, to be loaded afresh.

The commit itself is Durus's exchange (the client asks, the server sends
the invalidations it has for it, the client sends its transaction or an
empty one when they conflict, the server answers), in qpd's own
ClientStorage.commit_exchange so that the transaction goes out in one
write: the StorageServer serves one client at a time and reads a whole
transaction before it turns to the next, so a transaction written in two
pieces leaves it, and every client behind it, waiting on the writer.
"""

import select
import time

from durus.client_storage import ClientStorage as DurusClientStorage
from durus.connection import Connection
from durus.error import (
    ConflictError, ProtocolError, ReadConflictError, WriteConflictError)
from durus.serialize import split_oids
from durus.storage_server import SocketAddress, STATUS_INVALID, STATUS_OKAY
from durus.utils import int4_to_str, read, read_int4, write, write_int4

from qpd.lib.backoff import Backoff
from qpd.storage.commit_count import CommitWatch

__all__ = ['connect', 'reconnect', 'is_disconnected', 'get_address', 'ping',
           'ClientStorage', 'StorageUnavailable', 'LOST_CONNECTION_ERRORS']

# What a dead or restarted StorageServer raises in a client: durus's
# ShortRead is an IOError (OSError); a broken pipe and a reset are OSErrors.
LOST_CONNECTION_ERRORS = (OSError, ProtocolError, EOFError)


class StorageUnavailable(ConnectionError):
    """(address, reason='')
    No StorageServer answers at address.
    """

    def __init__(self, address, reason=''):
        self.address = address
        ConnectionError.__init__(
            self, 'no Durus StorageServer at %s%s' % (
                address, reason and ' (%s)' % reason))


class ClientStorage(DurusClientStorage):
    """(address:str|(host, port))
    A Durus ClientStorage that remembers when its connection failed
    (is_broken()), even when the error it raised was caught and dropped by
    the code that called it. On a unix socket whose server keeps a commit
    count, a sync when nothing was committed makes no round trip
    (qpd.storage.commit_count).
    """

    broken = False
    commit_watch = None

    def __init__(self, address):
        address = SocketAddress.new(address)
        try:
            DurusClientStorage.__init__(self, address=address)
        except AssertionError:      # durus asserts a connected socket
            raise StorageUnavailable(address, 'connection refused')
        except (OSError, ProtocolError) as error:
            raise StorageUnavailable(address, str(error))
        self.commit_watch = CommitWatch.open(address)
        if self.commit_watch is not None:
            # A server that died says so by closing the socket: a skipped
            # sync still notices (one poll, no round trip).
            self.hangup = select.poll()
            self.hangup.register(self.s, select.POLLIN)

    def get_address(self):
        """() -> durus SocketAddress"""
        return self.address

    def is_broken(self):
        """() -> bool: has a read or write on the socket failed?"""
        return self.broken

    def _guard(self, method, *args):
        try:
            return method(self, *args)
        except LOST_CONNECTION_ERRORS:
            self.broken = True
            raise

    def new_oid(self):
        return self._guard(DurusClientStorage.new_oid)

    def load(self, oid):
        try:
            return self._guard(DurusClientStorage.load, oid)
        except ReadConflictError:
            if self.commit_watch is not None:
                self.commit_watch.forget()
            raise

    def commit_exchange(self, handle_invalidations=None):
        """(handle_invalidations:callable) -> None
        Durus's commit, byte for byte, except that the transaction (its
        length and its records) goes out in one write where Durus's client
        makes two. The StorageServer reads the whole transaction before it
        serves any other client, so between two writes it waits for this
        process to be run again, and on busy cores every other worker's
        sync, load and commit wait with it. Raises ConflictError when an
        invalidation the server sends first conflicts (nothing is sent
        then but the empty transaction that says so), WriteConflictError
        when the server refuses the transaction.
        """
        sock = self.s
        write(sock, b'C')
        count = read_int4(sock)
        if count:
            try:
                handle_invalidations(split_oids(read(sock, 8 * count)))
            except ConflictError:
                self.transaction_new_oids.reverse()
                self.oid_pool.extend(self.transaction_new_oids)
                self.begin()
                write_int4(sock, 0)
                raise
        parts = [b'']
        for oid, record in self.records.items():
            parts += (int4_to_str(8 + len(record)), oid, record)
        size = sum(map(len, parts))
        parts[0] = int4_to_str(size)
        write(sock, b''.join(parts))
        self.records.clear()
        if size:
            status = read(sock, 1)
            if status == STATUS_INVALID:
                raise WriteConflictError()
            if status != STATUS_OKAY:
                raise ProtocolError('the server answered a commit with %r'
                                    % status)

    def end(self, handle_invalidations=None):
        watch = self.commit_watch
        if watch is None:
            return self._guard(ClientStorage.commit_exchange,
                               handle_invalidations)
        before = watch.read()
        try:
            result = self._guard(ClientStorage.commit_exchange,
                                 handle_invalidations)
        except ConflictError:
            # Refused, but after the server's answer to the commit, which
            # brings every invalidation since this client's last sync: it
            # is as current as after a sync begun at `before`, and the
            # abort that follows (Connection.abort syncs) needs no round
            # trip unless something was committed since.
            watch.synced(before)
            raise
        watch.committed(before)
        return result

    def sync(self):
        watch = self.commit_watch
        if watch is None:
            return self._guard(DurusClientStorage.sync)
        skip, value = watch.can_skip()
        if skip and not self.hangup.poll(0):
            return []
        result = self._guard(DurusClientStorage.sync)
        watch.synced(value)
        return result

    def get_skipped_syncs(self):
        """() -> int: syncs answered without a round trip so far."""
        watch = self.commit_watch
        return 0 if watch is None else watch.skipped

    def pack(self):
        return self._guard(DurusClientStorage.pack)

    def bulk_load(self, oids):
        try:
            for record in DurusClientStorage.bulk_load(self, oids):
                yield record
        except LOST_CONNECTION_ERRORS:
            self.broken = True
            raise

    def close(self):
        if self.commit_watch is not None:
            self.commit_watch.close()
            self.commit_watch = None
        try:
            DurusClientStorage.close(self)
        except LOST_CONNECTION_ERRORS:
            self.broken = True
            try:
                self.s.close()
            except OSError:
                pass


def connect(address, cache_size=100000, wait=0.0):
    """(address:str|(host, port), cache_size:int=100000, wait:float=0.0)
        -> durus.connection.Connection
    Connect to the StorageServer at address (a unix socket path or a
    (host, port) pair). When wait > 0, keep trying for that many seconds
    while nothing answers. Raises StorageUnavailable.
    """
    backoff = Backoff(0.01, 0.01)
    for attempt in range(20):
        storage = _open_storage(address, wait)
        try:
            return Connection(storage, cache_size=cache_size)
        except (AssertionError, ReadConflictError):
            # AssertionError: a new database, and another client created
            # the root object first (qpd's server runner makes it before
            # listening). ReadConflictError: another client committed a
            # change to the root between our connecting and loading it.
            storage.close()
            backoff.sleep()
    return Connection(_open_storage(address, wait), cache_size=cache_size)


def _open_storage(address, wait):
    deadline = time.monotonic() + wait
    backoff = Backoff(0.005, 0.1)
    while True:
        try:
            return ClientStorage(address)
        except StorageUnavailable:
            delay = backoff.next_delay()
            if time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)


def ping(address, count=5):
    """(address, count:int=5) -> (round_trip:float, transport:str)
    Connect to the StorageServer at address (a path, a (host, port) or a
    qpd.storage.tls.TLSAddress), answer `count` syncs, and close: the
    best round trip of a sync in seconds, and what carried it ('unix',
    'tcp', or the TLS version such as 'TLSv1.3'). Raises
    StorageUnavailable."""
    storage = ClientStorage(address)
    try:
        best = None
        for _ in range(max(1, count)):
            start = time.perf_counter()
            storage.sync()
            elapsed = time.perf_counter() - start
            best = elapsed if best is None else min(best, elapsed)
        version = getattr(storage.s, 'version', None)
        if version is not None:
            transport = version()
        elif isinstance(address, str):
            transport = 'unix'
        else:
            transport = 'tcp'
        return best, transport
    except LOST_CONNECTION_ERRORS as error:
        raise StorageUnavailable(storage.address, str(error))
    finally:
        try:
            storage.close()
        except LOST_CONNECTION_ERRORS:
            pass


def get_address(connection):
    """(connection:Connection) -> durus SocketAddress of its server"""
    return connection.get_storage().address


def is_disconnected(connection):
    """(connection:Connection) -> bool
    Did the connection's socket fail? (Only a ClientStorage made here knows;
    for others, this is False.)
    """
    storage = connection.get_storage()
    is_broken = getattr(storage, 'is_broken', None)
    return bool(is_broken and is_broken())


def reconnect(connection, wait=10.0):
    """(connection:Connection, wait:float=10.0) -> None
    Give connection a fresh socket to the same server, waiting up to `wait`
    seconds for the server to come back. Uncommitted changes are dropped
    and every cached object becomes a ghost, so the next access loads what
    the server has now. Raises StorageUnavailable when the wait runs out.
    """
    old = connection.get_storage()
    storage = _open_storage(old.address, wait)
    try:
        old.s.close()
    except (OSError, AttributeError):
        pass
    for obj in connection.changed.values():
        obj._p_set_status_ghost()
    connection.changed.clear()
    connection.invalid_oids.clear()
    for obj in list(connection.get_cache()):
        if obj is not None and obj._p_is_saved():
            obj._p_set_status_ghost()
    connection.storage = storage
    connection.new_oid = storage.new_oid
    connection.transaction_serial += 1
