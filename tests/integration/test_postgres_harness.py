"""The PostgreSQL harness itself: a cluster made by initdb, run as an
unprivileged user, on a unix socket it owns and on loopback TCP."""

import os
import pwd

import pytest

psycopg = pytest.importorskip('psycopg')


def test_cluster_runs_unprivileged_on_socket_and_loopback(postgres):
    rows = postgres.execute('SELECT current_user, version()')
    assert rows[0][0] == 'postgres'
    assert 'PostgreSQL' in rows[0][1]
    owner = os.stat(postgres.socket_directory).st_uid
    if os.geteuid() == 0:
        assert pwd.getpwuid(owner).pw_name == 'postgres'
    socket_file = os.path.join(postgres.socket_directory,
                               '.s.PGSQL.%d' % postgres.port)
    assert os.path.exists(socket_file)
    listen = postgres.execute('SHOW listen_addresses')[0][0]
    assert listen == '127.0.0.1'
    # TCP needs the password: refused without it, accepted with it.
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(postgres.dsn(tcp=True), connect_timeout=5).close()
    with psycopg.connect(postgres.dsn(tcp=True, password=postgres.password),
                         connect_timeout=5) as conn:
        assert conn.execute('SELECT 1').fetchone() == (1,)


def test_each_test_gets_its_own_database(postgres):
    first = postgres.new_database()
    second = postgres.new_database()
    assert first != second
    with psycopg.connect(first, autocommit=True) as conn:
        conn.execute('CREATE TABLE t (x int)')
    with psycopg.connect(second, autocommit=True) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_tables WHERE tablename = 't'"
        ).fetchone() == (0,)
