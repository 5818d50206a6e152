"""User, Digester, Permissions, TokenSet and the password hashes."""

import hashlib
import time

import pytest

from qpd.lib.spec import get_spec_problems
from qpd.storage import Digester, Permissions, TokenSet, User
from qpd.storage.password import (
    hash_password, http_digest_ha1, spend_verification_time, verify_password)


def test_password_record_is_salted_scrypt():
    one = hash_password('secret')
    two = hash_password('secret')
    assert one[0] == 'scrypt' and one[1] >= 2 ** 14
    assert one[4] != two[4] and one[5] != two[5]     # salts differ
    assert verify_password('secret', one)
    assert not verify_password('Secret', one)
    assert not verify_password('secret', ('md5', 'x'))
    assert not verify_password('secret', None)


def test_user_passwords_per_realm():
    user = User('ann')
    assert get_spec_problems(user) == []
    assert not user.has_password('x')
    user.set_password('default')
    user.set_password('special', realm='admin')
    assert user.has_password('default')
    assert user.has_password('default', realm='elsewhere')  # falls back to ''
    assert user.has_password('special', realm='admin')
    assert not user.has_password('default', realm='admin')
    assert user.get_digester().get_realms() == ['', 'admin']
    user.get_digester().remove_password('admin')
    assert user.has_password('default', realm='admin')


def test_http_digests_only_when_asked():
    user = User('ann')
    user.set_password('pw', realm='site')
    assert user.get_digester().get_http_digest('site') is None
    user.set_password('pw', realm='site', http_digest=True)
    digester = user.get_digester()
    assert digester.get_http_digest('site', 'SHA-256') == hashlib.sha256(
        b'ann:site:pw').hexdigest()
    assert digester.get_http_digest('site', 'MD5') == hashlib.md5(
        b'ann:site:pw').hexdigest()
    assert http_digest_ha1('ann', 'site', 'pw', 'MD5') == hashlib.md5(
        b'ann:site:pw').hexdigest()
    user.set_password('new', realm='site')      # replaced: digests dropped
    assert digester.get_http_digest('site') is None
    assert get_spec_problems(digester) == []


def test_verification_time_does_not_tell_unknown_users():
    record = hash_password('secret')

    known = unknown = 0.0
    for _ in range(3):      # interleaved, so that load drifts hit both
        start = time.perf_counter()
        verify_password('wrong', record)
        middle = time.perf_counter()
        spend_verification_time('wrong')
        known += middle - start
        unknown += time.perf_counter() - middle
    assert 0.5 < unknown / known < 2.0


def test_permissions_granted_by_granters():
    permissions = Permissions()
    assert not permissions.is_granted('edit')
    permissions.grant('edit', 'alice')
    permissions.grant('edit', 'bob')
    assert permissions.is_granted('edit')
    assert permissions.is_granted('edit', 'alice')
    assert not permissions.is_granted('edit', 'carol')
    assert permissions.get_granters('edit') == {'alice', 'bob'}
    permissions.ungrant('edit', 'alice')
    assert permissions.is_granted('edit') and not permissions.is_granted(
        'edit', 'alice')
    permissions.ungrant('edit')
    assert not permissions.is_granted('edit')
    assert permissions.get_permissions() == []
    with pytest.raises(TypeError):
        permissions.grant(3, 'alice')
    assert get_spec_problems(permissions) == []


def test_admin():
    boss = User('boss')
    ann = User('ann')
    assert not ann.is_admin()
    ann.grant('admin', boss)
    assert ann.is_admin() and ann.is_granted('admin', boss)
    assert not boss.is_admin()


def test_token_set_is_bounded_and_one_time():
    tokens = TokenSet(max_size=3)
    made = [tokens.add_token() for _ in range(5)]
    assert len(set(made)) == 5 and len(tokens) == 3
    assert not tokens.has_token(made[0])     # the oldest were dropped
    assert tokens.use_token(made[4])
    assert not tokens.use_token(made[4])     # once only
    assert not tokens.use_token('')
    assert not tokens.use_token(None)
    assert not tokens.use_token('x' * 22)
    assert tokens.has_token(made[3])
    tokens.clear()
    assert len(tokens) == 0
    assert get_spec_problems(tokens) == []


def test_user_repr_and_id():
    user = User('ann')
    assert str(user) == 'ann' and 'ann' in repr(user)
    with pytest.raises(TypeError):
        User(3)
    assert isinstance(Digester(), Digester)


def test_http_digests_follow_the_sites_sign_in():
    """http_digest=None: the realms the site's policy names get digests
    (from the realm's password or the default one); a new default
    password drops the digests the old one made."""
    from qpd.storage import digester as digester_module
    policy = digester_module._policy
    realms = ['site']
    digester_module.set_http_digest_policy(lambda: realms)
    try:
        user = User('ann')
        user.set_password('pw')                    # the default realm
        digests = user.get_digester()
        assert digests.get_http_digest('site', 'MD5') == hashlib.md5(
            b'ann:site:pw').hexdigest()
        assert digests.get_http_digest('site', 'SHA-256') == \
            http_digest_ha1('ann', 'site', 'pw', 'SHA-256')
        user.set_password('other', realm='elsewhere')
        assert digests.get_http_digest('elsewhere') is None
        user.set_password('pw2', realm='site')
        assert digests.get_http_digest('site', 'MD5') == hashlib.md5(
            b'ann:site:pw2').hexdigest()
        user.set_password('pw3')          # site has its own password now
        assert digests.get_http_digest('site', 'MD5') == hashlib.md5(
            b'ann:site:pw2').hexdigest()
        user.set_password('pw', realm='site', http_digest=False)
        assert digests.get_http_digest('site') is None
        realms[:] = []
        bob = User('bob')
        bob.set_password('pw')
        assert bob.get_digester().http_digests == {}
        realms[:] = ['site']
        bob.set_password('pw')
        realms[:] = []
        bob.set_password('new')           # the old password's digest goes
        assert bob.get_digester().get_http_digest('site') is None
    finally:
        digester_module.set_http_digest_policy(policy)


def test_a_publisher_that_signs_in_with_digest_wants_digests():
    from qpd.web.publish import Publisher

    class DigestPublisher(Publisher):
        configuration = dict(realm='here')

        def ensure_signed_in(self, **kwargs):
            self.ensure_signed_in_using_digest()

    class Off(DigestPublisher):
        configuration = dict(realm='here', http_digests=False)

        def ensure_signed_in(self, **kwargs):
            self.ensure_signed_in_using_digest()

    assert DigestPublisher().get_http_digest_realms() == ['here']
    assert Publisher().get_http_digest_realms() == []
    assert Off().get_http_digest_realms() == []
    from qpd.web.common import clear_publisher
    try:
        publisher = DigestPublisher()              # the current one
        user = User('ann')
        user.set_password('pw', realm=publisher.get_realm())
        assert user.get_digester().get_http_digest('here') is not None
    finally:
        clear_publisher()
