"""Tests for qpd.qpy's xml class, xml_quote, join_xml and h8."""

import html

import pytest
from hypothesis import given, strategies as st
from markupsafe import Markup

import qpd.qpy
from qpd.qpy import xml, h8, xml_quote, join_xml


class Html:
    """An object that renders itself as markup."""

    def __html__(self):
        return '<em>html</em>'


def test_public_names():
    assert set(qpd.qpy.__all__) == {
        'xml', 'h8', 'xml_quote', 'join_xml',
        # QP's names (see tests/qp_compat/test_qpy.py)
        'u8', 'join_str', 'html_escape_string', 'stringify', 'compile_qpy',
        'get_code', 'compile', 'compile_qpy_file', 'compile_qpy_files'}
    assert h8 is xml


def test_xml_is_a_str_whose_str_is_the_markup():
    value = xml('<b>bold</b>')
    assert isinstance(value, str)
    assert str(value) == '<b>bold</b>'
    assert type(str(value)) is str
    assert value == '<b>bold</b>'
    assert hash(value) == hash('<b>bold</b>')
    assert value.__html__() is value
    assert repr(value) == "xml('<b>bold</b>')"
    assert xml() == ''


def test_xml_quote_quotes_the_five_characters():
    assert xml_quote('<a href="x">\'&\'</a>') == (
        '&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;')
    assert type(xml_quote('plain')) is xml


def test_xml_quote_leaves_xml_alone():
    value = xml('<b>')
    assert xml_quote(value) is value


def test_xml_quote_converts_other_objects_with_str():
    assert xml_quote(3) == '3'
    assert xml_quote(None) == 'None'
    assert xml_quote(['<']) == "[&#39;&lt;&#39;]"


def test_html_objects_count_as_markup():
    assert xml_quote(Html()) == '<em>html</em>'
    assert type(xml_quote(Html())) is xml
    assert xml_quote(Markup('<i>')) == '<i>'


def test_add_quotes_the_other_operand():
    assert xml('<p>') + '<' == '<p>&lt;'
    assert '<' + xml('<p>') == '&lt;<p>'
    assert type(xml('<p>') + '<') is xml
    assert type('<' + xml('<p>')) is xml
    assert xml('<p>') + xml('<q>') == '<p><q>'
    assert xml('<p>') + Html() == '<p><em>html</em>'
    assert xml('<p>') + Markup('<i>') == '<p><i>'
    assert xml('<p>') + 1 == '<p>1'


def test_repetition_stays_xml():
    assert xml('<br>') * 2 == '<br><br>'
    assert type(2 * xml('<br>')) is xml


def test_mod_quotes_positional_arguments():
    assert xml('<b>%s</b>') % '<' == '<b>&lt;</b>'
    assert xml('%s%s') % ('<', xml('<i>')) == '&lt;<i>'
    assert type(xml('%s') % 'x') is xml
    assert xml('%r') % '<' == "&#39;&lt;&#39;"
    assert xml('%d|%.1f|%x') % (3, 2.25, 255) == '3|2.2|ff'
    assert xml('%s') % Html() == '<em>html</em>'
    assert xml('%s') % (('<',),) == "(&#39;&lt;&#39;,)"
    with pytest.raises(TypeError):
        xml('%s %s') % 'one'


def test_mod_quotes_mapping_values():
    result = xml('<a href="%(href)s">%(text)s</a> %(n)d') % {
        'href': '"x"', 'text': xml('<i>t</i>'), 'n': 5}
    assert result == '<a href="&#34;x&#34;"><i>t</i></a> 5'
    assert type(result) is xml
    assert xml('%s') % {'a': '<'} == "{&#39;a&#39;: &#39;&lt;&#39;}"


def test_join_quotes_items():
    result = xml('<br>').join(['<', xml('<i>'), Markup('<u>'), 3])
    assert result == '&lt;<br><i><br><u><br>3'
    assert type(result) is xml
    assert xml('').join(iter(['a', 'b'])) == 'ab'


def test_format_quotes_fields():
    result = xml('<p>{0}{1}{name}{x!r}{y:>3}</p>').format(
        '<', xml('<i>'), name=Html(), x='&', y='<')
    assert result == "<p>&lt;<i><em>html</em>&#39;&amp;&#39;  &lt;</p>"
    assert type(result) is xml
    assert xml('{a}').format_map({'a': '<'}) == '&lt;'


def test_join_xml():
    assert join_xml(['<', xml('<i>')]) == '&lt;<i>'
    assert join_xml(['a', 'b'], xml('<br>')) == 'a<br>b'
    assert join_xml(['a', 'b'], '<br>') == 'a&lt;br&gt;b'
    assert type(join_xml([])) is xml
    assert join_xml([]) == ''


@given(st.text())
def test_quoting_round_trips(text):
    assert html.unescape(xml_quote(text)) == text


@given(st.text())
def test_quoted_text_has_no_raw_markup_characters(text):
    quoted = xml_quote(text)
    assert '<' not in quoted
    assert '>' not in quoted
    assert '"' not in quoted
    assert "'" not in quoted


@given(st.text())
def test_quoting_is_idempotent_on_xml(text):
    once = xml_quote(text)
    assert xml_quote(once) is once
    assert xml_quote(xml(text)) == text


@given(st.text(), st.text())
def test_concatenation_quotes_exactly_the_plain_part(markup, text):
    assert xml(markup) + text == markup + str(xml_quote(text))
    assert text + xml(markup) == str(xml_quote(text)) + markup


@given(st.lists(st.text()), st.text())
def test_join_xml_unescapes_to_the_plain_join(items, separator):
    assert html.unescape(join_xml(items, separator)) == separator.join(items)


def test_xml_survives_pickling_and_copying():
    import copy
    import pickle
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        value = pickle.loads(pickle.dumps(xml('<a>'), protocol))
        assert type(value) is xml and value == '<a>'
    assert type(copy.deepcopy(xml('<a>'))) is xml
