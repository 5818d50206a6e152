"""The qpd command's own contract: --help, --version, and one-line errors
with exit status 2."""

import os
import subprocess
import sys

import qpd


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
