"""Profile: hits in-process, cookies kept like a browser, cProfile stats."""

import io

from qpd.web.common import get_request, get_response
from qpd.web.directory import Directory
from qpd.web.profile import Profile, format_response
from qpd.web.publish import Publisher


class SiteDirectory(Directory):

    _q_exports = ['', 'set', 'drop', 'echo']

    def _q_index(self):
        return 'index'

    def set(self):
        get_response().set_cookie('flavour', get_request().get_field('f'))
        return 'set'

    def drop(self):
        get_response().expire_cookie('flavour')
        return 'dropped'

    def echo(self):
        request = get_request()
        return '%s %s %s %s' % (request.get_method(), request.get_url(),
                                request.get_cookie('flavour'),
                                request.get_field('a'))


class SitePublisher(Publisher):
    pass


def test_cookies_are_kept_and_dropped():
    profile = Profile(SitePublisher())
    assert profile.get_text(profile.get('/echo')) == \
        'GET http://localhost/echo None None'
    profile.get('/set', f='lemon')
    assert profile.get_cookies() == {'flavour': 'lemon'}
    assert profile.get_text(profile.post('/echo', a='1')) == \
        'POST http://localhost/echo lemon 1'
    profile.get('/drop')
    assert profile.get_cookies() == {}


def test_query_fields_headers_and_https():
    profile = Profile(SitePublisher(), host='example.com:81', scheme='https')
    profile.set_header('X-Test', 'yes')
    assert profile.get_text(profile.get('/echo?a=2')) == \
        'GET https://example.com:81/echo?a=2 None 2'
    assert profile.get_text(profile.get('/echo?b=1', a='3')) == \
        'GET https://example.com:81/echo?b=1&a=3 None 3'
    response = profile.get('/')
    assert format_response(response).startswith(b'HTTP/1.1 200 OK\r\n')


def test_profile_prints_statistics():
    stream = io.StringIO()
    profile = Profile(SitePublisher(), profile=True, stream=stream)
    assert profile.get_text(profile.get('/')) == 'index'
    text = stream.getvalue()
    assert 'function calls' in text and 'process_hit' in text
