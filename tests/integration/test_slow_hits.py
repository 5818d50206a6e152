"""The slow-hit line (slow_hit_seconds): a hit that took long gets one line
in its worker's log (stderr: supervisord's log of the worker) saying where
its time went; a quick one gets none."""

import re

import pytest

from harness import Cluster, make_home, wait_until
from harness.cluster import COUNTER_SLASH, BASE_CONFIGURATION

pytestmark = pytest.mark.timeout(120)


def slow_lines(cluster):
    return [line for line in cluster.get_errors('worker0').splitlines()
            if 'slow hit' in line]


def phase(line, name):
    """(line, name) -> float: the milliseconds line gives the phase."""
    found = re.search(r'\b%s (\d+\.\d)' % re.escape(name), line)
    assert found, (name, line)
    return float(found.group(1))


def test_a_slow_page_is_reported_with_its_application_time(tmp_path):
    home = make_home(tmp_path, configuration={'slow_hit_seconds': 0.2})
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        assert cluster.get('/')[0] == 200
        assert cluster.get('/slow?0.3')[0] == 200
        wait_until(lambda: slow_lines(cluster))
        assert cluster.get('/')[0] == 200
        [line] = slow_lines(cluster)      # the quick hits: no line
    assert '"/slow?0.3" 200, 1 attempt:' in line
    total = float(re.search(r'slow hit (\d+\.\d) ms', line).group(1))
    assert 300 <= phase(line, 'application') <= total
    assert phase(line, 'sending') < 100


def test_a_commit_and_its_sync_are_timed(tmp_path):
    config = dict(BASE_CONFIGURATION, slow_hit_seconds=0)
    home = make_home(tmp_path, slash=COUNTER_SLASH % {
        'configuration': config})
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        status, body = cluster.get('/inc')[:2]
        assert status == 200
        wait_until(lambda: any('"/inc"' in line
                               for line in slow_lines(cluster)))
        [line] = [line for line in slow_lines(cluster) if '"/inc"' in line]
    assert 'waiting for the worker' in line     # a worker accepted it
    for name in ('sync', 'application', 'commit', 'other', 'sending'):
        assert phase(line, name) >= 0
