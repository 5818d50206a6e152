"""Two web hosts (network namespaces, netns_hosts) each running the whole
site, its own StorageServer next to its workers on a unix socket, both on
one PostgreSQL database (the session's cluster, reached over its unix
socket, which the namespaces share through the file system), behind
nginx on a front host (`qpd build hello --hosts`). Under a mixed load
through nginx for several seconds (writes of unique tokens into one
BTree, reads of its size), every answer is 200 and every acknowledged
write is there at the end, seen from both hosts; a write through one
host is read through the other at once."""

import os
import shutil
import tempfile
import time

import pytest

from netns_hosts import HTTP_PORT, Network, SiteOnHosts, running, unavailable
from test_several_hosts import Load, fetch

pytestmark = pytest.mark.timeout(240)

psycopg = pytest.importorskip('psycopg')


@pytest.fixture(scope='module')
def pg_hosts(postgres):
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    if not (shutil.which('nginx') or os.path.exists('/usr/sbin/nginx')):
        pytest.skip('nginx is not installed (make debs-test)')
    dsn = postgres.new_database('hosts')
    root = tempfile.mkdtemp(prefix='qpd-pghosts-', dir='/tmp')
    net = Network('qp%d' % os.getpid(), subnet='10.78.0')
    site = SiteOnHosts(net, root, web_hosts=2, workers=2,
                       storage_host=False, configuration={
                           'durus_storage': 'postgresql',
                           'durus_dsn': dsn,
                           'hosts': None,
                           'durus_address': None,
                           'durus_tls': False,
                       })
    with running(site):
        yield site


def test_two_hosts_one_database_no_lost_write(pg_hosts):
    site = pg_hosts
    web1 = (site.net.get_address('web1'), HTTP_PORT)
    web2 = (site.net.get_address('web2'), HTTP_PORT)

    def on(host, address, method, path):
        return site.net.call_in(host, fetch, address, method, path)
    # A write through web1 is read through web2.
    status, host, _ = on('web1', web1, 'POST', '/write?first')
    assert (status, host) == (200, 'web1')
    deadline = time.monotonic() + 2
    while on('web2', web2, 'GET', '/has?first')[2] != 'yes':
        assert time.monotonic() < deadline, 'web2 never saw the write'
        time.sleep(0.02)
    # Both hosts under a mixed load through nginx.
    load = Load(site, threads=6).start()
    time.sleep(6)
    load.stop()
    for thread in load.threads:
        thread.join(60)
    statuses = {}
    hosts = {}
    for _, status, host in load.results:
        statuses[status] = statuses.get(status, 0) + 1
        hosts[host] = hosts.get(host, 0) + 1
    assert statuses == {200: len(load.results)}, statuses
    assert hosts.get('web1') and hosts.get('web2'), hosts
    # Every acknowledged write is there, seen from either host.
    for name, address in (('web1', web1), ('web2', web2)):
        text = on(name, address, 'GET', '/tokens')[2]
        missing = load.acknowledged - set(text.split('\n'))
        assert not missing, '%s lacks %d acknowledged writes' % (
            name, len(missing))
    print('\n%d answers (%r), %d acknowledged writes, by host %r' % (
        len(load.results), statuses, len(load.acknowledged), hosts))


def test_a_killed_storage_server_is_restarted_and_its_workers_carry_on(
        pg_hosts):
    """kill -9 of web1's StorageServer under load through nginx:
    supervisord starts it again, web1's workers reconnect, web2 never
    notices; no acknowledged write is lost."""
    import signal
    site = pg_hosts
    supervisor = site.supervisor('web1')

    def durus_pid():
        for info in supervisor.get_process_infos(site.name):
            if info['name'] == 'durus' and info['statename'] == 'RUNNING':
                return info['pid']
        return None
    pid = durus_pid()
    assert pid
    load = Load(site, threads=4).start()
    try:
        time.sleep(1.5)
        os.kill(pid, signal.SIGKILL)
        assert load.wait_for(lambda: durus_pid() not in (None, pid),
                             timeout=30), 'supervisord did not restart it'
        mark = load.mark()
        assert load.wait_for(lambda: sum(
            1 for r in load.since(mark) if r[1] == 200 and r[2] == 'web1')
            >= 20, timeout=40), load.since(mark)[-10:]
    finally:
        load.stop()
        for thread in load.threads:
            thread.join(60)
    web2 = (site.net.get_address('web2'), HTTP_PORT)
    text = site.net.call_in('web2', fetch, web2, 'GET', '/tokens')[2]
    missing = load.acknowledged - set(text.split('\n'))
    assert not missing, sorted(missing)[:5]
    statuses = {}
    for _, status, _ in load.results:
        statuses[status] = statuses.get(status, 0) + 1
    print('\nkill -9 of web1:durus under load: %r, %d acknowledged writes'
          % (statuses, len(load.acknowledged)))
