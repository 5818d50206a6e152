"""qpd shell and qpd pack on a live site: the shell is one more client of
the site's StorageServer."""

import os
import re

import pytest

from qpd.ops.supervisor import get_qpd_command
from harness import QpdHome

pytestmark = pytest.mark.timeout(180)

NAME = 'shelly'


@pytest.fixture(scope='module')
def home():
    home = QpdHome.make()
    try:
        home.new(NAME)
        home.run('start', NAME)
        yield home
    finally:
        assert home.cleanup() == [], 'processes outlived qpd shutdown'


def visits(home):
    status, text = home.get(NAME, '/visits')
    assert status == 200
    return int(re.search(r'id="visits">(\d+)<', text).group(1))


def test_shell_commits_what_the_next_request_sees(home):
    visits(home)
    home.run('shell', NAME, '-c',
             "root['visits'].count = 41; commit()")
    assert visits(home) == 42


def test_shell_reads_what_a_request_committed(home):
    count = visits(home)
    result = home.run('shell', NAME, '-c',
                      "print(root['visits'].get_count())")
    assert result.stdout.strip() == str(count)


def test_shell_exit_status_and_names(home):
    result = home.run('shell', NAME, '-c', '1/0', check=False)
    assert result.returncode == 1
    assert 'ZeroDivisionError' in result.stderr
    result = home.run('shell', NAME, '-c', 'import sys; sys.exit(3)',
                      check=False)
    assert result.returncode == 3
    result = home.run('shell', NAME, '-c', (
        'print(sorted(k for k in globals() if not k.startswith("_")))'))
    for name in ('abort', 'commit', 'connection', 'create_user', 'pp',
                 'publisher', 'root', 'sessions', 'site', 'users'):
        assert repr(name) in result.stdout


def test_shell_creates_an_admin_who_signs_in(home):
    home.run('shell', NAME, '-c', "create_user('ann', 'pw', admin=True)")
    import requests
    session = requests.Session()
    base = 'http://127.0.0.1:%d' % home.get_port(NAME)
    page = session.get(base + '/sign_in').text
    fields = dict(re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    fields.update(qpd_sign_in_user='ann', qpd_sign_in_password='pw')
    response = session.post(base + '/sign_in', data=fields)
    assert response.status_code == 200
    response = session.get(base + '/users/')
    assert response.status_code == 200 and '>ann</a>' in response.text


def test_interactive_shell_round_trip(home):
    pexpect = pytest.importorskip('pexpect')
    visits(home)                       # root['visits'] exists
    command = get_qpd_command() + ['--home', home.get_path(), 'shell',
                                   NAME, '--plain']
    child = pexpect.spawn(command[0], command[1:], encoding='utf-8',
                          timeout=30, cwd=home.get_path())
    try:
        child.expect('qpd shell: site %s' % NAME)
        child.expect('>>> ')
        child.sendline("root['visits'].count = 99; commit()")
        child.expect('>>> ')
        assert visits(home) == 100
        child.sendline("abort(); print('count is', "
                       "root['visits'].get_count())")
        child.expect(r'count is 100')
        child.expect('>>> ')
        child.sendline('roo\t')          # tab completion: root
        child.expect('PersistentDict 0')
        child.expect('>>> ')
        child.sendcontrol('d')
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_pack_a_live_site(home):
    for _ in range(20):
        visits(home)
    count = visits(home)
    result = home.run('pack', NAME)
    assert re.search(r'packed %s: \d+ bytes -> \d+ bytes' % NAME,
                     result.stderr), result.stderr
    assert visits(home) == count + 1      # serving all along, nothing lost


def test_ipython_shell_round_trip(home):
    """With IPython installed, `qpd shell` is IPython with the same names."""
    pexpect = pytest.importorskip('pexpect')
    pytest.importorskip('IPython')
    visits(home)
    command = get_qpd_command() + ['--home', home.get_path(), 'shell', NAME]
    env = dict(os.environ, TERM='xterm', PROMPT_TOOLKIT_NO_CPR='1',
               IPYTHONDIR=os.path.join(home.get_path(), 'ipython'))
    color = r'(?:\x1b\[[0-9;]*m)*'
    prompt = r'In \[' + color + '%d' + color + r'\]: '   # colored
    child = pexpect.spawn(command[0], command[1:], encoding='utf-8',
                          timeout=30, cwd=home.get_path(), env=env,
                          dimensions=(40, 200))
    try:
        child.expect('qpd shell: site %s' % NAME)
        child.expect(prompt % 1)
        child.send("root['visits'].count = 7; commit()\r")
        child.expect(prompt % 2)
        assert visits(home) == 8
        child.send("abort(); print('names', sorted(k for k in "
                       "('site', 'publisher', 'connection', 'root', 'users', "
                       "'sessions', 'commit', 'abort', 'pp', 'create_user') "
                       "if k in globals()).__len__(), "
                       "root['visits'].get_count())\r")
        child.expect(r'names 10 8')
        child.expect(prompt % 3)
        child.send('exit\r')
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


def test_shell_commit_waits_for_the_write_turn(home):
    """A hit holding the write turn is not committed over by the shell:
    its commit() waits until the turn is given back."""
    import subprocess
    import time
    from qpd.server.write_turn import open_write_turn
    from qpd.site import Site
    visits(home)
    turn = open_write_turn(Site(NAME, home=home.get_path()))
    release = turn.acquire()
    try:
        shell = subprocess.Popen(
            get_qpd_command() + ['--home', home.get_path(), 'shell', NAME,
                                 '-c', "root['visits'].count = 499; "
                                 "commit(); print('committed')"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=home.get_path())
        time.sleep(3)
        assert shell.poll() is None          # waiting for the turn
    finally:
        release()
        turn.close()
    out, err = shell.communicate(timeout=30)
    assert shell.returncode == 0, err
    assert out.strip() == 'committed'
    assert visits(home) == 500
