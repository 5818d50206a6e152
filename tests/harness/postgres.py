"""A real PostgreSQL cluster for tests and benchmarks.

    cluster = PostgresCluster()     # initdb in a new temporary directory
    cluster.start()                 # pg_ctl start; a unix socket + loopback
    cluster.dsn('qpd_a')            # a libpq string for database qpd_a
    cluster.create_database('qpd_a')
    cluster.restart() / cluster.kill() / cluster.stop()

PostgreSQL refuses to run as root, and CI runs as root: when this process
is root, initdb, pg_ctl and the server run as Debian's unprivileged
`postgres` user (from the `postgresql` package, which the Makefile's
TEST_DEBS installs), and the cluster directory is made theirs. When not
root, they run as the current user.

The server listens on a unix socket in the cluster's own directory (owned
by the user it runs as; a short /tmp path, since socket paths are limited
to about 100 bytes) and on 127.0.0.1 at a free port, nowhere else. Local
(socket) connections are trusted; TCP ones need the superuser's password
(`PostgresCluster.password`), so that tests can exercise pgpass and
PGPASSWORD.

The pytest fixture `postgres` (session-scoped: one cluster per run, made
when a test first asks for it) yields a started cluster; each test makes
its own database with `cluster.create_database(name)` (or
`cluster.new_database()`), so tests never share objects.
"""

import glob
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time

from harness.processes import HarnessError, free_port, wait_until

__all__ = ['PostgresCluster', 'find_pg_bin', 'postgres']

SUPERUSER = 'postgres'


def find_pg_bin():
    """() -> str: the directory holding initdb and pg_ctl (Debian keeps
    them in /usr/lib/postgresql/VERSION/bin, off PATH); HarnessError naming
    the package when there is none."""
    found = shutil.which('pg_ctl')
    if found and os.path.exists(os.path.join(os.path.dirname(found),
                                             'initdb')):
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob('/usr/lib/postgresql/*/bin/pg_ctl'),
                        key=lambda p: int(p.split('/')[-3]))
    if not candidates:
        raise HarnessError('PostgreSQL is not installed: install the '
                           'Debian package "postgresql" (make debs-test)')
    return os.path.dirname(candidates[-1])


class PostgresCluster:
    """(directory:str=None, port:int=None)
    A PostgreSQL cluster made with initdb in directory (a new temporary
    one by default), served on directory's unix socket and 127.0.0.1:port.
    """

    password = 'qpd-test-password'
    _counter = itertools.count(1)

    def __init__(self, directory=None, port=None):
        self.bin = find_pg_bin()
        self.owned = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix='qpdpg-',
                                                       dir='/tmp')
        self.data = os.path.join(self.directory, 'data')
        self.socket_directory = self.directory
        self.port = port or free_port()
        self.host = '127.0.0.1'
        self.user = SUPERUSER
        self.log = os.path.join(self.directory, 'postgres.log')
        self.run_as = None
        if os.geteuid() == 0:
            self.run_as = SUPERUSER
            import pwd
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        os.chmod(self.directory, 0o755)
        self.initialized = os.path.exists(os.path.join(self.data,
                                                       'PG_VERSION'))

    # Running the tools ---------------------------------------------------

    def run(self, tool, *args, check=True, timeout=120):
        """(tool:str, *args) -> CompletedProcess: run a PostgreSQL tool as
        the cluster's user; HarnessError with its output when it fails."""
        argv = [os.path.join(self.bin, tool)] + [str(a) for a in args]
        env = dict(os.environ, LC_ALL='C.UTF-8', LANG='C.UTF-8')
        env.pop('PGDATA', None)
        result = subprocess.run(
            argv, user=self.run_as, cwd=self.directory, env=env,
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout)
        if check and result.returncode != 0:
            raise HarnessError('%s failed (%s): %s%s' % (
                ' '.join(argv), result.returncode, result.stdout,
                result.stderr))
        return result

    def initdb(self):
        """() -> self: make the cluster (trust on the socket, a password
        over TCP), listening only where this class says."""
        if self.initialized:
            return self
        pwfile = os.path.join(self.directory, 'pwfile')
        with open(pwfile, 'w') as f:
            f.write(self.password + '\n')
        if self.run_as:
            shutil.chown(pwfile, self.run_as)
        self.run('initdb', '-D', self.data, '-U', self.user,
                 '--pwfile', pwfile, '--auth-local=trust',
                 '--auth-host=scram-sha-256', '-E', 'UTF8', '--no-sync')
        os.remove(pwfile)
        with open(os.path.join(self.data, 'postgresql.conf'), 'a') as f:
            f.write("\n# qpd test harness\n"
                    "listen_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "max_connections = 200\n"
                    "shared_buffers = 64MB\n"
                    "fsync = on\n"
                    "wal_level = replica\n"
                    "max_wal_senders = 4\n"
                    "logging_collector = off\n" % (
                        self.port, self.socket_directory))
        with open(os.path.join(self.data, 'pg_hba.conf'), 'a') as f:
            f.write('local replication all trust\n'
                    'host replication all 127.0.0.1/32 scram-sha-256\n')
        self.initialized = True
        return self

    def start(self):
        """() -> self: initdb if needed, pg_ctl start, wait until it
        answers."""
        self.initdb()
        self.run('pg_ctl', '-D', self.data, '-l', self.log, '-w', '-t', '60',
                 'start')
        wait_until(self.is_ready, timeout=30)
        return self

    def is_ready(self):
        """() -> bool: does the server accept connections?"""
        return self.run('pg_isready', '-h', self.socket_directory, '-p',
                        self.port, check=False).returncode == 0

    def stop(self, mode='fast'):
        """(mode:str='fast') -> None: pg_ctl stop, when running."""
        if self.initialized and self.get_pid() is not None:
            self.run('pg_ctl', '-D', self.data, '-m', mode, '-w', 'stop',
                     check=False)

    def restart(self):
        """() -> self: stop (fast) and start again, same data and port."""
        self.stop()
        return self.start()

    def get_pid(self):
        """() -> int|None: the postmaster's pid while it runs."""
        try:
            with open(os.path.join(self.data, 'postmaster.pid')) as f:
                pid = int(f.readline())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def kill(self):
        """() -> None: SIGKILL the postmaster, as a crash of its machine
        would (its backends die when they notice)."""
        pid = self.get_pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)

    def remove(self):
        """() -> None: stop and remove the directory (when this made it)."""
        self.stop(mode='immediate')
        if self.owned:
            shutil.rmtree(self.directory, ignore_errors=True)

    # Databases -------------------------------------------------------------

    def dsn(self, dbname='postgres', tcp=False, **more):
        """(dbname:str='postgres', tcp=False, **more) -> str: a libpq
        connection string (on the unix socket; on 127.0.0.1 with tcp, which
        needs the password from PGPASSWORD or a pgpass file)."""
        host = self.host if tcp else self.socket_directory
        parts = ['host=%s' % host, 'port=%d' % self.port,
                 'user=%s' % self.user, 'dbname=%s' % dbname]
        parts.extend('%s=%s' % item for item in sorted(more.items()))
        return ' '.join(parts)

    def connect(self, dbname='postgres', autocommit=True):
        """(dbname:str='postgres', autocommit=True) -> psycopg.Connection"""
        import psycopg
        return psycopg.connect(self.dsn(dbname), autocommit=autocommit)

    def execute(self, sql, dbname='postgres'):
        """(sql:str, dbname:str='postgres') -> list of rows (or [])"""
        with self.connect(dbname) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name):
        """(name:str) -> str: create database name (dropped first if it
        exists); its dsn."""
        self.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % name)
        self.execute('CREATE DATABASE "%s"' % name)
        return self.dsn(name)

    def new_database(self, prefix='qpd_test'):
        """(prefix:str='qpd_test') -> str: a new database's dsn, its name
        unique in this process."""
        name = '%s_%d_%d' % (prefix, os.getpid(), next(self._counter))
        return self.create_database(name)


def _fixture():
    import pytest

    @pytest.fixture(scope='session')
    def postgres():
        """The session's PostgreSQL cluster (see harness.postgres)."""
        cluster = PostgresCluster()
        try:
            yield cluster.start()
        finally:
            cluster.remove()
    return postgres


try:
    postgres = _fixture()
except ImportError:     # the benchmarks import this without pytest
    postgres = None
