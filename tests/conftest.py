"""Shared fixtures for every test.

Durus StorageServer, for real (no mocks)
----------------------------------------

`durus_server` starts `python -m qpd.storage.server FILE SOCKET` in a
subprocess on a fresh database file and a private unix socket (in a short
temporary directory: unix socket paths are limited to ~100 bytes), waits
for its READY line, and yields a `DurusServer`:

    def test_something(durus_server):
        connection = durus_server.connect()        # a durus Connection
        durus_server.address                       # the socket path
        durus_server.durus_file                    # the FileStorage file
        durus_server.kill()                        # SIGKILL, then
        durus_server.start()                       # start again, same file

`durus_address` yields just the address, for tests that connect on their
own (`qpd.storage.connection.connect(durus_address)`). Every server and
connection is stopped at the end of the test.

`durus_server_factory(tcp=False, name='test')` starts more of them (on
TCP with tcp=True). `DurusServer(directory)` can also be used directly
(e.g. in a module-scoped fixture of your own); call `.stop()` when done.

QPD_TEST_STORAGE=postgresql
---------------------------

puts these fixtures (and make_site, make_home, QpdHome.new) on a new
database of the session's PostgreSQL cluster instead of a Durus file;
tests marked `@pytest.mark.file_storage('why')` are skipped then (see
harness.storage).
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile

import pytest

from harness import storage
from harness.postgres import postgres     # noqa: F401 (the session's cluster)

__all__ = ['DurusServer']


class DurusServer:
    """(directory:str, name:str='test', tcp=False, dsn=None,
        secret_file=None)
    A Durus StorageServer subprocess serving directory/NAME.durus (or the
    PostgreSQL database dsn names) on directory/durus.sock (or on a free
    TCP port of 127.0.0.1 with tcp=True); with secret_file, the site's
    signing key is kept there (qpd.lib.secret_file).
    """

    def __init__(self, directory, name='test', tcp=False, dsn=None,
                 secret_file=None):
        self.directory = directory
        self.dsn = dsn      # serve this PostgreSQL database, not a file
        self.secret_file = secret_file
        self.name = name
        self.durus_file = os.path.join(directory, name + '.durus')
        self.tcp = tcp
        if tcp:
            self.address = None     # set from the READY line
        else:
            self.address = os.path.join(directory, 'durus.sock')
        self.process = None
        self.ready_line = None
        self.connections = []

    def start(self):
        """() -> self: start the server and wait until it listens."""
        assert self.process is None or self.process.poll() is not None
        if self.tcp:
            # Keep the same port across restarts, once one was chosen.
            address = '%s:%s' % self.address if self.address else '127.0.0.1:0'
        else:
            address = self.address
        argv = [sys.executable, '-m', 'qpd.storage.server', self.durus_file,
                address, '--name', self.name]
        if self.dsn:
            argv.extend(['--dsn', self.dsn])
        if self.secret_file:
            argv.extend(['--secret', self.secret_file])
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE,
                                        text=True)
        line = self.process.stdout.readline()    # pytest-timeout guards this
        if not line.startswith('READY durus'):
            self.process.kill()
            raise RuntimeError('durus server did not start: %r' % line)
        self.ready_line = line.strip()
        if self.tcp:
            host, port = self.ready_line.split()[-1].rsplit(':', 1)
            self.address = (host, int(port))
        return self

    def get_pid(self):
        """() -> int"""
        return self.process.pid

    def is_running(self):
        """() -> bool"""
        return self.process is not None and self.process.poll() is None

    def connect(self, cache_size=10000):
        """(cache_size:int=10000) -> durus Connection, closed at teardown"""
        from qpd.storage.connection import connect
        connection = connect(self.address, cache_size=cache_size)
        self.connections.append(connection)
        return connection

    def kill(self):
        """() -> None: SIGKILL, as a crash would (the socket file stays)."""
        if self.is_running():
            self.process.send_signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self):
        """() -> None: SIGTERM (clean), SIGKILL if that does not work."""
        for connection in self.connections:
            try:
                connection.get_storage().close()
            except Exception:
                pass
        self.connections = []
        if self.is_running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self.process is not None and self.process.stdout:
            self.process.stdout.close()


def pytest_configure(config):
    from harness.processes import HarnessError
    try:
        storage.get_storage()
    except HarnessError as e:       # a mistyped QPD_TEST_STORAGE
        raise pytest.UsageError(str(e))
    config.addinivalue_line(
        'markers', 'file_storage(reason): the test opens the Durus file '
        'itself; skipped under QPD_TEST_STORAGE=postgresql')


def pytest_collection_modifyitems(config, items):
    if not storage.is_postgresql():
        return
    for item in items:
        marker = item.get_closest_marker('file_storage')
        if marker is not None:
            reason = marker.args[0] if marker.args else 'opens the Durus file'
            item.add_marker(pytest.mark.skip(
                reason='QPD_TEST_STORAGE=postgresql: %s' % reason))


@pytest.fixture(scope='session', autouse=True)
def _test_storage(request):
    """Under QPD_TEST_STORAGE=postgresql, hand the session's cluster to
    harness.storage (before any module fixture makes a site); on file
    storage, nothing (no cluster is started)."""
    if storage.is_postgresql():
        pytest.importorskip('psycopg')
        storage.use_cluster(request.getfixturevalue('postgres'))


def _start_test_server(server):
    """(server:DurusServer) -> server, started; make_site learns what
    database it serves (harness.storage.serving)."""
    server.start()
    storage.serving(server.address, server.dsn)
    return server


def _stop_test_server(server):
    storage.serving(server.address, None)
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture
def durus_server():
    """A running DurusServer on a new database; stopped after the test."""
    directory = tempfile.mkdtemp(prefix='qpd-durus-', dir='/tmp')
    server = DurusServer(directory, dsn=storage.server_dsn())
    try:
        yield _start_test_server(server)
    finally:
        _stop_test_server(server)


@pytest.fixture
def durus_server_factory():
    """A factory: durus_server_factory(tcp=False, name='test') -> a started
    DurusServer in a new directory (on a free TCP port with tcp=True);
    all are stopped after the test."""
    made = []

    def make(tcp=False, name='test'):
        directory = tempfile.mkdtemp(prefix='qpd-durus-', dir='/tmp')
        server = DurusServer(directory, name=name, tcp=tcp,
                             dsn=storage.server_dsn())
        made.append(server)
        return _start_test_server(server)
    yield make
    for server in made:
        _stop_test_server(server)


@pytest.fixture
def durus_address(durus_server):
    """The unix socket path of a running DurusServer (see durus_server)."""
    return durus_server.address


# Sites in a temporary home ---------------------------------------------------

_site_counter = [0]


def write_site(home, name, slash_source):
    """(home:str, name:str, slash_source:str) -> Site
    Write home/sites/NAME/{__init__.py,slash.py} and return the Site.
    Site packages import as qpd.sites.NAME once per process, so give each
    test's site its own name (make_site does).
    """
    from qpd.site import Site
    imported = sys.modules.get('qpd.sites.' + name)
    if imported is not None and not os.path.realpath(
            imported.__path__[0]).startswith(os.path.realpath(home)):
        # It would be that site, not this one, in this process.
        raise AssertionError('site name %r was already imported from %s in '
                             'this process: give this test\'s site its own '
                             'name' % (name, imported.__path__[0]))
    directory = os.path.join(home, 'sites', name)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, '__init__.py'), 'w') as f:
        f.write('')
    with open(os.path.join(directory, 'slash.py'), 'w') as f:
        f.write(slash_source)
    return Site(name, home=home)


@pytest.fixture
def make_site(tmp_path):
    """A factory: make_site(slash_source, name=None, **configuration) ->
    Site, in a temporary home. In slash_source, the name CONFIGURATION
    holds the configuration dict (so write `configuration = CONFIGURATION`
    in SitePublisher); pass durus_address=durus_server.address to use a
    test StorageServer. Under QPD_TEST_STORAGE=postgresql the site is
    configured for that server's database (see harness.storage)."""
    def make(slash_source, name=None, **configuration):
        _site_counter[0] += 1
        name = name or 'test_site_%d_%d' % (os.getpid(), _site_counter[0])
        configuration.setdefault('var_directory', str(tmp_path / 'var'))
        configuration.update(storage.site_configuration(configuration))
        source = 'CONFIGURATION = %r\n\n%s' % (configuration, slash_source)
        return write_site(str(tmp_path / 'home'), name, source)
    return make


PUBLISH_TEST_SLASH = '''
from durus.persistent_dict import PersistentDict

from qpd.web.common import (
    ensure_signed_in, get_field, get_hit, get_publisher, get_root, get_session,
    get_user, redirect, respond, sign_out)
from qpd.web.directory import Directory
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = CONFIGURATION


def _counters():
    root = get_root()
    if 'counters' not in root:
        root['counters'] = PersistentDict()
    return root['counters']


class SiteDirectory(Directory):

    _q_exports = ['', 'count', 'read', 'put', 'value', 'write_then_fail',
                  'whoami', 'form', 'basic', 'digest', 'token', 'use_token',
                  'sign_out', 'go', 'page', 'big']

    def _q_index(self):
        return 'Hello, world!'

    def count(self):
        counters = _counters()
        counters['n'] = counters.get('n', 0) + 1
        return str(counters['n'])

    def read(self):
        return str(get_root().get('counters', {}).get('n', 0))

    def put(self):
        get_root()['value'] = get_field('value')
        return 'ok'

    def value(self):
        return repr(get_root().get('value'))

    def write_then_fail(self):
        get_root()['value'] = 'doomed'
        raise RuntimeError('failing after a write')

    def whoami(self):
        user = get_user()
        return user.get_id() if user else 'nobody'

    def form(self):
        ensure_signed_in()
        return 'form: ' + get_user().get_id()

    def basic(self):
        get_publisher().ensure_signed_in_using_basic()
        return 'basic: ' + get_user().get_id()

    def digest(self):
        get_publisher().ensure_signed_in_using_digest()
        return 'digest: %s (%s)' % (
            get_user().get_id(), get_hit().get_info()['authentication'])

    def big(self):
        return ''.join('<p>line %d</p>\\n' % i for i in range(200))

    def token(self):
        return get_session().add_token()

    def use_token(self):
        return str(get_session().use_token(get_field('token')))

    def sign_out(self):
        sign_out()
        return 'signed out'

    def go(self):
        redirect('value?from=go')

    def page(self):
        respond('A <page>', 'with <text> & more', status=201)
'''


@pytest.fixture
def make_publish_site(make_site, durus_server):
    """A factory: make_publish_site(**configuration) -> a Site whose
    SitePublisher is a plain Publisher and whose SiteDirectory exercises
    the publisher (see PUBLISH_TEST_SLASH), on the durus_server."""
    def make(**configuration):
        configuration.setdefault('durus_address', durus_server.address)
        return make_site(PUBLISH_TEST_SLASH, **configuration)
    return make


@pytest.fixture
def publish_site(make_publish_site):
    """make_publish_site(): see there. `site_users(site)` adds the user
    'ann' (password 'secret', HTTP Digest digests included)."""
    return make_publish_site()


def add_test_user(site, user_id='ann', password='secret'):
    """(site:Site, user_id:str='ann', password:str='secret') -> None
    Store a user with password in the site's realm (HTTP Digest too)."""
    publisher = site.make_publisher()
    connection = publisher.get_connection()
    publisher.ensure_initialized()
    user = publisher.add_user(user_id)
    user.set_password(password, realm=publisher.get_realm(), http_digest=True)
    connection.commit()
    connection.get_storage().close()


@pytest.fixture
def site_users():
    """The add_test_user function: site_users(site, 'ann', 'secret')."""
    return add_test_user
