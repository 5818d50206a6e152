"""qpd.web.throttle: sign-in failures slow the next attempts down.

Failures are counted per user id and per client address (an IPv6 address
by its /64, which one client usually holds whole), in the `sign_in`
ledger of the database (qpd.storage.ledger), so every worker sees them
and a worker's restart forgets nothing. The first `sign_in_free_failures`
failures cost nothing; after that each attempt must wait
2 ** (failures - free) seconds after the last failure, at most
`sign_in_max_delay` seconds. An attempt that comes sooner is refused
without checking the password (429 with Retry-After), so it neither tells
anything nor counts. A successful sign-in forgets the user's and the
address's failures; an hour without failures forgets them too.

The cap is what keeps an attacker from locking a user out for long: by
failing on purpose they can make the user wait at most `sign_in_max_delay`
seconds between attempts, while a guesser gets one try per
`sign_in_max_delay` seconds per user and per address instead of
hundreds per second.
"""

import ipaddress

from qpd.storage import ledger

__all__ = ['get_wait', 'note_failure', 'note_success', 'get_keys',
           'MEMORY']

LEDGER = 'sign_in'
MEMORY = 3600.0     # seconds without failures after which they are forgotten


def _address_key(address):
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if parsed.version == 6:
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network('%s/64' % parsed, strict=False))
    return str(parsed)


def get_keys(publisher, user_id):
    """(publisher, user_id:str) -> [str]: the ledger keys of an attempt"""
    keys = ['user:%s' % (user_id or '')]
    request = publisher.get_hit().get_request()
    address = request.get_remote_address()
    if address:
        keys.append('address:%s' % _address_key(address))
    return keys


def _settings(publisher):
    return (publisher.get_config('sign_in_free_failures'),
            publisher.get_config('sign_in_max_delay'))


def _root_and_now(publisher):
    connection = publisher.get_connection()
    if connection is None:
        return None, None
    return connection.get_root(), publisher.get_hit().get_timestamp()


def get_wait(publisher, user_id):
    """(publisher, user_id:str) -> float
    Seconds the current client must wait before trying user_id (0: go).
    """
    root, now = _root_and_now(publisher)
    if root is None:
        return 0.0
    free, cap = _settings(publisher)
    wait = 0.0
    for key in get_keys(publisher, user_id):
        state = ledger.lookup(root, LEDGER, key, now)
        if state is None:
            continue
        count, last = state
        if count >= free:
            delay = min(2.0 ** (count - free), cap)
            wait = max(wait, last + delay - now)
    return wait


def note_failure(publisher, user_id):
    """(publisher, user_id:str) -> None: count a failed attempt"""
    root, now = _root_and_now(publisher)
    if root is None:
        return
    for key in get_keys(publisher, user_id):
        state = ledger.lookup(root, LEDGER, key, now)
        count = state[0] if state is not None else 0
        ledger.record(root, LEDGER, key, now + MEMORY, (count + 1, now))


def note_success(publisher, user_id):
    """(publisher, user_id:str) -> None: forget the failures"""
    root, now = _root_and_now(publisher)
    if root is None:
        return
    for key in get_keys(publisher, user_id):
        if ledger.lookup(root, LEDGER, key, now) is not None:
            ledger.forget(root, LEDGER, key)
