"""The worker's one-pass parse (parse_http_request) and the dispatcher's
body test (may_have_body) refuse and accept exactly what the dispatcher's
own parse does (issue 16: a head is parsed once, by the worker, when the
dispatcher can tell the request has no body)."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qpd.server import protocol
from qpd.server.protocol import (
    LIMITS, make_http_environ, may_have_body, parse_http_head,
    parse_http_request)
from qpd.web.errors import HTTPError

CORPUS = os.path.join(os.path.dirname(__file__), 'corpus')
BASE = {'REMOTE_ADDR': '1.2.3.4', 'wsgi.url_scheme': 'http'}


_NAMES = sorted(n for n in os.listdir(CORPUS) if n.endswith('.http'))


def _corpus_head(name):
    """(name:str) -> bytes | None: the head of a corpus case (None when
    the case has no complete head)."""
    with open(os.path.join(CORPUS, name), 'rb') as f:
        data = f.read()
    end = data.find(b'\r\n\r\n') + 4
    return data[:end] if end >= 4 else None


def _outcome(call, *args):
    try:
        return call(*args)
    except HTTPError as e:
        return e.get_status()


@pytest.mark.parametrize('name', _NAMES)
def test_one_pass_parse_refuses_what_the_dispatcher_refuses(name):
    head = _corpus_head(name)
    if head is None:
        return
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


# The plain reader (no httptools) and the full parser ---------------------------

def _both(head, script_name=''):
    """(head:bytes) -> (plain result | None, full result | status)"""
    plain = protocol._parse_plain_request(head, LIMITS, BASE, script_name)
    full = _outcome(protocol._parse_full_request, head, LIMITS, BASE,
                    script_name)
    return plain, full


def _same(plain, full):
    """The plain reader's answer is the full parser's, where it answers."""
    if plain is None:
        return
    assert not isinstance(full, int), (plain, full)
    for name in protocol.RequestHead.__slots__:
        assert getattr(plain[0], name) == getattr(full[0], name), name
    assert plain[1] == full[1]


@pytest.mark.parametrize('name', _NAMES)
def test_plain_reader_agrees_on_the_corpus(name):
    head = _corpus_head(name)
    if head is not None:
        _same(*_both(head))


def test_plain_reader_takes_the_common_requests():
    for head in (b'GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n',
                 b'GET /a%20b?x=1&y=%2F HTTP/1.1\r\nHost: h\r\n'
                 b'Connection: close\r\nUser-Agent: curl/8.0\r\n'
                 b'Accept: */*\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n',
                 b'HEAD /s/x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
                 b'GET / HTTP/1.0\r\n\r\n'):
        plain, full = _both(head, '/s')
        assert plain is not None, head
        _same(plain, full)


_TOKEN = st.text(alphabet="!#$%&'*+.^_`|~-AZaz09", min_size=1, max_size=6)
_PLAIN_BYTES = [b'a', b'Z', b'0', b'-', b'.', b'%2F', b'%', b'=', b'&', b'~',
                b'/', b'?', b':', b'@', b'+', b',']
_ODD_BYTES = [b' ', b'\t', b';', b'"', b'#', b'\x7f', b'\x80', b'\xff',
              b'\x00', b'\r', b'\n', b'\r\n', b'_', b'{', b'\\', b'|']
_NAMES = [b'Host', b'host', b'HOST', b'Connection', b'Content-Length',
          b'Transfer-Encoding', b'Expect', b'Upgrade', b'Cookie', b'X-A_B',
          b' Host', b'Host ']
_CONNECTION = [b'close', b'keep-alive', b'Keep-Alive', b'CLOSE', b' close ',
               b'upgrade', b'close, te', b'']


@st.composite
def _heads(draw):
    """Request heads, half of them made of plain bytes only (so that the
    plain reader takes many), the rest with odd bytes mixed in."""
    odd = draw(st.booleans())
    byte = st.sampled_from(_PLAIN_BYTES + (_ODD_BYTES if odd else []))
    text = st.lists(byte, max_size=8).map(b''.join)
    method = draw(st.sampled_from([b'GET', b'HEAD'] + (
        [b'POST', b'get'] if odd else [])))
    version = draw(st.sampled_from([b'1.1', b'1.0'] + (
        [b'1.2', b'2.0'] if odd else [])))
    lines = [method + b' /' + draw(text) + b' HTTP/' + version]
    if draw(st.booleans()) or version == b'1.1' and not odd:
        lines.append(b'Host: ' + draw(text))
    for _ in range(draw(st.integers(0, 3))):
        name = draw(st.one_of(st.sampled_from(_NAMES),
                              _TOKEN.map(str.encode)))
        if name.strip().lower() == b'connection':
            value = draw(st.sampled_from(_CONNECTION))
        else:
            value = draw(text)
        space = draw(st.sampled_from([b'', b' ', b'\t', b'  ']))
        lines.append(name + b':' + space + value + draw(
            st.sampled_from([b'', b' ', b'\t'])))
    return b'\r\n'.join(lines) + b'\r\n\r\n'


@settings(max_examples=3000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_heads())
def test_plain_reader_agrees_with_the_full_parser(head):
    _same(*_both(head))
