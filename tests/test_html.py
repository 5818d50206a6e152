"""Tests for qpd.web.html."""

import pytest

from qpd.qpy import xml
from qpd.web.html import (
    element, href, htmltag, list_of_links, nl2br, ol, option, select,
    stringify, ul, url_quote, url_with_query)


def test_stringify():
    assert stringify('a') == 'a'
    assert stringify(b'caf\xc3\xa9') == 'caf\u00e9'
    assert stringify(b'\xff') == '\ufffd'
    assert stringify(3) == '3'
    assert isinstance(stringify(xml('<b>')), xml)


def test_url_quote():
    assert url_quote('a b/c?d&e"<') == '/'.join(['a%20b', 'c%3Fd%26e%22%3C'])
    assert isinstance(url_quote('x'), xml)
    assert url_quote('caf\u00e9') == 'caf%C3%A9'
    assert url_quote(None) is None
    assert url_quote(None, 'fallback') == 'fallback'
    assert url_quote(12) == '12'


def test_url_with_query():
    url = url_with_query('/search', q='a&b c', page=2, skip=None)
    assert isinstance(url, xml)
    assert url == '/search?q=a%26b%20c&amp;page=2'
    assert url_with_query('/p', tag=['x', 'y']) == '/p?tag=x&amp;tag=y'
    assert url_with_query('/p?a=1', b=2) == '/p?a=1&amp;b=2'
    assert url_with_query('/a b"<') == '/a%20b%22%3C'
    assert url_with_query('/p') == '/p'


def test_htmltag():
    assert htmltag('p') == '<p>'
    assert htmltag('br', xml_end=True) == '<br />'
    tag = htmltag('input', True, 'wide', type='checkbox', checked=True,
                  disabled=False, value=None, data_id=3, for_='x')
    assert tag == '<input type="checkbox" checked data-id="3" for="x" class="wide" />'
    assert htmltag('a', title='"<&>\'') == '<a title="&#34;&lt;&amp;&gt;&#39;">'
    assert htmltag('a', title=xml('<b>')) == '<a title="<b>">'
    assert isinstance(htmltag('p'), xml)


@pytest.mark.parametrize('tag', ['p onclick=x', '', '<p>', '1p'])
def test_htmltag_bad_tag(tag):
    with pytest.raises(ValueError):
        htmltag(tag)


def test_htmltag_bad_attribute():
    with pytest.raises(ValueError):
        htmltag('p', **{'on click': 'x'})


def test_element_and_href():
    assert element('b', '<x>') == '<b>&lt;x&gt;</b>'
    assert element('b', xml('<i>x</i>'), css_class='c') == '<b class="c"><i>x</i></b>'
    assert href('/a?x=1&y=2', 'Tom & Jerry') == \
        '<a href="/a?x=1&amp;y=2">Tom &amp; Jerry</a>'
    assert href('/a', 'A', title='t', rel='nofollow') == \
        '<a href="/a" title="t" rel="nofollow">A</a>'
    assert href('javascript:x"', 'x') == '<a href="javascript:x&#34;">x</a>'


def test_nl2br():
    assert nl2br('a<b>\nb\r\nc') == 'a&lt;b&gt;<br />b<br />c'
    assert isinstance(nl2br(''), xml)


def test_lists():
    assert ul(['a', xml('<b>b</b>'), '<c>']) == \
        '<ul><li>a</li><li><b>b</b></li><li>&lt;c&gt;</li></ul>'
    assert ol([1, 2], css_class='n') == '<ol class="n"><li>1</li><li>2</li></ol>'
    assert list_of_links([('/a', 'A'), ('/b', '<B>', 'bee')]) == (
        '<ul><li><a href="/a">A</a></li>'
        '<li><a href="/b" title="bee">&lt;B&gt;</a></li></ul>')


def test_option_and_select():
    assert option('a"') == '<option value="a&#34;">a&#34;</option>'
    assert option(1, 'One', selected=True) == '<option value="1" selected>One</option>'
    assert option('x', disabled=True) == '<option value="x" disabled>x</option>'
    assert select('s', ['a', ('b', 'Bee')], selected='b') == (
        '<select name="s"><option value="a">a</option>'
        '<option value="b" selected>Bee</option></select>')
    assert select('m', [1, 2, 3], selected=[1, 3], multiple=True).count('selected') == 2
