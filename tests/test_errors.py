"""Tests for qpd.web.errors."""

import pytest

from qpd.web.errors import (
    BadRequest, Forbidden, HTTPError, MethodNotAllowed, NotFound,
    NotImplementedHTTP, Redirect, RequestEntityTooLarge,
    RequestHeaderFieldsTooLarge, RespondNow, URITooLong, get_reason_phrase)


def test_http_error_accessors():
    error = HTTPError(418, 'short and stout', [('X-Tea', 'yes')])
    assert error.get_status() == 418
    assert error.get_message() == 'short and stout'
    assert error.get_headers() == [('X-Tea', 'yes')]
    assert error.get_reason_phrase() == get_reason_phrase(418)
    assert '418' in str(error)


def test_http_error_defaults():
    error = HTTPError(400)
    assert error.get_message() == ''
    assert error.get_headers() == []
    assert str(error) == '400 Bad Request'


@pytest.mark.parametrize('cls, status', [
    (BadRequest, 400), (Forbidden, 403), (NotFound, 404),
    (MethodNotAllowed, 405), (RequestEntityTooLarge, 413), (URITooLong, 414),
    (RequestHeaderFieldsTooLarge, 431), (NotImplementedHTTP, 501)])
def test_shortcuts(cls, status):
    error = cls('why', headers=[('Allow', 'GET')])
    assert isinstance(error, HTTPError)
    assert error.get_status() == status
    assert error.get_message() == 'why'
    assert error.get_headers() == [('Allow', 'GET')]
    assert cls().get_status() == status


def test_redirect():
    redirect = Redirect('there/')
    assert redirect.get_location() == 'there/'
    assert not redirect.is_permanent()
    assert redirect.get_status() == 302
    assert Redirect('/x', permanent=True).get_status() == 301
    assert not isinstance(redirect, HTTPError)


def test_respond_now():
    with pytest.raises(RespondNow):
        raise RespondNow()


def test_reason_phrase():
    assert get_reason_phrase(404) == 'Not Found'
    assert get_reason_phrase(299) == ''
