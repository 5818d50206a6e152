"""Tests for the .qpy template rules (qpd.qpy.compiler)."""

import textwrap

import pytest
from markupsafe import Markup

from qpd.qpy import xml
from qpd.qpy.compiler import compile_qpy, find_templates


def load(source: str) -> dict:
    """(source:str) -> dict
    The namespace of a .qpy module compiled from the dedented source.
    """
    namespace = {'__name__': 'sample'}
    exec(compile_qpy(textwrap.dedent(source), 'sample.qpy'), namespace)
    return namespace


class Html:
    def __html__(self):
        return '<em>html</em>'


def test_find_templates_blanks_markers_and_keeps_columns():
    source = 'def f:xml(a):\n    a\n\ndef  g:str (b): pass\ndef h(c): pass\n'
    python, kinds = find_templates(source)
    assert kinds == {(1, 'f'): 'xml', (4, 'g'): 'str'}
    assert python == 'def f    (a):\n    a\n\ndef  g     (b): pass\ndef h(c): pass\n'
    assert [len(line) for line in python.splitlines()] == [
        len(line) for line in source.splitlines()]


def test_xml_template_accumulates_and_quotes():
    namespace = load('''
        def page:xml(title, body):
            '<h1>'
            title
            '</h1>'
            body
            None
            42
    ''')
    result = namespace['page']('<T>', xml('<p>ok</p>'))
    assert result == '<h1>&lt;T&gt;</h1><p>ok</p>42'
    assert type(result) is xml


def test_xml_template_treats_html_objects_as_markup():
    page = load('''
        def page:xml(a, b):
            a
            b
    ''')['page']
    assert page(Html(), Markup('<i>')) == '<em>html</em><i>'


def test_str_template_accumulates_without_quoting():
    namespace = load('''
        def text:str(a):
            '<'
            a
            None
            1
    ''')
    result = namespace['text']('<&>')
    assert result == '<<&>1'
    assert type(result) is str


def test_empty_template_returns_empty_xml():
    namespace = load('''
        def nothing:xml():
            pass
        def none:str():
            pass
    ''')
    assert namespace['nothing']() == '' and type(namespace['nothing']()) is xml
    assert namespace['none']() == '' and type(namespace['none']()) is str


def test_calls_and_names_are_accumulated():
    page = load('''
        def item:xml(x):
            '<li>'
            x
            '</li>'
        def page:xml(items):
            '<ul>'
            for x in items:
                item(x)
            '</ul>'
            items.sort()  # None: skipped
    ''')['page']
    assert page(['b', '<a>']) == '<ul><li>b</li><li>&lt;a&gt;</li></ul>'


def test_fstrings_trust_literal_parts_and_quote_values():
    namespace = load('''
        def link:xml(href, text, n):
            f'<a href="{href}">{text}</a>'
            f'{n:>3}|{str(text)!r}|{None}'
        def plain:str(text):
            f'<b>{text}</b>'
    ''')
    assert namespace['link']('"x"', xml('<i>'), 7) == (
        '<a href="&#34;x&#34;"><i></a>  7|&#39;&lt;i&gt;&#39;|None')
    assert namespace['plain']('<') == '<b><</b>'


def test_literals_in_xml_templates_are_trusted_everywhere():
    namespace = load('''
        def page:xml(items, name):
            sep = '<br>'
            sep.join(items)
            '<b>%s</b>' % name
            label = f'<i>{name}</i>'
            label
            '<li>' + name
    ''')
    assert namespace['page'](['a', '<'], '&') == (
        'a<br>&lt;<b>&amp;</b><i>&amp;</i><li>&amp;')


def test_control_flow_behaves_like_python():
    page = load('''
        from contextlib import nullcontext

        def page:xml(rows, stop):
            with nullcontext():
                '<with>'
            for row in rows:
                if row == stop:
                    break
                elif row % 2:
                    'odd'
                else:
                    continue
                row
            else:
                '<done>'
            n = 0
            while n < 2:
                n += 1
                n
            try:
                1 / 0
            except ZeroDivisionError:
                '<caught>'
            finally:
                '<finally>'
            [x * 2 for x in rows]
            match stop:
                case 9:
                    '<nine>'
                case _:
                    '<other>'
    ''')['page']
    assert page([1, 2, 3], 9) == (
        '<with>odd1odd3<done>12<caught><finally>[2, 4, 6]<nine>')
    assert page([1, 2, 3], 2) == (
        '<with>odd112<caught><finally>[2, 4, 6]<other>')


def test_return_ends_the_template():
    namespace = load('''
        def early:xml(flag):
            '<a>'
            if flag:
                return
            '<b>'
        def value:xml():
            '<a>'
            return 'explicit'
    ''')
    assert namespace['early'](True) == '<a>'
    assert namespace['early'](False) == '<a><b>'
    assert namespace['value']() == 'explicit'


def test_nested_functions_and_plain_defs():
    namespace = load('''
        def plain(x):
            '<not accumulated>'
            return '<%s>' % x

        def outer:xml(items):
            def helper(x):
                x  # plain Python: nothing accumulated
                return x.upper()
            def cell:xml(x):
                '<td>'
                x
                '</td>'
            class Local:
                label = '<label>'
            for x in items:
                cell(helper(x))
            len(Local.label)
            (lambda: '<lambda>')()
            sorted(items, key=lambda x: x)[0]
    ''')
    assert namespace['plain']('<') == '<<>'
    assert type(namespace['plain']('<')) is str
    assert namespace['outer'](['<a', 'b']) == (
        '<td>&lt;A</td><td>B</td>7<lambda>&lt;a')


def test_templates_as_methods_with_decorators():
    namespace = load('''
        def twice(function):
            def wrapper(*args):
                return function(*args) + function(*args)
            return wrapper

        class Page:
            def __init__(self, title):
                self.title = title

            @twice
            def render:xml(self):
                '<h1>'
                self.title
                '</h1>'
    ''')
    assert namespace['Page']('<').render() == '<h1>&lt;</h1><h1>&lt;</h1>'


def test_async_template():
    import asyncio
    namespace = load('''
        async def page:xml(x):
            '<p>'
            x
    ''')
    assert asyncio.run(namespace['page']('<')) == '<p>&lt;'


def test_docstring_and_future_imports_keep_their_place():
    namespace = load('''
        """Module docstring."""
        from __future__ import annotations

        def f:xml() -> 'xml':
            '<p>'
    ''')
    assert namespace['__doc__'] == 'Module docstring.'
    assert namespace['f']() == '<p>'


def test_module_without_templates_is_plain_python():
    namespace = load('''
        def f(x):
            return '<%s>' % x
    ''')
    assert namespace['f']('<') == '<<>'
    assert '_qpy_xml' not in namespace


def test_syntax_error_names_file_and_line():
    with pytest.raises(SyntaxError) as info:
        compile_qpy('def f:xml():\n    "<p>"\n    x = = 1\n', 'broken.qpy')
    assert info.value.filename == 'broken.qpy'
    assert info.value.lineno == 3


def test_tokenize_error_names_file_and_line():
    with pytest.raises(SyntaxError) as info:
        compile_qpy('def f:xml():\n    (\n', 'broken.qpy')
    assert info.value.filename == 'broken.qpy'
    assert info.value.lineno is not None


def test_syntax_error_text_is_the_qpy_line():
    with pytest.raises(SyntaxError) as info:
        compile_qpy('def f:xml(:\n    pass\n', 'broken.qpy')
    assert info.value.filename == 'broken.qpy'
    assert info.value.lineno == 1
    assert info.value.text.startswith('def f:xml(')


def test_compile_accepts_bytes_with_coding():
    source = '# -*- coding: latin-1 -*-\ndef f:xml():\n    "\xe9<"\n'.encode('latin-1')
    namespace = {}
    exec(compile_qpy(source, 'latin.qpy'), namespace)
    assert namespace['f']() == '\xe9<'
