"""Signing in with a form, HTTP Basic and HTTP Digest, on a real Durus
StorageServer; Digest also with `curl --digest` against the site served by
gunicorn."""

import base64
import hashlib
import shutil
import re
import statistics
import subprocess
import time

import pytest

from qpd.web.profile import Profile
from qpd.web.signin import (
    PASSWORD_FIELD, SIGN_IN_FAILED, UNKNOWN_USER, USER_FIELD,
    WRONG_PASSWORD, _make_nonce, parse_auth_params)


@pytest.fixture
def site(publish_site, site_users):
    site_users(publish_site)
    return publish_site


def _sign_in(profile, user, password, token=None):
    return profile.post('/form', _form_token=token or profile.get_form_token('/form'),
                        **{USER_FIELD: user, PASSWORD_FIELD: password})


# The form ----------------------------------------------------------------------

def test_form_sign_in(site):
    profile = Profile(site)
    response = profile.get('/form')
    assert response.get_status_code() == 403    # QP: the form comes with 403
    body = profile.get_text(response)
    assert 'name="%s"' % USER_FIELD in body and 'type="password"' in body
    assert 'action="/form"' in body

    # One message for an unknown user and a wrong password (issue 15):
    # the form does not tell who has an account.
    response = _sign_in(profile, 'nobody', 'secret')
    unknown = profile.get_text(response)
    assert SIGN_IN_FAILED in unknown
    assert profile.get_text(profile.get('/whoami')) == 'nobody'
    before = dict(profile.get_cookies())

    response = _sign_in(profile, 'ann', 'wrong')
    wrong = profile.get_text(response)
    assert SIGN_IN_FAILED in wrong
    assert 'value="ann"' in wrong
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub('', wrong) == strip.sub('', unknown)

    response = _sign_in(profile, 'ann', 'secret')
    assert response.get_status_code() == 302
    assert response.get_header('Location') == '/form'   # allowed_hosts unset
    assert profile.get_text(profile.get('/form')) == 'form: ann'
    assert profile.get_text(profile.get('/whoami')) == 'ann'
    assert profile.get_cookies() != before      # the id rotated
    profile.get('/sign_out')
    assert profile.get_text(profile.get('/whoami')) == 'nobody'
    # The form offers the owner's name again.
    assert 'value="ann"' in profile.get_text(profile.get('/form'))


def test_form_sign_in_needs_the_forms_token(site):
    # A post from another site (no token) signs nobody in: no login CSRF.
    profile = Profile(site)
    response = profile.post('/form', **{USER_FIELD: 'ann',
                                        PASSWORD_FIELD: 'secret'})
    assert response.get_status_code() == 403
    assert profile.get_text(profile.get('/whoami')) == 'nobody'


def test_form_moves_to_https_first(make_publish_site, site_users):
    site = make_publish_site(https_address=('127.0.0.1', 8443))
    site_users(site)
    profile = Profile(site)
    response = profile.get('/form')
    assert response.get_status_code() == 302
    assert response.get_header('Location') == 'https://127.0.0.1:8443/form'
    secure = Profile(site, host='127.0.0.1:8443', scheme='https')
    assert secure.get('/form').get_status_code() == 403
    response = _sign_in(secure, 'ann', 'secret')
    assert response.get_status_code() == 302
    cookie = [value for name, value in response.get_header_list()
              if name == 'Set-Cookie'][0]
    assert 'Secure' in cookie and 'HttpOnly' in cookie
    assert secure.get_text(secure.get('/form')) == 'form: ann'


def test_form_timing_does_not_tell_which_users_exist(make_publish_site,
                                                     site_users):
    # Unthrottled here: this measures the password check itself.
    site = make_publish_site(sign_in_free_failures=1000)
    site_users(site)
    profile = Profile(site)
    _sign_in(profile, 'ann', 'warm up')

    known, unknown = [], []
    for _ in range(5):      # interleaved, so that load drifts hit both
        tokens = [profile.get_form_token('/form') for _ in range(2)]
        start = time.perf_counter()
        _sign_in(profile, 'ann', 'wrong', tokens[0])
        middle = time.perf_counter()
        _sign_in(profile, 'nobody', 'wrong', tokens[1])
        known.append(middle - start)
        unknown.append(time.perf_counter() - middle)
    known, unknown = statistics.median(known), statistics.median(unknown)
    print('\nSIGN-IN TIMING: wrong password %.1f ms, unknown user %.1f ms' % (
        known * 1000, unknown * 1000))
    assert 0.5 < unknown / known < 2.0


# HTTP Basic ----------------------------------------------------------------------

def _basic(user, password):
    token = base64.b64encode(('%s:%s' % (user, password)).encode()).decode()
    return {'Authorization': 'Basic ' + token}


def test_basic_sign_in_on_https_only(site):
    plain = Profile(site)
    response = plain.request('GET', '/basic', headers=_basic('ann', 'secret'))
    assert response.get_status_code() == 403
    secure = Profile(site, scheme='https')
    response = secure.get('/basic')
    assert response.get_status_code() == 401
    assert response.get_header('WWW-Authenticate') == \
        'Basic realm="%s", charset="UTF-8"' % site.get_name()
    for user, password in (('ann', 'wrong'), ('nobody', 'secret')):
        response = secure.request('GET', '/basic',
                                  headers=_basic(user, password))
        assert response.get_status_code() == 401
    response = secure.request('GET', '/basic', headers=_basic('ann', 'secret'))
    assert secure.get_text(response) == 'basic: ann'
    assert secure.get_cookies() == {}          # per request, no session
    response = secure.request('GET', '/basic',
                              headers={'Authorization': 'Basic !!!'})
    assert response.get_status_code() == 400


# HTTP Digest -------------------------------------------------------------------

def _digest_answer(challenge, user, password, method, uri, algorithm,
                   cnonce='0a4f113b', nc='00000001'):
    params = parse_auth_params(challenge[len('Digest '):])
    h = {'SHA-256': hashlib.sha256, 'MD5': hashlib.md5}[algorithm]

    def digest(text):
        return h(text.encode()).hexdigest()
    ha1 = digest('%s:%s:%s' % (user, params['realm'], password))
    ha2 = digest('%s:%s' % (method, uri))
    response = digest('%s:%s:%s:%s:auth:%s' % (
        ha1, params['nonce'], nc, cnonce, ha2))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", '
            'algorithm=%s, response="%s", qop=auth, nc=%s, cnonce="%s", '
            'opaque="%s"' % (user, params['realm'], params['nonce'], uri,
                             algorithm, response, nc, cnonce,
                             params['opaque']))


def _challenges(response):
    return [value for name, value in response.get_header_list()
            if name == 'WWW-Authenticate']


def test_digest_challenge_and_answers(site):
    profile = Profile(site, scheme='https')
    response = profile.get('/digest')
    assert response.get_status_code() == 401
    sha, md5 = _challenges(response)
    assert 'algorithm=SHA-256' in sha and 'qop="auth"' in sha
    assert 'algorithm=MD5' in md5
    assert parse_auth_params(sha[7:])['realm'] == site.get_name()
    for nc, (challenge, algorithm) in enumerate(
            ((sha, 'SHA-256'), (md5, 'MD5')), 1):
        answer = _digest_answer(challenge, 'ann', 'secret', 'GET',
                                '/digest?a=1', algorithm, nc='%08x' % nc)
        response = profile.request('GET', '/digest?a=1',
                                   headers={'Authorization': answer})
        assert profile.get_text(response) == 'digest: ann (Digest %s)' % (
            algorithm)
    bad = [
        _digest_answer(sha, 'ann', 'wrong', 'GET', '/digest', 'SHA-256'),
        _digest_answer(sha, 'nobody', 'secret', 'GET', '/digest', 'SHA-256'),
        _digest_answer(sha, 'ann', 'secret', 'GET', '/other', 'SHA-256'),
        _digest_answer(sha, 'ann', 'secret', 'POST', '/digest', 'SHA-256'),
        _digest_answer(sha.replace('.', '0', 1), 'ann', 'secret', 'GET',
                       '/digest', 'SHA-256'),
    ]
    for answer in bad:
        response = profile.request('GET', '/digest',
                                   headers={'Authorization': answer})
        assert response.get_status_code() == 401, answer


def test_digest_replayed_count_is_refused(site):
    # Issue 15: each nc of a nonce is good once, so a captured request
    # cannot be replayed; the next nc of the same nonce still works.
    profile = Profile(site, scheme='https')
    sha = _challenges(profile.get('/digest'))[0]
    first = _digest_answer(sha, 'ann', 'secret', 'GET', '/digest',
                           'SHA-256', nc='00000001')
    response = profile.request('GET', '/digest',
                               headers={'Authorization': first})
    assert profile.get_text(response) == 'digest: ann (Digest SHA-256)'
    replayed = profile.request('GET', '/digest',
                               headers={'Authorization': first})
    assert replayed.get_status_code() == 401
    second = _digest_answer(sha, 'ann', 'secret', 'GET', '/digest',
                            'SHA-256', nc='00000002')
    response = profile.request('GET', '/digest',
                               headers={'Authorization': second})
    assert response.get_status_code() == 200


def test_digest_throttles_wrong_answers_only(make_publish_site, site_users):
    # Issue 23: the handshake's 401 (no credentials sent yet) never counts
    # toward sign-in throttling, however often it comes; a wrong answer
    # does, but one wrong answer does not keep out the right one that
    # follows; only past sign_in_free_failures wrong answers is it 429.
    site = make_publish_site(sign_in_free_failures=2)
    site_users(site)
    profile = Profile(site, scheme='https')
    for attempt in range(10):
        response = profile.get('/digest')
        assert response.get_status_code() == 401, attempt
    sha = _challenges(response)[0]
    answer = _digest_answer(sha, 'ann', 'secret', 'GET', '/digest',
                            'SHA-256')
    response = profile.request('GET', '/digest',
                               headers={'Authorization': answer})
    assert profile.get_text(response) == 'digest: ann (Digest SHA-256)'

    wrong = _digest_answer(sha, 'ann', 'wrong', 'GET', '/digest', 'SHA-256',
                           nc='00000002')
    response = profile.request('GET', '/digest',
                               headers={'Authorization': wrong})
    assert response.get_status_code() == 401
    sha = _challenges(response)[0]          # the browser asks again
    answer = _digest_answer(sha, 'ann', 'secret', 'GET', '/digest',
                            'SHA-256', cnonce='5ccc069c')
    response = profile.request('GET', '/digest',
                               headers={'Authorization': answer})
    assert response.get_status_code() == 200   # not 429

    for nc in range(3, 6):      # the third wrong answer is one too many
        wrong = _digest_answer(sha, 'ann', 'wrong', 'GET', '/digest',
                               'SHA-256', nc='%08x' % nc)
        response = profile.request('GET', '/digest',
                                   headers={'Authorization': wrong})
    assert response.get_status_code() == 429
    assert response.get_header('Retry-After')
    assert profile.get('/digest').get_status_code() == 401  # asks, no 429


def test_digest_needs_https_unless_allowed(site, make_publish_site):
    plain = Profile(site)
    sha = _challenges(Profile(site, scheme='https').get('/digest'))[0]
    answer = _digest_answer(sha, 'ann', 'secret', 'GET', '/digest',
                            'SHA-256')
    response = plain.request('GET', '/digest',
                             headers={'Authorization': answer})
    assert response.get_status_code() == 403
    # (the same database and realm: ann is there already)
    profile = Profile(make_publish_site(plain_http_authentication=True,
                                        realm=site.get_name()))
    sha = _challenges(profile.get('/digest'))[0]
    answer = _digest_answer(sha, 'ann', 'secret', 'GET', '/digest',
                            'SHA-256')
    response = profile.request('GET', '/digest',
                               headers={'Authorization': answer})
    assert response.get_status_code() == 200


def test_digest_stale_nonce(site):
    profile = Profile(site, scheme='https')
    publisher = profile.get_publisher()
    response = profile.get('/digest')
    sha = _challenges(response)[0]
    old = _make_nonce(publisher.get_secret(), site.get_name(),
                      time.time() - 3600)
    fresh = parse_auth_params(sha[7:])['nonce']
    answer = _digest_answer(sha.replace(fresh, old), 'ann', 'secret', 'GET',
                            '/digest', 'SHA-256')
    response = profile.request('GET', '/digest',
                               headers={'Authorization': answer})
    assert response.get_status_code() == 401
    assert all('stale=true' in c for c in _challenges(response))


@pytest.mark.skipif(shutil.which('curl') is None, reason='needs curl')
def test_digest_with_curl(make_publish_site, site_users, serve_wsgi):
    # gunicorn serves plain http here: allow HTTP authentication over it.
    site = make_publish_site(plain_http_authentication=True)
    site_users(site)
    url = serve_wsgi(site)

    def curl(*args):
        result = subprocess.run(
            ['curl', '-s', '-o', '-', '-w', '\n%{http_code}', '--digest']
            + list(args), capture_output=True, text=True, timeout=30)
        body, _, status = result.stdout.rpartition('\n')
        return int(status), body
    assert curl('-u', 'ann:secret', url + '/digest?q=1') == (
        200, 'digest: ann (Digest SHA-256)')
    status, body = curl('-u', 'ann:wrong', url + '/digest')
    assert status == 401 and 'Please sign in.' in body
    assert curl('-u', 'nobody:secret', url + '/digest')[0] == 401
    assert curl(url + '/digest')[0] == 401
