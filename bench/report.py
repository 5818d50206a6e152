"""Turn the bench's samples into medians, ratios, target verdicts and a
table. Everything here is pure (tested in tests/test_bench_smoke.py).

    summary = summarize(samples, rounds_info)
    targets = evaluate_targets(summary)
    print(format_report(summary, targets))
"""

from measure import median

__all__ = ['WORKLOADS', 'Workload', 'select_workloads', 'summarize',
           'evaluate_targets', 'format_table', 'format_report', 'ratio',
           'SERVERS', 'NUMBERS']

SERVERS = ('nginx', 'qpd', 'qpd-pg', 'gunicorn', 'granian', 'uwsgi')

# qpd on durus_storage='postgresql' (`--postgresql`, the server 'qpd-pg')
# against qpd on its file, side by side (issue 24): qpd-pg/qpd req/s at
# least this on each workload (with its @cN twins).
POSTGRESQL_TARGETS = (('read', 0.9), ('read-close', 0.9), ('write', 0.7),
                      ('write-close', 0.7))

# The WSGI servers qpd's own server must match (issue 16): qpd >= 1.0x their
# req/s, with p99 no worse, on these workloads.
RIVALS = ('granian', 'uwsgi')
RIVAL_WORKLOADS = ('hello', 'hello-close', 'read', 'read-close', 'page',
                   'page-close', 'write', 'write-close')

# A close row whose server opened fewer new connections than this per
# request kept them alive (uWSGI's --http11-socket ignores a client's
# Connection: close): its figure is a keep-alive one, and the table says so.
KEPT_CONNECTIONS = 0.9

# Per-sample numbers whose median is reported.
NUMBERS = ('rps', 'p50_ms', 'p75_ms', 'p90_ms', 'p99_ms', 'latency_max_ms',
           'non_2xx', 'socket_errors',
           'requests', 'ok', 'committed', 'lost', 'unacknowledged',
           'cpu_us_total', 'new_connections')


class Workload:
    """(name:str, path:str, close=False, slow=False, nginx=False,
        write=False)
    One measurement: wrk on path for the run's duration, with
    `Connection: close` when close, alongside 100 slow clients when slow.
    nginx: measure the nginx ceiling too. write: check the counter."""

    def __init__(self, name, path, close=False, slow=False, nginx=False,
                 write=False, connections=None):
        self.name = name
        self.path = path
        self.close = close
        self.slow = slow
        self.nginx = nginx
        self.write = write
        self.connections = connections   # None: the run's first count

    def get_base(self):
        """() -> str: the name without '-close' and '@cN'."""
        return self.name.split('@')[0].split('-')[0]

    def at(self, connections):
        """(connections:int) -> Workload: the same at that many wrk
        connections, named NAME@cN."""
        return Workload('%s@c%d' % (self.name, connections), self.path,
                        self.close, self.slow, self.nginx, self.write,
                        connections)

    def __repr__(self):
        return '<Workload %s>' % self.name


WORKLOADS = [
    Workload('hello', '/hello', nginx=True),
    Workload('hello-close', '/hello', close=True, nginx=True),
    Workload('read', '/read'),
    Workload('read-close', '/read', close=True),
    Workload('page', '/page'),
    Workload('page-close', '/page', close=True),
    Workload('write', '/write', write=True),
    Workload('write-close', '/write', close=True, write=True),
    Workload('static', '/static/100k.bin', nginx=True),
    Workload('static-close', '/static/100k.bin', close=True, nginx=True),
    Workload('slow', '/hello', slow=True),
]


def select_workloads(only=None):
    """(only:str=None) -> [Workload]
    only is a comma-separated list of workload names or bases ('hello'
    selects hello and hello-close). Raises ValueError for an unknown
    name."""
    if not only:
        return list(WORKLOADS)
    wanted = {word.strip() for word in only.split(',') if word.strip()}
    known = {w.name for w in WORKLOADS} | {w.get_base() for w in WORKLOADS}
    unknown = wanted - known
    if unknown:
        raise ValueError('unknown workload %s (choose from %s)' % (
            ', '.join(sorted(unknown)),
            ', '.join(w.name for w in WORKLOADS)))
    return [w for w in WORKLOADS
            if w.name in wanted or w.get_base() in wanted]


def workload_key(name):
    """(name:str) -> tuple: where a workload (NAME or NAME@cN) sorts: by
    WORKLOADS' order, then by its connection count."""
    base, _, count = name.partition('@c')
    order = [w.name for w in WORKLOADS]
    return (order.index(base) if base in order else 99,
            int(count) if count.isdigit() else 0)


def ratio(a, b):
    """(a:float|None, b:float|None) -> float | None: a / b."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def summarize(samples, rounds):
    """(samples:[dict], rounds:[dict]) -> dict

    samples: one dict per measurement with 'round', 'server', 'workload'
    and NUMBERS (missing numbers are None). rounds: one dict per round and
    server with 'round', 'server', 'start_seconds', 'worker_rss' ([bytes]),
    'other_rss'. Returns {'workloads': {name: {server: {number: median,
    'samples': n}}}, 'servers': {server: {'start_seconds', 'start_max',
    'worker_rss_mean', 'worker_rss_total', 'workers'}}, 'lost': {server:
    total lost updates}, 'slow_fraction': {server: fraction}}."""
    workloads = {}
    for sample in samples:
        per_server = workloads.setdefault(sample['workload'], {})
        per_server.setdefault(sample['server'], []).append(sample)
    summary = dict(workloads={}, servers={}, lost={}, slow_fraction={})
    for name, per_server in workloads.items():
        out = summary['workloads'][name] = {}
        for server, items in per_server.items():
            entry = {number: median([s.get(number) for s in items])
                     for number in NUMBERS}
            entry['samples'] = len(items)
            roles = sorted({role for s in items for role in s.get('cpu_us', {})})
            entry['cpu_us'] = {role: median([s.get('cpu_us', {}).get(role)
                                             for s in items])
                               for role in roles}
            out[server] = entry
            if any(s.get('lost') is not None for s in items):
                summary['lost'][server] = summary['lost'].get(server, 0) + sum(
                    s.get('lost') or 0 for s in items)
    for server in SERVERS:
        infos = [r for r in rounds if r['server'] == server]
        if not infos:
            continue
        means = [sum(r['worker_rss']) / len(r['worker_rss'])
                 for r in infos if r.get('worker_rss')]
        totals = [sum(r['worker_rss']) for r in infos if r.get('worker_rss')]
        starts = [r.get('start_seconds') for r in infos]
        summary['servers'][server] = dict(
            start_seconds=median(starts),
            start_max=max([s for s in starts if s is not None], default=None),
            worker_rss_mean=median(means),
            worker_rss_total=median(totals),
            workers=median([len(r.get('worker_rss') or []) for r in infos]),
            other_rss=median([sum(r.get('other_rss') or []) or None
                              for r in infos]),
            mode=infos[-1].get('mode'))
    # Under slow clients / unloaded: paired with the baseline measured just
    # before each slow sample when there is one, else the hello workload.
    hello = summary['workloads'].get('hello', {})
    for server, items in workloads.get('slow', {}).items():
        paired = [ratio(s.get('rps'), s.get('baseline_rps')) for s in items]
        fraction = median(paired)
        if fraction is None:
            fraction = ratio(summary['workloads']['slow'][server].get('rps'),
                             hello.get(server, {}).get('rps'))
        summary['slow_fraction'][server] = fraction
    return summary


def _get(summary, workload, server, number):
    return summary['workloads'].get(workload, {}).get(server, {}).get(number)


def evaluate_targets(summary):
    """(summary:dict) -> [dict(name, value, goal, passed)]
    The issue's targets, for whatever the summary holds. passed is None
    when a number is missing."""
    targets = []

    def add(name, value, goal, passed, unit='x'):
        targets.append(dict(name=name, value=value, goal=goal,
                            passed=passed, unit=unit))

    def at_least(value, bound):
        return None if value is None else value >= bound

    def at_most(value, bound):
        return None if value is None or bound is None else value <= bound

    workloads = summary['workloads']
    for name in ('hello', 'read'):
        if name not in workloads:
            continue
        value = ratio(_get(summary, name, 'qpd', 'rps'),
                      _get(summary, name, 'gunicorn', 'rps'))
        add('%s keep-alive req/s qpd/gunicorn' % name, value, '>= 1.5',
            at_least(value, 1.5))
        qpd_p99 = _get(summary, name, 'qpd', 'p99_ms')
        gunicorn_p99 = _get(summary, name, 'gunicorn', 'p99_ms')
        add('%s keep-alive p99 qpd <= gunicorn' % name, qpd_p99,
            '<= %s ms' % _fmt(gunicorn_p99), at_most(qpd_p99, gunicorn_p99),
            unit='ms')
    for name in ('hello-close', 'read-close', 'write-close', 'static-close'):
        if name not in workloads:
            continue
        value = ratio(_get(summary, name, 'qpd', 'rps'),
                      _get(summary, name, 'gunicorn', 'rps'))
        add('%s req/s qpd/gunicorn' % name, value, '>= 1.0',
            at_least(value, 1.0))
    if 'write' in workloads:
        value = ratio(_get(summary, 'write', 'qpd', 'rps'),
                      _get(summary, 'write', 'gunicorn', 'rps'))
        add('write keep-alive req/s qpd/gunicorn', value, '>= 1.0',
            at_least(value, 1.0))
    rival_names = sorted((n for n in workloads
                          if n.split('@')[0] in RIVAL_WORKLOADS),
                         key=workload_key)
    for name in rival_names:
        for rival in RIVALS:
            if rival not in workloads.get(name, {}):
                continue
            value = ratio(_get(summary, name, 'qpd', 'rps'),
                          _get(summary, name, rival, 'rps'))
            add('%s req/s qpd/%s' % (name, rival), value, '>= 1.0',
                at_least(value, 1.0))
            qpd_p99 = _get(summary, name, 'qpd', 'p99_ms')
            rival_p99 = _get(summary, name, rival, 'p99_ms')
            add('%s p99 qpd <= %s' % (name, rival), qpd_p99,
                '<= %s ms' % _fmt(rival_p99), at_most(qpd_p99, rival_p99),
                unit='ms')
    for name in sorted(workloads, key=workload_key):
        bound = dict(POSTGRESQL_TARGETS).get(name.split('@')[0])
        if bound is None or 'qpd-pg' not in workloads[name]:
            continue
        value = ratio(_get(summary, name, 'qpd-pg', 'rps'),
                      _get(summary, name, 'qpd', 'rps'))
        add('%s req/s PostgreSQL/file (qpd-pg/qpd)' % name, value,
            '>= %.1f' % bound, at_least(value, bound))
    for server in ('qpd', 'qpd-pg', 'gunicorn'):
        if server in summary['lost']:
            lost = summary['lost'][server]
            add('write lost updates (%s, all runs)' % server, lost, '== 0',
                lost == 0, unit='')
    if 'qpd' in summary['slow_fraction']:
        value = summary['slow_fraction']['qpd']
        add('qpd hello req/s under 100 slow clients / unloaded',
            None if value is None else value * 100, '>= 80%',
            at_least(value, 0.8), unit='%')
    servers = summary['servers']
    if 'qpd' in servers and 'gunicorn' in servers:
        value = ratio(servers['qpd'].get('worker_rss_mean'),
                      servers['gunicorn'].get('worker_rss_mean'))
        add('worker RSS qpd/gunicorn', value, '<= 1.2',
            None if value is None else value <= 1.2)
    if 'qpd' in servers:
        value = servers['qpd'].get('start_max')
        add('qpd start to first 200 (slowest run)', value, '<= 3 s',
            None if value is None else value <= 3.0, unit='s')
    return targets


def _fmt(value, digits=2):
    if value is None:
        return '-'
    if isinstance(value, float):
        if value >= 1000:
            return '%.0f' % value
        return '%.*f' % (digits, value)
    return str(value)


def format_table(headers, rows):
    """(headers:[str], rows:[[object]]) -> str: a plain text table; numbers
    right-aligned, None shown as '-'."""
    cells = [[_fmt(cell) if not isinstance(cell, str) else cell
              for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(row, raw=None):
        out = []
        for i, cell in enumerate(row):
            numeric = raw is not None and not isinstance(raw[i], str)
            out.append(cell.rjust(widths[i]) if numeric
                       else cell.ljust(widths[i]))
        return '  '.join(out).rstrip()

    text = [line(headers), '  '.join('-' * w for w in widths)]
    for raw, row in zip(rows, cells):
        text.append(line(row, raw))
    return '\n'.join(text)


def workload_rows(summary):
    """(summary:dict) -> [[object]]: one row per workload and server."""
    rows = []
    names = sorted(summary['workloads'], key=workload_key)
    for name in names:
        per_server = summary['workloads'][name]
        qpd = per_server.get('qpd', {})
        for server in SERVERS:
            entry = per_server.get(server)
            if entry is None:
                continue
            if server in ('qpd', 'nginx') or not qpd:
                shown_ratio = shown_p99 = ''
            else:
                shown_ratio = _times(ratio(qpd.get('rps'), entry.get('rps')))
                shown_p99 = _times(ratio(qpd.get('p99_ms'),
                                         entry.get('p99_ms')))
            extra = ''
            if entry.get('committed') is not None:
                extra = 'committed %d, lost %d' % (
                    entry['committed'], summary['lost'].get(server, 0))
            fresh = entry.get('new_connections')
            if (fresh is not None and name.split('@')[0].endswith('-close')
                    and fresh < KEPT_CONNECTIONS):
                extra = ('connections kept open: %.2f new per request, '
                         'not a close row' % fresh)
            if name.split('@')[0] == 'slow' and server in summary['slow_fraction']:
                fraction = summary['slow_fraction'][server]
                extra = ('%.0f%% of unloaded' % (fraction * 100)
                         if fraction is not None else '')
            rows.append([name, server, entry.get('rps'), entry.get('p50_ms'),
                         entry.get('p99_ms'), _int(entry.get('non_2xx')),
                         _int(entry.get('socket_errors')),
                         _int(entry.get('cpu_us_total')), shown_ratio,
                         shown_p99, extra])
    return rows


def latency_rows(summary):
    """(summary:dict) -> [[object]]: wrk's latency distribution (--latency:
    50, 75, 90 and 99 percent, and the slowest), medians over the rounds,
    one row per workload and server."""
    rows = []
    for name in sorted(summary['workloads'], key=workload_key):
        per_server = summary['workloads'][name]
        for server in SERVERS:
            entry = per_server.get(server)
            if entry is not None:
                rows.append([name, server] + [entry.get(key) for key in (
                    'p50_ms', 'p75_ms', 'p90_ms', 'p99_ms',
                    'latency_max_ms')])
    return rows


def _times(value):
    return '-' if value is None else '%.2fx' % value


def _int(value):
    return None if value is None else int(round(value))


def format_report(summary, targets):
    """(summary:dict, targets:[dict]) -> str: the workload table, the
    servers' memory and start times, and the targets with PASS/FAIL."""
    parts = [format_table(
        ['workload', 'server', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx',
         'sock err', 'CPU us/req', 'qpd/it req/s', 'qpd/it p99', 'notes'],
        workload_rows(summary))]
    parts.append(format_table(
        ['latency ms', 'server', 'p50', 'p75', 'p90', 'p99', 'max'],
        latency_rows(summary)))
    rows = []
    for server in SERVERS:
        info = summary['servers'].get(server)
        if not info:
            continue
        rows.append([server, _int(info.get('workers')),
                     _mb(info.get('worker_rss_mean')),
                     _mb(info.get('worker_rss_total')),
                     _mb(info.get('other_rss')),
                     info.get('start_seconds'), info.get('mode') or ''])
    if rows:
        parts.append(format_table(
            ['server', 'workers', 'RSS/worker MB', 'RSS workers MB',
             'RSS others MB', 'start->200 s', 'mode'], rows))
    if targets:
        rows = []
        for target in targets:
            verdict = {True: 'PASS', False: 'FAIL', None: 'n/a'}[
                target['passed']]
            value = target['value']
            shown = _fmt(value) + (target['unit'] if value is not None
                                   and target['unit'] != 'ms' else '')
            if target['unit'] == 'ms' and value is not None:
                shown += ' ms'
            rows.append([verdict, target['name'], shown, target['goal']])
        parts.append(format_table(['', 'target', 'measured', 'goal'], rows))
    return '\n\n'.join(parts)


def _mb(value):
    return None if value is None else value / (1024.0 * 1024.0)
