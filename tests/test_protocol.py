"""qpd.server.protocol: head checks, chunked decoding, SCGI, environ."""

import os

import pytest

from qpd.web.errors import HTTPError
from qpd.server.chunked import ChunkedDecoder
from qpd.server.protocol import (
    LIMITS, check_partial_head, format_error,
    get_limits, make_http_environ, make_scgi_environ, parse_http_head,
    parse_scgi, split_target)

CORPUS = os.path.join(os.path.dirname(__file__), 'corpus')


def status_of(call, *args):
    with pytest.raises(HTTPError) as info:
        call(*args)
    return info.value.get_status()


def test_plain_head():
    head = parse_http_head(b'GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n', LIMITS)
    assert head.method == b'GET' and head.version == '1.1'
    assert head.keep_alive and head.content_length is None
    assert not head.chunked and not head.expect_continue
    head = parse_http_head(b'POST / HTTP/1.0\r\nContent-Length: 007\r\n'
                           b'Connection: keep-alive\r\n\r\n', LIMITS)
    assert head.content_length == 7 and head.keep_alive
    head = parse_http_head(b'POST / HTTP/1.1\r\nHost: x\r\nConnection: close'
                           b'\r\nTransfer-Encoding: Chunked\r\n'
                           b'Expect: 100-Continue\r\n\r\n', LIMITS)
    assert head.chunked and head.expect_continue and not head.keep_alive


@pytest.mark.parametrize('name', sorted(
    n for n in os.listdir(CORPUS) if n.endswith('.http')))
def test_corpus_heads(name):
    """Each corpus case is refused with its status by parse_http_head, by
    check_partial_head, or by the chunked decoder."""
    with open(os.path.join(CORPUS, name), 'rb') as f:
        data = f.read()
    expected = int(name.split('-')[0])
    limits = dict(LIMITS)
    end = data.find(b'\r\n\r\n') + 4
    try:
        if end < 4:
            check_partial_head(data, limits)
            raise AssertionError('accepted %r' % data)
        head = parse_http_head(data[:end], limits)
        assert head.chunked, 'accepted %r' % data
        ChunkedDecoder(limits['max_body_size']).feed(data[end:])
        raise AssertionError('accepted %r' % data)
    except HTTPError as e:
        assert e.get_status() == expected, (name, e)


def test_chunked_decoder_any_split():
    body = b'5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT'
    for size in (1, 2, 3, 7, len(body)):
        decoder = ChunkedDecoder(100)
        out = []
        for i in range(0, len(body), size):
            out.extend(decoder.feed(body[i:i + size]))
        assert decoder.done
        assert b''.join(out) == b'hello 0123456789'
        assert decoder.leftover == b'NEXT'
        assert decoder.size == 16


def test_chunked_decoder_limits():
    assert status_of(ChunkedDecoder(10).feed, b'b\r\n') == 413
    assert status_of(ChunkedDecoder(10).feed, b'3\r\nabcX') == 400
    assert status_of(ChunkedDecoder(10).feed, b'1' * 5000) == 400


def test_partial_head():
    check_partial_head(b'GET / HTTP/1.1\r\nHo', LIMITS)
    assert status_of(check_partial_head, b'GET / HTTP/1.1\nHo', LIMITS) == 400
    assert status_of(check_partial_head, b'GET /' + b'a' * 70000,
                     LIMITS) == 414
    assert status_of(check_partial_head, b'GET / HTTP/1.1\r\n' + b'a' * 40000,
                     LIMITS) == 431


def test_scgi():
    payload = (b'CONTENT_LENGTH\x003\x00SCGI\x001\x00REQUEST_METHOD\x00POST'
               b'\x00REQUEST_URI\x00/a/b%20c?x=1\x00HTTP_X_A\x00y\x00')
    data = b'%d:%s,abc' % (len(payload), payload)
    for i in range(len(data) - 3):
        assert parse_scgi(data[:i], LIMITS) is None
    got, environ, end = parse_scgi(data, LIMITS)
    assert got == payload and data[end:] == b'abc'
    assert environ['CONTENT_LENGTH'] == '3'
    environ = make_scgi_environ(payload, {'wsgi.url_scheme': 'http'}, '/a')
    assert environ['SCRIPT_NAME'] == '/a'
    assert environ['PATH_INFO'] == '/b c'
    assert environ['QUERY_STRING'] == 'x=1'
    assert environ['HTTP_X_A'] == 'y'
    assert environ['REQUEST_METHOD'] == 'POST'


def test_http_environ():
    head = (b'GET /s/a%2Fb%ff?q=1 HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\n'
            b'Cookie: b=2\r\nX-Auth_User: evil\r\nAccept: x\r\nAccept: y\r\n'
            b'Content-Type: text/plain\r\n\r\n')
    environ, keep = make_http_environ(head, {'REMOTE_ADDR': '1.2.3.4'}, '/s')
    assert keep
    assert environ['REMOTE_ADDR'] == '1.2.3.4'
    assert environ['SCRIPT_NAME'] == '/s'
    assert environ['PATH_INFO'] == '/a/b\xff'
    assert environ['QUERY_STRING'] == 'q=1'
    assert environ['HTTP_COOKIE'] == 'a=1; b=2'
    assert environ['HTTP_ACCEPT'] == 'x, y'
    assert environ['CONTENT_TYPE'] == 'text/plain'
    assert 'HTTP_X_AUTH_USER' not in environ
    assert environ['SERVER_PROTOCOL'] == 'HTTP/1.1'
    assert environ['REQUEST_URI'] == '/s/a%2Fb%ff?q=1'


def test_split_target():
    assert split_target(b'/a?b#c') == (b'/a', b'b')
    assert split_target(b'http://h:1/p?q') == (b'/p', b'q')
    assert split_target(b'*') == (b'*', b'')
    assert status_of(split_target, b'a/b') == 400


def test_format_error():
    data = format_error(503, 'busy', headers=[('Retry-After', '5')])
    assert data.startswith(b'HTTP/1.1 503 Service Unavailable\r\n')
    assert b'\r\nRetry-After: 5\r\n' in data
    assert b'Connection: close' in data
    assert format_error(400, scgi=True).startswith(b'Status: 400 ')


def test_get_limits_defaults():
    assert get_limits(None) == LIMITS
