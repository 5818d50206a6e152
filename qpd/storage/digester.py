"""qpd.storage.digester: Digester, a user's password records, per realm.

A realm names a space of passwords (a site, or a part of one); the realm
'' is the default, consulted when a realm has no record of its own.

Each realm keeps a slow salted scrypt record (qpd.storage.password), used
by form and Basic sign-in. HTTP Digest sign-in cannot work from such a
record: the server must hold H(user:realm:password) itself. Those digests
(SHA-256, and MD5 for old clients) are kept only when asked for with
`http_digest=True`, because they are fast to attack if the database leaks.

QP kept only MD5 digests of user:realm:password. `set_digest(realm,
digest)` stores such a digest, as a record `('md5-ha1', digest)`, so the
users of a ported QP database can still sign in (form, Basic, and MD5
Digest); setting a password replaces it with a scrypt record.

A database made from QP's by `qpd migrate` keeps each user's QP digests
in `qp_digests`, apart: they are unsalted MD5, so they are never taken as
a password; `needs_new_password()` is true until a password is set, which
drops them.

An empty password is never a password: setting one removes the realm's
record, and checking one fails.

Which realms get HTTP digests when nobody says (`User.set_password`'s
http_digest=None) is the site's to answer, not storage's: the web layer
installs the answer with `set_http_digest_policy` (qpd.web.publish: the
current publisher's realm when its sign-in uses Digest, else none), and
`get_http_digest_realms()` asks it. A digest made from the default
realm's password is dropped when that password changes.
"""

import hmac


from durus.persistent import Persistent

from qpd.lib.spec import add_getters, either, mapping, spec, string
from qpd.storage.password import (
    HTTP_DIGEST_ALGORITHMS, compute_digest, hash_password, http_digest_ha1,
    spend_verification_time, verify_password)

__all__ = ['Digester', 'set_http_digest_policy', 'get_http_digest_realms']

_policy = None


def set_http_digest_policy(function):
    """(function:callable() -> [str] | None) -> None
    Install what get_http_digest_realms answers (None: no realms)."""
    global _policy
    _policy = function


def get_http_digest_realms():
    """() -> [str]: the realms whose HTTP Digest sign-in needs digests
    kept when a password is set (see set_http_digest_policy)"""
    return list(_policy() or ()) if _policy is not None else []


class Digester(Persistent):
    """()
    Password records of one user, per realm.
    """

    records_is = spec(mapping({string: tuple}),
                      "realm -> scrypt record (see qpd.storage.password)")
    http_digests_is = spec(mapping({string: mapping({string: string})}),
                           "realm -> {algorithm: A1 hex digest}")
    qp_digests_is = spec(either(None, mapping({string: string})),
                         "QP's MD5 digests, realm -> hex, kept by qpd "
                         "migrate and never accepted; None when none")

    qp_digests = None

    def __init__(self):
        self.records = {}
        self.http_digests = {}

    def set_password(self, password, user_id, realm='', http_digest=False,
                     digest_realms=None):
        """(password:str, user_id:str, realm:str='', http_digest=False,
            digest_realms:[str]=None) -> None
        Replace the password of realm. With http_digest, also keep the
        digests that HTTP Digest sign-in needs (user_id and realm go into
        them); digest_realms names the realms to keep them for instead
        (each digest made with its realm: for the default realm '', the
        realms that have no password of their own).
        """
        if not password:
            self.remove_password(realm)
            return
        if self.qp_digests is not None:
            self.qp_digests = None      # a real password now (qpd migrate)
        if digest_realms is None:
            digest_realms = [realm] if http_digest else []
        records = dict(self.records)
        records[realm] = hash_password(password)
        self.records = records
        digests = self._without_digests_of(realm)
        for name in digest_realms:
            if name == realm or (realm == '' and name not in records):
                digests[name] = {
                    algorithm: http_digest_ha1(user_id, name, password,
                                               algorithm)
                    for algorithm in HTTP_DIGEST_ALGORITHMS}
        self.http_digests = digests

    def _without_digests_of(self, realm):
        """-> dict: http_digests less those realm's password made: its
        own, and for '' those of the realms without a password of their
        own"""
        return {name: value for name, value in self.http_digests.items()
                if name != realm and
                not (realm == '' and name not in self.records)}

    def remove_password(self, realm=''):
        """(realm:str='') -> None"""
        self.http_digests = self._without_digests_of(realm)
        records = dict(self.records)
        records.pop(realm, None)
        self.records = records

    remove_digest = remove_password  # QP's name

    def set_digest(self, realm, digest):
        """(realm:str, digest:str) -> None
        Store a precomputed QP digest, compute_digest(user_id, realm,
        password), as realm's password record (and its MD5 HTTP digest).
        """
        if not (isinstance(digest, str) and len(digest) == 32):
            raise ValueError('digest: expected 32 hex digits (QP\'s MD5 '
                             'digest), got %r' % (digest,))
        records = dict(self.records)
        records[realm] = ('md5-ha1', digest.lower())
        self.records = records
        digests = dict(self.http_digests)
        digests[realm] = {'MD5': digest.lower()}
        self.http_digests = digests

    def get_digest(self, realm):
        """(realm:str) -> str | None
        realm's QP (MD5) digest, when one was set or HTTP Digest sign-in
        keeps it; else None.
        """
        return self.get_http_digest(realm, 'MD5')

    def needs_new_password(self):
        """() -> bool: does this user hold only QP's digests (from qpd
        migrate), so that a password must be set before signing in?"""
        return bool(self.qp_digests) and not self.records

    def get_realms(self):
        """() -> [str] realms with a password"""
        return sorted(self.records)

    def has_password(self, realm=''):
        """(realm:str='') -> bool: is there a password for realm (or '')?"""
        return realm in self.records or '' in self.records

    def check_password(self, password, realm='', user_id=None):
        """(password:str, realm:str='', user_id:str=None) -> bool
        Does password match realm's record (or the default realm's)? Takes
        the time of a verification even when there is no record. An empty
        password never matches. A QP record (set_digest) needs user_id.
        """
        if realm in self.records:
            record_realm = realm
        else:
            record_realm = ''
        record = self.records.get(record_realm)
        if record is None or not password or not isinstance(password, str):
            return spend_verification_time(password or '')
        if record[0] == 'md5-ha1':
            spend_verification_time(password)
            if user_id is None:
                return False
            return hmac.compare_digest(
                compute_digest(user_id, record_realm, password), record[1])
        return verify_password(password, record)

    def get_http_digest(self, realm, algorithm='SHA-256'):
        """(realm:str, algorithm:str='SHA-256') -> str | None
        The A1 digest for HTTP Digest sign-in in realm, if kept.
        """
        return self.http_digests.get(realm, {}).get(algorithm)


add_getters(Digester)
