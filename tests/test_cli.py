"""The qpd command's own contract: --help, --version, and one-line errors
with exit status 2."""

import os
import re
import subprocess
import sys

import qpd
from qpd.ops.subcommands import COMMANDS


def run(*args, home=None):
    """(*args:str) -> CompletedProcess of `python -m qpd args`"""
    env = dict(os.environ, QPD_HOME=home or os.getcwd())
    return subprocess.run([sys.executable, '-m', 'qpd', *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_help_lists_every_command():
    result = run('--help')
    assert result.returncode == 0
    for command in ('new', 'start', 'stop', 'restart', 'status', 'show',
                    'log', 'shell', 'pack', 'serve', 'shutdown', 'build',
                    'list'):
        assert command in result.stdout


def test_version():
    result = run('--version')
    assert result.returncode == 0
    assert result.stdout.strip() == 'qpd %s' % qpd.__version__


def test_unknown_command_is_one_line_and_exit_2():
    result = run('frobnicate')
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "qpd: unknown command 'frobnicate' (try \"qpd --help\")"]
    assert result.stdout == ''


def test_missing_argument_is_one_line(tmp_path):
    result = run('shell', home=str(tmp_path))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert 'NAME' in result.stderr


def test_unknown_site_is_one_line(tmp_path):
    result = run('show', 'nosuch', home=str(tmp_path))
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert 'qpd new nosuch' in result.stderr


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_commands():
    """() -> set[str]: the subcommands the README's table of commands
    ("The `qpd` command") names in its first column."""
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    section = text.split('\n## The `qpd` command\n', 1)[1].split('\n## ')[0]
    names = set()
    for line in section.splitlines():
        if line.startswith('| `qpd '):
            first = line.split(' | ')[0]
            names.update(re.findall(r'`qpd ([a-z][a-z0-9-]*)', first))
    return names


def test_readme_names_every_subcommand_of_the_table():
    table = {command.name for command in COMMANDS}
    readme = readme_commands()
    assert readme, 'the README table of commands is not found'
    assert not table - readme, 'subcommands missing from the README\'s ' \
        'table of commands: %s' % sorted(table - readme)
    assert not readme - table, 'the README names subcommands that ' \
        'qpd.ops.subcommands.COMMANDS lacks: %s' % sorted(readme - table)


def test_every_subcommand_function_imports():
    names = [command.name for command in COMMANDS]
    assert len(names) == len(set(names)), names
    for command in COMMANDS:
        assert callable(command.get_function()), command
        assert command.help and '\n' not in command.help, command


def test_the_table_imports_a_subcommand_s_module_only_when_it_runs():
    # `qpd --help` and `qpd worker` do not pay for supervisord's client.
    code = ('import sys, qpd.cli, qpd.ops.processes; '
            'print(sorted(m for m in sys.modules if m in ('
            '"qpd.ops.commands", "qpd.ops.supervisor", "xmlrpc.client", '
            '"qpd.server.dispatcher")))')
    result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
