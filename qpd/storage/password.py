"""qpd.storage.password: slow salted password hashes, and the digests that
HTTP Digest authentication needs.

A password record is a tuple `('scrypt', n, r, p, salt:bytes, hash:bytes)`:
hashlib.scrypt with a random 16-byte salt, slow on purpose (about 50 ms
with the default cost). The cost parameters travel in the record, so a
record made with an older cost still verifies after the defaults change.

`verify_password` compares in constant time; `spend_verification_time`
costs what a verification costs, for a user that does not exist, so that
timing does not tell which users exist.
"""

import hashlib
import hmac
import secrets

__all__ = ['hash_password', 'verify_password', 'spend_verification_time',
           'http_digest_ha1', 'compute_digest', 'SCRYPT_N', 'SCRYPT_R', 'SCRYPT_P',
           'HTTP_DIGEST_ALGORITHMS']

SCRYPT_N = 2 ** 14
SCRYPT_R = 8
SCRYPT_P = 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024

HTTP_DIGEST_ALGORITHMS = {
    'SHA-256': hashlib.sha256,
    'MD5': hashlib.md5,
}


def _scrypt(password, salt, n, r, p):
    return hashlib.scrypt(password.encode('utf-8'), salt=salt, n=n, r=r, p=p,
                          dklen=_DKLEN, maxmem=_MAXMEM)


def hash_password(password, n=None, r=None, p=None):
    """(password:str, n:int=None, r:int=None, p:int=None) -> tuple
    A new record for password with a fresh random salt.
    """
    n = n or SCRYPT_N
    r = r or SCRYPT_R
    p = p or SCRYPT_P
    salt = secrets.token_bytes(16)
    return ('scrypt', n, r, p, salt, _scrypt(password, salt, n, r, p))


def verify_password(password, record):
    """(password:str, record:tuple) -> bool
    Does password match record? Constant-time comparison.
    """
    try:
        method, n, r, p, salt, expected = record
    except (TypeError, ValueError):
        spend_verification_time(password)
        return False
    if method != 'scrypt':
        spend_verification_time(password)
        return False
    return hmac.compare_digest(_scrypt(password, salt, n, r, p), expected)


_DUMMY_SALT = secrets.token_bytes(16)


def spend_verification_time(password):
    """(password:str) -> False
    Cost about what verify_password costs, and fail.
    """
    _scrypt(password, _DUMMY_SALT, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return False


def compute_digest(*args):
    """(*args) -> str
    QP's digest: MD5 of the arguments joined with ':', in hex. For
    id:realm:password this is the HTTP Digest MD5 A1 and the record QP
    databases hold (see Digester.set_digest); never use it for new
    passwords.
    """
    return hashlib.md5(':'.join(map(str, args)).encode('utf-8')).hexdigest()


def http_digest_ha1(username, realm, password, algorithm='SHA-256'):
    """(username:str, realm:str, password:str, algorithm:str='SHA-256') -> str
    RFC 7616's A1 hash, H(username:realm:password), in lowercase hex.
    """
    h = HTTP_DIGEST_ALGORITHMS[algorithm]
    return h(('%s:%s:%s' % (username, realm, password)).encode('utf-8')
             ).hexdigest()
