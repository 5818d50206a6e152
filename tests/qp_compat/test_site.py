"""QP compatibility: qp.lib.site -> qpd.site, qp.hub -> qpd.server, and
qp.lib.util/tz -> qpd.lib, one test per entry of docs/qp_api.md. Sites
live in a temporary qpd home; connections go to a real StorageServer."""

import io
import os
import pickle
import socket
import subprocess
import sys
import threading
from datetime import datetime

import pytest

from qpd.lib import tz
from qpd.lib.util import import_object, randbytes
from qpd.server import scgi
from qpd.site import Site

ROOT_SLASH = '''
from qpd.web.directory import Directory
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = CONFIGURATION


class SiteRootDirectory(Directory):
    """QP's name for the root."""


SiteDirectory = SiteRootDirectory
'''


@pytest.fixture
def site(make_publish_site):
    return make_publish_site()


# qp/lib/site -----------------------------------------------------------------

def test_site(site):
    assert isinstance(site, Site)
    assert site.get_package_directory() == os.path.join(
        site.get_home(), 'sites', site.get_name())


def test_site_get_sites(site):
    sites = Site.get_sites(site.get_home())
    assert list(sites) == [site.get_name()]
    assert isinstance(sites[site.get_name()], Site)


def test_site_names(site):
    assert site.get_package_name() == 'qpd.sites.' + site.get_name()
    assert os.path.isdir(site.get_package_directory())


def test_site_get_package(site):
    package = site.get_package()
    assert package.__name__ == site.get_package_name()


def test_site_get_publisher_class(site):
    assert site.get_publisher_class().__name__ == 'SitePublisher'


def test_site_get_root_directory_class(site, make_site):
    assert site.get_root_directory_class().__name__ == 'SiteDirectory'
    qp_style = make_site(ROOT_SLASH)
    assert qp_style.get_root_directory_class().__name__ == 'SiteRootDirectory'


def test_site_get_configuration(site):
    configuration = site.get_configuration()
    assert configuration['max_children'] == site.get_max_children()
    assert os.path.isabs(configuration['var_directory'])


def test_site_get(site):
    assert site.get('max_children') == site.get_max_children()
    assert site.get('https_address', 'x') == 'x'  # unset: the default


def test_site_path(site):
    assert site.site_path('slash.qpy') == os.path.join(
        site.get_package_directory(), 'slash.qpy')
    assert site.site_path() == site.get_package_directory()


def test_site_paths(site):
    for path in (site.get_var_directory(), site.get_static_directory(),
                 site.get_logfile(), site.get_durus_file()):
        assert os.path.isabs(path)


def test_site_get_banned(site):
    assert isinstance(site.get_banned(), (set, frozenset))
    assert os.path.isabs(site.get_banned_file())


def test_site_addresses(site):
    assert site.get_durus_address()
    for address in (site.get_scgi_address(), site.get_http_address(),
                    site.get_as_https_address(), site.get_https_address()):
        assert address is None or isinstance(address, (tuple, str))


def test_site_get_web_addresses(site):
    assert site.get_web_addresses() == [
        address for key, address in site.get_listening_addresses()]
    assert site.get_web_addresses()


def test_site_worker_settings(site):
    assert site.get_max_children() >= 1
    assert site.get_durus_cache_size() >= 1
    assert site.get_script_name() == ''


def test_site_get_durus_logginglevel():
    # Decided: no setting (README, "Differences from QP").
    assert not hasattr(Site, 'get_durus_logginglevel')


def test_site_pidfiles():
    # Decided: supervisord runs the processes; `qpd status` reports them.
    for name in ('get_durus_pidfile', 'get_web_pidfile', 'is_durus_running'):
        assert not hasattr(Site, name)
    assert 'status' in _qpd_commands()


def test_site_get_publisher(site):
    publisher = site.get_create_publisher()
    assert site.get_publisher() is publisher      # made once
    assert publisher.get_site() is site
    publisher.get_connection().get_storage().close()


def test_site_get_connection(site):
    connection = site.get_connection()
    try:
        assert connection.get_root() is not None
    finally:
        connection.get_storage().close()


def _qpd_commands():
    result = subprocess.run([sys.executable, '-m', 'qpd', '--help'],
                            capture_output=True, text=True)
    return result.stdout


def test_site_server_control():
    # Decided: `qpd` subcommands instead of Site methods.
    commands = _qpd_commands()
    for command in ('start', 'stop', 'status', 'log', 'build', 'show', 'shell'):
        assert '    %s ' % command in commands
    assert not hasattr(Site, 'start_web')


def test_site_change_uid_gid():
    # Decided: supervisord starts the processes as their user.
    assert not hasattr(Site, 'change_uid_gid')


# qp/hub ----------------------------------------------------------------------

def test_hub_server():
    from qpd.server.dispatcher import Dispatcher
    assert isinstance(Dispatcher, type)


def test_model_connection_handler():
    from qpd.server.worker import Worker
    assert isinstance(Worker, type)


def test_request_handlers():
    from qpd.server import protocol
    assert callable(protocol.parse_scgi) and callable(protocol.parse_http_head)


def test_run_web():
    assert 'serve' in _qpd_commands()


def test_netstring_and_read_env():
    data = scgi.scgi_request(b'body', PATH_INFO='/x', HTTP_HOST='example.com')
    stream = io.BytesIO(data)
    environ = scgi.read_env(stream)
    assert environ['CONTENT_LENGTH'] == '4' and environ['SCGI'] == '1'
    assert environ['PATH_INFO'] == '/x' and environ['HTTP_HOST'] == 'example.com'
    assert stream.read() == b'body'
    assert scgi.ns_reads(io.BytesIO(b'5:hello,')) == b'hello'
    assert scgi.ns_read_size(io.BytesIO(b'12:')) == 12
    for bad in (b'5:hello;', b'x:', b'5:hel', b'05:hello,'):
        with pytest.raises(ValueError):
            scgi.ns_reads(io.BytesIO(bad))
    with pytest.raises(ValueError):
        scgi.read_env(io.BytesIO(b'8:SCGI\x001\x00\x00,'))


def test_scgi_request_and_send_scgi():
    request = scgi.scgi_request('hé', REQUEST_METHOD='POST')
    assert request.startswith(b'%d:CONTENT_LENGTH\x003\x00SCGI\x001\x00'
                              % (request.index(b',') - request.index(b':') - 1))
    assert request.endswith('hé'.encode())
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    received = {}

    def serve():
        connection, _ = listener.accept()
        with connection, connection.makefile('rb') as stream:
            received['environ'] = scgi.read_env(stream)
            received['body'] = stream.read(int(received['environ']['CONTENT_LENGTH']))
            connection.sendall(b'Status: 200 OK\r\n\r\nhi')
    thread = threading.Thread(target=serve)
    thread.start()
    try:
        response = scgi.send_scgi(listener.getsockname()[1], '127.0.0.1',
                                  content=b'abc', PATH_INFO='/p')
    finally:
        thread.join(10)
        listener.close()
    assert response == b'Status: 200 OK\r\n\r\nhi'
    assert received['environ']['PATH_INFO'] == '/p' and received['body'] == b'abc'


# qp/lib/util, qp/lib/tz ---------------------------------------------------

def test_import_object():
    assert import_object('os.path') is os.path
    assert import_object('os.path.join') is os.path.join
    with pytest.raises((ImportError, AttributeError)):
        import_object('os.no_such_name')


def test_randbytes():
    value = randbytes(8)
    assert len(value) == 16 and int(value, 16) >= 0
    assert randbytes(8) != value


def test_time_zones():
    paris = tz.get_zone('Europe/Paris')
    moment = datetime(2024, 7, 1, 12, tzinfo=paris)
    assert pickle.loads(pickle.dumps(moment)) == moment
    assert tz.to_utc(moment).hour == 10
    assert tz.get_now().utcoffset().total_seconds() == 0
    assert pickle.loads(pickle.dumps(tz.UTC)) == tz.UTC
