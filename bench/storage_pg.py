"""Loads and commits per second: qpd's PostgreSQL storage through its
StorageServer, against today's file storage through its StorageServer,
and against RelStorage 4 + ZODB 6 (the anchor a ZODB user would pick) on
the same PostgreSQL cluster, with 1, 4 and 16 concurrent clients.

    python bench/storage_pg.py [--duration SECONDS] [--clients 1,4,16]
                               [--objects N] [--rounds N] [--json FILE]

Needs the bench extra (`pip install -e '.[bench]'`: RelStorage, ZODB,
psycopg) and Debian's postgresql package. A PostgreSQL cluster is made
for the run with tests/harness/postgres.py (initdb in a temporary
directory on this disk, fsync on, synchronous_commit on: every commit
waits for its WAL flush), each measurement on a fresh database (or file).

Each client is a process:
- loads: a Durus ClientStorage (qpd) or a RelStorage instance (ZODB)
  loading records of `--objects` objects in turn, none from a cache
  (RelStorage with cache_local_mb=0; the Durus client asks the server,
  which asks PostgreSQL or reads the file): what a worker pays for every
  object it does not have cached;
- commits: a Durus Connection (qpd) or a ZODB connection incrementing a
  counter of its own (no conflicts) and committing.

Durus clients reach their StorageServer on a unix socket, and the server
reaches PostgreSQL on its unix socket; RelStorage clients reach PostgreSQL
directly. Each figure is the median of `--rounds` runs, the three kinds
in turn in each round. The ratios printed are PostgreSQL storage / file
storage and
PostgreSQL storage / RelStorage (target: >= 1.0 against RelStorage).
Figures depend on the machine: state its cores (this project's is 2,
shared) beside them.
"""

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time

import durus_server

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests'))

KINDS = ('postgresql', 'file', 'relstorage')
TARGET = 1.0


# Durus: a StorageServer over the file or PostgreSQL ------------------------

def _start_server(kind, directory, dsn):
    sock = os.path.join(directory, 'durus.sock')
    argv = [sys.executable, '-m', 'qpd.storage.server',
            os.path.join(directory, 'bench.durus'), sock, '--name', 'bench']
    if kind == 'postgresql':
        argv += ['--dsn', dsn]
    return durus_server.start(argv, kind, sock), sock


def _durus_setup(address, clients, objects):
    from durus.persistent_dict import PersistentDict
    from qpd.storage.connection import connect
    connection = connect(address)
    root = connection.get_root()
    for index in range(clients):
        root['counter%d' % index] = PersistentDict(n=0)
    items = [PersistentDict(n=n, text='x' * 200) for n in range(objects)]
    root['items'] = items_holder = PersistentDict()
    for n, item in enumerate(items):
        items_holder[n] = item
    connection.commit()
    oids = [item._p_oid for item in items]
    connection.get_storage().close()
    return oids


def _durus_loads(address, index, oids, duration, start_at, results):
    from durus.client_storage import ClientStorage
    storage = ClientStorage(address=address)
    _wait(start_at)
    deadline = start_at + duration
    count = 0
    n = len(oids)
    while time.time() < deadline:
        storage.load(oids[(count * 7 + index) % n])
        count += 1
    results.put(count)
    storage.close()


def _durus_commits(address, index, oids, duration, start_at, results):
    from durus.client_storage import ClientStorage
    from durus.connection import Connection
    from durus.error import ConflictError
    connection = Connection(ClientStorage(address=address))
    counter = connection.get_root()['counter%d' % index]
    _wait(start_at)
    deadline = start_at + duration
    count = 0
    while time.time() < deadline:
        try:
            counter['n'] += 1
            connection.commit()
            count += 1
        except ConflictError:
            connection.abort()
    results.put(count)
    connection.get_storage().close()


# RelStorage + ZODB on the same cluster -------------------------------------

def _relstorage(dsn):
    from relstorage.adapters.postgresql import PostgreSQLAdapter
    from relstorage.options import Options
    from relstorage.storage import RelStorage
    options = Options(keep_history=False, cache_local_mb=0)
    return RelStorage(PostgreSQLAdapter(dsn=dsn, options=options),
                      options=options)


def _zodb_setup(dsn, clients, objects):
    import transaction
    import ZODB
    from persistent.mapping import PersistentMapping
    db = ZODB.DB(_relstorage(dsn))
    connection = db.open()
    root = connection.root()
    for index in range(clients):
        root['counter%d' % index] = PersistentMapping(n=0)
    items = [PersistentMapping(n=n, text='x' * 200) for n in range(objects)]
    root['items'] = holder = PersistentMapping()
    for n, item in enumerate(items):
        holder[n] = item
    transaction.commit()
    oids = [item._p_oid for item in items]
    connection.close()
    db.close()
    return oids


def _zodb_loads(dsn, index, oids, duration, start_at, results):
    storage = _relstorage(dsn)
    instance = storage.new_instance()
    instance.poll_invalidations()
    _wait(start_at)
    deadline = start_at + duration
    count = 0
    n = len(oids)
    while time.time() < deadline:
        instance.load(oids[(count * 7 + index) % n])
        count += 1
    results.put(count)
    instance.release()
    storage.close()


def _zodb_commits(dsn, index, oids, duration, start_at, results):
    import transaction
    import ZODB
    from ZODB.POSException import ConflictError
    db = ZODB.DB(_relstorage(dsn))
    connection = db.open()
    counter = connection.root()['counter%d' % index]
    _wait(start_at)
    deadline = start_at + duration
    count = 0
    while time.time() < deadline:
        try:
            counter['n'] += 1
            transaction.commit()
            count += 1
        except ConflictError:
            transaction.abort()
    results.put(count)
    connection.close()
    db.close()


# Running -------------------------------------------------------------------

def _wait(start_at):
    while time.time() < start_at:
        time.sleep(0.001)


def _run_clients(target, address, oids, clients, duration):
    results = multiprocessing.Queue()
    start_at = time.time() + 1.0 + 0.1 * clients
    processes = [multiprocessing.Process(
        target=target, args=(address, i, oids, duration, start_at, results))
        for i in range(clients)]
    for p in processes:
        p.start()
    counts = [results.get(timeout=duration + 120) for _ in processes]
    for p in processes:
        p.join(30)
    return sum(counts) / duration


def measure(kind, cluster, directory, clients, duration, objects):
    """-> {'loads': per second, 'commits': per second}"""
    dsn = cluster.new_database('bench_' + kind)
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    result = {}
    if kind == 'relstorage':
        oids = _zodb_setup(dsn, clients, objects)
        result['loads'] = _run_clients(_zodb_loads, dsn, oids, clients,
                                       duration)
        result['commits'] = _run_clients(_zodb_commits, dsn, oids, clients,
                                         duration)
        return result
    process, sock = _start_server(kind, directory, dsn)
    try:
        oids = _durus_setup(sock, clients, objects)
        result['loads'] = _run_clients(_durus_loads, sock, oids, clients,
                                       duration)
        result['commits'] = _run_clients(_durus_commits, sock, oids, clients,
                                         duration)
    finally:
        durus_server.stop(process)
    return result


def format_table(rows):
    """([dict]) -> str: the markdown table of a run."""
    lines = ['| clients | what | PostgreSQL storage | file storage | '
             'RelStorage + ZODB | PG / file | PG / RelStorage |',
             '| ---: | --- | ---: | ---: | ---: | ---: | ---: |']
    for row in rows:
        for what in ('loads', 'commits'):
            pg, fs, rs = (row[k][what] for k in KINDS)
            lines.append('| %d | %s/s | %.0f | %.0f | %.0f | %.2f | %.2f |'
                         % (row['clients'], what, pg, fs, rs,
                            pg / fs if fs else 0, pg / rs if rs else 0))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='bench/storage_pg.py')
    parser.add_argument('--duration', type=float, default=3.0)
    parser.add_argument('--clients', default='1,4,16')
    parser.add_argument('--objects', type=int, default=1000)
    parser.add_argument('--kinds', default=','.join(KINDS))
    parser.add_argument('--rounds', type=int, default=3,
                        help='the median of this many runs of each')
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    from harness.postgres import PostgresCluster
    kinds = args.kinds.split(',')
    directory = tempfile.mkdtemp(prefix='storage-pg-', dir=HERE)
    cluster = PostgresCluster().start()
    rows = []
    try:
        for clients in [int(c) for c in args.clients.split(',')]:
            runs = {kind: [] for kind in KINDS}
            # The kinds in turn, round after round: a machine that gets
            # busier or quieter meanwhile weighs on all of them alike.
            for number in range(args.rounds):
                for kind in kinds:
                    result = measure(kind, cluster, directory, clients,
                                     args.duration, args.objects)
                    runs[kind].append(result)
                    print('%2d clients, round %d, %-10s: %6.0f loads/s '
                          '%6.0f commits/s' % (
                              clients, number + 1, kind, result['loads'],
                              result['commits']), flush=True)
            row = {'clients': clients, 'rounds': runs}
            for kind in KINDS:
                row[kind] = {what: statistics.median(
                    [r[what] for r in runs[kind]]) if runs[kind] else 0
                    for what in ('loads', 'commits')}
            rows.append(row)
    finally:
        cluster.remove()
        shutil.rmtree(directory, ignore_errors=True)
    print()
    print('%d cores on this machine' % os.cpu_count())
    print(format_table(rows))
    for row in rows:
        rs = row['relstorage']
        pg = row['postgresql']
        if rs['loads'] and rs['commits']:
            print('%2d clients: PG/RelStorage loads %.2f, commits %.2f '
                  '(target >= %.1f): %s' % (
                      row['clients'], pg['loads'] / rs['loads'],
                      pg['commits'] / rs['commits'], TARGET,
                      'PASS' if min(pg['loads'] / rs['loads'],
                                    pg['commits'] / rs['commits']) >= TARGET
                      else 'FAIL'))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
