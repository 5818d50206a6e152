"""qpd.lib.speedups: the C plain request reader (qpd/lib/_speedups.c) gives
the answers of its Python reference, on every input hypothesis makes; the install
built it; QPD_PURE_PYTHON=1 turns it off."""

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from qpd.lib import http
from qpd.lib.speedups import PURE_PYTHON_VARIABLE, native
from qpd.server import protocol

from test_server_fastpath import BASE, LIMITS, _heads

pytestmark = pytest.mark.skipif(
    native is None and os.environ.get(PURE_PYTHON_VARIABLE),
    reason='QPD_PURE_PYTHON is set')


def test_the_install_built_them():
    assert native is not None, (
        'qpd/lib/_speedups.c was not built: `pip install -e .` builds it '
        'where gcc and the Python headers are')
    assert protocol._parse_plain_request is protocol._parse_plain_native


def _outcome(call, *args):
    try:
        return call(*args)
    except Exception as e:          # the same kind of refusal from both
        return type(e)


def _plain(parsed):
    if parsed is None:
        return None
    head, environ = parsed
    return ({name: getattr(head, name)
             for name in protocol.RequestHead.__slots__}, environ)


_SCRIPT_NAMES = st.sampled_from(['', '/s', '/a%', '/s/x', '/\xe9'])
_SMALL_LIMITS = st.builds(
    lambda head, target: dict(LIMITS, max_head_size=head,
                              max_target_size=target),
    st.integers(10, 200), st.integers(1, 40))


@settings(max_examples=3000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_heads(), _SCRIPT_NAMES, st.one_of(st.just(LIMITS), _SMALL_LIMITS))
def test_the_plain_reader_in_c_is_the_python_one(head, script_name, limits):
    assert _plain(protocol._parse_plain_native(
        head, limits, BASE, script_name)) == _plain(
        protocol._parse_plain_python(head, limits, BASE, script_name))


@pytest.mark.parametrize('head', [
    b'GET /a%41%4g%%41%4 HTTP/1.1\r\nHost: h\r\n\r\n',
    b'GET /s HTTP/1.1\r\nHost: h\r\n\r\n',
    b'GET /s/ HTTP/1.1\r\nHost: h\r\n\r\n',
    b'GET /sx HTTP/1.1\r\nHost: h\r\n\r\n',
    b'GET /%C3%A9?q=%41 HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\n'
    b'Cookie: b=2\r\nAccept: x\r\nAccept: y\r\n\r\n',
    b'HEAD / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n'
    b'Connection: close\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\n'
    b'X-' + b'A' * 300 + b': long\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: h\r\nX_Y: dropped\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: h\r\nX: a \t b\r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: h\r\nX: \r\n\r\n',
    b'GET / HTTP/1.1\r\nHost: h\r\n\r\nextra',
    b'GET / HTTP/1.1\r\nHost: h\r\n',
    b'GET / HTTP/1.1\r\n',
    b'GET  HTTP/1.1\r\n\r\n',
    b'',
])
def test_the_plain_reader_in_c_on_the_edges(head):
    for script_name in ('', '/s'):
        assert _plain(protocol._parse_plain_native(
            head, LIMITS, BASE, script_name)) == _plain(
            protocol._parse_plain_python(head, LIMITS, BASE, script_name))


def test_the_plain_reader_in_c_takes_bytes_like_heads():
    head = b'GET /x HTTP/1.1\r\nHost: h\r\n\r\n'
    expected = _plain(protocol._parse_plain_python(head, LIMITS, BASE, ''))
    for given_head in (bytearray(head), memoryview(head)):
        assert _plain(protocol._parse_plain_native(
            given_head, LIMITS, BASE, '')) == expected


def test_format_head_refuses_a_line_break_in_a_value():
    for value in ('a\r\nSet-Cookie: x=1', 'a\nb', 'a\rb', 'a\r\n'):
        with pytest.raises(ValueError):
            http.format_head('HTTP/1.1 200 OK', [('X-A', value)])
    assert http.format_head('HTTP/1.1 200 OK', [('A', 'b'), ['C', 'd']]) \
        == b'HTTP/1.1 200 OK\r\nA: b\r\nC: d\r\n\r\n'


def test_pure_python_when_asked():
    code = ('from qpd.lib.speedups import native; '
            'from qpd.server import protocol; '
            'assert native is None; '
            'assert protocol._parse_plain_request is '
            'protocol._parse_plain_python')
    env = dict(os.environ, **{PURE_PYTHON_VARIABLE: '1'})
    subprocess.run([sys.executable, '-c', code], env=env, check=True)
