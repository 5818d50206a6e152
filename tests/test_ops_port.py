"""`qpd port DIR`: QP imports rewritten from one table, the README's."""

import collections
import difflib
import io
import os
import re

from qpd.cli import main
from qpd.ops.port import (
    BEGIN_MARKER, END_MARKER, MODULES, port_directory, port_source,
    render_markdown)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

QP_SOURCE = '''\
import os
from qp.pub.common import get_user, redirect
from qp.fill.directory import Directory
from qp.pub.user import User, Permissions
from qp.lib.spec import (
    spec, require,
    string)   # the names
from qp.pub import common, session
import qp.fill.html
import qpy
x = qp.fill.html.href('a', 'b')
'''


def test_readme_table_is_the_generated_one():
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    begin = readme.find(BEGIN_MARKER)
    end = readme.find(END_MARKER)
    assert begin >= 0 and end > begin, 'README.md lacks the port table'
    assert readme[begin:end + len(END_MARKER)] + '\n' == render_markdown(), (
        'regenerate it: python -m qpd.ops.port --markdown')


def test_every_target_module_imports():
    import importlib
    for qp_name, qpd_names in MODULES:
        for name in qpd_names:
            importlib.import_module(name)


def test_imports_are_rewritten():
    ported, problems = port_source(QP_SOURCE, 'site.py')
    assert problems == []
    assert ported == '''\
import os
from qpd.web.common import get_user, redirect
from qpd.web.directory import Directory
from qpd.storage.user import User, Permissions
from qpd.lib.spec import spec, require, string   # the names
from qpd.web import common
from qpd.storage import session
import qpd.web.html
import qpd.qpy as qpy
x = qpd.web.html.href('a', 'b')
'''


def test_names_go_to_the_module_that_has_them():
    ported, problems = port_source(
        'from qp.pub.publish import Publisher, RespondNow, Redirect\n')
    assert problems == []
    assert 'from qpd.web.publish import Publisher, RespondNow' in ported


def test_what_cannot_be_mapped_is_listed_and_left():
    source = ('from qp.hub.web import Server\n'
              'from qp.pub.common import get_user, no_such_name\n'
              'if x:\n'
              '    from qp.lib.nowhere import x\n')
    ported, problems = port_source(source, 'a.py')
    assert ['%s:%s: %s' % (p.path, p.line,
                           re.search(r'qpd?\.[\w.]+( has no \w+)?',
                                     p.text).group())
            for p in problems] == [
        'a.py:1: qp.hub.web', 'a.py:2: qpd.web.common has no no_such_name',
        'a.py:4: qp.lib.nowhere has no qpd']
    assert all(p.left for p in problems)
    assert "runs the site itself" in problems[0].text
    assert ported.splitlines()[0] == 'from qp.hub.web import Server'
    assert ported.splitlines()[3] == '    from qp.lib.nowhere import x'


def test_other_imports_are_untouched():
    source = 'import qpx\nfrom qpd.web import common\nimport os, qp_local\n'
    assert port_source(source) == (source, [])


def test_port_in_place_and_diff(tmp_path):
    site = tmp_path / 'site'
    (site / 'sub').mkdir(parents=True)
    (site / 'slash.qpy').write_text(
        'from qp.pub.common import page\n\ndef f [html] ():\n    page("x")\n')
    (site / 'sub' / 'model.py').write_text('from qp.lib.keep import Keep\n')
    (site / 'same.py').write_text('import os\n')
    out = io.StringIO()
    changed, problems = port_directory(str(site), diff=True, output=out)
    assert problems == [] and len(changed) == 2
    assert '+from qpd.web.common import page' in out.getvalue()
    assert (site / 'slash.qpy').read_text().startswith('from qp.pub')
    assert main(['port', str(site)]) == 0
    assert (site / 'slash.qpy').read_text().startswith(
        'from qpd.web.common import page\n\ndef f [html] ():')
    assert (site / 'slash.qpy.qp-orig').read_text().startswith('from qp.pub')
    assert (site / 'sub' / 'model.py').read_text() == \
        'from qpd.storage.keep import Keep\n'
    assert not (site / 'same.py.qp-orig').exists()


def test_cli_exit_status_names_what_is_left(tmp_path, capsys):
    (tmp_path / 'a.py').write_text('from qp.hub.web import Server\n')
    assert main(['port', str(tmp_path), '--diff']) == 1
    assert '%s:1: module qp.hub.web is not in qpd' % (
        tmp_path / 'a.py') in capsys.readouterr().err
    assert main(['port', str(tmp_path / 'nowhere')]) == 1


# Python 2 to 3 (fissix), templates, configuration, reruns --------------------

PYTHON2 = '''\
import string
from qp.pub.common import get_site
from helpers import shout

DEFAULT_MODE = 0644


class Thing:

    def __init__(self, name, count=0L):
        if not isinstance(name, basestring):
            raise TypeError, 'name must be a string'
        self.name = unicode(name)
        self.count = long(count)

    def tags(self, d):
        if d.has_key('x'):
            print 'has x'
        for key, value in d.iteritems():
            print >>sys.stderr, key, value
        items = d.items()
        items.sort()
        return string.join([string.upper(k) for k, v in items], ', ')

    def parse(self, text):
        try:
            return string.atoi(text)
        except ValueError, e:
            return None
'''


def write_site(tmp_path, files):
    site = tmp_path / 'site'
    site.mkdir()
    for name, text in files.items():
        (site / name).write_text(text)
    return site


def test_python2_is_converted_by_fissix(tmp_path):
    site = write_site(tmp_path, {'thing.py': PYTHON2, 'helpers.qpy': ''})
    counts = collections.Counter()
    changed, problems = port_directory(str(site), counts=counts)
    assert problems == [] and changed == [str(site / 'thing.py')]
    ported = (site / 'thing.py').read_text()
    compile(ported, 'thing.py', 'exec')
    for python3 in (
            'from qpd.web.common import get_site',
            'from .helpers import shout',       # a sibling .qpy is a module
            'DEFAULT_MODE = 0o644',
            'def __init__(self, name, count=0):',
            'if not isinstance(name, str):',
            "raise TypeError('name must be a string')",
            'self.name = str(name)', 'self.count = int(count)',
            "if 'x' in d:", "print('has x')",
            'for key, value in d.items():',
            'print(key, value, file=sys.stderr)',
            'items = sorted(d.items())',
            "return ', '.join([k.upper() for k, v in items])",
            'return int(text)', 'except ValueError as e:'):
        assert python3 in ported, python3
    assert counts['idioms'] == 1 and counts['string'] == 3
    assert counts['print'] == 2 and counts['QP imports mapped'] == 1


TEMPLATES = '''\
from qp.fill.html import href

def listing [html] (d, title="x"):
    '<h1>%s</h1>' % title
    items = d.items()
    items.sort()
    for k, v in items:
        href(k, unicode(v))
    print 'listed'

def text [plain] (n):
    'n=%d' % long(n)

class Page:
    def body [html] (self):
        '<p>'
        self.name
        '</p>'
'''


def test_qpy_templates_survive_the_conversion():
    ported, problems = port_source(TEMPLATES, 'slash.qpy')
    assert problems == []
    assert ported == '''\
from qpd.web.html import href

def listing [html] (d, title="x"):
    '<h1>%s</h1>' % title
    items = sorted(d.items())
    for k, v in items:
        href(k, str(v))
    print('listed')

def text [plain] (n):
    'n=%d' % int(n)

class Page:
    def body [html] (self):
        '<p>'
        self.name
        '</p>'
'''
    from qpd.qpy.compiler import compile_qpy
    compile_qpy(ported, 'slash.qpy')


def test_site_init_and_qpy_compile():
    source = ('from qpy.compile import compile_qpy_files\n'
              'compile_qpy_files(__path__[0])\n\n'
              'from qp.sites.demo.slash import SitePublisher, '
              'SiteRootDirectory\n')
    ported, problems = port_source(source, '__init__.py')
    assert problems == []
    assert ported == ('\nfrom qpd.sites.demo.slash import SitePublisher, '
                      'SiteRootDirectory\n')
    ported, problems = port_source(
        'from qpy.compile import compile_qpy_file\n', 'a.py')
    assert [str(p) for p in problems] == [
        'a.py:1: module qpy.compile is not in qpd: qpd compiles .qpy files '
        'on import: drop the import (qpd.qpy.compiler.compile_qpy compiles '
        'one source)']


CONFIGURED = '''\
from qp.pub.publish import Publisher

class SitePublisher(Publisher):

    configuration = dict(
        durus_address=('localhost', 7000),
        http_address=('', 8000),
        greeting='hi',
        )

    def get_greeting(self):
        return self.get_site().get('greeting')
'''


def test_configuration_own_keys_and_durus_address(tmp_path):
    site = write_site(tmp_path, {
        'slash.py': CONFIGURED,
        'other.py': "def f(site):\n    return site.get(\"greeting\", 'x')\n"})
    out = io.StringIO()
    assert main(['port', str(site)]) == 0
    slash = (site / 'slash.py').read_text()
    assert ("        # qpd port: qpd's default, a unix socket "
            "(var/durus.sock)\n"
            "        # durus_address=('localhost', 7000),\n"
            "        http_address=('', 8000),\n"
            "        site_greeting='hi',\n") in slash
    assert "return self.get_site().get('site_greeting')" in slash
    assert (site / 'other.py').read_text() == (
        "def f(site):\n    return site.get(\"site_greeting\", 'x')\n")
    namespace = {}
    exec(compile(slash, 'slash.py', 'exec'), namespace)
    from qpd import config
    config.check_configuration('site', namespace['SitePublisher'].configuration)

    # A dict literal, and a durus_address qpd takes (durus_tls set).
    source = ("class P:\n    configuration = {\n"
              "        'durus_address': ('127.0.0.1', 7000),\n"
              "        'durus_tls': True,\n"
              "        'items_per_page': 3,\n    }\n")
    ported, problems = port_source(source, 'p.py')
    assert "'durus_address': ('127.0.0.1', 7000)," in ported
    assert "'site_items_per_page': 3," in ported
    assert [p.left for p in problems] == [False]


def test_a_near_miss_of_a_qpd_key_is_left_and_both_fixes_named(tmp_path,
                                                               capsys):
    site = write_site(tmp_path, {'slash.py': (
        'class P:\n    configuration = dict(max_childern=4)\n'
        "    n = get_site().get('max_childern')\n")})
    assert main(['port', str(site)]) == 1
    err = capsys.readouterr().err
    assert (
        "%s:2: configuration key 'max_childern' is not a qpd key but looks "
        "like qpd's max_children, so qpd would refuse to start the site: "
        "write max_children if it sets that, or, if it is the site's own "
        "key, site_max_childern here and where the site reads it (%s:3)\n"
        % (site / 'slash.py', site / 'slash.py')) in err
    assert '0 note(s), 1 line(s) left to edit by hand' in err
    assert 'max_childern=4' in (site / 'slash.py').read_text()


def test_a_durus_address_port_cannot_comment_out_is_left():
    source = ('class P:\n    configuration = dict(http_address=("::1", 80), '
              "durus_address=('localhost', 7000))\n")
    ported, problems = port_source(source, 'p.py')
    assert ported == source
    assert [(p.line, p.left) for p in problems] == [(2, True)]
    assert 'durus_address localhost:7000 is plain TCP, which qpd refuses: ' \
        'drop the key' in problems[0].text


def test_twice_is_a_no_op_and_diff_is_what_the_first_run_writes(tmp_path):
    files = {'thing.py': PYTHON2, 'helpers.qpy': TEMPLATES,
             'slash.py': CONFIGURED,
             '__init__.py': 'from qpy.compile import compile_qpy_files\n'
                            'compile_qpy_files(__path__[0])\n'}
    site = write_site(tmp_path, files)
    before = {name: (site / name).read_text() for name in files}
    out = io.StringIO()
    changed, problems = port_directory(str(site), diff=True, output=out)
    assert {name: (site / name).read_text() for name in files} == before
    changed_again, problems_again = port_directory(str(site))
    assert changed_again == changed and len(changed) == 4
    written = ''.join(
        ''.join(difflib.unified_diff(
            before[name].splitlines(True),
            (site / name).read_text().splitlines(True),
            str(site / name), str(site / name) + ' (qpd)'))
        for name in sorted(files))
    assert out.getvalue() == written
    after = {name: (site / name).read_text() for name in files}
    out = io.StringIO()
    assert port_directory(str(site), diff=True, output=out)[0] == []
    assert out.getvalue() == ''
    assert port_directory(str(site))[0] == []
    assert {name: (site / name).read_text() for name in files} == after
    for name in files:
        assert (site / (name + '.qp-orig')).read_text() == before[name]


def test_notes_say_what_works_differently(capsys, tmp_path):
    site = write_site(tmp_path, {'slash.py': CONFIGURED + (
        '\n    def ensure_signed_in(self, **kwargs):\n'
        '        self.ensure_signed_in_using_digest()\n')})
    assert main(['port', str(site)]) == 0      # notes only: exit 0
    lines = capsys.readouterr().err.splitlines()
    path = str(site / 'slash.py')
    # Lines of the ported file (a comment line came before http_address).
    assert [line.split(': ', 2)[:2] for line in lines[:-1]] == [
        ['%s:7' % path, 'note'], ['%s:8' % path, 'note'],
        ['%s:9' % path, 'note'], ['%s:16' % path, 'note']]
    assert lines[1] == (
        "%s:8: note: http_address ('', 8000) listens on every interface, as "
        "in QP: write ('127.0.0.1', 8000) to answer this machine only "
        "(behind a front end)" % path)
    assert 'signs in with HTTP Digest' in lines[3]
    assert 'http_digests=False' in lines[3]
    assert lines[-1].endswith('4 note(s), 0 line(s) left to edit by hand')


def test_a_front_end_listener_beyond_loopback_is_left():
    source = ('class P:\n    configuration = dict(\n'
              "        as_https_address=('', 9000),\n"
              "        scgi_address=('localhost', 11000))\n")
    ported, problems = port_source(source, 'p.py')
    assert [str(p) for p in problems] == [
        "p.py:3: as_https_address ('', 9000) is beyond loopback, which qpd "
        "refuses (whoever reaches it could name the client's address and "
        "https): write ('127.0.0.1', 9000), or set "
        "front_end_beyond_loopback=True when a firewall lets only the front "
        "end in"]
    allowed = source.replace('))', '),\n        front_end_beyond_loopback=True)')
    assert port_source(allowed, 'p.py')[1] == []
