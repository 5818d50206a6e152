"""The publisher on a real Durus StorageServer (a subprocess, not a mock):
visibility between clients, no lost updates under concurrency, retries of
conflicts, surviving a restart of the server, and the server runner."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from durus.error import ReadConflictError
from durus.persistent_dict import PersistentDict

from qpd.storage.connection import StorageUnavailable, connect
from qpd.web.directory import Directory
from qpd.web.profile import Profile
from qpd.web.publish import Publisher


# The server runner -----------------------------------------------------------

def test_server_ready_line_socket_mode_and_title(durus_server):
    pid = durus_server.get_pid()
    assert durus_server.ready_line == 'READY durus test pid=%d %s' % (
        pid, durus_server.address)
    assert oct(os.stat(durus_server.address).st_mode & 0o777) == '0o600'
    with open('/proc/%d/cmdline' % pid, 'rb') as f:
        assert f.read().replace(b'\0', b' ').startswith(b'qpd durus test')
    durus_server.stop()
    assert not os.path.exists(durus_server.address)     # removed on SIGTERM


def test_server_on_tcp(durus_server_factory):
    server = durus_server_factory(tcp=True)
    host, port = server.address
    assert server.ready_line.endswith('%s:%s' % (host, port))
    connection = server.connect()
    connection.get_root()['x'] = 1
    connection.commit()
    assert server.connect().get_root()['x'] == 1


@pytest.mark.file_storage('asserts that `qpd durus` made the Durus file')
def test_qpd_durus_command_serves_a_site(make_site):
    site = make_site(PUBLISH_SLASH_STUB)
    process = subprocess.Popen(
        [sys.executable, '-m', 'qpd', '--home', site.get_home(), 'durus',
         site.get_name()], stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline().strip()
        assert line == 'READY durus %s pid=%d %s' % (
            site.get_name(), process.pid, site.get_durus_address())
        connection = site.get_connection()
        connection.get_root()['here'] = True
        connection.commit()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        process.stdout.close()
    assert os.path.exists(site.get_durus_file())


PUBLISH_SLASH_STUB = '''
from qpd.web.directory import Directory
from qpd.web.publish import Publisher

class SitePublisher(Publisher):
    configuration = CONFIGURATION

class SiteDirectory(Directory):
    pass
'''


def test_connect_waits_for_the_server(durus_server):
    durus_server.stop()
    with pytest.raises(StorageUnavailable):
        connect(durus_server.address)
    timer = threading.Timer(0.3, durus_server.start)
    timer.start()
    start = time.monotonic()
    connection = connect(durus_server.address, wait=10)
    assert time.monotonic() - start >= 0.25
    timer.join()
    connection.get_storage().close()


# Two publishers, two connections ---------------------------------------------

def test_commit_is_seen_by_the_next_hit_of_another(publish_site):
    one = Profile(publish_site)
    two = Profile(publish_site)
    assert two.get_text(two.get('/value')) == 'None'     # loaded, cached
    assert one.get_text(one.get('/put', value='first')) == 'ok'
    assert two.get_text(two.get('/value')) == "'first'"
    assert two.get_text(two.get('/put', value='second')) == 'ok'
    assert one.get_text(one.get('/value')) == "'second'"


def test_failed_hit_loses_nothing_committed(publish_site):
    profile = Profile(publish_site)
    profile.get('/put', value='kept')
    response = profile.get('/write_then_fail')
    assert response.get_status_code() == 500
    assert b'failing after a write' not in profile.get_body(response)
    assert profile.get_text(profile.get('/value')) == "'kept'"
    other = Profile(publish_site)
    assert other.get_text(other.get('/value')) == "'kept'"


_COUNTER_SCRIPT = '''
import json, sys, time
from qpd.site import Site
from qpd.web.profile import Profile
name, home, hits, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
profile = Profile(Site(name, home=home))
publisher = profile.get_publisher()
profile.get('/read')
while time.time() < start_at:
    time.sleep(0.001)
ok = 0
others = []
for _ in range(hits):
    status = profile.get('/count').get_status_code()
    if status == 200:
        ok += 1
    else:
        others.append(status)
print(json.dumps({'ok': ok, 'retries': publisher.get_retry_count(),
                  'others': others}))
'''


def test_concurrent_counter_loses_no_update(publish_site):
    workers, hits = 3, 150
    start_at = time.time() + 1.5
    processes = [subprocess.Popen(
        [sys.executable, '-c', _COUNTER_SCRIPT, publish_site.get_name(),
         publish_site.get_home(), str(hits), str(start_at)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(workers)]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(json.loads(out))
    ok = sum(result['ok'] for result in results)
    retries = sum(result['retries'] for result in results)
    profile = Profile(publish_site)
    count = int(profile.get_text(profile.get('/read')))
    others = sum((result['others'] for result in results), [])
    print('\nCONCURRENT COUNTER: %d processes x %d hits: count=%d, '
          'successful hits=%d, conflict retries=%d, 503 after %d retries: %d'
          % (workers, hits, count, ok, retries,
             profile.get_publisher().get_config('max_retries'),
             len(others)))
    assert count == ok
    assert set(others) <= {503}     # retries ran out: refused, not lost
    assert ok >= workers * hits * 0.8


# Read conflicts swallowed by the application are still retried ---------------

class _ConflictDirectory(Directory):

    _q_exports = ['']

    def __init__(self, other_connection):
        self.other = other_connection
        self.attempts = 0

    def _q_index(self):
        from qpd.web.common import get_root
        self.attempts += 1
        box = get_root()['box']          # a ghost here
        if self.attempts == 1:
            # Another client changes the box in the middle of this hit.
            self.other.abort()
            # It changes the root too, which this hit has read: so the
            # box's state is no longer consistent with it.
            self.other.get_root()['box']['value'] = 'changed'
            self.other.get_root()['stamp'] = time.time()
            self.other.commit()
            try:
                box['value']
            except ReadConflictError:
                return 'swallowed'       # an application that hides it
        return box['value']


def test_swallowed_read_conflict_is_retried(durus_server):
    setup = durus_server.connect()
    setup.get_root()['box'] = PersistentDict(value='original')
    setup.commit()
    publisher = Publisher(connection=durus_server.connect())
    directory = _ConflictDirectory(durus_server.connect())
    publisher.set_root_directory(directory)
    profile = Profile(publisher)
    response = profile.get('/')
    assert profile.get_text(response) == 'changed'
    assert directory.attempts == 2 and publisher.get_retry_count() == 1


# Killing and restarting the StorageServer -------------------------------------

def test_restart_of_the_storage_server_is_survived(publish_site, durus_server):
    profile = Profile(publish_site)
    publisher = profile.get_publisher()
    assert profile.get_text(profile.get('/count')) == '1'
    durus_server.kill()
    durus_server.start()
    start = time.monotonic()
    response = profile.get('/count')
    hit_time = time.monotonic() - start
    assert profile.get_text(response) == '2'
    assert publisher.get_reconnect_count() == 1
    reconnect_time = publisher.reconnect_time
    # Down for a while: the hit waits for the server to come back.
    durus_server.kill()
    timer = threading.Timer(0.5, durus_server.start)
    timer.start()
    start = time.monotonic()
    response = profile.get('/count')
    outage_hit_time = time.monotonic() - start
    timer.join()
    assert profile.get_text(response) == '3'
    assert publisher.get_reconnect_count() == 2
    print('\nRECONNECT: server killed and restarted between hits: '
          'reconnect %.2f ms, whole hit %.2f ms; server down 0.5 s: '
          'hit answered after %.2f s' % (
              reconnect_time * 1000, hit_time * 1000, outage_hit_time))
    assert hit_time < 2.0


def test_storage_server_gone_for_good_gives_503(publish_site, durus_server):
    class Impatient(Publisher):
        configuration = {'reconnect_wait': 0.2, 'retry_delay': 0.0}
    publisher = Impatient(connection=publish_site.get_connection())
    publisher.set_root_directory(publish_site.get_directory_class()())
    profile = Profile(publisher)
    assert profile.get_text(profile.get('/')) == 'Hello, world!'
    durus_server.kill()
    response = profile.get('/')
    assert response.get_status_code() == 503
    durus_server.start()
    assert profile.get_text(profile.get('/')) == 'Hello, world!'
