"""qpd.storage.pg_status: the PostgreSQL database of a site on
`durus_storage = 'postgresql'`, as a new client of this host sees it now,
for `qpd status` and the metrics.

    state = get_database_state(dsn)      # a dict, also for --json
    format_database_state(state)         # one line

It connects with the site's `durus_dsn` (so a multi-host string with
`target_session_attrs=read-write` finds the primary, as the StorageServer
does), times one round trip, and asks the server what it is: a primary
(`pg_is_in_recovery()` false) with its standbys from
`pg_stat_replication` (each one's state, `sync_state`, the replay lag in
seconds and the WAL bytes it has not replayed yet), or a standby (its WAL
receiver's state). The lag columns of pg_stat_replication are empty for a
role that is neither superuser nor granted `pg_monitor`: the line says so.
Nothing here writes, and it gives up after CONNECT_TIMEOUT seconds.
"""

import re
import time

__all__ = ['get_database_state', 'format_database_state',
           'describe_connect_error', 'CONNECT_TIMEOUT']

CONNECT_TIMEOUT = 3

_STANDBYS = """
SELECT application_name, state, sync_state,
       extract(epoch FROM replay_lag)::float8,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8
FROM pg_stat_replication ORDER BY application_name"""


def get_database_state(dsn, timeout=CONNECT_TIMEOUT):
    """(dsn:str, timeout=CONNECT_TIMEOUT) -> dict
    {'reachable': bool, 'error': str|None, 'host', 'port', 'version',
     'role': 'primary'|'standby', 'round_trip': seconds, 'standbys':
     [{'name', 'state', 'sync_state', 'replay_lag': seconds|None,
       'lag_bytes': int|None}], 'receiver': str|None (a standby's)}"""
    state = {'reachable': False, 'error': None, 'host': None, 'port': None,
             'version': None, 'role': None, 'round_trip': None,
             'standbys': [], 'receiver': None}
    try:
        import psycopg
    except ImportError:
        state['error'] = "psycopg is not installed (pip install " \
                         "'qpd[postgresql]')"
        return state
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=timeout)
    except psycopg.Error as e:
        state['error'] = describe_connect_error(e)
        return state
    try:
        start = time.perf_counter()
        conn.execute('SELECT 1').fetchone()
        state['round_trip'] = time.perf_counter() - start
        state['reachable'] = True
        state['host'] = conn.info.host
        state['port'] = conn.info.port
        version = conn.info.server_version
        state['version'] = '%d.%d' % (version // 10000, version % 10000)
        recovering = conn.execute('SELECT pg_is_in_recovery()').fetchone()[0]
        if recovering:
            state['role'] = 'standby'
            row = conn.execute('SELECT status FROM pg_stat_wal_receiver'
                               ).fetchone()
            state['receiver'] = row[0] if row else 'not receiving'
        else:
            state['role'] = 'primary'
            for name, stream, sync, lag, behind in conn.execute(_STANDBYS):
                state['standbys'].append({
                    'name': name, 'state': stream, 'sync_state': sync,
                    'replay_lag': lag,
                    'lag_bytes': None if behind is None else int(behind)})
    except psycopg.Error as e:
        state['reachable'] = False
        state['error'] = _first_line(e)
    finally:
        conn.close()
    return state


_ATTEMPT = re.compile(r"^- host: '([^']*)', port: '([^']*)'.*failed: "
                      r"(.*)$")


def describe_connect_error(error):
    """(error:psycopg.Error) -> str: one line; for a multi-host string,
    'HOST:PORT: why' for each host tried."""
    text = str(error)
    attempts = [_ATTEMPT.match(line) for line in text.splitlines()]
    attempts = ['%s:%s: %s' % m.groups() for m in attempts if m]
    if attempts:
        return '; '.join(attempts)
    text = text.split('\n\t')[0]
    return _first_line(text)


def _first_line(error):
    text = str(error).strip() or type(error).__name__
    return ' '.join(text.splitlines()[0].split())


def _standby_text(standby):
    if standby['state'] is None:
        return ('standby %s (its state is not visible: grant pg_monitor to '
                'this role)' % (standby['name'] or '?'))
    text = 'standby %s %s (%s)' % (standby['name'] or '?', standby['state'],
                                   standby['sync_state'])
    if standby['lag_bytes'] is None:
        return text + ', lag not visible (grant pg_monitor to this role)'
    lag = standby['replay_lag']
    return text + ', replay lag %s, %d bytes behind' % (
        '0 s' if lag is None else '%.3f s' % lag, standby['lag_bytes'])


def format_database_state(state):
    """(state:dict from get_database_state) -> str: one line."""
    if not state['reachable']:
        return 'unreachable (%s)' % state['error']
    where = '%s:%s' % (state['host'], state['port'])
    text = '%s at %s (PostgreSQL %s), round trip %.2f ms' % (
        state['role'], where, state['version'], state['round_trip'] * 1000)
    if state['role'] == 'standby':
        return text + '; read-only, WAL receiver %s' % state['receiver']
    if not state['standbys']:
        return text + '; no standby'
    return text + '; ' + '; '.join(_standby_text(s)
                                   for s in state['standbys'])
