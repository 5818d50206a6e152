"""The site's log: workers reopen it on SIGHUP (logrotate without
copytruncate), `qpd build NAME --logrotate` prints a snippet logrotate
accepts, and hit lines may be JSON."""

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from harness import Cluster, make_home, wait_until

pytestmark = pytest.mark.timeout(120)


def read_lines(path):
    try:
        with open(path) as f:
            return [line for line in f.read().splitlines() if line]
    except FileNotFoundError:
        return []


def hit_lines(path):
    return [line for line in read_lines(path) if '"GET /' in line
            or line.startswith('{')]


def test_workers_reopen_the_log_on_sighup(tmp_path):
    home = make_home(tmp_path)
    log = os.path.join(home, 'sites', 'hello', 'var', 'site.log')
    with Cluster(home) as cluster:
        cluster.boot(workers=2)
        assert cluster.get('/')[0] == 200
        wait_until(lambda: len(hit_lines(log)) == 1)
        os.rename(log, log + '.1')
        for pid in cluster.get_worker_pids():
            os.kill(pid, signal.SIGHUP)
        wait_until(lambda: os.path.exists(log))    # reopened, created
        for _ in range(6):                         # both workers serve
            assert cluster.get('/')[0] == 200
        wait_until(lambda: len(hit_lines(log)) == 6)
        assert len(hit_lines(log + '.1')) == 1
        assert os.stat(log).st_mode & 0o777 == 0o600
        assert cluster.get_stats()['workers'] == 2   # nobody died


def test_json_hit_lines(tmp_path):
    home = make_home(tmp_path, configuration={'access_log_format': 'json'})
    log = os.path.join(home, 'sites', 'hello', 'var', 'site.log')
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        assert cluster.get('/?a=%22b', headers=(
            ('User-Agent', 'test "agent"'),))[0] == 200
        wait_until(lambda: hit_lines(log))
    record = json.loads(hit_lines(log)[0])
    assert record['method'] == 'GET' and record['status'] == 200
    assert record['target'] == '/?a=%22b'
    assert record['user_agent'] == 'test "agent"'
    assert record['protocol'] == 'HTTP/1.1'
    assert record['length'] == 5 and record['seconds'] >= 0
    assert record['remote'] == '127.0.0.1'
    assert record['time'][:2] == '20' and 'T' in record['time']


def test_logrotate_snippet_rotates_a_running_site(tmp_path):
    logrotate = shutil.which('logrotate') or (
        '/usr/sbin/logrotate' if os.path.exists('/usr/sbin/logrotate')
        else None)
    if logrotate is None:
        pytest.skip('logrotate is not installed (it is in the Makefile\'s '
                    'TEST_DEBS)')
    from harness import QpdHome, free_port
    from harness.http import http_get
    port = free_port()
    path = make_home(tmp_path, configuration={
        'http_address': ('127.0.0.1', port), 'scgi_address': None,
        'as_https_address': None, 'max_children': 2})
    home = QpdHome(path)
    log = os.path.join(path, 'sites', 'hello', 'var', 'site.log')
    try:
        home.run('start', 'hello')
        snippet = home.run('build', 'hello', '--logrotate').stdout
        assert 'hello:worker_00 hello:worker_01' in snippet
        assert 'copytruncate' not in snippet.replace('no copytruncate', '')
        conf = tmp_path / 'logrotate.conf'
        conf.write_text(snippet)
        os.chmod(conf, 0o644)
        before = len(hit_lines(log))               # qpd start's probe
        assert http_get('127.0.0.1', port, '/')[0] == 200
        wait_until(lambda: len(hit_lines(log)) == before + 1)
        subprocess.run([logrotate, '-f', '-s', str(tmp_path / 'state'),
                        str(conf)], check=True, timeout=60)
        assert os.path.exists(log + '.1')          # delaycompress
        for _ in range(4):
            assert http_get('127.0.0.1', port, '/')[0] == 200
        wait_until(lambda: len(hit_lines(log)) == 4)
        assert len(hit_lines(log + '.1')) == before + 1
    finally:
        assert home.cleanup(remove=False) == []
