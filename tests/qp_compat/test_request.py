"""QP compatibility: qp.http.request -> qpd.web.request, one test per
entry of docs/qp_api.md, pinning the contract QP's API states."""

import io

import pytest

from qpd.web.request import (
    DEFAULT_CHARSET, HTTPRequest, Upload, get_content_type, make_safe_filename,
    parse_content_disposition, parse_cookies, parse_header, parse_query)


def request(body=b'', **environ):
    base = {'REQUEST_METHOD': 'GET', 'SERVER_NAME': 'example.org',
            'SERVER_PORT': '80', 'SCRIPT_NAME': '', 'PATH_INFO': '/'}
    base.update(environ)
    if body:
        base.setdefault('CONTENT_LENGTH', str(len(body)))
    return HTTPRequest(io.BytesIO(body), base)


def multipart_request():
    body = (b'--B\r\nContent-Disposition: form-data; name="f"; '
            b'filename="dir/my file.txt"\r\n'
            b'Content-Type: text/plain; charset=latin-1\r\n\r\n'
            b'one\ntwo\nthree\r\n--B--\r\n')
    return request(body, REQUEST_METHOD='POST',
                   CONTENT_TYPE='multipart/form-data; boundary=B')


def test_http_request():
    r = request(HTTP_COOKIE='a=1', HTTPS='on')
    assert r.get_cookie('a') == '1' and r.get_scheme() == 'https'


def test_default_charset():
    assert DEFAULT_CHARSET == 'utf-8'


def test_process_inputs():
    r = request(b'a=1&b=2&a=3', REQUEST_METHOD='POST', QUERY_STRING='q=x',
                CONTENT_TYPE='application/x-www-form-urlencoded')
    r.process_inputs()
    assert r.get_fields() == {'q': 'x', 'a': ['1', '3'], 'b': '2'}
    with pytest.raises(ValueError):
        request(QUERY_STRING='a=%zz').process_inputs()
    assert isinstance(multipart_request().get_field('f'), Upload)
    with pytest.raises(ValueError):                 # QP's: whatever the method
        request(CONTENT_LENGTH='a').process_inputs()


def test_get_header():
    r = request(HTTP_USER_AGENT='agent', CONTENT_TYPE='text/plain')
    assert r.get_header('User-Agent') == 'agent'
    assert r.get_header('user-agent') == 'agent'
    assert r.get_header('HTTP_USER_AGENT') == 'agent'       # CGI spelling
    assert r.get_header('CONTENT_TYPE') == 'text/plain'
    assert r.get_header('X-None', 'd') == 'd'


def test_get_cookie():
    r = request(HTTP_COOKIE='a=1; b=2')
    assert r.get_cookie('b') == '2' and r.get_cookie('c', 'd') == 'd'


def test_get_cookies():
    assert request(HTTP_COOKIE='a=1; b=2').get_cookies() == {'a': '1',
                                                             'b': '2'}


def test_get_fields():
    assert request(QUERY_STRING='a=1&a=2&b=').get_fields() == {
        'a': ['1', '2'], 'b': ''}


def test_get_field():
    r = request(QUERY_STRING='a=1')
    assert r.get_field('a') == '1' and r.get_field('z', 'd') == 'd'


def test_get_method():
    assert request().get_method() == 'GET'
    assert HTTPRequest(io.BytesIO(b''), {}).get_method() == 'GET'


def test_get_scheme():
    assert request().get_scheme() == 'http'
    assert request(HTTPS='on').get_scheme() == 'https'


def test_get_server():
    assert request(HTTP_HOST='h.org:8080').get_server() == 'h.org:8080'
    assert request(SERVER_PORT='8000').get_server() == 'example.org:8000'
    assert request().get_server() == 'example.org'


def test_get_script_name():
    assert request(SCRIPT_NAME='/app').get_script_name() == '/app'
    assert HTTPRequest(io.BytesIO(b''), {}).get_script_name() == ''


def test_get_path_info():
    assert request(PATH_INFO='/a/b').get_path_info() == '/a/b'
    assert HTTPRequest(io.BytesIO(b''), {}).get_path_info() == ''


def test_get_path():
    r = request(SCRIPT_NAME='/app', PATH_INFO='/a/b/c')
    assert r.get_path() == '/app/a/b/c'
    assert r.get_path(1) == '/app/a/b' and r.get_path(2) == '/app/a'
    assert r.get_path(-1) == '/app' and r.get_path(-2) == '/app/a'
    with pytest.raises(ValueError):
        r.get_path(5)
    assert request(PATH_INFO='').get_path() == '/'      # the root


def test_get_query():
    assert request(QUERY_STRING='a=1&b').get_query() == 'a=1&b'


def test_get_path_query():
    assert request(PATH_INFO='/a b', QUERY_STRING='x=1').get_path_query() \
        == '/a%20b?x=1'
    assert request(PATH_INFO='/a').get_path_query() == '/a'


def test_get_url():
    assert request(PATH_INFO='/a', QUERY_STRING='x=1').get_url() == \
        'http://example.org/a?x=1'


def test_get_environ():
    r = request(HTTP_X='1')
    assert r.get_environ('HTTP_X') == '1' and r.get_environ('NO', 'd') == 'd'


def test_get_remote_address():
    assert request(REMOTE_ADDR='10.0.0.1').get_remote_address() == '10.0.0.1'


def test_get_encoding():
    r = request(HTTP_ACCEPT_ENCODING='gzip;q=0, deflate, br;q=0.5')
    assert r.get_encoding(['gzip', 'br']) == 'br'
    assert r.get_encoding(['gzip']) is None
    assert request().get_encoding(['gzip']) is None


def test_get_accepted_types():
    r = request(HTTP_ACCEPT='text/html, application/xml;q=0.9, */*;q=0.8')
    assert r.get_accepted_types() == {
        'text/html': 1.0, 'application/xml': 0.9, '*/*': 0.8}
    r = request(HTTP_ACCEPT='image/png,*/*;q=.9.9')  # QP's: a bad q drops it
    assert r.get_accepted_types() == {'image/png': 1.0}


def test_get_content_type_function():
    assert get_content_type({'CONTENT_TYPE': 'Text/HTML; charset=utf-8'}) \
        == 'text/html'
    assert get_content_type({}) is None


def test_parse_header():
    assert parse_header('text/plain; charset="utf-8"; format=flowed') == (
        'text/plain', {'charset': 'utf-8', 'format': 'flowed'})
    assert parse_header('text/plain') == ('text/plain', {})


def test_parse_content_disposition():
    assert parse_content_disposition(
        'form-data; name="f"; filename="a.txt"') == ('f', 'a.txt')
    assert parse_content_disposition('form-data; name="x"') == ('x', None)
    with pytest.raises(ValueError):
        parse_content_disposition('attachment; filename="a"')


def test_parse_query():
    assert parse_query('a=1&b=%C3%A9&a=2', 'utf-8') == {
        'a': ['1', '2'], 'b': '\u00e9'}
    with pytest.raises(ValueError):
        parse_query('a=1', 'shift_jis')     # qpd: UTF-8 only (README)


def test_parse_cookies():
    assert parse_cookies('$Version=1; a=1; b="two"; a=3') == {
        'a': '1', 'b': 'two'}              # RFC 6265: the first wins
    # qpd's (documented): a piece without '=' (a nameless cookie) is
    # skipped, so it cannot stand for a cookie of the site's
    assert parse_cookies('qpd_session; qpd_session=real') == {
        'qpd_session': 'real'}
    assert parse_cookies('a') == {}


def test_make_safe_filename():
    assert make_safe_filename('my file/../x?.txt') == 'my_file_.._x_.txt'
    assert make_safe_filename('ok-name_1.txt') == 'ok-name_1.txt'


def test_upload():
    upload = Upload('a.txt', 'text/plain', 'utf-8')
    assert (upload.orig_filename, upload.content_type, upload.charset) == (
        'a.txt', 'text/plain', 'utf-8')


def test_upload_attributes():
    upload = multipart_request().get_field('f')
    assert upload.orig_filename == 'dir/my file.txt'
    assert upload.base_filename == 'my file.txt'
    assert upload.content_type == 'text/plain'
    assert upload.charset == 'latin-1'
    assert upload.fp.read() == b'one\ntwo\nthree'


def test_upload_receive():
    upload = Upload('a.txt')
    upload.receive([b'one\n', b'two\n'])
    assert upload.read() == b'one\ntwo\n'


def test_upload_reading():
    upload = multipart_request().get_field('f')
    assert upload.read(3) == b'one'
    assert upload.readline() == b'\n'
    assert upload.readlines() == [b'two\n', b'three']
    upload.fp.seek(0)
    assert list(upload) == [b'one\n', b'two\n', b'three']


def test_upload_close():
    upload = Upload('a.txt')
    upload.receive([b'x'])
    upload.close()
    assert upload.fp.closed


def test_line_input_mime_input():
    # qpd: not provided; multipart bodies stream through python-multipart
    # (README). The parsed result is what QP's helpers produced.
    import qpd.web.request as module
    assert not hasattr(module, 'LineInput')
    r = multipart_request()
    r.process_inputs()
    assert r.get_field('f').get_size() == len(b'one\ntwo\nthree')
