"""The `qpd` command: manage every site under one home directory.

Each subcommand is a small function here that parses nothing itself and
hands its work to the module that owns it, imported only when needed so
that `qpd --help` stays quick.
"""

import argparse
import os
import re
import sys

import qpd
from qpd.lib.private_dir import UnsafeDirectory
from qpd.ops.errors import OperationError, UsageError
from qpd.site import ConfigurationError, Site, list_site_names

# Each subcommand imports what it runs inside its function, on purpose:
# `qpd worker` should not pay for importing supervisor's client, nor
# `qpd status` for the dispatcher (start-up time of every process).

__all__ = ['main', 'UsageError']


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that reports mistakes in one line."""

    def error(self, message):
        unknown = re.match(r"argument COMMAND: invalid choice: '([^']*)'",
                           message)
        if unknown:
            message = 'unknown command %r' % unknown.group(1)
        raise UsageError('%s (try "%s --help")' % (message, self.prog))


def _site(args, name=None):
    """(args, name:str=None) -> Site"""
    return Site(name or args.name, home=args.home)


def _sites(args):
    """(args) -> [Site] named on the command line, or every site."""
    names = args.names or list_site_names(args.home)
    return [Site(name, home=args.home) for name in names]


# Server processes (what supervisord and `qpd serve` run) ----------------

def cmd_durus(args):
    from qpd.storage.server import main
    return main(_site(args))


def cmd_dispatcher(args):
    from qpd.server.dispatcher import main
    return main(_site(args))


def cmd_worker(args):
    from qpd.server.worker import main
    site = _site(args)
    if args.debug:
        # `qpd serve --debug`: this worker answers 500 with the technical
        # page (qpd.web.debug), whatever the site's configuration says.
        site.get_configuration()['display_exceptions'] = True
    return main(site, index=args.index)


def cmd_serve(args):
    from qpd.server.serve import main
    return main(_site(args), workers=args.workers, debug=args.debug,
                reload=args.reload)


# Operations ---------------------------------------------------------------

def _ops(name):
    """(name:str) -> callable: qpd.ops.commands.<name>"""
    from qpd.ops import commands
    return getattr(commands, name)


def cmd_new(args):
    return _ops('new')(args)


def cmd_list(args):
    return _ops('list_sites')(args)


def cmd_start(args):
    return _ops('start')(args)


def cmd_stop(args):
    return _ops('stop')(args)


def cmd_restart(args):
    return _ops('restart')(args)


def cmd_status(args):
    return _ops('status')(args)


def cmd_show(args):
    return _ops('show')(args)


def cmd_log(args):
    return _ops('log')(args)


def cmd_metrics(args):
    from qpd.server.metrics import get_metrics_text
    sys.stdout.write(get_metrics_text(_site(args)))
    sys.stdout.flush()
    return 0


def cmd_deploy(args):
    from qpd.ops.deploy import deploy_command
    return deploy_command(args)


def cmd_rollback(args):
    from qpd.ops.deploy import rollback_command
    return rollback_command(args)


def cmd_shell(args):
    return _ops('shell')(args)


def cmd_pack(args):
    return _ops('pack')(args)


def cmd_check(args):
    return _ops('check')(args)


def cmd_backup(args):
    return _ops('backup')(args)


def cmd_shutdown(args):
    return _ops('shutdown')(args)


def cmd_build(args):
    return _ops('build')(args)


def cmd_demo(args):
    return _ops('demo')(args)


def cmd_port(args):
    from qpd.ops.port import main
    return main(args.directory, diff=args.diff)


def cmd_certs(args):
    return _ops('certs')(args)


def make_parser():
    """() -> argparse.ArgumentParser"""
    parser = _Parser(
        prog='qpd',
        description='Define and run web sites, each on its own Durus database.')
    parser.add_argument('--version', action='version',
                        version='qpd %s' % qpd.__version__)
    parser.add_argument(
        '--home', metavar='DIR', default=None,
        help='the qpd home (holds sites/ and supervisord files); '
             'default $QPD_HOME, else the current directory')
    sub = parser.add_subparsers(dest='command', metavar='COMMAND',
                                parser_class=_Parser)

    def add(name, func, help, names=None):
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        if names == 'one':
            p.add_argument('name', metavar='NAME', help='the site')
        elif names == 'many':
            p.add_argument('names', metavar='NAME', nargs='*',
                           help='sites (default: every site)')
        return p

    p = add('new', cmd_new, 'create a site from the proto site', 'one')
    p.add_argument('--force', action='store_true',
                   help='replace an existing site directory')
    p.add_argument('--port', type=int, default=None, metavar='N',
                   help='first port to try for its addresses (default 8000)')
    add('list', cmd_list, 'list the sites in this home')
    p = add('start', cmd_start, 'start sites under supervisord', 'many')
    p.add_argument('--timeout', type=float, default=None, metavar='SECONDS',
                   help='how long to wait for each site to answer '
                        '(default 60)')
    add('stop', cmd_stop, 'stop sites', 'many')
    p = add('restart', cmd_restart, 'restart sites', 'many')
    p.add_argument('--rolling', action='store_true',
                   help='restart one worker at a time; no request fails')
    p = add('status', cmd_status, "show sites' processes and pool stats",
            'many')
    p.add_argument('--json', action='store_true',
                   help='one JSON document (the same data) for scripts')
    add('show', cmd_show, "show a site's configuration and paths", 'one')
    p = add('log', cmd_log, "print a site's log", 'one')
    p.add_argument('-f', '--follow', action='store_true',
                   help='keep printing as the log grows')
    p.add_argument('-n', '--lines', type=int, default=40,
                   help='how many lines to print first (default 40)')
    p.add_argument('-p', '--process', default=None, metavar='PROCESS',
                   help='the output of one process instead: durus, '
                        'dispatcher, worker_00, ..., or supervisord')
    p = add('shell', cmd_shell,
            "a Python session on a site's live database", 'one')
    p.add_argument('-c', dest='code', metavar='CODE', default=None,
                   help='run CODE and exit (non-zero on an exception)')
    p.add_argument('--plain', action='store_true',
                   help='the plain Python console even if IPython is '
                        'installed')
    add('pack', cmd_pack, "pack a site's database while it runs", 'one')
    p = add('deploy', cmd_deploy,
            "switch a site to a new release of its code, atomically, "
            "without failing a request", 'one')
    p.add_argument('source', metavar='SRC',
                   help="the site's new package (a directory holding "
                        "slash.qpy)")
    add('rollback', cmd_rollback, 'switch a site back to its previous '
        'release', 'one')
    add('metrics', cmd_metrics, "print a site's metrics (Prometheus text "
        'format)', 'one')
    p = add('check', cmd_check,
            "check every object of a site's database (also while it runs)",
            'one')
    p.add_argument('--file', metavar='PATH', default=None,
                   help='check this FileStorage file (a backup) instead')
    p = add('backup', cmd_backup,
            "copy a site's database consistently while it runs", 'one')
    p.add_argument('dest', metavar='DEST',
                   help='the backup file, or a directory to hold NAME.durus')
    p.add_argument('--incremental', action='store_true',
                   help='append only what is new since the backup at DEST')
    p = add('serve', cmd_serve,
            'run a site in the foreground without supervisord', 'one')
    p.add_argument('--workers', type=int, default=None, metavar='N',
                   help='number of workers (default: max_children)')
    p.add_argument('--debug', action='store_true',
                   help='answer exceptions with a page showing the '
                        'traceback, locals and request (loopback '
                        'addresses only)')
    p.add_argument('--reload', action='store_true',
                   help="restart the workers when the site's code (or "
                        "qpd's, when installed editable) changes")
    add('shutdown', cmd_shutdown, 'stop every site and supervisord')
    p = add('build', cmd_build,
            'print front-end configuration and build cgi2scgi', 'one')
    p.add_argument('--output', metavar='DIR', default=None,
                   help='write the files into DIR instead of printing')
    p.add_argument('--logrotate', action='store_true',
                   help="print only an /etc/logrotate.d snippet for the "
                        "site's log")
    p.add_argument('--hosts', metavar='HOST:PORT,...', default=None,
                   help='web hosts behind nginx: print an upstream of them '
                        '(PORT: their http port; default the http_address '
                        'port)')
    p = add('certs', cmd_certs,
            "make the site's CA and a TLS certificate per host, for the "
            'StorageServer', 'one')
    p.add_argument('--output', metavar='DIR', default=None,
                   help='where to write them (default HOME/certs/NAME)')
    p.add_argument('--storage-name', metavar='NAME', action='append',
                   default=[], help='another name or address clients dial '
                                    'the storage host by (repeatable)')
    p.add_argument('--renew', action='store_true',
                   help="make every host's certificate again (the CA is "
                        'kept)')
    add('demo', cmd_demo, 'create and start the demo site (make demo)')
    p = add('port', cmd_port,
            "rewrite a QP site's imports (qp..., qpy) to qpd's modules")
    p.add_argument('directory', metavar='DIR',
                   help='the site: its .py and .qpy files are rewritten in '
                        'place, each original kept as FILE.qp-orig')
    p.add_argument('--diff', action='store_true',
                   help='print a unified diff instead of writing')
    add('durus', cmd_durus, "run a site's Durus StorageServer", 'one')
    add('dispatcher', cmd_dispatcher, "run a site's dispatcher", 'one')
    p = add('worker', cmd_worker, 'run one worker of a site', 'one')
    p.add_argument('--index', type=int, default=0,
                   help='worker number, for its process title and log')
    p.add_argument('--debug', action='store_true',
                   help='display exceptions (what qpd serve --debug runs)')
    return parser


def _report(error):
    """(error:Exception) -> int: print a configuration or operation error
    in one line (and its details); the exit status. Other errors are
    raised again."""
    if isinstance(error, ConfigurationError):
        sys.stderr.write('qpd: %s\n' % error)
        return 2
    if isinstance(error, UnsafeDirectory):
        sys.stderr.write('qpd: refusing an unsafe socket directory: %s\n'
                         % error)
        return 1
    if isinstance(error, OperationError):
        sys.stderr.write('qpd: %s\n' % error)
        for line in error.get_details():
            sys.stderr.write('%s\n' % line)
        return 1
    raise error


def main(argv=None):
    """(argv:[str]=None) -> int: run the qpd command; the exit status."""
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
        if args.home is None:
            args.home = os.environ.get('QPD_HOME') or os.getcwd()
        args.home = os.path.abspath(args.home)
        if not getattr(args, 'func', None):
            parser.print_help()
            return 2
        status = args.func(args)
    except UsageError as e:
        sys.stderr.write('qpd: %s\n' % e)
        return 2
    except BrokenPipeError:
        # The reader went away (qpd show NAME | head): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as e:
        return _report(e)
    except KeyboardInterrupt:
        return 130
    return status or 0


if __name__ == '__main__':
    sys.exit(main())
