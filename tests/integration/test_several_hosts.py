"""A site on several simulated hosts (Linux network namespaces on one
bridge): a storage host running `hello:durus` over mutual TLS, two web
hosts each with its own supervisord, dispatcher and workers, and nginx on
a front host configured by `qpd build hello --hosts`. Under a steady
mixed read/write load through nginx:

- a write through one web host is read back through the other;
- a web host going down (its supervisord stopped) costs at most the
  requests in flight on it; nginx routes around it, and takes it back
  when it starts again;
- the StorageServer restarts: every web host reconnects by itself and no
  acknowledged commit is lost;
- a client without a certificate, with one of another CA, or speaking
  plain TCP is refused by the StorageServer, and the refusal is logged.

Skipped, with the reason, only where network namespaces cannot be made
(not root, no iproute2). Every namespace is named after this process and
deleted at the end, whatever happens.
"""

import http.client
import os
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
import uuid

import pytest
from harness.processes import log_tail

from netns_hosts import (Network, SiteOnHosts, unavailable, running,
                         HTTP_PORT, DURUS_PORT)

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope='module')
def hosts():
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    if not (shutil.which('nginx') or os.path.exists('/usr/sbin/nginx')):
        pytest.skip('nginx is not installed (make debs-test)')
    root = tempfile.mkdtemp(prefix='qpd-hosts-', dir='/tmp')
    net = Network('qh%d' % os.getpid())
    with running(SiteOnHosts(net, root, web_hosts=2, workers=2)) as site:
        yield site


def fetch(address, method, path, timeout=20):
    """(address:(host, port), method, path) -> (status, host, text); run in
    a thread that is in the right namespace."""
    connection = http.client.HTTPConnection(*address, timeout=timeout)
    try:
        connection.connect()
        # Closed with a reset, not into TIME_WAIT: a load of hundreds of
        # new connections a second would use up the front's ephemeral ports
        # in about 30 s (every request then an OSError) when a step of the
        # test runs long.
        connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                   struct.pack('ii', 1, 0))
        connection.request(method, path, body=b'' if method == 'POST'
                           else None)
        response = connection.getresponse()
        return (response.status, response.getheader('X-Host'),
                response.read().decode())
    finally:
        connection.close()


class Load:
    """Threads in the front namespace sending GET /read and POST /write
    through nginx, one at a time each; every answer is recorded with the
    host that gave it, every acknowledged write's token kept."""

    def __init__(self, site, threads=4):
        self.site = site
        self.front = (site.get_front_address(), 80)
        self.results = []       # (time, status or exception name, host)
        self.acknowledged = set()
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.loop, args=(i,),
                                         daemon=True)
                        for i in range(threads)]

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def loop(self, index):
        self.site.net.enter('front')
        count = 0
        while not self.stopping.is_set():
            count += 1
            write = count % 3 == 0
            token = '%d-%s' % (index, uuid.uuid4().hex[:12])
            path = '/write?%s' % token if write else '/read'
            try:
                status, host, _ = fetch(self.front, 'POST' if write else 'GET',
                                       path)
            except Exception as e:
                status, host = type(e).__name__, None
            with self.lock:
                self.results.append((time.monotonic(), status, host))
                if write and status == 200:
                    self.acknowledged.add(token)

    def mark(self):
        """() -> int: the index of the next result."""
        with self.lock:
            return len(self.results)

    def since(self, mark):
        with self.lock:
            return list(self.results[mark:])

    def wait_for(self, predicate, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.1)
        return False

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(40)


def direct(site, from_host, to_host, method, path):
    address = (site.net.get_address(to_host), HTTP_PORT)
    return site.net.call_in(from_host, fetch, address, method, path)


def test_several_hosts_under_load(hosts):
    site = hosts
    load = Load(site).start()
    try:
        assert load.wait_for(lambda: len(load.results) > 40), load.results
        hosts_seen = {host for _, status, host in load.since(0)
                      if status == 200}
        assert hosts_seen == {'web1', 'web2'}, load.results[-20:]

        # A write on one web host is read back through the other.
        for writer, reader in (('web1', 'web2'), ('web2', 'web1')):
            token = 'cross-%s' % uuid.uuid4().hex[:8]
            status, host, text = direct(site, 'front', writer, 'POST',
                                        '/write?' + token)
            assert (status, host) == (200, writer), text
            assert direct(site, 'front', reader, 'GET',
                          '/has?' + token)[::2] == (200, 'yes')

        # web2 goes down (its supervisord stopped, with its dispatcher and
        # workers): nginx routes around it, and at most the requests in
        # flight on web2 are lost.
        mark = load.mark()
        stopped = []

        def shut_down():
            try:
                site.qpd_on('web2', 'shutdown')
                stopped.append(None)
            except AssertionError as e:
                stopped.append(str(e) + ''.join(log_tail(path) for path in (
                    os.path.join(site.get_home('web2'), 'var',
                                 'supervisord.log'),
                    os.path.join(site.get_var('web2'), 'dispatcher.log'))))
        down = threading.Thread(target=shut_down)
        down.start()
        down_at = time.monotonic()
        assert load.wait_for(lambda: sum(
            1 for t, status, host in load.since(mark)
            if host == 'web1' and t > down_at + 3) >= 20, timeout=30)
        down.join(90)
        assert stopped == [None], stopped[0]
        during = load.since(mark)
        failed = [r for r in during if r[1] != 200]
        assert len(failed) <= len(load.threads), failed
        late = [r for r in during if r[0] > down_at + 3]
        assert all(host == "web1" for _, status, host in late
                   if status == 200), late
        # web2 starts again and returns to the rotation.
        site.qpd_on('web2', 'start', site.name, '--timeout', '60')
        mark = load.mark()
        assert load.wait_for(lambda: any(
            host == 'web2' for _, status, host in load.since(mark)),
            timeout=30), load.since(mark)[-10:]
        assert all(r[1] == 200 for r in load.since(mark)), [
            r for r in load.since(mark) if r[1] != 200]

        # The StorageServer restarts under the load: every web host
        # reconnects by itself.
        before = len(load.acknowledged)
        supervisor = site.supervisor('store')
        supervisor.stop_process('%s:durus' % site.name)
        time.sleep(0.5)
        supervisor.start_process('%s:durus' % site.name)
        mark = load.mark()
        assert load.wait_for(lambda: sum(
            1 for r in load.since(mark) if r[1] == 200) >= 30, timeout=40)
        for web in site.webs:
            status, host, text = direct(site, 'front', web, 'GET', '/read')
            assert (status, host) == (200, web), text
        assert len(load.acknowledged) > before
    finally:
        load.stop()

    # No acknowledged commit is lost.
    status, host, text = direct(site, 'front', 'web1', 'GET', '/tokens')
    assert status == 200
    stored = set(text.split('\n'))
    missing = load.acknowledged - stored
    assert not missing, sorted(missing)[:5]
    statuses = {}
    for _, status, _ in load.results:
        statuses[status] = statuses.get(status, 0) + 1
    print('load through nginx: %s; %d acknowledged writes' % (
        statuses, len(load.acknowledged)))


def test_strangers_are_refused_and_logged(hosts, tmp_path):
    from qpd.ops.certs import make_ca, write_host_files
    from qpd.storage.connection import ping
    from qpd.storage.tls import TLSAddress, make_client_context
    site = hosts
    store = site.store_address
    ca = os.path.join(site.get_var('web1'), 'tls', 'ca.pem')
    other_key, other_cert = make_ca('another')
    write_host_files(str(tmp_path / 'other'), other_key, other_cert, 'web1')
    log = os.path.join(site.get_var('store'), 'durus.log')
    with open(log) as f:
        before = f.read().count('refused a client')

    def attempt(address):
        try:
            ping(address)
        except OSError as e:
            return str(e)
        return None

    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.load_verify_locations(ca)
    stranger = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    stranger.load_verify_locations(ca)
    stranger.load_cert_chain(str(tmp_path / 'other' / 'host.pem'),
                             str(tmp_path / 'other' / 'host.key'))
    for address in (TLSAddress(store, DURUS_PORT, bare),
                    TLSAddress(store, DURUS_PORT, stranger),
                    (store, DURUS_PORT)):
        assert site.net.call_in('web1', attempt, address), address
    # The web host's own certificate is still welcome.
    own = make_client_context(os.path.join(site.get_var('web1'), 'tls'))
    assert site.net.call_in('web1', ping, TLSAddress(store, DURUS_PORT, own))

    def refusals():
        with open(log) as f:
            return [line for line in f.read().splitlines()
                    if 'refused a client at %s:' % site.net.get_address(
                        'web1') in line]
    deadline = time.monotonic() + 5
    while len(refusals()) < before + 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    lines = refusals()[-3:]
    assert 'no client certificate' in lines[0], lines
    assert "not signed by the site's CA" in lines[1], lines
    assert 'not TLS' in lines[2], lines


def test_status_on_a_web_host_shows_the_storage_connection(hosts):
    site = hosts
    result = site.qpd_on('web1', 'status', site.name, check=False)
    assert 'storage: connected to %s:%d over TLSv1.' % (
        site.store_address, DURUS_PORT) in result.stdout, result.stdout
    assert 'round trip' in result.stdout
    store = site.qpd_on('store', 'status', site.name, check=False)
    assert 'durus' in store.stdout and 'dispatcher' not in store.stdout


def test_plain_tcp_to_the_storage_host_is_refused_by_configuration(hosts):
    site = hosts
    slash = os.path.join(site.get_home('web1'), 'sites', site.name,
                         'slash.py')
    with open(slash) as f:
        source = f.read()
    try:
        with open(slash, 'w') as f:
            f.write(source.replace("'durus_tls': True", "'durus_tls': False"))
        result = site.qpd_on('web1', 'show', site.name, check=False)
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and 'is plain TCP beyond this machine' in \
            lines[0], result.stderr
    finally:
        with open(slash, 'w') as f:
            f.write(source)
