"""Issue 27's findings 7, 9, 10, 12, 13, 14 and 16 (qpd_secret), each
rerun against qpd's own code: every test here failed before its fix. The
ones that need a served site are in tests/integration/test_hardening_files.py.
"""

import os
import pwd
import stat
import subprocess
import sys
import time

import pytest
from durus.connection import Connection
from durus.file_storage import FileStorage
from durus.persistent_dict import PersistentDict

from tests.conftest import DurusServer


def _mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.fixture
def nobody():
    try:
        return pwd.getpwnam('nobody')
    except KeyError:
        pytest.skip('no user nobody')


SLASH = '''
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = CONFIGURATION
'''


def _site_with_database(make_site, tmp_path):
    site = make_site(SLASH, var_directory=str(tmp_path / 'var'))
    os.makedirs(site.get_var_directory(), exist_ok=True)
    connection = Connection(FileStorage(site.get_durus_file()))
    connection.get_root()['qpd_secret'] = b'k' * 32
    connection.get_root()['data'] = PersistentDict(n=1)
    connection.commit()
    connection.get_storage().close()
    return site


# 7. Backups readable by, or owned by, other users -------------------------

@pytest.mark.file_storage('qpd backup copies the Durus file')
def test_backup_is_0600_under_umask_022(make_site, tmp_path, umask_022):
    from qpd.ops.backup import backup_site
    site = _site_with_database(make_site, tmp_path)
    shared = tmp_path / 'shared'
    shared.mkdir(mode=0o1777)
    os.chmod(shared, 0o1777)
    target, size, copied = backup_site(site, str(shared / 'site.durus'))
    assert _mode(target) == 0o600
    assert os.listdir(shared) == ['site.durus']      # no partial left


@pytest.mark.file_storage('qpd backup copies the Durus file')
def test_backup_never_writes_through_a_premade_partial(
        make_site, tmp_path, umask_022, nobody):
    # In a 1777 directory, nobody makes TARGET.partial first: a symlink to
    # a file of theirs, and (second run) a file of theirs.
    from qpd.ops.backup import backup_site
    site = _site_with_database(make_site, tmp_path)
    shared = tmp_path / 'shared'
    shared.mkdir()
    os.chmod(shared, 0o1777)
    os.chmod(tmp_path, 0o755)
    theirs = tmp_path / 'theirs'
    theirs.write_bytes(b'')
    os.chown(theirs, nobody.pw_uid, nobody.pw_gid)
    target = shared / 'site.durus'
    partial = shared / 'site.durus.partial'
    os.symlink(theirs, partial)
    os.lchown(partial, nobody.pw_uid, nobody.pw_gid)
    backup_site(site, str(target))
    assert theirs.read_bytes() == b''               # nothing written there
    info = os.lstat(target)
    assert stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid()
    assert _mode(target) == 0o600

    os.unlink(target)
    os.unlink(partial)
    partial.write_bytes(b'')
    os.chown(partial, nobody.pw_uid, nobody.pw_gid)
    os.chmod(partial, 0o666)
    backup_site(site, str(target))
    info = os.lstat(target)
    assert info.st_uid == os.getuid() and _mode(target) == 0o600
    assert partial.read_bytes() == b''


@pytest.mark.file_storage('qpd backup copies the Durus file')
def test_incremental_backup_refuses_a_symlink_or_anothers_file(
        make_site, tmp_path, nobody):
    from qpd.ops.backup import backup_site
    from qpd.ops.errors import OperationError
    site = _site_with_database(make_site, tmp_path)
    first = tmp_path / 'first.durus'
    backup_site(site, str(first))
    link = tmp_path / 'link.durus'
    os.symlink(first, link)
    with pytest.raises(OperationError) as info:
        backup_site(site, str(link), incremental=True)
    assert 'symlink' in str(info.value) and '\n' not in str(info.value)
    os.chown(first, nobody.pw_uid, nobody.pw_gid)
    with pytest.raises(OperationError) as info:
        backup_site(site, str(first), incremental=True)
    assert 'not by you' in str(info.value)
    os.chown(first, os.getuid(), os.getgid())
    os.chmod(first, 0o644)
    backup_site(site, str(first), incremental=True)
    assert _mode(first) == 0o600


def test_torn_tail_is_saved_0600(tmp_path, umask_022):
    from qpd.storage.durable import recover_tail
    path = str(tmp_path / 'db.durus')
    connection = Connection(FileStorage(path))
    connection.get_root()['x'] = 1
    connection.commit()
    connection.get_storage().close()
    with open(path, 'ab') as f:
        f.write(b'\0\0\0\0\0\0\0\x40' + b'torn')
    side = recover_tail(path, say=lambda line: None)
    assert side is not None and _mode(side) == 0o600


def test_certs_never_write_through_a_symlink(make_site, tmp_path, umask_022):
    # Held before (unlink, then O_EXCL); kept now that certs use the
    # one private-file helper.
    from qpd.ops.certs import write_site_certs
    site = make_site(SLASH)
    directory = tmp_path / 'certs'
    directory.mkdir()
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.write_bytes(b'')
    os.symlink(elsewhere, directory / 'ca.key')
    write_site_certs(site, str(directory))
    assert elsewhere.read_bytes() == b''
    for root, dirs, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            assert not os.path.islink(path)
            assert _mode(path) == 0o600, path


# 12. An existing var directory is not tightened ------------------------------

def test_storage_server_tightens_var_and_durus_file(tmp_path, umask_022):
    # A QP site ships var/ (0755 here), and its .durus file was 0644.
    var = tmp_path / 'var'
    var.mkdir()
    os.chmod(var, 0o755)
    connection = Connection(FileStorage(str(var / 'test.durus')))
    connection.get_root()['x'] = 1
    connection.commit()
    connection.get_storage().close()
    os.chmod(var / 'test.durus', 0o644)
    server = DurusServer(str(var)).start()
    try:
        assert _mode(var) == 0o700
        assert _mode(var / 'test.durus') == 0o600
    finally:
        server.stop()


def test_storage_server_makes_a_new_file_0600(tmp_path, umask_022):
    var = tmp_path / 'var'
    var.mkdir()
    server = DurusServer(str(var)).start()
    try:
        assert _mode(var / 'test.durus') == 0o600
        connection = server.connect()
        connection.get_root()['x'] = 1
        connection.commit()
    finally:
        server.stop()


def test_site_var_directory_is_tightened(make_site, tmp_path):
    var = tmp_path / 'var'
    var.mkdir()
    os.chmod(var, 0o755)
    site = make_site(SLASH, var_directory=str(var))
    assert site.ensure_var_directory() == str(var)
    assert _mode(var) == 0o700


# 9. Range: bytes=\xb2- ---------------------------------------------------------

@pytest.mark.parametrize('header', ['bytes=\xb2-', 'bytes=-\xb2', 'bytes=1-\xb2',
                                    'bytes=\u0661-', 'bytes=0-1,\xb3-'])
def test_range_with_non_ascii_digits_is_ignored(tmp_path, header):
    import io
    from qpd.web.request import HTTPRequest
    from qpd.web.response import HTTPResponse
    from qpd.web.static import StaticFile
    path = tmp_path / 'data.bin'
    path.write_bytes(b'x' * 100)
    request = HTTPRequest(io.BytesIO(b''), {
        'REQUEST_METHOD': 'GET', 'PATH_INFO': '/', 'SERVER_NAME': 'x',
        'SERVER_PORT': '80', 'HTTP_RANGE': header})
    response = HTTPResponse()
    StaticFile(str(path)).respond(request, response)
    response.finish(request)
    try:
        assert response.get_status_code() == 200
        assert b''.join(response.iter_body()) == b'x' * 100
    finally:
        response.close()


# 13. qpd deploy follows symlinks when staging --------------------------------

DEPLOY_SLASH = '''\
from qpd.web.directory import Directory
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = dict(http_address=('127.0.0.1', 8765))


class SiteDirectory(Directory):
    pass
'''


def _package(directory):
    os.makedirs(os.path.join(directory, 'static'), exist_ok=True)
    open(os.path.join(directory, '__init__.py'), 'w').close()
    with open(os.path.join(directory, 'slash.py'), 'w') as f:
        f.write(DEPLOY_SLASH)


@pytest.fixture
def deploy_site(tmp_path):
    from qpd.site import Site
    home = tmp_path / 'home'
    _package(str(home / 'sites' / 'hello'))
    return Site('hello', home=str(home))


def test_deploy_refuses_a_link_out_of_the_source(deploy_site, tmp_path):
    from qpd.ops import deploy as deploying
    from qpd.ops.errors import OperationError
    source = tmp_path / 'two'
    _package(str(source))
    os.symlink('/etc/hostname', source / 'static' / 'host.txt')
    with pytest.raises(OperationError) as info:
        deploying.deploy(deploy_site, str(source))
    message = str(info.value)
    assert 'host.txt' in message and '/etc/hostname' in message
    assert '\n' not in message
    assert deploying.get_current_release(deploy_site) is None
    releases = deploying.get_releases_directory(deploy_site)
    assert not os.path.exists(releases) or not [
        n for n in os.listdir(releases) if n.startswith('.staging-')]


def test_deploy_copies_inner_links_as_links(deploy_site, tmp_path):
    from qpd.ops import deploy as deploying
    source = tmp_path / 'two'
    _package(str(source))
    (source / 'static' / 'a.txt').write_text('a')
    os.symlink('a.txt', source / 'static' / 'b.txt')
    os.symlink(str(source / 'static' / 'a.txt'), source / 'static' / 'c.txt')
    deploying.deploy(deploy_site, str(source))
    static = os.path.join(deploy_site.get_package_directory(), 'static')
    for name in ('b.txt', 'c.txt'):
        path = os.path.join(static, name)
        assert os.path.islink(path)
        assert os.readlink(path) == 'a.txt'     # into the release


# 14. Masking: one rule for headers, fields, locals and database names ---------

CREDENTIAL_HEADERS = {'X-Api-Key': 'k3y-of-the-api', 'X-Auth-Token': 'tok3n-x',
                      'X-Client-Secret': 's3cret-x',
                      'Authorization': 'Bearer b3arer-x',
                      'Cookie': 'a=c00kie-x'}


def test_debug_page_masks_credential_headers():
    import io
    from qpd.web.debug import format_debug_page
    from qpd.web.request import HTTPRequest
    environ = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/boom',
               'SERVER_NAME': 'example.com', 'SERVER_PORT': '80',
               'HTTP_USER_AGENT': 'curl/8'}
    for name, value in CREDENTIAL_HEADERS.items():
        environ['HTTP_' + name.upper().replace('-', '_')] = value
    request = HTTPRequest(io.BytesIO(b''), environ)
    request.process_inputs()
    try:
        raise ValueError('boom %r' % environ)
    except ValueError:
        page = format_debug_page(sys.exc_info(), request)
    for value in CREDENTIAL_HEADERS.values():
        assert value.split('=')[-1] not in page, value
    assert 'X-Api-Key' in page and 'curl/8' in page


def _boom_publisher():
    from durus.file_storage import TempFileStorage
    from qpd.web.directory import Directory
    from qpd.web.publish import Publisher

    class Root(Directory):
        _q_exports = ['boom']

        def boom(self):
            raise ValueError('boom')

    class SitePublisher(Publisher):
        configuration = {}
    publisher = SitePublisher(connection=Connection(TempFileStorage()))
    publisher.set_root_directory(Root())
    return publisher


def test_error_report_leaves_out_credential_headers(caplog):
    from qpd.web.profile import Profile
    publisher = _boom_publisher()
    profile = Profile(publisher)
    with caplog.at_level('ERROR'):
        response = profile.request('GET', '/boom', headers=dict(
            CREDENTIAL_HEADERS, **{'User-Agent': 'curl/8'}))
    assert response.get_status_code() == 500
    report = '\n'.join(r.getMessage() for r in caplog.records)
    assert 'HTTP_X_API_KEY: (not shown)' in report
    assert 'curl/8' in report
    for value in CREDENTIAL_HEADERS.values():
        assert value.split('=')[-1] not in report, value


@pytest.mark.parametrize('name', ['smtp_api_key', 'db_password', 'my_secret',
                                  'reset_token', 'HTTP_X_API_KEY'])
def test_durus_directory_masks_sensitive_names(name):
    from qpd.web.durus_directory import is_credential
    root = PersistentDict()
    assert is_credential(root, name, 'value-in-clear')
    assert not is_credential(root, 'title', 'value-in-clear')


# 16 (3). qpd_secret lived in the database root --------------------------------

FORM_SLASH = '''
from qpd.web.directory import Directory
from qpd.web.form import Form
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = CONFIGURATION


class SiteDirectory(Directory):
    _q_exports = ['a']

    def a(self):
        form = Form()
        form.add_string('name')
        form.add_submit('save', 'Save')
        if not form.is_submitted() or form.has_errors():
            return form.render()
        return 'saved %s' % form.get('name')
'''


def _token_of(text):
    import re
    return re.search(r'name="_form_token" value="([^"]+)"', text).group(1)


def _post_a(profile, token):
    return profile.post('/a', name='x', save='Save', _form_token=token)


def test_secret_is_a_private_file_not_a_root_entry(make_site, durus_server,
                                                   umask_022):
    from qpd.web.profile import Profile
    site = make_site(FORM_SLASH, durus_address=durus_server.address)
    profile = Profile(site)
    token = _token_of(profile.get_text(profile.get('/a')))
    assert token.count('.') == 2                    # a stateless token
    connection = durus_server.connect()
    assert 'qpd_secret' not in connection.get_root()
    path = site.get_secret_file()
    assert _mode(path) == 0o600
    assert _post_a(profile, token).get_status_code() == 200


def test_old_root_secret_is_migrated(make_site, durus_server):
    from qpd.lib.secret_file import SecretFile
    from qpd.web.profile import Profile
    connection = durus_server.connect()
    connection.get_root()['qpd_secret'] = b'o' * 32
    connection.commit()
    site = make_site(FORM_SLASH, durus_address=durus_server.address)
    profile = Profile(site)
    profile.get('/a')
    connection.abort()
    assert 'qpd_secret' not in connection.get_root()
    assert SecretFile(site.get_secret_file()).get_current() == b'o' * 32


def test_storage_server_migrates_and_makes_the_key_at_start(tmp_path):
    from qpd.lib.secret_file import SecretFile
    from tests.conftest import write_site
    home = str(tmp_path / 'home')
    name = 'keyed_at_start'     # its own: a process imports a name once
    site = write_site(home, name, 'CONFIGURATION = {}\n' + SLASH)
    var = site.ensure_var_directory()
    connection = Connection(FileStorage(site.get_durus_file()))
    connection.get_root()['qpd_secret'] = b'p' * 32
    connection.commit()
    connection.get_storage().close()
    process = subprocess.Popen(
        [sys.executable, '-m', 'qpd', '--home', home, 'durus', name],
        stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith('READY durus')
        keys = SecretFile(os.path.join(var, 'secret.key'))
        assert keys.get_current() == b'p' * 32
        assert _mode(keys.path) == 0o600
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()      # never left behind for the next tests
            process.wait(10)
            raise
        process.stdout.close()
    # Opened to others since: the next start closes it, with one line.
    os.chmod(keys.path, 0o644)
    result = subprocess.Popen(
        [sys.executable, '-m', 'qpd', '--home', home, 'durus', name],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert result.stdout.readline().startswith('READY durus')
        assert _mode(keys.path) == 0o600
    finally:
        result.terminate()
        result.wait(10)
        result.stdout.close()
    lines = result.stderr.read().strip().splitlines()
    result.stderr.close()
    assert len(lines) == 1 and keys.path in lines[0], lines
    assert 'qpd secret keyed_at_start --rotate' in lines[0]
    connection = Connection(FileStorage(site.get_durus_file(),
                                        readonly=True))
    assert 'qpd_secret' not in connection.get_root()
    connection.get_storage().close()


@pytest.mark.file_storage(
    "rotates var/secret.key; on PostgreSQL the key is the database's, "
    "which only a StorageServer given --secret writes there")
def test_rotation_keeps_old_tokens_for_a_bounded_grace(make_site,
                                                       durus_server):
    from qpd.lib.secret_file import SecretFile
    from qpd.web.profile import Profile
    site = make_site(FORM_SLASH, durus_address=durus_server.address,
                     form_token_lifetime=3600)
    profile = Profile(site)
    before = _token_of(profile.get_text(profile.get('/a')))
    keys = SecretFile(site.get_secret_file())
    old = keys.get_current()
    result = subprocess.run(
        [sys.executable, '-m', 'qpd', '--home', site.get_home(), 'secret',
         site.get_name(), '--rotate'], capture_output=True, text=True,
        timeout=60)
    assert result.returncode == 0, result.stderr
    assert 'rotated' in result.stdout + result.stderr
    assert keys.get_current() != old
    assert keys.get_keys(3600) == [keys.get_current(), old]
    assert keys.get_keys(3600, now=time.time() + 3601) == [
        keys.get_current()]
    # The running publisher sees the new key, and still takes the old
    # one's token.
    after = _token_of(profile.get_text(profile.get('/a')))
    assert _post_a(profile, before).get_status_code() == 200
    assert _post_a(profile, after).get_status_code() == 200
    # Past the grace, a token of the key before is refused.
    third = _token_of(profile.get_text(profile.get('/a')))
    keys.rotate(now=time.time() - 3601)
    refused = _post_a(profile, third)
    assert 'saved x' not in profile.get_text(refused)
    assert 'saved x' in profile.get_text(_post_a(profile, _token_of(
        profile.get_text(profile.get('/a')))))


def test_a_secret_file_readable_by_others_is_closed(tmp_path):
    from qpd.lib.secret_file import SecretFile
    lines = []
    keys = SecretFile(str(tmp_path / 'secret.key'), say=lines.append)
    assert keys.ensure()
    assert not keys.ensure()
    os.chmod(keys.path, 0o644)
    keys.get_current()
    assert _mode(keys.path) == 0o600
    assert len(lines) == 1 and keys.path in lines[0]
    assert '--rotate' in lines[0]


# 12. Key file modes checked at start ------------------------------------------

def test_a_ca_key_readable_by_others_is_refused(make_site, tmp_path):
    from qpd.ops.certs import write_site_certs
    from qpd.ops.errors import OperationError
    site = make_site(SLASH)
    directory = str(tmp_path / 'certs')
    write_site_certs(site, directory)
    os.chmod(os.path.join(directory, 'ca.key'), 0o644)
    with pytest.raises(OperationError) as info:
        write_site_certs(site, directory)
    message = str(info.value)
    assert '\n' not in message and 'ca.key' in message
    assert 'chmod 600' in message


def test_a_deployed_sites_linked_var_is_tightened(make_site, tmp_path):
    # After qpd deploy, sites/NAME/var is a link to releases/NAME/var.
    real = tmp_path / 'releases-var'
    real.mkdir()
    os.chmod(real, 0o755)
    os.symlink(real, tmp_path / 'var')
    site = make_site(SLASH, var_directory=str(tmp_path / 'var'))
    site.ensure_var_directory()
    assert _mode(real) == 0o700


# 11. The metrics listener, bounded ---------------------------------------------

def _ask(port, data, timeout=5):
    import socket
    sock = socket.create_connection(('127.0.0.1', port), timeout=timeout)
    try:
        sock.sendall(data)
        answer = b''
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return answer
            answer += chunk
    finally:
        sock.close()


def test_metrics_server_answers_and_bounds():
    import socket
    import threading
    from prometheus_client import CollectorRegistry, Counter
    from qpd.server import metrics
    from qpd.server.listeners import open_listener
    threads = threading.active_count()
    registry = CollectorRegistry()
    Counter('qpd_test_things', 'things', registry=registry).inc()
    server = metrics.MetricsServer(open_listener(('127.0.0.1', 0)), registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    idle = []
    try:
        answer = _ask(port, b'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n')
        assert answer.startswith(b'HTTP/1.0 200 OK\r\n')
        assert b'qpd_test_things_total 1.0' in answer
        head = _ask(port, b'HEAD / HTTP/1.1\r\n\r\n')
        assert head.startswith(b'HTTP/1.0 200') and head.endswith(b'\r\n\r\n')
        assert _ask(port, b'GET /x HTTP/1.1\r\n\r\n').startswith(
            b'HTTP/1.0 404')
        assert _ask(port, b'POST / HTTP/1.1\r\n\r\n').startswith(
            b'HTTP/1.0 405')
        assert _ask(port, b'GET /' + b'a' * (metrics.MAX_HEAD + 10)).startswith(
            b'HTTP/1.0 431')
        # More idle connections than the cap: the oldest are closed, and
        # a scrape still gets its answer at once.
        for _ in range(metrics.MAX_CONNECTIONS * 3):
            idle.append(socket.create_connection(('127.0.0.1', port)))
        assert _ask(port, b'GET / HTTP/1.0\r\n\r\n').startswith(
            b'HTTP/1.0 200')
        time.sleep(0.3)
        assert len(server.connections) <= metrics.MAX_CONNECTIONS
        assert threading.active_count() == threads + 1     # its own
    finally:
        for sock in idle:
            sock.close()
        server.shutdown()
        thread.join(5)
    assert not thread.is_alive()
