"""QP compatibility: qp.fill.form and qp.fill.widget -> qpd.web.form and
qpd.web.widget, one test per entry of docs/qp_api.md, pinning the
contract QP's API states."""

import io
from urllib.parse import urlencode

import pytest

from qpd.qpy import xml
from qpd.web.form import Form
from qpd.web.profile import Profile
from qpd.web.publish import Publisher
from qpd.web.request import HTTPRequest, Upload
from qpd.web.widget import (
    ButtonWidget, CheckboxWidget, CompositeWidget, FileWidget, FloatWidget,
    HiddenWidget, IntWidget, MultipleSelectWidget, NumberWidget,
    OptionSelectWidget, PasswordWidget, RadiobuttonsWidget, ResetWidget,
    SelectWidget, SingleSelectWidget, StringWidget, SubmitWidget, TextWidget,
    Widget, WidgetDict, WidgetList, WidgetValueError)


def post(**fields):
    body = urlencode(fields, doseq=True).encode()
    return HTTPRequest(io.BytesIO(body), {
        'REQUEST_METHOD': 'POST', 'CONTENT_LENGTH': str(len(body)),
        'CONTENT_TYPE': 'application/x-www-form-urlencoded'})


def get(**fields):
    return HTTPRequest(io.BytesIO(b''), {
        'REQUEST_METHOD': 'GET', 'QUERY_STRING': urlencode(fields)})


def form(request=None, **kwargs):
    return Form(use_tokens=False, request=request or get(), **kwargs)


# qp.fill.form -------------------------------------------------------------

def test_form():
    f = Form(method='get', action_url='/x', use_tokens=False, request=get(),
             id='f')
    html = f.render()
    assert '<form method="get" action="/x"' in html and 'id="f"' in html
    # A post form with tokens carries one (see qpd.web.form): a replayed
    # or forged submission has an error.
    Profile(Publisher())
    guarded = Form(request=post(a='1'))
    guarded.add_string('a')
    assert guarded.is_submitted() and guarded.has_errors()


def test_add():
    f = form()
    widget = f.add(SingleSelectWidget, 'size', 'm', ['s', 'm', 'l'],
                   title='Size')              # QP: positional options
    assert widget.get_value() == 'm' and widget.get_title() == 'Size'
    assert [o.get_value() for o in widget.get_options()] == ['s', 'm', 'l']
    with pytest.raises(ValueError):
        f.add(StringWidget, 'size')


def test_add_string():
    assert isinstance(form().add_string('a', 'v'), StringWidget)


def test_add_text():
    assert isinstance(form().add_text('a', 'v', rows=3), TextWidget)


def test_add_password():
    assert isinstance(form().add_password('a'), PasswordWidget)


def test_add_checkbox():
    widget = form().add_checkbox('a')
    assert isinstance(widget, CheckboxWidget) and widget.get_value() is False


def test_add_single_select():
    widget = form().add_single_select('a', 2, options=[1, 2])
    assert isinstance(widget, SingleSelectWidget) and widget.get_value() == 2


def test_add_multiple_select():
    widget = form().add_multiple_select('a', [1], options=[1, 2])
    assert isinstance(widget, MultipleSelectWidget)


def test_add_radiobuttons():
    assert isinstance(form().add_radiobuttons('a', options=['x']),
                      RadiobuttonsWidget)


def test_add_int_add_float():
    f = form(post(i='3', x='2.5'))
    assert isinstance(f.add_int('i'), IntWidget)
    assert isinstance(f.add_float('x'), FloatWidget)
    assert (f['i'], f['x']) == (3, 2.5)


def test_add_hidden():
    assert isinstance(form().add_hidden('a', 'v'), HiddenWidget)


def test_add_submit():
    widget = form().add_submit('go', 'Go!')
    assert isinstance(widget, SubmitWidget) and 'value="Go!"' in \
        widget.render()


def test_add_reset():
    assert isinstance(form().add_reset('r', 'Reset'), ResetWidget)


def test_get_widget():
    f = form()
    widget = f.add_string('a')
    assert f.get_widget('a') is widget and f.get_widget('b') is None


def test_get_all_widgets():
    f = form()
    a, b = f.add_string('a'), f.add_submit('b')
    assert f.get_all_widgets() == [a, b]


def test_getitem():
    f = form(post(a='x'))
    f.add_string('a')
    assert f['a'] == 'x'
    with pytest.raises(KeyError):
        f['missing']


def test_get():
    f = form(post(a='x'))
    f.add_string('a')
    assert f.get('a') == 'x' and f.get('missing', 'd') == 'd'


def test_has_key():
    f = form()
    f.add_string('a')
    assert f.has_key('a') and not f.has_key('b')


def test_is_submitted():
    f = form(post(a='x'))
    f.add_string('a')
    assert f.is_submitted()
    g = form(get())
    g.add_string('a')
    assert not g.is_submitted()
    # QP's reading: any POST submits a post form (one without its fields
    # has errors); a GET with any field submits a get form
    h = form(post(other='y'))
    h.add_string('a', required=True)
    assert h.is_submitted() and h.has_errors()
    i = form(get(other='y'), method='get')
    i.add_string('a')
    assert i.is_submitted()
    j = form(get(a='x'))
    j.add_string('a')
    assert not j.is_submitted()     # a post form is not submitted by a GET


def test_get_javascript_code():
    from qpd.web.common import clear_publisher, set_hit
    from qpd.web.form import get_javascript_code
    from qpd.web.hit import Hit
    clear_publisher()
    assert get_javascript_code() == {}      # outside a hit: nothing kept
    Publisher()
    hit = Hit(io.BytesIO(b''), {'REQUEST_METHOD': 'GET'})
    set_hit(hit)
    try:
        code = get_javascript_code()
        assert code is get_javascript_code() is hit.get_info()[
            'javascript_code']
        code['b'] = 'second();'
        code['a'] = 'first();'
        rendered = form().render()
        assert rendered.endswith(
            '</form><script>\nfirst();\nsecond();\n</script>')
        assert code == {'a': '', 'b': ''}   # rendered once
        assert 'script' not in form().render()
    finally:
        clear_publisher()


def test_get_submit():
    f = form(post(a='x', go='Go'))
    f.add_string('a')
    f.add_submit('go', 'Go')
    f.add_submit('stop', 'Stop')
    assert f.get_submit() == 'go'
    g = form(post(a='x'))
    g.add_string('a')
    g.add_submit('go')
    assert g.get_submit() is True
    h = form(get())
    h.add_string('a')
    assert not h.get_submit()


def test_has_errors():
    f = form(post(i='x'))
    f.add_int('i')
    assert f.has_errors()


def test_set_error():
    f = form(post(a='x'))
    f.add_string('a')
    f.set_error('a', 'taken')
    assert f.has_errors() and f.get_widget('a').get_error() == 'taken'


def test_clear_errors():
    f = form(post(i='x'))
    f.add_int('i')
    assert f.has_errors()
    f.clear_errors()
    assert not f.get_widget('i').has_error()


def test_render():
    f = form()
    f.add_hidden('h', '1')
    f.add_string('a', '<v>')
    f.add_submit('go')
    html = f.render()
    assert isinstance(html, xml)
    assert html.index('name="h"') < html.index('name="a"') < \
        html.index('name="go"')
    assert 'value="&lt;v&gt;"' in html and html.endswith('</form>')


# qp.fill.widget -----------------------------------------------------------

def test_widget():
    widget = StringWidget('a', 'v', title='A', hint='h', required=True,
                          size=10)
    assert (widget.get_name(), widget.get_value(), widget.get_title(),
            widget.get_hint(), widget.is_required()) == ('a', 'v', 'A', 'h',
                                                         True)
    assert StringWidget('a', title='').get_title() == ''
    assert issubclass(StringWidget, Widget)


def test_name_value():
    widget = StringWidget('a', 'v')
    widget.set_value('w')
    assert widget.get_name() == 'a' and widget.get_value() == 'w'


def test_title_hint_required():
    widget = StringWidget('a')
    widget.set_title('T')
    widget.set_hint('H')
    assert (widget.get_title(), widget.get_hint(), widget.is_required()) == (
        'T', 'H', False)


def test_errors():
    widget = StringWidget('a')
    assert not widget.has_error() and widget.get_error() is None
    widget.set_error('bad')
    assert widget.has_error() and widget.get_error() == 'bad'
    widget.clear_error()
    assert not widget.has_error()


def test_parse():
    widget = StringWidget('a', required=True)
    assert widget.parse(post(a='x')) == 'x'
    empty = StringWidget('a', required=True)
    empty.parse(post(a=''))
    assert empty.has_error()


def test_render_parts():
    widget = StringWidget('a', 'v', title='T', hint='H')
    widget.set_error('E')
    html = widget.render()
    for part in (widget.render_title(), widget.render_hint(),
                 widget.render_error(), widget.render_content()):
        assert isinstance(part, xml) and part in html


def test_widget_value_error():
    class Even(IntWidget):
        def _parse(self, request):
            value = IntWidget._parse(self, request)
            if value is not None and value % 2:
                raise WidgetValueError('must be even')
            return value
    widget = Even('n')
    widget.parse(post(n='3'))
    assert widget.get_error() == 'must be even'


def test_string_widget():
    assert StringWidget('a').parse(post(a='  ')) is None   # blank: None
    assert StringWidget('b').parse(post(b='')) is None
    assert StringWidget('c').parse(post(c='x')) == 'x'


def test_password_widget():
    widget = PasswordWidget('p', 'secret')
    assert 'secret' not in widget.render()


def test_text_widget():
    html = TextWidget('t', 'a<b', cols=20, rows=3).render()
    assert '<textarea' in html and 'a&lt;b' in html and 'rows="3"' in html


def test_hidden_widget():
    widget = HiddenWidget('h', 'v')
    assert widget.render() == widget.render_content()
    assert 'type="hidden"' in widget.render()


def test_checkbox_widget():
    assert CheckboxWidget('c').parse(post(c='on')) is True
    assert CheckboxWidget('c').parse(post(other='1')) is False


def test_select_widget():
    assert issubclass(SingleSelectWidget, SelectWidget)
    assert issubclass(MultipleSelectWidget, SelectWidget)
    assert issubclass(RadiobuttonsWidget, SelectWidget)
    # qpd's (documented): keys come from values or positions, never from
    # descriptions or _p_oid, so equal descriptions are fine (QP asserted)
    class Thing:
        _p_oid = b'\0' * 7 + b'\1'

        def __str__(self):
            return 'same'
    a, b = Thing(), Thing()
    widget = MultipleSelectWidget('m', options=[a, b])
    assert [option.key for option in widget.get_options()] == ['#0', '#1']
    assert widget.parse(post(m=['#1'])) == [b]
    with pytest.raises(ValueError):             # equal keys: give keys
        SingleSelectWidget('s', options=['x', 'x'])


def test_single_select_widget():
    widget = SingleSelectWidget('s', options=[(1, 'one', 'a'), (2, 'two',
                                                                 'b')])
    assert widget.parse(post(s='b')) == 2
    bad = SingleSelectWidget('s', options=[1])
    bad.parse(post(s='nope'))
    assert bad.has_error()


def test_multiple_select_widget():
    widget = MultipleSelectWidget('m', options=[(1, 'one', 'a'),
                                                (2, 'two', 'b')])
    assert widget.parse(post(m=['a', 'b'])) == [1, 2]


def test_radiobuttons_widget():
    widget = RadiobuttonsWidget('r', options=['x', 'y'])
    assert widget.render().count('type="radio"') == 2


def test_option_select_widget():
    html = OptionSelectWidget('o', options=['x', 'y']).render()
    assert '<select' in html and 'this.form.submit()' in html


def test_file_widget():
    body = (b'--B\r\nContent-Disposition: form-data; name="f"; '
            b'filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n'
            b'data\r\n--B--\r\n')
    request = HTTPRequest(io.BytesIO(body), {
        'REQUEST_METHOD': 'POST', 'CONTENT_LENGTH': str(len(body)),
        'CONTENT_TYPE': 'multipart/form-data; boundary=B'})
    upload = FileWidget('f').parse(request)
    assert isinstance(upload, Upload)
    assert upload.base_filename == 'a.txt' and upload.read() == b'data'


def test_button_widget():
    assert 'type="button"' in ButtonWidget('b', 'Press').render()


def test_submit_widget():
    f = form(post(go='Go'))
    f.add_submit('go', 'Go')
    assert f.get_submit() == 'go'


def test_reset_widget():
    assert 'type="reset"' in ResetWidget('r').render()


def test_number_widget():
    assert issubclass(IntWidget, NumberWidget)
    assert issubclass(FloatWidget, NumberWidget)


def test_int_float_widgets():
    bad = IntWidget('i')
    bad.parse(post(i='x'))
    assert bad.get_error() == 'must be an integer'
    bad = FloatWidget('f')
    bad.parse(post(f='x'))
    assert bad.get_error() == 'must be a number'


def test_composite_widget():
    widget = CompositeWidget('c')
    widget.add(StringWidget, 'a')
    widget.add(IntWidget, 'n')
    assert widget.get_widget('a').get_name() == 'c$a'
    assert [w.get_name() for w in widget.get_widgets()] == ['c$a', 'c$n']
    assert widget.parse(post(**{'c$a': 'x', 'c$n': '2'})) == {'a': 'x',
                                                              'n': 2}
    assert widget.get('n') == 2


def test_widget_list():
    widget = WidgetList('l', ['a', 'b'], element_type=StringWidget,
                        add_element_label='More')
    html = widget.render()
    assert 'More' in html and 'value="a"' in html and 'value="b"' in html


def test_widget_dict():
    widget = WidgetDict('d', {'k': 1}, element_key_type=StringWidget,
                        element_value_type=IntWidget)
    html = widget.render()
    assert 'value="k"' in html and 'value="1"' in html
