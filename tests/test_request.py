"""Tests for qpd.web.request: accessors, fields, uploads, limits, bad input."""

import io

import pytest
from hypothesis import given, settings, strategies as st

from qpd.web.errors import HTTPError
from qpd.web.request import (
    HTTPRequest, Upload, parse_cookies, parse_query_pairs as parse_query)


def make_request(body=b'', **environ):
    base = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': '/',
            'QUERY_STRING': '', 'SERVER_NAME': 'example.org',
            'SERVER_PORT': '80', 'REMOTE_ADDR': '10.0.0.1',
            'wsgi.url_scheme': 'http'}
    base.update(environ)
    if body and 'CONTENT_LENGTH' not in environ:
        base['CONTENT_LENGTH'] = str(len(body))
    return HTTPRequest(io.BytesIO(body), base)


def multipart(parts, boundary='BoUnDaRy'):
    """parts: list of (headers:str, data:bytes) -> body bytes"""
    chunks = []
    for headers, data in parts:
        chunks.append(('--%s\r\n%s\r\n\r\n' % (boundary, headers)).encode('utf-8'))
        chunks.append(data + b'\r\n')
    chunks.append(('--%s--\r\n' % boundary).encode())
    return b''.join(chunks)


def post_multipart(body, boundary='BoUnDaRy', **environ):
    return make_request(
        body, REQUEST_METHOD='POST',
        CONTENT_TYPE='multipart/form-data; boundary=%s' % boundary, **environ)


def assert_4xx(call):
    with pytest.raises(HTTPError) as info:
        call()
    assert 400 <= info.value.get_status() < 500
    return info.value.get_status()


# Accessors

def test_basic_accessors():
    request = make_request(
        REQUEST_METHOD='post', SCRIPT_NAME='/app', PATH_INFO='/a b/c',
        QUERY_STRING='x=1', HTTP_HOST='Example.org:8080',
        HTTP_USER_AGENT='tester', CONTENT_TYPE='text/plain')
    assert request.get_method() == 'POST'
    assert request.get_scheme() == 'http'
    assert not request.is_secure()
    assert request.get_server() == 'example.org:8080'
    assert request.get_script_name() == '/app'
    assert request.get_path_info() == '/a b/c'
    assert request.get_path() == '/app/a b/c'
    assert request.get_query() == 'x=1'
    assert request.get_path_query() == '/app/a%20b/c?x=1'
    assert request.get_url() == 'http://example.org:8080/app/a%20b/c?x=1'
    assert request.get_remote_address() == '10.0.0.1'
    assert request.get_header('User-Agent') == 'tester'
    assert request.get_header('user-agent') == 'tester'
    assert request.get_header('Content-Type') == 'text/plain'
    assert request.get_header('X-Missing', 'no') == 'no'
    assert request.get_environ('REMOTE_ADDR') == '10.0.0.1'
    assert request.get_content_type() == 'text/plain'


def test_path_query_without_query():
    request = make_request(PATH_INFO='/x')
    assert request.get_path_query() == '/x'
    assert request.get_url() == 'http://example.org/x'


def test_path_always_starts_with_one_slash():
    # Issue 23: a PATH_INFO without its leading slash was joined to the
    # host: http://example.orga, not http://example.org/a.
    request = make_request(PATH_INFO='a')
    assert request.get_path() == '/a'
    assert request.get_url() == 'http://example.org/a'
    assert make_request(PATH_INFO='').get_path() == '/'
    assert make_request(SCRIPT_NAME='app', PATH_INFO='/x').get_path() == \
        '/app/x'
    assert make_request(PATH_INFO='//evil.example/x').get_path() == \
        '/evil.example/x'


def test_scheme_https():
    assert make_request(HTTPS='on').get_scheme() == 'https'
    assert make_request(**{'wsgi.url_scheme': 'https'}).get_scheme() == 'https'
    request = make_request(HTTPS='on', SERVER_PORT='443')
    assert request.is_secure()
    assert request.get_server() == 'example.org'


def test_server_without_host():
    assert make_request(SERVER_PORT='8000').get_server() == 'example.org:8000'
    assert make_request().get_server() == 'example.org'


def test_server_refuses_junk_host():
    request = make_request(HTTP_HOST='evil.com/<script>', SERVER_PORT='80')
    assert request.get_server() == 'example.org'
    assert make_request(HTTP_HOST='[::1]:8080').get_server() == '[::1]:8080'


def test_path_info_utf8():
    raw = '/caf\u00e9'.encode('utf-8').decode('latin-1')
    assert make_request(PATH_INFO=raw).get_path_info() == '/caf\u00e9'
    bad = b'/\xff'.decode('latin-1')
    assert assert_4xx(make_request(PATH_INFO=bad).get_path_info) == 400


def test_content_length_checks():
    assert make_request(CONTENT_LENGTH='').get_content_length() is None
    assert make_request(CONTENT_LENGTH='12').get_content_length() == 12
    assert assert_4xx(make_request(CONTENT_LENGTH='abc').get_content_length) == 400
    assert assert_4xx(make_request(CONTENT_LENGTH='-1').get_content_length) == 400
    assert assert_4xx(make_request(CONTENT_LENGTH='1e3').get_content_length) == 400
    too_big = HTTPRequest(io.BytesIO(b''), {'CONTENT_LENGTH': '100'},
                          max_request_size=10)
    assert assert_4xx(too_big.get_content_length) == 413


# Cookies

def test_cookies():
    request = make_request(HTTP_COOKIE='a=1; b="two"; c=x=y; a=ignored')
    assert request.get_cookies() == {'a': '1', 'b': 'two', 'c': 'x=y'}
    assert request.get_cookie('b') == 'two'
    assert request.get_cookie('zz', 'none') == 'none'


def test_cookies_skip_junk():
    header = 'novalue; =empty; bad name=1; ok=2;;; \u00ff=3; u=' + \
        b'\xc3\xa9'.decode('latin-1') + '; v=' + b'\xff'.decode('latin-1')
    assert parse_cookies(header) == {'ok': '2', 'u': '\u00e9'}
    assert make_request().get_cookies() == {}


# Query string fields

def test_query_fields():
    request = make_request(QUERY_STRING='a=1&b=x+y&a=2&c&d=%C3%A9&&e=')
    assert request.get_fields() == {
        'a': ['1', '2'], 'b': 'x y', 'c': '', 'd': '\u00e9', 'e': ''}
    assert request.get_field('b') == 'x y'
    assert request.get_field('zz', 'no') == 'no'
    assert request.get_field_list('a') == ['1', '2']
    assert request.get_field_list('b') == ['x y']
    assert request.get_field_list('zz') == []


def test_process_inputs_is_idempotent():
    request = make_request(QUERY_STRING='a=1')
    request.process_inputs()
    request.process_inputs()
    assert request.get_fields() == {'a': '1'}


def test_query_raw_utf8():
    query = 'n=caf\u00e9'.encode('utf-8').decode('latin-1')
    assert make_request(QUERY_STRING=query).get_field('n') == 'caf\u00e9'


@pytest.mark.parametrize('query', ['a=%zz', 'a=%4', 'a=%', '%g0=1', 'a=%ff', 'a=\u00ff'])
def test_query_bad_input(query):
    assert assert_4xx(make_request(QUERY_STRING=query).get_fields) == 400


def test_too_many_fields():
    request = make_request(QUERY_STRING='&'.join('f%d=1' % i for i in range(11)))
    request.max_fields = 10
    assert assert_4xx(request.process_inputs) == 400
    assert len(parse_query('a=1&b=2', max_fields=2)) == 2


def test_field_too_long():
    request = HTTPRequest(io.BytesIO(b''), {'QUERY_STRING': 'a=' + 'x' * 11},
                          max_field_length=10)
    assert assert_4xx(request.process_inputs) == 413


# Body fields

def test_urlencoded_body():
    body = b'name=Jos%C3%A9&tag=1&tag=2'
    request = make_request(
        body, REQUEST_METHOD='POST', QUERY_STRING='q=s',
        CONTENT_TYPE='application/x-www-form-urlencoded; charset=UTF-8')
    assert request.get_fields() == {'q': 's', 'name': 'Jos\u00e9', 'tag': ['1', '2']}
    assert request.get_body() == body


def test_other_body_left_alone():
    request = make_request(b'{"a": 1}', REQUEST_METHOD='POST',
                           CONTENT_TYPE='application/json')
    assert request.get_fields() == {}
    assert request.get_body() == b'{"a": 1}'
    assert request.get_body() == b'{"a": 1}'


def test_no_body():
    assert make_request().get_body() == b''


def test_truncated_body():
    request = make_request(b'a=1', REQUEST_METHOD='POST', CONTENT_LENGTH='10',
                           CONTENT_TYPE='application/x-www-form-urlencoded')
    assert assert_4xx(request.process_inputs) == 400


def test_request_too_large():
    request = HTTPRequest(io.BytesIO(b'a=1' * 10), {
        'CONTENT_LENGTH': '30',
        'CONTENT_TYPE': 'application/x-www-form-urlencoded'}, max_request_size=20)
    assert assert_4xx(request.process_inputs) == 413


def test_body_without_length_when_terminated():
    request = HTTPRequest(io.BytesIO(b'x' * 30), {'wsgi.input_terminated': True})
    assert request.get_body() == b'x' * 30
    request = HTTPRequest(io.BytesIO(b'x' * 30), {'wsgi.input_terminated': True},
                          max_request_size=20)
    assert assert_4xx(request.get_body) == 413


def test_body_read_in_pieces():
    class Trickle(io.BytesIO):
        def read(self, size=-1):
            return super().read(min(size, 3) if size and size > 0 else 3)
    request = HTTPRequest(Trickle(b'abcdefghij'), {'CONTENT_LENGTH': '10'})
    assert request.get_body() == b'abcdefghij'


def test_multipart_fields_and_upload():
    body = multipart([
        ('Content-Disposition: form-data; name="title"', 'caf\u00e9'.encode()),
        ('Content-Disposition: form-data; name="file"; filename="C:\\\\dir\\\\notes.txt"\r\n'
         'Content-Type: text/plain', b'line 1\r\nline 2'),
        ('Content-Disposition: form-data; name="title"', b'second'),
        ('Content-Disposition: form-data; name="empty"; filename=""\r\n'
         'Content-Type: application/octet-stream', b''),
    ])
    request = post_multipart(body, QUERY_STRING='q=1')
    fields = request.get_fields()
    assert fields['q'] == '1'
    assert fields['title'] == ['caf\u00e9', 'second']
    assert 'empty' not in fields
    upload = fields['file']
    assert isinstance(upload, Upload)
    assert upload.get_filename() == 'notes.txt'
    assert upload.get_content_type() == 'text/plain'
    assert upload.get_size() == 14
    assert upload.get_field_name() == 'file'
    assert upload.read() == b'line 1\r\nline 2'    # QP: reads on
    assert upload.read() == b''
    assert upload.get_file().read() == b'line 1\r\nline 2'
    assert request.get_body() == b''
    request.close()


def test_multipart_quoted_boundary_and_unnamed_part():
    body = multipart([('Content-Disposition: form-data', b'skipped'),
                      ('Content-Disposition: form-data; name="a"', b'1')],
                     boundary='a b:c')
    request = make_request(body, REQUEST_METHOD='POST',
                           CONTENT_TYPE='multipart/form-data; boundary="a b:c"')
    assert request.get_fields() == {'a': '1'}


def test_multipart_after_get_body():
    body = multipart([('Content-Disposition: form-data; name="a"', b'1')])
    request = post_multipart(body)
    assert request.get_body() == body
    assert request.get_fields() == {'a': '1'}


def test_upload_spools_to_disk():
    data = b'x' * (Upload.max_memory_size + 10)
    body = multipart([('Content-Disposition: form-data; name="f"; filename="big.bin"',
                       data)])
    upload = post_multipart(body).get_field('f')
    assert upload.get_size() == len(data)
    assert not upload.is_in_memory()
    assert upload.get_file().read() == data
    upload.close()
    small = post_multipart(multipart([
        ('Content-Disposition: form-data; name="f"; filename="s.bin"', b'x')]))
    assert small.get_field('f').is_in_memory()
    small.close()


@pytest.mark.parametrize('content_type', [
    'multipart/form-data',
    'multipart/form-data; boundary=',
    'multipart/form-data; boundary="' + 'x' * 80 + '"',
    'multipart/form-data; boundary="bad\tboundary"',
    'multipart/form-data; boundary=abc ',
])
def test_multipart_bad_boundary(content_type):
    body = multipart([('Content-Disposition: form-data; name="a"', b'1')])
    request = make_request(body, REQUEST_METHOD='POST', CONTENT_TYPE=content_type)
    assert assert_4xx(request.process_inputs) == 400


def test_multipart_wrong_boundary():
    body = multipart([('Content-Disposition: form-data; name="a"', b'1')])
    assert assert_4xx(post_multipart(body, boundary='other').process_inputs) == 400


def test_multipart_truncated():
    body = multipart([('Content-Disposition: form-data; name="a"', b'1')])
    for cut in (1, 10, len(body) // 2, len(body) - 5):
        request = post_multipart(body[:cut])
        assert assert_4xx(request.process_inputs) == 400
    short = post_multipart(body[:-5], CONTENT_LENGTH=str(len(body)))
    assert assert_4xx(short.process_inputs) == 400


def test_multipart_not_utf8():
    body = multipart([('Content-Disposition: form-data; name="a"', b'\xff\xfe')])
    assert assert_4xx(post_multipart(body).process_inputs) == 400
    name = b'--BoUnDaRy\r\nContent-Disposition: form-data; name="\xff"\r\n\r\n1\r\n--BoUnDaRy--\r\n'
    assert assert_4xx(post_multipart(name).process_inputs) == 400


def test_multipart_limits():
    body = multipart([('Content-Disposition: form-data; name="a"', b'x' * 11)])
    request = post_multipart(body)
    request.max_field_length = 10
    assert assert_4xx(request.process_inputs) == 413
    body = multipart([('Content-Disposition: form-data; name="f%d"' % i, b'1')
                      for i in range(6)])
    request = post_multipart(body)
    request.max_fields = 5
    assert assert_4xx(request.process_inputs) == 400
    request = post_multipart(body)
    request.max_fields = 6
    assert len(request.get_fields()) == 6


def test_failed_processing_leaves_no_fields():
    body = multipart([('Content-Disposition: form-data; name="f"; filename="a"', b'1'),
                      ('Content-Disposition: form-data; name="a"', b'\xff')])
    request = post_multipart(body)
    assert_4xx(request.process_inputs)
    assert request.fields == {}


# Random input never escapes as anything but a 4xx HTTPError

query_text = st.lists(st.sampled_from(
    list('ab=&+%;09fFzZ \u00e9\u00ff') + ['%2', '%C3', '%A9', '%ZZ', '%00']),
    max_size=30).map(''.join)


def parse_or_4xx(call):
    try:
        return call()
    except HTTPError as error:
        assert 400 <= error.get_status() < 500
        return None


@settings(max_examples=200, deadline=None)
@given(query_text)
def test_random_query_strings(query):
    fields = parse_or_4xx(make_request(QUERY_STRING=query).get_fields)
    if fields is not None:
        assert all(isinstance(name, str) for name in fields)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=60))
def test_random_urlencoded_bodies(body):
    request = make_request(body, REQUEST_METHOD='POST',
                           CONTENT_TYPE='application/x-www-form-urlencoded')
    parse_or_4xx(request.get_fields)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_random_cookies(header):
    header = header.encode('utf-8').decode('latin-1')
    cookies = make_request(HTTP_COOKIE=header).get_cookies()
    assert all(isinstance(value, str) for value in cookies.values())


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20))
def test_random_content_length(value):
    parse_or_4xx(make_request(b'abc', CONTENT_LENGTH=value).get_body)


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=80))
def test_random_content_type(value):
    value = value.encode('utf-8').decode('latin-1')
    body = multipart([('Content-Disposition: form-data; name="a"', b'1')])
    parse_or_4xx(make_request(body, REQUEST_METHOD='POST',
                              CONTENT_TYPE='multipart/form-data; ' + value).get_fields)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_multipart_bodies(body):
    request = post_multipart(body)
    parse_or_4xx(request.get_fields)
    request.close()


part_strategy = st.tuples(
    st.sampled_from([
        'Content-Disposition: form-data; name="a"',
        'Content-Disposition: form-data; name="f"; filename="x.txt"',
        'Content-Disposition: form-data; name=b',
        'Content-Disposition: attachment',
        'Content-Type: text/plain',
        'Junk',
        '']),
    st.binary(max_size=30))


@settings(max_examples=200, deadline=None)
@given(st.lists(part_strategy, max_size=4), st.integers(min_value=0, max_value=400),
       st.binary(max_size=3), st.integers(min_value=0, max_value=400))
def test_mutated_multipart_bodies(parts, cut, insert, position):
    body = multipart(parts)
    body = body[:position] + insert + body[position:]
    body = body[:len(body) - cut % (len(body) + 1)]
    request = post_multipart(body)
    parse_or_4xx(request.get_fields)
    request.close()
