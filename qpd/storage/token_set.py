"""qpd.storage.token_set: TokenSet, a bounded set of one-time tokens.

Forms put a fresh token in a hidden field and accept a submission only once
for it (`use_token` removes it): this stops cross-site request forgery and
double submission. The set keeps at most `max_size` tokens, dropping the
oldest, so a user who opens many forms does not grow the database.
"""

import hmac
import secrets

from qpd.lib.util import randbytes

from durus.persistent import Persistent

from qpd.lib.spec import sequence, spec, string

__all__ = ['TokenSet']


class TokenSet(Persistent):
    """(max_size:int=16)"""

    tokens_is = spec(sequence(string, list), "oldest first")
    max_size_is = spec(int, "how many tokens are kept at most")

    def __init__(self, max_size=16):
        self.tokens = []
        self.max_size = max_size

    def get_max_size(self):
        """() -> int"""
        return self.max_size

    def add_token(self):
        """() -> str
        A new random token (22 url-safe characters), remembered; the
        oldest one is forgotten when the set is full.
        """
        token = secrets.token_urlsafe(16)
        tokens = self.tokens + [token]
        self.tokens = tokens[-self.max_size:]
        return token

    def new_token(self, bytes=8):
        """(bytes:int=8) -> str
        QP's add_token: a new random token of that many bytes, as hex,
        remembered; the oldest one is forgotten when the set is full.
        """
        token = randbytes(bytes)
        self.tokens = (self.tokens + [token])[-self.max_size:]
        return token

    def _find(self, token):
        if not isinstance(token, str):
            return -1
        given = token.encode('utf-8', 'surrogateescape')
        found = -1
        for index, item in enumerate(self.tokens):
            # Compare with every item, in constant time each.
            if hmac.compare_digest(item.encode('ascii'), given):
                found = index
        return found

    def has_token(self, token):
        """(token:str) -> bool"""
        return self._find(token) >= 0

    def use_token(self, token):
        """(token:str) -> bool
        True, and forget it, when token is in the set; else False.
        """
        index = self._find(token)
        if index < 0:
            return False
        tokens = list(self.tokens)
        del tokens[index]
        self.tokens = tokens
        return True

    def __contains__(self, token):
        """(token:str) -> bool: has_token(token)"""
        return self._find(token) >= 0

    def remove(self, token):
        """(token:str) -> None
        Forget token if it is in the set (QP's spelling of use_token).
        """
        self.use_token(token)

    def clear(self):
        """() -> None"""
        if self.tokens:
            self.tokens = []

    def __len__(self):
        return len(self.tokens)
