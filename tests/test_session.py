"""Session, and how the publisher keeps sessions (with a real Durus
StorageServer: see the durus_server fixture in conftest.py)."""

import time

from qpd.lib.spec import get_spec_problems
from qpd.storage import Session, User
from qpd.storage.session import is_session_id, new_session_id
from qpd.web.profile import Profile


def test_session_ids_are_128_random_bits():
    ids = {new_session_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(is_session_id(i) for i in ids)
    assert not is_session_id('x' * 32)
    assert not is_session_id(new_session_id().upper())
    assert not is_session_id(None)


def test_session_owner_and_user_kept_apart():
    session = Session('10.0.0.1', now=1000.0)
    assert get_spec_problems(session) == []
    assert not session.needs_saving()
    first = session.get_id()
    ann = User('ann')
    session.set_authenticated(ann)
    assert session.get_owner() is ann and session.get_effective_user() is ann
    assert session.get_id() != first            # rotated on sign-in
    second = session.get_id()
    session.set_authenticated(None)             # sign out
    assert session.get_owner() is ann and not session.get_effective_user()
    assert session.get_effective_user().get_id() == ''   # QP's null user
    assert session.get_id() != second           # rotated on sign-out
    assert session.needs_saving()               # the owner is remembered


def test_session_touch_and_expiry():
    session = Session(now=1000.0)
    session.touch(1030.0)
    assert session.get_access_time() == 1000.0  # within the resolution
    session.touch(1100.0)
    assert session.get_access_time() == 1100.0
    assert not session.is_expired(60, now=1150.0)
    assert session.is_expired(60, now=1161.0)


def test_session_tokens():
    session = Session()
    assert not session.use_token('nothing') and not session.has_token('x')
    token = session.add_token()
    assert session.needs_saving()
    assert session.has_token(token)
    assert session.use_token(token)
    assert not session.use_token(token)


def _cookie_line(response, name):
    for header, value in response.get_header_list():
        if header == 'Set-Cookie' and value.startswith(name + '='):
            return value
    return None


def test_anonymous_hits_store_no_session(publish_site):
    profile = Profile(publish_site)
    publisher = profile.get_publisher()
    response = profile.get('/')
    assert profile.get_body(response) == b'Hello, world!'
    assert response.get_header_list() == [
        ('Content-Type', 'text/html; charset=utf-8'),
        ('X-Content-Type-Options', 'nosniff'), ('X-Frame-Options', 'DENY'),
        ('Content-Security-Policy', "frame-ancestors 'none'"),
        ('Content-Length', '13')]
    assert len(publisher.get_sessions()) == 0
    assert profile.get_cookies() == {}


def test_session_stored_when_needed_with_safe_cookie(publish_site):
    profile = Profile(publish_site)
    publisher = profile.get_publisher()
    name = publisher.get_session_cookie_name()
    response = profile.get('/token')
    token = profile.get_text(response)
    line = _cookie_line(response, name)
    assert 'HttpOnly' in line and 'SameSite=Lax' in line
    assert 'Secure' not in line and 'Path=/' in line
    session_id = profile.get_cookies()[name]
    assert is_session_id(session_id)
    assert list(publisher.get_sessions().keys()) == [session_id]
    # The next hits find the session; no new cookie is sent.
    response = profile.get('/use_token', token=token)
    assert profile.get_text(response) == 'True'
    assert _cookie_line(response, name) is None
    assert profile.get_text(profile.get('/use_token', token=token)) == 'False'
    # Under https the cookie is Secure.
    secure = Profile(publish_site, scheme='https')
    response = secure.get('/token')
    assert 'Secure' in _cookie_line(response, name)


def test_tampered_or_unknown_cookie_starts_fresh(publish_site):
    profile = Profile(publish_site)
    name = profile.get_publisher().get_session_cookie_name()
    profile.get('/token')
    good = profile.get_cookies()[name]
    for bad in ('x' * 32, new_session_id(), good[:-1], good + '0',
                good.upper(), ''):
        other = Profile(profile.get_publisher())
        other.get_cookies()[name] = bad
        response = other.get('/token')
        assert response.get_status_code() == 200
        assert other.get_cookies()[name] != good
    assert len(profile.get_publisher().get_sessions()) == 1 + 6


def test_sessions_persist_across_publishers(publish_site, site_users):
    site_users(publish_site)
    one = Profile(publish_site)
    response = one.submit('/form', qpd_sign_in_user='ann',
                        qpd_sign_in_password='secret')
    assert response.get_status_code() == 302
    two = Profile(publish_site)        # another publisher and connection
    assert two.get_publisher().get_connection() is not \
        one.get_publisher().get_connection()
    assert two.get_text(two.get('/whoami')) == 'nobody'
    two.get_cookies().update(one.get_cookies())
    assert two.get_text(two.get('/whoami')) == 'ann'


def test_session_rotates_on_sign_in_and_out(publish_site, site_users):
    site_users(publish_site)
    profile = Profile(publish_site)
    publisher = profile.get_publisher()
    name = publisher.get_session_cookie_name()
    profile.get('/token')                       # an anonymous stored session
    before = profile.get_cookies()[name]
    profile.submit('/form', qpd_sign_in_user='ann', qpd_sign_in_password='secret')
    after = profile.get_cookies()[name]
    assert after != before
    assert before not in publisher.get_sessions()
    assert after in publisher.get_sessions()
    # The planted (old) id no longer signs anyone in.
    attacker = Profile(publish_site)
    attacker.get_cookies()[name] = before
    assert attacker.get_text(attacker.get('/whoami')) == 'nobody'
    assert profile.get_text(profile.get('/whoami')) == 'ann'
    profile.get('/sign_out')
    assert profile.get_cookies()[name] not in (after, before)
    assert profile.get_text(profile.get('/whoami')) == 'nobody'


def test_sessions_expire_and_are_cleaned_up(publish_site, site_users):
    site_users(publish_site)
    profile = Profile(publish_site)
    publisher = profile.get_publisher()
    profile.submit('/form', qpd_sign_in_user='ann', qpd_sign_in_password='secret')
    assert profile.get_text(profile.get('/whoami')) == 'ann'
    # Age the session beyond the idle limit, as another client would.
    connection = publish_site.get_connection()
    sessions = connection.get_root()['sessions']
    for session in sessions.values():
        session.access_time = time.time() - 8 * 24 * 3600
    connection.commit()
    assert profile.get_text(profile.get('/whoami')) == 'nobody'
    assert len(publisher.get_sessions()) == 1
    # The clean-up runs after a hit once session_cleanup_interval passed.
    publisher.last_session_cleanup = 0
    profile.get('/')
    connection.abort()
    assert len(connection.get_root()['sessions']) == 0
    connection.get_storage().close()
