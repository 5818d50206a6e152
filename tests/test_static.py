"""Tests for qpd.web.static: conditional requests, ranges, and no way out."""

import io
import os
import sys
import types

import pytest

from qpd.web.directory import split_path
from qpd.web.errors import MethodNotAllowed, NotFound, Redirect
from qpd.web.request import HTTPRequest
from qpd.web.response import HTTPResponse, http_date
from qpd.web.static import StaticDirectory, StaticFile, guess_content_type

DATA = bytes(range(256)) * 4  # 1024 bytes


def make_request(method='GET', **headers):
    environ = {'REQUEST_METHOD': method, 'PATH_INFO': '/', 'SERVER_NAME': 'example.org',
               'SERVER_PORT': '80'}
    for name, value in headers.items():
        environ['HTTP_' + name.upper()] = value
    return HTTPRequest(io.BytesIO(b''), environ)


RESPONSES = []


@pytest.fixture(autouse=True)
def close_responses():
    yield
    while RESPONSES:
        RESPONSES.pop().close()


def serve(static_file, method='GET', **headers):
    request = make_request(method, **headers)
    response = HTTPResponse()
    static_file.respond(request, response)
    response.finish(request)
    RESPONSES.append(response)
    return response


def body_of(response):
    return b''.join(response.iter_body())


@pytest.fixture
def tree(tmp_path):
    """public/ (served) beside secret.txt and outside/ (not served)."""
    public = tmp_path / 'public'
    public.mkdir()
    (public / 'data.bin').write_bytes(DATA)
    (public / 'page.html').write_text('<p>hi</p>')
    (public / 'empty.txt').write_bytes(b'')
    (public / '.hidden').write_text('hidden')
    (public / 'sub').mkdir()
    (public / 'sub' / 'note.txt').write_text('note')
    (public / '.well-known').mkdir()
    (public / '.well-known' / 'security.txt').write_text('contact')
    (tmp_path / 'secret.txt').write_text('secret')
    (tmp_path / 'outside').mkdir()
    (tmp_path / 'outside' / 'x.txt').write_text('outside')
    os.symlink(tmp_path / 'secret.txt', public / 'link-out.txt')
    os.symlink(tmp_path / 'outside', public / 'dir-out')
    os.symlink(public / 'sub' / 'note.txt', public / 'link-in.txt')
    os.symlink(public / 'sub', public / 'dir-in')
    os.symlink('/etc/passwd', public / 'passwd')
    return public


def test_guess_content_type():
    assert guess_content_type('a.html') == 'text/html'
    assert guess_content_type('a.css') == 'text/css'
    assert guess_content_type('a.tar.gz') == 'application/gzip'
    assert guess_content_type('noextension') == 'application/octet-stream'


def test_full_file(tree):
    response = serve(StaticFile(str(tree / 'data.bin')))
    assert response.get_status_code() == 200
    assert response.get_header('Content-Type') == 'application/octet-stream'
    assert response.get_header('Content-Length') == '1024'
    assert response.get_header('Accept-Ranges') == 'bytes'
    assert response.get_header('ETag').startswith('"')
    mtime = int(os.stat(tree / 'data.bin').st_mtime)
    assert response.get_header('Last-Modified') == http_date(mtime)
    assert response.is_streaming()
    assert body_of(response) == DATA


def test_text_file_charset_and_type_override(tree):
    response = serve(StaticFile(str(tree / 'page.html')))
    assert response.get_header('Content-Type') == 'text/html; charset=utf-8'
    assert body_of(response) == b'<p>hi</p>'
    response = serve(StaticFile(str(tree / 'page.html'), content_type='text/plain',
                                charset=None))
    assert response.get_header('Content-Type') == 'text/plain'


def test_chunks(tree):
    response = serve(StaticFile(str(tree / 'data.bin'), chunk_size=100))
    chunks = list(response.iter_body())
    assert len(chunks) == 11 and b''.join(chunks) == DATA


def test_cache_seconds(tree):
    response = serve(StaticFile(str(tree / 'data.bin'), cache_seconds=60))
    assert response.get_header('Cache-Control') == 'max-age=60'


def test_head(tree):
    response = serve(StaticFile(str(tree / 'data.bin')), 'HEAD')
    assert response.get_header('Content-Length') == '1024'
    assert body_of(response) == b''


def test_other_methods(tree):
    with pytest.raises(MethodNotAllowed) as info:
        serve(StaticFile(str(tree / 'data.bin')), 'POST')
    assert ('Allow', 'GET, HEAD') in info.value.get_headers()


def test_missing_and_directory(tree):
    with pytest.raises(NotFound):
        serve(StaticFile(str(tree / 'nothing')))
    with pytest.raises(NotFound):
        serve(StaticFile(str(tree / 'sub')))


def test_if_none_match(tree):
    static = StaticFile(str(tree / 'data.bin'))
    etag = serve(static).get_header('ETag')
    for header in (etag, 'W/' + etag, '"other", ' + etag, '*'):
        response = serve(static, If_None_Match=header)
        assert response.get_status_code() == 304
        assert body_of(response) == b''
        assert response.get_header('ETag') == etag
        assert response.get_header('Content-Length') is None
    assert serve(static, If_None_Match='"other"').get_status_code() == 200


def test_if_none_match_wins_over_if_modified_since(tree):
    static = StaticFile(str(tree / 'data.bin'))
    response = serve(static, If_None_Match='"other"', If_Modified_Since=http_date())
    assert response.get_status_code() == 200


def test_if_modified_since(tree):
    static = StaticFile(str(tree / 'data.bin'))
    mtime = int(os.stat(tree / 'data.bin').st_mtime)
    assert serve(static, If_Modified_Since=http_date(mtime)).get_status_code() == 304
    assert serve(static, If_Modified_Since=http_date(mtime + 10)).get_status_code() == 304
    assert serve(static, If_Modified_Since=http_date(mtime - 10)).get_status_code() == 200
    assert serve(static, If_Modified_Since='garbage').get_status_code() == 200


@pytest.mark.parametrize('header, start, end', [
    ('bytes=0-99', 0, 99), ('bytes=100-', 100, 1023), ('bytes=-24', 1000, 1023),
    ('bytes=1000-5000', 1000, 1023), ('bytes=5-5', 5, 5), ('bytes=-5000', 0, 1023),
])
def test_range(tree, header, start, end):
    response = serve(StaticFile(str(tree / 'data.bin'), chunk_size=7), Range=header)
    assert response.get_status_code() == 206
    assert response.get_header('Content-Range') == 'bytes %d-%d/1024' % (start, end)
    assert response.get_header('Content-Length') == str(end - start + 1)
    assert body_of(response) == DATA[start:end + 1]


@pytest.mark.parametrize('header', ['bytes=1024-', 'bytes=2000-3000', 'bytes=-0'])
def test_range_unsatisfiable(tree, header):
    response = serve(StaticFile(str(tree / 'data.bin')), Range=header)
    assert response.get_status_code() == 416
    assert response.get_header('Content-Range') == 'bytes */1024'
    assert body_of(response) == b''


def test_range_on_empty_file(tree):
    response = serve(StaticFile(str(tree / 'empty.txt')), Range='bytes=0-10')
    assert response.get_status_code() == 416


@pytest.mark.parametrize('header', [
    'bytes=10-5', 'items=0-5', 'bytes=a-b', 'bytes=', 'bytes=-', 'junk',
    'bytes=0-1,x-6', 'bytes=' + ','.join(['0-1'] * 17),
    'bytes=0-1023,0-1023,0-1023'])
def test_range_ignored(tree, header):
    response = serve(StaticFile(str(tree / 'data.bin')), Range=header)
    assert response.get_status_code() == 200
    assert body_of(response) == DATA


def test_if_range(tree):
    static = StaticFile(str(tree / 'data.bin'))
    first = serve(static)
    etag = first.get_header('ETag')
    body_of(first)
    assert serve(static, Range='bytes=0-9', If_Range=etag).get_status_code() == 206
    assert serve(static, Range='bytes=0-9',
                 If_Range=first.get_header('Last-Modified')).get_status_code() == 206
    assert serve(static, Range='bytes=0-9', If_Range='"stale"').get_status_code() == 200


def test_call_uses_common(tree, monkeypatch):
    request = make_request()
    response = HTTPResponse()
    common = types.ModuleType('qpd.web.common')
    common.get_request = lambda: request
    common.get_response = lambda: response
    monkeypatch.setitem(sys.modules, 'qpd.web.common', common)
    assert StaticFile(str(tree / 'page.html'))() is response.get_body()
    response.finish(request)
    assert body_of(response) == b'<p>hi</p>'


# StaticDirectory

def traverse(directory, path):
    """The response for path below directory, as the publisher would make it."""
    request = make_request()
    response = HTTPResponse()
    common = types.ModuleType('qpd.web.common')
    common.get_request = lambda: request
    common.get_response = lambda: response
    saved = sys.modules.get('qpd.web.common')
    if saved is not None:
        saved.clear_publisher()     # no hit left over from another test
    sys.modules['qpd.web.common'] = common
    try:
        result = directory._q_traverse(split_path(path))
    finally:
        if saved is None:
            del sys.modules['qpd.web.common']
        else:
            sys.modules['qpd.web.common'] = saved
    if result is not None:
        response.set_body(result)
    response.finish(request)
    RESPONSES.append(response)
    return response


def test_directory_serves_files(tree):
    directory = StaticDirectory(str(tree))
    assert body_of(traverse(directory, '/data.bin')) == DATA
    assert body_of(traverse(directory, '/sub/note.txt')) == b'note'
    assert body_of(traverse(directory, '/link-in.txt')) == b'note'
    assert body_of(traverse(directory, '/dir-in/note.txt')) == b'note'
    assert body_of(traverse(directory, '/.well-known/security.txt')) == b'contact'


def test_directory_slash_redirect(tree):
    # As in QP: a directory without an index is not found without its
    # slash either; with one, its URL without the slash is a 301.
    with pytest.raises(NotFound):
        traverse(StaticDirectory(str(tree)), '/sub')
    with pytest.raises(Redirect) as info:
        traverse(StaticDirectory(str(tree), list_directory=True), '/sub')
    assert info.value.get_location() == 'sub/'
    assert info.value.get_status() == 301


@pytest.mark.parametrize('path', [
    '/../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/sub/../../secret.txt',
    '/sub/%2e%2e/%2e%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/..%2fsecret.txt',
    '/..\\secret.txt',
    '/./data.bin',
    '/%2e/data.bin',
    '//etc/passwd',
    '/etc/passwd',
    '/passwd',
    '/link-out.txt',
    '/dir-out/x.txt',
    '/.hidden',
    '/%2ehidden',
    '/sub/.',
    '/nothing.txt',
    '/data.bin/more',
    '/data.bin\x00.txt',
    '/',
    '/sub/',
])
def test_no_escape(tree, path):
    with pytest.raises(NotFound):
        traverse(StaticDirectory(str(tree)), path)


def test_no_escape_by_direct_lookup(tree):
    directory = StaticDirectory(str(tree))
    for name in ('..', '../secret.txt', str(tree.parent / 'secret.txt'), '/etc/passwd',
                 '%2e%2e', 'link-out.txt', 'dir-out', '.', ''):
        assert directory._q_lookup(name) is None, name


def test_listing(tree):
    directory = StaticDirectory(str(tree), list_directory=True)
    page = body_of(traverse(directory, '/')).decode()
    assert '<a href="data.bin">data.bin</a>' in page
    assert '<a href="sub/">sub/</a>' in page
    assert 'link-in.txt' in page
    assert '.hidden' not in page and 'link-out' not in page and 'dir-out' not in page
    assert 'passwd' not in page
    sub_page = body_of(traverse(directory, '/sub/')).decode()
    assert 'note.txt' in sub_page


def test_listing_quotes_names(tmp_path):
    (tmp_path / '<b>&x:y.txt').write_text('x')
    page = body_of(traverse(StaticDirectory(str(tmp_path), list_directory=True), '/'))
    assert b'<a href="%3Cb%3E%26x%3Ay.txt">&lt;b&gt;&amp;x:y.txt</a>' in page


def test_head_closes_file(tree):
    response = serve(StaticFile(str(tree / 'data.bin')), 'HEAD')
    assert response.get_body().file.closed
    response = serve(StaticFile(str(tree / 'data.bin')), Range='bytes=0-1')
    stream = response.get_body()
    assert body_of(response) == DATA[:2]
    assert stream.file.closed


# Several ranges: multipart/byteranges

def parse_multipart(response):
    """(response) -> [(content_range, data)] of a multipart/byteranges body"""
    content_type = response.get_header('Content-Type')
    assert content_type.startswith('multipart/byteranges; boundary=')
    boundary = content_type.split('boundary=')[1].encode()
    body = body_of(response)
    assert int(response.get_header('Content-Length')) == len(body)
    assert body.endswith(b'\r\n--' + boundary + b'--\r\n')
    parts = []
    for chunk in body.split(b'\r\n--' + boundary)[1:-1]:
        head, _, data = chunk.partition(b'\r\n\r\n')
        fields = dict(line.split(b': ', 1) for line in head.split(b'\r\n')
                      if line)
        assert fields[b'Content-Type'] == b'application/octet-stream'
        parts.append((fields[b'Content-Range'].decode(), data))
    return parts


def test_several_ranges(tree):
    response = serve(StaticFile(str(tree / 'data.bin')),
                     Range='bytes=0-9, 100-109,-5')
    assert response.get_status_code() == 206
    assert response.get_header('Content-Range') is None
    assert parse_multipart(response) == [
        ('bytes 0-9/1024', DATA[0:10]), ('bytes 100-109/1024', DATA[100:110]),
        ('bytes 1019-1023/1024', DATA[1019:])]


def test_several_ranges_skip_unsatisfiable_ones(tree):
    response = serve(StaticFile(str(tree / 'data.bin')),
                     Range='bytes=2000-3000,1-2,5-6')
    assert parse_multipart(response) == [('bytes 1-2/1024', DATA[1:3]),
                                         ('bytes 5-6/1024', DATA[5:7])]
    one = serve(StaticFile(str(tree / 'data.bin')), Range='bytes=2000-,1-2')
    assert one.get_status_code() == 206
    assert one.get_header('Content-Range') == 'bytes 1-2/1024'
    assert body_of(one) == DATA[1:3]
    none = serve(StaticFile(str(tree / 'data.bin')),
                 Range='bytes=2000-,3000-')
    assert none.get_status_code() == 416


def test_several_ranges_head_and_close(tree):
    response = serve(StaticFile(str(tree / 'data.bin')), 'HEAD',
                     Range='bytes=0-1,3-4')
    assert response.get_status_code() == 206
    assert body_of(response) == b''
    assert response.get_body().file.closed


# Index files

def test_index_file(tree):
    (tree / 'index.html').write_text('<p>home</p>')
    (tree / 'sub' / 'index.html').write_text('<p>sub home</p>')
    directory = StaticDirectory(str(tree))
    assert body_of(traverse(directory, '/')) == b'<p>home</p>'
    response = traverse(directory, '/sub/')
    assert body_of(response) == b'<p>sub home</p>'
    assert response.get_content_type().startswith('text/html')
    with pytest.raises(Redirect):
        traverse(directory, '/sub')
    other = StaticDirectory(str(tree), index='default.htm')
    (tree / 'default.htm').write_text('<p>default</p>')
    assert body_of(traverse(other, '/')) == b'<p>default</p>'
    with pytest.raises(NotFound):
        traverse(StaticDirectory(str(tree), index=None), '/')
    listing = StaticDirectory(str(tree), list_directory=True, index=None)
    assert b'data.bin' in body_of(traverse(listing, '/'))
