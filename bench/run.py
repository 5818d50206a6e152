"""`make bench`: the bench site under qpd's dispatcher and workers, and
through qpd.web.wsgi under gunicorn's sync workers, granian and uWSGI, with
nginx's fixed body as the ceiling.

    python bench/run.py [--workers N] [--duration SECONDS] [--rounds N]
                        [--only WORKLOAD[,WORKLOAD]] [--quick]

Each round boots fresh servers (qpd first, timing `qpd start` to the first
200), then runs every workload against each server in turn (A B C D A B C D
over the rounds), and reports medians. Prints a table and the targets' PASS/FAIL,
and writes everything to bench/results/<timestamp>.json. See
bench/README.md for what each number means.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
# bench/ for its own modules, tests/ for the harness it shares with the
# integration tests.
for _directory in (os.path.join(os.path.dirname(BENCH_DIR), 'tests'),
                   BENCH_DIR):
    if _directory not in sys.path:
        sys.path.insert(0, _directory)

from harness import (HarnessError, Processes, free_port,  # noqa: E402
                     wait_for_line)
from measure import cpu_delta, cpu_times, passive_opens, rss_of  # noqa: E402
from report import (evaluate_targets, format_report, select_workloads,  # noqa: E402
                    summarize)
from breakdown import LogTail, format_summary, summarize_slow_hits  # noqa: E402
from chart import write_chart  # noqa: E402
from servers import (SERVER_CLASSES, NginxServer, QpdServer,  # noqa: E402
                     make_home)
from wrk import WrkError, find_wrk, run_wrk  # noqa: E402

__all__ = ['main', 'make_parser']

RESULTS_DIR = os.path.join(BENCH_DIR, 'results')


def connection_counts(text):
    """(text:str) -> [int]: '16' or '16,64'."""
    try:
        counts = [int(word) for word in text.split(',') if word.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(
            'expected a count or counts such as 16,64, got %r' % text)
    return counts


def is_qpd(name):
    """(name:str) -> bool: is the server qpd's own (on its file, or on
    PostgreSQL: 'qpd-pg')?"""
    return name in ('qpd', 'qpd-pg')


def make_parser():
    """() -> argparse.ArgumentParser"""
    parser = argparse.ArgumentParser(
        prog='bench/run.py',
        description='Benchmark qpd against gunicorn, granian and uWSGI (and '
                    'nginx) on one '
                    'machine; print a table and PASS/FAIL per target.')
    parser.add_argument('--workers', type=int, default=2,
                        help='workers for every server (2)')
    parser.add_argument('--duration', type=float, default=None,
                        help='seconds per measurement (5; 2 with --quick)')
    parser.add_argument('--rounds', type=int, default=None,
                        help='A B rounds; medians are reported (2; 1 with '
                             '--quick)')
    parser.add_argument('--only', default=None, metavar='WORKLOAD',
                        help='comma-separated workloads: hello, read, write, '
                             'static (each with its -close twin), slow, or '
                             'an exact name such as hello-close')
    parser.add_argument('--quick', action='store_true',
                        help='a short run: 2 s per measurement, 1 round')
    parser.add_argument('--connections', type=connection_counts,
                        default=[10], metavar='N[,N...]',
                        help='wrk connections (10); several, such as '
                             '16,64, measure every workload at each '
                             '(rows NAME@cN)')
    parser.add_argument('--threads', type=int, default=1,
                        help='wrk threads (1)')
    parser.add_argument('--slow-clients', type=int, default=100,
                        help='slow clients in the slow workload (100)')
    parser.add_argument('--qpd-mode', choices=('auto', 'start', 'serve'),
                        default='auto',
                        help='start qpd with `qpd start` (supervisord) or '
                             '`qpd serve`; auto tries start, then serve')
    parser.add_argument('--sync-every-hit', action='store_true',
                        help='qpd syncs at the start of every hit, as the '
                             'WSGI servers do (coalesce_syncs off)')
    parser.add_argument('--breakdown', type=float, default=None,
                        metavar='MS',
                        help='qpd logs every hit of MS milliseconds or more '
                             "with where its time went (slow_hit_seconds); "
                             'the bench sums them per workload '
                             '(bench/breakdown.py)')
    parser.add_argument('--no-nginx', action='store_true',
                        help='skip the nginx ceiling')
    parser.add_argument('--postgresql', action='store_true',
                        help="also qpd-pg: qpd's site on durus_storage="
                             "'postgresql' (a cluster made for the run, a "
                             'new database each round), side by side with '
                             'qpd on its file')
    parser.add_argument('--servers', default='qpd,gunicorn,granian,uwsgi',
                        help='which of qpd,gunicorn,granian,uwsgi to run '
                             '(all)')
    parser.add_argument('--output', default=RESULTS_DIR, metavar='DIR',
                        help='where the JSON goes (bench/results)')
    parser.add_argument('--strict', action='store_true',
                        help='exit 1 when a target fails')
    parser.add_argument('--access-log', action='store_true',
                        help="qpd writes its hit lines (the site's default; "
                             'off otherwise, as granian and uWSGI run)')
    parser.add_argument('--keep', action='store_true',
                        help='keep the temporary homes and logs')
    return parser


def check_tools():
    """() -> None: raise HarnessError naming whatever is missing."""
    find_wrk()
    missing = []
    for module in ('psutil', 'gunicorn', 'granian', 'pyuwsgi', 'durus',
                   'matplotlib'):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise HarnessError('missing Python packages: %s (pip install -e '
                         "'.[bench]')" % ', '.join(missing))


def wrk_version():
    """() -> str"""
    try:
        out = subprocess.run([find_wrk(), '--version'], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True).stdout
        return out.splitlines()[0].strip()
    except (OSError, IndexError, WrkError):
        return '?'


class Bench:
    """(args) One run of the bench: rounds of fresh servers and workloads."""

    def __init__(self, args, processes, directory):
        self.args = args
        self.processes = processes
        self.directory = directory
        self.workloads = select_workloads(args.only)
        if len(args.connections) > 1:
            # Each workload at each count; the slow clients' once.
            self.workloads = [
                at for w in self.workloads
                for at in ([w] if w.slow else
                           [w.at(count) for count in args.connections])]
        self.server_names = [s.strip() for s in args.servers.split(',')
                             if s.strip()]
        if args.postgresql and 'qpd-pg' not in self.server_names:
            self.server_names.insert(
                self.server_names.index('qpd') + 1
                if 'qpd' in self.server_names else 0, 'qpd-pg')
        self.samples = []
        self.rounds = []
        self.errors = []

    def log(self, text):
        print(text, flush=True)

    def error(self, text):
        self.errors.append(text)
        self.log('bench: ' + text)

    # Servers -------------------------------------------------------------

    def get_postgres(self):
        """() -> harness.postgres.PostgresCluster: the run's cluster, made
        (and removed when the run ends) on first use."""
        if getattr(self, 'postgres', None) is None:
            from harness.postgres import PostgresCluster
            self.postgres = PostgresCluster().start()
            self.processes.on_stop(self.postgres.remove)
        return self.postgres

    def start_servers(self, number):
        """(number:int) -> [server]: fresh homes and servers for a round."""
        args = self.args
        base = os.path.join(self.directory, 'round-%d' % number)
        servers = []
        static_file = None
        for name in self.server_names:
            port = free_port()
            try:
                # The peers write no access log (granian's and uWSGI's
                # defaults, --disable-logging): neither does qpd, unless
                # --access-log.
                settings = {} if args.access_log else {
                    'access_log_format': 'off'}
                if args.sync_every_hit:
                    settings['coalesce_syncs'] = False
                if args.breakdown is not None and is_qpd(name):
                    settings['slow_hit_seconds'] = args.breakdown / 1000
                if name == 'qpd-pg':
                    settings.update(durus_storage='postgresql',
                                    durus_dsn=self.get_postgres().new_database(
                                        'bench_%d' % number))
                home = make_home(os.path.join(base, name), port,
                                 args.workers, settings)
                static_file = os.path.join(home, 'sites', 'bench', 'static',
                                           '100k.bin')
                if is_qpd(name):
                    server = QpdServer(self.processes, home, port,
                                       args.workers, mode=args.qpd_mode)
                    server.name = name
                elif name in SERVER_CLASSES:
                    server = SERVER_CLASSES[name](
                        self.processes, home, port, args.workers)
                    server.access_log = args.access_log
                else:
                    raise HarnessError('unknown server %r' % name)
                seconds = server.start()
            except (HarnessError, OSError, subprocess.SubprocessError) as e:
                self.error('round %d: %s did not start: %s' % (number, name,
                                                               e))
                continue
            self.log('round %d: %s answered 200 %.2f s after start%s' % (
                number, name, seconds,
                ' (qpd %s)' % server.used_mode if is_qpd(name) else ''))
            server.start_seconds = seconds
            servers.append(server)
        if (not args.no_nginx and static_file
                and any(w.nginx for w in self.workloads)):
            server = NginxServer(self.processes, os.path.join(base, 'nginx'),
                                 free_port(), args.workers, static_file)
            try:
                server.start_seconds = server.start()
                servers.insert(0, server)
            except (HarnessError, OSError) as e:
                self.error('round %d: nginx did not start: %s' % (number, e))
        return servers

    def record_round(self, number, server):
        """(number:int, server) -> None: its RSS and start time."""
        info = dict(round=number, server=server.name,
                    start_seconds=getattr(server, 'start_seconds', None),
                    command_seconds=getattr(server, 'command_seconds', None),
                    worker_rss=rss_of(server.worker_pids()),
                    other_rss=rss_of(server.other_pids()),
                    mode=getattr(server, 'used_mode', None))
        if is_qpd(server.name) and len(info['worker_rss']) != \
                self.args.workers:
            self.error('round %d: found %d qpd workers, expected %d' % (
                number, len(info['worker_rss']), self.args.workers))
        self.rounds.append(info)

    # Measurements ----------------------------------------------------------

    def warm_up(self, server):
        """(server) -> None: a second of each page, so that workers have
        imported everything and loaded the objects."""
        for path in ('/hello', '/read', '/page', '/static/100k.bin'):
            if server.name == 'nginx' and path in ('/read', '/page'):
                continue
            try:
                run_wrk(server.url(path), duration=1,
                        connections=self.args.connections[0],
                        threads=self.args.threads)
            except WrkError as e:
                self.error('warm-up of %s %s failed: %s' % (
                    server.name, path, str(e).splitlines()[0]))

    def measure(self, number, server, workload):
        """(number:int, server, workload:Workload) -> dict | None"""
        args = self.args
        connections = workload.connections or args.connections[0]
        sample = dict(round=number, server=server.name,
                      workload=workload.name, connections=connections)
        slow = None
        try:
            if workload.write:
                before = server.get_count()
            if workload.slow:
                # The unloaded baseline, measured just before, so that the
                # fraction compares like with like on a noisy machine.
                baseline = run_wrk(server.url(workload.path),
                                   duration=args.duration,
                                   connections=connections,
                                   threads=args.threads)
                sample['baseline_rps'] = baseline['rps']
                slow = self.start_slow_clients(server)
            tail = None
            if args.breakdown is not None and is_qpd(server.name):
                tail = LogTail(server.log_patterns())
            role_pids = server.role_pids()
            cpu_before = cpu_times(role_pids)
            opened = passive_opens()
            result = run_wrk(server.url(workload.path, workload.close),
                             duration=args.duration,
                             connections=connections,
                             threads=args.threads, close=workload.close)
            cpu = cpu_delta(cpu_before, cpu_times(role_pids))
            if opened is not None and result['requests']:
                sample['new_connections'] = (
                    (passive_opens() - opened) / result['requests'])
            if tail is not None:
                time.sleep(0.2)     # the workers' last lines
                sample['slow_hits'] = summarize_slow_hits(tail.read())
            requests = result['requests']
            sample['cpu_us'] = {role: seconds * 1e6 / requests if requests
                                else None for role, seconds in cpu.items()}
            sample['cpu_us_total'] = (sum(cpu.values()) * 1e6 / requests
                                      if requests else None)
            if slow is not None:
                sample['slow_clients'] = self.stop_slow_clients(slow)
                slow = None
            sample.update(result)
            if workload.write:
                time.sleep(0.5)     # let requests in flight at wrk's end commit
                committed = server.get_count() - before
                sample['committed'] = committed
                sample['lost'] = max(0, result['ok'] - committed)
                sample['unacknowledged'] = max(0, committed - result['ok'])
        except (HarnessError, WrkError, OSError) as e:
            self.error('round %d: %s %s failed: %s' % (
                number, workload.name, server.name, e))
            return None
        finally:
            if slow is not None:
                self.stop_slow_clients(slow)
        sample['command'] = ' '.join(sample['command'])
        self.samples.append(sample)
        notes = ''
        if workload.write:
            notes = ' committed %d ok %d lost %d' % (
                sample['committed'], sample['ok'], sample['lost'])
        if 'slow_clients' in sample:
            notes = ' (unloaded %.1f req/s) slow clients %s' % (
                sample['baseline_rps'], json.dumps(sample['slow_clients']))
        if 'slow_hits' in sample:
            notes += '\n    %s' % format_summary(sample['slow_hits'])
        cpu = ' '.join('%s %s' % (role, '-' if value is None else '%.0f'
                                  % value)
                       for role, value in sample['cpu_us'].items())
        self.log('round %d: %-12s %-8s %9.1f req/s  p50 %s  p99 %s  '
                 'non-2xx %d  sock err %d  CPU us/req %s%s' % (
                     number, workload.name, server.name, sample['rps'],
                     _ms(sample['p50_ms']), _ms(sample['p99_ms']),
                     sample['non_2xx'], sample['socket_errors'], cpu, notes))
        return sample

    def start_slow_clients(self, server):
        """(server) -> Popen: slow clients dribbling heads at server."""
        proc = self.processes.spawn(
            [sys.executable, os.path.join(BENCH_DIR, 'slow_clients.py'),
             server.host, str(server.port),
             '--clients', str(self.args.slow_clients)],
            name='slow clients', stdout=subprocess.PIPE)
        wait_for_line(proc, 'READY', timeout=30)
        return proc

    def stop_slow_clients(self, proc):
        """(proc:Popen) -> dict: the slow clients' statistics."""
        stats = {}
        try:
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
            for line in out.splitlines():
                if line.startswith('{'):
                    stats = json.loads(line)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            pass
        self.processes.stop(proc)
        return stats

    def run(self):
        """() -> None: every round."""
        args = self.args
        for number in range(1, args.rounds + 1):
            servers = self.start_servers(number)
            try:
                for server in servers:
                    self.warm_up(server)
                recorded = False
                for workload in self.workloads:
                    if workload.slow and not recorded:
                        for server in servers:
                            self.record_round(number, server)
                        recorded = True
                    for server in servers:
                        if server.name == 'nginx' and not workload.nginx:
                            continue
                        self.measure(number, server, workload)
                if not recorded:
                    for server in servers:
                        self.record_round(number, server)
            finally:
                for server in servers:
                    try:
                        server.stop()
                    except Exception as e:
                        self.error('stopping %s: %s' % (server.name, e))


def _ms(value):
    return '-' if value is None else '%.2f ms' % value


def write_json(bench, summary, targets, started, output):
    """(...) -> str: the path of the JSON results file."""
    os.makedirs(output, exist_ok=True)
    path = os.path.join(output, started.strftime('%Y%m%d-%H%M%S') + '.json')
    args = bench.args
    data = dict(
        started=started.isoformat(timespec='seconds'),
        arguments=vars(args),
        machine=dict(cpus=os.cpu_count(), python=platform.python_version(),
                     platform=platform.platform(), wrk=wrk_version()),
        workloads=[w.name for w in bench.workloads],
        samples=bench.samples, rounds=bench.rounds, summary=summary,
        targets=targets, errors=bench.errors)
    with open(path, 'w') as f:
        json.dump(data, f, indent=1, default=str)
    return path


def main(argv=None):
    """(argv:[str]=None) -> int: 0 when the bench ran (1 with --strict when
    a target fails), 2 when it could not run, 130 when interrupted."""
    args = make_parser().parse_args(argv)
    if args.duration is None:
        args.duration = 2.0 if args.quick else 5.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 2
    try:
        check_tools()
        select_workloads(args.only)
    except (HarnessError, WrkError, ValueError) as e:
        print('bench: %s' % e, file=sys.stderr)
        return 2
    started = datetime.datetime.now()
    directory = tempfile.mkdtemp(prefix='qpd-bench-')
    print('bench: %d workers, %g s per measurement, %d round(s), wrk -t%d '
          '-c%s; temporary homes in %s' % (
              args.workers, args.duration, args.rounds, args.threads,
              ','.join(map(str, args.connections)), directory), flush=True)
    interrupted = False
    try:
        with Processes() as processes:
            bench = Bench(args, processes, directory)
            try:
                bench.run()
            except KeyboardInterrupt:
                interrupted = True
                print('\nbench: interrupted; stopping servers', flush=True)
    finally:
        if args.keep:
            print('bench: kept %s' % directory)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    summary = summarize(bench.samples, bench.rounds)
    targets = evaluate_targets(summary)
    print()
    print(format_report(summary, targets))
    path = write_json(bench, summary, targets, started, args.output)
    try:
        charts = write_chart(summary, os.path.splitext(path)[0])
        print('bench: chart in %s' % ', '.join(
            os.path.relpath(c) for c in charts))
    except Exception as e:      # the numbers matter more than the picture
        print('bench: no chart (%s: %s)' % (type(e).__name__, e))
    print('\nbench: results in %s' % os.path.relpath(path))
    if bench.errors:
        print('bench: %d problem(s) during the run:' % len(bench.errors))
        for text in bench.errors:
            print('  ' + text.splitlines()[0])
    if interrupted:
        return 130
    if args.strict and any(t['passed'] is False for t in targets):
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
