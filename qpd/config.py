"""qpd.config: every configuration key of a qpd site, in one table.

A site is configured by its `SitePublisher.configuration` dict. `KEYS`
below is the only place that says which keys exist: each `Key` holds the
name, the default, a `Check` (the type and range a value must have, and
how it is converted: seconds become floats, addresses are parsed by
qpd.lib.address), a one-line doc, and whether a change needs the whole
site restarted (`qpd restart NAME`: the dispatcher, the StorageServer or
supervisord's files use it) or only the workers (`qpd restart NAME
--rolling`, which loses no request). To add a key, add one `Key` here, use
it through `site.get(key)` or `publisher.get_config(key)`, and run
`python -m qpd.config --write README.md` to regenerate the README's table
(a test fails until you do). Never write a key's default anywhere else.

`check_configuration(site_name, configuration)` turns a site's dict into
the full configuration: every key, set to the site's value (checked and
converted) or the default. An unknown key is a ConfigurationError naming
the nearest known key, since a misspelled key would otherwise be silently
ignored; a bad value is one naming the value and what is expected. Keys
that start with `site_` are the site's own: qpd keeps them as they are and
never reads them. Defaults that depend on the site (paths under its var
directory, the session cookie's name, the realm) are None here, with the
README text in `shown`; Site and the publisher fill them in.

Values that front ends and supervisord need are not keys: they are derived
from the keys they depend on by the functions in `DERIVED` (for example
nginx waits `queue_timeout + request_timeout` plus a margin for a response,
so qpd's own 504 always comes first).

This module sits low, just above qpd.lib: Site, the framework (the
publisher reads its keys' defaults here), the process server and the
commands all import it, and it imports none of them.
"""

import difflib
import math
import os
import re
import sys

from qpd.lib.address import (format_address, is_loopback, parse_address,
                              parse_network)

__all__ = [
    'ConfigurationError', 'Check', 'Key', 'KEYS', 'SCHEMA', 'SITE_PREFIX',
    'Derived', 'DERIVED', 'get_defaults', 'check_configuration',
    'check_value', 'get_front_end_timeout', 'get_front_end_body_size',
    'get_stop_wait', 'render_markdown', 'replace_table', 'integer',
    'seconds', 'boolean', 'text', 'optional', 'address', 'path', 'url_path',
    'cookie_name', 'smtp_server', 'choice', 'host_list', 'host_roles',
    'ROLES', 'check_durus_transport', 'check_front_end_listeners',
    'networks', 'check_durus_storage', 'Refused', 'dsn', 'find_dsn_password',
    'MAX_HEAD_SIZE',
    'MAX_PREREAD_BODY_SIZE', 'LIMIT_KEYS',
]

SITE_PREFIX = 'site_'

# What fits one message on the dispatcher's SOCK_SEQPACKET worker socket
# (qpd.server.fdpass.MAX_MESSAGE is 256 KiB): the ceilings of the request
# head and of the body bytes passed along with it.
MAX_HEAD_SIZE = 65536
MAX_PREREAD_BODY_SIZE = 131072


class ConfigurationError(Exception):
    """A site's configuration cannot work. str() is one line naming the
    site, the key and the fix."""

    def __init__(self, site_name, key, problem, fix):
        self.site_name = site_name
        self.key = key
        self.problem = problem
        self.fix = fix
        Exception.__init__(self, 'site %s: %s %s; %s' % (
            site_name, key, problem, fix))


# Checks ------------------------------------------------------------------

class Check:
    """(expects:str, convert)
    A value's type and range: `expects` says what is accepted ('an integer
    from 1 to 65536'), for errors and docs; convert(value) returns the value
    qpd uses, or raises ValueError when value is not accepted."""

    def __init__(self, expects, convert):
        self.expects = expects
        self.convert = convert

    def __call__(self, value):
        return self.convert(value)

    def __repr__(self):
        return '<Check %s>' % self.expects


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _range_text(noun, low, high):
    if high is None:
        return '%s >= %s' % (noun, low)
    return '%s from %s to %s' % (noun, low, high)


def integer(low=0, high=None):
    """(low:int=0, high:int=None) -> Check: an int (or a float with an
    integral value) from low to high."""
    def convert(value):
        if not _is_number(value) or value != int(value):
            raise ValueError
        value = int(value)
        if value < low or (high is not None and value > high):
            raise ValueError
        return value
    return Check(_range_text('an integer', low, high), convert)


def seconds(low=0):
    """(low:float=0) -> Check: a number of seconds >= low, as a float."""
    def convert(value):
        if not _is_number(value) or not value >= low:
            raise ValueError
        return float(value)
    return Check(_range_text('a number of seconds', low, None), convert)


def boolean():
    """() -> Check: True or False."""
    def convert(value):
        if not isinstance(value, bool):
            raise ValueError
        return value
    return Check('True or False', convert)


def text():
    """() -> Check: a str."""
    def convert(value):
        if not isinstance(value, str):
            raise ValueError
        return value
    return Check('a str', convert)


def optional(check):
    """(check:Check) -> Check: None, or what check accepts."""
    def convert(value):
        return None if value is None else check(value)
    return Check(check.expects + ', or None', convert)


def address():
    """() -> Check: ('host', port), 'host:port', a port number or a unix
    socket path; None (or '') for off. Parsed by parse_address."""
    def convert(value):
        try:
            return parse_address(value)
        except ValueError:
            raise ValueError from None
    return Check("('host', port), 'host:port', a port number, a socket "
                 "path, or None for off", convert)


def loopback_address():
    """() -> Check: ('host', port) or 'host:port' on a loopback host, or
    None for off."""
    def convert(value):
        try:
            value = parse_address(value)
        except ValueError:
            raise ValueError from None
        if value is not None and not (isinstance(value, tuple)
                                      and is_loopback(value)):
            raise ValueError
        return value
    return Check("('127.0.0.1', port) (a loopback host), or None for off",
                 convert)


def path():
    """() -> Check: a file path (str or os.PathLike), or None for the
    site's default; Site makes it absolute."""
    def convert(value):
        if value is None or value == '':
            return None
        if not isinstance(value, (str, os.PathLike)):
            raise ValueError
        value = os.fspath(value)
        if not isinstance(value, str):
            raise ValueError
        return value
    return Check('a file path (str), or None for the default', convert)


def url_path():
    """() -> Check: '' or a URL path starting with '/'; a trailing '/' is
    dropped."""
    def convert(value):
        if not isinstance(value, str) or (value and value[0] != '/'):
            raise ValueError
        return value.rstrip('/')
    return Check("'' or a URL path starting with '/'", convert)


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


def cookie_name():
    """() -> Check: a cookie name (an HTTP token), or None."""
    def convert(value):
        if value is None:
            return None
        if not isinstance(value, str) or not _TOKEN.match(value):
            raise ValueError
        return value
    return Check('a cookie name (letters, digits, - and _), or None',
                 convert)


def smtp_server():
    """() -> Check: 'host', 'host:port', (host, port), an object with an
    smtplib-style sendmail() method, or None."""
    def convert(value):
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (tuple, list)):
            if (len(value) == 2 and isinstance(value[0], str)
                    and isinstance(value[1], int)
                    and not isinstance(value[1], bool)):
                return tuple(value)
            raise ValueError
        if callable(getattr(value, 'sendmail', None)):
            return value
        raise ValueError
    return Check("'host', 'host:port', (host, port), an object with "
                 "sendmail(), or None", convert)


class Refused(ValueError):
    """(problem:str, fix:str) A value a check refuses with its own words,
    for values that must not be echoed (a password in a connection
    string)."""

    def __init__(self, problem, fix):
        ValueError.__init__(self, problem)
        self.problem = problem
        self.fix = fix


def find_dsn_password(dsn):
    """(dsn:str) -> bool: does the libpq connection string (key=value
    words or a postgresql:// URI) carry a password?"""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:     # without psycopg, a plain look for the word
        conninfo_to_dict = None
    if conninfo_to_dict is not None:
        try:
            return 'password' in conninfo_to_dict(dsn)
        except Exception:
            pass
    if re.match(r'postgres(ql)?://[^/@]*:[^/@]*@', dsn):
        return True
    return re.search(r'(^|\s|[?&])password\s*=', dsn) is not None


def dsn():
    """() -> Check: None, or a libpq connection string (`host=... dbname=...`
    or a postgresql:// URI) or a bare service name (from pg_service.conf,
    made `service=NAME`), without a password."""
    def convert(value):
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError
        value = value.strip()
        if '=' not in value and '://' not in value:
            if not re.match(r'[A-Za-z0-9_.-]+\Z', value):
                raise ValueError
            value = 'service=%s' % value
        if find_dsn_password(value):
            raise Refused(
                'holds a password (not shown)',
                'remove it: put it in the server user\'s ~/.pgpass '
                '(mode 0600) or PGPASSFILE, or in PGPASSWORD')
        return value
    return Check("a libpq connection string ('host=/run/postgresql "
                 "dbname=NAME'), a postgresql:// URI or a service name, "
                 "without a password", convert)


def choice(*values):
    """(*values) -> Check: one of values."""
    def convert(value):
        if value not in values:
            raise ValueError
        return value
    return Check('one of %s' % ', '.join(repr(v) for v in values), convert)


def host_list():
    """() -> Check: None, or a list of host names (without port; a leading
    '.' for a domain and its subdomains, '*' for any), kept lower case."""
    def convert(value):
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError
        hosts = []
        for item in value:
            if (not isinstance(item, str) or not item
                    or any(c.isspace() or c == '/' for c in item)):
                raise ValueError
            hosts.append(item.lower())
        return tuple(hosts)
    return Check("None, or a list of host names such as "
                 "['www.example.com', '.example.org']", convert)


def networks():
    """() -> Check: None, or a list of IP addresses and CIDR networks
    ('127.0.0.1', '10.0.0.0/8', '::1') and 'unix' (a unix socket
    listener's peer), as a tuple of ipaddress networks
    (qpd.lib.address.parse_network); None is the empty tuple."""
    def convert(value):
        if value is None:
            return ()
        if isinstance(value, str) or not isinstance(value, (list, tuple)):
            raise ValueError
        return tuple(parse_network(item) for item in value)
    return Check("None, or a list of addresses and networks such as "
                 "['127.0.0.1', '10.0.0.0/8'] ('unix': a unix socket "
                 "listener's peer)", convert)


ROLES = ('storage', 'web')


def host_roles():
    """() -> Check: None, or a dict {host name: [role, ...]} with roles
    from ROLES and exactly one host running 'storage'; roles become
    tuples."""
    def convert(value):
        if value is None:
            return None
        if not isinstance(value, dict) or not value:
            raise ValueError
        result = {}
        for host, roles in value.items():
            if (not isinstance(host, str) or not host
                    or isinstance(roles, str)
                    or not isinstance(roles, (list, tuple)) or not roles
                    or any(role not in ROLES for role in roles)):
                raise ValueError
            result[host] = tuple(roles)
        if sum('storage' in roles for roles in result.values()) != 1:
            raise ValueError
        return result
    return Check("None, or {host: [roles]} with roles from %s and one "
                 "storage host" % ', '.join(repr(r) for r in ROLES), convert)


def check_durus_storage(site_name, config):
    """(site_name:str, config:dict) -> None: durus_storage='postgresql'
    needs durus_dsn."""
    if config['durus_storage'] == 'postgresql' and not config['durus_dsn']:
        raise ConfigurationError(
            site_name, 'durus_dsn', "is not set, and durus_storage is "
            "'postgresql'", "set durus_dsn='host=/run/postgresql "
            "dbname=%s' (a libpq string or a service name)" % site_name)


def check_durus_transport(site_name, config):
    """(site_name:str, config:dict) -> None: refuse a plain-TCP
    durus_address, loopback included (unless durus_tls, or the loud opt-in
    durus_allow_insecure_plain_tcp, is set), and a unix socket for a site
    whose hosts are several. Whoever can write to the StorageServer runs
    code in every worker that unpickles what they stored: on loopback that
    is any local user, beyond it anyone who reaches the port; the unix
    socket (mode 0600, in a directory only the site's user enters) admits
    the site's user only."""
    address = config['durus_address']
    hosts = config['hosts']
    if isinstance(address, tuple):
        if config['durus_tls'] or config['durus_allow_insecure_plain_tcp']:
            return
        if is_loopback(address):
            problem = ('is plain TCP on loopback, so any local user can run '
                       "code as the site's user")
            fix = ('remove durus_address (the default is a unix socket, '
                   'var/durus.sock, that only the site\'s user reaches), or '
                   'set durus_tls=True (certificates: qpd certs %s)'
                   % site_name)
        else:
            problem = ('is plain TCP beyond this machine, so whoever '
                       'reaches it can run code in every worker')
            fix = 'set durus_tls=True (certificates: qpd certs %s)' % (
                site_name,)
        raise ConfigurationError(
            site_name, 'durus_address', '%s %s' % (
                format_address(address), problem),
            '%s, or durus_allow_insecure_plain_tcp=True to take that risk'
            % fix)
    elif hosts is not None and len(hosts) > 1:
        raise ConfigurationError(
            site_name, 'durus_address',
            'is a unix socket, which hosts %s cannot share' % ', '.join(
                sorted(hosts)),
            "set durus_address=('STORAGE-HOST', 2972) and durus_tls=True")


def check_front_end_listeners(site_name, config):
    """(site_name:str, config:dict) -> None: refuse an scgi_address or
    as_https_address beyond loopback unless front_end_beyond_loopback is
    set. Whoever connects to SCGI names the client's address and says
    whether it came over https; whatever connects to as_https_address is
    taken for https: on a public address any client could say so."""
    if config['front_end_beyond_loopback']:
        return
    for name in ('scgi_address', 'as_https_address'):
        address = config[name]
        if address is not None and not is_loopback(address):
            raise ConfigurationError(
                site_name, name, '%s is beyond loopback, so any client '
                'that reaches it can pose as a front end (its address, '
                'https)' % format_address(address),
                "set %s=('127.0.0.1', %s) (or a unix socket), or "
                'front_end_beyond_loopback=True when a firewall lets only '
                'the front end in' % (name, address[1]))


# The keys ----------------------------------------------------------------

class Key:
    """(name:str, default, check:Check, doc:str, restart:bool=True,
        shown:str=None, example=None, limit:bool=False)
    One configuration key. restart: does a change need `qpd restart NAME`
    (True), or does `qpd restart NAME --rolling` apply it (False: only the
    workers read it)? shown: the README's default column when the default
    is computed by Site or the publisher (default None). example: a value
    for error messages when the default is None. limit: a request limit,
    one of `LIMIT_KEYS` that the dispatcher and the request parser read
    together (qpd.server.protocol.get_limits)."""

    def __init__(self, name, default, check, doc, restart=True, shown=None,
                 example=None, limit=False):
        self.name = name
        self.default = default
        self.check = check
        self.doc = doc
        self.restart = restart
        self.shown = shown
        self.example = example
        self.limit = limit

    def __repr__(self):
        return '<Key %s>' % self.name

    def get_default(self):
        """() -> the default, converted as a site's value would be."""
        return self.check(self.default)

    def get_example(self):
        """() -> str: a value to suggest in an error message."""
        if self.example is not None:
            return self.example
        return repr(self.default)

    def format_default(self):
        """() -> str: the default as the README shows it."""
        if self.shown is not None:
            return self.shown
        return '`%r`' % (self.default,)


KEYS = [
    # Addresses.
    Key('http_address', ('127.0.0.1', 8000), address(),
        'where the dispatcher accepts HTTP'),
    Key('scgi_address', None, address(),
        'where the dispatcher accepts SCGI (from nginx, Apache, lighttpd, '
        'cgi2scgi)', shown='off', example="('127.0.0.1', 8001)"),
    Key('as_https_address', None, address(),
        'plain HTTP that the site treats as HTTPS (behind stunnel or a TLS '
        'proxy)', shown='off', example="('127.0.0.1', 8002)"),
    Key('https_address', None, address(),
        'where that TLS proxy listens; used to build https URLs',
        shown='off', example="('0.0.0.0', 443)"),
    Key('durus_address', None, address(),
        'the StorageServer; a `(host, port)` puts it on TCP',
        shown='`var/durus.sock` (mode 0600)',
        example="'/srv/NAME/var/durus.sock'"),
    # Files.
    Key('durus_file', None, path(), 'the database file',
        shown='`var/NAME.durus`', example="'NAME.durus'"),
    Key('durus_cache_size', 10000, integer(1),
        'objects each worker keeps in its Durus cache', restart=False),
    Key('durus_tls', False, boolean(),
        'speak mutual TLS to the StorageServer (TLS 1.2 or newer, both '
        'ends show a certificate of the site\'s own CA): needed for a '
        '`durus_address` beyond loopback; see `qpd certs NAME`'),
    Key('durus_tls_directory', None, path(),
        "this host's TLS files: `ca.pem` (the site's CA), `host.pem` and "
        '`host.key` (this host\'s certificate and key)',
        shown='`var/tls`', example="'/etc/qpd/NAME'"),
    Key('durus_allow_insecure_plain_tcp', False, boolean(),
        'accept a plain-TCP `durus_address` (loopback included): ANYONE '
        'WHO REACHES IT, ANY LOCAL USER ON LOOPBACK, CAN RUN CODE IN EVERY '
        'WORKER (use the default unix socket, or `durus_tls`)'),
    Key('hosts', None, host_roles(),
        "which host runs what when the site spans machines: "
        "`{'store': ['storage'], 'web1': ['web'], …}` (storage: "
        '`NAME:durus`; web: the dispatcher and workers); this host is '
        '`$QPD_HOST`, else its host name; `None`: this host runs both',
        example="{'store': ['storage'], 'web1': ['web']}"),
    Key('durus_storage', 'file', choice('file', 'postgresql'),
        "where the StorageServer keeps the site's objects: `'file'`, one "
        "Durus file on this host, or `'postgresql'`, the database "
        '`durus_dsn` names, which several StorageServers (one per web host) '
        'can share; its tables are made at the first start'),
    Key('durus_dsn', None, dsn(),
        "the PostgreSQL database of `durus_storage='postgresql'`: a libpq "
        'connection string or a service name; never a password (use the '
        'server user\'s ~/.pgpass or PGPASSWORD)',
        example="'host=/run/postgresql dbname=NAME'"),
    Key('durus_sync', True, boolean(),
        'sync each commit to disk before the StorageServer acknowledges it '
        '(off only for scratch sites: a crash can lose acknowledged '
        'commits)'),
    # Processes.
    Key('max_children', 4, integer(1), 'the number of workers'),
    Key('max_requests', 0, integer(0),
        'requests after which a worker leaves and a fresh one takes its '
        'place, as in a rolling restart (0: never)', restart=False),
    Key('max_requests_jitter', 0, integer(0),
        'up to this many requests more, spread over the workers by index '
        'and drawn again for each worker, so that they seldom reach '
        '`max_requests` together (the dispatcher lets one leave at a '
        'time)', restart=False),
    Key('max_worker_memory', 0, integer(0),
        'bytes of resident memory after which a worker leaves once the '
        'request that crossed it is answered (checked between requests; '
        '0: never)', restart=False),
    Key('script_name', '', url_path(),
        'URL prefix when the site is not at the root', example="'/app'"),
    Key('var_directory', None, path(), 'database, sockets and logs',
        shown='`sites/NAME/var`', example="'/srv/NAME/var'"),
    Key('static_directory', None, path(), 'static files',
        shown='`sites/NAME/static`', restart=False,
        example="'/srv/NAME/static'"),
    Key('logfile', None, path(), "the site's log (hits, errors)",
        shown='`var/site.log`', restart=False, example="'site.log'"),
    Key('banned', None, path(),
        'addresses and CIDR networks to refuse (403), one per line',
        shown='`var/banned`', example="'banned'"),
    # The nginx front of several web hosts (`qpd build NAME --hosts ...`).
    Key('upstream_connect_timeout', 2, seconds(0.001),
        'seconds nginx gives a web host to accept a connection before it '
        'tries the next one'),
    Key('upstream_max_fails', 1, integer(0),
        'failed attempts after which nginx leaves a web host out for '
        '`upstream_fail_timeout` (0: never)'),
    Key('upstream_fail_timeout', 10, seconds(1),
        'seconds a failing web host is left out before nginx tries it '
        'again'),
    Key('upstream_keepalive', 16, integer(0),
        'idle keep-alive connections each nginx worker keeps to the web '
        'hosts (HTTP; SCGI closes each connection)'),
    # Requests: read by the dispatcher (qpd.server.protocol's limits).
    Key('header_timeout', 10, seconds(),
        'seconds a client has to send a request head (else 408)', limit=True),
    Key('body_timeout', 30, seconds(),
        'seconds a client has to send the body it announced', limit=True),
    Key('keepalive_timeout', 15, seconds(),
        'seconds an idle keep-alive connection is kept open (the worker '
        'that answered polls it for a quarter second, never blocking on '
        'it; then the dispatcher waits)', limit=True),
    Key('max_head_size', 32768, integer(1, MAX_HEAD_SIZE),
        'bytes of request line and headers (else 431; at most %d)'
        % MAX_HEAD_SIZE, limit=True),
    Key('max_target_size', 8192, integer(1),
        'bytes of request target (else 414)', limit=True),
    Key('max_body_size', 20971520, integer(0),
        'bytes of request body (else 413)', limit=True),
    Key('preread_body_size', 65536, integer(0, MAX_PREREAD_BODY_SIZE),
        'a body up to this size goes to the worker with the request (at '
        'most %d); a '
        'longer one is first read whole by the dispatcher into a temporary '
        'file in the var directory, so a slow upload never ties up a '
        'worker' % MAX_PREREAD_BODY_SIZE, limit=True),
    Key('max_spool_size', 268435456, integer(0),
        'bytes of such bodies the dispatcher holds at once; past it, a '
        'worker reads the rest of a body itself', limit=True),
    Key('queue_length', 256, integer(0),
        'requests that may wait for a free worker (past it: 503 with '
        'Retry-After)', limit=True),
    Key('queue_timeout', 30, seconds(),
        'seconds a request may wait for a free worker (else 503)', limit=True),
    Key('retry_after', 5, integer(0), 'the Retry-After of those 503s',
        limit=True),
    Key('request_timeout', 120, seconds(),
        'seconds a worker may spend on one request; then its stack is '
        'dumped to the log, it is killed, and the client gets 504',
        limit=True),
    Key('send_timeout', 60, seconds(),
        'seconds a client may take nothing of a response before the '
        'connection is closed (a worker, or the dispatcher sending a file, '
        'gives up on it)', limit=True),
    Key('unix_socket_group', None, optional(text()),
        'the group (such as the front end\'s, `www-data`) that may connect '
        'to a listener on a unix socket path (mode 0660); `None`: only the '
        "site's user (0600)", example="'www-data'"),
    Key('handoff_size', 65536, integer(0),
        'a response whose body is a file (a static file) of at least this '
        'many bytes is passed to the dispatcher, which sends it '
        '(sendfile): the worker is free at once, and a client that reads '
        'slowly, or not at all, never holds one', restart=False),
    Key('shutdown_timeout', 20, seconds(),
        'seconds SIGTERM lets requests in flight finish', limit=True),
    # The publisher: read by the workers only.
    Key('max_retries', 10, integer(0),
        'times a hit is retried after a Durus conflict or a lost storage '
        'connection (then 503); after 3 conflicts (or max_retries, if '
        'fewer) a worker takes the write turn, and wins', restart=False),
    Key('retry_delay', 0.001, seconds(),
        'the first retry runs at once; later ones wait this long, doubled '
        'each time up to 0.05 s, with jitter', restart=False),
    Key('coalesce_syncs', True, boolean(),
        'a worker syncs with the StorageServer once for all the requests '
        'that had arrived when the sync began, not once per hit: every hit '
        'still sees every commit acknowledged before its request arrived '
        '(off: a sync at the start of every hit, as in QP)', restart=False),
    Key('slow_hit_seconds', 1.0, optional(seconds()),
        'a hit that takes this long or longer, from its arrival to its '
        "last byte sent, gets a line in the worker's log saying where the "
        'time went (waiting for the worker, syncs, application, commits, '
        'retries, sending, garbage collection); `None`: no such lines',
        restart=False, example='0.05'),
    Key('reconnect_wait', 10, seconds(),
        'seconds a worker keeps trying to reach a restarting StorageServer',
        restart=False),
    Key('session_cookie_name', None, cookie_name(), 'the session cookie',
        shown='`NAME_session`', restart=False, example="'demo_session'"),
    Key('session_idle_timeout', 604800, seconds(),
        'seconds of idleness after which a session expires (7 days)',
        restart=False),
    Key('session_cleanup_interval', 3600, seconds(),
        'seconds between sweeps of expired sessions', restart=False),
    Key('session_cookie_max_age', None, optional(integer(0)),
        '`None`: the cookie ends with the browser session', shown='`None`',
        restart=False, example='86400'),
    Key('realm', None, optional(text()),
        'realm of password digests and HTTP authentication',
        shown='the site name', restart=False, example="'Example'"),
    Key('digest_nonce_lifetime', 300, seconds(),
        'seconds an HTTP Digest nonce stays valid', restart=False),
    Key('display_exceptions', False, boolean(),
        'show tracebacks on the 500 page (development only)',
        restart=False),
    Key('email_enabled', False, boolean(),
        'send mail at all (error reports, `Email.send()`)', restart=False),
    Key('smtp_server', 'localhost', smtp_server(), 'where mail goes',
        restart=False),
    Key('webmaster_address', None, optional(text()),
        "the From of the site's mail", restart=False,
        shown="`'webmaster@'` and the host's name",
        example="'webmaster@example.com'"),
    Key('administrator_address', None, optional(text()),
        'who gets error reports', shown='the webmaster', restart=False,
        example="'admin@example.com'"),
    Key('debug_address', None, optional(text()),
        'when set, every message goes here instead', restart=False,
        example="'me@example.com'"),
    # Hardening (see the README's security section).
    Key('allowed_hosts', None, host_list(),
        'the host names the site answers to (a request with another '
        '`Host` gets 400, so redirects and absolute URLs are built from '
        'an allowed name); a leading dot allows subdomains; `None` '
        'allows any but trusts none: absolute URLs then come from the '
        'configured `http_address`/`https_address` name and redirects are '
        'site-relative (`qpd new` sets loopback names)', restart=False,
        example="['www.example.com', 'localhost']"),
    Key('trusted_proxies', None, networks(),
        'the front ends (addresses or CIDR networks, such as nginx on '
        "`['127.0.0.1']`; `'unix'`: whatever connects to a unix socket "
        'listener) whose `X-Forwarded-For` and '
        '`X-Forwarded-Proto` are believed: the client address is then the '
        'rightmost one not of a trusted proxy (sign-in throttling, '
        '`banned`, the log and `--debug` use it) and the scheme is the '
        "proxy's (Secure cookies behind TLS); `None`: no one's, the peer "
        'address is the client', restart=False,
        example="['127.0.0.1']"),
    Key('front_end_beyond_loopback', False, boolean(),
        'accept an `scgi_address` or `as_https_address` beyond loopback '
        '(a front end on another host): whoever reaches it names the '
        "client's address and https, so let only the front end in"),
    Key('frame_options', 'DENY', optional(choice('DENY', 'SAMEORIGIN')),
        'the `X-Frame-Options` of HTML responses (with the matching CSP '
        '`frame-ancestors`): framing by other sites is refused; `None` '
        'sends neither', restart=False),
    Key('form_token_lifetime', 86400, seconds(1),
        'seconds a stateless form token (of a visitor without a stored '
        'session) stays good', restart=False),
    Key('sign_in_free_failures', 5, integer(0),
        'failed sign-ins per user id and per client address before each '
        'attempt must wait (429 with Retry-After)', restart=False),
    Key('sign_in_max_delay', 60, seconds(1),
        'the longest such wait, in seconds (the wait doubles per failure); '
        'also the longest an attacker can keep a user waiting',
        restart=False),
    Key('http_digests', None, optional(boolean()),
        'store the password-equivalent digests (MD5, SHA-256, for the '
        "site's realm) HTTP Digest sign-in needs when a password is set; "
        "`None`: when the SitePublisher's `ensure_signed_in` uses Digest "
        "(as QP's sites do)", shown='`None`', restart=False,
        example='False'),
    Key('plain_http_authentication', False, boolean(),
        'allow HTTP Basic and Digest sign-in over plain http (else they '
        'need https)', restart=False),
    # Operations.
    Key('metrics_address', None, loopback_address(),
        'where the dispatcher serves `qpd metrics` over HTTP (Prometheus '
        'text format; loopback only); off by default',
        example="('127.0.0.1', 9100)"),
    Key('access_log_format', 'combined', choice('combined', 'json', 'off'),
        "the site log's hit lines: Combined Log Format, one JSON object "
        "per line, or 'off' for none (errors and slow hits are still "
        'logged)', restart=False),
]

SCHEMA = {key.name: key for key in KEYS}

# The request limits (Key.limit): what the dispatcher and the request
# parser read, as qpd.server.protocol.get_limits(site).
LIMIT_KEYS = tuple(key.name for key in KEYS if key.limit)


def get_defaults():
    """() -> dict: every key's default (None where Site computes it)."""
    return {key.name: key.get_default() for key in KEYS}


def check_value(site_name, name, value):
    """(site_name:str, name:str, value) -> the value qpd uses for key name.
    Raises ConfigurationError naming the site, the key, the value and what
    is expected, or, for an unknown key, the nearest known one."""
    key = SCHEMA.get(name)
    if key is None:
        if isinstance(name, str) and name.startswith(SITE_PREFIX):
            return value
        raise _unknown(site_name, name)
    try:
        return key.check(value)
    except Refused as e:
        raise ConfigurationError(site_name, name, e.problem, e.fix) from None
    except (ValueError, TypeError):
        raise ConfigurationError(
            site_name, name, 'is %r, not %s' % (value, key.check.expects),
            'set it like %s=%s' % (name, key.get_example())) from None


def _unknown(site_name, name):
    if not isinstance(name, str):
        return ConfigurationError(
            site_name, repr(name), 'is not a configuration key',
            'keys are str')
    close = difflib.get_close_matches(name, list(SCHEMA), n=1)
    if close:
        fix = 'did you mean %s?' % close[0]
    else:
        fix = ("see the README's table of keys (a site's own keys start "
               "with %r)" % SITE_PREFIX)
    return ConfigurationError(site_name, name, 'is not a configuration key',
                              fix)


def check_configuration(site_name, configuration):
    """(site_name:str, configuration:dict) -> dict
    Every key of the schema, set to the site's value (checked and converted)
    or the default, plus the site's own `site_` keys as they are. Raises
    ConfigurationError on the first unknown key or bad value."""
    if not isinstance(configuration, dict):
        raise ConfigurationError(
            site_name, 'configuration', 'is not a dict',
            'set SitePublisher.configuration = dict(...)')
    result = get_defaults()
    for name, value in configuration.items():
        result[name] = check_value(site_name, name, value)
    check_durus_transport(site_name, result)
    check_front_end_listeners(site_name, result)
    check_durus_storage(site_name, result)
    return result


# Derived values ----------------------------------------------------------

FRONT_END_MARGIN = 10   # seconds
STOP_MARGIN = 10        # seconds


def get_front_end_timeout(config):
    """(config:dict) -> int: seconds a front end (nginx's scgi_read_timeout
    and proxy_read_timeout, Apache's ProxyPass timeout) waits for a
    response: queue_timeout + request_timeout + a margin, so that the
    client gets qpd's 503 or 504 rather than the front end's."""
    return math.ceil(config['queue_timeout'] + config['request_timeout']
                     + FRONT_END_MARGIN)


def get_front_end_body_size(config):
    """(config:dict) -> int: the largest request body a front end lets
    through (nginx's client_max_body_size): max_body_size."""
    return config['max_body_size']


def get_stop_wait(config):
    """(config:dict) -> int: seconds supervisord lets a process stop
    before it kills it (stopwaitsecs): the longer of request_timeout and
    shutdown_timeout, plus a margin."""
    return math.ceil(max(config['request_timeout'],
                         config['shutdown_timeout']) + STOP_MARGIN)


class Derived:
    """(name:str, function, formula:str)
    A value qpd writes for another program, computed from keys."""

    def __init__(self, name, function, formula):
        self.name = name
        self.function = function
        self.formula = formula


DERIVED = [
    Derived("nginx `scgi_read_timeout`, `proxy_read_timeout`; Apache's "
            "`ProxyPass … timeout`", get_front_end_timeout,
            '`queue_timeout + request_timeout + %d`' % FRONT_END_MARGIN),
    Derived('nginx `client_max_body_size`', get_front_end_body_size,
            '`max_body_size`'),
    Derived('supervisord `stopwaitsecs`', get_stop_wait,
            '`max(request_timeout, shutdown_timeout) + %d`' % STOP_MARGIN),
]


# The README's table ------------------------------------------------------

BEGIN_MARKER = ('<!-- configuration keys: generated by '
                '`python -m qpd.config --markdown`; do not edit -->')
END_MARKER = '<!-- end of configuration keys -->'


def render_markdown():
    """() -> str: the README's table of keys and of derived values,
    between its markers."""
    defaults = get_defaults()
    lines = [
        BEGIN_MARKER,
        '',
        '| key | default | applied by | meaning |',
        '| --- | --- | --- | --- |']
    for key in KEYS:
        lines.append('| `%s` | %s | %s | %s |' % (
            key.name, key.format_default(),
            '`restart`' if key.restart else '`--rolling`', key.doc))
    lines.extend([
        '',
        '"applied by": `restart` keys are read by the dispatcher, the '
        'StorageServer or supervisord, so a change takes `qpd restart NAME`; '
        '`--rolling` keys are read by the workers only, so '
        '`qpd restart NAME --rolling` applies them without failing a '
        'request.',
        '',
        'Values qpd writes for other programs are derived from the keys:',
        '',
        '| value | from | default |',
        '| --- | --- | --- |'])
    for derived in DERIVED:
        lines.append('| %s | %s | `%s` |' % (
            derived.name, derived.formula, derived.function(defaults)))
    lines.extend(['', END_MARKER])
    return '\n'.join(lines) + '\n'


def replace_table(text):
    """(text:str) -> str: text (the README) with what lies between the
    markers, markers included, replaced by render_markdown()."""
    begin = text.index(BEGIN_MARKER)
    end = text.index(END_MARKER, begin) + len(END_MARKER)
    if text[end:end + 1] == '\n':
        end += 1
    return text[:begin] + render_markdown() + text[end:]


def main(argv):
    """(argv:[str]) -> int: `python -m qpd.config --markdown` prints the
    README's table; `python -m qpd.config --write README.md` replaces it
    in that file."""
    if argv == ['--markdown']:
        sys.stdout.write(render_markdown())
        return 0
    if len(argv) == 2 and argv[0] == '--write':
        with open(argv[1]) as f:
            text = f.read()
        with open(argv[1], 'w') as f:
            f.write(replace_table(text))
        return 0
    sys.stderr.write('usage: python -m qpd.config --markdown | '
                     '--write README.md\n')
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
