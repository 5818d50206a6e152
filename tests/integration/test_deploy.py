"""qpd deploy / rollback under a steady load: every response comes wholly
from the old release or wholly from the new, none fails, only the new one
is served after the switch; a release that does not import is refused and
the site keeps serving; rollback restores the old text."""

import http.client
import json
import os
import shutil
import threading
import time

import pytest

from harness import Cluster, QpdHome, free_port, make_home

pytestmark = pytest.mark.timeout(240)

SLASH = '''\
from qpd.web.publish import Publisher
from qpd.web.directory import Directory
from qpd.web.common import get_response

VERSION = %(version)r


class SitePublisher(Publisher):
    configuration = %(configuration)r


class SiteDirectory(Directory):
    _q_exports = ['']

    def _q_index(self):
        # Imported lazily: a worker must read it from its own release.
        from .part import TEXT
        get_response().set_content_type('text/plain')
        return VERSION + ':' + TEXT
'''


def write_package(directory, version, configuration, broken=False):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, '__init__.py'), 'w'):
        pass
    for name in ('slash.py', 'slash.qpy'):
        if os.path.exists(os.path.join(directory, name)):
            os.unlink(os.path.join(directory, name))
    text = SLASH % dict(version=version, configuration=configuration)
    if broken:
        text = text.replace('    def _q_index(self):',
                            '    def _q_index(self)')
    with open(os.path.join(directory, 'slash.qpy'), 'w') as f:
        f.write(text)
    with open(os.path.join(directory, 'part.py'), 'w') as f:
        f.write('TEXT = %r\n' % version)


class Load:
    """GET / from several threads; every (start, end, body) or failure."""

    def __init__(self, port, threads=4):
        self.port = port
        self.results = []
        self.failures = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.loop, daemon=True)
                        for _ in range(threads)]

    def loop(self):
        while not self.stopping.is_set():
            began = time.monotonic()
            connection = http.client.HTTPConnection('127.0.0.1', self.port,
                                                    timeout=60)
            try:
                connection.request('GET', '/')
                response = connection.getresponse()
                body = response.read().decode()
                if response.status != 200:
                    raise AssertionError('status %s: %s' % (
                        response.status, body[:200]))
            except Exception as e:
                with self.lock:
                    self.failures.append('%s: %s' % (type(e).__name__, e))
                continue
            finally:
                connection.close()
            with self.lock:
                self.results.append((began, time.monotonic(), body))

    def count(self):
        with self.lock:
            return len(self.results)

    def wait_for(self, n, timeout=60):
        target = self.count() + n
        deadline = time.monotonic() + timeout
        while self.count() < target:
            assert time.monotonic() < deadline, self.failures[-3:]
            time.sleep(0.02)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(70)


def make_releases(tmp_path):
    """(tmp_path) -> (home:QpdHome, port, configuration, package, v2): a
    home whose site hello is release v1, and a package v2 beside it."""
    port = free_port()
    configuration = {'http_address': ('127.0.0.1', port),
                     'scgi_address': None, 'as_https_address': None,
                     'max_children': 2, 'durus_sync': False}
    path = make_home(tmp_path)
    package = os.path.join(path, 'sites', 'hello')
    os.unlink(os.path.join(package, 'slash.py'))
    write_package(package, 'v1', configuration)
    home = QpdHome(path)
    home.ports['hello'] = port
    v2 = str(tmp_path / 'v2')
    write_package(v2, 'v2', configuration)
    return home, port, configuration, package, v2


def test_deploy_and_rollback_under_load(tmp_path):
    home, port, configuration, package, v2 = make_releases(tmp_path)
    broken = str(tmp_path / 'broken')
    write_package(broken, 'v3', configuration, broken=True)
    try:
        home.run('start', 'hello')
        assert 'never deployed' in home.run('show', 'hello').stdout
        # qpd status --json: the text view's data, for scripts.
        report = json.loads(home.run('status', '--json').stdout)
        assert report['supervisord'] is True
        [site] = report['sites']
        assert site['name'] == 'hello' and site['state'] == 'running'
        assert sorted(p['name'] for p in site['processes']) == [
            'dispatcher', 'durus', 'worker_00', 'worker_01']
        assert all(p['state'] == 'RUNNING' and p['pid'] for p in
                   site['processes'])
        assert site['pool']['workers'] == 2
        assert site['url'] == 'http://127.0.0.1:%d/' % port
        text = home.run('status').stdout
        for process in site['processes']:
            assert 'pid %s' % process['pid'] in text
        with Load(port) as load:
            load.wait_for(20)
            result = home.run('deploy', 'hello', v2)
            switched = time.monotonic()
            load.wait_for(40)
        assert load.failures == []
        bodies = {body for _, _, body in load.results}
        assert bodies <= {'v1:v1', 'v2:v2'}, bodies
        assert 'v1:v1' in bodies and 'v2:v2' in bodies
        after = {body for began, _, body in load.results if began > switched}
        assert after == {'v2:v2'}
        import re
        release = re.search(r'hello now runs release (\S+)',
                            result.stdout).group(1)
        shown = home.run('show', 'hello').stdout
        assert 'release              %s' % release in shown
        # The var directory (database, sockets, logs) is shared.
        assert os.path.islink(package)
        assert os.path.exists(os.path.join(package, 'var', 'hello.durus'))

        # A release that does not import is refused; nothing changes.
        result = home.run('deploy', 'hello', broken, check=False)
        assert result.returncode == 1
        assert 'release refused' in result.stderr
        assert 'slash.qpy", line ' in result.stderr
        assert 'SyntaxError' in result.stderr
        assert home.get('hello', '/') == (200, 'v2:v2')
        assert 'release              %s' % release in home.run(
            'show', 'hello').stdout

        # Rollback: back to v1, the same way.
        with Load(port) as load:
            load.wait_for(10)
            home.run('rollback', 'hello')
            switched = time.monotonic()
            load.wait_for(20)
        assert load.failures == []
        assert {body for _, _, body in load.results} <= {'v1:v1', 'v2:v2'}
        assert {body for began, _, body in load.results
                if began > switched} == {'v1:v1'}
        assert '-initial' in home.run('show', 'hello').stdout
    finally:
        assert home.cleanup(remove=False) == []


def test_deploy_and_rollback_under_serve(tmp_path):
    """A site run by `qpd serve`: deploy and rollback replace its workers
    too (a new set, ready before the old one goes), no request fails."""
    home, port, _, _, v2 = make_releases(tmp_path)
    with Cluster(home.get_path()) as cluster:
        cluster.start_serve(workers=2)
        for args, expected in ((('deploy', 'hello', v2), 'v2:v2'),
                               (('rollback', 'hello'), 'v1:v1')):
            with Load(port) as load:
                load.wait_for(10)
                result = home.run(*args)
                switched = time.monotonic()
                load.wait_for(20)
            assert 'not running' not in result.stdout
            assert load.failures == []
            assert {body for began, _, body in load.results
                    if began > switched} == {expected}
