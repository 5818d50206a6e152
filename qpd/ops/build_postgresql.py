"""What a web host needs for a site on `durus_storage = 'postgresql'`:
the text `qpd build NAME` prints as postgresql-web-host.txt.

Each web host runs the site's dispatcher, workers and a StorageServer of
its own (`qpd start NAME`, under supervisord), the StorageServer on the
site's unix socket next to the workers: no TCP and no TLS on the hot
path; only the StorageServer talks to PostgreSQL, with `durus_dsn`. The
text gives, from the site's own durus_dsn: the configuration keys (and
the multi-host form with `target_session_attrs=read-write` when the dsn
names one server), a pgpass line per server the dsn names (the password
is never in slash.qpy), the one-time commands on the database server
(role, database, pg_monitor for `qpd status`'s replication lag, a
pg_hba.conf line), and how the objects get there (`qpd copy`).
"""

__all__ = ['get_postgresql_text', 'pgpass_lines', 'parse_dsn']


def parse_dsn(dsn):
    """(dsn:str) -> {key: value}: libpq's fields of a connection string
    or URI (psycopg's parser), {} when it cannot be read here."""
    try:
        from psycopg.conninfo import conninfo_to_dict
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items()}
    except Exception:       # psycopg missing, or a string libpq refuses
        return {}


def _escape(field):
    return field.replace('\\', '\\\\').replace(':', '\\:')


def pgpass_lines(dsn):
    """(dsn:str) -> [str]: the ~/.pgpass lines this dsn needs, one per
    server (host:port:dbname:user:PASSWORD; * where the dsn leaves a field
    to libpq's defaults)."""
    fields = parse_dsn(dsn)
    hosts = (fields.get('host') or 'localhost').split(',')
    ports = (fields.get('port') or '5432').split(',')
    if len(ports) == 1:
        ports = ports * len(hosts)
    dbname = fields.get('dbname') or '*'
    user = fields.get('user') or '*'
    return [':'.join(_escape(part) for part in (host, port, dbname, user))
            + ':PASSWORD' for host, port in zip(hosts, ports)]


def get_postgresql_text(site):
    """(site:Site) -> str: postgresql-web-host.txt (see the module's
    docstring)."""
    name = site.get_name()
    dsn = site.get('durus_dsn') or ''
    fields = parse_dsn(dsn)
    user = fields.get('user') or name
    dbname = fields.get('dbname') or name
    address = site.get_durus_address()
    lines = [
        "# Site %s keeps its objects in PostgreSQL (durus_storage = "
        "'postgresql')." % name,
        '# Every web host runs the dispatcher, the workers and its own '
        'StorageServer',
        '# (qpd start %s: all under supervisord). The StorageServer '
        'listens on' % name,
        '# %s, next to the workers, and only it talks to PostgreSQL.' % (
            address,),
    ]
    if not isinstance(address, str):
        lines.append(
            '# NOTE: durus_address is a TCP address: with PostgreSQL, give '
            'each web host its own StorageServer on a unix socket (unset '
            'durus_address and durus_tls).')
    lines += [
        '',
        '# 1. The same keys on every web host (sites/%s/slash.qpy, in '
        'SitePublisher.configuration):' % name,
        "durus_storage='postgresql',",
        'durus_dsn=%r,' % dsn,
    ]
    if ',' not in fields.get('host', ''):
        lines += [
            '#    With a standby, name every server, so that a StorageServer '
            'finds the',
            '#    primary by itself after a failover:',
            "#    durus_dsn='host=db1,db2 port=5432,5432 dbname=%s user=%s "
            "target_session_attrs=read-write'," % (dbname, user),
        ]
    lines += [
        '',
        '# 2. The password, never in slash.qpy: in ~/.pgpass of the user '
        'the site runs as',
        '#    (mode 0600; or the file PGPASSFILE names), one line per '
        'server:',
    ] + pgpass_lines(dsn) + [
        '',
        '# 3. Once, on the primary, as a PostgreSQL superuser:',
        '#    createuser --pwprompt %s' % user,
        '#    createdb --owner %s %s' % (user, dbname),
        "#    psql -c 'GRANT pg_monitor TO %s'    # qpd status: replication "
        "lag" % user,
        '#    pg_hba.conf: hostssl %s %s WEB-HOST-ADDRESS/32 scram-sha-256' % (
            dbname, user),
        '',
        '# 4. The objects: the tables are made at the first start; or copy '
        "the site's file in:",
        '#    qpd stop %s; qpd copy %s file postgresql; (set durus_storage) '
        'qpd start %s' % (name, name, name),
        '# Backups: pg_dump -Fc %s, or pg_basebackup with WAL archiving '
        '(point-in-time recovery).' % dbname,
    ]
    return '\n'.join(lines) + '\n'
