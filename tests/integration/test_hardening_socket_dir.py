"""Issue 15, finding 1: the short socket directory a site falls back to
(when its var path is too long for a unix socket) cannot be planted by
another local user.

The attacker is a real second user (`qpdattacker`, made with useradd when
missing); its part runs in a child process with that uid. The victim is a
real `qpd durus` process, which must refuse to start with one line naming
the directory, or, in a fresh runtime directory, make it 0700 so that the
attacker cannot even reach the StorageServer's socket.
"""

import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

import pytest

from harness import Cluster, make_home

ATTACKER = 'qpdattacker'
# The attacker cannot run the venv's python (it lives under /root).
PYTHON = shutil.which('python3', path='/usr/bin:/bin') or sys.executable


@pytest.fixture(scope='module')
def attacker():
    if os.getuid() != 0:
        pytest.skip('needs root to make and become a second local user')
    try:
        entry = pwd.getpwnam(ATTACKER)
    except KeyError:
        if shutil.which('useradd') is None:
            pytest.skip('no useradd to make a second local user')
        subprocess.run(['useradd', '--system', '--no-create-home',
                        '--shell', '/usr/sbin/nologin', ATTACKER],
                       check=True)
        entry = pwd.getpwnam(ATTACKER)
    return entry.pw_uid, entry.pw_gid


def as_attacker(attacker, code):
    """Run python code as the attacker; -> CompletedProcess."""
    uid, gid = attacker
    return subprocess.run([PYTHON, '-c', code], user=uid, group=gid,
                          extra_groups=[], capture_output=True, text=True,
                          cwd='/', timeout=30)


@pytest.fixture
def runtime(tmp_path):
    """A shared directory like /tmp (root's, mode 1777) to stand for the
    fallback base; XDG_RUNTIME_DIR points at it."""
    base = tempfile.mkdtemp(prefix='qpd-rt-', dir='/tmp')
    os.chmod(base, 0o1777)
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def long_home(tmp_path):
    var = os.path.join(str(tmp_path), 'v' * 60, 'w' * 60, 'var')
    return make_home(tmp_path, configuration={'var_directory': var})


def start_durus(home, runtime):
    env = dict(os.environ, QPD_HOME=home, XDG_RUNTIME_DIR=runtime)
    return subprocess.run(
        [sys.executable, '-m', 'qpd', '--home', home, 'durus', 'hello'],
        env=env, capture_output=True, text=True, timeout=30)


def test_planted_directory_is_refused(tmp_path, attacker, runtime):
    mine = os.path.join(runtime, 'qpd-%d' % os.getuid())
    planted = as_attacker(attacker, 'import os; os.mkdir(%r); '
                                    'os.chmod(%r, 0o777)' % (mine, mine))
    assert planted.returncode == 0, planted.stderr
    assert os.stat(mine).st_uid == attacker[0]
    result = start_durus(long_home(tmp_path), runtime)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert mine in lines[0] and 'owned by uid %d' % attacker[0] in lines[0]
    # Nothing of ours went into it.
    assert os.listdir(mine) == []


def test_our_directory_with_loose_mode_is_refused(tmp_path, attacker,
                                                  runtime):
    mine = os.path.join(runtime, 'qpd-%d' % os.getuid())
    os.mkdir(mine)
    os.chmod(mine, 0o777)
    result = start_durus(long_home(tmp_path), runtime)
    assert result.returncode == 1
    assert mine in result.stderr and 'mode 0777' in result.stderr


def test_symlink_is_refused(tmp_path, attacker, runtime):
    target = tempfile.mkdtemp(prefix='qpd-target-', dir='/tmp')
    try:
        mine = os.path.join(runtime, 'qpd-%d' % os.getuid())
        made = as_attacker(attacker, 'import os; os.symlink(%r, %r)' % (
            target, mine))
        assert made.returncode == 0, made.stderr
        result = start_durus(long_home(tmp_path), runtime)
        assert result.returncode == 1
        assert mine in result.stderr and 'not a directory' in result.stderr
    finally:
        shutil.rmtree(target, ignore_errors=True)


def test_writable_parent_without_sticky_bit_is_refused(tmp_path, attacker,
                                                       runtime):
    os.chmod(runtime, 0o777)
    result = start_durus(long_home(tmp_path), runtime)
    assert result.returncode == 1
    assert runtime in result.stderr and 'not sticky' in result.stderr


def test_fresh_directory_is_private(tmp_path, attacker, runtime):
    home = long_home(tmp_path)
    cluster = Cluster(home)
    cluster.env['XDG_RUNTIME_DIR'] = runtime
    with cluster:
        cluster.start_durus()
        mine = os.path.join(runtime, 'qpd-%d' % os.getuid())
        for path in [mine] + [os.path.join(mine, name)
                              for name in os.listdir(mine)]:
            info = os.lstat(path)
            assert stat.S_ISDIR(info.st_mode)
            assert info.st_uid == os.getuid()
            assert stat.S_IMODE(info.st_mode) == 0o700
        (digest,) = os.listdir(mine)
        sock = os.path.join(mine, digest, 'durus.sock')
        assert os.path.exists(sock)
        # We reach it; the attacker cannot.
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(sock)
        assert not attacker_connects(attacker, sock)


# SCGI on a unix socket: the site user's alone, or a group's. -------------

def scgi_home(tmp_path, **configuration):
    """A site whose SCGI listener is a unix socket in a directory others
    may traverse (like /run/qpd), and the socket's path."""
    public = tempfile.mkdtemp(prefix='qpd-scgi-', dir='/tmp')
    os.chmod(public, 0o711)
    path = os.path.join(public, 'scgi.sock')
    configuration.update(http_address=('127.0.0.1', 0), scgi_address=path)
    return make_home(tmp_path, configuration=configuration), path, public


def attacker_connects(attacker, path):
    tried = as_attacker(attacker, (
        'import socket, sys\n'
        's = socket.socket(socket.AF_UNIX)\n'
        'try:\n'
        '    s.connect(%r)\n'
        'except PermissionError:\n'
        '    sys.exit(3)\n') % path)
    assert tried.returncode in (0, 3), tried.stderr
    return tried.returncode == 0


def test_scgi_unix_socket_is_private(tmp_path, attacker):
    home, path, public = scgi_home(tmp_path)
    try:
        with Cluster(home) as cluster:
            cluster.start('dispatcher', 'dispatcher', 'hello').wait_ready()
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
            assert not attacker_connects(attacker, path)
    finally:
        shutil.rmtree(public, ignore_errors=True)


def test_scgi_unix_socket_for_a_group(tmp_path, attacker):
    group = pwd.getpwuid(attacker[0]).pw_name      # its own group
    home, path, public = scgi_home(tmp_path, unix_socket_group=group)
    try:
        with Cluster(home) as cluster:
            cluster.start('dispatcher', 'dispatcher', 'hello').wait_ready()
            info = os.stat(path)
            assert stat.S_IMODE(info.st_mode) == 0o660
            assert info.st_gid == attacker[1]
            assert attacker_connects(attacker, path)
    finally:
        shutil.rmtree(public, ignore_errors=True)
