"""The qpd command's operations that need no running processes: new,
list, show, build, log, status; and their one-line errors."""

import os

import pytest

from qpd.cli import main


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv('QPD_HOME', str(tmp_path))
    return tmp_path


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_new_list_show(home, capsys):
    name = 'cli_%d' % os.getpid()
    status, out, err = run(capsys, 'new', name, '--port', '25000')
    assert status == 0 and 'created site %s' % name in out
    status, out, err = run(capsys, 'new', name)
    assert status == 2 and err.count('\n') == 1 and '--force' in err
    status, out, err = run(capsys, 'list')
    assert status == 0 and name in out and 'stopped' in out
    status, out, err = run(capsys, 'show', name)
    assert status == 0 and 'http_address' in out and 'stopped' in out
    status, out, err = run(capsys, 'status')
    assert status == 0 and '%s: stopped' % name in out
    status, out, err = run(capsys, 'status', name)
    assert status == 3
    status, out, err = run(capsys, 'build', name, '--output',
                           str(home / 'fe'))
    assert status == 0
    for filename in ('nginx-scgi.conf', 'nginx-proxy.conf', 'apache.conf',
                     'lighttpd.conf', 'stunnel.conf'):
        assert os.path.exists(home / 'fe' / filename), filename
    # A new site has SCGI off (issue 15), so there is no cgi2scgi for it.
    assert not os.path.exists(home / 'fe' / 'cgi2scgi')
    status, out, err = run(capsys, 'log', name)
    assert status == 1 and 'no log yet' in err
    status, out, err = run(capsys, 'log', name, '--process', 'nope')
    assert status == 2 and err.count('\n') == 1
    status, out, err = run(capsys, 'stop', name)
    assert status == 0 and 'was not running' in out
    status, out, err = run(capsys, 'shutdown')
    assert status == 0 and 'not running' in out


def test_one_line_errors(home, capsys):
    for argv in (['show', 'nosuch'], ['start', 'nosuch'], ['new', '1x'],
                 ['shell'], ['restart'], ['pack', 'nosuch']):
        status, out, err = run(capsys, *argv)
        assert status == 2, argv
        assert err.count('\n') == 1 and err.startswith('qpd: '), (argv, err)
    status, out, err = run(capsys, 'start')
    assert status == 2 and 'qpd new NAME' in err
