"""qpd.web.signin: the ways a user signs in. The Publisher's methods of the
same names call these functions with itself as first argument.

- `ensure_signed_in_using_form`: a page with a form (on https first, when
  the site has an https_address); success rotates the session id and
  redirects to the same URL, failure says "Unknown user or wrong
  password." (one message for both, so the form does not tell who has an
  account). An unknown user costs the same password hashing as a known
  one, so timing does not tell either.
- `ensure_signed_in_using_basic`: HTTP Basic authentication, on https only
  (the password crosses the wire in clear).
- `ensure_signed_in_using_digest`: HTTP Digest authentication (RFC 7616),
  offering SHA-256 first and MD5 for old clients, on https only too. The
  nonce is stateless: a time and an HMAC of it under the site's secret,
  fresh for `digest_nonce_lifetime` seconds; each `nc` of a nonce and
  client nonce is accepted once (the `digest_counts` ledger), so a
  captured request cannot be replayed. Users need digests stored with
  `user.set_password(password, realm, http_digest=True)`.

`plain_http_authentication` allows Basic and Digest over plain http.
Failures of all three are throttled per user id and client address
(qpd.web.throttle): past a few, 429 with Retry-After. Basic and Digest
sign a user in for one hit (`hit.set_user`); the form signs the session
in. Every secret is compared in constant time.
"""

import base64
import binascii
import hashlib
import hmac
import math
import re
import time

from qpd.qpy import xml
from qpd.storage.password import (
    HTTP_DIGEST_ALGORITHMS, spend_verification_time)
from qpd.storage import ledger
from qpd.web import throttle
from qpd.web.errors import (
    BadRequest, Forbidden, HTTPError, Redirect, RespondNow)
from qpd.web.form import Form

__all__ = ['ensure_signed_in_using_form', 'ensure_signed_in_using_basic',
           'ensure_signed_in_using_digest', 'authenticate',
           'make_sign_in_form', 'parse_auth_params', 'USER_FIELD',
           'PASSWORD_FIELD', 'UNKNOWN_USER', 'WRONG_PASSWORD',
           'TOO_MANY_FAILURES', 'SIGN_IN_FAILED', 'SIGN_IN_THROTTLED',
           'refuse_too_many_failures']

USER_FIELD = 'qpd_sign_in_user'
PASSWORD_FIELD = 'qpd_sign_in_password'
UNKNOWN_USER = 'unknown user'
WRONG_PASSWORD = 'wrong password'
TOO_MANY_FAILURES = 'too many failures'
# What a visitor is told: the same for an unknown user and a wrong
# password, so the form does not tell who has an account.
SIGN_IN_FAILED = 'Unknown user or wrong password.'
SIGN_IN_THROTTLED = ('Too many failed sign-ins: please try again in %d '
                     'seconds.')

_AUTH_PARAM = re.compile(
    r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
_QUOTED_PAIR = re.compile(r'\\(.)')


def authenticate(publisher, user_id, password, realm=None):
    """(publisher, user_id:str, password:str, realm:str=None)
        -> (User | None, problem:str | None)
    The user whose password this is, or None and UNKNOWN_USER or
    WRONG_PASSWORD (both take the time of a password check, and are
    counted by qpd.web.throttle), or TOO_MANY_FAILURES when this client
    must wait before trying user_id again (the password is not checked).
    Success forgets the failures. Show visitors SIGN_IN_FAILED for both
    failures.
    """
    if realm is None:
        realm = publisher.get_realm()
    if throttle.get_wait(publisher, user_id) > 0:
        return None, TOO_MANY_FAILURES
    user = None
    if user_id and publisher.get_connection() is not None:
        user = publisher.get_users().get(user_id)
    if user is None:
        spend_verification_time(password or '')
        throttle.note_failure(publisher, user_id)
        return None, UNKNOWN_USER
    if not user.has_password(password or '', realm):
        throttle.note_failure(publisher, user_id)
        return None, WRONG_PASSWORD
    throttle.note_success(publisher, user_id)
    return user, None


def refuse_too_many_failures(publisher, user_id):
    """(publisher, user_id:str) -> raises HTTPError 429
    With Retry-After: the seconds until user_id may be tried again from
    this client.
    """
    wait = max(1, math.ceil(throttle.get_wait(publisher, user_id)))
    raise HTTPError(429, SIGN_IN_THROTTLED % wait,
                    headers=[('Retry-After', str(wait))])


def _refuse_and_keep(publisher, error):
    """(publisher, error:HTTPError) -> raises RespondNow
    Answer with error's page but commit the hit (the failure it noted),
    where a raised HTTPError would abort it.
    """
    publisher.respond_http_error(publisher.get_hit(), error)
    raise RespondNow()


# The form ----------------------------------------------------------------

class SignInForm(Form):
    """The sign-in form: its stateless tokens have a scope of their own, so
    one taken from the anonymous form does not submit another form shown
    at the same path."""

    def get_token_scope(self):
        """() -> str: 'sign in ' and the form's absolute action path"""
        return 'sign in ' + Form.get_token_scope(self)

    def is_submitted(self):
        """() -> bool
        Only a POST that carries the sign-in fields: it is shown on any
        page, so the POST of the page's own form (its session expired) is
        not a failed sign-in (Form takes any POST, as QP).
        """
        fields = self.get_request().get_fields()
        return Form.is_submitted(self) and any(
            widget.is_submitted_in(fields) for widget in self.widgets)


def make_sign_in_form(action, user_id='', submit='Sign in'):
    """(action:str, user_id:str='', submit:str='Sign in') -> Form
    The sign-in form, with a one-time token like every qpd post form (so
    no other site can sign a visitor in to an account of its choosing).
    """
    form = SignInForm(action_url=action)
    form.add_string(USER_FIELD, value=user_id, title='User', required=True)
    form.add_password(PASSWORD_FIELD, title='Password', required=True)
    form.add_submit('qpd_sign_in', submit)
    return form


def ensure_signed_in_using_form(publisher, title='Please Sign In',
                                realm=None, **kwargs):
    """(publisher, title:str='Please Sign In', realm:str=None, **kwargs) -> None
    Return when a user is signed in. Else (after moving to https when
    the site has an https_address) show the sign-in form with status 403
    (as QP; kwargs go to the page), or check what it posted: success
    signs the session in and redirects to this URL.
    """
    hit = publisher.get_hit()
    if hit.get_user():
        return
    publisher.secure()
    request = hit.get_request()
    session = hit.get_session()
    owner = session.get_owner() if session is not None else None
    form = make_sign_in_form(request.get_path_query(),
                             owner.get_id() if owner else '')
    if form.is_submitted() and not form.has_errors():
        user, problem = authenticate(publisher, form.get(USER_FIELD),
                                     form.get(PASSWORD_FIELD), realm)
        if user is not None:
            publisher.sign_in(user)
            raise Redirect(request.get_path_query())
        if problem == TOO_MANY_FAILURES:
            wait = max(1, math.ceil(
                throttle.get_wait(publisher, form.get(USER_FIELD))))
            form.set_form_error(SIGN_IN_THROTTLED % wait)
            try:
                publisher.respond(title, xml('<h1>%s</h1>\n') % title,
                                  form.render(), status=429, **kwargs)
            except RespondNow:
                hit.get_response().set_header('Retry-After', str(wait))
                raise
        form.set_form_error(SIGN_IN_FAILED)
    publisher.respond(title, xml('<h1>%s</h1>\n') % title, form.render(),
                      status=403, **kwargs)


# HTTP Basic ----------------------------------------------------------------

def _require_https(publisher, request, scheme):
    """(publisher, request, scheme:str) -> None
    Basic and Digest sign-in are for https (Basic sends the password in
    clear, Digest lets an eavesdropper guess it offline and hijack the
    connection): over plain http, a redirect to https when the site has
    an https_address, else 403, unless `plain_http_authentication` is
    set.
    """
    if request.is_secure() or publisher.get_config(
            'plain_http_authentication'):
        return
    publisher.secure()
    raise Forbidden('%s authentication needs https.' % scheme)


def _get_credentials(publisher, realm, scheme):
    """(publisher, realm:str|None, scheme:str) -> (hit, realm:str,
    credentials:str|None) | None
    How Basic and Digest both begin: None when a user is signed in
    already; else (after _require_https) the hit, the realm (the
    publisher's when None) and what the Authorization header says after
    `scheme ` (None when it names no such credentials).
    """
    hit = publisher.get_hit()
    if hit.get_user():
        return None
    if realm is None:
        realm = publisher.get_realm()
    request = hit.get_request()
    _require_https(publisher, request, scheme)
    header = request.get_header('Authorization') or ''
    prefix = scheme.lower() + ' '
    if header[:len(prefix)].lower() != prefix:
        return hit, realm, None
    return hit, realm, header[len(prefix):]


def ensure_signed_in_using_basic(publisher, realm=None):
    """(publisher, realm:str=None) -> None
    Return when a user is signed in, or when the request's Basic
    credentials are right (the user is then signed in for this hit).
    Else a 401 that asks for them. Over plain http: a redirect to https
    when the site has an https_address, else 403.
    """
    found = _get_credentials(publisher, realm, 'Basic')
    if found is None:
        return
    hit, realm, credentials = found
    if credentials is not None:
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True)
            user_id, colon, password = decoded.decode('utf-8').partition(':')
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadRequest('malformed Basic credentials')
        if colon:
            user, problem = authenticate(publisher, user_id, password, realm)
            if user is not None:
                hit.set_user(user)
                hit.get_info()['authentication'] = 'Basic'
                return
            if problem == TOO_MANY_FAILURES:
                refuse_too_many_failures(publisher, user_id)
            _refuse_and_keep(publisher, _basic_challenge(realm))
    raise _basic_challenge(realm)


def _basic_challenge(realm):
    return HTTPError(401, 'Please sign in.', headers=[
        ('WWW-Authenticate', 'Basic realm="%s", charset="UTF-8"' %
         _quote(realm))])


# HTTP Digest (RFC 7616) ------------------------------------------------------

def _quote(value):
    return value.replace('\\', '\\\\').replace('"', '\\"')


def parse_auth_params(text):
    """(text:str) -> dict
    The auth-params of an Authorization header after its scheme:
    `a=b, c="d"` -> {'a': 'b', 'c': 'd'} (names in lower case).
    """
    params = {}
    position = 0
    while position < len(text):
        found = _AUTH_PARAM.match(text, position)
        if found is None or found.end() == position:
            break
        name, value = found.group(1).lower(), found.group(2)
        if value.startswith('"'):
            value = _QUOTED_PAIR.sub(r'\1', value[1:-1])
        params[name] = value
        position = found.end()
    return params


def _make_nonce(secret, realm, now):
    stamp = '%x' % int(now)
    mac = hmac.new(secret, ('%s:%s' % (stamp, realm)).encode('utf-8'),
                   hashlib.sha256).hexdigest()[:32]
    return '%s.%s' % (stamp, mac)


def _check_nonce(keys, realm, nonce, now, lifetime):
    """(keys:[bytes], ...) -> 'ok' | 'stale' | 'bad'"""
    stamp, dot, mac = nonce.partition('.')
    try:
        issued = int(stamp, 16)
    except ValueError:
        return 'bad'
    if not any(hmac.compare_digest(
            _make_nonce(key, realm, issued).encode('ascii'),
            nonce.encode('utf-8', 'replace')) for key in keys):
        return 'bad'
    if not 0 <= now - issued <= lifetime:
        return 'stale'
    return 'ok'


_DUMMY_HA1 = '0' * 64
DIGEST_LEDGER = 'digest_counts'


def _check_digest(publisher, params, realm, request):
    """-> (User | None, stale:bool, failed:bool)
    failed: a user id was tried with a wrong answer (a noted failure)."""
    algorithm = params.get('algorithm', 'MD5')
    if algorithm.upper() == 'SHA-256':
        algorithm = 'SHA-256'
    elif algorithm.upper() == 'MD5':
        algorithm = 'MD5'
    else:
        return None, False, False
    h = HTTP_DIGEST_ALGORITHMS[algorithm]

    def digest(text):
        return h(text.encode('utf-8')).hexdigest()
    username = params.get('username', '')
    nonce = params.get('nonce', '')
    uri = params.get('uri', '')
    response = params.get('response', '')
    qop = params.get('qop', '')
    nc = params.get('nc', '')
    cnonce = params.get('cnonce', '')
    if (params.get('realm') != realm or qop != 'auth' or not nc
            or not cnonce or params.get('userhash', 'false') != 'false'):
        return None, False, False
    if uri != request.get_path_query() and uri != request.get_url():
        return None, False, False
    state = _check_nonce(publisher.get_secrets(), realm, nonce, time.time(),
                         publisher.get_config('digest_nonce_lifetime'))
    if state == 'bad':
        return None, False, False
    if throttle.get_wait(publisher, username) > 0:
        refuse_too_many_failures(publisher, username)
    user = None
    if username and publisher.get_connection() is not None:
        user = publisher.get_users().get(username)
    ha1 = None
    if user is not None:
        ha1 = user.get_digester().get_http_digest(realm, algorithm)
    known = ha1 is not None
    if not known:
        ha1 = _DUMMY_HA1
    ha2 = digest('%s:%s' % (request.get_method(), uri))
    expected = digest('%s:%s:%s:%s:%s:%s' % (ha1, nonce, nc, cnonce, qop, ha2))
    matches = hmac.compare_digest(expected.encode('ascii'),
                                  response.lower().encode('utf-8', 'replace'))
    if not (known and matches):
        throttle.note_failure(publisher, username)
        return None, False, True
    if state == 'stale':
        return None, True, False
    # Each (nonce, cnonce, nc) is good once: a replayed request is
    # refused. The cnonce is part of it because two challenges in the same
    # second carry the same (stateless) nonce, and a client that answers
    # the second one starts again at nc=1 with a cnonce of its own.
    now = time.time()
    count_key = '%s:%s:%s' % (nonce, cnonce, nc.lower())
    root = publisher.get_connection().get_root()
    if ledger.lookup(root, DIGEST_LEDGER, count_key, now) is not None:
        return None, False, False
    ledger.record(root, DIGEST_LEDGER, count_key,
                  now + publisher.get_config('digest_nonce_lifetime') + 60)
    throttle.note_success(publisher, username)
    publisher.get_hit().get_info()['authentication'] = 'Digest ' + algorithm
    return user, False, False


def ensure_signed_in_using_digest(publisher, realm=None):
    """(publisher, realm:str=None) -> None
    Return when a user is signed in, or when the request's Digest
    credentials are right (the user is then signed in for this hit).
    Else a 401 with a SHA-256 and an MD5 challenge (stale=true when the
    credentials were right but the nonce too old).
    """
    found = _get_credentials(publisher, realm, 'Digest')
    if found is None:
        return
    hit, realm, credentials = found
    stale = failed = False
    if credentials is not None:
        user, stale, failed = _check_digest(
            publisher, parse_auth_params(credentials), realm,
            hit.get_request())
        if user is not None:
            hit.set_user(user)
            return
    nonce = _make_nonce(publisher.get_secret(), realm, time.time())
    opaque = hashlib.sha256(realm.encode('utf-8')).hexdigest()[:32]
    challenges = []
    for algorithm in ('SHA-256', 'MD5'):
        challenges.append((
            'WWW-Authenticate',
            'Digest realm="%s", qop="auth", algorithm=%s, nonce="%s", '
            'opaque="%s"%s' % (_quote(realm), algorithm, nonce, opaque,
                               ', stale=true' if stale else '')))
    error = HTTPError(401, 'Please sign in.', headers=challenges)
    if failed:
        _refuse_and_keep(publisher, error)
    raise error
