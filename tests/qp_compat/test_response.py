"""QP compatibility: qp.http.response -> qpd.web.response, one test per
entry of docs/qp_api.md, pinning the contract QP's API states."""

import io
import gzip

import pytest

from qpd.web.request import HTTPRequest
from qpd.web.response import HTTPResponse, Stream, status_reasons


def gzip_request():
    return HTTPRequest(io.BytesIO(b''), {'REQUEST_METHOD': 'GET',
                                         'HTTP_ACCEPT_ENCODING': 'gzip'})


def test_http_response():
    response = HTTPResponse()
    assert response.get_status() == (200, 'OK')
    assert response.status == 200       # qpd's attribute (QP's: the pair)
    assert response.get_header('Content-Type') == 'text/html; charset=utf-8'
    assert response.get_content_length() == 0


def test_set_content_type():
    response = HTTPResponse()
    response.set_content_type('text/plain', 'iso-8859-1')
    assert response.get_header('Content-Type') == \
        'text/plain; charset=iso-8859-1'
    response.set_body('caf\u00e9')
    assert response.get_body() == b'caf\xe9'


def test_get_mime_type():
    response = HTTPResponse()
    response.set_content_type('application/json')
    assert response.get_mime_type() == 'application/json'


def test_get_charset():
    response = HTTPResponse()
    assert response.get_charset() == 'utf-8'


def test_set_compress_get_compress():
    response = HTTPResponse()
    assert response.get_compress() is True
    response.set_compress(False)
    assert response.get_compress() is False
    response.set_body('x' * 5000)
    response.finish(gzip_request())
    assert response.get_header('Content-Encoding') is None
    forced = HTTPResponse()
    forced.set_compress(True)
    forced.set_content_type('application/octet-stream')
    forced.set_body(b'y' * 100)          # small and not text: still gzipped
    forced.finish(gzip_request())
    assert forced.get_header('Content-Encoding') == 'gzip'
    assert gzip.decompress(b''.join(forced.iter_body())) == b'y' * 100


def test_set_buffered_get_buffered():
    class Output(io.BytesIO):
        flushes = 0

        def flush(self):
            self.flushes += 1
    response = HTTPResponse()
    assert response.get_buffered() is True
    response.set_buffered(False)
    response.set_body(Stream([b'a', b'b', b'c']))
    output = Output()
    response.write(output)
    assert output.flushes >= 3


def test_set_status():
    response = HTTPResponse()
    response.set_status(404)
    assert response.get_status() == (404, 'Not Found')
    response.set_status(299, 'Custom')
    assert response.get_status() == (299, 'Custom')
    with pytest.raises(ValueError):
        response.set_status(700)
    with pytest.raises(TypeError):                  # QP's: not an int
        response.set_status('200')


def test_get_status():
    response = HTTPResponse()
    response.set_status(302)
    assert response.get_status() == (302, 'Found')


def test_get_status_code():
    response = HTTPResponse()
    response.set_status(204)
    assert response.get_status_code() == 204


def test_set_header():
    response = HTTPResponse()
    response.set_header('X-A', '1')
    response.set_header('X-A', '2')
    assert response.get_header('x-a') == '2'
    with pytest.raises(ValueError):
        response.set_header('X-B', 'a\r\nInjected: 1')


def test_get_header():
    response = HTTPResponse()
    assert response.get_header('X-None') is None
    assert response.get_header('X-None', 'd') == 'd'
    response.set_header('foo', 1)
    assert response.get_header('foo') == 1          # QP's: as it was set


def test_set_expires():
    response = HTTPResponse()
    assert response.get_header('Expires') is None    # qpd: none by default
    response.set_expires(minutes=1, hours=1)
    assert response.get_header('Cache-Control') == 'max-age=3660'
    response.set_expires(0)
    assert response.get_header('Cache-Control') == 'no-cache'
    response.set_expires(None)
    assert response.get_header('Expires') is None


def test_set_body():
    response = HTTPResponse()
    response.set_body('text')
    assert response.get_body() == b'text'
    response.set_body(Stream(iter([b'a', 'b']), length=2))
    assert response.get_content_length() == 2
    assert b''.join(response.iter_body()) == b'ab'


def test_set_cookie():
    response = HTTPResponse()
    response.set_cookie('a', '1', path='/x', comment='ignored')
    response.set_cookie('a', '2', path='/x')
    assert response.get_cookies() == {'a': '2'}
    line = response.get_cookie_line('a')
    assert line.startswith('a=2; Path=/x') and 'HttpOnly' in line
    with pytest.raises(ValueError):
        response.set_cookie('a', 'b;c')
    response.set_cookie('n', 23)                    # QP's: a number as str
    response.set_cookie('e', None)
    assert response.get_cookies()['n'] == '23'
    assert response.get_cookies()['e'] == ''
    with pytest.raises(ValueError):
        response.set_cookie('b', b'bytes')


def test_expire_cookie():
    response = HTTPResponse()
    response.expire_cookie('a', path='/')
    assert 'Max-Age=0' in response.get_cookie_line('a')


def test_get_content_length():
    response = HTTPResponse()
    assert response.get_content_length() == 0      # qpd: the body starts empty
    response.set_body(b'12345')
    assert response.get_content_length() == 5
    response.set_body(Stream(iter([b'1'])))
    assert response.get_content_length() is None


def test_generate_headers():
    response = HTTPResponse()
    response.set_body(b'hello')
    response.set_cookie('a', '1')
    headers = response.generate_headers()
    names = [name for name, value in headers]
    assert names[0] == 'Date' and names[-1] == 'Set-Cookie'
    assert ('Content-Length', '5') in headers
    assert ('Content-Type', 'text/html; charset=utf-8') in headers


def test_generate_body_chunks():
    response = HTTPResponse()
    response.set_body(Stream(['a', 'b']))
    assert list(response.generate_body_chunks()) == [b'a', b'b']


def test_write():
    response = HTTPResponse()
    response.set_status(201)
    response.set_body('made')
    output = io.BytesIO()
    response.write(output)
    text = output.getvalue()
    assert text.startswith(b'Status: 201 Created\r\n')
    assert text.endswith(b'\r\n\r\nmade')
    output = io.BytesIO()
    response.write(output, include_status=False, include_body=False)
    assert output.getvalue().startswith(b'Date: ')
    assert output.getvalue().endswith(b'\r\n\r\n')


def test_stream():
    stream = Stream(iter([b'x']), length=1)
    assert stream.length == 1 and list(stream) == [b'x']


def test_status_reasons():
    assert status_reasons[404] == 'Not Found'
    assert status_reasons[500] == 'Internal Server Error'
