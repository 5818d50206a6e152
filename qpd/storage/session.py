"""qpd.storage.session: Session, a browser's visit to a site.

A session is named by a 128-bit random id (32 hex digits from `secrets`)
that travels in a cookie. It is stored in the database only when it needs
saving (`needs_saving()`: it has an owner, a signed-in user or form
tokens), so anonymous hits write nothing.

The owner and the authenticated user are kept apart, as in QP: the owner is
the first user who signed in here (remembered after sign-out, so a sign-in
form can offer the name again); the authenticated user is the one who has
proved it in this session, or None. `get_effective_user()` is the user the
site should act for: the user an administrator chose with
`set_effective_user()`, else the authenticated user, else QP's null user
(`User('')`, which is false). The getters never return None; the stored
attributes hold None for nobody, so the null user is never stored through
a session.

An authentication lasts `lease_time` (QP's `timedelta(days=30)`; a number
of seconds works too), and only from
the address it was made from: `is_valid(remote_address)` clears it (and
says False) otherwise.

The id changes (`rotate_id()`) whenever the authenticated user does, so an
id planted before sign-in is worthless after it (no session fixation).
"""

import secrets
import time
from datetime import timedelta

from durus.persistent import Persistent

from qpd.lib.spec import add_getters, either, pattern, spec, string
from qpd.lib.tz import from_timestamp
from qpd.storage.token_set import TokenSet
from qpd.storage.user import User

__all__ = ['Session', 'new_session_id', 'is_session_id']

_ID_PATTERN = pattern('[0-9a-f]{32}')


def new_session_id():
    """() -> str: 32 lowercase hex digits, 128 random bits"""
    return secrets.token_hex(16)


def is_session_id(value):
    """(value) -> bool: could value be a session id? (cheap; for cookies)"""
    return (isinstance(value, str) and len(value) == 32
            and _ID_PATTERN.match(value))


class Session(Persistent):
    """(remote_address:str='', now:float=None)"""

    id_is = spec(_ID_PATTERN, "the random id in the cookie")
    owner_is = spec(either(None, User), "whose session this is")
    authenticated_user_is = spec(
        either(None, User), "who signed in, in this session")
    remote_address_is = spec(string, "the client address that started it")
    start_time_is = spec(float, "when it started (seconds since the epoch)")
    access_time_is = spec(float, "when it was last used, to within "
                                 "access_time_resolution")
    tokens_is = spec(either(None, TokenSet), "one-time form tokens")
    effective_user_is = spec(
        either(None, User), "who an administrator acts as, or None")
    authentication_time_is = spec(
        either(None, float), "when the user signed in (seconds since the epoch)")
    authentication_address_is = spec(
        either(None, string), "the client address the user signed in from")

    access_time_resolution = 60.0   # seconds; touch() writes no more often
    lease_time = timedelta(days=30) # how long an authentication stays
                                    # valid (QP's timedelta; seconds too)
    effective_user = None           # (class defaults: sessions stored
    authentication_time = None      # before these attributes existed)
    authentication_address = None

    def __init__(self, remote_address='', now=None):
        now = time.time() if now is None else float(now)
        self.id = new_session_id()
        self.owner = None
        self.authenticated_user = None
        self.remote_address = remote_address
        self.start_time = now
        self.access_time = now
        self.tokens = None

    def __repr__(self):
        return '<%s %s…>' % (type(self).__name__, self.id[:8])

    def rotate_id(self):
        """() -> str: give the session a new random id, and return it"""
        self.id = new_session_id()
        return self.id

    def set_owner(self, user):
        """(user:User|None) -> None"""
        self.owner = user

    def set_authenticated(self, user, remote_address=None, now=None):
        """(user:User|None, remote_address:str=None, now:float=None) -> None
        Record who has signed in, when and from where (None, or the null
        user, signs out). The user becomes the owner if there was none, and
        the effective user. The id is rotated when the authenticated user
        changes.
        """
        if not user:
            user = None
        if user is not None and self.owner is None:
            self.owner = user
        self.effective_user = None
        if user is None:
            self.authentication_time = None
            self.authentication_address = None
        else:
            self.authentication_time = time.time() if now is None else float(now)
            self.authentication_address = (
                self.remote_address if remote_address is None else remote_address)
        if user is not self.authenticated_user:
            self.authenticated_user = user
            self.rotate_id()

    def clear_authentication(self):
        """() -> None
        Sign out: no authentication time, and the null user is effective.
        """
        self.set_authenticated(None)

    def set_effective_user(self, user):
        """(user:User|None) -> None
        Act as user (None: as the authenticated user again) without
        touching the authentication; for administrators, who must be
        checked by the caller.
        """
        self.effective_user = user or None

    def get_authentication_time(self):
        """() -> datetime | None
        When the current authentication happened, as QP gives it: a
        datetime (aware, in UTC; the session keeps seconds since the epoch).
        """
        if self.authentication_time is None:
            return None
        return from_timestamp(self.authentication_time)

    def is_valid(self, remote_address=None, now=None):
        """(remote_address:str=None, now:float=None) -> bool
        False, after clearing the authentication, when the authentication
        is older than lease_time or remote_address (the current client's)
        is not the one it was made from; else True.
        """
        if self.authenticated_user is None:
            return True
        now = time.time() if now is None else now
        lease = self.lease_time
        if isinstance(lease, timedelta):
            lease = lease.total_seconds()
        if ((self.authentication_time is not None
                and now - self.authentication_time > lease)
                or (remote_address is not None
                    and self.authentication_address is not None
                    and remote_address != self.authentication_address)):
            self.clear_authentication()
            return False
        return True

    def is_authenticated(self):
        """() -> bool"""
        return self.authenticated_user is not None

    def get_effective_user(self):
        """() -> User: the user to act for in this session (the falsy
        null user when nobody is signed in)"""
        return self.effective_user or self.authenticated_user or User('')

    def get_owner(self):
        """() -> User: the first user who signed in here, or the null user"""
        return self.owner or User('')

    def get_user(self):
        """() -> User: get_effective_user()"""
        return self.get_effective_user()

    def touch(self, now=None):
        """(now:float=None) -> None
        Note a use, writing only when access_time is more than
        access_time_resolution old.
        """
        now = time.time() if now is None else now
        if now - self.access_time >= self.access_time_resolution:
            self.access_time = float(now)

    def is_expired(self, idle_limit, now=None):
        """(idle_limit:float, now:float=None) -> bool
        Has it been unused for longer than idle_limit seconds?
        """
        now = time.time() if now is None else now
        return now - self.access_time > idle_limit

    def needs_saving(self):
        """() -> bool: is there anything worth storing?"""
        return (self.owner is not None or self.authenticated_user is not None
                or (self.tokens is not None and len(self.tokens) > 0))

    # Form tokens (see docs/internals.md, "Session tokens") ----------------

    def get_token_set(self):
        """() -> TokenSet: created on first use"""
        if self.tokens is None:
            self.tokens = TokenSet()
        return self.tokens

    def add_token(self):
        """() -> str: a new one-time token for a form"""
        return self.get_token_set().add_token()

    def has_token(self, token):
        """(token:str) -> bool"""
        return self.tokens is not None and self.tokens.has_token(token)

    def use_token(self, token):
        """(token:str) -> bool: True (and forget it) if token is valid"""
        return self.tokens is not None and self.tokens.use_token(token)


add_getters(Session)
