"""QP compatibility: qp.pub.session and qp.pub.user -> qpd.storage, one
test per entry of docs/qp_api.md, and the security fixes found while
comparing (an empty password never signs anyone in; the null user is
false), each through the real sign-in paths too."""

import base64
import inspect
from datetime import datetime, timedelta

import pytest

from qpd.lib.spec import get_spec_problems
from qpd.lib.tz import from_timestamp
from qpd.storage.digester import Digester
from qpd.storage.password import hash_password
from qpd.storage.permissions import Permissions
from qpd.storage.session import Session
from qpd.storage.token_set import TokenSet
from qpd.storage.user import User, compute_digest


# qp/pub/session -------------------------------------------------------------

def test_session():
    session = Session('10.0.0.1')
    assert session.get_remote_address() == '10.0.0.1'
    assert not session.get_owner() and not session.get_effective_user()
    assert session.get_effective_user().get_id() == ''
    assert len(session.get_id()) == 32
    assert get_spec_problems(session) == []


def test_session_lease_time():
    assert Session.lease_time == timedelta(days=30)     # QP's timedelta
    lease = 30 * 24 * 3600
    session = Session('10.0.0.1', now=1000.0)
    session.set_authenticated(User('ann'), now=1000.0)
    assert session.is_valid(now=1000.0 + lease)
    assert not session.is_valid(now=1001.0 + lease)
    session = Session('10.0.0.1', now=1000.0)
    session.set_authenticated(User('ann'), now=1000.0)
    session.lease_time = timedelta(0)                   # as QP's test does
    assert not session.is_valid(now=1000.5)
    session = Session('10.0.0.1', now=1000.0)
    session.set_authenticated(User('ann'), now=1000.0)
    session.lease_time = 60                             # seconds work too
    assert session.is_valid(now=1060.0)
    assert not session.is_valid(now=1061.0)


def test_session_clear_authentication():
    session = Session('10.0.0.1')
    ann = User('ann')
    session.set_authenticated(ann)
    session.clear_authentication()
    assert session.get_authentication_time() is None
    assert not session.get_effective_user()
    assert session.get_owner() is ann


def test_session_is_valid():
    session = Session('10.0.0.1', now=1000.0)
    assert session.is_valid()                     # nobody signed in
    session.set_authenticated(User('ann'), now=1000.0)
    assert session.is_valid('10.0.0.1', now=2000.0)
    assert not session.is_valid('10.0.0.2', now=2000.0)   # address changed
    assert not session.get_effective_user()              # ... and cleared
    assert session.get_authentication_time() is None
    assert session.is_valid('10.0.0.2', now=2000.0)


def test_session_set_authenticated():
    session = Session('10.0.0.1')
    ann, bob = User('ann'), User('bob')
    before = session.get_id()
    session.set_authenticated(ann, now=5.0)
    assert session.get_effective_user() is ann and session.get_owner() is ann
    assert session.get_authentication_time() == from_timestamp(5.0)
    assert session.get_id() != before             # qpd: rotated
    session.set_authenticated(bob)
    assert session.get_effective_user() is bob
    assert session.get_owner() is ann             # the first one stays owner
    session.set_authenticated(User(''))           # the null user signs out
    assert not session.get_effective_user()


def test_session_set_effective_user():
    session = Session('10.0.0.1')
    admin, ann = User('admin'), User('ann')
    session.set_authenticated(admin, now=7.0)
    session.set_effective_user(ann)
    assert session.get_effective_user() is ann
    assert session.get_authentication_time() == from_timestamp(7.0)
    session.set_effective_user(None)
    assert session.get_effective_user() is admin


def test_session_needs_saving():
    session = Session('10.0.0.1')
    assert not session.needs_saving()
    session.set_authenticated(User('ann'))
    assert session.needs_saving()
    token_only = Session('10.0.0.1')
    token_only.add_token()
    assert token_only.needs_saving()              # qpd: form tokens
    session._p_oid = b'\0' * 8                     # as if stored
    assert session.needs_saving()                 # qpd: stored ones too


def test_session_get_remote_address():
    assert Session('192.0.2.7').get_remote_address() == '192.0.2.7'


def test_session_get_authentication_time():
    session = Session()
    assert session.get_authentication_time() is None
    session.set_authenticated(User('ann'), now=42.0)
    when = session.get_authentication_time()        # QP's: a datetime
    assert isinstance(when, datetime) and when == from_timestamp(42.0)
    assert when.utcoffset() == timedelta(0)


def test_session_get_effective_user():
    session = Session()
    nobody = session.get_effective_user()
    assert isinstance(nobody, User) and not nobody
    ann = User('ann')
    session.set_authenticated(ann)
    assert session.get_effective_user() is ann


def test_session_get_owner():
    session = Session()
    assert isinstance(session.get_owner(), User) and not session.get_owner()
    ann = User('ann')
    session.set_authenticated(ann)
    session.clear_authentication()
    assert session.get_owner() is ann


# qp/pub/user ----------------------------------------------------------------

def test_user():
    user = User('ann')
    assert user.get_id() == 'ann'
    assert isinstance(user.get_digester(), Digester)
    assert isinstance(user.get_permissions(), Permissions)
    assert isinstance(user.get_tokens(), TokenSet)


def test_user_nonzero():
    assert not User('')
    assert User('ann') and User('0')


def test_user_getters():
    user = User('ann')
    for name in ('get_id', 'get_digester', 'get_permissions', 'get_tokens'):
        assert getattr(user, name)() is not None


def test_user_set_password():
    user = User('ann')
    user.set_password('secret')
    assert user.has_password('secret') and not user.has_password('other')
    user.set_password('realm secret', realm='site')
    assert user.has_password('realm secret', 'site')
    user.set_password('again', None)              # QP's realm=None
    assert user.has_password('again')
    # An empty password removes the password: nobody can use it.
    user.set_password('', 'site')
    assert 'site' not in user.get_digester().get_realms()
    assert not user.has_password('', 'site')
    user.set_password('')
    assert user.get_digester().get_realms() == []
    assert not user.has_password('')
    with pytest.raises(ValueError):
        User('').set_password('x')                # the null user has none


def test_user_has_password():
    user = User('ann')
    assert not user.has_password('x')
    user.set_password('x')
    assert user.has_password('x', None)
    assert user.has_password('x', 'any realm')    # qpd: falls back to ''
    # A stored empty password (older data) still never matches.
    user.get_digester().records = {'': hash_password('')}
    assert not user.has_password('')


def test_user_is_granted():
    user = User('ann')
    user.grant('edit', True)
    assert user.is_granted('edit') and user.is_granted('edit', True)
    assert not user.is_granted('edit', 'someone else')
    assert not user.is_granted('delete')


def test_user_is_admin():
    user = User('ann')
    assert not user.is_admin()
    user.grant('administrator', True)             # QP's grant
    assert user.is_admin()
    other = User('bob')
    other.grant('administrator', 'not True')
    assert not other.is_admin()


def test_compute_digest():
    import hashlib
    assert compute_digest('ann', 'site', 'pw') == hashlib.md5(
        b'ann:site:pw').hexdigest()
    assert compute_digest(1, 2) == hashlib.md5(b'1:2').hexdigest()


def test_permissions():
    permissions = Permissions()
    permissions.grant('edit', True)
    assert permissions['edit'] == {True}
    assert 'edit' in permissions and 'x' not in permissions
    assert list(permissions) == ['edit'] and permissions.keys() == ['edit']
    assert permissions.get('x') is None
    with pytest.raises(KeyError):
        permissions['x']


def test_permissions_grant():
    permissions = Permissions()
    ann = User('ann')
    permissions.grant('edit', ann)
    permissions.grant('edit', True)
    assert permissions['edit'] == {ann, True}
    with pytest.raises(TypeError):                  # QP's: None grants not
        permissions.grant('edit', None)
    with pytest.raises(TypeError):
        ann.grant('administrator', None)
    assert permissions['edit'] == {ann, True}


def test_permissions_ungrant():
    permissions = Permissions()
    permissions.grant('edit', True)
    permissions.grant('edit', 'boss')
    permissions.ungrant('edit', True)
    assert permissions.is_granted('edit', 'boss')
    permissions.ungrant('edit', 'boss')
    assert 'edit' not in permissions


def test_permissions_is_granted():
    permissions = Permissions()
    permissions.grant('edit', True)
    assert permissions.is_granted('edit', True)
    assert not permissions.is_granted('edit', False)


def test_digester():
    digester = Digester()
    assert digester.get_realms() == []
    assert get_spec_problems(digester) == []


def test_digester_set_digest():
    user = User('ann')
    digest = compute_digest('ann', 'site', 'old secret')
    user.get_digester().set_digest('site', digest)
    assert user.has_password('old secret', 'site')     # a QP database's users
    assert not user.has_password('wrong', 'site')
    assert not user.has_password('', 'site')
    with pytest.raises(ValueError):
        user.get_digester().set_digest('site', 'not a digest')
    user.set_password('new', 'site')                    # replaced by scrypt
    assert user.get_digester().records['site'][0] == 'scrypt'


def test_digester_get_digest():
    digester = Digester()
    assert digester.get_digest('site') is None
    digest = compute_digest('ann', 'site', 'pw')
    digester.set_digest('site', digest)
    assert digester.get_digest('site') == digest
    user = User('bob')
    user.set_password('pw', 'site', http_digest=True)
    assert user.get_digester().get_digest('site') == compute_digest(
        'bob', 'site', 'pw')


def test_digester_get_realms():
    user = User('ann')
    user.set_password('a', 'one')
    user.set_password('b', 'two')
    assert user.get_digester().get_realms() == ['one', 'two']


def test_digester_remove_digest():
    digester = Digester()
    digester.set_digest('site', compute_digest('ann', 'site', 'pw'))
    digester.remove_digest('site')
    assert digester.get_digest('site') is None and digester.get_realms() == []


def test_token_set():
    tokens = TokenSet()
    assert len(tokens) == 0


def test_token_set_new_token():
    tokens = TokenSet()
    token = tokens.new_token()
    assert len(token) == 16 and int(token, 16) >= 0
    assert len(tokens.new_token(4)) == 8
    made = [tokens.new_token() for _ in range(20)]
    assert len(tokens) == 16
    assert made[-1] in tokens and token not in tokens


def test_token_set_contains():
    tokens = TokenSet()
    token = tokens.new_token()
    assert token in tokens and 'other' not in tokens and None not in tokens


def test_token_set_remove():
    tokens = TokenSet()
    token = tokens.new_token()
    tokens.remove(token)
    assert token not in tokens
    tokens.remove(token)          # absent: nothing happens


def test_token_set_clear():
    tokens = TokenSet()
    tokens.new_token()
    tokens.clear()
    assert len(tokens) == 0


# The sign-in paths, through a real publisher and StorageServer -------------

def _empty_password_user(site, how):
    """Give 'ann' no password ('remove') or a stored empty one ('stored')."""
    publisher = site.make_publisher()
    connection = publisher.get_connection()
    user = publisher.get_users()['ann']
    if how == 'remove':
        user.set_password('', realm=publisher.get_realm())
        user.set_password('')
        assert user.get_digester().get_realms() == []
    else:
        user.get_digester().records = {
            publisher.get_realm(): hash_password(''), '': hash_password('')}
    connection.commit()
    connection.get_storage().close()


def _basic(user, password):
    value = base64.b64encode(('%s:%s' % (user, password)).encode()).decode()
    return 'Basic ' + value


@pytest.mark.parametrize('how', ['remove', 'stored'])
def test_empty_password_cannot_sign_in_over_basic(publish_site, site_users, how):
    from qpd.web.profile import Profile
    site_users(publish_site)
    profile = Profile(publish_site, scheme='https')   # Basic needs https
    profile.set_header('Authorization', _basic('ann', 'secret'))
    assert profile.get_text(profile.get('/basic')) == 'basic: ann'
    _empty_password_user(publish_site, how)
    profile = Profile(publish_site, scheme='https')
    profile.set_header('Authorization', _basic('ann', ''))
    response = profile.get('/basic')
    assert response.get_status_code() == 401
    assert 'basic: ann' not in profile.get_text(response)


@pytest.mark.parametrize('how', ['remove', 'stored'])
def test_empty_password_cannot_sign_in_with_the_form(publish_site, site_users, how):
    from qpd.web.profile import Profile
    site_users(publish_site)
    _empty_password_user(publish_site, how)
    profile = Profile(publish_site)
    response = profile.submit('/form', qpd_sign_in_user='ann',
                              qpd_sign_in_password='')
    assert 'form: ann' not in profile.get_text(response)
    assert profile.get_text(profile.get('/whoami')) == 'nobody'


def test_null_user_is_nobody_in_a_hit(publish_site):
    from qpd.web.profile import Profile
    profile = Profile(publish_site)
    assert profile.get_text(profile.get('/whoami')) == 'nobody'


def test_signatures_keep_qp_parameters():
    assert list(inspect.signature(TokenSet.new_token).parameters) == ['self', 'bytes']
    assert 'realm' in inspect.signature(User.set_password).parameters
