"""One site's real processes, started one by one, for tests.

    home = make_home(tmp_path, configuration={...})
    with Cluster(home) as cluster:
        cluster.boot(workers=2)            # durus, dispatcher, workers
        status, headers, body = cluster.get('/')

`Cluster` starts `qpd durus|dispatcher|worker|serve NAME` as children (each
in its own session), waits for their READY lines, and on exit stops them
all (SIGTERM, then SIGKILL) and checks that every process it saw is gone.
"""

import os
import signal
import sys
import time

from qpd.server.control import get_stats
from qpd.site import Site

from harness import storage
from harness.http import request
from harness.processes import Process, pid_exists, wait_until

__all__ = ['SLASH', 'COUNTER_SLASH', 'BASE_CONFIGURATION', 'make_home',
           'add_static_file', 'Cluster']

SLASH = '''\
import json, os, time
from qpd.web.publish import Publisher
from qpd.web.directory import Directory
from qpd.web.common import get_request, get_response


class SitePublisher(Publisher):
    configuration = %(configuration)r


class SiteDirectory(Directory):
    _q_exports = ['', 'echo', 'slow', 'env', 'pid']

    def _q_index(self):
        get_response().set_content_type('text/plain')
        return 'hello'

    def echo(self):
        get_response().set_content_type('application/octet-stream')
        return get_request().get_body()

    def slow(self):
        seconds = float(get_request().get_query() or '1')
        time.sleep(seconds)
        get_response().set_content_type('text/plain')
        return 'slept %%s' %% seconds

    def env(self):
        get_response().set_content_type('application/json')
        environ = get_request().environ
        return json.dumps(
            {k: v for k, v in environ.items() if isinstance(v, str)})

    def pid(self):
        get_response().set_content_type('text/plain')
        return str(os.getpid())
'''

# A site with one persistent counter: /inc adds one and answers the new
# count, /count answers it, /coalesced the syncs this worker's publisher
# left out (coalesce_syncs).
COUNTER_SLASH = '''\
from durus.persistent_dict import PersistentDict
from qpd.web.publish import Publisher
from qpd.web.directory import Directory
from qpd.web.common import get_response, get_publisher


class SitePublisher(Publisher):
    configuration = %(configuration)r


class SiteDirectory(Directory):
    _q_exports = ['', 'inc', 'count', 'coalesced']

    def _counter(self):
        root = get_publisher().get_root()
        if 'counter' not in root:
            root['counter'] = PersistentDict(n=0)
        return root['counter']

    def _q_index(self):
        return 'hello'

    def inc(self):
        counter = self._counter()
        counter['n'] += 1
        get_response().set_content_type('text/plain')
        return str(counter['n'])

    def count(self):
        get_response().set_content_type('text/plain')
        return str(self._counter()['n'])

    def coalesced(self):
        get_response().set_content_type('text/plain')
        return str(get_publisher().coalesced_syncs)
'''

BASE_CONFIGURATION = {
    'http_address': ('127.0.0.1', 0),
    'scgi_address': ('127.0.0.1', 0),
    'as_https_address': ('127.0.0.1', 0),
}


def make_home(root, name='hello', configuration=None, slash=None):
    """(root:path, name='hello', configuration:dict=None, slash:str=None) -> str
    A qpd home under root holding one site; configuration is added to
    BASE_CONFIGURATION (ephemeral ports) and, under
    QPD_TEST_STORAGE=postgresql, to a new database's keys (harness.storage);
    slash replaces the site's module, configuration and all."""
    home = os.path.join(str(root), 'home')
    package = os.path.join(home, 'sites', name)
    os.makedirs(package, exist_ok=True)
    config = dict(BASE_CONFIGURATION)
    config.update(configuration or {})
    if slash is None:
        config.update(storage.site_configuration(config))
    with open(os.path.join(package, '__init__.py'), 'w'):
        pass
    with open(os.path.join(package, 'slash.py'), 'w') as f:
        f.write(slash if slash is not None else SLASH % {
            'configuration': config})
    return home


def add_static_file(home, filename, data=b'', size=None, name='hello'):
    """(home:str, filename:str, data:bytes=b'', size:int=None,
        name='hello') -> str
    Write a file into the site's static directory (made when missing):
    data, or size zero bytes (a sparse file); its path."""
    static = os.path.join(home, 'sites', name, 'static')
    os.makedirs(static, exist_ok=True)
    path = os.path.join(static, filename)
    with open(path, 'wb') as f:
        if size is None:
            f.write(data)
        else:
            f.truncate(size)
    return path


class Cluster:
    """(home:str, name:str='hello')
    The processes of one site, stopped (and checked gone) on exit."""

    def __init__(self, home, name='hello'):
        self.home = home
        self.name = name
        self.processes = {}
        self.env = dict(os.environ, QPD_HOME=home, PYTHONUNBUFFERED='1')
        self.addresses = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()

    def start(self, label, *args):
        """(label:str, *args) -> Process: `qpd --home HOME args...`"""
        argv = [sys.executable, '-m', 'qpd', '--home', self.home] + list(args)
        process = Process(argv, self.env, label)
        self.processes[label] = process
        return process

    def start_durus(self):
        process = self.start('durus', 'durus', self.name)
        process.wait_ready('durus')
        return process

    def start_dispatcher(self):
        process = self.start('dispatcher', 'dispatcher', self.name)
        ready = process.wait_ready('dispatcher')[0]
        self._set_addresses(ready[3])
        return process

    def start_worker(self, index, wait=True):
        label = 'worker%d' % index
        if label in self.processes:
            self.processes[label + '-%d' % time.monotonic_ns()] = \
                self.processes.pop(label)
        process = self.start(label, 'worker', self.name, '--index',
                             str(index))
        if wait:
            process.wait_ready('worker')
        return process

    def start_serve(self, workers=2):
        process = self.start('serve', 'serve', self.name, '--workers',
                             str(workers))
        ready = process.wait_ready('serve')[0]
        self._set_addresses(ready[3])
        return process

    def boot(self, workers=2):
        """(workers=2) -> self: durus, dispatcher and workers, each READY."""
        self.start_durus()
        self.start_dispatcher()
        for i in range(workers):
            self.start_worker(i, wait=False)
        for i in range(workers):
            self.processes['worker%d' % i].wait_ready('worker')
        wait_until(lambda: self.get_stats()['workers'] == workers)
        return self

    def _set_addresses(self, fields):
        for key in ('http', 'scgi', 'as_https'):
            if key in fields:
                host, _, port = fields[key].rpartition(':')
                self.addresses[key] = (host, int(port))

    def get_port(self, key='http'):
        """(key='http') -> int"""
        return self.addresses[key][1]

    def get_stats(self):
        """() -> dict from the dispatcher's control socket."""
        return get_stats(Site(self.name, home=self.home))

    def get_worker_pids(self):
        """() -> [int]: pids of the workers the dispatcher has now."""
        return [w['pid'] for w in self.get_stats()['pool']]

    def get(self, path='/', key='http', headers=(), timeout=10.0):
        """(path='/', key='http', headers=(), timeout=10.0) -> (status, headers:dict, body:bytes)"""
        data = ('GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%s\r\n'
                % (path, ''.join('%s: %s\r\n' % h for h in headers))).encode()
        return request(self.addresses[key], data, timeout=timeout)

    def all_pids(self):
        pids = set()
        for process in self.processes.values():
            pids.update(process.get_pids())
        return pids

    def stop_all(self):
        """() -> None: stop everything (dispatcher first); assert that no
        process is left behind."""
        pids = self.all_pids()
        order = sorted(self.processes, key=lambda label: (
            0 if label == 'serve' else 1 if label == 'dispatcher'
            else 3 if label == 'durus' else 2))
        for label in order:
            self.processes[label].stop()
        for pid in pids:
            try:
                wait_until(lambda: not pid_exists(pid), timeout=10)
            except AssertionError:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError('process %d was left behind' % pid)

    def get_errors(self, label):
        """(label:str) -> str: what the process printed on stderr."""
        return '\n'.join(self.processes[label].errors)
