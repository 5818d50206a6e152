"""Form round trips through Profile: a real Publisher (on an in-memory Durus
database) serving the form site of tests/integration/form_site, with the
session cookie kept between hits as a browser would."""

import html
import importlib.util
import os
import sys

import pytest
from durus.connection import Connection
from durus.storage import MemoryStorage

from qpd.web.form import TOKEN_NAME, TOKEN_MESSAGE
from qpd.web.profile import Profile

from test_widget import Parsed, check_labels

SLASH = os.path.join(os.path.dirname(__file__), 'integration', 'form_site', 'slash.py')


def load_site_module():
    spec = importlib.util.spec_from_file_location('form_site_slash', SLASH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


slash = load_site_module()


@pytest.fixture
def profile():
    publisher = slash.SitePublisher(connection=Connection(MemoryStorage()))
    return Profile(publisher)


def text(profile, response):
    assert response.get_status_code() == 200, profile.get_text(response)
    return profile.get_text(response)


def get_form(profile):
    """The order page: its markup and its form's fields as a browser would send them."""
    markup = text(profile, profile.get('/order'))
    return markup, form_fields(markup)


def form_fields(markup):
    parsed = Parsed(markup)
    fields = {}
    for element in parsed.find_all('input'):
        kind = element.attrs.get('type')
        if kind in ('submit', 'reset', 'button', 'file'):
            continue
        if kind == 'checkbox':
            if 'checked' in element.attrs:
                fields[element.attrs['name']] = element.attrs['value']
            continue
        fields[element.attrs['name']] = element.attrs.get('value', '')
    for element in parsed.find_all('select'):
        name = element.attrs['name']
        selected = [option.attrs['value'] for option in parsed.elements
                    if option.tag == 'option' and 'selected' in option.attrs]
        fields[name] = selected[0] if selected else ''
    return fields


def post(profile, fields):
    return profile.request('POST', '/order', fields=fields)


def test_render(profile):
    markup, fields = get_form(profile)
    assert markup.startswith('<!DOCTYPE html>')
    check_labels(markup)
    assert fields[TOKEN_NAME]
    assert fields['quantity'] == '1' and fields['size'] == 'm'
    parsed = Parsed(markup)
    assert parsed.find('input', name='email').attrs['type'] == 'email'
    assert 'required' in parsed.find('input', name='name').attrs
    # the token lives in the session, whose cookie the profile now has
    assert profile.get_cookies()


def test_submit_errors_resubmit_success(profile):
    markup, fields = get_form(profile)
    fields.update(name='', email='not an address', quantity='many', order='Order')
    markup = text(profile, post(profile, fields))
    parsed = Parsed(markup)
    assert parsed.find('div', id='name-error').text == 'this field is required'
    assert parsed.find('div', id='email-error').text == 'must be an email address'
    assert parsed.find('div', id='quantity-error').text == 'must be an integer'
    assert parsed.find('input', name='quantity').attrs['value'] == 'many'
    assert parsed.find('input', name='email').attrs['value'] == 'not an address'
    check_labels(markup)

    fields = form_fields(markup)
    fields.update(name='admin', email='ann@example.com', quantity='100', order='Order')
    parsed = Parsed(text(profile, post(profile, fields)))
    assert parsed.find('div', id='quantity-error').text == 'must be at most 99'
    assert not parsed.find_all('div', id='name-error')  # checked only once all else is right

    fields = form_fields(text(profile, post(profile, fields)))
    fields.update(name='admin', quantity='2', order='Order')
    markup = text(profile, post(profile, fields))
    assert Parsed(markup).find('div', id='name-error').text == 'this name is taken'

    fields = form_fields(markup)
    fields.update(name='Ann <b>', size='s', gift='yes', order='Order',
                  **{'tags$0': 'red'})
    markup = text(profile, post(profile, fields))
    assert '<h1>Thank you</h1>' in markup
    assert Parsed(markup).find('p', id='summary').text == (
        'Ann <b> ordered 2 Small (gift wrapped).')
    assert 'Ann &lt;b&gt;' in markup
    assert Parsed(markup).find('p', id='tags').text == 'Tags: red'


def test_add_row_comes_back(profile):
    markup, fields = get_form(profile)
    fields.update(name='Ann', **{'tags$0': 'red', 'tags$add': 'Add row'})
    markup = text(profile, post(profile, fields))
    parsed = Parsed(markup)
    assert parsed.find('input', name='tags$0').attrs['value'] == 'red'
    assert parsed.find('input', name='tags$1').attrs['value'] == ''
    assert not parsed.find_all('p', id='summary')
    fields = form_fields(markup)
    fields.update({'tags$1': 'blue', 'order': 'Order'})
    markup = text(profile, post(profile, fields))
    assert Parsed(markup).find('p', id='tags').text == 'Tags: red, blue'


def test_replay_refused(profile):
    markup, fields = get_form(profile)
    fields.update(name='Ann', order='Order')
    assert 'Thank you' in text(profile, post(profile, fields))
    markup = text(profile, post(profile, fields))  # the very same post again
    assert 'Thank you' not in markup
    assert html.unescape(Parsed(markup).find('div', class_='form-error').text) == TOKEN_MESSAGE
    assert Parsed(markup).find('input', name='name').attrs['value'] == 'Ann'
    # the comeback's own token works
    fields = form_fields(markup)
    fields['order'] = 'Order'
    assert 'Thank you' in text(profile, post(profile, fields))


def test_double_submit_refused(profile):
    markup, fields = get_form(profile)
    fields.update(name='Ann', order='Order')
    first = text(profile, post(profile, fields))
    second = text(profile, post(profile, fields))
    assert 'Thank you' in first and 'Thank you' not in second


def test_cross_site_forged_post_refused(profile):
    """Another site's page posts to /order: with the victim's cookie but no
    token of the victim's session (none, or one the attacker got for
    himself)."""
    get_form(profile)  # the victim has a session with a token
    attacker = Profile(profile.get_publisher())
    _, attacker_fields = get_form(attacker)
    forged = dict(name='Mallory', quantity='99', size='l', order='Order')
    for fields in (forged, dict(forged, **{TOKEN_NAME: attacker_fields[TOKEN_NAME]}),
                   dict(forged, **{TOKEN_NAME: 'A' * 22})):
        markup = text(profile, profile.request(
            'POST', '/order', fields=fields,
            headers={'Origin': 'https://evil.example', 'Referer': 'https://evil.example/'}))
        assert 'Thank you' not in markup
        assert html.unescape(Parsed(markup).find('div', class_='form-error').text) == TOKEN_MESSAGE
    # the attacker's token is still his own, unused
    attacker_fields.update(name='Mallory', order='Order')
    assert 'Thank you' in text(attacker, post(attacker, attacker_fields))


def test_token_list_refused(profile):
    markup, fields = get_form(profile)
    token = fields[TOKEN_NAME]
    fields.update(name='Ann', order='Order')
    fields[TOKEN_NAME] = [token, token]
    markup = text(profile, post(profile, fields))
    assert 'Thank you' not in markup and 'already submitted' in markup


def test_token_upload_refused(profile):
    markup, fields = get_form(profile)
    token = fields[TOKEN_NAME]
    boundary = 'b0undary'
    body = (('--%s\r\nContent-Disposition: form-data; name="name"\r\n\r\nAnn\r\n'
             '--%s\r\nContent-Disposition: form-data; name="%s"; filename="t.txt"\r\n'
             'Content-Type: text/plain\r\n\r\n%s\r\n--%s--\r\n')
            % (boundary, boundary, TOKEN_NAME, token, boundary)).encode()
    markup = text(profile, profile.request(
        'POST', '/order', body=body, content_type='multipart/form-data; boundary=' + boundary))
    assert 'Thank you' not in markup and 'already submitted' in markup


def test_unoffered_select_value_refused(profile):
    markup, fields = get_form(profile)
    fields.update(name='Ann', size="__import__('os').system('true')", order='Order')
    parsed = Parsed(text(profile, post(profile, fields)))
    assert parsed.find('div', id='size-error').text == 'must be one of the offered choices'
