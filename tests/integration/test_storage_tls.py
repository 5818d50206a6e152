"""The StorageServer over mutual TLS, on loopback (no namespaces needed):
a real `python -m qpd.storage.server --tls` process and real Durus
clients. Commits and invalidations pass between clients, a client
reconnects after the server restarts, and a client without a
certificate, with one of another CA, or speaking plain TCP is refused
and the refusal is logged. Also `qpd certs`, the configuration's refusal
of plain TCP beyond loopback, roles per host, and `qpd build --hosts`.
"""

import os
import re
import shutil
import ssl
import stat
import subprocess
import sys
import time

import pytest

from qpd.config import ConfigurationError, check_configuration
from qpd.ops.certs import make_ca, write_host_files
from qpd.storage.connection import (
    StorageUnavailable, connect, is_disconnected, ping, reconnect)
from qpd.storage.tls import TLSAddress, make_client_context

SLASH = '''
from qpd.web.publish import Publisher
from qpd.web.directory import Directory


class SitePublisher(Publisher):
    configuration = %r


class SiteDirectory(Directory):
    _q_exports = ['']

    def _q_index(self):
        return 'hi'
'''


def wait_until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, 'timed out: %r' % predicate
        time.sleep(0.02)


class TLSServer:
    """A StorageServer process over TLS with the files in directory."""

    def __init__(self, tmp_path, tls_directory, port=0):
        self.tmp_path = tmp_path
        self.tls_directory = tls_directory
        self.log = str(tmp_path / 'durus.log')
        self.start(port)

    def start(self, port):
        self.process = subprocess.Popen(
            [sys.executable, '-m', 'qpd.storage.server',
             str(self.tmp_path / 'tls.durus'), '127.0.0.1:%d' % port,
             '--tls', self.tls_directory],
            stdout=subprocess.PIPE, stderr=open(self.log, 'a'), text=True)
        line = self.process.stdout.readline()
        assert line.startswith('READY durus'), line
        self.port = int(line.split()[-1].rsplit(':', 1)[1])

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        self.process.stdout.close()

    def read_log(self):
        with open(self.log) as f:
            return f.read()


@pytest.fixture
def pki(tmp_path):
    """The site's CA, the storage host's files (server), a web host's
    (client), and a client of another CA."""
    ca_key, ca_cert = make_ca('t')
    write_host_files(str(tmp_path / 'store'), ca_key, ca_cert, 'store',
                     ['127.0.0.1', 'localhost'], server=True)
    write_host_files(str(tmp_path / 'web1'), ca_key, ca_cert, 'web1')
    other_key, other_cert = make_ca('other')
    write_host_files(str(tmp_path / 'other'), other_key, other_cert, 'web1')
    return tmp_path


@pytest.fixture
def tls_server(pki):
    server = TLSServer(pki, str(pki / 'store'))
    yield server
    server.stop()


def client_address(pki, server, name='web1'):
    return TLSAddress('127.0.0.1', server.port,
                      make_client_context(str(pki / name)))


def test_commits_and_invalidations_pass_over_tls(pki, tls_server):
    address = client_address(pki, tls_server)
    one = connect(address)
    two = connect(address)
    one.get_root()['greeting'] = 'hello'
    one.commit()
    two.abort()      # a sync: the server sent the invalidation
    assert two.get_root()['greeting'] == 'hello'
    round_trip, transport = ping(address)
    assert transport in ('TLSv1.2', 'TLSv1.3')
    assert round_trip > 0


def test_a_client_reconnects_after_a_restart(pki, tls_server):
    address = client_address(pki, tls_server)
    connection = connect(address)
    connection.get_root()['n'] = 1
    connection.commit()
    tls_server.stop()
    tls_server.start(tls_server.port)
    with pytest.raises(OSError):
        connection.abort()
        connection.get_root()['n'] = 2
        connection.commit()
    assert is_disconnected(connection)
    reconnect(connection, wait=10)
    assert connection.get_root()['n'] == 1
    connection.get_root()['n'] = 2
    connection.commit()
    other = connect(address)
    assert other.get_root()['n'] == 2


def _refused(address):
    with pytest.raises((StorageUnavailable, OSError)):
        ping(address)


def test_strangers_are_refused_and_logged(pki, tls_server):
    # No certificate at all (but trusting the server).
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.load_verify_locations(str(pki / 'store' / 'ca.pem'))
    _refused(TLSAddress('127.0.0.1', tls_server.port, bare))
    # A certificate of another CA (trusting the server).
    stranger = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    stranger.load_verify_locations(str(pki / 'store' / 'ca.pem'))
    stranger.load_cert_chain(str(pki / 'other' / 'host.pem'),
                             str(pki / 'other' / 'host.key'))
    _refused(TLSAddress('127.0.0.1', tls_server.port, stranger))
    # Plain TCP, as a stock Durus client speaks.
    _refused(('127.0.0.1', tls_server.port))

    def logged():
        text = tls_server.read_log()
        return all(reason in text for reason in (
            'no client certificate', "not signed by the site's CA",
            'not TLS'))
    wait_until(logged, timeout=5)
    assert len(re.findall('refused a client at 127.0.0.1:',
                          tls_server.read_log())) == 3
    # The server still serves its own clients.
    assert ping(client_address(pki, tls_server))[1].startswith('TLSv1.')


@pytest.mark.filterwarnings('ignore::DeprecationWarning')
def test_tls_older_than_1_2_is_refused(pki, tls_server):
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(str(pki / 'store' / 'ca.pem'))
    old.load_cert_chain(str(pki / 'web1' / 'host.pem'),
                        str(pki / 'web1' / 'host.key'))
    try:
        old.minimum_version = ssl.TLSVersion.TLSv1_1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    except (ValueError, ssl.SSLError):
        pytest.skip('this OpenSSL cannot even offer TLS 1.1')
    _refused(TLSAddress('127.0.0.1', tls_server.port, old))


def test_a_stalled_handshake_does_not_stall_others(pki, tls_server):
    import socket
    idle = socket.create_connection(('127.0.0.1', tls_server.port))
    try:
        assert ping(client_address(pki, tls_server))[0] > 0
    finally:
        idle.close()


# Configuration ----------------------------------------------------------

def test_plain_tcp_beyond_loopback_is_refused():
    with pytest.raises(ConfigurationError) as info:
        check_configuration('demo', {'durus_address': ('10.1.2.3', 2972)})
    message = str(info.value)
    assert '\n' not in message
    assert message.startswith('site demo: durus_address 10.1.2.3:2972 is '
                              'plain TCP')
    assert 'durus_tls=True' in message
    assert 'durus_allow_insecure_plain_tcp=True' in message
    for address in ('0.0.0.0:2972', 'store.example.com:2972'):
        with pytest.raises(ConfigurationError):
            check_configuration('demo', {'durus_address': address})
    # TLS, or the loud opt-out pass (loopback too needs one of them: see
    # tests/test_hardening_27.py).
    check_configuration('demo', {'durus_address': ('10.1.2.3', 2972),
                                 'durus_tls': True})
    check_configuration('demo', {'durus_address': ('10.1.2.3', 2972),
                                 'durus_allow_insecure_plain_tcp': True})


def test_hosts_need_one_storage_host_and_tcp():
    with pytest.raises(ConfigurationError, match='one storage host'):
        check_configuration('demo', {'hosts': {'a': ['web'], 'b': ['web']}})
    with pytest.raises(ConfigurationError, match='unix socket'):
        check_configuration('demo', {'hosts': {'a': ['storage'],
                                               'b': ['web']}})
    with pytest.raises(ConfigurationError, match='hosts'):
        check_configuration('demo', {'hosts': {'a': ['storage', 'cook']}})


def _write_site(home, name, configuration):
    from qpd.site import Site
    package = os.path.join(home, 'sites', name)
    os.makedirs(package)
    open(os.path.join(package, '__init__.py'), 'w').close()
    with open(os.path.join(package, 'slash.py'), 'w') as f:
        f.write(SLASH % (configuration,))
    return Site(name, home)


SEVERAL = {
    'http_address': ('0.0.0.0', 8001),
    'scgi_address': ('0.0.0.0', 8002),
    'front_end_beyond_loopback': True,
    'durus_address': ('10.9.0.2', 2972),
    'durus_tls': True,
    'hosts': {'store': ['storage'], 'web1': ['web'], 'web2': ['web']},
    'max_children': 2,
}


def test_each_host_runs_its_roles(tmp_path, monkeypatch):
    from qpd.ops.supervisor import get_program_names, make_site_conf
    home = str(tmp_path / 'home')
    name = 'roles_%d' % os.getpid()
    _write_site(home, name, SEVERAL)
    from qpd.site import Site
    monkeypatch.setenv('QPD_HOST', 'store')
    assert get_program_names(Site(name, home)) == ['durus']
    monkeypatch.setenv('QPD_HOST', 'web2')
    site = Site(name, home)
    assert get_program_names(site) == ['dispatcher', 'worker_00',
                                       'worker_01']
    assert 'program:%s-durus' % name not in make_site_conf(site)
    monkeypatch.setenv('QPD_HOST', 'elsewhere')
    with pytest.raises(ConfigurationError, match='QPD_HOST'):
        get_program_names(Site(name, home))


def _qpd(home, *words, env=None):
    return subprocess.run(
        [sys.executable, '-m', 'qpd', '--home', home] + list(words),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, **(env or {})), timeout=60)


def test_qpd_certs_makes_a_ca_and_a_certificate_per_host(tmp_path):
    from cryptography import x509
    home = str(tmp_path / 'home')
    name = 'certs_%d' % os.getpid()
    _write_site(home, name, SEVERAL)
    result = _qpd(home, 'certs', name, '--storage-name', 'store.internal')
    assert result.returncode == 0, result.stderr
    directory = os.path.join(home, 'certs', name)
    for host in ('store', 'web1', 'web2'):
        for filename in ('ca.pem', 'host.pem', 'host.key'):
            path = os.path.join(directory, host, filename)
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        assert stat.S_IMODE(os.stat(os.path.join(
            directory, host)).st_mode) == 0o700
    for filename in ('ca.key', 'ca.pem', 'README'):
        assert stat.S_IMODE(os.stat(os.path.join(
            directory, filename)).st_mode) == 0o600
    with open(os.path.join(directory, 'README')) as f:
        readme = f.read()
    assert 'web1/' in readme and 'var/tls' in readme and 'ca.key' in readme
    with open(os.path.join(directory, 'store', 'host.pem'), 'rb') as f:
        server = x509.load_pem_x509_certificate(f.read())
    alt = server.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert 'store' in alt.get_values_for_type(x509.DNSName)
    assert 'store.internal' in alt.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in alt.get_values_for_type(x509.IPAddress)] == [
        '10.9.0.2']
    # Again: the CA and the hosts are kept.
    with open(os.path.join(directory, 'ca.pem')) as f:
        ca = f.read()
    again = _qpd(home, 'certs', name)
    assert again.returncode == 0, again.stderr
    assert 'kept the CA' in again.stdout
    with open(os.path.join(directory, 'ca.pem')) as f:
        assert f.read() == ca


def test_a_web_host_without_its_files_gets_one_line(tmp_path):
    home = str(tmp_path / 'home')
    name = 'nofiles_%d' % os.getpid()
    _write_site(home, name, SEVERAL)
    result = _qpd(home, 'shell', name, '-c', 'print(1)',
                  env={'QPD_HOST': 'web1'})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert 'durus_tls_directory' in lines[0] and 'qpd certs' in lines[0]


def test_build_hosts_prints_upstreams(tmp_path):
    home = str(tmp_path / 'home')
    name = 'front_%d' % os.getpid()
    _write_site(home, name, SEVERAL)
    result = _qpd(home, 'build', name, '--hosts',
                  '10.9.0.11:8001,10.9.0.12', env={'QPD_HOST': 'web1'})
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert 'upstream %s_http {' % name in text
    assert 'server 10.9.0.11:8001 max_fails=1 fail_timeout=10s;' in text
    assert 'server 10.9.0.12:8001 max_fails=1 fail_timeout=10s;' in text
    assert 'keepalive 16;' in text
    assert 'proxy_next_upstream error timeout;' in text
    assert 'non_idempotent' not in text
    assert 'proxy_set_header Connection "";' in text
    assert 'upstream %s_scgi {' % name in text
    assert 'server 10.9.0.12:8002 max_fails=1' in text
    assert 'scgi_next_upstream error timeout;' in text
    nginx = shutil.which('nginx') or '/usr/sbin/nginx'
    if not os.path.exists(nginx):
        return
    # nginx itself accepts both.
    for part in text.split('# ==== ')[1:]:
        body = part.split('\n', 1)[1]
        conf = tmp_path / 'nginx.conf'
        params = '/etc/nginx/scgi_params'
        body = body.replace('include scgi_params;', 'include %s;' % params
                            if os.path.exists(params) else '')
        body = body.replace('listen 80;', 'listen 127.0.0.1:1;')
        conf.write_text('error_log stderr;\npid %s/nginx.pid;\n'
                        'events {}\nhttp {\n%s\n}\n' % (tmp_path, body))
        check = subprocess.run([nginx, '-t', '-p', str(tmp_path), '-c',
                                str(conf)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        assert check.returncode == 0, check.stdout
