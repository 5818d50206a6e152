"""Commits per second through a Durus StorageServer: qpd's durable server
(every commit fdatasync'ed before it is answered, grouped) against stock
Durus (never synced), with 1, 4 and 16 concurrent committing clients.

    python bench/durus_commits.py [--duration SECONDS] [--clients 1,4,16]
                                  [--rounds N] [--json FILE]

Each client is a process with its own Durus connection that increments a
counter of its own (no conflicts) and commits, as fast as it can, for
`--duration` seconds. For each number of clients the servers run in turn
(stock, synced, stock, synced, ... over the rounds) on a fresh file in a
temporary directory on the same disk as the bench (not a tmpfs: fdatasync
must reach the device), and the median of the rounds is reported. Target: with 16 clients, synced >= 0.8 x unsynced.
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

__all__ = ['main', 'run_clients', 'SERVERS']

TARGET = 0.8

# How each server is started: argv after the python executable.
SERVERS = {
    'stock': lambda path, sock: [
        '-c', 'import sys, logging\n'
        'from durus.file_storage import FileStorage\n'
        'from durus.connection import Connection\n'
        'from durus.storage_server import StorageServer\n'
        'logging.getLogger("durus").setLevel(logging.WARNING)\n'
        's = FileStorage(sys.argv[1]); Connection(s)\n'
        'print("READY", flush=True)\n'
        'StorageServer(s, address=sys.argv[2]).serve()\n', path, sock],
    'synced': lambda path, sock: [
        '-m', 'qpd.storage.server', path, sock, '--name', 'bench'],
}


def _setup(address, clients):
    """Give each client a counter object of its own, so that no commit
    conflicts with another."""
    from durus.client_storage import ClientStorage
    from durus.connection import Connection
    from durus.persistent_dict import PersistentDict

    connection = Connection(ClientStorage(address=address))
    root = connection.get_root()
    for index in range(clients):
        root['counter%d' % index] = PersistentDict(n=0)
    connection.commit()
    connection.get_storage().close()


def _client(address, index, duration, start_at, results):
    from durus.client_storage import ClientStorage
    from durus.connection import Connection
    from durus.error import ConflictError

    connection = Connection(ClientStorage(address=address))
    counter = connection.get_root()['counter%d' % index]
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + duration
    commits = 0
    conflicts = 0
    while time.time() < deadline:
        try:
            counter['n'] += 1
            connection.commit()
            commits += 1
        except ConflictError:
            conflicts += 1
            connection.abort()
    results.put((index, commits, conflicts))
    connection.get_storage().close()


def _start_server(kind, directory):
    path = os.path.join(directory, 'bench.durus')
    sock = os.path.join(directory, 'durus.sock')
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    return durus_server.start([sys.executable] + SERVERS[kind](path, sock),
                              kind, sock), sock


def run_clients(address, clients, duration):
    """(address:str, clients:int, duration:float) -> (commits, conflicts)"""
    _setup(address, clients)
    results = multiprocessing.Queue()
    start_at = time.time() + 0.5 + 0.05 * clients
    processes = [multiprocessing.Process(
        target=_client, args=(address, i, duration, start_at, results))
        for i in range(clients)]
    for p in processes:
        p.start()
    got = [results.get(timeout=duration + 60) for _ in processes]
    for p in processes:
        p.join()
    return sum(g[1] for g in got), sum(g[2] for g in got)


def measure(kind, directory, clients, duration):
    """-> dict(rate=commits/s, commits, conflicts)"""
    process, sock = _start_server(kind, directory)
    try:
        commits, conflicts = run_clients(sock, clients, duration)
    finally:
        durus_server.stop(process)
    return dict(rate=commits / duration, commits=commits,
                conflicts=conflicts)


def format_table(rows):
    """([dict]) -> str"""
    lines = ['| clients | stock Durus, unsynced (commits/s) | qpd synced, '
             'group commit (commits/s) | synced / unsynced |',
             '| ---: | ---: | ---: | ---: |']
    for row in rows:
        lines.append('| %d | %.0f | %.0f | %.2f |' % (
            row['clients'], row['stock'], row['synced'], row['ratio']))
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='bench/durus_commits.py')
    parser.add_argument('--duration', type=float, default=3.0)
    parser.add_argument('--clients', default='1,4,16')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    directory = tempfile.mkdtemp(prefix='durus-commits-', dir=here)
    rows = []
    try:
        for clients in [int(c) for c in args.clients.split(',')]:
            rates = {'stock': [], 'synced': []}
            for _ in range(args.rounds):
                for kind in ('stock', 'synced'):
                    rates[kind].append(measure(
                        kind, directory, clients, args.duration)['rate'])
            row = dict(clients=clients,
                       stock=statistics.median(rates['stock']),
                       synced=statistics.median(rates['synced']),
                       rounds=rates)
            row['ratio'] = row['synced'] / row['stock'] if row['stock'] else 0
            rows.append(row)
            print('%2d clients: stock %.0f/s, synced %.0f/s (%.2fx)' % (
                clients, row['stock'], row['synced'], row['ratio']),
                flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print()
    print(format_table(rows))
    last = [r for r in rows if r['clients'] == 16]
    if last:
        ok = last[0]['ratio'] >= TARGET
        print('\n16 clients: synced/unsynced = %.2f, target >= %.1f: %s' % (
            last[0]['ratio'], TARGET, 'PASS' if ok else 'FAIL'))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
