"""Tests for qpd.web.response."""

import gzip
import io

import pytest

from qpd.qpy import xml
from qpd.web.request import HTTPRequest
from qpd.web.response import HTTPResponse, http_date


def make_request(method='GET', **environ):
    base = {'REQUEST_METHOD': method, 'SCRIPT_NAME': '', 'PATH_INFO': '/a/b',
            'QUERY_STRING': '', 'SERVER_NAME': 'example.org', 'SERVER_PORT': '80',
            'wsgi.url_scheme': 'http'}
    base.update(environ)
    return HTTPRequest(io.BytesIO(b''), base)


def body_of(response):
    return b''.join(response.iter_body())


def headers_of(response):
    return dict(response.get_header_list())


def test_defaults():
    response = HTTPResponse()
    assert response.get_status_code() == 200
    assert response.get_reason_phrase() == 'OK'
    assert response.get_header('Content-Type') == 'text/html; charset=utf-8'
    assert response.get_content_type() == 'text/html'
    assert response.get_body() == b''
    response.finish(make_request())
    assert response.get_content_length() == 0
    assert headers_of(response)['Content-Length'] == '0'
    assert body_of(response) == b''


def test_status():
    response = HTTPResponse()
    response.set_status(404)
    assert response.get_status_code() == 404
    assert response.get_reason_phrase() == 'Not Found'
    response.set_status(299, 'Custom')
    assert response.get_reason_phrase() == 'Custom'
    for bad in (99, 600):
        with pytest.raises(ValueError):
            response.set_status(bad)
    for bad in ('200', None, 200.0):        # QP's TypeError
        with pytest.raises(TypeError):
            response.set_status(bad)
    with pytest.raises(ValueError):
        response.set_status(200, 'OK\r\nX: y')


def test_headers():
    response = HTTPResponse()
    response.set_header('X-One', '1')
    response.set_header('x-one', '2')
    assert response.get_header('X-ONE') == '2'
    response.add_header('Link', '<a>')
    response.add_header('Link', '<b>')
    lines = response.get_header_list()
    assert ('x-one', '2') in lines
    assert [value for name, value in lines if name == 'Link'] == ['<a>', '<b>']
    response.del_header('link')
    assert response.get_header('Link') is None
    assert response.get_header('Missing', 'd') == 'd'
    response.set_header('X-Number', 5)
    assert response.get_header('X-Number') == 5     # as given (QP)
    assert ('X-Number', '5') in response.get_header_list()
    response.set_header('X-Number', '6')
    assert response.get_header('X-Number') == '6'


@pytest.mark.parametrize('value', ['a\r\nSet-Cookie: x=1', 'a\nb', 'a\rb', 'a\x00b', '\u20ac'])
def test_header_injection_refused(value):
    response = HTTPResponse()
    with pytest.raises(ValueError):
        response.set_header('X-Bad', value)
    with pytest.raises(ValueError):
        response.add_header('X-Bad', value)


@pytest.mark.parametrize('name', ['Bad Name', 'X:Y', '', 'X\r\n'])
def test_bad_header_names(name):
    with pytest.raises(ValueError):
        HTTPResponse().set_header(name, 'v')


def test_content_type_and_charset():
    response = HTTPResponse()
    response.set_content_type('text/plain')
    assert response.get_header('Content-Type') == 'text/plain; charset=utf-8'
    response.set_content_type('image/png')
    assert response.get_header('Content-Type') == 'image/png'
    response.set_content_type('text/plain', charset=None)
    assert response.get_header('Content-Type') == 'text/plain'
    response.set_content_type('text/plain', 'iso-8859-1')
    response.set_body('caf\u00e9')
    assert response.get_body() == b'caf\xe9'
    assert response.get_charset() == 'iso-8859-1'
    with pytest.raises(ValueError):
        response.set_content_type('text/plain', 'no-such-charset')
    response.set_content_type('text/plain; charset="iso-8859-1"')
    assert response.get_header('Content-Type') == 'text/plain; charset="iso-8859-1"'
    assert response.get_charset() == 'iso-8859-1'


def test_bodies():
    response = HTTPResponse()
    response.set_body(xml('<p>\u00e9</p>'))
    assert response.get_body() == '<p>\u00e9</p>'.encode()
    response.set_body(bytearray(b'raw'))
    assert response.get_body() == b'raw'
    response.set_body(None)
    assert response.get_body() == b''
    with pytest.raises(TypeError):
        response.set_body(42)


def test_iterable_body():
    response = HTTPResponse()
    response.set_body(iter(['a', b'b', '', '\u00e9']))
    assert response.is_streaming()
    response.finish(make_request())
    assert response.get_content_length() is None
    assert 'Content-Length' not in headers_of(response)
    assert body_of(response) == 'ab\u00e9'.encode()


def test_file_body_read_in_chunks():
    data = b'0123456789' * 10
    file = io.BytesIO(data)
    response = HTTPResponse()
    response.chunk_size = 16
    response.set_body(file)
    response.set_header('Content-Length', str(len(data)))
    response.finish(make_request())
    assert response.get_content_length() == 100
    chunks = list(response.iter_body())
    assert len(chunks) == 7 and b''.join(chunks) == data
    assert file.closed


def test_close_releases_stream():
    file = io.BytesIO(b'data')
    response = HTTPResponse()
    response.set_body(file)
    response.finish(make_request())
    response.close()
    assert file.closed


def test_head_has_no_body_but_keeps_length():
    response = HTTPResponse()
    response.set_body('hello')
    response.finish(make_request('HEAD'))
    assert headers_of(response)['Content-Length'] == '5'
    assert body_of(response) == b''
    file = io.BytesIO(b'data')
    response = HTTPResponse()
    response.set_body(file)
    response.finish(make_request('HEAD'))
    assert body_of(response) == b'' and file.closed


@pytest.mark.parametrize('status', [204, 304])
def test_no_body_statuses(status):
    response = HTTPResponse()
    response.set_status(status)
    response.set_body('ignored')
    response.finish(make_request())
    assert body_of(response) == b''
    assert 'Content-Length' not in headers_of(response)
    assert 'Content-Type' not in headers_of(response)


def test_finish_is_idempotent():
    response = HTTPResponse()
    response.set_body('x' * 2000)
    request = make_request(HTTP_ACCEPT_ENCODING='gzip')
    response.finish(request)
    body = response.get_body()
    response.finish(request)
    assert response.get_body() == body
    assert response.is_finished()


def test_gzip():
    text = 'hello world ' * 200
    response = HTTPResponse()
    response.set_body(text)
    response.set_header('ETag', '"abc"')
    response.finish(make_request(HTTP_ACCEPT_ENCODING='deflate, gzip;q=0.8'))
    headers = headers_of(response)
    assert headers['Content-Encoding'] == 'gzip'
    assert headers['Vary'] == 'Accept-Encoding'
    assert headers['ETag'] == 'W/"abc"'
    body = body_of(response)
    assert int(headers['Content-Length']) == len(body) < len(text)
    assert gzip.decompress(body) == text.encode()


@pytest.mark.parametrize('accept, content_type, size', [
    (None, 'text/html', 2000),
    ('gzip;q=0', 'text/html', 2000),
    ('br', 'text/html', 2000),
    ('gzip', 'image/png', 2000),
    ('gzip', 'text/html', 100),
])
def test_no_gzip(accept, content_type, size):
    response = HTTPResponse()
    response.set_content_type(content_type)
    response.set_body(b'a' * size)
    environ = {'HTTP_ACCEPT_ENCODING': accept} if accept else {}
    response.finish(make_request(**environ))
    assert response.get_header('Content-Encoding') is None
    assert body_of(response) == b'a' * size


def test_vary_kept():
    response = HTTPResponse()
    response.set_header('Vary', 'Cookie')
    response.set_body('x' * 2000)
    response.finish(make_request(HTTP_ACCEPT_ENCODING='gzip'))
    assert response.get_header('Vary') == 'Cookie, Accept-Encoding'


def test_cookies_defaults():
    response = HTTPResponse()
    response.set_cookie('session', 'abc123')
    assert response.get_cookies() == {'session': 'abc123'}
    response.finish(make_request())
    lines = [value for name, value in response.get_header_list() if name == 'Set-Cookie']
    assert lines == ['session=abc123; Path=/; HttpOnly; SameSite=Lax']


def test_cookies_secure_under_https():
    response = HTTPResponse()
    response.set_cookie('a', '1')
    response.set_cookie('b', '2', secure=False)
    response.finish(make_request(HTTPS='on'))
    lines = [value for name, value in response.get_header_list() if name == 'Set-Cookie']
    assert lines == ['a=1; Path=/; Secure; HttpOnly; SameSite=Lax',
                     'b=2; Path=/; HttpOnly; SameSite=Lax']


def test_cookie_attributes():
    response = HTTPResponse()
    response.set_cookie('a', '1', path='/app', domain='example.org', max_age=60,
                        expires=0, httponly=False, samesite='strict', partitioned=True)
    assert response.get_cookie_line('a') == (
        'a=1; Path=/app; Domain=example.org; Max-Age=60; '
        'Expires=Thu, 01 Jan 1970 00:00:00 GMT; SameSite=Strict; Partitioned')
    response.set_cookie('n', '1', samesite='None')
    assert 'Secure' in response.get_cookie_line('n')
    response.set_cookie('p', '1', samesite=None, path=None)
    assert response.get_cookie_line('p') == 'p=1; HttpOnly'
    assert response.get_cookie_line('missing') is None


@pytest.mark.parametrize('name, value, attributes', [
    ('bad name', '1', {}), ('a', 'has space', {}), ('a', 'semi;colon', {}),
    ('a', 'x\r\n', {}), ('a', '1', {'path': '/a;b'}), ('a', '1', {'samesite': 'sometimes'}),
    ('a', '1', {'expires': 'Thu\r\nX: y'}),
])
def test_bad_cookies_refused(name, value, attributes):
    with pytest.raises(ValueError):
        HTTPResponse().set_cookie(name, value, **attributes)


def test_unknown_cookie_attribute():
    with pytest.raises(TypeError):
        HTTPResponse().set_cookie('a', '1', colour='red')


def test_expire_cookie():
    response = HTTPResponse()
    response.expire_cookie('session', path='/app')
    line = response.get_cookie_line('session')
    assert line.startswith('session=; Path=/app; Max-Age=0; Expires=Thu, 01 Jan 1970')


def test_set_expires():
    response = HTTPResponse()
    response.set_expires(3600)
    assert response.get_header('Cache-Control') == 'max-age=3600'
    assert response.get_header('Expires').endswith('GMT')
    response.set_expires(0)
    assert response.get_header('Cache-Control') == 'no-cache'
    response.set_expires(None)
    assert response.get_header('Cache-Control') is None
    assert response.get_header('Expires') is None


def test_location_made_absolute():
    response = HTTPResponse()
    response.set_location('c/?x=1')
    response.finish(make_request(QUERY_STRING='q=2'))
    assert response.get_header('Location') == 'http://example.org/a/c/?x=1'
    response = HTTPResponse()
    response.set_location('https://other.org/\u00e9 x')
    response.finish(make_request())
    assert response.get_header('Location') == 'https://other.org/%C3%A9%20x'


def test_location_kept_when_request_path_is_bad():
    response = HTTPResponse()
    response.set_location('c/')
    response.finish(make_request(PATH_INFO=b'/\xff'.decode('latin-1')))
    assert response.get_header('Location') == 'c/'


def test_redirect():
    response = HTTPResponse()
    response.redirect('/there"<>')
    response.finish(make_request())
    assert response.get_status_code() == 302
    # A '/path' Location stays site-relative (issue 27 #8: the Host is
    # the client's word); a relative one is resolved as before.
    assert response.get_header('Location') == '/there%22%3C%3E'
    assert b'/there%22%3C%3E' in body_of(response)
    response = HTTPResponse()
    response.redirect('/x', permanent=True)
    assert response.get_status_code() == 301


def test_http_date():
    assert http_date(0) == 'Thu, 01 Jan 1970 00:00:00 GMT'


def test_hello_page_is_cheap():
    import time
    request = make_request()
    start = time.perf_counter()
    for _ in range(1000):
        response = HTTPResponse()
        response.set_body(xml('<p>Hello, world.</p>'))
        response.finish(request)
        response.get_header_list()
        b''.join(response.iter_body())
    per_response = (time.perf_counter() - start) / 1000
    assert per_response < 200e-6, per_response
