"""`qpd port DIR`: QP imports rewritten from one table, the README's."""

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
