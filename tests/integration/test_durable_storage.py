"""Durable storage, with real StorageServer processes: every acknowledged
commit was synced first (seen with strace), a torn tail is cut at start,
commits survive SIGKILL, `qpd check` and `qpd backup` (incremental, and a
restore)."""

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from durus.connection import Connection
from durus.file_storage import FileStorage
from durus.persistent_dict import PersistentDict

from qpd.storage.durable import recover_tail, StorageDamaged
from qpd.storage.shelf_scan import scan

from tests.conftest import DurusServer
from harness import Cluster, make_home

QPD = [sys.executable, '-m', 'qpd.cli']


def _qpd(home, *args, timeout=120):
    return subprocess.run(QPD + ['--home', home] + list(args),
                          capture_output=True, text=True, timeout=timeout)


# Every commit is synced before it is answered --------------------------------

def _strace_attach(pid, out):
    """Attach strace to every thread of pid; return the tracer once it
    says so ("Process N attached [with M threads]")."""
    tracer = subprocess.Popen(
        ['strace', '-f', '-y', '-o', out, '-p', str(pid), '-e',
         'trace=fsync,fdatasync,write,sendto,sendmsg'],
        stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = tracer.stderr.readline()
        if 'attached' in line:
            threading.Thread(target=tracer.stderr.read, daemon=True).start()
            return tracer
        if not line:
            break
    tracer.kill()
    pytest.skip('strace cannot attach to a process here')


_SOCKET_REPLY = re.compile(r'(?:write|sendto|sendmsg)\(\d+<[^>]*>, "O", 1[,)]')


def _check_trace(lines, durus_file, commits):
    """Walk the trace in order: every "O" answer must come after a
    completed sync that began after every write to the file so far."""
    writes = 0          # completed writes to the storage file
    covered = 0         # writes covered by the last completed sync
    pending = {}        # tid -> writes done when its sync began
    syncs = 0
    answers = 0
    name = '<%s>' % durus_file
    for line in lines:
        tid, _, call = line.partition(' ')
        call = call.strip()
        if call.startswith('<...'):
            if 'fdatasync resumed' in call or 'fsync resumed' in call:
                covered = pending.pop(tid)
                syncs += 1
            elif 'write resumed' in call and tid in pending.get('w', {}):
                writes += 1
                pending['w'].pop(tid)
            continue
        if call.startswith(('fdatasync(', 'fsync(')) and name in call:
            if '<unfinished' in call:
                pending[tid] = writes
            else:
                covered = writes
                syncs += 1
        elif call.startswith('write(') and name in call:
            if '<unfinished' in call:
                pending.setdefault('w', {})[tid] = True
            else:
                writes += 1
        elif _SOCKET_REPLY.match(call):
            answers += 1
            assert covered == writes, (
                'answer %d sent with %d of %d file writes synced' % (
                    answers, covered, writes))
    assert answers == commits
    assert syncs >= commits
    assert writes >= commits


@pytest.mark.skipif(shutil.which('strace') is None,
                    reason="needs Debian's strace (make test installs it)")
@pytest.mark.file_storage('counts the fdatasyncs of the Durus file')
def test_every_commit_is_synced_before_it_is_answered(durus_server,
                                                      tmp_path):
    connection = durus_server.connect()
    root = connection.get_root()
    root['n'] = 0
    connection.commit()
    out = str(tmp_path / 'strace.out')
    tracer = _strace_attach(durus_server.get_pid(), out)
    commits = 25
    try:
        for i in range(commits):
            root['n'] = i + 1
            connection.commit()
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(10)
    with open(out) as f:
        lines = f.readlines()
    _check_trace(lines, os.path.realpath(durus_server.durus_file), commits)


# Torn tails -------------------------------------------------------------------

def _make_file(path, count=8):
    """A FileStorage with count transactions after the root's; returns the
    scan."""
    connection = Connection(FileStorage(path))
    root = connection.get_root()
    for i in range(count):
        root['k%d' % i] = PersistentDict(value=i)
        connection.commit()
    connection.get_storage().close()
    with open(path, 'rb') as f:
        return scan(f)


def _values(path):
    connection = Connection(FileStorage(path, readonly=True))
    root = connection.get_root()
    values = {key: root[key]['value'] for key in root}
    connection.get_storage().close()
    return values


def test_every_cut_inside_the_last_transaction_is_recovered(tmp_path):
    original = str(tmp_path / 'a.durus')
    result = _make_file(original)
    start, end = result.transactions[-1]
    with open(original, 'rb') as f:
        data = f.read()
    assert end == len(data)
    expected = {'k%d' % i: i for i in range(7)}
    path = str(tmp_path / 'b.durus')
    sides = tmp_path / 'sides'
    for cut in range(start + 1, end):
        shutil.rmtree(sides, ignore_errors=True)
        sides.mkdir()
        with open(path, 'wb') as f:
            f.write(data[:cut])
        messages = []
        side = recover_tail(path, str(sides), say=messages.append)
        assert os.path.getsize(path) == start
        with open(side, 'rb') as f:
            assert f.read() == data[start:cut]
        assert len(messages) == 1 and str(cut - start) in messages[0]
        assert _values(path) == expected


def _start_server(directory, name='test'):
    return DurusServer(directory, name=name).start()


@pytest.mark.parametrize('tail', ['cut-1', 'cut-half', 'cut-9', 'garbage',
                                  'random'])
def test_the_storage_server_starts_on_a_torn_file(tmp_path, tail):
    directory = str(tmp_path)
    path = os.path.join(directory, 'test.durus')
    result = _make_file(path)
    start, end = result.transactions[-1]
    with open(path, 'rb') as f:
        data = f.read()
    if tail.startswith('cut-'):
        cut = {'cut-1': start + 1, 'cut-half': (start + end) // 2,
               'cut-9': end - 9}[tail]
        torn, kept, expected = data[:cut], start, 7
    else:
        extra = (b'not a transaction ' * 7 if tail == 'garbage'
                 else random.Random(14).randbytes(3000))
        torn, kept, expected = data + extra, end, 8
    with open(path, 'wb') as f:
        f.write(torn)
    server = _start_server(directory)
    try:
        connection = server.connect()
        root = connection.get_root()
        assert {k: root[k]['value'] for k in root} == {
            'k%d' % i: i for i in range(expected)}
        root['after'] = PersistentDict(value=99)
        connection.commit()
    finally:
        server.stop()
    sides = [n for n in os.listdir(directory) if '.torn-' in n]
    assert len(sides) == 1 and sides[0].startswith('test.durus.torn-')
    with open(os.path.join(directory, sides[0]), 'rb') as f:
        assert f.read() == torn[kept:]
    assert _values(path)['after'] == 99


def test_damage_before_the_tail_refuses_to_start(tmp_path):
    directory = str(tmp_path)
    path = os.path.join(directory, 'test.durus')
    result = _make_file(path)
    start, end = result.transactions[3]
    with open(path, 'r+b') as f:
        f.seek(start + 5)
        f.write(b'\x7f')
    with open(path, 'rb') as f:
        before = f.read()
    with pytest.raises(StorageDamaged) as info:
        recover_tail(path, check_command='qpd check test')
    assert 'qpd check test' in str(info.value)
    process = subprocess.run(
        [sys.executable, '-m', 'qpd.storage.server', path,
         os.path.join(directory, 'durus.sock')],
        capture_output=True, text=True, timeout=60)
    assert process.returncode == 1
    assert 'damaged at byte %d' % start in process.stderr
    assert 'qpd check NAME' in process.stderr
    assert len(process.stderr.strip().splitlines()) == 1
    with open(path, 'rb') as f:
        assert f.read() == before
    assert not [n for n in os.listdir(directory) if '.torn-' in n]



def _blocked_signals(pid, tid):
    """(pid, tid) -> {signal number}: what thread tid of pid blocks."""
    with open('/proc/%d/task/%d/status' % (pid, tid)) as f:
        for line in f:
            if line.startswith('SigBlk:'):
                mask = int(line.split()[1], 16)
    return {n for n in range(1, 65) if mask & (1 << (n - 1))}


def test_only_the_main_thread_takes_the_stop_signals(tmp_path):
    # A SIGTERM that the sync thread took left the server asleep in
    # select() for ever (once in a few hundred starts, in CI): every other
    # thread of the StorageServer must block the signals that stop it.
    for attempt in range(3):
        server = _start_server(str(tmp_path))
        try:
            pid = server.process.pid
            connection = server.connect()   # a commit: the sync thread runs
            connection.get_root()['n'] = attempt
            connection.commit()
            threads = [int(t) for t in os.listdir('/proc/%d/task' % pid)]
            assert len(threads) >= 2        # the main and the sync thread
            assert not {signal.SIGTERM, signal.SIGINT} & _blocked_signals(
                pid, pid)
            for tid in threads:
                if tid != pid:
                    assert {signal.SIGTERM, signal.SIGINT, signal.SIGHUP,
                            signal.SIGCHLD} <= _blocked_signals(pid, tid), tid
            began = time.monotonic()
            server.process.terminate()
            assert server.process.wait(10) == 0
            assert time.monotonic() - began < 5
        finally:
            server.stop()


# Crash loop --------------------------------------------------------------------

def _committer(address, key, acknowledged, stop):
    """Increment root[key]['n'] until the server goes away; record each
    value the server acknowledged."""
    from qpd.storage.connection import connect
    try:
        connection = connect(address)
        counter = connection.get_root()[key]
        while not stop.is_set():
            counter['n'] += 1
            connection.commit()
            acknowledged[key] = counter['n']
    except Exception:
        pass        # the server was killed


def test_acknowledged_commits_survive_sigkill(durus_server):
    keys = ['c%d' % i for i in range(4)]
    connection = durus_server.connect()
    root = connection.get_root()
    for key in keys:
        root[key] = PersistentDict(n=0)
    connection.commit()
    connection.get_storage().close()
    durus_server.connections = []
    acknowledged = {key: 0 for key in keys}
    rng = random.Random(20)
    for round in range(20):
        stop = threading.Event()
        threads = [threading.Thread(target=_committer, args=(
            durus_server.address, key, acknowledged, stop)) for key in keys]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.05, 0.25))
        durus_server.kill()
        stop.set()
        for t in threads:
            t.join(10)
        durus_server.start()
        connection = durus_server.connect()
        root = connection.get_root()
        for key in keys:
            assert root[key]['n'] >= acknowledged[key], (round, key)
        connection.get_storage().close()
        durus_server.connections = []
    assert all(acknowledged[key] > 0 for key in keys)


# qpd check ----------------------------------------------------------------------

def _site_file(home, name='hello'):
    return os.path.join(home, 'sites', name, 'var', name + '.durus')


@pytest.mark.file_storage('qpd check reads a Durus file the test writes')
def test_qpd_check_clean_dangling_and_torn(tmp_path):
    home = make_home(tmp_path)
    path = _site_file(home)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _make_file(path)
    result = _qpd(home, 'check', 'hello')
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'clean: 9 objects reachable' in result.stdout

    # A root that refers to an object that has no record.
    connection = Connection(FileStorage(path))
    ghost = PersistentDict()
    ghost._p_oid = b'\0\0\0\0\0\0\x03\x09'      # 777, never stored
    ghost._p_connection = connection
    connection.get_root()['ghost'] = ghost
    connection.commit()
    connection.get_storage().close()
    result = _qpd(home, 'check', 'hello')
    assert result.returncode == 1
    assert 'NOT clean (1 dangling references)' in result.stdout
    assert 'object 0 refers to object 777' in result.stdout

    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:-7])
    result = _qpd(home, 'check', 'hello')
    assert result.returncode == 1
    assert 'torn tail' in result.stdout


# qpd backup ----------------------------------------------------------------------

def _load(address, key, stop, acknowledged, lock):
    """Commit increments of root[key]['n']; acknowledged gets (time, key,
    value) for each commit the server acknowledged."""
    from qpd.storage.connection import connect
    connection = connect(address)
    counter = connection.get_root()[key]
    while not stop.is_set():
        counter['n'] += 1
        connection.commit()
        with lock:
            acknowledged.append((time.monotonic(), key, counter['n']))
    connection.get_storage().close()


def _counters(path):
    connection = Connection(FileStorage(path, readonly=True))
    root = connection.get_root()
    values = {k: root[k]['n'] for k in root if k.startswith('w')}
    connection.get_storage().close()
    return values


def _acknowledged_before(acknowledged, moment):
    last = {}
    for when, key, n in acknowledged:
        if when < moment:
            last[key] = n
    return last


@pytest.mark.file_storage('qpd backup copies the Durus file')
def test_backup_under_load_incremental_and_restore(tmp_path):
    home = make_home(tmp_path)
    dest = str(tmp_path / 'backups')
    with Cluster(home) as cluster:
        cluster.start_durus()
        from qpd.site import Site
        from qpd.storage.connection import connect
        address = Site('hello', home).get_durus_address()
        keys = ['w%d' % i for i in range(3)]
        connection = connect(address)
        for key in keys:
            connection.get_root()[key] = PersistentDict(n=0)
        connection.commit()
        connection.get_storage().close()
        stop = threading.Event()
        acknowledged = []
        lock = threading.Lock()
        threads = [threading.Thread(target=_load, args=(
            address, key, stop, acknowledged, lock)) for key in keys]
        for t in threads:
            t.start()
        try:
            time.sleep(0.5)
            began = time.monotonic()
            result = _qpd(home, 'backup', 'hello', dest + '/')
            assert result.returncode == 0, result.stderr
            backup = os.path.join(dest, 'hello.durus')
            first = _counters(backup)
            for key, n in _acknowledged_before(acknowledged, began).items():
                assert first[key] >= n
            result = _qpd(home, 'check', 'hello', '--file', backup)
            assert result.returncode == 0, result.stdout + result.stderr
            live = _qpd(home, 'check', 'hello')
            assert live.returncode == 0, live.stdout + live.stderr

            time.sleep(0.5)
            began = time.monotonic()
            size = os.path.getsize(backup)
            result = _qpd(home, 'backup', 'hello', dest, '--incremental')
            assert result.returncode == 0, result.stderr
            assert os.path.getsize(backup) > size
            second = _counters(backup)
            for key, n in _acknowledged_before(acknowledged, began).items():
                assert second[key] >= n
            assert _qpd(home, 'check', 'hello', '--file',
                        backup).returncode == 0
        finally:
            stop.set()
            for t in threads:
                t.join(10)
        # Restore: stop the StorageServer, copy the backup back, start.
        cluster.processes['durus'].stop()
        shutil.copyfile(backup, _site_file(home))
        cluster.start_durus()
        connection = connect(address)
        root = connection.get_root()
        assert {k: root[k]['n'] for k in root if k.startswith('w')} == second
        connection.get_storage().close()


# Packing keeps working ----------------------------------------------------------

@pytest.mark.file_storage('packs the Durus file')
def test_pack_with_durable_commits(durus_server):
    connection = durus_server.connect()
    root = connection.get_root()
    for i in range(30):
        root['k%d' % i] = PersistentDict(value=i)
        connection.commit()
    for i in range(20):
        del root['k%d' % i]
    connection.commit()
    inode = os.stat(durus_server.durus_file).st_ino
    before = os.path.getsize(durus_server.durus_file)
    connection.get_storage().pack()
    for i in range(5):      # commits while the pack runs, and after
        root['after%d' % i] = PersistentDict(value=i)
        connection.commit()
    deadline = time.monotonic() + 30
    while os.stat(durus_server.durus_file).st_ino == inode:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    root['last'] = PersistentDict(value=-1)
    connection.commit()
    assert os.path.getsize(durus_server.durus_file) < before
    durus_server.stop()
    durus_server.start()
    values = _values(durus_server.durus_file)
    assert values == dict([('k%d' % i, i) for i in range(20, 30)] +
                          [('after%d' % i, i) for i in range(5)] +
                          [('last', -1)])


def test_qpd_show_says_whether_commits_are_synced(tmp_path):
    home = make_home(tmp_path)
    result = _qpd(home, 'show', 'hello')
    assert result.returncode == 0, result.stderr
    assert re.search(r'durability\s+on: every commit is synced', result.stdout)
    home = make_home(tmp_path / 'scratch', configuration={'durus_sync': False})
    result = _qpd(home, 'show', 'hello')
    assert re.search(r'durability\s+OFF \(durus_sync=False\)', result.stdout)


def test_a_file_another_server_holds_is_not_cut(tmp_path):
    path = str(tmp_path / 'a.durus')
    _make_file(path)
    storage = FileStorage(path)         # holds Durus's lock, as a server
    try:
        with open(path, 'ab') as f:
            f.write(b'\0\0\0\0\0\0\0\x40half a transaction')
        size = os.path.getsize(path)
        assert recover_tail(path) is None
        assert os.path.getsize(path) == size
    finally:
        storage.close()
    assert recover_tail(path, say=lambda line: None) is not None
    assert os.path.getsize(path) < size
