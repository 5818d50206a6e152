"""qpd.config: the one table of configuration keys, how Site checks a
site's configuration against it, the values derived from it, and the
README's table generated from it."""

import os
import re
import subprocess
import sys

import pytest

from qpd import config
from qpd.cli import main
from qpd.config import (
    KEYS, SCHEMA, ConfigurationError, check_configuration, get_defaults,
    get_front_end_timeout, get_stop_wait, render_markdown)
from qpd.ops import build
from qpd.ops.supervisor import make_site_conf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SLASH = '''
from qpd.web.directory import Directory
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = CONFIGURATION


class SiteDirectory(Directory):
    def get_exports(self):
        yield ('', 'index', None, None)

    def index(self):
        return 'hello'
'''


def error_of(site):
    with pytest.raises(ConfigurationError) as info:
        site.get_configuration()
    return str(info.value)


def test_readme_table_is_the_generated_one():
    with open(os.path.join(ROOT, 'README.md')) as f:
        readme = f.read()
    begin = readme.find(config.BEGIN_MARKER)
    end = readme.find(config.END_MARKER)
    assert begin >= 0 and end > begin, 'README.md lacks the table markers'
    in_readme = readme[begin:end + len(config.END_MARKER)] + '\n'
    assert in_readme == render_markdown(), (
        "README.md's table of configuration keys differs from qpd/config.py:"
        " run `python -m qpd.config --write README.md`")


def test_every_key_is_declared_once_with_a_working_default():
    assert len(SCHEMA) == len(KEYS)
    for key in KEYS:
        assert re.fullmatch('[a-z][a-z0-9_]*', key.name), key
        assert not key.name.startswith(config.SITE_PREFIX), key
        assert key.doc and '\n' not in key.doc and '|' not in key.doc, key
        assert isinstance(key.restart, bool), key
        key.get_default()   # the default passes its own check
        assert key.get_example()


def test_every_key_the_code_reads_is_declared():
    reads = re.compile(r"""(?:get_config\(|\bsite\.get\(|\bconfig\.get\("""
                       r"""|\bconfig\[|\blimits\[)\s*'(\w+)'""")
    seen = set()
    for directory in ('qpd', 'proto'):
        for dirpath, dirnames, filenames in os.walk(
                os.path.join(ROOT, directory)):
            for filename in filenames:
                if filename.endswith(('.py', '.qpy')):
                    with open(os.path.join(dirpath, filename)) as f:
                        seen.update(reads.findall(f.read()))
    assert seen, 'the pattern no longer finds the reads'
    assert seen <= set(SCHEMA), seen - set(SCHEMA)


def test_defaults_and_conversions():
    defaults = get_defaults()
    assert defaults['header_timeout'] == 10.0
    assert isinstance(defaults['header_timeout'], float)
    assert defaults['max_children'] == 4
    assert defaults['http_address'] == ('127.0.0.1', 8000)
    checked = check_configuration('demo', {
        'http_address': '0.0.0.0:8080', 'scgi_address': 9000,
        'max_body_size': 1e6, 'script_name': '/app/',
        'site_items_per_page': object})
    assert checked['http_address'] == ('0.0.0.0', 8080)
    assert checked['scgi_address'] == ('127.0.0.1', 9000)
    assert checked['max_body_size'] == 1000000
    assert checked['script_name'] == '/app'
    assert checked['site_items_per_page'] is object


def test_unknown_key_names_the_nearest(make_site):
    message = error_of(make_site(SLASH, name='config_typo', max_childern=8))
    assert message == ('site config_typo: max_childern is not a '
                       'configuration key; did you mean max_children?')
    with pytest.raises(ConfigurationError) as info:
        check_configuration('demo', {'colour': 'blue'})
    assert "start with 'site_'" in str(info.value)


@pytest.mark.parametrize('key, value, expects', [
    ('header_timeout', 'ten', 'a number of seconds >= 0'),
    ('request_timeout', -1, 'a number of seconds >= 0'),
    ('max_children', 0, 'an integer >= 1'),
    ('max_children', True, 'an integer >= 1'),
    ('max_head_size', 100000, 'an integer from 1 to 65536'),
    ('preread_body_size', 1 << 20, 'an integer from 0 to 131072'),
    ('http_address', 'localhost', "('host', port)"),
    ('http_address', ('localhost', 70000), "('host', port)"),
    ('display_exceptions', 'yes', 'True or False'),
    ('script_name', 'app', "a URL path starting with '/'"),
    ('session_cookie_name', 'a b', 'a cookie name'),
    ('smtp_server', 25, "'host:port'"),
])
def test_bad_values_name_site_key_value_and_expectation(key, value, expects):
    with pytest.raises(ConfigurationError) as info:
        check_configuration('demo', {key: value})
    message = str(info.value)
    assert message.startswith('site demo: %s is %r, not ' % (key, value))
    assert expects in message and '; set it like %s=' % key in message
    assert '\n' not in message


def test_site_checks_at_once_and_keeps_its_own_keys(make_site):
    message = error_of(make_site(SLASH, name='config_bad',
                                 header_timeout='ten'))
    assert message == ("site config_bad: header_timeout is 'ten', not a "
                       "number of seconds >= 0; set it like "
                       "header_timeout=10")
    site = make_site(SLASH, name='config_own', site_greeting='hi',
                     request_timeout=300)
    assert site.get('site_greeting') == 'hi'
    assert site.get('request_timeout') == 300.0
    assert site.get('max_children') == 4
    publisher = site.get_publisher_class()(site=site)
    assert publisher.get_config('site_greeting') == 'hi'
    assert publisher.get_config('max_retries') == 10


def test_override_is_checked_like_the_site_s_own_value(make_site):
    # What `qpd worker --debug` does: one key set for this process, through
    # the key's check, never written into the checked dict.
    site = make_site(SLASH, name='config_override', request_timeout=300)
    assert site.get('display_exceptions') is False
    site.override(display_exceptions=True)
    assert site.get('display_exceptions') is True
    assert site.get('request_timeout') == 300.0
    with pytest.raises(ConfigurationError) as info:
        site.override(display_exceptions='yes')
    assert str(info.value).startswith(
        "site config_override: display_exceptions is 'yes', not True or "
        "False")
    with pytest.raises(ConfigurationError) as info:
        site.override(display_exception=True)
    assert 'did you mean display_exceptions?' in str(info.value)
    assert site.get('display_exceptions') is True   # unchanged
    site.override(queue_length=9)
    assert (site.get('display_exceptions'), site.get('queue_length')) == (
        True, 9)
    publisher = site.get_publisher_class()(site=site)
    assert publisher.get_config('display_exceptions') is True


def test_limit_keys_are_the_keys_marked_limit():
    from qpd.server import protocol
    marked = tuple(key.name for key in KEYS if key.limit)
    assert 'max_body_size' in marked and 'max_children' not in marked
    assert protocol.LIMIT_KEYS == config.LIMIT_KEYS == marked
    assert tuple(protocol.get_limits(None)) == marked


def test_commands_refuse_a_bad_configuration(make_site, capsys):
    site = make_site(SLASH, name='config_cmd', header_timeout='ten')
    home = site.get_home()
    for command in ('show', 'start', 'build'):
        status = main(['--home', home, command, 'config_cmd'])
        out, err = capsys.readouterr()
        assert status == 2, (command, out, err)
        assert err == ("qpd: site config_cmd: header_timeout is 'ten', not "
                       "a number of seconds >= 0; set it like "
                       "header_timeout=10\n"), command
    assert not os.path.exists(os.path.join(home, 'supervisord.conf.d',
                                           'config_cmd.conf'))


def test_serve_refuses_a_bad_configuration_before_any_process(make_site):
    site = make_site(SLASH, name='config_serve', max_childern=2)
    result = subprocess.run(
        [sys.executable, '-m', 'qpd', '--home', site.get_home(), 'serve',
         'config_serve'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result
    assert result.stderr == ('qpd: site config_serve: max_childern is not a '
                             'configuration key; did you mean '
                             'max_children?\n')
    assert 'READY' not in result.stdout


def test_derived_values_follow_the_keys(make_site):
    defaults = get_defaults()
    assert get_front_end_timeout(defaults) > defaults['request_timeout'] + \
        defaults['queue_timeout']
    assert get_stop_wait(defaults) > max(defaults['request_timeout'],
                                         defaults['shutdown_timeout'])
    site = make_site(SLASH, name='config_derived', request_timeout=300,
                     queue_timeout=20, max_body_size=1000,
                     scgi_address=('127.0.0.1', 7001))
    configs = dict(build.get_configs(site))
    read = int(re.search(r'scgi_read_timeout (\d+)s;',
                         configs['nginx-scgi.conf']).group(1))
    assert read > 300 + 20
    assert 'proxy_read_timeout %ds;' % read in configs['nginx-proxy.conf']
    assert 'timeout=%d' % read in configs['apache.conf']
    assert 'client_max_body_size 1000;' in configs['nginx-scgi.conf']
    stop = {int(n) for n in re.findall(r'stopwaitsecs = (\d+)',
                                       make_site_conf(site))}
    assert len(stop) == 1 and stop.pop() > 300


def test_build_command_shows_the_derived_timeout(make_site, capsys):
    site = make_site(SLASH, name='config_build', request_timeout=200,
                     scgi_address=('127.0.0.1', 7003))
    status = main(['--home', site.get_home(), 'build', 'config_build'])
    out, err = capsys.readouterr()
    assert status == 0, err
    timeout = int(re.search(r'scgi_read_timeout (\d+)s;', out).group(1))
    assert timeout == get_front_end_timeout(site.get_configuration())
    assert timeout > 200


def test_worker_messages_hold_the_largest_head_and_preread_body():
    from qpd.server import fdpass
    assert (config.MAX_HEAD_SIZE + config.MAX_PREREAD_BODY_SIZE
            < fdpass.MAX_MESSAGE)


def test_markdown_command():
    result = subprocess.run(
        [sys.executable, '-m', 'qpd.config', '--markdown'],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout == render_markdown()
