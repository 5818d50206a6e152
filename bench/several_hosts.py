"""A site on several simulated hosts: read-page throughput through nginx
with 1, 2 and 3 web hosts against one StorageServer, and the
StorageServer's own ceiling (syncs per second answered to 1, 8 and 32
clients).

    python bench/several_hosts.py [--duration SECONDS] [--webs 1,2,3]
                                  [--clients 1,8,32] [--rounds N]
                                  [--json FILE]

Hosts are Linux network namespaces on one bridge (tests/integration/
netns_hosts.py, as in tests/integration/test_several_hosts.py): a storage
host running the StorageServer over mutual TLS, N web hosts each with its
own supervisord, dispatcher and `--workers` workers, and nginx on a front
host configured by `qpd build NAME --hosts`. wrk runs on the front host
against GET /read, a page that syncs with the StorageServer (every hit
starts with a sync) and reads a BTree. All hosts share this machine's
cores, so the figure shows the protocol's and TLS's cost and the shape
of the scaling, not more CPU. One row runs the same single web host with
plain TCP to the StorageServer (durus_allow_insecure_plain_tcp) for the
cost of TLS.

The ceiling: the StorageServer (qpd's, over TLS on loopback, and over
plain TCP and its unix socket for comparison) answers `sync` requests from 1, 8 and 32
client processes, each looping sync() as fast as it can; the table gives
syncs per second and the server's CPU use (1.0 is one core: the server is
single-threaded). Each case runs --rounds times, interleaved with the
others (the machine's load drifts), and the median is reported. Needs
root (namespaces), nginx and wrk.
"""

import argparse
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests',
                                'integration'))

from netns_hosts import Network, SiteOnHosts, unavailable  # noqa: E402

__all__ = ['main', 'measure_front', 'measure_ceiling']


def _wrk(site, duration, connections):
    """-> (requests/s, p99 ms, non-2xx)"""
    wrk = shutil.which('wrk')
    url = 'http://%s/read' % site.get_front_address()
    result = site.net.run('front', [
        wrk, '-t2', '-c%d' % connections, '-d%ds' % duration, '--latency',
        url], timeout=duration + 60)
    text = result.stdout
    rate = float(re.search(r'Requests/sec:\s+([\d.]+)', text).group(1))
    p99 = re.search(r'99%\s+([\d.]+)(us|ms|s)', text)
    scale = {'us': 0.001, 'ms': 1.0, 's': 1000.0}[p99.group(2)]
    bad = re.search(r'Non-2xx or 3xx responses:\s+(\d+)', text)
    errors = re.search(r'Socket errors:.*', text)
    return rate, float(p99.group(1)) * scale, int(bad.group(1)) if bad \
        else 0, errors.group(0) if errors else ''


def measure_front(webs, duration, workers, connections, plain=False):
    """(webs:int, duration:int, workers:int, connections:int, plain=False)
    -> dict: wrk's figures through nginx with `webs` web hosts."""
    root = tempfile.mkdtemp(prefix='qpd-bench-hosts-', dir='/tmp')
    net = Network('qb%d' % os.getpid())
    configuration = {'display_exceptions': False}
    if plain:
        configuration.update(durus_tls=False,
                             durus_allow_insecure_plain_tcp=True)
    site = SiteOnHosts(net, root, web_hosts=webs, workers=workers,
                       configuration=configuration)
    try:
        site.build().start()
        # Warm every worker's cache.
        _wrk(site, 1, connections)
        durus = site.supervisor('store').call(
            'getProcessInfo', '%s:durus' % site.name)['pid']
        webs_pids = [pid for web in site.webs
                     for pid in net.get_pids(net.get_namespace(web))]
        storage_cpu = _cpu_seconds(durus)
        web_cpu = _cpu_sum(webs_pids)
        rate, p99, bad, errors = _wrk(site, duration, connections)
        storage_cpu = _cpu_seconds(durus) - storage_cpu
        web_cpu = _cpu_sum(webs_pids) - web_cpu
    finally:
        try:
            site.stop()
        finally:
            net.cleanup()
            shutil.rmtree(root, ignore_errors=True)
    return dict(webs=webs, workers=workers, transport='plain TCP' if plain
                else 'TLS', rate=rate, p99_ms=p99, non_2xx=bad,
                socket_errors=errors,
                storage_us=1e6 * storage_cpu / max(1, rate * duration),
                web_us=1e6 * web_cpu / max(1, rate * duration))


# The StorageServer's ceiling ------------------------------------------------

def _sync_client(kind, address, tls, duration, start_at, results):
    from qpd.storage.connection import ClientStorage
    if kind == 'tls':
        from qpd.storage.tls import TLSAddress, make_client_context
        address = TLSAddress(address[0], address[1],
                             make_client_context(tls))
    storage = ClientStorage(address)
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + duration
    count = 0
    while time.time() < deadline:
        storage.sync()
        count += 1
    results.put(count)
    storage.close()


def _cpu_seconds(pid):
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def _cpu_sum(pids):
    total = 0.0
    for pid in pids:
        try:
            total += _cpu_seconds(pid)
        except (OSError, IndexError):
            pass        # gone meanwhile
    return total


def measure_ceiling(kind, clients, duration, directory):
    """(kind:'tls'|'tcp'|'unix', clients:int, duration:float, directory:str) ->
    dict(rate=syncs/s, server_cpu=cores)"""
    from qpd.ops.certs import make_ca, write_host_files
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    tls = os.path.join(directory, 'client')
    if kind == 'tls':
        ca_key, ca_cert = make_ca('bench')
        write_host_files(os.path.join(directory, 'server'), ca_key, ca_cert,
                         'store', ['127.0.0.1'], server=True)
        write_host_files(tls, ca_key, ca_cert, 'client')
        argv = ['127.0.0.1:0', '--tls', os.path.join(directory, 'server')]
    elif kind == 'tcp':
        argv = ['127.0.0.1:0']
    else:
        argv = [os.path.join(directory, 'durus.sock')]
    server = subprocess.Popen(
        [sys.executable, '-m', 'qpd.storage.server',
         os.path.join(directory, 'bench.durus')] + argv,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        text = line.split()[-1]
        if kind in ('tls', 'tcp'):
            host, port = text.rsplit(':', 1)
            address = (host, int(port))
        else:
            address = text
        results = multiprocessing.Queue()
        start_at = time.time() + 0.5 + 0.05 * clients
        processes = [multiprocessing.Process(
            target=_sync_client, args=(kind, address, tls, duration,
                                       start_at, results))
            for _ in range(clients)]
        for p in processes:
            p.start()
        while time.time() < start_at:
            time.sleep(0.001)
        cpu = _cpu_seconds(server.pid)
        time.sleep(duration)
        cpu = _cpu_seconds(server.pid) - cpu
        total = sum(results.get(timeout=duration + 60) for _ in processes)
        for p in processes:
            p.join()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(10)
    return dict(kind=kind, clients=clients, rate=total / duration,
                server_cpu=cpu / duration)


LINKS = {'tls': 'TLS (loopback)', 'tcp': 'plain TCP (loopback)',
         'unix': 'unix socket'}


def _median(rows):
    """([dict]) -> dict: the row of the median rate."""
    rows = sorted(rows, key=lambda row: row['rate'])
    return dict(rows[len(rows) // 2], rounds=len(rows),
                rates=[round(row['rate']) for row in rows])


def format_tables(front, ceiling):
    """-> str: the two markdown tables."""
    lines = ['Read page through nginx (GET /read: a sync and a BTree read '
             'per hit):', '',
             '| web hosts | workers each | storage link | requests/s | '
             'p99 ms | non-2xx | StorageServer CPU us/hit | web hosts CPU '
             'us/hit |', '| --- | --- | --- | --- | --- | --- | --- | --- |']
    for row in front:
        lines.append('| %d | %d | %s | %.0f | %.1f | %d | %.0f | %.0f |' % (
            row['webs'], row['workers'], row['transport'], row['rate'],
            row['p99_ms'], row['non_2xx'], row.get('storage_us', 0),
            row.get('web_us', 0)))
    lines += ['', 'StorageServer ceiling (sync requests answered):', '',
              '| clients | link | syncs/s | server CPU (cores) | server CPU '
              'us/sync |', '| --- | --- | --- | --- | --- |']
    for row in ceiling:
        lines.append('| %d | %s | %.0f | %.2f | %.0f |' % (
            row['clients'], LINKS[row['kind']], row['rate'],
            row['server_cpu'], 1e6 * row['server_cpu'] / max(1, row['rate'])))
    return '\n'.join(lines) + '\n'


def main(argv=None):
    parser = argparse.ArgumentParser(prog='bench/several_hosts.py')
    parser.add_argument('--duration', type=int, default=8)
    parser.add_argument('--webs', default='1,2,3')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--connections', type=int, default=16)
    parser.add_argument('--clients', default='1,8,32')
    parser.add_argument('--no-plain', dest='plain', action='store_false',
                        help='skip the plain-TCP row')
    parser.add_argument('--rounds', type=int, default=3,
                        help='runs of each case, interleaved; the median '
                             'is reported')
    parser.add_argument('--json', default=None)
    args = parser.parse_args(argv)
    reason = unavailable()
    if reason:
        raise SystemExit('bench/several_hosts.py: %s' % reason)
    if not shutil.which('wrk'):
        raise SystemExit('bench/several_hosts.py: wrk is not installed '
                         '(make debs-bench)')
    cases = [(int(n), False) for n in args.webs.split(',')]
    if args.plain:
        cases.append((1, True))
    runs = {case: [] for case in cases}
    for round_ in range(args.rounds):     # interleaved: load drifts
        for webs, plain in cases:
            row = measure_front(webs, args.duration, args.workers,
                                args.connections, plain=plain)
            runs[(webs, plain)].append(row)
            print('  round %d: %d web host(s)%s: %.0f requests/s' % (
                round_ + 1, webs, ', plain TCP' if plain else '',
                row['rate']), flush=True)
    front = [_median(runs[case]) for case in cases]
    directory = tempfile.mkdtemp(prefix='qpd-bench-ceiling-')
    kinds = [(int(n), kind) for n in args.clients.split(',')
             for kind in ('tls', 'tcp', 'unix')]
    runs = {case: [] for case in kinds}
    try:
        for round_ in range(args.rounds):
            for clients, kind in kinds:
                row = measure_ceiling(kind, clients, args.duration,
                                      directory)
                runs[(clients, kind)].append(row)
                print('  round %d: %d client(s), %s: %.0f syncs/s' % (
                    round_ + 1, clients, kind, row['rate']), flush=True)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    ceiling = [_median(runs[case]) for case in kinds]
    print()
    print(format_tables(front, ceiling))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(dict(front=front, ceiling=ceiling), f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
