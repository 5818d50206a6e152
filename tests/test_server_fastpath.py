"""The worker's one-pass parse (parse_http_request) and the dispatcher's
body test (may_have_body) refuse and accept exactly what the dispatcher's
own parse does (issue 16: a head is parsed once, by the worker, when the
dispatcher can tell the request has no body)."""

import os

import pytest

from qpd.server.protocol import (
    LIMITS, make_http_environ, may_have_body, parse_http_head,
    parse_http_request)
from qpd.web.errors import HTTPError

CORPUS = os.path.join(os.path.dirname(__file__), 'corpus')
BASE = {'REMOTE_ADDR': '1.2.3.4', 'wsgi.url_scheme': 'http'}


def _outcome(call, *args):
    try:
        return call(*args)
    except HTTPError as e:
        return e.get_status()


@pytest.mark.parametrize('name', sorted(
    n for n in os.listdir(CORPUS) if n.endswith('.http')))
def test_one_pass_parse_refuses_what_the_dispatcher_refuses(name):
    with open(os.path.join(CORPUS, name), 'rb') as f:
        data = f.read()
    end = data.find(b'\r\n\r\n') + 4
    if end < 4:
        return
    head = data[:end]
    checked = _outcome(parse_http_head, head, LIMITS)
    once = _outcome(parse_http_request, head, LIMITS, BASE, '')
    if isinstance(checked, int):
        assert once == checked, name
    else:
        parsed, _ = once
        assert (parsed.chunked, parsed.content_length) == (
            checked.chunked, checked.content_length)
    if not may_have_body(head):
        # What the dispatcher hands over unparsed has no body to frame.
        assert isinstance(checked, int) or (
            not checked.chunked and checked.content_length is None
            and not checked.expect_continue)


@pytest.mark.parametrize('head', [
    b'GET /a%20b?x=1 HTTP/1.1\r\nHost: h\r\nX-Auth_User: no\r\n'
    b'Cookie: a=1\r\nCookie: b=2\r\nX-Y: 1\r\nX-Y: 2\r\n\r\n',
    b'GET http://h/p?q HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
    b'POST /s/t HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n'
    b'Content-Type: text/plain\r\n\r\n',
])
def test_one_pass_environ_is_the_two_pass_environ(head):
    parsed, environ = parse_http_request(head, LIMITS, BASE, '/s')
    expected, keep = make_http_environ(head, BASE, '/s')
    assert environ == expected
    assert parsed.keep_alive == keep


def test_may_have_body():
    assert not may_have_body(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    assert not may_have_body(b'GET /content-length HTTP/1.1\r\nHost: x\r\n'
                             b'X-Expect-Nothing: 1\r\n\r\n')
    for line in (b'Content-Length: 0', b'content-LENGTH : 1',
                 b'Transfer-Encoding: chunked', b'Expect: 100-continue',
                 b' Content-Length: 1', b'\tTransfer-Encoding: x'):
        assert may_have_body(b'GET / HTTP/1.1\r\nHost: x\r\n' + line +
                             b'\r\n\r\n'), line
