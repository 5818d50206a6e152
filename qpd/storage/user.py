"""qpd.storage.user: User, someone who can sign in.

A user has an id (the name typed at sign-in), a Digester with the
password records per realm, Permissions granted by granters, and a
TokenSet. `is_admin()` is `is_granted('admin')` (qpd) or QP's
`'administrator'` granted by True. This module also re-exports Digester,
Permissions, TokenSet and compute_digest, as QP's user module did.

The user with id '' is QP's null user, the one who is nobody: it is false
(`if user:` asks "is somebody signed in?"), and it cannot have a password.
"""

from durus.persistent import Persistent

from qpd.lib.spec import add_getters, spec, string
from qpd.storage.digester import Digester, get_http_digest_realms
from qpd.storage.password import compute_digest
from qpd.storage.permissions import ANYONE, Permissions
from qpd.storage.token_set import TokenSet

__all__ = ['User', 'Digester', 'Permissions', 'TokenSet', 'compute_digest']


class User(Persistent):
    """(id:str)"""

    id_is = spec(string, "the name used to sign in; never changes")
    digester_is = spec(Digester, "password records, per realm")
    permissions_is = spec(Permissions, "what has been granted, by whom")
    tokens_is = spec(TokenSet, "one-time tokens")

    def __init__(self, id):
        if not isinstance(id, str):
            raise TypeError('id: expected str, got %r' % (id,))
        self.id = id
        self.digester = Digester()
        self.permissions = Permissions()
        self.tokens = TokenSet()

    def __str__(self):
        return self.id

    def __bool__(self):
        """() -> bool: False for the null user (id ''), else True"""
        return self.id != ''

    def __repr__(self):
        return '<%s %r>' % (type(self).__name__, self.id)

    def set_password(self, password, realm='', http_digest=None):
        """(password:str, realm:str='', http_digest:bool=None) -> None
        Set the password of realm ('' is the default realm; None means it
        too). An empty password removes realm's password instead: nobody
        can sign in with an empty one. With http_digest, HTTP Digest
        sign-in in realm becomes possible (see Digester); None (the
        default): as the site's sign-in needs, so a site that signs in
        with Digest (QP's way) keeps the digests for its realm, from
        realm's password or the default one (qpd's `http_digests` key
        decides). The null user cannot have a password.
        """
        if password and not self:
            raise ValueError('the null user (id \'\') cannot have a password')
        realm = realm or ''
        if http_digest is None:
            wanted = get_http_digest_realms()
            digest_realms = ([realm] if realm in wanted else []) if realm \
                else wanted
        else:
            digest_realms = [realm] if http_digest else []
        self.digester.set_password(password, self.id, realm=realm,
                                   digest_realms=digest_realms)

    def has_password(self, password, realm=''):
        """(password:str, realm:str='') -> bool
        Is password right for realm (or the default realm)? Slow and in
        constant time. An empty password is never right.
        """
        return self.digester.check_password(password, realm=realm or '',
                                            user_id=self.id)

    def is_granted(self, permission, granter=ANYONE):
        """(permission:str, granter=ANYONE) -> bool"""
        return self.permissions.is_granted(permission, granter)

    def grant(self, permission, granter):
        """(permission:str, granter) -> None"""
        self.permissions.grant(permission, granter)

    def is_admin(self):
        """() -> bool: 'admin' granted by anyone, or QP's 'administrator'
        granted by True"""
        return (self.permissions.is_granted('admin')
                or self.permissions.is_granted('administrator', True))


add_getters(User)
