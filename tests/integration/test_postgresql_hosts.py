"""Two web hosts on one PostgreSQL host (Linux network namespaces, as in
test_several_hosts): the database server runs in the `store` namespace,
listening on its address only, with password authentication; each web
host runs `qpd start hello` (supervisord, its own StorageServer on the
site's unix socket next to its dispatcher and workers), finds the
password in the pgpass file PGPASSFILE names, and nginx on the front host
(configured by `qpd build hello --hosts`) spreads requests over both.

- a write on one web host is read on the other at once;
- a hot counter hammered through nginx, on both hosts, for 10 s: no
  update lost, no 5xx;
- a StorageServer killed with SIGKILL under that load is started again by
  supervisord, and its workers carry on (the same processes).

Skipped where network namespaces cannot be made (not root, no iproute2)
or nginx is missing. One test function: the hosts are slow to make."""

import http.client
import os
import shutil
import signal
import tempfile
import threading
import time
import uuid

import pytest

from harness.postgres import PostgresCluster
from netns_hosts import (Network, SiteOnHosts, unavailable, HTTP_PORT,
                         SLASH)

pytestmark = pytest.mark.timeout(300)
psycopg = pytest.importorskip('psycopg')

HAMMER = 10.0       # seconds of the hot counter
CLIENTS = 6

# netns_hosts' site, with a counter: /inc adds one and answers the count.
COUNTER_SLASH = SLASH.replace(
    "_q_exports = ['', 'read', 'write', 'has', 'tokens']",
    "_q_exports = ['', 'read', 'write', 'has', 'tokens', 'inc']").replace(
    "    def tokens(self):", '''    def inc(self):
        from durus.persistent_dict import PersistentDict
        root = get_root()
        if 'counter' not in root:
            root['counter'] = PersistentDict(n=0)
        root['counter']['n'] += 1
        return _text(str(root['counter']['n']))

    def tokens(self):''')


class PostgresSiteOnHosts(SiteOnHosts):
    """The site on web hosts web1, web2 (each its own StorageServer) and
    PostgreSQL on `store`; nginx on `front`."""

    def __init__(self, network, root):
        SiteOnHosts.__init__(self, network, root, web_hosts=2, workers=2)
        self.cluster = None
        self.pgpass = os.path.join(root, 'pgpass')
        for key in ('durus_address', 'durus_tls', 'hosts'):
            del self.configuration[key]

    def env(self, host):
        return dict(SiteOnHosts.env(self, host), PGPASSFILE=self.pgpass)

    def build(self):
        net = self.net
        net.start()
        net.add_host('store', 2)
        net.add_host('front', 10)
        for number, web in enumerate(self.webs, 11):
            net.add_host(web, number)
        cluster = self.cluster = PostgresCluster()
        cluster.initdb()
        with open(os.path.join(cluster.data, 'postgresql.conf'), 'a') as f:
            f.write("listen_addresses = '%s'\n" % self.store_address)
        with open(os.path.join(cluster.data, 'pg_hba.conf'), 'a') as f:
            f.write('host all all %s.0/24 scram-sha-256\n' % net.subnet)
        # Started from a thread in the store namespace: the server's
        # processes are that host's.
        net.call_in('store', cluster.start)
        cluster.execute('CREATE DATABASE hello')
        with open(self.pgpass, 'w') as f:
            f.write('%s:%d:hello:%s:%s\n' % (
                self.store_address, cluster.port, cluster.user,
                cluster.password))
        os.chmod(self.pgpass, 0o600)
        self.configuration.update(
            durus_storage='postgresql',
            durus_dsn='host=%s port=%d dbname=hello user=%s' % (
                self.store_address, cluster.port, cluster.user))
        source = COUNTER_SLASH % {'configuration': self.configuration}
        for host in self.webs:
            package = os.path.join(self.get_home(host), 'sites', self.name)
            os.makedirs(package)
            open(os.path.join(package, '__init__.py'), 'w').close()
            with open(os.path.join(package, 'slash.py'), 'w') as f:
                f.write(source)
        return self

    def start(self):
        for web in self.webs:       # one at a time: the first makes tables
            self.qpd_on(web, 'start', self.name, '--timeout', '60')
        self.start_nginx()
        return self

    def stop(self):
        try:
            SiteOnHosts.stop(self)
        finally:
            if self.cluster is not None:
                self.cluster.remove()


@pytest.fixture
def pg_hosts():
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    if not (shutil.which('nginx') or os.path.exists('/usr/sbin/nginx')):
        pytest.skip('nginx is not installed (make debs-test)')
    root = tempfile.mkdtemp(prefix='qpd-pghosts-', dir='/tmp')
    net = Network('qp%d' % os.getpid())
    site = PostgresSiteOnHosts(net, root)
    try:
        site.build().start()
        yield site
    finally:
        try:
            site.stop()
        finally:
            net.cleanup()
            shutil.rmtree(root, ignore_errors=True)


def _fetch(address, path, timeout=30):
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.request('GET', path)
        response = connection.getresponse()
        return (response.status, response.getheader('X-Host'),
                response.read().decode())
    finally:
        connection.close()


def _direct(site, host, path):
    return site.net.call_in('front', _fetch,
                            (site.net.get_address(host), HTTP_PORT), path)


def test_two_web_hosts_share_one_postgresql_database(pg_hosts):
    site = pg_hosts
    # Each host's own StorageServer, on a unix socket, on PostgreSQL.
    status = site.qpd_on('web1', 'status', site.name, check=False).stdout
    assert 'storage: connected to' in status and 'over unix' in status, \
        status
    assert 'postgresql: primary at %s:%d' % (
        site.store_address, site.cluster.port) in status, status

    # A write on one host is read on the other at once.
    for writer, reader in (('web1', 'web2'), ('web2', 'web1')):
        for _ in range(5):
            token = uuid.uuid4().hex[:10]
            assert _direct(site, writer, '/write?' + token)[:2] == (
                200, writer)
            assert _direct(site, reader, '/has?' + token) == (
                200, reader, 'yes')

    # The hot counter, through nginx, from both hosts, for HAMMER seconds;
    # web1's StorageServer killed (SIGKILL) a third of the way in.
    front = (site.get_front_address(), 80)
    results = []            # (status or exception name, host, count)
    lock = threading.Lock()
    stop = threading.Event()

    def hammer():
        site.net.enter('front')
        while not stop.is_set():
            try:
                status, host, text = _fetch(front, '/inc')
                count = int(text) if status == 200 else None
            except (OSError, http.client.HTTPException) as e:
                status, host, count = type(e).__name__, None, None
            with lock:
                results.append((status, host, count))

    supervisor = site.supervisor('web1')
    workers_before = _worker_pids(supervisor, site.name)
    assert len(workers_before) == 2, workers_before
    durus_before = supervisor.call('getProcessInfo',
                                   '%s:durus' % site.name)['pid']
    threads = [threading.Thread(target=hammer, daemon=True)
               for _ in range(CLIENTS)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(HAMMER / 3)
    os.kill(durus_before, signal.SIGKILL)
    killed_at = time.monotonic()
    time.sleep(max(0.0, start + HAMMER - time.monotonic()))
    stop.set()
    for thread in threads:
        thread.join(60)

    durus_after = supervisor.call('getProcessInfo',
                                  '%s:durus' % site.name)
    assert durus_after['statename'] == 'RUNNING'
    assert durus_after['pid'] != durus_before
    # Its workers carried on: the same processes, serving again.
    assert _worker_pids(supervisor, site.name) == workers_before
    after_kill = [host for status, host, _ in results[-CLIENTS * 20:]
                  if status == 200]
    assert 'web1' in after_kill, results[-20:]

    statuses = {}
    for status, _, _ in results:
        statuses[status] = statuses.get(status, 0) + 1
    by_host = {}
    for status, host, _ in results:
        if status == 200:
            by_host[host] = by_host.get(host, 0) + 1
    counts = [count for status, _, count in results if status == 200]
    final = int(_direct(site, 'web2', '/inc')[2]) - 1
    print('\nhot counter through nginx for %.0f s, %d clients, web1\'s '
          'StorageServer killed after %.1f s: %s; by host %s; final count '
          '%d, %d acknowledged increments' % (
              HAMMER, CLIENTS, killed_at - start, statuses, by_host, final,
              len(counts)))
    assert set(by_host) == {'web1', 'web2'}
    assert not [s for s in statuses if isinstance(s, int) and s >= 500], \
        statuses
    # No lost update: each acknowledged count once, and every increment
    # acknowledged (none is lost, none counted twice).
    assert len(counts) == len(set(counts))
    assert final == len(counts), (final, len(counts), statuses)


def _worker_pids(supervisor, name):
    return sorted(info['pid'] for info in supervisor.call(
        'getAllProcessInfo') if info['group'] == name
        and info['name'].startswith('worker'))
