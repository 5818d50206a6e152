"""QP compatibility: qp.pub.hit -> qpd.web.hit, one test per entry of
docs/qp_api.md, pinning the contract QP's API states."""

import io
from datetime import datetime, timedelta, timezone

from qpd.storage.session import Session
from qpd.web.hit import Hit
from qpd.web.request import HTTPRequest
from qpd.web.response import HTTPResponse

ENVIRON = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/a', 'QUERY_STRING': 'x=1'}


def test_hit_from_stream_and_environment():
    hit = Hit(io.BytesIO(b''), dict(ENVIRON))
    assert isinstance(hit.get_request(), HTTPRequest)
    assert hit.get_request().get_field('x') == '1'
    assert isinstance(hit.get_response(), HTTPResponse)
    assert hit.get_info() == {}


def test_request_is_response_is():
    class MyRequest(HTTPRequest):
        pass

    class MyResponse(HTTPResponse):
        pass

    class MyHit(Hit):
        request_is = MyRequest
        response_is = MyResponse
    hit = MyHit(io.BytesIO(b''), dict(ENVIRON))
    assert type(hit.get_request()) is MyRequest
    assert type(hit.get_response()) is MyResponse
    assert Hit.request_is is HTTPRequest and Hit.response_is is HTTPResponse


def test_init_response():
    hit = Hit(io.BytesIO(b''), dict(ENVIRON))
    old = hit.get_response()
    old.set_status(404)
    hit.init_response()
    assert hit.get_response() is not old
    assert hit.get_response().get_status_code() == 200


def test_get_request_get_response():
    request = HTTPRequest(io.BytesIO(b''), dict(ENVIRON))
    response = HTTPResponse()
    hit = Hit(request, response)
    assert hit.get_request() is request and hit.get_response() is response


def test_get_session():
    hit = Hit(io.BytesIO(b''), dict(ENVIRON))
    assert hit.get_session() is None


def test_set_session():
    hit = Hit(io.BytesIO(b''), dict(ENVIRON))
    session = Session()
    hit.set_session(session)
    assert hit.get_session() is session


def test_get_time():
    before = datetime.now(timezone.utc)
    hit = Hit(io.BytesIO(b''), dict(ENVIRON))
    stamp = hit.get_time()
    assert isinstance(stamp, datetime) and stamp.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= stamp <= \
        datetime.now(timezone.utc) + timedelta(seconds=1)


def test_get_info():
    hit = Hit(io.BytesIO(b''), dict(ENVIRON))
    hit.get_info()['note'] = 1
    assert hit.get_info() == {'note': 1}
