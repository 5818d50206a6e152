"""qpd.storage.digester: Digester, a user's password records, per realm.

A realm names a space of passwords (a site, or a part of one); the realm
'' is the default, consulted when a realm has no record of its own.

Each realm keeps a slow salted scrypt record (qpd.storage.password), used
by form and Basic sign-in. HTTP Digest sign-in cannot work from such a
record: the server must hold H(user:realm:password) itself. Those digests
(SHA-256, and MD5 for old clients) are kept only when asked for with
`http_digest=True`, because they are fast to attack if the database leaks.
"""

from durus.persistent import Persistent

from qpd.lib.spec import add_getters, mapping, spec, string
from qpd.storage.password import (
    HTTP_DIGEST_ALGORITHMS, hash_password, http_digest_ha1,
    spend_verification_time, verify_password)

__all__ = ['Digester']


class Digester(Persistent):
    """()
    Password records of one user, per realm.
    """

    records_is = spec(mapping({string: tuple}),
                      "realm -> scrypt record (see qpd.storage.password)")
    http_digests_is = spec(mapping({string: mapping({string: string})}),
                           "realm -> {algorithm: A1 hex digest}")

    def __init__(self):
        self.records = {}
        self.http_digests = {}

    def set_password(self, password, user_id, realm='', http_digest=False):
        """(password:str, user_id:str, realm:str='', http_digest=False) -> None
        Replace the password of realm. With http_digest, also keep the
        digests that HTTP Digest sign-in needs (user_id and realm go into
        them).
        """
        records = dict(self.records)
        records[realm] = hash_password(password)
        self.records = records
        digests = dict(self.http_digests)
        if http_digest:
            digests[realm] = {
                algorithm: http_digest_ha1(user_id, realm, password, algorithm)
                for algorithm in HTTP_DIGEST_ALGORITHMS}
        else:
            digests.pop(realm, None)
        self.http_digests = digests

    def remove_password(self, realm=''):
        """(realm:str='') -> None"""
        records = dict(self.records)
        records.pop(realm, None)
        self.records = records
        digests = dict(self.http_digests)
        digests.pop(realm, None)
        self.http_digests = digests

    def get_realms(self):
        """() -> [str] realms with a password"""
        return sorted(self.records)

    def has_password(self, realm=''):
        """(realm:str='') -> bool: is there a password for realm (or '')?"""
        return realm in self.records or '' in self.records

    def check_password(self, password, realm=''):
        """(password:str, realm:str='') -> bool
        Does password match realm's record (or the default realm's)? Takes
        the time of a verification even when there is no record.
        """
        record = self.records.get(realm) or self.records.get('')
        if record is None:
            return spend_verification_time(password)
        return verify_password(password, record)

    def get_http_digest(self, realm, algorithm='SHA-256'):
        """(realm:str, algorithm:str='SHA-256') -> str | None
        The A1 digest for HTTP Digest sign-in in realm, if kept.
        """
        return self.http_digests.get(realm, {}).get(algorithm)


add_getters(Digester)
