"""The hot counter on two web hosts and one PostgreSQL host (Linux network
namespaces, netns_hosts; test_postgresql_hosts has the mixed load on the
session's cluster): the database server runs in the `db` namespace,
listening on its address only, with password authentication; each web
host runs `qpd start hello` (supervisord, its own StorageServer on the
site's unix socket next to its dispatcher and workers), finds the
password in the pgpass file PGPASSFILE names, and nginx on the front host
(configured by `qpd build hello --hosts`) spreads requests over both.

- a write on one web host is read on the other at once;
- a hot counter hammered through nginx, on both hosts, for 10 s: no
  update lost, no 5xx (a commit in flight when a StorageServer is killed
  may be made twice: made, unanswered, retried by the worker);
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
from netns_hosts import (Network, SiteOnHosts, running, unavailable,
                         HTTP_PORT, SLASH)

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
    """The site on web hosts web1, web2, each running the whole site (its
    own StorageServer), PostgreSQL on host `db`, nginx on `front`."""

    def __init__(self, network, root):
        self.cluster = PostgresCluster()        # its port, for durus_dsn
        self.db_address = '%s.3' % network.subnet
        self.pgpass = os.path.join(root, 'pgpass')
        SiteOnHosts.__init__(
            self, network, root, web_hosts=2, workers=2,
            storage_host=False, configuration={
                'durus_storage': 'postgresql',
                'durus_dsn': 'host=%s port=%d dbname=hello user=%s' % (
                    self.db_address, self.cluster.port, self.cluster.user),
                'hosts': None, 'durus_address': None, 'durus_tls': False})

    def env(self, host):
        return dict(SiteOnHosts.env(self, host), PGPASSFILE=self.pgpass)

    def build(self):
        SiteOnHosts.build(self)
        for web in self.webs:
            with open(os.path.join(self.get_home(web), 'sites', self.name,
                                   'slash.py'), 'w') as f:
                f.write(COUNTER_SLASH % {
                    'configuration': self.configuration})
        self.net.add_host('db', 3)
        cluster = self.cluster
        cluster.initdb()
        with open(os.path.join(cluster.data, 'postgresql.conf'), 'a') as f:
            f.write("listen_addresses = '%s'\n" % self.db_address)
        with open(os.path.join(cluster.data, 'pg_hba.conf'), 'a') as f:
            f.write('host all all %s.0/24 scram-sha-256\n'
                    % self.net.subnet)
        # Started from a thread in the db namespace: the server's
        # processes are that host's.
        self.net.call_in('db', cluster.start)
        cluster.execute('CREATE DATABASE hello')
        with open(self.pgpass, 'w') as f:
            f.write('%s:%d:hello:%s:%s\n' % (
                self.db_address, cluster.port, cluster.user,
                cluster.password))
        os.chmod(self.pgpass, 0o600)
        return self

    def stop(self):
        try:
            SiteOnHosts.stop(self)
        finally:
            self.cluster.remove()


@pytest.fixture
def pg_hosts():
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    if not (shutil.which('nginx') or os.path.exists('/usr/sbin/nginx')):
        pytest.skip('nginx is not installed (make debs-test)')
    root = tempfile.mkdtemp(prefix='qpd-pgcount-', dir='/tmp')
    site = PostgresSiteOnHosts(Network('qc%d' % os.getpid(),
                                       subnet='10.79.0'), root)
    with running(site):
        yield site


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


def test_a_hot_counter_on_two_hosts_loses_no_update(pg_hosts):
    site = pg_hosts
    # Each host's own StorageServer, on a unix socket, on PostgreSQL.
    status = site.qpd_on('web1', 'status', site.name, check=False).stdout
    assert 'storage: connected to' in status and 'over unix' in status, \
        status
    assert 'postgresql: primary at %s:%d' % (
        site.db_address, site.cluster.port) in status, status

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
          '%d, %d acknowledged increments (%d made again by a retry after '
          'the kill)' % (
              HAMMER, CLIENTS, killed_at - start, statuses, by_host, final,
              len(counts), final - len(counts)))
    assert set(by_host) == {'web1', 'web2'}
    assert not [s for s in statuses if isinstance(s, int) and s >= 500], \
        statuses
    # No lost update: each acknowledged count once, all of them there. A
    # commit in flight when its StorageServer was killed may have been
    # made and not answered: the worker's retry makes it again (at most
    # one per client).
    assert len(counts) == len(set(counts))
    assert max(counts) <= final
    assert len(counts) <= final <= len(counts) + CLIENTS, (
        final, len(counts), statuses)


def _worker_pids(supervisor, name):
    return sorted(info['pid'] for info in supervisor.call(
        'getAllProcessInfo') if info['group'] == name
        and info['name'].startswith('worker'))
