"""The slow-hit line (qpd.server.respond.format_slow_hit), the GC clock it
reads, and the bench's reading of the line (bench/breakdown.py)."""

import gc
import io
import os
import sys

from qpd.lib.collector import GCClock
from qpd.server.respond import format_slow_hit
from qpd.web.hit import Hit
from qpd.web.request import HTTPRequest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'bench'))
from breakdown import parse_slow_hit, summarize_slow_hits  # noqa: E402


def make_hit(path='/write', query=''):
    hit = Hit(HTTPRequest(io.BytesIO(b''), {
        'REQUEST_METHOD': 'POST', 'PATH_INFO': path, 'QUERY_STRING': query,
        'SCRIPT_NAME': '', 'SERVER_NAME': 'x', 'SERVER_PORT': '80'}))
    hit.sync_seconds, hit.app_seconds = 0.001, 0.004
    hit.commit_seconds, hit.retry_seconds = 0.010, 0.002
    hit.attempts = 1
    return hit


def test_the_line_says_where_the_time_went():
    line = format_slow_hit(make_hit(), 10.0, 10.005, 10.025, 10.026,
                           0.003, 2)
    assert line.startswith('slow hit 26.0 ms: POST "/write" 200, 2 attempts: ')
    assert ('waiting for the worker 5.0, sync 1.0, application 4.0, '
            'commit 10.0, retry waits 2.0, other 3.0, sending 1.0, '
            '2 garbage collections 3.0') in line
    total, attempts, phases = parse_slow_hit('2026-12-07 qpd worker x 0: '
                                             + line)
    assert (total, attempts) == (26.0, 2)
    assert phases['commit'] == 10.0 and phases['garbage collection'] == 3.0


def test_unknown_arrival_and_empty_phases_are_left_out():
    hit = Hit(HTTPRequest(io.BytesIO(b''), {
        'REQUEST_METHOD': 'GET', 'PATH_INFO': '/a\n"b', 'SCRIPT_NAME': ''}))
    line = format_slow_hit(hit, None, 1.0, 1.5, 1.5, 0.0, 0)
    assert line == ('slow hit 500.0 ms: GET "/a%0A%22b" 200, 1 attempt: '
                    'other 500.0, sending 0.0')


def test_summary_of_several_lines():
    lines = [format_slow_hit(make_hit(), 0.0, 0.0, 0.02, 0.02, 0, 0),
             'an unrelated line',
             format_slow_hit(Hit(HTTPRequest(io.BytesIO(b''), {
                 'REQUEST_METHOD': 'GET'})), 0.0, 0.0, 0.01, 0.01, 0, 0)]
    summary = summarize_slow_hits(lines)
    assert summary['count'] == 2 and summary['retried'] == 1
    assert summary['max_ms'] == 20.0 and summary['mean_ms'] == 15.0
    assert summary['phases_ms']['commit'] == 5.0


def test_gc_clock_counts_collections():
    clock = GCClock()
    clock.install()
    clock.install()                      # once, however often installed
    try:
        gc.collect()
        assert clock.collections == 1 and clock.seconds >= 0
    finally:
        clock.uninstall()
    gc.collect()
    assert clock.collections == 1
