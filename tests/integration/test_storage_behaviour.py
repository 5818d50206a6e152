"""One storage behaviour suite, run against both storages with the same
assertions: the file storage (durus_storage='file') and the PostgreSQL
storage (durus_storage='postgresql', qpd.storage.postgresql), each behind
a real StorageServer subprocess and reached by Durus ClientStorages.

load, commit, conflicts, invalidations, pack, reconnect, bad records.
"""

import shutil
import socket
import tempfile

import pytest
from durus.error import ConflictError, ReadConflictError
from durus.persistent_dict import PersistentDict
from durus.utils import int4_to_str, int8_to_str

from tests.conftest import DurusServer
from qpd.storage.connection import reconnect


def Item(value=0):
    """A persistent object with one value. Durus's own class: the server
    unpickles the root when it starts, so every class the root refers to
    must be importable there."""
    return PersistentDict(value=value)


@pytest.fixture(params=['file', 'postgresql'])
def storage_server(request):
    """A started StorageServer over a new file, or a new PostgreSQL
    database of the session's cluster."""
    dsn = None
    if request.param == 'postgresql':
        pytest.importorskip('psycopg')
        dsn = request.getfixturevalue('postgres').new_database('behaviour')
    directory = tempfile.mkdtemp(prefix='qpd-beh-', dir='/tmp')
    server = DurusServer(directory, dsn=dsn)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


def test_load_what_another_client_committed(storage_server):
    a = storage_server.connect()
    b = storage_server.connect()
    a.get_root()['item'] = Item(41)
    a.get_root()['items'] = PersistentDict(
        (n, Item(n)) for n in range(300))
    a.commit()
    b.abort()
    assert b.get_root()['item']['value'] == 41
    assert sum(item['value'] for item in b.get_root()['items'].values()) == \
        sum(range(300))
    # A fresh client walks the whole graph in bulk loads.
    c = storage_server.connect(cache_size=10)
    walked = list(c.get_storage().gen_oid_record(start_oid=int8_to_str(0)))
    assert len(walked) == 1 + 2 + 300
    assert c.get_root()['items'][299]['value'] == 299
    # An oid that was never stored.
    assert b.get(int8_to_str(10 ** 9)) is None


def test_commit_many_and_see_them_in_order(storage_server):
    a = storage_server.connect()
    b = storage_server.connect()
    a.get_root()['item'] = Item(0)
    a.commit()
    for n in range(1, 51):
        a.get_root()['item']['value'] = n
        a.commit()
    b.abort()
    assert b.get_root()['item']['value'] == 50
    # New objects get distinct oids across clients.
    a.get_root()['x'] = Item()
    b_item = Item()
    a.commit()
    b.abort()
    b.get_root()['y'] = b_item
    b.commit()
    assert a.get_root()['x']._p_oid != b_item._p_oid


def test_write_conflict_loses_no_update(storage_server):
    a = storage_server.connect()
    b = storage_server.connect()
    a.get_root()['counter'] = Item(0)
    a.commit()
    b.abort()
    b.get_root()['counter']['value']  # loaded in b's transaction
    a.get_root()['counter']['value'] += 1
    a.commit()
    b.get_root()['counter']['value'] += 1
    with pytest.raises(ConflictError):
        b.commit()
    b.abort()
    b.get_root()['counter']['value'] += 1
    b.commit()
    a.abort()
    assert a.get_root()['counter']['value'] == 2


def test_invalidations_and_read_conflict(storage_server):
    a = storage_server.connect()
    b = storage_server.connect()
    root = a.get_root()
    root['x'] = Item(1)
    root['y'] = Item(1)
    a.commit()
    b.abort()
    assert b.get_root()['x']['value'] == 1     # x cached in b, y not loaded
    # a changes both together.
    root['x']['value'] = 2
    root['y']['value'] = 2
    a.commit()
    # b, in the same transaction, reaches y: it must not see y=2 beside
    # its x=1: a read conflict.
    with pytest.raises(ReadConflictError):
        b.get_root()['y']['value']
    b.abort()
    assert (b.get_root()['x']['value'], b.get_root()['y']['value']) == (2, 2)


def test_pack_removes_only_the_unreachable(storage_server):
    a = storage_server.connect()
    root = a.get_root()
    root['keep'] = Item('kept')
    root['drop'] = Item('dropped')
    a.commit()
    dropped = root['drop']._p_oid
    kept = root['keep']._p_oid
    del root['drop']
    a.commit()
    a.pack()
    b = storage_server.connect()
    # The pack runs in steps between requests: wait until it is done.
    import time
    deadline = time.monotonic() + 10
    while b.get(dropped) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
        b = storage_server.connect()
    assert b.get(dropped) is None
    assert b.get(kept)['value'] == 'kept'
    # Writes go on after the pack.
    root['keep']['value'] = 'again'
    a.commit()
    b.abort()
    assert b.get_root()['keep']['value'] == 'again'


def test_reconnect_after_the_server_is_killed(storage_server):
    a = storage_server.connect()
    a.get_root()['item'] = Item('before')
    a.commit()
    storage_server.kill()
    storage_server.start()
    reconnect(a)
    assert a.get_root()['item']['value'] == 'before'
    a.get_root()['item']['value'] = 'after'
    a.commit()
    b = storage_server.connect()
    assert b.get_root()['item']['value'] == 'after'


def _raw_client(address):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(address)
    sock.sendall(b'V' + int4_to_str(1))
    assert sock.recv(4) == int4_to_str(1)
    return sock


def test_bad_records_drop_the_client_and_change_nothing(storage_server):
    a = storage_server.connect()
    a.get_root()['item'] = Item('good')
    a.commit()
    # A commit whose record length runs past its data.
    sock = _raw_client(storage_server.address)
    sock.sendall(b'C')
    count = sock.recv(4)
    assert len(count) == 4
    bad = int4_to_str(1000) + int8_to_str(0) + b'garbage'
    sock.sendall(int4_to_str(len(bad)) + bad)
    assert sock.recv(1) in (b'', )      # dropped, no answer
    sock.close()
    # An unknown command.
    sock = _raw_client(storage_server.address)
    sock.sendall(b'Z')
    assert sock.recv(1) == b''
    sock.close()
    # The server goes on, the data is as it was.
    assert storage_server.is_running()
    b = storage_server.connect()
    assert b.get_root()['item']['value'] == 'good'
    a.get_root()['item']['value'] = 'still'
    a.commit()
    b.abort()
    assert b.get_root()['item']['value'] == 'still'
