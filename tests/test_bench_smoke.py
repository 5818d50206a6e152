"""The bench harness's pure parts: wrk output parsing, medians, workload
selection, the summary, the targets and the table. No servers, no network.
"""

import itertools
import os
import sys

import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))), 'bench')
sys.path.insert(0, BENCH)

from measure import median, passive_opens  # noqa: E402
from report import (evaluate_targets, format_report, format_table,  # noqa: E402
                    select_workloads, summarize)
from slow_clients import head_bytes  # noqa: E402
from wrk import WrkError, parse_duration_ms, parse_wrk  # noqa: E402

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:8000/write
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.47ms  812.00us  31.20ms   91.20%
    Req/Sec     4.05k   210.33     4.40k    78.00%
  Latency Distribution
     50%    2.31ms
     75%    2.60ms
     90%    3.05ms
     99%    5.90ms
  20160 requests in 5.01s, 2.71MB read
  Socket errors: connect 0, read 3, write 0, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:   4024.05
Transfer/sec:    554.12KB
"""

WRK_CLEAN = """\
Running 2s test @ http://127.0.0.1:8000/hello
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   135.23us   50.12us   2.10s    90.00%
    Req/Sec    60.12k     3.21k   65.00k    80.00%
  Latency Distribution
     50%  130.00us
     75%  150.00us
     90%  170.00us
     99%    1.02s
  120000 requests in 2.00s, 16.00MB read
Requests/sec:  60000.00
Transfer/sec:      8.00MB
"""


def test_parse_wrk_with_errors():
    result = parse_wrk(WRK_OUTPUT)
    assert result['requests'] == 20160
    assert result['seconds'] == pytest.approx(5.01)
    assert result['rps'] == pytest.approx(4024.05)
    assert result['p50_ms'] == pytest.approx(2.31)
    assert result['p99_ms'] == pytest.approx(5.90)
    assert result['latency_avg_ms'] == pytest.approx(2.47)
    assert result['latency_max_ms'] == pytest.approx(31.2)
    assert result['non_2xx'] == 7
    assert result['errors'] == dict(connect=0, read=3, write=0, timeout=2)
    assert result['socket_errors'] == 5
    assert result['ok'] == 20160 - 7


def test_parse_wrk_units_and_no_errors():
    result = parse_wrk(WRK_CLEAN)
    assert result['p50_ms'] == pytest.approx(0.13)
    assert result['p99_ms'] == pytest.approx(1020.0)
    assert result['latency_max_ms'] == pytest.approx(2100.0)
    assert result['non_2xx'] == 0 and result['socket_errors'] == 0
    assert result['ok'] == 120000


def test_parse_wrk_refuses_garbage():
    with pytest.raises(WrkError):
        parse_wrk('unable to connect to 127.0.0.1:1 Connection refused\n')


def test_parse_duration_ms():
    assert parse_duration_ms('812.00us') == pytest.approx(0.812)
    assert parse_duration_ms('1.5ms') == 1.5
    assert parse_duration_ms('2.00s') == 2000.0
    assert parse_duration_ms('1.00m') == 60000.0
    with pytest.raises(WrkError):
        parse_duration_ms('fast')


def test_median():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 3, 2]) == 2.5
    assert median([None, 5]) == 5
    assert median([]) is None
    assert median([None]) is None


def test_select_workloads():
    names = [w.name for w in select_workloads(None)]
    assert names[:2] == ['hello', 'hello-close'] and 'slow' in names
    assert [w.name for w in select_workloads('read')] == [
        'read', 'read-close']
    assert [w.name for w in select_workloads('hello-close')] == [
        'hello-close']
    assert [w.name for w in select_workloads('slow')] == ['slow']
    with pytest.raises(ValueError):
        select_workloads('nope')


def test_format_table_aligns():
    text = format_table(['name', 'req/s'], [['hello', 1234.5], ['x', None]])
    lines = text.splitlines()
    assert lines[0].startswith('name')
    assert lines[2].endswith('1234.50') or lines[2].endswith('1234')
    assert lines[3].endswith('-')
    assert len({len(line) for line in lines[1:3]}) == 1


def _sample(round, server, workload, rps, p99, **more):
    sample = dict(round=round, server=server, workload=workload, rps=rps,
                  p50_ms=p99 / 2, p99_ms=p99, non_2xx=0, socket_errors=0,
                  requests=int(rps * 5), ok=int(rps * 5))
    sample.update(more)
    return sample


def test_summary_targets_and_report():
    samples = []
    for round, (server, factor) in itertools.product(
            (1, 2), (('qpd', 2.0), ('gunicorn', 1.0))):
        samples.append(_sample(round, server, 'hello', 1000 * factor + round,
                               4 / factor))
        samples.append(_sample(round, server, 'read', 800 * factor, 5))
        samples.append(_sample(round, server, 'hello-close', 500, 3))
        samples.append(_sample(round, server, 'write', 300, 9,
                               committed=1500, lost=0, unacknowledged=0))
        samples.append(_sample(round, server, 'slow', 900 * factor, 6))
    samples.append(_sample(1, 'nginx', 'hello', 60000, 0.2))
    rounds = [dict(round=r, server=s, start_seconds=1.0 + r,
                   worker_rss=[30 << 20, 32 << 20], other_rss=[20 << 20],
                   mode='start')
              for r in (1, 2) for s in ('qpd', 'gunicorn')]
    summary = summarize(samples, rounds)
    assert summary['workloads']['hello']['qpd']['rps'] == 2001.5
    assert summary['workloads']['hello']['qpd']['samples'] == 2
    assert summary['servers']['qpd']['start_seconds'] == 2.5
    assert summary['servers']['qpd']['start_max'] == 3.0
    assert summary['servers']['qpd']['worker_rss_mean'] == 31 << 20
    assert summary['lost'] == dict(qpd=0, gunicorn=0)
    assert summary['slow_fraction']['qpd'] == pytest.approx(1800 / 2001.5)
    targets = {t['name']: t for t in evaluate_targets(summary)}
    assert targets['hello keep-alive req/s qpd/gunicorn']['passed'] is True
    assert targets['read keep-alive p99 qpd <= gunicorn']['passed'] is True
    assert targets['hello-close req/s qpd/gunicorn']['passed'] is True
    assert targets['write keep-alive req/s qpd/gunicorn']['passed'] is True
    assert targets['write lost updates (qpd, all runs)']['passed'] is True
    assert targets['worker RSS qpd/gunicorn']['passed'] is True
    assert targets['qpd start to first 200 (slowest run)']['passed'] is True
    fraction = 'qpd hello req/s under 100 slow clients / unloaded'
    assert targets[fraction]['passed'] is True
    report = format_report(summary, list(targets.values()))
    assert 'PASS' in report and 'FAIL' not in report
    assert 'nginx' in report and '2.00x' in report


def test_targets_fail_and_missing():
    samples = [_sample(1, 'qpd', 'hello', 1000, 9),
               _sample(1, 'gunicorn', 'hello', 900, 5),
               _sample(1, 'qpd', 'write', 100, 9, committed=490, lost=10,
                       unacknowledged=0)]
    summary = summarize(samples, [])
    targets = {t['name']: t for t in evaluate_targets(summary)}
    assert targets['hello keep-alive req/s qpd/gunicorn']['passed'] is False
    assert targets['hello keep-alive p99 qpd <= gunicorn']['passed'] is False
    assert targets['write keep-alive req/s qpd/gunicorn']['passed'] is None
    assert targets['write lost updates (qpd, all runs)']['passed'] is False
    assert 'FAIL' in format_report(summary, list(targets.values()))


def test_postgresql_side_by_side_targets():
    # `--postgresql` runs qpd-pg beside qpd: read >= 0.9x, write >= 0.7x.
    samples = [_sample(1, 'qpd', 'read', 1000, 1),
               _sample(1, 'qpd-pg', 'read', 950, 1),
               _sample(1, 'qpd', 'read-close', 1000, 1),
               _sample(1, 'qpd-pg', 'read-close', 500, 1),
               _sample(1, 'qpd', 'write', 100, 9, committed=500, lost=0),
               _sample(1, 'qpd-pg', 'write', 80, 9, committed=400, lost=0)]
    summary = summarize(samples, [])
    targets = {t['name']: t for t in evaluate_targets(summary)}
    read = targets['read req/s PostgreSQL/file (qpd-pg/qpd)']
    assert read['passed'] is True and read['value'] == pytest.approx(0.95)
    assert targets['read-close req/s PostgreSQL/file (qpd-pg/qpd)'][
        'passed'] is False
    assert targets['write req/s PostgreSQL/file (qpd-pg/qpd)'][
        'goal'] == '>= 0.7'
    assert targets['write lost updates (qpd-pg, all runs)']['passed'] is True
    assert 'qpd-pg' in format_report(summary, list(targets.values()))


def test_slow_fraction_uses_paired_baseline():
    samples = [_sample(1, 'qpd', 'hello', 1000, 1),
               _sample(1, 'qpd', 'slow', 450, 1, baseline_rps=500),
               _sample(2, 'qpd', 'slow', 800, 1, baseline_rps=1000)]
    summary = summarize(samples, [])
    assert summary['slow_fraction']['qpd'] == pytest.approx(0.85)


def test_slow_head_never_ends():
    head = b''.join(itertools.islice(head_bytes('127.0.0.1', 80), 200))
    assert head.startswith(b'GET /hello HTTP/1.1\r\nHost: 127.0.0.1:80\r\n')
    assert b'\r\n\r\n' not in head


def test_rivals_ratios_targets_and_chart(tmp_path):
    samples = []
    for round in (1, 2):
        for server, rps, p99 in (('qpd', 1000, 4), ('granian', 800, 5),
                                 ('uwsgi', 1250, 2)):
            samples.append(_sample(round, server, 'hello', rps, p99))
            samples.append(_sample(round, server, 'page-close', rps / 2,
                                   p99 * 2))
    summary = summarize(samples, [])
    targets = {t['name']: t for t in evaluate_targets(summary)}
    assert targets['hello req/s qpd/granian']['passed'] is True
    assert targets['hello p99 qpd <= granian']['passed'] is True
    assert targets['hello req/s qpd/uwsgi']['passed'] is False
    assert targets['hello p99 qpd <= uwsgi']['passed'] is False
    report = format_report(summary, list(targets.values()))
    assert '1.25x' in report and '0.80x' in report     # qpd/it req/s
    from chart import chart_data, write_chart
    names, data = chart_data(summary)
    assert names == ['hello', 'page-close']
    assert data['uwsgi'] == ([1250, 625], [2, 4])
    paths = write_chart(summary, str(tmp_path / 'chart'))
    assert [os.path.getsize(p) > 1000 for p in paths] == [True, True]


def test_a_close_row_on_kept_connections_says_so():
    samples = [_sample(1, 'qpd', 'hello-close', 500, 3, new_connections=1.0),
               _sample(1, 'uwsgi', 'hello-close', 900, 1,
                       new_connections=0.001),
               _sample(1, 'uwsgi', 'hello', 900, 1, new_connections=0.0)]
    summary = summarize(samples, [])
    report = format_report(summary, [])
    table = report.split('\n\n')[0]
    lines = {tuple(line.split()[:2]): line for line in table.splitlines()
             if line.startswith('hello')}
    assert 'connections kept open' in lines[('hello-close', 'uwsgi')]
    assert 'kept open' not in lines[('hello-close', 'qpd')]
    assert 'kept open' not in lines[('hello', 'uwsgi')]


def test_the_report_has_the_latency_distribution():
    sample = _sample(1, 'qpd', 'hello', 500, 4.0, p75_ms=2.5, p90_ms=3.25,
                     latency_max_ms=12.0)
    report = format_report(summarize([sample], []), [])
    table = report[report.index('latency ms'):]
    row = [line for line in table.splitlines() if line.startswith('hello')]
    assert row[0].split() == ['hello', 'qpd', '2.00', '2.50', '3.25', '4.00',
                              '12.00']


def test_passive_opens(tmp_path):
    path = tmp_path / 'snmp'
    path.write_text(
        'Ip: Forwarding DefaultTTL\nIp: 1 64\n'
        'Tcp: RtoAlgorithm RtoMin ActiveOpens PassiveOpens\n'
        'Tcp: 1 200 17 42\n')
    assert passive_opens(str(path)) == 42
    assert passive_opens(str(tmp_path / 'missing')) is None
