"""A primary and its streaming standby, for failover tests.

    primary, standby = make_pair()          # two clusters, both running
    dsn = failover_dsn([primary, standby], 'qpd_a')
    primary.kill(); promote(standby)

`make_standby(primary)` copies a running PostgresCluster (harness.postgres)
with `pg_basebackup -R` (real streaming replication: the copy starts as a
hot standby that follows the primary's WAL) into a new temporary directory,
with its own socket and port, as the same unprivileged user. With
`synchronous=True` the primary then names the standby in
`synchronous_standby_names`, so that a COMMIT returns only when the
standby has the commit too (`synchronous_commit = on` waits for the
standby's flush: nothing acknowledged is lost when the primary dies).
The standby is made before that setting, so that once promoted it does not
wait for a standby of its own.

`failover_dsn` is the libpq multi-host string a site uses: every host's
socket and port, `target_session_attrs=read-write`, so that a connection
goes to whichever is the primary now.
"""

import os
import time

from harness.postgres import PostgresCluster
from harness.processes import HarnessError, wait_until

__all__ = ['make_standby', 'make_pair', 'promote', 'failover_dsn',
           'STANDBY_NAME']

STANDBY_NAME = 'qpd_standby'


def make_standby(primary, synchronous=True, name=STANDBY_NAME):
    """(primary:PostgresCluster, synchronous=True, name=STANDBY_NAME)
        -> PostgresCluster
    A started hot standby of primary (see the module's docstring), known to
    the primary as `name` (its cluster_name, the application_name of its
    WAL receiver)."""
    standby = PostgresCluster()
    standby.run('pg_basebackup', '-D', standby.data, '-h',
                primary.socket_directory, '-p', primary.port, '-U',
                primary.user, '-X', 'stream', '-R', '-c', 'fast',
                '--no-sync', timeout=180)
    # The copy has the primary's postgresql.conf: later lines win.
    with open(os.path.join(standby.data, 'postgresql.conf'), 'a') as f:
        f.write("\n# qpd test harness: the standby\n"
                "port = %d\n"
                "unix_socket_directories = '%s'\n"
                "cluster_name = '%s'\n"
                "hot_standby = on\n"
                "wal_receiver_status_interval = 1s\n" % (
                    standby.port, standby.socket_directory, name))
    standby.initialized = True
    standby.start()
    if synchronous:
        primary.execute("ALTER SYSTEM SET synchronous_standby_names = '%s'"
                        % name)
        primary.execute('SELECT pg_reload_conf()')
    wait_until(lambda: _is_streaming(primary, name, synchronous),
               timeout=30)
    return standby


def _is_streaming(primary, name, synchronous):
    rows = primary.execute(
        "SELECT state, sync_state FROM pg_stat_replication "
        "WHERE application_name = '%s'" % name)
    if not rows or rows[0][0] != 'streaming':
        return False
    return not synchronous or rows[0][1] == 'sync'


def make_pair(synchronous=True):
    """(synchronous=True) -> (primary, standby): a new primary (initdb)
    and its standby, both started."""
    primary = PostgresCluster().start()
    try:
        return primary, make_standby(primary, synchronous=synchronous)
    except BaseException:
        primary.remove()
        raise


def is_primary(cluster):
    """(cluster:PostgresCluster) -> bool: out of recovery, writable."""
    return not cluster.execute('SELECT pg_is_in_recovery()')[0][0]


def promote(standby, timeout=30):
    """(standby:PostgresCluster, timeout=30) -> float: `pg_ctl promote`,
    waiting until the standby takes writes; the seconds it took."""
    start = time.monotonic()
    standby.run('pg_ctl', '-D', standby.data, '-w', '-t', timeout,
                'promote')
    wait_until(lambda: is_primary(standby), timeout=timeout)
    return time.monotonic() - start


def failover_dsn(clusters, dbname, **more):
    """(clusters:[PostgresCluster], dbname:str, **more) -> str: a libpq
    multi-host connection string over every cluster's socket,
    target_session_attrs=read-write."""
    if not clusters:
        raise HarnessError('failover_dsn needs at least one cluster')
    user = clusters[0].user
    parts = ['host=%s' % ','.join(c.socket_directory for c in clusters),
             'port=%s' % ','.join(str(c.port) for c in clusters),
             'user=%s' % user, 'dbname=%s' % dbname,
             'target_session_attrs=read-write', 'connect_timeout=5']
    parts.extend('%s=%s' % item for item in sorted(more.items()))
    return ' '.join(parts)
