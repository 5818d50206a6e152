"""`qpd copy NAME SRC DEST`: a site's database moved from its Durus file to
PostgreSQL and back, through the real command, each copy counted and
checked, and the site serving the same count on each storage; what it
refuses, in one line."""

import subprocess
import sys

import pytest

from harness import COUNTER_SLASH, Cluster, make_home

pytest.importorskip('psycopg')


def _home(tmp_path, **more):
    configuration = {'http_address': ('127.0.0.1', 0), 'max_retries': 3}
    configuration.update(more)
    return make_home(tmp_path, configuration=configuration,
                     slash=COUNTER_SLASH % {'configuration': configuration})


def _qpd(home, *args):
    return subprocess.run(
        [sys.executable, '-m', 'qpd', '--home', home] + list(args),
        capture_output=True, text=True, timeout=120)


def _serve(home, path, times=1):
    """Boot the site, GET path `times` times; -> the last body."""
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        for _ in range(times):
            status, headers, body = cluster.get(path)
            assert status == 200, body
    return body


def _one_line(result):
    text = result.stderr.strip()
    assert result.returncode != 0, result
    assert 'Traceback' not in text and len(text.splitlines()) == 1, text
    return text


def test_a_site_moves_to_postgresql_and_back(tmp_path, postgres):
    dsn = postgres.new_database('copy')
    home = _home(tmp_path, durus_dsn=dsn)       # durus_storage stays 'file'
    assert _serve(home, '/inc', times=20) == b'20'

    result = _qpd(home, 'copy', 'hello', 'file', 'postgresql')
    assert result.returncode == 0, result.stderr
    assert 'copied ' in result.stdout and ': clean' in result.stdout, (
        result.stdout)
    assert 'made the qpd tables' in result.stdout

    # Copying into it again: it is not empty any more.
    assert 'already holds' in _one_line(
        _qpd(home, 'copy', 'hello', 'file', 'postgresql'))

    home = _home(tmp_path, durus_storage='postgresql', durus_dsn=dsn)
    assert _serve(home, '/count') == b'20'
    assert _serve(home, '/inc') == b'21'        # new oids, no collision
    # A PostgreSQL source may be copied while the site runs (one snapshot).
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        live = str(tmp_path / 'live.durus')
        result = _qpd(home, 'copy', 'hello', 'postgresql', live)
        assert result.returncode == 0, result.stderr
        assert cluster.get('/count')[2] == b'21'

    # And back: into a new file, then over the site's own file.
    backup = str(tmp_path / 'copy.durus')
    result = _qpd(home, 'copy', 'hello', 'postgresql', backup)
    assert result.returncode == 0, result.stderr
    assert ': clean' in result.stdout
    result = _qpd(home, 'check', 'hello', '--file', backup)
    assert result.returncode == 0, result.stderr
    assert 'exists; give --force' in _one_line(
        _qpd(home, 'copy', 'hello', 'postgresql', 'file'))
    result = _qpd(home, 'copy', 'hello', 'postgresql', 'file', '--force')
    assert result.returncode == 0, result.stderr
    home = _home(tmp_path, durus_dsn=dsn)
    assert _serve(home, '/count') == b'21'
    assert _serve(home, '/inc') == b'22'


def test_what_copy_refuses(tmp_path, postgres):
    home = _home(tmp_path)
    assert _serve(home, '/inc') == b'1'
    # No durus_dsn for the word postgresql.
    assert 'durus_dsn' in _one_line(
        _qpd(home, 'copy', 'hello', 'file', 'postgresql'))
    # A password in a connection string: refused, not echoed.
    text = _one_line(_qpd(home, 'copy', 'hello', 'file',
                          postgres.dsn('x', password='sekrit')))
    assert 'pgpass' in text and 'sekrit' not in text
    # The same database twice.
    assert 'different' in _one_line(_qpd(home, 'copy', 'hello', 'file',
                                         'file'))
    # A missing source file.
    assert 'is not a file' in _one_line(
        _qpd(home, 'copy', 'hello', str(tmp_path / 'nothing.durus'),
             postgres.dsn('x')))
    # A database server that is not there.
    text = _one_line(_qpd(home, 'copy', 'hello', 'file',
                          'host=127.0.0.1 port=1 dbname=x connect_timeout=3'))
    assert 'cannot connect' in text
    # While the site runs.
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        assert 'stop the site first' in _one_line(
            _qpd(home, 'copy', 'hello', 'file', postgres.dsn('x')))
