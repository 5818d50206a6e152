"""Unit tests for Form: building, taking back, tokens and rendering, with
real HTTPRequests and a TokenSet standing in for the session."""

import pytest

from qpd.storage.token_set import TokenSet
from qpd.web.form import Form, TOKEN_NAME, TOKEN_MESSAGE
from qpd.web.widget import (
    StringWidget, IntWidget, SubmitWidget, FileWidget, HiddenWidget, CheckboxWidget,
    WidgetList)

from test_widget import make_request, Parsed, check_labels


class FakeSession:
    """Has the session's token interface, over a real TokenSet."""

    def __init__(self):
        self.tokens = TokenSet()

    def add_token(self):
        return self.tokens.add_token()

    def use_token(self, token):
        return self.tokens.use_token(token)


def build(request, session=None, **kwargs):
    form = Form(request=request, session=session or FakeSession(), **kwargs)
    form.add_string('name', title='Name', required=True)
    form.add_int('age', title='Age', hint='in years')
    form.add_single_select('color', options=[('r', 'Red'), ('g', 'Green')])
    form.add_hidden('next', '/home')
    form.add_submit('save', 'Save')
    form.add_submit('cancel', 'Cancel')
    return form


def rendered_token(form):
    return Parsed(form.render()).find('input', name=TOKEN_NAME).attrs['value']


def test_every_shortcut_adds_its_widget():
    form = Form(request=make_request(method='GET'), session=FakeSession())
    shortcuts = dict(add_string='StringWidget', add_text='TextWidget',
                     add_password='PasswordWidget', add_checkbox='CheckboxWidget',
                     add_single_select='SingleSelectWidget',
                     add_multiple_select='MultipleSelectWidget',
                     add_radiobuttons='RadiobuttonsWidget',
                     add_option_select='OptionSelectWidget', add_int='IntWidget',
                     add_float='FloatWidget', add_date='DateWidget',
                     add_email='EmailWidget', add_file='FileWidget',
                     add_hidden='HiddenWidget', add_submit='SubmitWidget',
                     add_reset='ResetWidget', add_button='ButtonWidget')
    for method, class_name in shortcuts.items():
        kwargs = {'options': [1, 2]} if 'select' in method or 'radio' in method else {}
        widget = getattr(form, method)(method[4:], **kwargs)
        assert type(widget).__name__ == class_name
        assert form.get_widget(method[4:]) is widget
    check_labels(form.render())


def test_duplicate_and_reserved_names_refused():
    form = Form(request=make_request(method='GET'))
    form.add_string('a')
    with pytest.raises(ValueError):
        form.add_int('a')
    with pytest.raises(ValueError):
        form.add_string(TOKEN_NAME)


def test_not_submitted():
    form = build(make_request(method='GET'))
    assert not form.is_submitted()
    assert form.get_submit() is None
    assert not form.has_errors()
    assert form.get('next') == '/home'
    assert form['name'] is None
    with pytest.raises(KeyError):
        form['nothing']
    assert form.get('nothing', 1) == 1


def test_render():
    session = FakeSession()
    form = build(make_request(method='GET'), session=session, id='person')
    markup = form.render()
    parsed = check_labels(markup)
    tag = parsed.find('form')
    assert tag.attrs == {'method': 'post', 'class': 'qpd-form', 'id': 'person'}
    token = parsed.find('input', name=TOKEN_NAME)
    assert token.attrs['type'] == 'hidden'
    assert session.tokens.has_token(token.attrs['value'])
    assert parsed.find('input', name='next').attrs['value'] == '/home'
    assert [b.attrs['name'] for b in parsed.find_all('input', type='submit')] == ['save', 'cancel']
    assert parsed.find('input', name='name').attrs['required'] is None
    assert parsed.find('input', name='age').attrs['type'] == 'number'
    assert markup.index('name="name"') < markup.index('name="age"') < markup.index('name="save"')
    # each rendering has a fresh token
    assert rendered_token(form) != token.attrs['value']


def test_render_by_hand():
    form = build(make_request(method='GET'))
    markup = (form.render_start() + form.get_widget('age').render()
              + form.get_widget('name').render() + form.render_buttons() + form.render_end())
    parsed = check_labels(markup)
    assert parsed.find('input', name=TOKEN_NAME)
    assert markup.index('name="age"') < markup.index('name="name"')
    assert markup.endswith('</form>')
    assert 'name="age"' in form.render_widgets()


def test_action_and_enctype():
    form = Form(action_url='/save?x=1&y=2', request=make_request(method='GET'), session=FakeSession())
    form.add_file('doc')
    tag = Parsed(form.render()).find('form')
    assert tag.attrs['action'] == '/save?x=1&y=2'
    assert tag.attrs['enctype'] == 'multipart/form-data'
    form = Form(method='get', request=make_request(method='GET'), enctype='text/plain')
    form.add_string('q')
    parsed = Parsed(form.render())
    assert parsed.find('form').attrs['enctype'] == 'text/plain'
    assert not parsed.find_all('input', name=TOKEN_NAME)  # get forms have no token


def submit(session, fields, **kwargs):
    form = build(make_request(fields), session=session, **kwargs)
    return form


def test_submitted_with_token():
    session = FakeSession()
    token = rendered_token(build(make_request(method='GET'), session=session))
    form = submit(session, {TOKEN_NAME: token, 'name': 'Ann', 'age': '42', 'color': 'g',
                            'next': '/x', 'save': 'Save'})
    assert form.is_submitted()
    assert not form.has_errors()
    assert form.get_submit() == 'save'
    assert (form['name'], form['age'], form['color'], form['next']) == ('Ann', 42, 'g', '/x')
    assert form.get_error() is None
    assert not session.tokens.has_token(token)


def test_widget_errors_come_back_with_typing():
    session = FakeSession()
    token = rendered_token(build(make_request(method='GET'), session=session))
    form = submit(session, {TOKEN_NAME: token, 'name': '', 'age': 'old', 'save': 'Save'})
    assert form.is_submitted() and form.has_errors()
    assert form.get_error() is None
    assert form.get_widget('name').get_error() == 'this field is required'
    markup = form.render()
    parsed = Parsed(markup)
    assert parsed.find('input', name='age').attrs['value'] == 'old'
    assert 'must be an integer' in markup and 'this field is required' in markup
    # the comeback carries a new token, which works once
    token = parsed.find('input', name=TOKEN_NAME).attrs['value']
    form = submit(session, {TOKEN_NAME: token, 'name': 'Ann', 'age': '3', 'save': 'Save'})
    assert not form.has_errors()


def test_cancel_button():
    session = FakeSession()
    token = rendered_token(build(make_request(method='GET'), session=session))
    form = submit(session, {TOKEN_NAME: token, 'cancel': 'Cancel'})
    assert form.get_submit() == 'cancel'


def test_submitted_without_button():
    session = FakeSession()
    token = rendered_token(build(make_request(method='GET'), session=session))
    form = submit(session, {TOKEN_NAME: token, 'name': 'Ann'})
    assert form.get_submit() is True


def test_token_replay_refused():
    session = FakeSession()
    token = rendered_token(build(make_request(method='GET'), session=session))
    fields = {TOKEN_NAME: token, 'name': 'Ann', 'save': 'Save'}
    assert not submit(session, fields).has_errors()
    again = submit(session, fields)
    assert again.is_submitted() and again.has_errors()
    assert again.get_error() == TOKEN_MESSAGE
    markup = again.render()
    assert TOKEN_MESSAGE in markup
    assert Parsed(markup).find('input', name='name').attrs['value'] == 'Ann'


@pytest.mark.parametrize('fields', [
    {'name': 'Ann', 'save': 'Save'},                                   # no token
    {TOKEN_NAME: 'forged-token-value', 'name': 'Ann', 'save': 'Save'},  # unknown
    {TOKEN_NAME: '', 'name': 'Ann', 'save': 'Save'},
    {TOKEN_NAME: 'x' * 5000, 'name': 'Ann', 'save': 'Save'},
])
def test_bad_token_refused(fields):
    session = FakeSession()
    build(make_request(method='GET'), session=session).render()
    form = submit(session, fields)
    assert form.is_submitted() and form.has_errors()
    assert form.get_error() == TOKEN_MESSAGE
    assert len(session.tokens) == 1


def test_token_from_another_session_refused():
    mine, theirs = FakeSession(), FakeSession()
    token = rendered_token(build(make_request(method='GET'), session=theirs))
    form = submit(mine, {TOKEN_NAME: token, 'name': 'Ann'})
    assert form.has_errors() and form.get_error() == TOKEN_MESSAGE
    assert theirs.tokens.has_token(token)


def test_token_list_or_upload_refused():
    session = FakeSession()
    form = build(make_request(method='GET'), session=session)
    first, second = rendered_token(form), rendered_token(form)
    form = submit(session, [(TOKEN_NAME, [first, second]), ('name', 'Ann')])
    assert form.has_errors() and form.get_error() == TOKEN_MESSAGE
    assert session.tokens.has_token(first) and session.tokens.has_token(second)
    request = make_request({'name': 'Ann'}, files=[(TOKEN_NAME, first, first.encode())])
    form = build(request, session=session)
    assert form.has_errors() and form.get_error() == TOKEN_MESSAGE


def test_without_tokens():
    form = build(make_request({'name': 'Ann', 'save': 'Save'}), use_tokens=False)
    assert form.is_submitted() and not form.has_errors()
    assert TOKEN_NAME not in form.render()


def test_get_form():
    form = Form(method='get', request=make_request({'q': 'cats', 'page': '2'}, method='GET'))
    form.add_string('q')
    form.add_int('page')
    assert form.is_submitted() and not form.has_errors()
    assert form['q'] == 'cats' and form['page'] == 2
    # QP's reading: a get form is submitted by a GET with any field, a
    # post form by any POST, even one that carries none of its fields
    form = Form(method='get', request=make_request({'other': 'x'}, method='GET'))
    form.add_string('q')
    assert form.is_submitted()
    form = Form(method='get', request=make_request({}, method='GET'))
    form.add_string('q')
    assert not form.is_submitted()
    form = Form(method='post', use_tokens=False,
                request=make_request({}, method='POST'))
    form.add_string('q', required=True)
    assert form.is_submitted() and form.has_errors()
    form = Form(method='post', request=make_request({'q': 'x'}, method='GET'))
    form.add_string('q')
    assert not form.is_submitted()


def test_set_error_and_clear_errors():
    session = FakeSession()
    token = rendered_token(build(make_request(method='GET'), session=session))
    form = submit(session, {TOKEN_NAME: token, 'name': 'admin', 'save': 'Save'})
    assert not form.has_errors()
    form.set_error('name', 'this name is taken')
    assert form.has_errors()
    parsed = Parsed(form.render())
    assert parsed.find('div', id='name-error').text == 'this name is taken'
    form.set_error(None, 'try again later')
    assert 'try again later' in form.render()
    form.clear_errors()
    assert not form.has_errors()


def test_widget_list_rearranging_is_not_processed():
    session = FakeSession()
    form = Form(request=make_request(method='GET'), session=session)
    form.add(WidgetList, 'tags', element_type=StringWidget)
    form.add_submit('save')
    parsed = Parsed(form.render())
    # Enter in a field presses the first submit button: a hidden copy of save
    first = [e for e in parsed.find_all('input') if e.attrs.get('type') == 'submit'][0]
    assert first.attrs['name'] == 'save'
    token = parsed.find('input', name=TOKEN_NAME).attrs['value']
    form = Form(request=make_request({TOKEN_NAME: token, 'tags$rows': '0', 'tags$0': 'a',
                                      'tags$add': 'Add row'}), session=session)
    form.add(WidgetList, 'tags', element_type=StringWidget)
    form.add_submit('save')
    assert form.is_submitted() and form.has_errors()
    assert form.get_error() is None
    assert len(Parsed(form.render()).find_all('input', type='text')) == 2


def test_add_widget_and_shortcut_kwargs():
    form = Form(request=make_request(method='GET'), session=FakeSession())
    widget = form.add_widget(CheckboxWidget('ok', title='OK'))
    assert form.get_widget('ok') is widget
    age = form.add_int('age', 3, min_value=0, title='Age', hint='years', required=True)
    assert (age.get_value(), age.min_value, age.get_title(), age.get_hint(), age.is_required()) == (
        3, 0, 'Age', 'years', True)
    assert isinstance(form.add(HiddenWidget, 'h', 'v'), HiddenWidget)
    assert isinstance(form.add(SubmitWidget, 'go', 'Go'), SubmitWidget)
    assert isinstance(form.add(FileWidget, 'f'), FileWidget)
    assert isinstance(form.add(IntWidget, 'i'), IntWidget)
