"""DurusDirectory: pages of the database browser, in process."""

import re

import pytest
from durus.connection import Connection
from durus.file_storage import TempFileStorage
from durus.persistent_dict import PersistentDict
from durus.persistent_list import PersistentList

from qpd.web.directory import Directory
from qpd.web.durus_directory import (
    DurusDirectory, PAGE_SIZE, format_step, resolve_step)
from qpd.web.profile import Profile
from qpd.web.publish import Publisher


class SiteDirectory(Directory):
    _q_exports = ['durus']
    durus = DurusDirectory()


class SitePublisher(Publisher):
    configuration = {}


def sign_in(profile, path, user, password):
    """Post the sign-in form found at path (with its hidden fields)."""
    page = profile.get_text(profile.get(path))
    fields = dict(re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    fields.update(qpd_sign_in_user=user, qpd_sign_in_password=password)
    return profile.post(path, **fields)


@pytest.fixture
def admin():
    publisher = SitePublisher(connection=Connection(TempFileStorage()))
    publisher.set_root_directory(SiteDirectory())
    publisher.ensure_initialized()
    for user_id, is_admin in (('root', True), ('bob', False)):
        user = publisher.add_user(user_id)
        user.set_password('pw', realm=publisher.get_realm())
        if is_admin:
            user.grant('admin', 'test')
    root = publisher.get_root()
    root['things'] = PersistentDict(
        small=[1, 'two', {'three': root['users']['bob']}],
        big={i: 'x%d' % i for i in range(200)},
        html='<script>alert(1)</script>',
        items=PersistentList(range(PAGE_SIZE + 7)))
    publisher.get_connection().commit()
    profile = Profile(publisher)
    response = sign_in(profile, '/durus/', 'root', 'pw')
    assert response.get_status_code() == 302, profile.get_text(response)
    return profile


def body(profile, path, status=200):
    response = profile.get(path)
    assert response.get_status_code() == status
    return profile.get_text(response)


def links(page):
    return re.findall(r'href="([^"]+)"', page)


def test_root_page(admin):
    page = body(admin, '/durus/')
    assert '<h1>PersistentDict 0</h1>' in page
    assert '<em>(hidden)</em>' in page          # qpd_secret
    assert 'href="1/"' in page or 'href="2/"' in page


def test_links_lead_to_objects_and_values(admin):
    page = body(admin, '/durus/')
    oid = re.search(r'href="(\d+)/">PersistentDict', page).group(1)
    page = body(admin, '/durus/%s/' % oid)
    assert '&lt;script&gt;' in page and '<script>' not in page
    assert re.search(r'<a class="durus-ref" href="\.\./\d+/">User \d+</a>',
                     page)                      # inline, inside a dict
    assert 'href="k.big/">dict of 200 items</a>' in page
    big = body(admin, '/durus/%s/k.big/' % oid)
    assert '200 items, 0 to %d' % (PAGE_SIZE - 1) in big
    assert 'href="?start=%d">next' % PAGE_SIZE in big
    last = body(admin, '/durus/%s/k.big/?start=%d' % (oid, 200 - 10))
    assert 'next' not in last and 'previous' in last
    items = re.search(r'href="\.\./(\d+)/">PersistentList', page).group(1)
    page = body(admin, '/durus/%s/' % items)
    assert '%d items' % (PAGE_SIZE + 7) in page


def test_values_reached_by_a_path_link_back_correctly(admin):
    page = body(admin, '/durus/0/k.users/k.bob/')
    assert re.search(r'<h1>User \d+</h1>', page)
    for link in links(page):
        if link.startswith('../'):
            assert link.startswith('../../../')   # three levels down


def test_unknown_paths_are_404(admin):
    body(admin, '/durus/999999/', 404)
    body(admin, '/durus/0/k.nothing/', 404)
    body(admin, '/durus/0/zzz/', 404)


def test_non_admin_is_refused():
    publisher = SitePublisher(connection=Connection(TempFileStorage()))
    publisher.set_root_directory(SiteDirectory())
    publisher.ensure_initialized()
    user = publisher.add_user('bob')
    user.set_password('pw', realm=publisher.get_realm())
    publisher.get_connection().commit()
    profile = Profile(publisher)
    page = body(profile, '/durus/', 403)        # QP: the form comes with 403
    assert 'qpd_sign_in_user' in page           # asked to sign in
    sign_in(profile, '/durus/', 'bob', 'pw')
    body(profile, '/durus/', 403)
    body(profile, '/durus/0/', 403)


def test_steps():
    assert format_step('a b/c', 0) == 'k.a%20b%2Fc'
    assert format_step(7, 0) == 'n.7'
    assert format_step((1, 2), 3) == 'p.3'
    assert resolve_step({'a b/c': 1}, 'k.a%20b%2Fc') == 1
    assert resolve_step([5, 6], 'n.1') == 6
    assert resolve_step({(1, 2): 'x'}, 'p.0') == 'x'
    with pytest.raises(LookupError):
        resolve_step({}, 'k.x')


# Issue 15: credentials are masked; odd queries are 400/404, not 500. ------

def credential_pages(profile):
    """The pages that hold credentials: ann's user object (with her
    Digester), her Digester, the sessions BTree and the signed-in
    session."""
    users = body(profile, '/durus/0/k.users/')
    root_user = re.search(r'<code>&#39;root&#39;</code></th><td><a class='
                          r'"durus-ref" href="\.\./\.\./(\d+)/">',
                          users).group(1)
    user = body(profile, '/durus/%s/' % root_user)
    digester = re.search(r'href="\.\./(\d+)/">Digester', user).group(1)
    sessions = body(profile, '/durus/0/k.sessions/')
    session = re.search(r'href="\.\./\.\./(\d+)/">Session', sessions).group(1)
    return dict(user=user, digester=body(profile, '/durus/%s/' % digester),
                digester_oid=digester, sessions=sessions,
                session=body(profile, '/durus/%s/' % session))


def test_credentials_are_masked(admin):
    publisher = admin.get_publisher()
    user = publisher.get_users()['root']
    user.set_password('pw', realm=publisher.get_realm(), http_digest=True)
    publisher.get_connection().commit()
    record = user.get_digester().records[publisher.get_realm()]
    ha1 = user.get_digester().get_http_digest(publisher.get_realm())
    (session_id,) = list(publisher.get_sessions().keys())
    pages = credential_pages(admin)
    everything = '\n'.join(v for k, v in pages.items() if k != 'digester_oid')
    for secret in (ha1, session_id, str(record[-1])[:20]):
        assert secret not in everything
    assert '(hidden)' in pages['digester'] and '(hidden)' in pages['session']
    assert '(hidden)' in pages['sessions']
    # Nor can a step reach them.
    body(admin, '/durus/%s/a.http_digests/' % pages['digester_oid'], 404)
    body(admin, '/durus/%s/a.records/' % pages['digester_oid'], 404)
    body(admin, '/durus/%s/p.0/' % pages['digester_oid'], 404)


def test_credentials_shown_on_explicit_opt_in(admin):
    publisher = admin.get_publisher()
    user = publisher.get_users()['root']
    user.set_password('pw', realm=publisher.get_realm(), http_digest=True)
    publisher.get_connection().commit()
    ha1 = user.get_digester().get_http_digest(publisher.get_realm())
    (session_id,) = list(publisher.get_sessions().keys())

    class Showing(Directory):
        _q_exports = ['durus']
        durus = DurusDirectory(show_credentials=True)
    publisher.set_root_directory(Showing())
    pages = credential_pages(admin)
    assert ha1 in pages['digester']
    assert session_id in pages['sessions'] and session_id in pages['session']


def test_odd_start_and_oid_are_client_errors(admin):
    for start in ('1e20', '100000000000000000000', '-1', '9' * 5000, 'x'):
        body(admin, '/durus/0/k.users/?start=%s' % start, 400)
    body(admin, '/durus/%s/' % ('9' * 5000), 404)
    body(admin, '/durus/%d/' % 2 ** 64, 404)
    body(admin, '/durus/0/k.users/n.%s/' % ('9' * 5000), 404)
