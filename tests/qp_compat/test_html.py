"""QP compatibility: qp.fill.html -> qpd.web.html, one test per entry of
docs/qp_api.md, pinning the contract QP's API states."""

from qpd.qpy import xml
from qpd.web.html import (
    div, dl, href, htmltag, nl2br, ol, ul, url_quote, url_with_query)


def test_href():
    link = href('/a?b=1&c=2', 'x < y', title='T')
    assert isinstance(link, xml)
    assert link == '<a href="/a?b=1&amp;c=2" title="T">x &lt; y</a>'
    assert href('/', xml('<b>x</b>')) == '<a href="/"><b>x</b></a>'


def test_htmltag():
    assert htmltag('input', xml_end=True, css_class='c', name='n',
                   checked=True, disabled=None, readonly=False) == \
        '<input name="n" checked class="c" />'
    assert htmltag('p') == '<p>'


def test_url_quote():
    assert url_quote('a b/c&d') == 'a%20b/c%26d'
    assert url_quote(None, 'fallback') == 'fallback'


def test_url_with_query():
    assert url_with_query('/p', a=1, b='x y', c=None) == \
        '/p?a=1&amp;b=x%20y'


def test_nl2br():
    assert nl2br('a<\nb') == 'a&lt;<br />b'
    assert nl2br('a\nb\n') == 'a<br />b<br />'    # QP's: no newline kept
    assert isinstance(nl2br('x'), xml)


def test_ul_ol():
    assert ul(['a', xml('<b>b</b>')]) == '<ul><li>a</li><li><b>b</b></li></ul>'
    assert ol(['<1>'], css_class='c') == '<ol class="c"><li>&lt;1&gt;</li></ol>'


def test_dl():
    assert dl([('t<', 'd'), ('u', xml('<i>e</i>'))]) == \
        '<dl><dt>t&lt;</dt><dd>d</dd><dt>u</dt><dd><i>e</i></dd></dl>'
    assert dl({'a': 'b'}, css_class='c') == '<dl class="c"><dt>a</dt><dd>b</dd></dl>'


def test_dl_leaves_out_empty_parts():
    # QP's: no <dd>None</dd>, no empty element
    assert dl([('a', 'b'), ('e', None)]) == \
        '<dl><dt>a</dt><dd>b</dd><dt>e</dt></dl>'
    assert dl([(None, 'd'), ('t', '')]) == '<dl><dd>d</dd><dt>t</dt></dl>'


def test_div():
    assert div('a<', xml('<b>b</b>'), css_class='c', id='i') == \
        '<div id="i" class="c">a&lt;<b>b</b></div>'
    assert isinstance(div(), xml) and div() == '<div></div>'
