"""qpd.ops.subcommands: every `qpd` subcommand, declared once, in one table.

A row of `COMMANDS` is a `Command`: the subcommand's name, its one-line
help (also its `--help` description), which sites it names (`ONE`: a
NAME argument, `MANY`: NAME... defaulting to every site, None: none),
its other arguments (each an `Arg`, holding what argparse's
`add_argument` takes), and the function that runs it, as
'module:function'. That function takes the parsed arguments (an argparse
namespace whose `home` is the absolute qpd home) and returns the exit
status (0, or None for 0); it raises UsageError, OperationError or
ConfigurationError, which qpd.cli prints in one line.

qpd.cli builds its parser from this table, in this order (the order of
`qpd --help`), and imports a row's module only when that subcommand
runs: `qpd worker` does not pay for supervisord's client, nor `qpd
status` for the dispatcher. So this module imports nothing but the
standard library.

The functions: qpd.ops.commands for what operates sites (each hands its
work to the ops module that owns it), qpd.ops.processes for the server
processes that supervisord and `qpd serve` run.

To add a subcommand: write its function, add one row here, and add its
line to the README's table of commands ("The `qpd` command");
tests/test_cli.py fails until the README and this table name the same
subcommands, and when a row's function does not import.
"""

import importlib

__all__ = ['Command', 'Arg', 'COMMANDS', 'ONE', 'MANY']

ONE = 'one'      # one NAME argument: args.name
MANY = 'many'    # NAME...: args.names, [] meaning every site


class Arg:
    """(*flags:str, **options)
    One argument of a subcommand: argparse's add_argument(*flags,
    **options)."""

    def __init__(self, *flags, **options):
        self.flags = flags
        self.options = options

    def __repr__(self):
        return '<Arg %s>' % ' '.join(self.flags)


class Command:
    """(name:str, help:str, function:str, sites:str=None, args=())
    One subcommand: `qpd name`. function is 'module:function'; sites is
    ONE, MANY or None; args are its other arguments (Arg)."""

    def __init__(self, name, help, function, sites=None, args=()):
        self.name = name
        self.help = help
        self.function = function
        self.sites = sites
        self.args = tuple(args)

    def __repr__(self):
        return '<Command %s>' % self.name

    def get_function(self):
        """() -> callable(args) -> int: the function, imported now."""
        module, _, name = self.function.partition(':')
        return getattr(importlib.import_module(module), name)

    def run(self, args):
        """(args:argparse.Namespace) -> int | None: run the subcommand."""
        return self.get_function()(args)

    def add_to(self, subparsers):
        """(subparsers) -> ArgumentParser: this subcommand's parser, added
        to an argparse subparsers object."""
        parser = subparsers.add_parser(self.name, help=self.help,
                                       description=self.help)
        parser.set_defaults(subcommand=self)
        if self.sites == ONE:
            parser.add_argument('name', metavar='NAME', help='the site')
        elif self.sites == MANY:
            parser.add_argument('names', metavar='NAME', nargs='*',
                                help='sites (default: every site)')
        for arg in self.args:
            parser.add_argument(*arg.flags, **arg.options)
        return parser


def _commands(name):
    return 'qpd.ops.commands:' + name


def _processes(name):
    return 'qpd.ops.processes:' + name


COMMANDS = [
    Command('new', 'create a site from the proto site', _commands('new'), ONE,
            [Arg('--force', action='store_true',
                 help='replace an existing site directory'),
             Arg('--port', type=int, default=None, metavar='N',
                 help='first port to try for its addresses (default 8000)')]),
    Command('list', 'list the sites in this home', _commands('list_sites')),
    Command('start', 'start sites under supervisord', _commands('start'),
            MANY,
            [Arg('--timeout', type=float, default=None, metavar='SECONDS',
                 help='how long to wait for each site to answer '
                      '(default 60)')]),
    Command('stop', 'stop sites', _commands('stop'), MANY),
    Command('restart', 'restart sites', _commands('restart'), MANY,
            [Arg('--rolling', action='store_true',
                 help='restart one worker at a time; no request fails')]),
    Command('status', "show sites' processes and pool stats",
            _commands('status'), MANY,
            [Arg('--json', action='store_true',
                 help='one JSON document (the same data) for scripts')]),
    Command('show', "show a site's configuration and paths",
            _commands('show'), ONE),
    Command('log', "print a site's log", _commands('log'), ONE,
            [Arg('-f', '--follow', action='store_true',
                 help='keep printing as the log grows'),
             Arg('-n', '--lines', type=int, default=40,
                 help='how many lines to print first (default 40)'),
             Arg('-p', '--process', default=None, metavar='PROCESS',
                 help='the output of one process instead: durus, '
                      'dispatcher, worker_00, ..., or supervisord')]),
    Command('shell', "a Python session on a site's live database",
            _commands('shell'), ONE,
            [Arg('-c', dest='code', metavar='CODE', default=None,
                 help='run CODE and exit (non-zero on an exception)'),
             Arg('--plain', action='store_true',
                 help='the plain Python console even if IPython is '
                      'installed')]),
    Command('pack', "pack a site's database while it runs",
            _commands('pack'), ONE),
    Command('deploy', "switch a site to a new release of its code, "
            "atomically, without failing a request", _commands('deploy'),
            ONE,
            [Arg('source', metavar='SRC',
                 help="the site's new package (a directory holding "
                      "slash.qpy)")]),
    Command('rollback', 'switch a site back to its previous release',
            _commands('rollback'), ONE),
    Command('metrics', "print a site's metrics (Prometheus text format)",
            _commands('metrics'), ONE),
    Command('check',
            "check every object of a site's database (also while it runs)",
            _commands('check'), ONE,
            [Arg('--file', metavar='PATH', default=None,
                 help='check this FileStorage file (a backup) instead')]),
    Command('backup', "copy a site's database consistently while it runs",
            _commands('backup'), ONE,
            [Arg('dest', metavar='DEST',
                 help='the backup file, or a directory to hold NAME.durus'),
             Arg('--incremental', action='store_true',
                 help='append only what is new since the backup at DEST')]),
    Command('serve', 'run a site in the foreground without supervisord',
            _processes('serve'), ONE,
            [Arg('--workers', type=int, default=None, metavar='N',
                 help='number of workers (default: max_children)'),
             Arg('--debug', action='store_true',
                 help='answer exceptions with a page showing the '
                      'traceback, locals and request (loopback addresses '
                      'only)'),
             Arg('--reload', action='store_true',
                 help="restart the workers when the site's code (or "
                      "qpd's, when installed editable) changes")]),
    Command('shutdown', 'stop every site and supervisord',
            _commands('shutdown')),
    Command('build', 'print front-end configuration and build cgi2scgi',
            _commands('build'), ONE,
            [Arg('--output', metavar='DIR', default=None,
                 help='write the files into DIR instead of printing'),
             Arg('--logrotate', action='store_true',
                 help="print only an /etc/logrotate.d snippet for the "
                      "site's log"),
             Arg('--systemd', action='store_true',
                 help='print only systemd units: a socket unit per '
                      'listener and a service running `qpd serve` with '
                      'them (socket activation)'),
             Arg('--hosts', metavar='HOST:PORT,...', default=None,
                 help='web hosts behind nginx: print an upstream of them '
                      '(PORT: their http port; default the http_address '
                      'port)')]),
    Command('certs', "make the site's CA and a TLS certificate per host, "
            'for the StorageServer', _commands('certs'), ONE,
            [Arg('--output', metavar='DIR', default=None,
                 help='where to write them (default HOME/certs/NAME)'),
             Arg('--storage-name', metavar='NAME', action='append',
                 default=[], help='another name or address clients dial '
                                  'the storage host by (repeatable)'),
             Arg('--renew', action='store_true',
                 help="make every host's certificate again (the CA is "
                      'kept)'),
             Arg('--revoke', metavar='HOST', default=None,
                 help="revoke HOST's certificate (crl.pem) and remove its "
                      'files')]),
    Command('secret', "show where a site's signing key is, or rotate it",
            _commands('secret'), ONE,
            [Arg('--rotate', action='store_true',
                 help='a new key; the old one verifies what it signed for '
                      'the longest token or nonce lifetime'),
             Arg('--output', metavar='DIR', default=None,
                 help='several hosts: the certs directory holding the key '
                      '(default HOME/certs/NAME)')]),
    Command('demo', 'create and start the demo site (make demo)',
            _commands('demo')),
    Command('port', "port a QP site: Python 2 to 3, QP's modules to "
            "qpd's, its configuration to qpd's keys; lists what is left",
            _commands('port'), None,
            [Arg('directory', metavar='DIR',
                 help='the site: its .py and .qpy files are rewritten in '
                      'place, each original kept as FILE.qp-orig'),
             Arg('--diff', action='store_true',
                 help='print the unified diff of what it would write, '
                      'writing nothing')]),
    Command('migrate', 'copy a Durus file written by QP on Python 2 into '
            'a new one for qpd (after qpd port on the site)',
            _commands('migrate'), None,
            [Arg('source', metavar='SRC',
                 help="the QP site's Durus file (only read)"),
             Arg('dest', metavar='DEST',
                 help='the new Durus file (0600), e.g. '
                      'sites/NAME/var/NAME.durus while the site is stopped'),
             Arg('--encoding', default='utf-8', metavar='CODEC',
                 help="what Python 2 str values were written in (default "
                      "utf-8); an attribute declared bytes stays bytes"),
             Arg('--force', action='store_true',
                 help='replace an existing DEST')]),
    Command('copy', "copy a site's database between its Durus file and "
            'PostgreSQL (either way, the site stopped), then count and '
            'check the copy', _commands('copy'), ONE,
            [Arg('source', metavar='SRC',
                 help="'file' (the site's Durus file), 'postgresql' (its "
                      'durus_dsn), a file path or a libpq connection '
                      'string'),
             Arg('dest', metavar='DEST',
                 help='the same kinds as SRC; a PostgreSQL DEST must have '
                      'no qpd objects yet'),
             Arg('--force', action='store_true',
                 help='replace an existing DEST file')]),
    Command('durus', "run a site's Durus StorageServer", _processes('durus'),
            ONE),
    Command('dispatcher', "run a site's dispatcher",
            _processes('dispatcher'), ONE),
    Command('worker', 'run one worker of a site', _processes('worker'), ONE,
            [Arg('--index', type=int, default=0,
                 help='worker number, for its process title and log'),
             Arg('--debug', action='store_true',
                 help='display exceptions (what qpd serve --debug runs)')]),
]

