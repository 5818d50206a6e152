"""Stateless form tokens (qpd.web.form_token) and the ledgers that keep
spent tokens (qpd.storage.ledger), on a real StorageServer, in process."""

import re
import time

from qpd.storage import ledger
from qpd.web.form import TOKEN_MESSAGE
from qpd.web.form_token import _mac, is_stateless_token
from qpd.web.profile import Profile

SLASH = '''
from qpd.web.common import get_root, get_session
from qpd.web.directory import Directory
from qpd.web.form import Form
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = CONFIGURATION


def _form(name):
    form = Form()
    form.add_string('name')
    form.add_submit('save', 'Save')
    if not form.is_submitted() or form.has_errors():
        return form.render()
    return '%s saved %s' % (name, form.get('name'))


class SiteDirectory(Directory):
    _q_exports = ['a', 'b', 'keep']

    def a(self):
        return _form('a')

    def b(self):
        return _form('b')

    def keep(self):
        get_session().set_owner(None)
        get_session().add_token()        # a stored session from now on
        return 'kept'
'''


def token_of(text):
    return re.search(r'name="_form_token" value="([^"]+)"', text).group(1)


def site(make_site, durus_server, **configuration):
    return make_site(SLASH, durus_address=durus_server.address,
                     **configuration)


def test_anonymous_form_gets_a_stateless_token(make_site, durus_server):
    profile = Profile(site(make_site, durus_server))
    publisher = profile.get_publisher()
    response = profile.get('/a')
    token = token_of(profile.get_text(response))
    assert is_stateless_token(token)
    assert len(publisher.get_sessions()) == 0
    assert list(profile.get_cookies()) == [
        publisher.get_session_cookie_name() + '_key']
    assert response.get_header('Cache-Control') == 'private, no-store'
    response = profile.post('/a', _form_token=token, name='x', save='Save')
    assert profile.get_text(response) == 'a saved x'
    response = profile.post('/a', _form_token=token, name='y', save='Save')
    assert TOKEN_MESSAGE.split(',')[0] in profile.get_text(response)


def test_a_token_is_for_its_own_form(make_site, durus_server):
    profile = Profile(site(make_site, durus_server))
    token = token_of(profile.get_text(profile.get('/a')))
    response = profile.post('/b', _form_token=token, name='x', save='Save')
    assert 'saved' not in profile.get_text(response)
    response = profile.post('/a', _form_token=token, name='x', save='Save')
    assert profile.get_text(response) == 'a saved x'


def test_an_old_or_forged_token_is_refused(make_site, durus_server):
    profile = Profile(site(make_site, durus_server, form_token_lifetime=60))
    publisher = profile.get_publisher()
    profile.get('/a')
    key = profile.get_cookies()[publisher.get_session_cookie_name() + '_key']
    stamp = '%x' % int(time.time() - 3600)
    old = '%s.%s.%s' % (stamp, 'n' * 12, _mac(
        publisher.get_secret(), '/a', stamp, 'n' * 12, key))
    response = profile.post('/a', _form_token=old, name='x', save='Save')
    assert 'saved' not in profile.get_text(response)
    stamp = '%x' % int(time.time())
    forged = '%s.%s.%s' % (stamp, 'n' * 12, 'A' * 22)
    response = profile.post('/a', _form_token=forged, name='x', save='Save')
    assert 'saved' not in profile.get_text(response)
    good = '%s.%s.%s' % (stamp, 'n' * 12, _mac(
        publisher.get_secret(), '/a', stamp, 'n' * 12, key))
    response = profile.post('/a', _form_token=good, name='x', save='Save')
    assert profile.get_text(response) == 'a saved x'


def test_a_stored_session_keeps_its_tokens(make_site, durus_server):
    profile = Profile(site(make_site, durus_server))
    publisher = profile.get_publisher()
    assert profile.get_text(profile.get('/keep')) == 'kept'
    assert len(publisher.get_sessions()) == 1
    token = token_of(profile.get_text(profile.get('/a')))
    assert not is_stateless_token(token)
    response = profile.post('/a', _form_token=token, name='x', save='Save')
    assert profile.get_text(response) == 'a saved x'


def test_sweep_removes_expired_records(make_site, durus_server):
    profile = Profile(site(make_site, durus_server))
    publisher = profile.get_publisher()
    token = token_of(profile.get_text(profile.get('/a')))
    profile.post('/a', _form_token=token, name='x', save='Save')
    connection = publisher.get_connection()
    connection.abort()
    root = connection.get_root()
    spent = ledger.get_ledger(root, 'form_tokens', create=False)
    assert len(spent) == 1
    ledger.record(root, 'sign_in', 'user:gone', time.time() - 1, (3, 0.0))
    connection.commit()
    publisher.clean_sessions(now=time.time())
    assert len(ledger.get_ledger(root, 'sign_in')) == 0
    assert len(spent) == 1                      # not expired yet
    publisher.clean_sessions(now=time.time() + 2 * 86400)
    assert len(spent) == 0
    connection.abort()


def test_form_tokens_without_a_stored_session_make_no_session(
        make_site, durus_server):
    profile = Profile(site(make_site, durus_server))
    publisher = profile.get_publisher()
    for _ in range(20):
        Profile(publisher).get('/a')
    publisher.get_connection().abort()
    assert len(publisher.get_sessions()) == 0
