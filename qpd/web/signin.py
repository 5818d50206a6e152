"""qpd.web.signin: the ways a user signs in. The Publisher's methods of the
same names call these functions with itself as first argument.

- `ensure_signed_in_using_form`: a page with a form (on https first, when
  the site has an https_address); success rotates the session id and
  redirects to the same URL, failure says "unknown user" or "wrong
  password" beside the field. An unknown user costs the same password
  hashing as a known one, so timing does not tell which users exist.
- `ensure_signed_in_using_basic`: HTTP Basic authentication, on https only
  (the password crosses the wire in clear).
- `ensure_signed_in_using_digest`: HTTP Digest authentication (RFC 7616),
  offering SHA-256 first and MD5 for old clients. The nonce is stateless:
  a time and an HMAC of it under the site's secret, fresh for
  `digest_nonce_lifetime` seconds. Users need digests stored with
  `user.set_password(password, realm, http_digest=True)`.

Basic and Digest sign a user in for one hit (`hit.set_user`); the form
signs the session in. Every secret is compared in constant time.
"""

import base64
import binascii
import hashlib
import hmac
import re
import time

from qpd.qpy import xml
from qpd.storage.password import (
    HTTP_DIGEST_ALGORITHMS, spend_verification_time)
from qpd.web.errors import BadRequest, Forbidden, HTTPError, Redirect

__all__ = ['ensure_signed_in_using_form', 'ensure_signed_in_using_basic',
           'ensure_signed_in_using_digest', 'authenticate',
           'make_sign_in_form', 'parse_auth_params', 'USER_FIELD',
           'PASSWORD_FIELD', 'UNKNOWN_USER', 'WRONG_PASSWORD']

USER_FIELD = 'qpd_sign_in_user'
PASSWORD_FIELD = 'qpd_sign_in_password'
UNKNOWN_USER = 'unknown user'
WRONG_PASSWORD = 'wrong password'

_AUTH_PARAM = re.compile(
    r'\s*([A-Za-z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
_QUOTED_PAIR = re.compile(r'\\(.)')


def authenticate(publisher, user_id, password, realm=None):
    """(publisher, user_id:str, password:str, realm:str=None)
        -> (User | None, problem:str | None)
    The user whose password this is, or None and UNKNOWN_USER or
    WRONG_PASSWORD. Both failures take the time of a password check.
    """
    if realm is None:
        realm = publisher.get_realm()
    user = None
    if user_id and publisher.get_connection() is not None:
        user = publisher.get_users().get(user_id)
    if user is None:
        spend_verification_time(password or '')
        return None, UNKNOWN_USER
    if not user.has_password(password or '', realm):
        return None, WRONG_PASSWORD
    return user, None


# The form ----------------------------------------------------------------

def make_sign_in_form(action, user_id='', submit='Sign in'):
    """(action:str, user_id:str='', submit:str='Sign in') -> Form
    The sign-in form, with a one-time token like every qpd post form (so
    no other site can sign a visitor in to an account of its choosing).
    """
    from qpd.web.form import Form
    form = Form(action_url=action)
    form.add_string(USER_FIELD, value=user_id, title='User', required=True)
    form.add_password(PASSWORD_FIELD, title='Password', required=True)
    form.add_submit('qpd_sign_in', submit)
    return form


def ensure_signed_in_using_form(publisher, title='Sign in', realm=None):
    """(publisher, title:str='Sign in', realm:str=None) -> None
    Return when a user is signed in. Else (after moving to https when
    the site has an https_address) show the sign-in form, or check what
    it posted: success signs the session in and redirects to this URL.
    """
    hit = publisher.get_hit()
    if hit.get_user() is not None:
        return
    publisher.secure()
    request = hit.get_request()
    session = hit.get_session()
    owner = session.get_owner() if session is not None else None
    form = make_sign_in_form(request.get_path_query(),
                             owner.get_id() if owner is not None else '')
    if form.is_submitted() and not form.has_errors():
        user, problem = authenticate(publisher, form.get(USER_FIELD),
                                     form.get(PASSWORD_FIELD), realm)
        if user is not None:
            publisher.sign_in(user)
            raise Redirect(request.get_path_query())
        if problem == UNKNOWN_USER:
            form.set_error(USER_FIELD, problem)
        else:
            form.set_error(PASSWORD_FIELD, problem)
    publisher.respond(title, xml('<h1>%s</h1>\n') % title, form.render())


# HTTP Basic ----------------------------------------------------------------

def ensure_signed_in_using_basic(publisher, realm=None):
    """(publisher, realm:str=None) -> None
    Return when a user is signed in, or when the request's Basic
    credentials are right (the user is then signed in for this hit).
    Else a 401 that asks for them. Over plain http: a redirect to https
    when the site has an https_address, else 403.
    """
    hit = publisher.get_hit()
    if hit.get_user() is not None:
        return
    if realm is None:
        realm = publisher.get_realm()
    request = hit.get_request()
    if not request.is_secure():
        publisher.secure()
        raise Forbidden('Basic authentication needs https.')
    header = request.get_header('Authorization') or ''
    if header[:6].lower() == 'basic ':
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True)
            user_id, colon, password = decoded.decode('utf-8').partition(':')
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise BadRequest('malformed Basic credentials')
        if colon:
            user, problem = authenticate(publisher, user_id, password, realm)
            if user is not None:
                hit.set_user(user)
                hit.get_info()['authentication'] = 'Basic'
                return
    raise HTTPError(401, 'Please sign in.', headers=[
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


def _check_nonce(secret, realm, nonce, now, lifetime):
    """-> 'ok' | 'stale' | 'bad'"""
    stamp, dot, mac = nonce.partition('.')
    try:
        issued = int(stamp, 16)
    except ValueError:
        return 'bad'
    expected = _make_nonce(secret, realm, issued)
    if not hmac.compare_digest(expected.encode('ascii'),
                               nonce.encode('utf-8', 'replace')):
        return 'bad'
    if not 0 <= now - issued <= lifetime:
        return 'stale'
    return 'ok'


_DUMMY_HA1 = '0' * 64


def _check_digest(publisher, params, realm, request):
    """-> (User | None, stale:bool)"""
    algorithm = params.get('algorithm', 'MD5')
    if algorithm.upper() == 'SHA-256':
        algorithm = 'SHA-256'
    elif algorithm.upper() == 'MD5':
        algorithm = 'MD5'
    else:
        return None, False
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
        return None, False
    if uri != request.get_path_query() and uri != request.get_url():
        return None, False
    state = _check_nonce(publisher.get_secret(), realm, nonce, time.time(),
                         publisher.get_config('digest_nonce_lifetime', 300))
    if state == 'bad':
        return None, False
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
        return None, False
    if state == 'stale':
        return None, True
    publisher.get_hit().get_info()['authentication'] = 'Digest ' + algorithm
    return user, False


def ensure_signed_in_using_digest(publisher, realm=None):
    """(publisher, realm:str=None) -> None
    Return when a user is signed in, or when the request's Digest
    credentials are right (the user is then signed in for this hit).
    Else a 401 with a SHA-256 and an MD5 challenge (stale=true when the
    credentials were right but the nonce too old).
    """
    hit = publisher.get_hit()
    if hit.get_user() is not None:
        return
    if realm is None:
        realm = publisher.get_realm()
    request = hit.get_request()
    header = request.get_header('Authorization') or ''
    stale = False
    if header[:7].lower() == 'digest ':
        user, stale = _check_digest(
            publisher, parse_auth_params(header[7:]), realm, request)
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
    raise HTTPError(401, 'Please sign in.', headers=challenges)
