"""The `qpd` subcommands that operate sites: one function per subcommand.

The rows of qpd.ops.subcommands.COMMANDS name them and declare their
arguments. Each takes the argparse namespace made by qpd.cli from that
table and returns an exit status: 0 done, 1 an operation failed (OperationError), 2 a mistake on the
command line or in a configuration (UsageError, ConfigurationError), 3 from
`status` when a site that should run does not.
"""

import os
import sys

from qpd.ops.errors import OperationError, UsageError
from qpd.ops.lifecycle import (START_TIMEOUT, describe, in_start_order,
                               rolling_restart, stop_dispatcher_first,
                               wait_until_ready)
from qpd.ops.progress import Progress, say as _say
from qpd.ops.supervisor import Supervisor, get_program_names
from qpd.site import (Site, ConfigurationError, list_site_names,
                      check_sites, format_address)

__all__ = ['new', 'list_sites', 'start', 'stop', 'restart', 'status', 'show',
           'certs', 'describe_storage', 'metrics', 'deploy', 'rollback',
           'log', 'shell', 'pack', 'check', 'backup', 'shutdown', 'build',
           'demo', 'port', 'migrate']


def _usage(message):
    return UsageError(message)


def _named_sites(args, default_names=None):
    """(args, default_names:[str]=None) -> [Site]: the sites named on the
    command line (each must exist), else those of default_names, else
    every site of the home."""
    names = list(getattr(args, 'names', None) or [])
    if names:
        for name in names:
            site = Site(name, args.home)
            if not site.exists():
                raise _usage('no site %s in %s (see "qpd list", or create '
                             'it with "qpd new %s")' % (
                                 name, os.path.join(args.home, 'sites'),
                                 name))
    else:
        names = (default_names if default_names is not None
                 else list_site_names(args.home))
    return [Site(name, args.home) for name in names]


def _one_site(args):
    site = Site(args.name, args.home)
    if not site.exists():
        raise _usage('no site %s in %s (see "qpd list", or create it with '
                     '"qpd new %s")' % (
                         args.name, os.path.join(args.home, 'sites'),
                         args.name))
    _check_site(site)
    return site


def _check_site(site):
    """(site:Site) -> None: a ConfigurationError now, in one line, rather
    than in a process that supervisord starts."""
    try:
        site.get_configuration()
        site.get_root_directory_class()
    except ConfigurationError:
        raise
    except Exception as e:
        import traceback
        lines = traceback.format_exception(e)
        raise OperationError(
            'site %s: its slash module fails to import: %s: %s' % (
                site.get_name(), type(e).__name__, e),
            [line.rstrip('\n') for line in lines[-6:]])


# new, list, show -----------------------------------------------------------

def new(args):
    """qpd new NAME [--force] [--port N]: copy the proto site to
    sites/NAME with free loopback ports."""
    from qpd.ops.newsite import create_site, FIRST_PORT
    try:
        site = create_site(args.name, args.home,
                           force=getattr(args, 'force', False),
                           first_port=getattr(args, 'port', None)
                           or FIRST_PORT)
    except FileExistsError as e:
        raise _usage('site %s exists in %s (use --force to replace it)'
                     % (args.name, e))
    except FileNotFoundError as e:
        raise OperationError(str(e))
    addresses = ', '.join('%s %s' % (key.replace('_address', ''),
                                     format_address(address))
                          for key, address in site.get_listening_addresses())
    _say('created site %s in %s (%s)' % (
        site.get_name(), site.get_package_directory(), addresses))
    _say('start it with: qpd start %s' % site.get_name())
    return 0


def _is_started(supervisor, name):
    return name in supervisor.get_site_names()


def list_sites(args):
    """qpd list: each site of the home, whether it runs, and its URL."""
    supervisor = Supervisor(args.home)
    names = list_site_names(args.home)
    if not names:
        _say('no sites in %s; create one with "qpd new NAME"' % args.home)
        return 0
    groups = supervisor.get_group_names() if supervisor.is_running() else []
    for name in names:
        try:
            site = Site(name, args.home)
            url = site.get_base_url() or format_address(
                site.get_scgi_address())
        except ConfigurationError as e:
            _say('%-16s broken   %s' % (name, e))
            continue
        state = 'running' if name in groups else 'stopped'
        _say('%-16s %-8s %s' % (name, state, url))
    return 0


def show(args):
    """qpd show NAME: the site's configuration, paths and files."""
    site = _one_site(args)
    supervisor = Supervisor(args.home)
    config = site.get_configuration()
    _say('site %s' % site.get_name())
    _say('  %-20s %s' % ('package', site.get_package_directory()))
    _say('  %-20s %s' % ('publisher', '%s.%s' % (
        site.get_publisher_class().__module__,
        site.get_publisher_class().__name__)))
    _say('  %-20s %s' % ('url', site.get_base_url() or '-'))
    from qpd.ops.deploy import get_current_release
    _say('  %-20s %s' % ('release', get_current_release(site)
                         or '- (never deployed: sites/%s is the code)'
                         % site.get_name()))
    for key in sorted(config):
        value = config[key]
        if key.endswith('_address'):
            value = format_address(value)
        _say('  %-20s %s' % (key, value))
    _say('  %-20s %s' % ('dispatcher socket', site.get_dispatcher_socket()))
    _say('  %-20s %s' % ('control socket', site.get_control_socket()))
    _say('  %-20s %s' % ('durability', (
        'on: every commit is synced to disk before it is acknowledged'
        if site.get('durus_sync') else
        'OFF (durus_sync=False): a crash can lose acknowledged commits')))
    _say('  %-20s %s' % ('supervisor group', supervisor.get_site_conf_file(
        site.get_name())))
    running = (supervisor.is_running()
               and site.get_name() in supervisor.get_group_names())
    _say('  %-20s %s' % ('state', 'running' if running else 'stopped'))
    return 0


# start, stop, restart --------------------------------------------------------

def _check_addresses(home, sites, supervisor):
    """Refuse to start sites that share an address with each other or with
    a site that runs."""
    names = {site.get_name() for site in sites}
    others = [Site(name, home) for name in supervisor.get_site_names()
              if name not in names and Site(name, home).exists()]
    for site in sites:
        _check_site(site)
    check_sites(list(sites) + others)


def _report_started(site, status):
    if 'web' not in site.get_roles():
        _say('site %s: its StorageServer runs at %s (this host, %s, is its '
             'storage host)' % (site.get_name(), format_address(
                 site.get_durus_address()), site.get_host_name()))
        return
    url = site.get_base_url() or 'scgi %s' % format_address(
        site.get_scgi_address())
    note = '' if status < 500 else ' (it answered %d: see "qpd log %s")' % (
        status, site.get_name())
    _say('site %s runs at %s%s' % (site.get_name(), url, note))


def _start_sites(home, sites, timeout=START_TIMEOUT):
    """(home:str, sites:[Site], timeout:float) -> int"""
    supervisor = Supervisor(home)
    _check_addresses(home, sites, supervisor)
    for site in sites:
        supervisor.write_site_conf(site)
    if supervisor.ensure_running():
        others = sorted(set(supervisor.get_site_names()) -
                        {site.get_name() for site in sites})
        _say('supervisord started (%s)%s' % (
            supervisor.get_conf_file(),
            '; it also starts %s' % ', '.join(others) if others else ''))
    else:
        changes = supervisor.update([site.get_name() for site in sites])
        for name, change in changes.items():
            if change in ('unchanged', 'changed'):
                supervisor.start_process('%s:*' % name, wait=False)
    progress = Progress(sys.stdout)
    for site in sites:
        _report_started(site, wait_until_ready(site, supervisor, timeout,
                                               progress))
    return 0


def start(args):
    """qpd start [NAME…]: run sites under supervisord (every site when none
    is named) and wait until each answers."""
    sites = _named_sites(args)
    if not sites:
        raise _usage('no sites in %s; create one with "qpd new NAME"'
                     % args.home)
    return _start_sites(args.home, sites,
                        getattr(args, 'timeout', None) or START_TIMEOUT)


def stop(args):
    """qpd stop [NAME…]: stop sites (every running site when none is
    named); supervisord keeps running the others."""
    supervisor = Supervisor(args.home)
    sites = _named_sites(args, default_names=supervisor.get_site_names())
    if not sites:
        _say('no site is running')
        return 0
    running = supervisor.is_running()
    for site in sites:
        name = site.get_name()
        had_conf = supervisor.remove_site_conf(name)
        if running:
            stop_dispatcher_first(supervisor, name)
            change = supervisor.update([name])[name]
            if change == 'removed':
                _say('stopped %s' % name)
                continue
        _say('%s was not running' % name if not had_conf else
             'stopped %s' % name)
    return 0


def restart(args):
    """qpd restart [NAME…] [--rolling]: restart sites (every running site
    when none is named). --rolling restarts one worker at a time and keeps
    the dispatcher and StorageServer: no request fails."""
    supervisor = Supervisor(args.home)
    sites = _named_sites(args, default_names=supervisor.get_site_names())
    if not sites:
        raise _usage('no site is running; start one with "qpd start NAME"')
    if not supervisor.is_running():
        return _start_sites(args.home, sites)
    progress = Progress(sys.stdout)
    stopped = [site for site in sites
               if site.get_name() not in supervisor.get_group_names()]
    running = [site for site in sites if site not in stopped]
    if getattr(args, 'rolling', False):
        for site in running:
            site.get_configuration()
            rolling_restart(site, supervisor, progress)
    else:
        _check_addresses(args.home, running, supervisor)
        for site in running:
            supervisor.write_site_conf(site)
            stop_dispatcher_first(supervisor, site.get_name())
        changes = supervisor.update([site.get_name() for site in running])
        for site in running:
            name = site.get_name()
            if changes[name] == 'unchanged':
                progress.update('stopping %s' % name)
                supervisor.stop_process('%s:*' % name, wait=True)
                supervisor.start_process('%s:*' % name, wait=False)
        for site in running:
            _report_started(site, wait_until_ready(site, supervisor,
                                                   progress=progress))
    if stopped:
        return _start_sites(args.home, stopped)
    return 0


# status, log ----------------------------------------------------------------

def _format_uptime(info):
    if info['statename'] != 'RUNNING' or not info.get('start'):
        return info.get('description', '')
    seconds = int(info['now'] - info['start'])
    return 'pid %s, up %d:%02d:%02d' % (
        info['pid'], seconds // 3600, seconds // 60 % 60, seconds % 60)


def get_status(args):
    """(args) -> (report:dict, result:int): what `qpd status` shows, and
    its exit status (3 when a site that should run, or a named one, does
    not run fully). report: {'home', 'supervisord': bool, 'sites': [{'name',
    'state' ('running', 'partial' or 'stopped'), 'url', 'processes':
    [{'name', 'state', 'pid', 'uptime' (seconds or None), 'description'}],
    'pool' (the dispatcher's stats or None), 'storage', and on
    durus_storage='postgresql' 'postgresql' (qpd.storage.pg_status)}]}"""
    from qpd.server.control import get_stats
    supervisor = Supervisor(args.home)
    named = bool(getattr(args, 'names', None))
    sites = _named_sites(args)
    running = supervisor.is_running()
    report = {'home': args.home, 'supervisord': running, 'sites': []}
    result = 0
    for site in sites:
        name = site.get_name()
        should_run = _is_started(supervisor, name)
        infos = in_start_order(
            supervisor.get_process_infos(name) if running else [])
        entry = {'name': name, 'state': 'stopped', 'url': None,
                 'processes': [], 'pool': None, 'storage': None}
        report['sites'].append(entry)
        if not infos:
            if named or should_run:
                result = 3
            continue
        try:
            entry['url'] = site.get_base_url() or format_address(
                site.get_scgi_address())
        except ConfigurationError as e:
            entry['url'] = str(e)
        entry['summary'] = describe(infos)
        entry['state'] = 'running'
        for info in infos:
            up = (int(info['now'] - info['start'])
                  if info['statename'] == 'RUNNING' and info.get('start')
                  else None)
            entry['processes'].append({
                'name': info['name'], 'state': info['statename'],
                'pid': info.get('pid') or None, 'uptime': up,
                'description': _format_uptime(info)})
            if info['statename'] != 'RUNNING':
                entry['state'] = 'partial'
                result = 3
        try:
            entry['pool'] = get_stats(site)
        except (OSError, ValueError):
            pass              # the dispatcher is not answering (yet)
        entry['storage'] = describe_storage(site)
        if site.get('durus_storage') == 'postgresql':
            from qpd.storage.pg_status import get_database_state
            entry['postgresql'] = get_database_state(site.get('durus_dsn'))
    return report, result


def status(args):
    """qpd status [NAME…] [--json]: each site's processes and pool stats
    (get_status), as text or one JSON document. Exit 3 when a site that
    should run (or a named one) does not run fully."""
    from qpd.server.control import format_stats
    report, result = get_status(args)
    if getattr(args, 'json', False):
        import json
        _say(json.dumps(report, indent=2, sort_keys=True))
        return result
    if not report['supervisord']:
        _say('supervisord is not running for %s' % args.home)
    for entry in report['sites']:
        if not entry['processes']:
            _say('%s: stopped' % entry['name'])
            continue
        _say('%s: %s  %s' % (entry['name'], entry['summary'], entry['url']))
        for process in entry['processes']:
            _say('  %-12s %-9s %s' % (process['name'], process['state'],
                                      process['description']))
        if entry['pool']:
            _say('  pool: %s' % format_stats(entry['pool']))
        if entry['storage']:
            _say('  storage: %s' % entry['storage'])
        if entry.get('postgresql'):
            from qpd.storage.pg_status import format_database_state
            _say('  postgresql: %s' % format_database_state(
                entry['postgresql']))
    return result


STATUS_TIMEOUT = 5      # seconds qpd status waits for the StorageServer


def describe_storage(site):
    """(site:Site) -> str: the state of this host's connection to the
    site's StorageServer, as a new client sees it now: 'connected to
    10.0.0.2:2972 over TLSv1.3, round trip 0.4 ms', 'unreachable at
    ... (why)', or 'no answer in 5 s at ...' (STATUS_TIMEOUT)."""
    import socket
    from qpd.storage.connection import ping
    address = format_address(site.get_durus_address())
    # A server busy in one long request (reconnecting to PostgreSQL) must
    # not hold `qpd status` up for as long.
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(STATUS_TIMEOUT)
    try:
        seconds, transport = ping(site.get_storage_address())
    except (OSError, ConfigurationError) as e:
        if 'timed out' in str(e):
            return 'no answer in %d s at %s (busy: reconnecting to its ' \
                   'database?)' % (STATUS_TIMEOUT, address)
        return 'unreachable at %s (%s)' % (address, e)
    finally:
        socket.setdefaulttimeout(previous)
    return 'connected to %s over %s, round trip %.2f ms' % (
        address, transport, seconds * 1000)


def _log_path(site, supervisor, process):
    if process in (None, '', 'site'):
        path = site.get_logfile()
        if process is None and not os.path.exists(path):
            return os.path.join(site.get_var_directory(), 'dispatcher.log')
        return path
    if process == 'supervisord':
        return supervisor.get_log_file()
    known = get_program_names(site)
    if process not in known:
        raise _usage('no process %s in site %s (one of: site, %s, '
                     'supervisord)' % (process, site.get_name(),
                                       ', '.join(known)))
    return os.path.join(site.get_var_directory(), '%s.log' % process)


def log(args):
    """qpd log NAME [-f] [-n N] [--process P]: print the end of the site's
    log (or of one process's output), and with -f what follows."""
    from qpd.ops.logs import tail, follow
    site = _one_site(args)
    path = _log_path(site, Supervisor(args.home),
                     getattr(args, 'process', None))
    if not os.path.exists(path) and not args.follow:
        raise OperationError('no log yet at %s' % path)
    sys.stderr.write('==> %s <==\n' % path)
    for line in tail(path, args.lines):
        print(line)
    sys.stdout.flush()
    if args.follow:
        try:
            follow(path)
        except KeyboardInterrupt:
            pass
    return 0


def metrics(args):
    """qpd metrics NAME: the site's metrics in the Prometheus text format
    (qpd.server.metrics)."""
    from qpd.server.metrics import get_metrics_text
    sys.stdout.write(get_metrics_text(Site(args.name, args.home)))
    sys.stdout.flush()
    return 0


# shell, pack ---------------------------------------------------------------

def shell(args):
    """qpd shell NAME [-c CODE]: Python on the running site's database."""
    from qpd.ops.pack import open_storage
    from qpd.ops.shell import make_namespace, run_code, interact
    site = _one_site(args)
    open_storage(site).close()   # a clear error when it is not running
    namespace = make_namespace(site)
    if args.code is not None:
        return run_code(args.code, namespace)
    return interact(namespace, plain=getattr(args, 'plain', False))


def pack(args):
    """qpd pack NAME: pack the live database, showing progress."""
    from qpd.ops.pack import pack_site
    site = _one_site(args)
    pack_site(site, Progress(sys.stderr))
    return 0


def check(args):
    """qpd check NAME [--file PATH]: read every record and every object
    reachable from the root; exit 1 with a summary when not clean."""
    from qpd.ops.backup import check_site
    site = _one_site(args)
    report = check_site(site, getattr(args, 'file', None),
                        Progress(sys.stderr))
    _say('%s: %s' % (report.path, report.summary()))
    for line in report.get_problems():
        _say('  ' + line)
    return 0 if report.is_clean() else 1


def backup(args):
    """qpd backup NAME DEST [--incremental]: a consistent, synced copy of
    the live database."""
    from qpd.ops.backup import backup_site
    site = _one_site(args)
    backup_site(site, args.dest, incremental=args.incremental,
                progress=Progress(sys.stderr))
    return 0


# deploy, rollback ------------------------------------------------------------

def deploy(args):
    """qpd deploy NAME SRC: switch the site to a new release of its code
    (qpd.ops.deploy)."""
    from qpd.ops.deploy import deploy
    site = Site(args.name, args.home)
    site.get_configuration()
    deploy(site, args.source, Progress(sys.stdout))
    return 0


def rollback(args):
    """qpd rollback NAME: switch the site back to its previous release
    (qpd.ops.deploy)."""
    from qpd.ops.deploy import rollback
    rollback(Site(args.name, args.home), Progress(sys.stdout))
    return 0


# shutdown ------------------------------------------------------------------

def shutdown(args):
    """qpd shutdown: stop every site and supervisord. The sites that ran
    start again with the next `qpd start`."""
    supervisor = Supervisor(args.home)
    if not supervisor.is_running():
        _say('supervisord is not running for %s' % args.home)
        return 0
    groups = supervisor.get_group_names()
    for name in groups:
        stop_dispatcher_first(supervisor, name)
    supervisor.shutdown()
    _say('supervisord stopped%s' % (
        ' with %s' % ', '.join(groups) if groups else ''))
    return 0


# build -----------------------------------------------------------------------

def build(args):
    """qpd build NAME [--output DIR] [--hosts H:P,…]: print (or write into
    DIR) nginx, Apache, lighttpd and stunnel configuration for the site,
    and build its cgi2scgi; with --hosts, nginx in front of those web
    hosts (HTTP and SCGI upstreams) instead; with --logrotate, only the
    /etc/logrotate.d snippet for the site's log (qpd.ops.logrotate); with
    --systemd, only the systemd units (qpd.ops.systemd)."""
    from qpd.ops.build import (get_configs, build_cgi2scgi, get_notes,
                               get_upstream_configs, parse_hosts)
    site = _one_site(args)
    if getattr(args, 'logrotate', False):
        from qpd.ops.logrotate import get_logrotate
        sys.stdout.write(get_logrotate(site))
        return 0
    if getattr(args, 'systemd', False):
        from qpd.ops.systemd import get_units
        for filename, text in get_units(site):
            _say('# ==== %s ====' % filename)
            _say(text)
        return 0
    output = getattr(args, 'output', None)
    hosts = getattr(args, 'hosts', None)
    if hosts:
        http = site.get_http_address()
        try:
            hosts = parse_hosts(hosts, http[1] if isinstance(http, tuple)
                                else None)
        except ValueError as e:
            raise _usage('--hosts: %s' % e)
        configs = get_upstream_configs(site, hosts)
    else:
        configs = get_configs(site)
    if output:
        os.makedirs(output, exist_ok=True)
        for filename, text in configs:
            path = os.path.join(output, filename)
            with open(path, 'w') as f:
                f.write(text)
            _say('wrote %s' % path)
    else:
        for filename, text in configs:
            _say('# ==== %s ====' % filename)
            _say(text)
    for note in get_notes(site, hosts):
        _say(note if output else '# ' + note)
    if hosts:
        return 0
    if site.get_scgi_address():
        path, kind = build_cgi2scgi(site, output or
                                    site.ensure_var_directory())
        message = 'built %s (%s): a CGI program that forwards to %s' % (
            path, kind, format_address(site.get_scgi_address()))
    else:
        message = ('cgi2scgi not built: site %s has no scgi_address'
                   % site.get_name())
    if output:
        _say(message)
    else:
        _say('# ' + message)
    return 0


# certs -----------------------------------------------------------------------

def certs(args):
    """qpd certs NAME [--output DIR] [--storage-name NAME…] [--renew]
    [--revoke HOST]: the site's CA and one TLS certificate per host, or
    a host's certificate revoked (qpd.ops.certs)."""
    from qpd.ops.certs import revoke_host, write_site_certs
    site = _one_site(args)
    directory = getattr(args, 'output', None) or os.path.join(
        args.home, 'certs', site.get_name())
    host = getattr(args, 'revoke', None)
    if host:
        revoke_host(site, os.path.abspath(directory), host, say=_say)
        _say('copy %s to the storage host\'s durus_tls_directory and '
             'restart its StorageServer ("qpd restart %s"): it then refuses '
             '%s; "qpd certs %s" makes %s a new certificate if it stays' % (
                 os.path.join(directory, '<storage host>', 'crl.pem'),
                 site.get_name(), host, site.get_name(), host))
        return 0
    write_site_certs(site, os.path.abspath(directory),
                     getattr(args, 'storage_name', None) or (),
                     renew=getattr(args, 'renew', False), say=_say)
    _say('see %s: which files go to which host' % os.path.join(
        directory, 'README'))
    if not site.get('durus_tls'):
        _say('note: site %s has durus_tls off; set durus_tls=True to use '
             'them' % site.get_name())
    return 0


# secret ----------------------------------------------------------------------

def secret(args):
    """qpd secret NAME [--rotate] [--output DIR]: where the site's
    signing key is, or a new one (qpd.lib.secret_file); on several hosts,
    the one in the certs directory that `qpd certs` shares out; on
    PostgreSQL, the one kept in the database for every host
    (qpd.storage.shared_secret)."""
    import time
    from qpd.lib.secret_file import FILE_NAME, SecretFile
    site = _one_site(args)
    if site.get('durus_storage') == 'postgresql':
        return _shared_secret(site, getattr(args, 'rotate', False))
    path = site.get_secret_file()
    certs = None
    if site.get('hosts'):
        certs = os.path.abspath(getattr(args, 'output', None) or os.path.join(
            args.home, 'certs', site.get_name()))
        path = os.path.join(certs, FILE_NAME)
        if not os.path.exists(path):
            raise OperationError(
                'site %s runs on several hosts, and its signing key is made '
                'by "qpd certs %s" in %s, where there is none: run this '
                'where the certs are (or give --output DIR)' % (
                    site.get_name(), site.get_name(), certs))
    keys = SecretFile(path, say=_say, site_name=site.get_name())
    if not keys.exists():
        raise OperationError(
            'site %s has no key file %s yet: it is made when the site '
            'first starts ("qpd start %s")' % (
                site.get_name(), keys.path, site.get_name()))
    grace = max(site.get('form_token_lifetime'),
                site.get('digest_nonce_lifetime'))
    if getattr(args, 'rotate', False):
        if certs is not None:
            from qpd.ops.certs import share_secret
            share_secret(certs, rotate=True)
        else:
            keys.rotate()
        _say('rotated %s: new tokens and nonces are signed with a new key; '
             'those signed with the old one verify until %s' % (
                 keys.path, time.strftime('%Y-%m-%d %H:%M', time.localtime(
                     time.time() + grace))))
        if certs is not None:
            _say('copy each host\'s %s (in %s/HOST/) to its '
                 'durus_tls_directory' % (FILE_NAME, certs))
        return 0
    keys.get_current()
    _say('%s: %s' % (keys.path, 'rotated %s' % time.strftime(
        '%Y-%m-%d %H:%M', time.localtime(keys.rotated_at))
        if keys.rotated_at else 'never rotated'))
    return 0


def _shared_secret(site, rotate):
    """`qpd secret NAME [--rotate]` on a PostgreSQL site: the key in the
    database (rotated there: every host's StorageServer writes the new
    one to its file), and this host's copy written too."""
    import time
    from qpd.lib.secret_file import SecretFile, parse_keys
    from qpd.storage import shared_secret
    from qpd.storage.postgresql import PostgresStorage, StorageSetupError
    name = site.get_name()
    try:
        storage = PostgresStorage(site.get('durus_dsn'), site=name,
                                  create=False)
    except StorageSetupError as e:
        raise OperationError(str(e)) from None
    keys = SecretFile(site.get_secret_file(), say=_say, site_name=name)
    try:
        if rotate:
            text = shared_secret.rotate(storage.conn, now=time.time())
        else:
            text = shared_secret.read_shared(storage.conn)
    except storage.psycopg.Error as e:
        raise OperationError(
            'the signing key of %s in its database (durus_dsn) could not be '
            '%s (%s): try again once PostgreSQL answers' % (
                name, 'rotated' if rotate else 'read',
                ' '.join(str(e).split()))) from None
    finally:
        storage.close()
    if text is None:
        raise OperationError(
            'site %s has no signing key in its database (durus_dsn) yet: '
            'it is made when the site first starts ("qpd start %s")' % (
                name, name))
    if os.path.isdir(site.get_var_directory()):
        keys.write_text(text)
    rotated_at = parse_keys(text, 'durus_dsn')[2]
    if rotate:
        grace = max(site.get('form_token_lifetime'),
                    site.get('digest_nonce_lifetime'))
        _say('rotated the signing key of %s in its database (durus_dsn): '
             'new tokens and nonces are signed with a new key; those signed '
             'with the old one verify until %s; every web host\'s '
             'StorageServer writes it to its %s at once (at the latest in '
             '%g s, or at its next start)' % (
                 name, time.strftime('%Y-%m-%d %H:%M', time.localtime(
                     time.time() + grace)), keys.path,
                 shared_secret.CHECK_INTERVAL))
        return 0
    _say('the signing key of %s is kept in its database (durus_dsn), '
         'copied to each web host\'s %s: %s' % (
             name, keys.path, 'rotated %s' % time.strftime(
                 '%Y-%m-%d %H:%M', time.localtime(rotated_at))
             if rotated_at else 'never rotated'))
    return 0


# demo ------------------------------------------------------------------------

DEMO = 'demo'


def _get_command_name(home):
    """(home:str) -> str: how the user runs this qpd on this home, for
    the commands we suggest."""
    import shlex
    import shutil
    from qpd.ops.supervisor import get_qpd_command
    command = get_qpd_command()
    if len(command) == 1 and shutil.which('qpd') == command[0]:
        command = ['qpd']
    elif len(command) == 1:
        command = [os.path.relpath(command[0])
                   if command[0].startswith(os.getcwd() + os.sep)
                   else command[0]]
    if os.path.abspath(home) != os.getcwd():
        command += ['--home', home]
    return ' '.join(shlex.quote(word) for word in command)


def demo(args):
    """qpd demo: create the demo site from proto unless it exists, start
    it, and say what to try next."""
    from qpd.ops.newsite import create_site
    site = Site(DEMO, args.home)
    if not site.exists():
        site = create_site(DEMO, args.home)
        _say('created site %s in %s' % (DEMO, site.get_package_directory()))
    _start_sites(args.home, [site])
    qpd = _get_command_name(args.home)
    _say('')
    _say('Open %s in a browser.' % site.get_base_url())
    _say('Then try:')
    _say("  %s shell %s -c \"create_user('admin', 'PASSWORD', admin=True)\""
         % (qpd, DEMO))
    _say('      an admin, to sign in and see /users/ and /durus/')
    _say('  %s shell %s      Python on the live database' % (qpd, DEMO))
    _say('  %s status         the processes and the pool' % qpd)
    _say('  %s log %s -f     follow the log' % (qpd, DEMO))
    _say('  %s stop %s       stop it (%s shutdown stops supervisord too)'
         % (qpd, DEMO, qpd))
    return 0


# port ------------------------------------------------------------------------

def port(args):
    """qpd port DIR [--diff]: a QP site made a qpd site (qpd.ops.port)."""
    from qpd.ops.port import main
    return main(args.directory, diff=args.diff)


def copy(args):
    """qpd copy NAME SRC DEST [--force]: copy the site's database between
    a Durus file and PostgreSQL, then count and check the copy
    (qpd.ops.storage_copy)."""
    from qpd.ops.storage_copy import copy_storage, parse_location
    site = _one_site(args)
    source = parse_location(site, args.source, 'SRC')
    dest = parse_location(site, args.dest, 'DEST')
    report = copy_storage(site, source, dest, force=args.force,
                          progress=Progress(sys.stderr))
    _say(report.summary())
    for line in report.check.get_problems():
        _say('  ' + line)
    return 0 if report.check.is_clean() else 1


def migrate(args):
    """qpd migrate SRC DEST [--encoding CODEC] [--force]: copy a QP
    database into a new one for qpd, then print what was written
    (qpd.ops.migrate)."""
    from qpd.ops.migrate import migrate as run
    report = run(args.source, args.dest, encoding=args.encoding,
                 force=args.force, home=args.home)
    for line in report.get_lines():
        _say(line)
    return 0
