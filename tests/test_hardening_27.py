"""Issue 27's attacks, each rerun against qpd's own code (no mocks): every
test here failed before its fix. The attacks that need running processes
(a front end, a second user) are in tests/integration/test_hardening_27.py.
"""

import pytest

from qpd.config import ConfigurationError, check_configuration


# 1. Plain TCP to the StorageServer, loopback included ----------------------

@pytest.mark.parametrize('address', [('127.0.0.1', 2972), ('::1', 2972),
                                     'localhost:2972'])
def test_plain_tcp_loopback_durus_address_is_refused(address):
    # Any local user who reaches a plain-TCP StorageServer can store a
    # pickle that runs code in the next worker that loads it.
    with pytest.raises(ConfigurationError) as info:
        check_configuration('demo', {'durus_address': address})
    message = str(info.value)
    assert '\n' not in message
    assert 'durus_allow_insecure_plain_tcp=True' in message
    assert 'unix socket' in message and 'durus_tls=True' in message
    assert 'local user' in message
    # The opt-in naming the risk, or TLS, is accepted.
    check_configuration('demo', {'durus_address': address,
                                 'durus_allow_insecure_plain_tcp': True})
    check_configuration('demo', {'durus_address': address,
                                 'durus_tls': True})
    # A unix socket needs nothing.
    check_configuration('demo', {'durus_address': '/srv/demo/durus.sock'})
