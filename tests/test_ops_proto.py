"""The proto site, in process (qpd.web.profile.Profile on a temporary
Durus storage): its pages, sign-in, the user admin pages, and who may see
them."""

import itertools
import os
import re

import pytest
from durus.connection import Connection
from durus.file_storage import TempFileStorage

from qpd.ops.newsite import create_site
from qpd.web.profile import Profile

_names = itertools.count()


@pytest.fixture
def site(tmp_path):
    return create_site('proto_%d_%d' % (os.getpid(), next(_names)),
                       str(tmp_path), first_port=24000)


@pytest.fixture
def publisher(site):
    publisher = site.make_publisher(Connection(TempFileStorage()))
    publisher.ensure_initialized()
    for user_id, password, admin in (('admin', 'secret', True),
                                     ('bob', 'pw', False)):
        user = publisher.add_user(user_id)
        user.set_password(password, realm=publisher.get_realm())
        if admin:
            user.grant('admin', 'test')
    publisher.get_connection().commit()
    return publisher


def sign_in(profile, path, user, password):
    """Post the sign-in form found at path (with its hidden fields)."""
    page = profile.get_text(profile.get(path))
    fields = dict(re.findall(
        r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    fields.update(qpd_sign_in_user=user, qpd_sign_in_password=password)
    return profile.post(path, **fields)


def browser(publisher, user=None, password=None):
    profile = Profile(publisher)
    if user:
        response = sign_in(profile, '/sign_in', user, password)
        assert response.get_status_code() == 302
    return profile


def text(profile, path, status=200):
    response = profile.get(path)
    assert response.get_status_code() == status, profile.get_text(response)
    return profile.get_text(response)


def test_home_page_and_stylesheet(publisher):
    profile = browser(publisher)
    page = text(profile, '/')
    assert 'Welcome to' in page and 'href="/static/style.css"' in page
    assert 'Sign in' in page and 'Database' not in page
    assert 'body' in text(profile, '/static/style.css')
    text(profile, '/nothing', 404)


def test_visits_are_counted_in_the_database(publisher):
    profile = browser(publisher)
    counts = [int(re.search(r'id="visits">(\d+)<', text(profile,
                                                         '/visits')).group(1))
              for _ in range(3)]
    assert counts == [1, 2, 3]
    assert publisher.get_root()['visits'].get_count() == 3


def test_sign_in_and_out(publisher):
    profile = browser(publisher)
    page = text(profile, '/sign_in', 403)   # QP: the form comes with 403
    assert 'qpd_sign_in_password' in page
    response = sign_in(profile, '/sign_in', 'bob', 'wrong')
    assert 'Unknown user or wrong password.' in profile.get_text(response)
    profile = browser(publisher, 'bob', 'pw')
    page = text(profile, '/')
    assert 'bob' in page and 'Sign out' in page
    # Issue 15: a GET only shows the button; the POST with its token signs
    # out (a link or an image elsewhere cannot).
    page = text(profile, '/sign_out')
    assert 'type="submit"' in page and '_form_token' in page
    assert 'Sign out' in text(profile, '/') and 'bob' in text(profile, '/')
    assert profile.post('/sign_out', sign_out='Sign out').get_status_code() \
        != 302
    assert 'bob' in text(profile, '/')
    assert profile.submit('/sign_out', sign_out='Sign out'
                          ).get_status_code() == 302
    assert 'Sign in' in text(profile, '/')


def test_admin_pages_are_for_admins(publisher):
    bob = browser(publisher, 'bob', 'pw')
    text(bob, '/users/', 403)
    text(bob, '/durus/', 403)
    anonymous = browser(publisher)
    assert 'qpd_sign_in_user' in text(anonymous, '/users/', 403)
    admin = browser(publisher, 'admin', 'secret')
    page = text(admin, '/')
    assert 'href="/users/"' in page and 'href="/durus/"' in page
    assert 'PersistentDict 0' in text(admin, '/durus/')


def test_admin_adds_a_user_who_signs_in(publisher):
    admin = browser(publisher, 'admin', 'secret')
    page = text(admin, '/users/')
    # One form, inside the page (a template statement's value is output).
    assert page.count('name="user_id"') == 1
    assert page.index('name="user_id"') > page.index('<h1>Users</h1>')
    token = re.search(r'name="_form_token" value="([^"]+)"', page).group(1)
    response = admin.post('/users/', user_id='carol', password='c4rol',
                          _form_token=token, add='Add user')
    assert response.get_status_code() == 302, admin.get_text(response)
    assert '>carol</a>' in text(admin, '/users/')
    carol = browser(publisher, 'carol', 'c4rol')
    text(carol, '/users/', 403)
    page = text(admin, '/users/carol/')
    assert page.count('name="password"') == 1
    token = re.search(r'name="_form_token" value="([^"]+)"', page).group(1)
    response = admin.post('/users/carol/', admin='yes', password='',
                          _form_token=token, save='Save')
    assert response.get_status_code() == 302, admin.get_text(response)
    assert publisher.get_users()['carol'].is_admin()
    text(carol, '/users/')
