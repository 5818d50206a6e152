"""Unit tests for the widgets: parse, error and render of each, against
real HTTPRequests built from fields."""

import datetime
import html.parser
import io
import urllib.parse

import pytest

from qpd.qpy import xml
from qpd.web.request import HTTPRequest
from qpd.web.widget import (
    StringWidget, TextWidget, PasswordWidget, CheckboxWidget,
    SingleSelectWidget, MultipleSelectWidget, RadiobuttonsWidget,
    OptionSelectWidget, IntWidget, FloatWidget, DateWidget, EmailWidget,
    FileWidget, HiddenWidget, SubmitWidget, ResetWidget, ButtonWidget,
    CompositeWidget, WidgetList, WidgetDict)
from qpd.web import widget as widget_module


def make_request(fields=(), method='POST', files=()):
    """(fields:dict|list of pairs, method:str, files:[(name, filename, bytes)]) -> HTTPRequest"""
    if hasattr(fields, 'items'):
        fields = list(fields.items())
    pairs = []
    for name, value in fields:
        for item in (value if isinstance(value, list) else [value]):
            pairs.append((name, item))
    if method == 'GET':
        return HTTPRequest(io.BytesIO(b''), dict(
            REQUEST_METHOD='GET', QUERY_STRING=urllib.parse.urlencode(pairs)))
    if files:
        boundary = 'xYzBoundary'
        parts = []
        for name, value in pairs:
            parts.append('--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
                         % (boundary, name, value))
        body = ''.join(parts).encode('utf-8')
        for name, filename, content in files:
            body += ('--%s\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
                     'Content-Type: application/octet-stream\r\n\r\n'
                     % (boundary, name, filename)).encode('utf-8') + content + b'\r\n'
        body += ('--%s--\r\n' % boundary).encode('ascii')
        content_type = 'multipart/form-data; boundary=' + boundary
    else:
        body = urllib.parse.urlencode(pairs).encode('ascii')
        content_type = 'application/x-www-form-urlencoded'
    return HTTPRequest(io.BytesIO(body), dict(
        REQUEST_METHOD='POST', CONTENT_TYPE=content_type,
        CONTENT_LENGTH=str(len(body))))


class Element:
    def __init__(self, tag, attrs):
        self.tag = tag
        self.attrs = dict(attrs)
        self.text = ''


class Parsed(html.parser.HTMLParser):
    """The elements of some markup, with the text inside each."""

    def __init__(self, markup):
        html.parser.HTMLParser.__init__(self, convert_charrefs=True)
        self.elements = []
        self.open = []
        self.feed(str(markup))
        self.close()

    def handle_starttag(self, tag, attrs):
        element = Element(tag, attrs)
        self.elements.append(element)
        if tag not in ('input', 'br', 'img', 'meta', 'link'):
            self.open.append(element)

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop().tag == tag:
                break

    def handle_data(self, data):
        for element in self.open:
            element.text += data

    def find_all(self, tag, **attrs):
        return [element for element in self.elements if element.tag == tag and all(
            element.attrs.get(name.rstrip('_')) == value for name, value in attrs.items())]

    def find(self, tag, **attrs):
        found = self.find_all(tag, **attrs)
        assert found, 'no <%s %s>' % (tag, attrs)
        return found[0]


def check_labels(markup):
    """Every visible input, select and textarea has a <label for=its id>."""
    parsed = Parsed(markup)
    label_targets = {element.attrs.get('for') for element in parsed.find_all('label')}
    ids = [element.attrs.get('id') for element in parsed.elements if 'id' in element.attrs]
    assert len(ids) == len(set(ids)), 'duplicate ids: %r' % ids
    for element in parsed.elements:
        if element.tag in ('select', 'textarea') or (
                element.tag == 'input' and element.attrs.get('type') not in (
                    'hidden', 'submit', 'reset', 'button')):
            assert element.attrs.get('id') in label_targets, (
                'no label for %s %r' % (element.tag, element.attrs))
    return parsed


def test_exports():
    for name in widget_module.__all__:
        assert hasattr(widget_module, name)
    names = set(widget_module.__all__)
    for name in ('StringWidget', 'TextWidget', 'PasswordWidget', 'CheckboxWidget',
                 'SingleSelectWidget', 'MultipleSelectWidget', 'RadiobuttonsWidget',
                 'OptionSelectWidget', 'IntWidget', 'FloatWidget', 'DateWidget',
                 'EmailWidget', 'FileWidget', 'HiddenWidget', 'SubmitWidget',
                 'ResetWidget', 'ButtonWidget', 'CompositeWidget', 'WidgetList',
                 'WidgetDict'):
        assert name in names


# StringWidget and the common behaviour


def test_string_parse():
    widget = StringWidget('name')
    assert widget.parse(make_request(dict(name='  Ann  '))) == 'Ann'
    assert widget.get_value() == 'Ann'
    assert not widget.has_error()


def test_string_blank_is_none():
    for raw in ('', '   '):
        widget = StringWidget('name')
        assert widget.parse(make_request(dict(name=raw))) is None
        assert not widget.has_error()
    widget = StringWidget('name', value='kept')
    assert widget.parse(make_request()) is None  # absent field


def test_required():
    widget = StringWidget('name', required=True)
    widget.parse(make_request(dict(name=' ')))
    assert widget.get_error() == 'this field is required'
    markup = widget.render()
    parsed = Parsed(markup)
    assert parsed.find('input').attrs['required'] is None  # a bare attribute
    assert 'required' in parsed.find('input').attrs
    assert parsed.find('div', class_='error').text == 'this field is required'
    assert parsed.find('input').attrs['aria-invalid'] == 'true'


def test_string_repeated_field_or_upload_refused():
    widget = StringWidget('name')
    widget.parse(make_request([('name', ['a', 'b'])]))
    assert widget.get_error() == 'must be a single value'
    widget = StringWidget('name')
    widget.parse(make_request(files=[('name', 'x.txt', b'data')]))
    assert widget.get_error() == 'must be text, not a file'


def test_string_maxlength():
    widget = StringWidget('code', maxlength=3)
    widget.parse(make_request(dict(code='abcd')))
    assert widget.get_error() == 'must be at most 3 characters'
    assert Parsed(widget.render()).find('input').attrs['maxlength'] == '3'


def test_string_is_one_line():
    assert StringWidget('a').parse(make_request(dict(a='x\ty'))) == 'x\ty'
    for bad in ('x\ny', 'x\ry', 'x\x00y', 'x\x1by'):
        widget = StringWidget('a')
        widget.parse(make_request(dict(a=bad)))
        assert widget.get_error() == 'must be one line of text'
        value = Parsed(widget.render()).find('input').attrs['value']
        assert '\n' not in value and '\r' not in value and '\x00' not in value
    widget = TextWidget('a')
    assert widget.parse(make_request(dict(a='x\ty\nz'))) == 'x\ty\nz'
    widget = TextWidget('a')
    widget.parse(make_request(dict(a='x\x00y')))
    assert widget.get_error() == 'must not hold control characters'


def test_string_render():
    widget = StringWidget('first_name', value='<Ann & "Bob">', hint='as on your passport',
                          placeholder='name', class_='wide', data_role='x')
    markup = widget.render()
    assert isinstance(markup, xml)
    parsed = check_labels(markup)
    field = parsed.find('input')
    assert field.attrs == {'type': 'text', 'name': 'first_name', 'id': 'first_name',
                           'value': '<Ann & "Bob">', 'placeholder': 'name',
                           'class': 'wide', 'data-role': 'x',
                           'aria-describedby': 'first_name-hint'}
    assert parsed.find('label').text == 'First name'
    assert parsed.find('div', class_='hint').text == 'as on your passport'
    assert '<Ann' not in markup
    assert not parsed.find_all('div', class_='error')


def test_title_quoted_unless_xml():
    assert '&lt;b&gt;' in StringWidget('a', title='<b>').render()
    assert '<b>' in StringWidget('a', title=xml('<b>A</b>')).render()
    assert '<label' not in StringWidget('a', title='').render()


def test_keeps_what_was_typed_on_error():
    widget = IntWidget('n', value=5)
    widget.parse(make_request(dict(n='12x')))
    assert widget.get_value() is None
    assert widget.get_error() == 'must be an integer'
    field = Parsed(widget.render()).find('input')
    assert field.attrs['value'] == '12x'
    # a number input may not hold letters: it becomes a text input
    assert field.attrs['type'] == 'text'
    assert 'step' not in field.attrs


def test_set_error_and_clear():
    widget = StringWidget('name')
    widget.set_error('this name is taken')
    assert widget.has_error()
    assert 'this name is taken' in widget.render()
    widget.clear_error()
    assert not widget.has_error()


def test_parse_is_done_once():
    widget = StringWidget('name')
    widget.parse(make_request(dict(name='a')))
    assert widget.parse(make_request(dict(name='b'))) == 'a'


def test_bad_attribute_name_refused():
    with pytest.raises(ValueError):
        StringWidget('a', **{'x"><script': 1}).render()


# TextWidget


def test_text_parse_and_render():
    widget = TextWidget('body', rows=4, cols=40)
    assert widget.parse(make_request(dict(body='line 1\r\nline 2\r\n'))) == 'line 1\nline 2\n'
    parsed = check_labels(widget.render())
    area = parsed.find('textarea')
    assert area.attrs['rows'] == '4' and area.attrs['cols'] == '40'
    # (a browser drops the newline right after <textarea>; html.parser keeps it)
    assert area.text == '\nline 1\r\nline 2\r\n'
    assert TextWidget('body').parse(make_request(dict(body=' \n '))) is None


def test_text_quotes_content():
    markup = TextWidget('body', value='</textarea><script>').render()
    assert '</textarea><script>' not in markup
    assert Parsed(markup).find('textarea').text == '\n</textarea><script>'


def test_text_maxlength():
    widget = TextWidget('body', maxlength=5)
    widget.parse(make_request(dict(body='123456')))
    assert widget.get_error() == 'must be at most 5 characters'


# PasswordWidget


def test_password():
    widget = PasswordWidget('password', required=True)
    assert widget.parse(make_request(dict(password=' secret '))) == ' secret '
    field = check_labels(widget.render()).find('input')
    assert field.attrs['type'] == 'password'
    assert 'value' not in field.attrs


# EmailWidget


def test_email():
    widget = EmailWidget('email')
    assert widget.parse(make_request(dict(email=' ann@example.com '))) == 'ann@example.com'
    field = check_labels(widget.render()).find('input')
    assert field.attrs['type'] == 'email'
    assert field.attrs['value'] == 'ann@example.com'
    for bad in ('ann', 'ann@', '@example.com', 'a b@example.com', 'ann@-x.com'):
        widget = EmailWidget('email')
        widget.parse(make_request(dict(email=bad)))
        assert widget.get_error() == 'must be an email address', bad
        field = Parsed(widget.render()).find('input')
        assert field.attrs['value'] == bad
        assert field.attrs['type'] == 'text'


# IntWidget, FloatWidget, DateWidget


def test_int():
    widget = IntWidget('n')
    assert widget.parse(make_request(dict(n=' -42 '))) == -42
    field = check_labels(widget.render()).find('input')
    assert field.attrs['type'] == 'number' and field.attrs['step'] == '1'
    assert field.attrs['value'] == '-42'
    for bad in ('1.5', '1e3', 'x', '0x10', '1_000', '١٢'):
        widget = IntWidget('n')
        widget.parse(make_request(dict(n=bad)))
        assert widget.get_error() == 'must be an integer', bad
    assert IntWidget('n').parse(make_request(dict(n=''))) is None


def test_int_bounds():
    widget = IntWidget('n', min_value=1, max_value=10)
    field = Parsed(widget.render()).find('input')
    assert field.attrs['min'] == '1' and field.attrs['max'] == '10'
    widget.parse(make_request(dict(n='0')))
    assert widget.get_error() == 'must be at least 1'
    field = Parsed(widget.render()).find('input')
    assert field.attrs['type'] == 'number' and field.attrs['value'] == '0'
    widget = IntWidget('n', min_value=1, max_value=10)
    widget.parse(make_request(dict(n='11')))
    assert widget.get_error() == 'must be at most 10'


def test_int_initial_value_rendered():
    assert Parsed(IntWidget('n', value=7).render()).find('input').attrs['value'] == '7'


def test_float():
    widget = FloatWidget('x')
    assert widget.parse(make_request(dict(x='2.5'))) == 2.5
    assert FloatWidget('x').parse(make_request(dict(x='-.5e2'))) == -50.0
    field = check_labels(widget.render()).find('input')
    assert field.attrs['type'] == 'number' and field.attrs['step'] == 'any'
    for bad in ('nan', 'inf', '1e999', 'x', '1,5', '--1'):
        widget = FloatWidget('x')
        widget.parse(make_request(dict(x=bad)))
        assert widget.get_error() == 'must be a number', bad
    widget = FloatWidget('x', min_value=0.5)
    widget.parse(make_request(dict(x='0.25')))
    assert widget.get_error() == 'must be at least 0.5'
    assert Parsed(FloatWidget('x', value=1.25).render()).find('input').attrs['value'] == '1.25'


def test_date():
    widget = DateWidget('day', value=datetime.date(2024, 2, 29))
    field = check_labels(widget.render()).find('input')
    assert field.attrs['type'] == 'date' and field.attrs['value'] == '2024-02-29'
    assert widget.parse(make_request(dict(day='2023-12-31'))) == datetime.date(2023, 12, 31)
    for bad in ('2023-02-29', '20230101', '2023-W01-1', 'tomorrow', '31/12/2023'):
        widget = DateWidget('day')
        widget.parse(make_request(dict(day=bad)))
        assert widget.get_error() == 'must be a date (YYYY-MM-DD)', bad
    widget = DateWidget('day', min_value=datetime.date(2024, 1, 1))
    assert Parsed(widget.render()).find('input').attrs['min'] == '2024-01-01'
    widget.parse(make_request(dict(day='2023-12-31')))
    assert widget.get_error() == 'must be at least 2024-01-01'


# CheckboxWidget


def test_checkbox():
    widget = CheckboxWidget('agree')
    assert widget.get_value() is False
    assert widget.parse(make_request(dict(agree='yes'))) is True
    field = check_labels(widget.render()).find('input')
    assert field.attrs['type'] == 'checkbox' and 'checked' in field.attrs
    widget = CheckboxWidget('agree', value=True)
    assert widget.parse(make_request(dict(other='1'))) is False
    assert 'checked' not in Parsed(widget.render()).find('input').attrs


def test_checkbox_required():
    widget = CheckboxWidget('agree', required=True)
    widget.parse(make_request())
    assert widget.get_error() == 'this field is required'


# select widgets

COLORS = [('r', 'Red'), ('g', 'Green'), ('b', 'Blue')]


def test_single_select():
    widget = SingleSelectWidget('color', options=COLORS, value='g')
    parsed = check_labels(widget.render())
    options = parsed.find_all('option')
    assert [(o.attrs['value'], o.text) for o in options] == [
        ('r', 'Red'), ('g', 'Green'), ('b', 'Blue')]
    assert 'selected' in options[1].attrs and 'selected' not in options[0].attrs
    assert widget.parse(make_request(dict(color='b'))) == 'b'
    assert 'selected' in Parsed(widget.render()).find('option', value='b').attrs


def test_single_select_refuses_unoffered():
    for bad in ('x', 'Red', "__import__('os')", ['r', 'g']):
        widget = SingleSelectWidget('color', options=COLORS)
        widget.parse(make_request([('color', bad)]))
        assert widget.get_value() is None
        assert widget.has_error(), bad


def test_select_keys_for_values():
    class Thing:
        def __init__(self, key):
            self.key = key

        def get_key(self):
            return self.key

    class Opaque:
        pass

    thing, opaque = Thing(17), Opaque()
    options = [(None, 'none'), (1, 'one'), (True, 'yes'),
               (datetime.date(2024, 1, 2), 'day'), (thing, 'thing'), (opaque, 'opaque')]
    widget = SingleSelectWidget('v', options=options)
    keys = [o.attrs['value'] for o in Parsed(widget.render()).find_all('option')]
    assert keys == ['', '1', 'True', '2024-01-02', '17', '#5']
    for key, value in zip(keys, [None, 1, True, datetime.date(2024, 1, 2), thing, opaque]):
        widget = SingleSelectWidget('v', options=options)
        assert widget.parse(make_request(dict(v=key))) == value
        assert type(widget.get_value()) is type(value)
    widget = SingleSelectWidget('v', options=[(1, 'one', 'uno'), (2, 'two', 'dos')])
    assert widget.parse(make_request(dict(v='dos'))) == 2
    with pytest.raises(ValueError):
        SingleSelectWidget('v', options=[1, '1'])


def test_single_select_required_has_placeholder():
    widget = SingleSelectWidget('color', options=COLORS, required=True)
    options = Parsed(widget.render()).find_all('option')
    assert options[0].attrs['value'] == '' and len(options) == 4
    widget.parse(make_request(dict(color='')))
    assert widget.get_error() == 'this field is required'


def test_option_select():
    widget = OptionSelectWidget('sort', options=['name', 'date'], value='date')
    parsed = check_labels(widget.render())
    assert parsed.find('select').attrs['onchange'] == 'this.form.submit()'
    assert parsed.find('noscript')
    assert widget.parse(make_request(dict(sort='name'))) == 'name'
    widget = OptionSelectWidget('sort', options=['name', 'date'])
    widget.parse(make_request(dict(sort='size')))
    assert widget.has_error()


def test_multiple_select():
    widget = MultipleSelectWidget('colors', options=COLORS, value=['r'])
    parsed = check_labels(widget.render())
    assert 'multiple' in parsed.find('select').attrs
    assert [o.attrs['value'] for o in parsed.find_all('option') if 'selected' in o.attrs] == ['r']
    assert widget.parse(make_request([('colors', ['b', 'r', 'b'])])) == ['r', 'b']
    assert MultipleSelectWidget('colors', options=COLORS).parse(make_request()) == []
    widget = MultipleSelectWidget('colors', options=COLORS)
    widget.parse(make_request([('colors', ['r', 'x'])]))
    assert widget.get_error() == 'must be one of the offered choices'
    selected = [o.attrs['value'] for o in Parsed(widget.render()).find_all('option')
                if 'selected' in o.attrs]
    assert selected == ['r']
    widget = MultipleSelectWidget('colors', options=COLORS, required=True)
    widget.parse(make_request(dict(other='1')))
    assert widget.get_error() == 'this field is required'


def test_radiobuttons():
    widget = RadiobuttonsWidget('size', options=[(1, 'S'), (2, 'M')], value=2,
                                title='Size', required=True)
    parsed = check_labels(widget.render())
    radios = parsed.find_all('input', type='radio')
    assert [r.attrs['value'] for r in radios] == ['1', '2']
    assert 'checked' in radios[1].attrs and 'required' in radios[0].attrs
    assert parsed.find('legend').text == 'Size'
    assert parsed.find('label', **{'for': radios[0].attrs['id']}).text == 'S'
    assert widget.parse(make_request(dict(size='1'))) == 1
    widget = RadiobuttonsWidget('size', options=[(1, 'S'), (2, 'M')])
    widget.parse(make_request(dict(size='3')))
    assert widget.has_error()
    widget = RadiobuttonsWidget('size', options=[(1, 'S')], required=True)
    widget.parse(make_request(dict(x='')))
    assert widget.get_error() == 'this field is required'


# FileWidget


def test_file():
    widget = FileWidget('doc', accept='.txt')
    upload = widget.parse(make_request(files=[('doc', 'a.txt', b'hello')]))
    assert upload.get_filename() == 'a.txt' and upload.read() == b'hello'
    field = check_labels(widget.render()).find('input')
    assert field.attrs['type'] == 'file' and field.attrs['accept'] == '.txt'
    assert 'value' not in field.attrs
    assert FileWidget('doc').parse(make_request(dict(doc=''))) is None
    widget = FileWidget('doc')
    widget.parse(make_request(dict(doc='/etc/passwd')))
    assert widget.get_error() == 'must be a file'
    widget = FileWidget('doc', required=True)
    widget.parse(make_request(dict(x='1')))
    assert widget.get_error() == 'this field is required'
    widget = FileWidget('doc', max_size=3)
    widget.parse(make_request(files=[('doc', 'a.txt', b'hello')]))
    assert widget.get_error() == 'must be at most 3 bytes'


# HiddenWidget and buttons


def test_hidden():
    widget = HiddenWidget('next', value='/a?b=1&c="')
    parsed = Parsed(widget.render())
    assert len(parsed.elements) == 1
    assert parsed.find('input').attrs == {'type': 'hidden', 'name': 'next', 'id': 'next',
                                          'value': '/a?b=1&c="'}
    assert widget.parse(make_request(dict(next='/x'))) == '/x'
    assert widget.is_hidden()


def test_submit():
    widget = SubmitWidget('save', 'Save it')
    field = Parsed(widget.render()).find('input')
    assert field.attrs == {'type': 'submit', 'name': 'save', 'id': 'save', 'value': 'Save it'}
    assert widget.parse(make_request(dict(save='Save it'))) is True
    assert widget.is_pressed()
    other = SubmitWidget('delete')
    assert other.parse(make_request(dict(save='Save it'))) is False
    assert Parsed(other.render()).find('input').attrs['value'] == 'Delete'
    assert widget.is_button() and not widget.has_error()


def test_reset_and_button():
    reset = ResetWidget()
    assert Parsed(reset.render()).find('input').attrs == {
        'type': 'reset', 'id': 'reset', 'value': 'Reset'}
    button = ButtonWidget('preview', 'Preview', onclick='go()')
    parsed = Parsed(button.render())
    assert parsed.find('button').attrs == {'type': 'button', 'name': 'preview',
                                           'id': 'preview', 'onclick': 'go()'}
    assert parsed.find('button').text == 'Preview'
    assert button.parse(make_request(dict(preview='x'))) is None and not button.has_error()


# compound widgets


def make_composite(**kwargs):
    widget = CompositeWidget('point', title='Point', **kwargs)
    widget.add(IntWidget, 'x', title='X')
    widget.add(IntWidget, 'y', title='Y')
    return widget


def test_composite():
    widget = make_composite(value={'x': 1, 'y': 2})
    assert widget.get_value() == {'x': 1, 'y': 2}
    parsed = check_labels(widget.render())
    assert [f.attrs['name'] for f in parsed.find_all('input')] == ['point$x', 'point$y']
    assert parsed.find('legend').text == 'Point'
    widget = make_composite()
    assert widget.parse(make_request({'point$x': '3', 'point$y': '4'})) == {'x': 3, 'y': 4}
    assert widget.get('x') == 3


def test_composite_child_error():
    widget = make_composite()
    widget.parse(make_request({'point$x': '3', 'point$y': 'four'}))
    assert widget.has_error() and widget.get_error() is None
    assert widget.get_widget('y').get_error() == 'must be an integer'
    markup = widget.render()
    assert 'must be an integer' in markup and 'four' in markup
    widget.clear_error()
    assert not widget.has_error()


def test_composite_required():
    widget = make_composite(required=True)
    widget.parse(make_request({'point$x': ''}))
    assert widget.get_error() == 'this field is required'


def test_widget_list_render_and_parse():
    widget = WidgetList('tags', value=['a', 'b'], title='Tag')
    parsed = check_labels(widget.render())
    assert parsed.find('input', type='hidden').attrs['value'] == '0 1'
    texts = parsed.find_all('input', type='text')
    assert [(t.attrs['name'], t.attrs['value']) for t in texts] == [('tags$0', 'a'), ('tags$1', 'b')]
    assert [label.text for label in parsed.find_all('label')] == ['Tag 1', 'Tag 2']
    assert parsed.find('input', name='tags$add').attrs['type'] == 'submit'
    assert 'formnovalidate' in parsed.find('input', name='tags$remove$1').attrs
    widget = WidgetList('tags')
    assert widget.parse(make_request({'tags$rows': '0 1 2', 'tags$0': 'x', 'tags$1': '',
                                      'tags$2': 'z'})) == ['x', 'z']
    assert not widget.is_rearranged()


def test_widget_list_add_and_remove():
    widget = WidgetList('tags', element_type=IntWidget)
    fields = {'tags$rows': '0 3', 'tags$0': '1', 'tags$3': 'x', 'tags$add': 'Add row'}
    widget.parse(make_request(fields))
    assert widget.is_rearranged()
    names = [f.attrs['name'] for f in Parsed(widget.render()).find_all('input', type='text')
             + Parsed(widget.render()).find_all('input', type='number')]
    assert sorted(names) == ['tags$0', 'tags$3', 'tags$4']
    assert 'x' in widget.render()  # typing kept
    widget = WidgetList('tags', element_type=IntWidget)
    widget.parse(make_request({'tags$rows': '0 3', 'tags$0': '1', 'tags$3': '2',
                               'tags$remove$0': 'Remove'}))
    assert widget.is_rearranged() and widget.get_value() == [2]
    assert Parsed(widget.render()).find('input', type='hidden').attrs['value'] == '3'


def test_widget_list_refuses_bad_rows():
    widget = WidgetList('tags', max_rows=3)
    widget.parse(make_request({'tags$rows': '0 0 -1 x 9999999 1 2 3 4', 'tags$0': 'a'}))
    assert list(widget.rows) == [0, 1, 2]
    assert widget.get_value() == ['a']
    widget = WidgetList('tags', element_type=IntWidget)
    widget.parse(make_request({'tags$rows': '0', 'tags$0': 'x'}))
    assert widget.has_error() and not widget.is_rearranged()


def test_widget_dict():
    widget = WidgetDict('env', value={'A': '1'}, value_type=IntWidget)
    parsed = check_labels(widget.render())
    assert parsed.find('input', name='env$0$key').attrs['value'] == 'A'
    assert parsed.find('input', name='env$0$value').attrs['value'] == '1'
    widget = WidgetDict('env', value_type=IntWidget)
    value = widget.parse(make_request({'env$rows': '0 1 2', 'env$0$key': 'A', 'env$0$value': '1',
                                       'env$1$key': 'B', 'env$1$value': '',
                                       'env$2$key': '', 'env$2$value': '5'}))
    assert widget.get_value() == {'A': 1, 'B': None}
    assert not widget.has_error()
    widget = WidgetDict('env')
    widget.parse(make_request({'env$rows': '0 1', 'env$0$key': 'A', 'env$1$key': 'A'}))
    assert widget.has_error()
    assert widget.rows[1].get_widget('key').get_error() == 'is repeated'
