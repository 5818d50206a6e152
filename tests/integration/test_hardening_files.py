"""Issue 27's findings with real processes. #10: TLS files that are
garbage, mismatched, readable by others or expired give one line naming
the file and the fix from the StorageServer (`qpd durus`), `qpd shell`
and the workers, never an ssl.SSLError traceback; a certificate near its
end is a warning at start; `qpd certs NAME --revoke HOST` makes the
StorageServer refuse that host. #12: a shipped 0755 var and 0644 .durus
are closed at start, so `nobody` reads neither. #9: a Range with
non-ASCII digits is no 500. #16: several hosts share one signing key,
made and rotated with the certificates. Every test here failed before
its fix.
"""

import datetime
import os
import shutil
import subprocess
import sys

import pytest

from qpd.ops.certs import make_ca, write_host_files
from qpd.storage.connection import StorageUnavailable, ping
from qpd.storage.tls import TLSAddress, make_client_context

from test_storage_tls import _qpd, _write_site

pytestmark = pytest.mark.timeout(120)

SEVERAL = {
    'http_address': ('127.0.0.1', 0),
    'scgi_address': None,
    'as_https_address': None,
    'durus_address': ('10.9.0.2', 2972),
    'durus_tls': True,
    'hosts': {'store': ['storage'], 'web1': ['web'], 'web2': ['web']},
    'max_children': 1,
}


def _expired_certificate(ca_key, ca_cert, host):
    """A host certificate of the CA that ended yesterday."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID
    from qpd.ops.certs import make_key
    key = make_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = x509.CertificateBuilder().subject_name(x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, host)])).issuer_name(
        ca_cert.subject).public_key(key.public_key()).serial_number(
        x509.random_serial_number()).not_valid_before(
        now - datetime.timedelta(days=10)).not_valid_after(
        now - datetime.timedelta(days=1)).add_extension(
        x509.SubjectAlternativeName([x509.DNSName(host)]),
        critical=False).sign(ca_key, hashes.SHA256())
    return key, cert


def _spoil(directory, how, pki):
    """Spoil the TLS files in directory as `how` says; the file named."""
    from qpd.ops.certs import _cert_bytes, _key_bytes
    from qpd.lib.private_dir import write_private_file
    if how == 'garbage certificate':
        write_private_file(os.path.join(directory, 'host.pem'),
                           b'-----BEGIN CERTIFICATE-----\nnot one\n')
        return 'host.pem'
    if how == 'garbage key':
        write_private_file(os.path.join(directory, 'host.key'), b'junk\n')
        return 'host.key'
    if how == 'mismatched key':
        shutil.copyfile(os.path.join(str(pki), 'other', 'host.key'),
                        os.path.join(directory, 'host.key'))
        return 'host.key'
    if how == 'key readable by others':
        os.chmod(os.path.join(directory, 'host.key'), 0o644)
        return 'host.key'
    if how == 'expired certificate':
        key, cert = _expired_certificate(pki.ca_key, pki.ca_cert, 'x')
        write_private_file(os.path.join(directory, 'host.key'),
                           _key_bytes(key))
        write_private_file(os.path.join(directory, 'host.pem'),
                           _cert_bytes(cert))
        return 'host.pem'
    raise AssertionError(how)


@pytest.fixture
def pki(tmp_path):
    ca_key, ca_cert = make_ca('t')
    root = tmp_path / 'pki'
    write_host_files(str(root / 'store'), ca_key, ca_cert, 'store',
                     ['127.0.0.1', 'localhost'], server=True)
    write_host_files(str(root / 'web1'), ca_key, ca_cert, 'web1')
    other_key, other_cert = make_ca('other')
    write_host_files(str(root / 'other'), other_key, other_cert, 'web1')
    return _PKI(root, ca_key, ca_cert)


class _PKI:
    """The site's CA and the directory of the hosts' files."""

    def __init__(self, root, ca_key, ca_cert):
        self.root = root
        self.ca_key = ca_key
        self.ca_cert = ca_cert

    def __str__(self):
        return str(self.root)

    def __truediv__(self, name):
        return self.root / name


SPOILS = ['garbage certificate', 'garbage key', 'mismatched key',
          'key readable by others', 'expired certificate']


def _one_line(stderr, filename):
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert 'Traceback' not in stderr and 'SSLError' not in stderr
    assert filename in lines[0]
    return lines[0]


@pytest.mark.parametrize('how', SPOILS)
def test_storage_server_says_one_line(pki, tmp_path, how):
    directory = str(pki / 'store')
    filename = _spoil(directory, how, pki)
    result = subprocess.run(
        [sys.executable, '-m', 'qpd.storage.server',
         str(tmp_path / 'tls.durus'), '127.0.0.1:0', '--tls', directory],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    line = _one_line(result.stderr, filename)
    assert 'qpd certs' in line or 'chmod 600' in line


@pytest.mark.parametrize('how', SPOILS)
def test_qpd_durus_and_shell_say_one_line(pki, tmp_path, how):
    home = str(tmp_path / 'home')
    name = 'tlsfiles'
    site = _write_site(home, name, SEVERAL)
    var = os.path.join(home, 'sites', name, 'var')
    os.makedirs(var, mode=0o700)
    # The storage host: qpd durus NAME.
    shutil.copytree(str(pki / 'store'), os.path.join(var, 'tls'))
    filename = _spoil(os.path.join(var, 'tls'), how, pki)
    result = _qpd(home, 'durus', name, env={'QPD_HOST': 'store'})
    assert result.returncode == 1, result.stderr
    line = _one_line(result.stderr, filename)
    assert 'qpd certs %s' % name in line or 'chmod 600' in line
    # A web host: qpd shell NAME, and a worker.
    shutil.rmtree(os.path.join(var, 'tls'))
    shutil.copytree(str(pki / 'web1'), os.path.join(var, 'tls'))
    _spoil(os.path.join(var, 'tls'), how, pki)
    result = _qpd(home, 'shell', name, '-c', 'print(1)',
                  env={'QPD_HOST': 'web1'})
    assert result.returncode == 2, result.stderr
    line = _one_line(result.stderr, filename)
    assert 'durus_tls_directory' in line
    result = _qpd(home, 'worker', name, '--index', '0',
                  env={'QPD_HOST': 'web1'})
    assert result.returncode != 0
    assert 'Traceback' not in result.stderr, result.stderr
    assert filename in result.stderr and 'SSLError' not in result.stderr
    assert site.get_name() == name


def test_a_certificate_near_its_end_is_a_warning(pki, tmp_path):
    directory = str(tmp_path / 'soon')
    write_host_files(directory, pki.ca_key, pki.ca_cert, 'store',
                     ['127.0.0.1'], server=True)
    from qpd.ops.certs import make_host_certificate, _cert_bytes, _key_bytes
    from qpd.lib.private_dir import write_private_file
    key, cert = make_host_certificate(pki.ca_key, pki.ca_cert, 'store',
                                      ['127.0.0.1'], server=True, days=10)
    write_private_file(os.path.join(directory, 'host.key'), _key_bytes(key))
    write_private_file(os.path.join(directory, 'host.pem'), _cert_bytes(cert))
    log = open(str(tmp_path / 'durus.log'), 'w')
    process = subprocess.Popen(
        [sys.executable, '-m', 'qpd.storage.server',
         str(tmp_path / 'tls.durus'), '127.0.0.1:0', '--tls', directory],
        stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        assert process.stdout.readline().startswith('READY durus')
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()
        log.close()
    with open(str(tmp_path / 'durus.log')) as f:
        text = f.read()
    assert 'host.pem expires on' in text and 'qpd certs NAME --renew' in text


def test_a_revoked_host_is_refused(tmp_path):
    from qpd.ops.certs import revoke_host, write_site_certs
    home = str(tmp_path / 'home')
    site = _write_site(home, 'revoking', SEVERAL)
    certs = str(tmp_path / 'certs')
    write_site_certs(site, certs, ['127.0.0.1'])
    stolen = str(tmp_path / 'stolen')
    shutil.copytree(os.path.join(certs, 'web2'), stolen)
    serve_dir = str(tmp_path / 'store-tls')

    def start():
        process = subprocess.Popen(
            [sys.executable, '-m', 'qpd.storage.server',
             str(tmp_path / 'tls.durus'), '127.0.0.1:0', '--tls', serve_dir],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = process.stdout.readline()
        assert line.startswith('READY durus'), line
        return process, int(line.split()[-1].rsplit(':', 1)[1])

    def stop(process):
        process.terminate()
        process.wait(10)
        process.stdout.close()

    def address(port, directory):
        return TLSAddress('127.0.0.1', port, make_client_context(directory))

    shutil.copytree(os.path.join(certs, 'store'), serve_dir)
    process, port = start()
    try:
        assert ping(address(port, stolen))[1].startswith('TLSv1.')
    finally:
        stop(process)
    revoke_host(site, certs, 'web2')
    assert not os.path.exists(os.path.join(certs, 'web2'))
    shutil.copyfile(os.path.join(certs, 'store', 'crl.pem'),
                    os.path.join(serve_dir, 'crl.pem'))
    process, port = start()
    try:
        with pytest.raises((StorageUnavailable, OSError)):
            ping(address(port, stolen))
        assert ping(address(port, os.path.join(certs, 'web1')))[1] \
            .startswith('TLSv1.')
    finally:
        stop(process)
    result = _qpd(home, 'certs', 'revoking', '--output', certs,
                  '--revoke', 'nohost')
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert 'no certificate of host nohost' in result.stderr


# Issue 27 #9 and #12, served --------------------------------------------------

def _as_nobody_can_read(path):
    """Can the user nobody open path for reading?"""
    import pwd
    try:
        nobody = pwd.getpwnam('nobody')
    except KeyError:
        pytest.skip('no user nobody')

    def drop():
        os.setgid(nobody.pw_gid)
        os.setgroups([])
        os.setuid(nobody.pw_uid)
    result = subprocess.run(['head', '-c', '1', path], preexec_fn=drop,
                            capture_output=True, timeout=30)
    return result.returncode == 0


def test_a_shipped_0755_var_is_closed_at_start(request):
    # QP sites ship var/: 0755 here, its .durus file 0644, and the home
    # readable by all, so that nobody could read the whole database.
    from harness import Cluster, make_home
    from durus.connection import Connection
    from durus.file_storage import FileStorage
    if os.getuid() != 0:
        pytest.skip('needs root to act as nobody')
    import tempfile
    root = tempfile.mkdtemp(prefix='qpd-shipped-', dir='/tmp')
    request.addfinalizer(lambda: shutil.rmtree(root, ignore_errors=True))
    home = make_home(root)
    for directory in (root, home, os.path.join(home, 'sites'),
                      os.path.join(home, 'sites', 'hello')):
        os.chmod(directory, 0o755)
    var = os.path.join(home, 'sites', 'hello', 'var')
    os.mkdir(var)
    os.chmod(var, 0o755)
    durus = os.path.join(var, 'hello.durus')
    connection = Connection(FileStorage(durus))
    connection.get_root()['qpd_secret'] = b's' * 32
    connection.commit()
    connection.get_storage().close()
    os.chmod(durus, 0o644)
    assert _as_nobody_can_read(durus)            # the attack, before start
    with Cluster(home) as cluster:
        cluster.start_durus()
        assert os.stat(var).st_mode & 0o777 == 0o700
        assert os.stat(durus).st_mode & 0o777 == 0o600
        assert not _as_nobody_can_read(durus)
        secret = os.path.join(var, 'secret.key')
        assert os.stat(secret).st_mode & 0o777 == 0o600
    os.chmod(var, 0o755)                      # even with var opened again
    assert not _as_nobody_can_read(durus)
    assert not _as_nobody_can_read(secret)


def test_range_with_a_non_ascii_digit_is_not_a_500(tmp_path):
    import socket
    from harness import Cluster, add_static_file, make_home
    home = make_home(tmp_path, configuration={
        'scgi_address': None, 'as_https_address': None})
    add_static_file(home, 'data.bin', b'x' * 1000)
    slash = os.path.join(home, 'sites', 'hello', 'slash.py')
    with open(slash) as f:
        text = f.read()
    text = text.replace("_q_exports = ['', ", "_q_exports = ['static', '', ")
    text += '''
    from qpd.web.static import StaticDirectory as _Static
    import os as _os
    static = _Static(_os.path.join(_os.path.dirname(__file__), 'static'))
'''
    with open(slash, 'w') as f:
        f.write(text)
    with Cluster(home) as cluster:
        cluster.boot(workers=1)
        for value in (b'bytes=\xb2-', b'bytes=-\xb9', b'bytes=0-\xb3'):
            sock = socket.create_connection(
                ('127.0.0.1', cluster.get_port()), timeout=10)
            try:
                sock.sendall(b'GET /static/data.bin HTTP/1.1\r\nHost: '
                             b'localhost\r\nRange: ' + value +
                             b'\r\nConnection: close\r\n\r\n')
                answer = b''
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    answer += data
            finally:
                sock.close()
            status = answer.split(b'\r\n', 1)[0]
            assert status in (b'HTTP/1.1 200 OK', b'HTTP/1.1 416 Range '
                              b'Not Satisfiable'), (value, answer[:300])
        log = os.path.join(home, 'sites', 'hello', 'var', 'hello.log')
        if os.path.exists(log):
            with open(log, errors='replace') as f:
                assert 'Traceback' not in f.read()


def test_several_hosts_share_one_signing_key(tmp_path):
    # Issue 27 #16: the key left the database, which every web host
    # shared; on several hosts it travels with the TLS files instead.
    from qpd.lib.secret_file import SecretFile
    from qpd.ops.certs import revoke_host, write_site_certs
    home = str(tmp_path / 'home')
    site = _write_site(home, 'sharing', SEVERAL)
    certs = os.path.join(home, 'certs', 'sharing')
    write_site_certs(site, certs, ['127.0.0.1'])
    keys = [SecretFile(os.path.join(certs, host, 'secret.key')).get_current()
            for host in ('store', 'web1', 'web2')]
    assert keys[0] == keys[1] == keys[2]
    os.environ['QPD_HOST'] = 'web1'
    try:
        from qpd.site import Site
        assert Site('sharing', home).get_secret_file() == os.path.join(
            home, 'sites', 'sharing', 'var', 'tls', 'secret.key')
    finally:
        del os.environ['QPD_HOST']
    result = _qpd(home, 'secret', 'sharing', '--rotate',
                  env={'QPD_HOST': 'web1'})
    assert result.returncode == 0, result.stderr
    web1 = SecretFile(os.path.join(certs, 'web1', 'secret.key'))
    assert web1.get_current() != keys[0]
    assert web1.get_keys(3600) == [web1.get_current(), keys[0]]
    revoke_host(site, certs, 'web2')
    after = SecretFile(os.path.join(certs, 'web1', 'secret.key'))
    assert after.get_current() not in (keys[0], web1.current)
    assert SecretFile(os.path.join(certs, 'store', 'secret.key')) \
        .get_current() == after.get_current()
