"""A site switched to durus_storage='postgresql' serves the same pages
(the counter site of test_hot_counter: pages written, then read, through
the real dispatcher, workers and StorageServer); `qpd check` works on it;
bad input gives one line naming the key or the server and the fix."""

import http.client
import subprocess
import sys
import threading
import time

import pytest

from harness import COUNTER_SLASH, Cluster, make_home

psycopg = pytest.importorskip('psycopg')


def _configuration(dsn, **more):
    configuration = {
        'http_address': ('127.0.0.1', 0),
        'max_retries': 3,
        'durus_storage': 'postgresql',
        'durus_dsn': dsn,
    }
    configuration.update(more)
    return configuration


def _home(tmp_path, configuration, name='hello'):
    return make_home(tmp_path, name=name, configuration=configuration,
                     slash=COUNTER_SLASH % {'configuration': configuration})


def _get(port, path):
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    try:
        connection.request('GET', path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _qpd(home, *args):
    return subprocess.run(
        [sys.executable, '-m', 'qpd', '--home', home] + list(args),
        capture_output=True, text=True, timeout=60)


def test_the_counter_site_serves_the_same_pages(tmp_path, postgres):
    dsn = postgres.new_database('site')
    home = _home(tmp_path, _configuration(dsn))
    with Cluster(home) as cluster:
        cluster.boot(workers=2)
        port = cluster.get_port('http')
        assert _get(port, '/') == (200, b'hello')
        for n in range(1, 21):
            assert _get(port, '/inc') == (200, str(n).encode())
        assert _get(port, '/count') == (200, b'20')
        # 16 clients on one counter for 3 s: no failure, no lost update.
        results = []
        deadline = time.monotonic() + 3

        def client():
            while time.monotonic() < deadline:
                results.append(_get(port, '/inc')[0])
        threads = [threading.Thread(target=client) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert set(results) == {200}
        assert _get(port, '/count') == (200, str(20 + len(results)).encode())
        # The StorageServer killed and started again: the data is in
        # PostgreSQL, the workers reconnect.
        cluster.processes['durus'].kill_group()
        cluster.start_durus()
        deadline = time.monotonic() + 20
        while _get(port, '/count')[0] != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert _get(port, '/count') == (200, str(20 + len(results)).encode())
        # qpd check reads every object while the site runs.
        result = _qpd(home, 'check', 'hello')
        assert result.returncode == 0, result.stderr
        assert 'clean:' in result.stdout + result.stderr
    print('\n%d hits on the hot counter' % len(results))


def _durus_error(home):
    """Run `qpd durus hello`, expect it to fail: its stderr."""
    result = _qpd(home, 'durus', 'hello')
    assert result.returncode != 0
    return result.stderr.strip()


def _assert_one_line(text, *words):
    assert 'Traceback' not in text, text
    assert len(text.splitlines()) == 1, text
    for word in words:
        assert word in text, text


def test_bad_input_is_one_line_with_the_fix(tmp_path, postgres):
    # A database that does not exist.
    home = _home(tmp_path / 'a', _configuration(
        postgres.dsn('no_such_database')))
    _assert_one_line(_durus_error(home), 'durus_dsn', 'no_such_database')
    # A database server that is down (nothing on that port).
    from harness import free_port
    home = _home(tmp_path / 'b', _configuration(
        'host=127.0.0.1 port=%d dbname=x user=postgres connect_timeout=3'
        % free_port()))
    _assert_one_line(_durus_error(home), 'durus_dsn', 'cannot connect',
                     'start the database server')
    # Not a connection string.
    home = _home(tmp_path / 'c', _configuration('host=/tmp bogus_option=1'))
    _assert_one_line(_durus_error(home), 'durus_dsn')
    # A missing table.
    dsn = postgres.new_database('broken')
    from qpd.storage.postgresql import PostgresStorage
    PostgresStorage(dsn, site='hello', say=lambda line: None).close()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute('DROP TABLE qpd_transaction')
    home = _home(tmp_path / 'd', _configuration(dsn))
    _assert_one_line(_durus_error(home), 'durus_dsn', 'qpd_transaction',
                     'restore')
    result = _qpd(home, 'check', 'hello')
    assert result.returncode != 0
    _assert_one_line(result.stderr.strip(), 'qpd_transaction')
    # Another site's database.
    dsn = postgres.new_database('other')
    PostgresStorage(dsn, site='other', say=lambda line: None).close()
    home = _home(tmp_path / 'e', _configuration(dsn))
    _assert_one_line(_durus_error(home), 'durus_dsn', "site other's",
                     "hello's own database")
    # A password in the dsn: refused before anything connects.
    home = _home(tmp_path / 'f', _configuration(
        postgres.dsn('x', password='sekrit')))
    text = _durus_error(home)
    _assert_one_line(text, 'durus_dsn', 'pgpass')
    assert 'sekrit' not in text
