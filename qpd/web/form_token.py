"""qpd.web.form_token: one-time form tokens that cost an anonymous GET
nothing.

Every qpd post form carries a token in a hidden field, and a submission
is accepted once per token. A visitor with a stored session (signed in,
or with anything else worth keeping) gets tokens from the session's
TokenSet, as before. A visitor without one gets a *stateless* token, so
that showing a form to an anonymous visitor writes nothing to the
database (2,000 anonymous views of a form page used to store 2,000
sessions, each kept for a week):

    token = STAMP.NONCE.MAC
    MAC   = HMAC-SHA256(site secret, scope, STAMP, NONCE, browser key)[:16]

- STAMP is the time it was made (hex seconds); a token older than
  `form_token_lifetime` seconds is refused.
- the scope names the form: the absolute path it posts to (its action
  resolved against the page's path, else that path; the sign-in form's
  scope is marked apart), so a token of one form does not submit another,
  nor one of another page with the same relative action.
- the browser key is a random value in a cookie of its own
  (`<session cookie name>_key`, HttpOnly, SameSite=Lax; on https
  `__Host-<session cookie name>_key`, Path=/ and Secure, which a sibling
  subdomain or a plain-http page cannot set), made on the first token: a
  token copied from another browser, or posted from another site (whose
  request does not carry a SameSite=Lax cookie), does not verify.

Stateless tokens are for anonymous hits only. A hit with a stored session
or a signed-in user (Basic and Digest included) gets and takes the
session's tokens alone: otherwise whoever can plant the browser-key cookie
(a sibling subdomain: same-site, so SameSite does not stop it; anyone on
plain http) could make a signed-in browser post with the planter's own
anonymous token.

Tokens stay one-time: the POST that spends a stateless token records its
MAC in the `form_tokens` ledger (qpd.storage.ledger) until the token would
have expired anyway, and a second use is refused. That write is done by
the POST, which may write; the periodic sweep drops the expired records.

`FormTokens(publisher, scope)` is what a Form asks for tokens: it hands out
session tokens when the hit has a stored session and stateless ones
otherwise, and spends either kind.
"""

import base64
import hashlib
import hmac
import re
import secrets

from qpd.storage import ledger

__all__ = ['FormTokens', 'is_stateless_token']

LEDGER = 'form_tokens'
_BROWSER_KEY = re.compile(r'[A-Za-z0-9_-]{22}')
_STATELESS = re.compile(r'([0-9a-f]{1,12})\.([A-Za-z0-9_-]{12})\.'
                        r'([A-Za-z0-9_-]{22})')


def is_stateless_token(token):
    """(token) -> bool: does token look like a stateless token?"""
    return isinstance(token, str) and bool(_STATELESS.fullmatch(token))


def _mac(secret, scope, stamp, nonce, browser_key):
    message = '\0'.join(('qpd form token', scope, stamp, nonce,
                         browser_key)).encode('utf-8', 'surrogateescape')
    digest = hmac.new(secret, message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b'=').decode('ascii')


class FormTokens:
    """(publisher, scope:str)
    The tokens of one form in the publisher's current hit: add_token()
    and use_token(token) as a Session has them.
    """

    def __init__(self, publisher, scope):
        self.publisher = publisher
        self.scope = scope

    def get_lifetime(self):
        """() -> float: seconds a stateless token stays good"""
        return self.publisher.get_config('form_token_lifetime')

    def _is_secure(self):
        return self.publisher.get_hit().get_request().is_secure()

    def get_cookie_name(self):
        """() -> str: the cookie that holds the browser key (under the
        __Host- prefix on https)"""
        name = self.publisher.get_session_cookie_name() + '_key'
        return '__Host-' + name if self._is_secure() else name

    def _get_stored_session(self):
        """() -> Session | None: the session whose tokens this hit uses:
        a stored one (or one about to be), or, for a signed-in user
        without one, a new one (stored at the end of the hit since it then
        holds a token); None for an anonymous hit."""
        hit = self.publisher.get_hit()
        session = hit.get_session()
        if session is not None and (hit.get_stored_session_id() is not None
                                    or session.needs_saving()):
            return session
        if hit.get_user() is not None:
            return self.publisher.get_session()
        return None

    def _get_browser_key(self, make):
        """(make:bool) -> str | None: the browser key the request carries
        (or that this hit already set); with make, one is made and set."""
        hit = self.publisher.get_hit()
        info = hit.get_info()
        key = info.get('qpd_browser_key')
        if key is not None:
            return key
        key = hit.get_request().get_cookie(self.get_cookie_name())
        if not (isinstance(key, str) and _BROWSER_KEY.fullmatch(key)):
            if not make:
                return None
            key = secrets.token_urlsafe(16)
            if self._is_secure():
                path = '/'      # as __Host- requires
            else:
                path = (self.publisher.get_config('script_name') or '') + '/'
            hit.get_response().set_cookie(self.get_cookie_name(), key,
                                          path=path)
        info['qpd_browser_key'] = key
        return key

    def add_token(self):
        """() -> str: a new token for the form"""
        session = self._get_stored_session()
        if session is not None:
            return session.add_token()
        hit = self.publisher.get_hit()
        browser_key = self._get_browser_key(make=True)
        stamp = '%x' % int(hit.get_timestamp())
        nonce = secrets.token_urlsafe(9)
        mac = _mac(self.publisher.get_secret(), self.scope, stamp, nonce,
                   browser_key)
        return '%s.%s.%s' % (stamp, nonce, mac)

    def check_stateless(self, token):
        """(token:str) -> str | None
        The token's MAC when it is a good, unexpired stateless token of
        this form for this browser (spent or not); else None.
        """
        found = _STATELESS.fullmatch(token) if isinstance(token, str) else None
        if found is None:
            return None
        stamp, nonce, mac = found.groups()
        age = self.publisher.get_hit().get_timestamp() - int(stamp, 16)
        if not -60 <= age <= self.get_lifetime():
            return None
        browser_key = self._get_browser_key(make=False)
        if browser_key is None:
            return None
        for secret in self.publisher.get_secrets():
            expected = _mac(secret, self.scope, stamp, nonce, browser_key)
            if hmac.compare_digest(expected.encode('ascii'),
                                   mac.encode('ascii')):
                return mac
        return None

    def has_token(self, token):
        """(token:str) -> bool: would use_token accept it?"""
        if is_stateless_token(token):
            if self._get_stored_session() is not None:
                return False
            mac = self.check_stateless(token)
            connection = self.publisher.get_connection()
            return (mac is not None and connection is not None and
                    ledger.lookup(connection.get_root(), LEDGER, mac,
                                  self.publisher.get_hit().get_timestamp()) is None)
        session = self.publisher.get_hit().get_session()
        return session is not None and session.has_token(token)

    def use_token(self, token):
        """(token:str) -> bool
        True once for a good token: a session token is removed from the
        session, a stateless one recorded as spent. A stateless token
        needs a database to be spent in (else it is refused).
        """
        if not is_stateless_token(token):
            session = self.publisher.get_hit().get_session()
            return session is not None and session.use_token(token)
        if self._get_stored_session() is not None:
            return False        # a signed-in hit takes session tokens only
        mac = self.check_stateless(token)
        connection = self.publisher.get_connection()
        if mac is None or connection is None:
            return False
        root = connection.get_root()
        now = self.publisher.get_hit().get_timestamp()
        if ledger.lookup(root, LEDGER, mac, now) is not None:
            return False
        stamp = int(token.split('.', 1)[0], 16)
        ledger.record(root, LEDGER, mac, stamp + self.get_lifetime() + 60)
        return True
