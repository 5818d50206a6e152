"""`qpd status` and `qpd metrics` on a site whose objects are in
PostgreSQL, a primary with a synchronous standby (harness.
postgres_standby), run the operator's way (qpd start, supervisord): the
database's role, round trip, each standby's state and replication lag;
then the standby gone, then the primary gone."""

import json
import threading
import time

import pytest

from harness import QpdHome, wait_until
from harness.postgres_standby import failover_dsn, make_pair
from qpd.storage.pg_status import format_database_state, get_database_state

pytest.importorskip('psycopg')


def test_status_and_metrics_show_the_database_and_its_standby():
    primary, standby = make_pair(synchronous=True)
    home = QpdHome.make()
    try:
        primary.execute('CREATE DATABASE qpd_status')
        dsn = failover_dsn([primary, standby], 'qpd_status')
        home.new('hello', durus_storage='postgresql', durus_dsn=dsn)
        home.run('start', 'hello')
        assert home.get('hello', '/')[0] == 200

        text = home.run('status', 'hello').stdout
        line = [l for l in text.splitlines() if 'postgresql:' in l]
        assert line, text
        assert 'primary at %s:%d' % (primary.socket_directory,
                                     primary.port) in line[0]
        assert 'standby qpd_standby streaming (sync), replay lag' in line[0]
        assert 'bytes behind' in line[0]
        report = json.loads(home.run('status', 'hello', '--json').stdout)
        state = report['sites'][0]['postgresql']
        assert state['role'] == 'primary' and state['reachable']
        assert [s['sync_state'] for s in state['standbys']] == ['sync']

        metrics = home.run('metrics', 'hello').stdout
        for expected in ('qpd_postgresql_up 1.0', 'qpd_postgresql_primary 1.0',
                         'qpd_postgresql_standbys_streaming 1.0',
                         'qpd_postgresql_replication_lag_bytes{'
                         'standby="qpd_standby",sync_state="sync"}',
                         'qpd_postgresql_replication_lag_seconds{'):
            assert expected in metrics, metrics

        standby.stop(mode='immediate')
        wait_until(lambda: '; no standby' in home.run(
            'status', 'hello', check=False).stdout, timeout=20)
        assert 'qpd_postgresql_standbys_streaming 0.0' in home.run(
            'metrics', 'hello').stdout

        # Both gone: the StorageServer, reconnecting, does not hold
        # `qpd status` up.
        primary.kill()
        poke = threading.Thread(target=_quietly, args=(
            home.get, 'hello', '/visits'), daemon=True)
        poke.start()                # the StorageServer now reconnects
        time.sleep(1.0)
        start = time.monotonic()
        text = home.run('status', 'hello', check=False).stdout
        assert time.monotonic() - start < 15
        assert 'postgresql: unreachable' in text, text
        assert 'storage: no answer in 5 s' in text, text
        assert 'qpd_postgresql_up 0.0' in home.run('metrics',
                                                   'hello').stdout
        text = format_database_state(get_database_state(dsn))
        assert text.startswith('unreachable (%s:%d: ' % (
            primary.socket_directory, primary.port)), text
        assert '%s:%d: ' % (standby.socket_directory, standby.port) in text
        # The primary back (its standby still gone, so no longer
        # synchronous): the waiting request ends, and qpd stop need not
        # wait for it.
        primary.start()
        primary.execute("ALTER SYSTEM SET synchronous_standby_names = ''")
        primary.execute('SELECT pg_reload_conf()')
        poke.join(40)
    finally:
        home.cleanup()
        standby.remove()
        primary.remove()


def _quietly(function, *args):
    try:
        function(*args)
    except OSError:
        pass
