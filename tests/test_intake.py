"""qpd.server.intake: a connection's request intake fed plain bytes, with
no server, no socket and no worker: heads, bodies, 100-continue, chunked
bodies, spooling and its room, SCGI, pipelining, and the malformed-request
corpus (tests/corpus) refused as the dispatcher refuses it."""

import os

import pytest

from qpd.server import fdpass
from qpd.server.intake import (
    BODY, CONTINUE, READY, REFUSE, STARTED, WAIT, Intake, Rules)
from qpd.server.protocol import LIMITS, parse_http_request
from qpd.server.scgi import scgi_request
from qpd.web.errors import HTTPError

CORPUS = os.path.join(os.path.dirname(__file__), 'corpus')
GET = b'GET /a HTTP/1.1\r\nHost: x\r\n\r\n'


def make_intake(scgi=False, directory=None, banned=(), **limits):
    return Intake(Rules(dict(LIMITS, **limits), directory, banned), scgi)


def test_whole_get_is_ready_unchecked():
    intake = make_intake()
    assert intake.feed(GET) == READY
    assert intake.head == GET and intake.body == b'' and intake.buf == b''
    assert intake.flags == fdpass.F_COMPLETE | fdpass.F_UNCHECKED
    assert intake.spool is None


def test_head_in_pieces():
    intake = make_intake()
    assert intake.feed(b'\r\n') == WAIT          # an empty line before it
    assert not intake.started
    assert intake.feed(b'GET /a HTTP/1.1\r\n') == STARTED
    assert intake.started
    assert intake.feed(b'Host: x\r\n') == WAIT
    assert intake.feed(b'\r\n') == READY
    assert intake.head == GET


def test_body_by_content_length():
    intake = make_intake()
    head = b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n'
    assert intake.feed(head + b'01234') == BODY
    assert intake.feed(b'567') == WAIT
    assert intake.feed(b'89GET') == READY
    assert intake.head == head and intake.body == b'0123456789'
    assert intake.flags == fdpass.F_COMPLETE
    assert intake.buf == b'GET'             # the next request's first bytes
    assert intake.next_request(b' / HTTP/1.1\r\n\r\n')
    assert intake.feed(b'') == READY
    assert intake.head == b'GET / HTTP/1.1\r\n\r\n'


def test_expect_continue():
    intake = make_intake()
    assert intake.feed(b'PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n'
                       b'Expect: 100-continue\r\n\r\n') == CONTINUE
    assert intake.feed(b'ab') == WAIT
    assert intake.feed(b'c') == READY
    assert intake.flags == fdpass.F_COMPLETE | fdpass.F_CONTINUED


def test_chunked_body():
    intake = make_intake()
    head = b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
    assert intake.feed(head + b'5\r\nhel') == BODY
    assert intake.feed(b'lo\r\n0\r\n\r\nNEXT') == READY
    assert intake.body == b'hello' and intake.buf == b'NEXT'
    assert intake.flags == fdpass.F_COMPLETE


def test_long_body_is_spooled(tmp_path):
    intake = make_intake(directory=str(tmp_path), preread_body_size=4)
    head = b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n'
    assert intake.feed(head + b'abcdef') == BODY
    assert intake.spool is not None and intake.rules.spooled == 6
    assert intake.feed(b'ghijkl') == READY
    assert intake.flags == fdpass.F_COMPLETE | fdpass.F_SPOOLED
    intake.spool.seek(0)
    assert intake.spool.read() == b'abcdefghijkl'
    intake.drop_spool()
    assert intake.spool is None and intake.rules.spooled == 0


def test_no_room_to_spool_hands_over_what_came(tmp_path):
    intake = make_intake(directory=str(tmp_path), preread_body_size=4,
                         max_spool_size=8)
    assert intake.feed(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12'
                       b'\r\n\r\nabcdef') == READY
    assert intake.flags == 0 and intake.body == b'abcdef'   # worker reads on


def test_chunked_spooled_and_not(tmp_path):
    head = b'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n'
    intake = make_intake(directory=str(tmp_path), preread_body_size=4)
    assert intake.feed(head + b'6\r\nabcdef\r\n') == BODY
    assert intake.spool is not None
    assert intake.feed(b'0\r\n\r\n') == READY
    assert intake.flags == fdpass.F_COMPLETE | fdpass.F_SPOOLED
    intake.drop_spool()
    intake = make_intake(directory=str(tmp_path), preread_body_size=4,
                         max_spool_size=2)
    assert intake.feed(head + b'6\r\nabcdef\r\n') == READY
    assert intake.flags == fdpass.F_CHUNKED
    assert intake.body == b'6\r\nabcdef\r\n'          # raw, for the worker


def test_scgi():
    request = scgi_request(b'hi', REMOTE_ADDR='192.0.2.1')
    intake = make_intake(scgi=True)
    assert intake.feed(request[:5]) == STARTED
    assert intake.feed(request[5:]) == READY
    assert intake.body == b'hi' and intake.flags == fdpass.F_COMPLETE
    banned = make_intake(scgi=True, banned={'192.0.2.1'})
    assert banned.feed(request) == REFUSE
    assert banned.error.get_status() == 403


def test_refusals():
    intake = make_intake(max_body_size=10)
    assert intake.feed(b'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11'
                       b'\r\n\r\n') == REFUSE
    assert intake.error.get_status() == 413
    intake = make_intake()
    assert intake.feed(b'GET / HTTP/1.1\nHost: x\n') == REFUSE
    assert intake.error.get_status() == 400


def _feed(intake, data, step):
    """(intake, data:bytes, step:int) -> int: the status the dispatcher
    (or, for a head it leaves unchecked, the worker) refuses data with,
    fed step bytes at a time."""
    for i in range(0, len(data), step):
        result = intake.feed(data[i:i + step])
        if result == REFUSE:
            return intake.error.get_status()
        if result == READY:
            assert intake.flags & fdpass.F_UNCHECKED, intake.head
            try:
                parse_http_request(intake.head, intake.rules.limits, {})
            except HTTPError as e:
                return e.get_status()
            raise AssertionError('accepted %r' % data)
    raise AssertionError('still waiting after %r' % data)


@pytest.mark.parametrize('name', sorted(
    n for n in os.listdir(CORPUS) if n.endswith(('.http', '.scgi'))))
def test_corpus(name):
    """Each corpus case is refused with its status, whether it comes in one
    piece or a byte at a time, and nothing after it is read as a request."""
    with open(os.path.join(CORPUS, name), 'rb') as f:
        data = f.read()
    expected = int(name.split('-')[0])
    scgi = name.endswith('.scgi')
    for step in (len(data), 1):
        assert _feed(make_intake(scgi=scgi), data, step) == expected, step
