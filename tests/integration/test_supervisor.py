"""Restarting a site's processes under load, through supervisord: the
pool (one worker, or all), everything, `qpd restart --rolling`, and a
StorageServer killed with SIGKILL."""

import os
import re
import signal
import subprocess
import time

import pytest

from harness import QpdHome, Load
from harness.processes import log_tail

pytestmark = pytest.mark.timeout(240)

NAME = 'pool'


@pytest.fixture(scope='module')
def home():
    home = QpdHome.make()
    try:
        home.new(NAME, max_children=3)
        home.run('start', NAME)
        yield home
    finally:
        assert home.cleanup() == [], 'processes outlived qpd shutdown'


def supervisorctl(home, *args):
    """supervisorctl -c HOME/supervisord.conf ARGS, as a user would."""
    import sys
    ctl = os.path.join(os.path.dirname(sys.executable), 'supervisorctl')
    return subprocess.run(
        [ctl, '-c', home.get_supervisor().get_conf_file()] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=120)


def visits(home):
    status, text = home.get(NAME, '/visits')
    assert status == 200
    return int(re.search(r'id="visits">(\d+)<', text).group(1))


def wait_until_answers(home, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if home.get(NAME, '/')[0] == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, 'the site did not come back'
        time.sleep(0.2)


def test_supervisorctl_status_names_the_processes(home):
    result = supervisorctl(home, 'status')
    for process in ('durus', 'dispatcher', 'worker_00', 'worker_01',
                    'worker_02'):
        assert re.search(r'%s:%s\s+RUNNING' % (NAME, process),
                         result.stdout), result.stdout


def test_logs_are_private(home):
    # Issue 15: supervisord's own log was 0644; every log is 0600 now.
    import stat
    var = home.get_supervisor().get_var_directory()
    log = os.path.join(var, 'supervisord.log')
    assert os.path.getsize(log) > 0         # supervisord writes to it
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    site_var = os.path.join(home.get_path(), 'sites', NAME, 'var')
    for name in os.listdir(site_var):
        if name.endswith('.log'):
            mode = stat.S_IMODE(os.stat(os.path.join(site_var, name)).st_mode)
            assert mode & 0o077 == 0, (name, oct(mode))


def test_restarting_workers_mid_load_fails_no_request(home):
    load = Load(home, NAME, '/', threads=4).start()
    try:
        load.wait_for(50)
        before = [home.get_pid(NAME, 'worker_%02d' % i) for i in range(3)]
        result = supervisorctl(home, 'restart', '%s:worker_00' % NAME,
                               '%s:worker_01' % NAME)
        assert result.returncode == 0, result.stdout
        load.wait_for(50)
        result = supervisorctl(home, 'restart', '%s:worker_02' % NAME)
        load.wait_for(50)
    finally:
        load.stop()
    after = [home.get_pid(NAME, 'worker_%02d' % i) for i in range(3)]
    assert not set(before) & set(after)
    assert load.get_failures() == []


def test_restarting_everything_recovers(home):
    count = visits(home)
    load = Load(home, NAME, '/visits', threads=3, timeout=10).start()
    try:
        load.wait_for(30)
        result = supervisorctl(home, 'restart', '%s:*' % NAME)
        assert result.returncode == 0, result.stdout + log_tail(
            os.path.join(home.get_path(), 'sites', NAME, 'var',
                         'dispatcher.log'))
        wait_until_answers(home)
        load.wait_for(30)       # recovered by itself
    finally:
        load.stop()
    # nothing committed was lost: every 200 counted one visit
    assert visits(home) == count + load.statuses.get(200, 0) + 1


def test_rolling_restart_under_load_fails_no_request(home):
    load = Load(home, NAME, '/', threads=4).start()
    try:
        load.wait_for(30)
        before = home.get_pid(NAME, 'dispatcher')
        result = home.run('restart', NAME, '--rolling')
        assert 'restarted 3 workers of %s, one at a time' % NAME in \
            result.stdout
        load.wait_for(30)
    finally:
        load.stop()
    assert home.get_pid(NAME, 'dispatcher') == before
    assert load.get_failures() == []


def test_killed_storage_server_comes_back(home):
    count = visits(home)
    pid = home.get_pid(NAME, 'durus')
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        info = home.get_supervisor().call('getProcessInfo', '%s:durus' % NAME)
        if info['statename'] == 'RUNNING' and info['pid'] != pid:
            break
        assert time.monotonic() < deadline, info
        time.sleep(0.2)
    # the workers reconnect; every committed visit is still there
    assert visits(home) == count + 1
    assert visits(home) == count + 2
