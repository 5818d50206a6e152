"""QP compatibility: qpy -> qpd.qpy, one test per entry of docs/qp_api.md,
pinning the contract QP's API states."""

import os
import subprocess
import sys

import pytest

import qpd.qpy
from qpd.qpy import (
    compile, compile_qpy_file, compile_qpy_files, get_code, h8,
    html_escape_string, join_str, join_xml, stringify, u8, xml, xml_quote)
from qpd.qpy.compiler import find_templates
from qpd.qpy.importer import get_cache_path

OLD_STYLE = '''\
def page [html] (title, items):
    '<h1>'
    title
    '</h1><ul>'
    for item in items:
        '<li>%s</li>' % item
    '</ul>'

def label [plain] (name):
    'name: '
    name
'''


def run(source, name='<qpy>'):
    namespace = {}
    exec(get_code(source, name), namespace)
    return namespace


def test_h8():
    assert h8 is xml and issubclass(h8, str)
    markup = h8('<b>')
    assert markup + '<' == '<b>&lt;' and isinstance(markup + '<', h8)
    assert h8('<p>%s</p>') % '&' == '<p>&amp;</p>'
    assert h8(', ').join(['<', h8('<i>')]) == '&lt;, <i>'
    markup += None                                  # QP's: None adds nothing
    assert markup == '<b>' and isinstance(markup, h8)
    assert None + markup == '<b>'


def test_h8_from_list():
    joined = h8.from_list(['<', h8('<i>'), 3])
    assert joined == '&lt;<i>3' and isinstance(joined, h8)
    assert h8.from_list(['a', None, 'b']) == 'ab'


def test_h8_quote():
    assert h8.quote(None) == '' and isinstance(h8.quote(None), h8)
    markup = h8('<b>')
    assert h8.quote(markup) is markup
    assert h8.quote('<&>') == '&lt;&amp;&gt;'
    assert h8.quote(5) == '5'


def test_u8():
    assert u8() == '' and u8(None) == '' and u8('') == ''
    assert u8(b'caf\xc3\xa9') == 'café'
    assert u8(b'caf\xe9', 'latin-1') == 'café'
    assert u8(b'\xff', errors='replace') == '\ufffd'
    assert isinstance(u8('a'), str)
    text = u8('<') + 1
    assert text == '<1' and isinstance(text, u8)      # no quoting
    assert u8('%s') % '<' == '<'
    assert u8(',').join([1, '<']) == '1,<'


def test_u8_from_list():
    joined = u8.from_list(['<', 1, h8('<i>')])
    assert joined == '<1<i>' and isinstance(joined, u8)
    assert u8.from_list(['a', None, 'b']) == 'ab'     # QP's: None adds nothing
    text = u8('a')
    text += None
    assert text == 'a' and isinstance(text, u8)


def test_html_escape_string():
    assert html_escape_string('<a href="x">&') == '&lt;a href=&#34;x&#34;&gt;&amp;'
    assert html_escape_string("'") == '&#39;'   # qpd also escapes '
    with pytest.raises(TypeError):
        html_escape_string(3)


def test_stringify():
    assert stringify('x') == 'x'
    assert stringify(3) == '3'
    assert stringify(b'caf\xc3\xa9') == 'café'
    markup = h8('<b>')
    assert stringify(markup) is markup


def test_xml():
    assert xml('<b>') + '<' == '<b>&lt;'
    assert str(xml('<b>')) == '<b>'


def test_xml_quote():
    markup = xml('<b>')
    assert xml_quote(markup) is markup
    assert xml_quote('<') == '&lt;' and isinstance(xml_quote('<'), xml)


def test_join_xml():
    assert join_xml(['<', xml('<i>')]) == '&lt;<i>'
    assert join_xml(['a', 'b'], xml('<br>')) == 'a<br>b'
    assert join_xml(['a', 'b'], '&') == 'a&amp;b'


def test_join_str():
    joined = join_str(['<', 1, xml('<i>')])
    assert joined == '<1<i>' and type(joined) is str


def test_template_html_and_plain_2005():
    namespace = run(OLD_STYLE)
    page = namespace['page']('<Title>', ['a&b', xml('<i>c</i>')])
    assert isinstance(page, xml)
    assert page == ('<h1>&lt;Title&gt;</h1><ul><li>a&amp;b</li>'
                    '<li><i>c</i></li></ul>')
    label = namespace['label']('<x>')
    assert label == 'name: <x>' and not isinstance(label, xml)
    # the markers are blanked, so columns stay where they were
    blanked, kinds = find_templates(OLD_STYLE)
    assert kinds == {(1, 'page'): 'xml', (9, 'label'): 'str'}
    assert len(blanked) == len(OLD_STYLE)


def test_template_xml_and_str_2008():
    namespace = run('def f:xml(x):\n    "<p>"\n    x\n\n'
                    'def g:str(x):\n    "<"\n    x\n')
    assert namespace['f']('&') == '<p>&amp;' and isinstance(namespace['f']('&'), xml)
    assert namespace['g']('&') == '<&'


@pytest.fixture
def qpy_file(tmp_path):
    path = tmp_path / 'page.qpy'
    path.write_text(OLD_STYLE)
    return str(path)


def test_compile(qpy_file):
    cache = compile(qpy_file)
    assert cache == get_cache_path(qpy_file) and os.path.exists(cache)
    first = os.stat(cache).st_mtime_ns
    os.utime(cache, ns=(first - 10**9, first - 10**9))
    compile(qpy_file)                         # always writes
    assert os.stat(cache).st_mtime_ns != first - 10**9


def test_compile_qpy_file(qpy_file):
    cache = compile_qpy_file(qpy_file)
    assert os.path.exists(cache)
    stamp = os.stat(cache).st_mtime_ns - 10**9
    os.utime(cache, ns=(stamp, stamp))
    compile_qpy_file(qpy_file)                # current: left alone
    assert os.stat(cache).st_mtime_ns == stamp
    with open(qpy_file, 'a') as file:
        file.write('\ndef more [plain] ():\n    "x"\n')
    compile_qpy_file(qpy_file)                # changed: compiled again
    assert os.stat(cache).st_mtime_ns != stamp


def test_compile_qpy_files(tmp_path):
    (tmp_path / 'a.qpy').write_text(OLD_STYLE)
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'b.qpy').write_text('def f:xml():\n    "x"\n')
    (tmp_path / 'c.py').write_text('x = 1\n')
    names = compile_qpy_files(str(tmp_path))
    assert [os.path.relpath(n, str(tmp_path)) for n in names] == [
        'a.qpy', os.path.join('sub', 'b.qpy')]
    for name in names:
        assert os.path.exists(get_cache_path(name))


def test_get_code():
    code = get_code(OLD_STYLE, 'page.qpy')
    assert code.co_filename == 'page.qpy'
    assert 'page' in run(OLD_STYLE)
    with pytest.raises(SyntaxError):
        get_code('def f [html] (:\n', 'bad.qpy')


def test_translate_tokens():
    # qpd's step before parsing: markers blanked, kinds noted (see README,
    # "Differences from QP").
    source, kinds = find_templates('def f [html] (x):\n    x\n')
    assert source == 'def f        (x):\n    x\n'
    assert kinds == {(1, 'f'): 'xml'}
    assert not hasattr(qpd.qpy, 'translate_tokens')


def test_python_m_qpy(tmp_path, qpy_file):
    bad = tmp_path / 'bad.qpy'
    bad.write_text('def f [html] (:\n')
    result = subprocess.run(
        [sys.executable, '-m', 'qpd.qpy', qpy_file], capture_output=True)
    assert result.returncode == 0
    assert os.path.exists(get_cache_path(qpy_file))
    result = subprocess.run(
        [sys.executable, '-m', 'qpd.qpy', str(bad)], capture_output=True,
        text=True)
    assert result.returncode == 1 and 'SyntaxError' in result.stderr
