"""The `qpd` command: manage every site under one home directory.

The subcommands are the rows of qpd.ops.subcommands.COMMANDS (name, help,
arguments, function); this module builds the parser from them, runs the
one named, and prints its errors in one line with the exit status. A
row's module is imported only when it runs, so that `qpd --help` stays
quick.
"""

import argparse
import os
import re
import sys

import qpd
from qpd.lib.private_dir import UnsafeDirectory
from qpd.ops.errors import OperationError, UsageError
from qpd.ops.subcommands import COMMANDS
from qpd.site import ConfigurationError

__all__ = ['main', 'UsageError']


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that reports mistakes in one line."""

    def error(self, message):
        unknown = re.match(r"argument COMMAND: invalid choice: '([^']*)'",
                           message)
        if unknown:
            message = 'unknown command %r' % unknown.group(1)
        raise UsageError('%s (try "%s --help")' % (message, self.prog))


def make_parser():
    """() -> argparse.ArgumentParser: qpd's options, and a subparser per
    row of qpd.ops.subcommands.COMMANDS."""
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
    for command in COMMANDS:
        command.add_to(sub)
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
        if not getattr(args, 'subcommand', None):
            parser.print_help()
            return 2
        status = args.subcommand.run(args)
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
