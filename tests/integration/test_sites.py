"""Sites under supervisord, for real: qpd new, start, a request, stop;
two sites side by side; status, list, show, log; one-line errors."""

import os

import pytest

from harness import QpdHome, find_processes_in, wait_until

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def home():
    home = QpdHome.make()
    try:
        yield home
    finally:
        assert home.cleanup() == [], 'processes outlived qpd shutdown'


def test_new_start_request_stop(home):
    home.new('hello')
    result = home.run('start', 'hello')
    assert 'site hello runs at http://127.0.0.1:%d/' % home.get_port(
        'hello') in result.stdout
    status, text = home.get('hello', '/')
    assert status == 200 and 'Welcome to hello' in text
    status, text = home.get('hello', '/static/style.css')
    assert status == 200 and 'body' in text
    assert os.stat(os.path.join(home.get_path(), 'var', 'supervisord.sock')
                   ).st_mode & 0o777 == 0o700
    result = home.run('status', 'hello')
    assert 'durus' in result.stdout and 'worker_01' in result.stdout
    # `qpd start` returns once the site answers: the second worker may say
    # HELLO to the dispatcher a moment later.
    wait_until(lambda: 'pool: workers 2' in home.run('status', 'hello').stdout,
               timeout=20)
    result = home.run('list')
    assert 'hello' in result.stdout and 'running' in result.stdout
    result = home.run('show', 'hello')
    assert 'max_children' in result.stdout
    home.run('stop', 'hello')
    with pytest.raises(OSError):
        home.get('hello', '/')
    result = home.run('status', 'hello', check=False)
    assert result.returncode == 3 and 'hello: stopped' in result.stdout
    # supervisord keeps running, with nothing of the site left
    assert home.get_supervisor().is_running()
    assert home.get_supervisor().get_process_infos('hello') == []


def test_two_sites_side_by_side(home):
    home.new('one')
    home.new('two')
    home.run('start')                       # every site
    assert 'Welcome to one' in home.get('one', '/')[1]
    assert 'Welcome to two' in home.get('two', '/')[1]
    home.get('one', '/visits')
    home.get('one', '/visits')
    assert '<p class="count" id="visits">1</p>' in home.get('two',
                                                            '/visits')[1]
    supervisor_pid = home.get_supervisor().get_pid()
    two_dispatcher = home.get_pid('two', 'dispatcher')
    home.run('stop', 'one')                 # the other site is untouched
    assert home.get_pid('two', 'dispatcher') == two_dispatcher
    assert home.get('two', '/')[0] == 200
    home.run('start', 'one')                # and back, same supervisord
    assert home.get_supervisor().get_pid() == supervisor_pid
    assert home.get_pid('two', 'dispatcher') == two_dispatcher
    assert '<p class="count" id="visits">3</p>' in home.get('one',
                                                            '/visits')[1]
    result = home.run('shutdown')
    assert 'supervisord stopped' in result.stdout
    assert find_processes_in(home.get_path()) == []
    home.run('start', 'two')                # both come back
    # `qpd start two` waits for two; one comes up beside it.
    wait_until(lambda: _answers(home, 'one'), timeout=30)


def _answers(home, name):
    try:
        return home.get(name, '/')[0] == 200
    except OSError:
        return False


def test_errors_are_one_line(home):
    home.new('one')
    home.new('two')
    slash = home.get_slash_path('two')
    text = open(slash).read()
    open(slash, 'w').write(text.replace(
        "http_address=('127.0.0.1', %d)" % home.get_port('two'),
        "http_address=('127.0.0.1', %d)" % home.get_port('one')))
    result = home.run('start', check=False)
    assert result.returncode == 2
    assert result.stderr.count('\n') == 1
    assert 'give one of them another port' in result.stderr
    result = home.run('start', 'nosuch', check=False)
    assert result.returncode == 2 and result.stderr.count('\n') == 1
    result = home.run('frobnicate', check=False)
    assert result.returncode == 2 and result.stderr.count('\n') == 1
    open(slash, 'w').write(text.replace('class SiteDirectory',
                                        'class OtherDirectory'))
    result = home.run('show', 'two', check=False)
    assert result.returncode == 2 and result.stderr.count('\n') == 1
    assert 'SiteDirectory' in result.stderr
    result = home.run('shell', 'one', '-c', 'pass', check=False)
    assert result.returncode == 1 and 'qpd start one' in result.stderr


def test_start_explains_a_site_that_does_not_start(home):
    home.new('broken', shutdown_timeout=1)
    slash = home.get_slash_path('broken')
    text = open(slash).read()
    with open(slash, 'a') as f:
        f.write('\nimport no_such_module_here\n')
    result = home.run('start', 'broken', check=False)
    assert result.returncode == 1
    assert result.stderr.startswith(
        'qpd: site broken: its slash module fails to import: '
        'ModuleNotFoundError')
    assert 'Traceback' not in result.stderr
    open(slash, 'w').write(text)
    var = os.path.join(home.get_path(), 'sites', 'broken', 'var')
    os.makedirs(var)
    with open(os.path.join(var, 'broken.durus'), 'wb') as f:
        f.write(b'this is not a durus file' * 10)
    result = home.run('start', 'broken', '--timeout', '20', check=False)
    assert result.returncode == 1
    assert 'site broken did not answer' in result.stderr, result.stderr
    assert 'durus is' in result.stderr and 'within 20s' not in result.stderr
    assert 'last lines of %s/durus.log' % var in result.stderr
