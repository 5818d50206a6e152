"""qpd.storage.ledger: small records that expire, kept in the database.

Some defences need a memory shared by every worker of a site that outlives
a worker's restart, but only for a while: the form tokens already spent
(so a stateless token works once), the `nc` values already seen with an
HTTP Digest nonce (so a request cannot be replayed), the sign-in failures
of a user id or an address (so guessing slows down). Each is a ledger: a
BTree in the database root, under a name starting with `qpd_ledger_`,
mapping a str key to `(expires:float, value)`.

Records are written only by requests that may write anyway (a POST that
spends a token, a failed sign-in, a Digest request), never by an
anonymous GET. The publisher's periodic clean-up calls `sweep_ledgers`,
which drops every expired record, so a ledger holds at most what was
recorded within its records' lifetime.

A key is bounded: one longer than MAX_KEY_LENGTH is kept as its first
characters and a SHA-256 of the whole (`bound_key`), so a client that
names a 900,000-character user id costs a record of the usual size, not
half a megabyte on every later failure.
"""

import hashlib

from durus.btree import BTree

__all__ = ['LEDGER_PREFIX', 'MAX_KEY_LENGTH', 'bound_key', 'get_ledger',
           'lookup', 'record', 'forget', 'sweep_ledgers']

LEDGER_PREFIX = 'qpd_ledger_'
MAX_KEY_LENGTH = 128
_KEPT = MAX_KEY_LENGTH - 65         # the rest: '#' and 64 hex digits


def bound_key(key):
    """(key:str) -> str: key itself when at most MAX_KEY_LENGTH long, else
    its first characters, '#' and the SHA-256 of the whole."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()
    return key[:_KEPT] + '#' + digest


def get_ledger(root, name, create=True):
    """(root, name:str, create=True) -> BTree | None
    The ledger `name` of the database root, made when missing (unless
    not create, when None is returned).
    """
    key = LEDGER_PREFIX + name
    ledger = root.get(key)
    if ledger is None and create:
        ledger = root[key] = BTree()
    return ledger


def lookup(root, name, key, now):
    """(root, name:str, key:str, now:float) -> value | None
    The value recorded under key, unless it has expired (or there is none).
    Writes nothing.
    """
    ledger = get_ledger(root, name, create=False)
    if ledger is None:
        return None
    item = ledger.get(bound_key(key))
    if item is None or item[0] < now:
        return None
    return item[1]


def record(root, name, key, expires, value=True):
    """(root, name:str, key:str, expires:float, value=True) -> None"""
    get_ledger(root, name)[bound_key(key)] = (float(expires), value)


def forget(root, name, key):
    """(root, name:str, key:str) -> None: drop key's record, if any"""
    ledger = get_ledger(root, name, create=False)
    key = bound_key(key)
    if ledger is not None and key in ledger:
        del ledger[key]


def sweep_ledgers(root, now):
    """(root, now:float) -> int
    Remove the expired records of every ledger; how many (without
    committing).
    """
    count = 0
    for name in [key for key in root.keys()
                 if isinstance(key, str) and key.startswith(LEDGER_PREFIX)]:
        ledger = root[name]
        expired = [key for key, (expires, _) in ledger.items()
                   if expires < now]
        for key in expired:
            del ledger[key]
        count += len(expired)
    return count
