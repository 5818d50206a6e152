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


# Sites for the attacks below -----------------------------------------------

PRIVATE_SLASH = '''
from qpd.web.common import ensure_signed_in, get_user
from qpd.web.directory import Directory
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = CONFIGURATION


class SiteDirectory(Directory):
    # A private site: the root's _q_access wants a signed-in user.
    _q_exports = ['', 'whoami']

    def _q_access(self):
        ensure_signed_in()

    def _q_index(self):
        return 'index'

    def whoami(self):
        return get_user().get_id()

    def _q_lookup(self, component):
        return self
'''


@pytest.fixture
def private_site(make_site, durus_server, site_users):
    def make(**configuration):
        configuration.setdefault('durus_address', durus_server.address)
        site = make_site(PRIVATE_SLASH, **configuration)
        site_users(site)
        return site
    return make


def raw_request(profile, method, path, fields=None, headers=None):
    """As Profile.request, but with path as PATH_INFO exactly (Profile
    would read '//host/...' as a network-path reference)."""
    from urllib.parse import urlencode
    from qpd.web.hit import Hit
    from qpd.web.request import HTTPRequest
    body = urlencode(fields or {}).encode() if method == 'POST' else b''
    environ = profile.make_environ(method, path, body=body, headers=headers)
    hit = Hit(HTTPRequest(environ['wsgi.input'], environ))
    profile.get_publisher().process_hit(hit)
    profile.keep_cookies(hit.get_response())
    return hit.get_response()


# 2. '//host' paths: the sign-in form's action, the redirect after it -------

@pytest.mark.parametrize('path', ['//evil.example/login',
                                  '///evil.example/login',
                                  '/\\evil.example/login'])
def test_double_slash_path_keeps_sign_in_on_this_site(private_site, path):
    import html
    import re
    from qpd.web.profile import Profile
    from qpd.web.signin import PASSWORD_FIELD, USER_FIELD
    profile = Profile(private_site())
    response = raw_request(profile, 'GET', path)
    assert response.get_status_code() == 403
    text = profile.get_text(response)
    action = html.unescape(re.search(r'action="([^"]*)"', text).group(1))
    assert action.startswith('/') and action[1:2] not in ('/', '\\')
    token = html.unescape(re.search(r'name="_form_token" value="([^"]*)"',
                                    text).group(1))
    response = raw_request(profile, 'POST', path, fields={
        USER_FIELD: 'ann', PASSWORD_FIELD: 'secret', '_form_token': token})
    assert response.get_status_code() == 302
    location = response.get_header('Location')
    # Site-relative (allowed_hosts is unset: #8), and on this site.
    assert location[:1] == '/' and location[1:2] not in ('/', '\\'), location


# 3. Form tokens: a signed-in hit takes session tokens only -----------------

USERS_SLASH = '''
from qpd.web.common import ensure_signed_in, get_root
from qpd.web.directory import Directory
from qpd.web.form import Form
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = CONFIGURATION


def add_form(action=None):
    form = Form(action_url=action)
    form.add_string('new_user', title='New user')
    form.add_submit('add', 'Add')
    return form


class Users(Directory):
    _q_exports = ['']

    def _q_index(self):
        ensure_signed_in()          # the anonymous sign-in form is here too
        form = add_form()
        if form.is_submitted() and not form.has_errors():
            get_root()['added'] = form.get('new_user')
            return 'added ' + form.get('new_user')
        return form.render()


class Page(Directory):
    _q_exports = ['', 'save']

    def _q_index(self):
        return add_form('save').render()    # the same relative action ...

    def save(self):                         # ... on two pages
        form = add_form('save')
        if form.is_submitted() and not form.has_errors():
            return 'saved'
        return form.render()


class SiteDirectory(Directory):
    _q_exports = ['', 'users', 'one', 'two']
    users = Users()
    one = Page()
    two = Page()

    def _q_index(self):
        return 'home'
'''


def _token(profile, response):
    import html
    import re
    found = re.search(r'name="_form_token" value="([^"]*)"',
                      profile.get_text(response))
    return html.unescape(found.group(1))


@pytest.fixture
def users_site(make_site, durus_server, site_users):
    def make(**configuration):
        configuration.setdefault('durus_address', durus_server.address)
        site = make_site(USERS_SLASH, **configuration)
        site_users(site, 'admin', 'right')
        return site
    return make


def test_planted_browser_key_does_not_forge_a_signed_in_post(users_site):
    from qpd.web.profile import Profile
    from qpd.web.signin import PASSWORD_FIELD, USER_FIELD
    site = users_site()
    admin = Profile(site)
    response = admin.get('/users/')
    response = admin.post('/users/', _form_token=_token(admin, response),
                          **{USER_FIELD: 'admin', PASSWORD_FIELD: 'right'})
    assert response.get_status_code() == 302
    # The attacker, anonymous, takes a stateless token of the sign-in form
    # at /users/ and the browser key it is bound to ...
    mallory = Profile(site)
    token = _token(mallory, mallory.get('/users/'))
    key_cookie = [name for name in mallory.get_cookies()
                  if name.endswith('_key')][0]
    # ... plants the key in the admin's browser (a sibling subdomain can)
    # and has it post the add-user form with the attacker's token.
    admin.get_cookies()[key_cookie] = mallory.get_cookies()[key_cookie]
    response = admin.post('/users/', _form_token=token, new_user='mallory')
    assert 'added' not in admin.get_text(response)
    publisher = site.make_publisher()
    assert 'added' not in publisher.get_connection().get_root()
    # The admin's own form still works.
    token = _token(admin, admin.get('/users/'))
    response = admin.post('/users/', _form_token=token, new_user='bob')
    assert admin.get_text(response) == 'added bob'


def test_stateless_token_scope_is_the_absolute_action(users_site):
    from qpd.web.profile import Profile
    profile = Profile(users_site())
    token = _token(profile, profile.get('/one/'))
    response = profile.post('/two/save', _form_token=token, new_user='x')
    assert 'saved' not in profile.get_text(response)
    response = profile.post('/one/save', _form_token=token, new_user='x')
    assert profile.get_text(response) == 'saved'


def test_browser_key_cookie_is_host_prefixed_on_https(users_site):
    from qpd.web.profile import Profile
    profile = Profile(users_site(script_name='/app'), scheme='https')
    response = profile.get('/app/one/')
    cookies = [value for name, value in response.get_header_list()
               if name == 'Set-Cookie' and '_key=' in value]
    assert len(cookies) == 1
    assert cookies[0].startswith('__Host-'), cookies
    attributes = cookies[0].lower().replace(' ', '').split(';')
    assert 'path=/' in attributes and 'secure' in attributes
    assert not any(a.startswith('domain=') for a in attributes)
    token = _token(profile, response)
    response = profile.post('/app/one/save', _form_token=token, new_user='x')
    assert profile.get_text(response) == 'saved'


# 4. Ledger and throttle keys are bounded ----------------------------------

@pytest.mark.file_storage("measures the Durus file's growth")
def test_a_huge_user_id_does_not_grow_the_database(private_site,
                                                   durus_server):
    import os
    from qpd.storage import ledger
    from qpd.web.profile import Profile
    from qpd.web.signin import PASSWORD_FIELD, USER_FIELD
    site = private_site(sign_in_free_failures=1000)
    profile = Profile(site)
    import secrets
    huge = secrets.token_hex(450000)     # (Durus compresses 'uuu...')

    def fail():
        token = _token(profile, profile.get('/'))
        response = profile.post('/', _form_token=token, **{
            USER_FIELD: huge, PASSWORD_FIELD: 'wrong'})
        assert response.get_status_code() == 403
    fail()
    before = os.path.getsize(durus_server.durus_file)
    for _ in range(3):
        fail()
    grown = os.path.getsize(durus_server.durus_file) - before
    root = site.make_publisher().get_connection().get_root()
    keys = [key for name in root.keys()
            if name.startswith(ledger.LEDGER_PREFIX)
            for key in root[name].keys()]
    assert keys and max(len(key) for key in keys) <= ledger.MAX_KEY_LENGTH
    assert grown < 3 * 20000, grown


def test_ledger_keys_stay_distinct_when_hashed(durus_server):
    from qpd.storage import ledger
    connection = durus_server.connect()
    root = connection.get_root()
    long_a, long_b = 'a' * 5000, 'a' * 4999 + 'b'
    ledger.record(root, 'test', long_a, 2e9, 'A')
    ledger.record(root, 'test', long_b, 2e9, 'B')
    assert ledger.lookup(root, 'test', long_a, 1) == 'A'
    assert ledger.lookup(root, 'test', long_b, 1) == 'B'
    ledger.forget(root, 'test', long_a)
    assert ledger.lookup(root, 'test', long_a, 1) is None
    assert ledger.lookup(root, 'test', 'short', 1) is None


# 5. Behind a proxy: the client address and scheme it gives ----------------

def proxied_request(profile, method, path, fields=None, forwarded_for=None,
                    proto=None, peer='127.0.0.1'):
    """As the worker serves it: the peer is the proxy (or the client), and
    the environ goes through protocol.apply_forwarded with the site's
    trusted_proxies before the hit."""
    from urllib.parse import urlencode
    from qpd.server import protocol
    from qpd.web.hit import Hit
    from qpd.web.request import HTTPRequest
    headers = {}
    if forwarded_for is not None:
        headers['X-Forwarded-For'] = forwarded_for
    if proto is not None:
        headers['X-Forwarded-Proto'] = proto
    profile.remote_address = peer
    body = urlencode(fields or {}).encode() if method == 'POST' else b''
    environ = profile.make_environ(method, path, body=body, headers=headers)
    publisher = profile.get_publisher()
    protocol.apply_forwarded(environ, publisher.get_config('trusted_proxies'))
    hit = Hit(HTTPRequest(environ['wsgi.input'], environ))
    publisher.process_hit(hit)
    profile.keep_cookies(hit.get_response())
    return hit.get_response()


@pytest.mark.parametrize('peer, forwarded_for, client', [
    ('127.0.0.1', '203.0.113.9', '203.0.113.9'),
    # What the client wrote itself is left of what the proxy appended.
    ('127.0.0.1', '127.0.0.1, 198.51.100.1, 203.0.113.9', '203.0.113.9'),
    ('127.0.0.1', '203.0.113.9, 10.1.2.3', '203.0.113.9'),   # two proxies
    ('::ffff:127.0.0.1', 'junk, 203.0.113.9', '203.0.113.9'),
    ('127.0.0.1', '[2001:DB8::1]:4711', '2001:db8::1'),
    ('127.0.0.1', 'junk', '127.0.0.1'),
    ('127.0.0.1', None, '127.0.0.1'),
    # An untrusted peer's X-Forwarded-For is its own word: ignored.
    ('192.0.2.5', '127.0.0.1', '192.0.2.5'),
])
def test_client_address_behind_trusted_proxies(peer, forwarded_for, client):
    from qpd.config import check_value
    from qpd.server import protocol
    trusted = check_value('demo', 'trusted_proxies',
                          ['127.0.0.1', '10.0.0.0/8'])
    environ = {'REMOTE_ADDR': peer}
    if forwarded_for is not None:
        environ['HTTP_X_FORWARDED_FOR'] = forwarded_for
    protocol.apply_forwarded(environ, trusted)
    assert environ['REMOTE_ADDR'] == client


def test_trusted_proxies_key():
    from qpd.config import check_value, get_defaults
    assert get_defaults()['trusted_proxies'] == ()        # none by default
    with pytest.raises(ConfigurationError) as info:
        check_configuration('demo', {'trusted_proxies': ['nginx']})
    assert '\n' not in str(info.value)
    assert "trusted_proxies=['127.0.0.1']" in str(info.value)
    assert [str(n) for n in check_value(
        'demo', 'trusted_proxies', ['::1', '10.0.0.0/8', '::ffff:10.1.0.0/112'])
            ] == ['::1/128', '10.0.0.0/8', '10.1.0.0/16']


@pytest.mark.parametrize('trusted', [True, False])
def test_one_attacker_behind_the_proxy_locks_only_itself_out(private_site,
                                                             trusted):
    from qpd.web.profile import Profile
    from qpd.web.signin import PASSWORD_FIELD, USER_FIELD
    site = private_site(trusted_proxies=['127.0.0.1'] if trusted else None)

    def sign_in(profile, client, user_id, password):
        response = proxied_request(profile, 'GET', '/', forwarded_for=client)
        return proxied_request(profile, 'POST', '/', {
            '_form_token': _token(profile, response), USER_FIELD: user_id,
            PASSWORD_FIELD: password}, forwarded_for=client)
    # 7 failures with 7 user ids, all through the proxy at 127.0.0.1.
    attacker = Profile(site)
    for n in range(7):
        response = sign_in(attacker, '203.0.113.9', 'user%d' % n, 'wrong')
        assert response.get_status_code() in (403, 429)
    assert response.get_status_code() == 429        # the attacker waits
    response = sign_in(Profile(site), '198.51.100.7', 'ann', 'secret')
    if trusted:
        assert response.get_status_code() == 302    # the admin does not
    else:
        # Without trusted_proxies the proxy's address is everyone's: the
        # attack as the issue ran it (the operator is told to set the key:
        # qpd build, the README's security section).
        assert response.get_status_code() == 429


def test_cookies_are_secure_when_the_trusted_proxy_says_https(private_site):
    from qpd.web.profile import Profile
    site = private_site(trusted_proxies=['127.0.0.1'])

    def cookies(proto, peer='127.0.0.1'):
        response = proxied_request(Profile(site), 'GET', '/',
                                   forwarded_for='203.0.113.9', proto=proto,
                                   peer=peer)
        return [value for name, value in response.get_header_list()
                if name == 'Set-Cookie']
    secure = cookies('https')
    assert secure and all('Secure' in value and value.startswith('__Host-')
                          for value in secure)
    assert not any('Secure' in value for value in cookies('http'))
    # X-Forwarded-Proto from a client that is no trusted proxy: ignored.
    assert not any('Secure' in value
                   for value in cookies('https', peer='192.0.2.5'))


# 16. Front-end listeners beyond loopback; banned networks -----------------

@pytest.mark.parametrize('key', ['scgi_address', 'as_https_address'])
@pytest.mark.parametrize('address', [('0.0.0.0', 8001), ('', 8001),
                                     ('192.0.2.1', 8001), ('::', 8001)])
def test_front_end_listener_beyond_loopback_needs_the_opt_in(key, address):
    with pytest.raises(ConfigurationError) as info:
        check_configuration('demo', {key: address})
    message = str(info.value)
    assert '\n' not in message and message.startswith('site demo: %s ' % key)
    assert "%s=('127.0.0.1', 8001)" % key in message
    assert 'front_end_beyond_loopback=True' in message
    check_configuration('demo', {key: address,
                                 'front_end_beyond_loopback': True})
    check_configuration('demo', {key: ('127.0.0.1', 8001)})
    check_configuration('demo', {key: '/srv/demo/var/scgi.sock'})


def test_banned_matches_networks_and_ipv6_spellings(tmp_path):
    from qpd.server.banned import Banned

    class FakeSite:       # the banned file is all Banned reads of a site
        def get_banned_file(self):
            return str(tmp_path / 'banned')

        def get_banned(self):
            from qpd.site import Site
            return Site.get_banned(self)
    (tmp_path / 'banned').write_text(
        '203.0.113.9\n198.51.100.0/24  # a network\n2001:DB8:0:0::7\n'
        '2001:db8:ff::/48\nnot-an-address\n')
    banned = Banned(FakeSite())
    assert banned.refresh(0.0, force=True)
    for host in ('203.0.113.9', '::ffff:203.0.113.9', '198.51.100.77',
                 '::ffff:198.51.100.1', '2001:db8::7', '2001:0db8::0:7',
                 '2001:db8:ff:1::2', 'not-an-address'):
        assert host in banned, host
    for host in ('203.0.113.10', '198.51.101.1', '2001:db8::8', '127.0.0.1',
                 '', 'junk'):
        assert host not in banned, host


# 6. --debug: the technical page to a loopback client only ------------------

BOOM_SLASH = '''
from qpd.web.directory import Directory
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = CONFIGURATION


class SiteDirectory(Directory):
    _q_exports = ['boom']

    def boom(self):
        api_secret = 'the secret in a local'
        raise RuntimeError('boom ' + api_secret)
'''


@pytest.mark.parametrize('allowed_hosts', [None, ['localhost', 'example.com']])
def test_debug_page_only_to_a_local_client(make_site, durus_server,
                                           allowed_hosts):
    from qpd.web.profile import Profile
    site = make_site(BOOM_SLASH, display_exceptions=True,
                     allowed_hosts=allowed_hosts,
                     durus_address=durus_server.address)
    publisher = site.make_publisher()

    def shows(remote='127.0.0.1', host='localhost', headers=None,
              environ=None, trusted=None):
        from qpd.server import protocol
        from qpd.web.hit import Hit
        from qpd.web.request import HTTPRequest
        profile = Profile(publisher, host=host, remote_address=remote)
        made = profile.make_environ('GET', '/boom', headers=headers)
        made.update(environ or {})
        if trusted:
            from qpd.config import check_value
            protocol.apply_forwarded(made, check_value(
                'x', 'trusted_proxies', trusted))
        hit = Hit(HTTPRequest(made['wsgi.input'], made))
        profile.get_publisher().process_hit(hit)
        response = hit.get_response()
        assert response.get_status_code() == 500
        text = profile.get_text(response)
        return 'Traceback' in text or 'the secret' in text
    assert shows()
    # An SCGI request from nginx on loopback, for a client elsewhere.
    assert not shows(remote='203.0.113.9')
    # An HTTP proxy on loopback that qpd does not trust, for a client
    # elsewhere; or one it trusts.
    assert not shows(headers={'X-Forwarded-For': '203.0.113.9'})
    assert not shows(headers={'X-Real-IP': '203.0.113.9'})
    assert not shows(headers={'X-Forwarded-For': '203.0.113.9'},
                     trusted=['127.0.0.1'])
    assert shows(headers={'X-Forwarded-For': '127.0.0.1'},
                 trusted=['127.0.0.1'])
    # stunnel on as_https_address: the client behind it is unknown.
    assert not shows(environ={'HTTPS': 'on', 'qpd.tls_proxy': 'on'})
    # DNS rebinding: another name resolved to 127.0.0.1.
    if allowed_hosts is None:
        assert not shows(host='evil.example:8000')
        for host in ('127.0.0.1:8000', '[::1]:8000', 'app.localhost'):
            assert shows(host=host), host
    else:
        assert shows(host='example.com')       # allowed_hosts checked it


# 8. allowed_hosts unset: absolute URLs never from the client's Host --------

URLS_SLASH = '''
from qpd.web.common import complete_url, get_publisher, get_response, redirect
from qpd.web.directory import Directory
from qpd.web.errors import Redirect
from qpd.web.publish import Publisher


class SitePublisher(Publisher):
    configuration = CONFIGURATION


class Items(Directory):
    _q_exports = ['']

    def _q_index(self):
        return 'items'


class SiteDirectory(Directory):
    _q_exports = ['', 'items', 'reset', 'go', 'raise_it', 'set_it', 'secure']
    items = Items()

    def _q_index(self):
        return 'home'

    def reset(self):
        return complete_url('/reset?t=TOKEN')

    def go(self):
        redirect('/items/')

    def raise_it(self):
        raise Redirect('items/')

    def set_it(self):
        get_response().redirect('/items/')
        return ''

    def secure(self):
        get_publisher().secure()
        return 'secure'
'''


@pytest.mark.parametrize('configuration, reset', [
    ({}, 'http://127.0.0.1:8000/reset?t=TOKEN'),
    ({'http_address': ('shop.example', 8080)},
     'http://shop.example:8080/reset?t=TOKEN'),
    ({'http_address': ('www.example.com', 80)},
     'http://www.example.com/reset?t=TOKEN'),
])
def test_absolute_urls_come_from_the_configured_name(make_site, durus_server,
                                                     configuration, reset):
    from qpd.web.profile import Profile
    site = make_site(URLS_SLASH, durus_address=durus_server.address,
                     **configuration)
    profile = Profile(site, host='evil.example')
    assert profile.get_text(profile.get('/reset')) == reset
    for path in ('/go', '/raise_it', '/set_it', '/items'):
        response = profile.get(path)
        assert response.get_status_code() in (301, 302), path
        location = response.get_header('Location')
        assert 'evil.example' not in location, (path, location)
        assert location == '/items/', (path, location)


def test_secure_redirect_without_allowed_hosts(make_site, durus_server):
    from qpd.web.profile import Profile
    from qpd.web.publish import _get_fqdn
    site = make_site(URLS_SLASH, durus_address=durus_server.address,
                     as_https_address=('127.0.0.1', 8002),
                     https_address=('shop.example', 8443))
    profile = Profile(site, host='evil.example')
    response = profile.get('/secure', a='b')
    assert response.get_header('Location') == (
        'https://shop.example:8443/secure?a=b')
    https = Profile(site, host='evil.example', scheme='https')
    assert https.get_text(https.get('/reset')) == (
        'https://shop.example:8443/reset?t=TOKEN')
    wildcard = make_site(URLS_SLASH, durus_address=durus_server.address,
                         https_address=('', 8443))
    response = Profile(wildcard, host='evil.example').get('/secure')
    assert response.get_header('Location') == (
        'https://%s:8443/secure' % _get_fqdn())


def test_absolute_urls_on_an_allowed_host(make_site, durus_server):
    from qpd.web.profile import Profile
    site = make_site(URLS_SLASH, durus_address=durus_server.address,
                     allowed_hosts=['shop.example'])
    profile = Profile(site, host='shop.example:8080')
    assert profile.get_text(profile.get('/reset')) == (
        'http://shop.example:8080/reset?t=TOKEN')
    assert profile.get('/go').get_header('Location') == (
        'http://shop.example:8080/items/')
    assert Profile(site, host='evil.example').get(
        '/go').get_status_code() == 400


def test_qpd_new_writes_allowed_hosts():
    import os
    import qpd
    proto = os.path.join(os.path.dirname(os.path.dirname(qpd.__file__)),
                         'proto', 'slash.qpy')
    with open(proto) as f:
        assert "allowed_hosts=['localhost', '127.0.0.1', '[::1]']" in f.read()


# 15. The request target '*' and the absolute form ---------------------------

def test_asterisk_target_is_for_options_only():
    from qpd.server import protocol
    from qpd.web.errors import HTTPError
    base = protocol.make_base_environ('127.0.0.1', 5000, '127.0.0.1', '8000',
                                      False)
    for method in (b'GET', b'HEAD', b'POST'):
        head = method + b' * HTTP/1.1\r\nHost: localhost\r\n\r\n'
        with pytest.raises(HTTPError) as info:
            protocol.parse_http_request(head, protocol.LIMITS, base)
        assert info.value.get_status() == 400
    parsed, environ = protocol.parse_http_request(
        b'OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n', protocol.LIMITS,
        base)
    assert environ['PATH_INFO'] == '*'


def test_asterisk_reaches_no_page(make_site, durus_server):
    # Through SCGI or WSGI, PATH_INFO '*' may still come: the publisher
    # never turns it into a redirect to '/*'.
    from qpd.web.profile import Profile
    site = make_site(URLS_SLASH, durus_address=durus_server.address)
    profile = Profile(site)
    response = profile.request('GET', '*')
    assert response.get_status_code() == 400
    assert response.get_header('Location') is None
    response = profile.request('OPTIONS', '*')
    assert response.get_status_code() == 200
    assert response.get_header('Location') is None
    assert 'GET' in response.get_header('Allow')
    assert profile.get_body(response) == b''


def test_absolute_form_target_host_is_the_host():
    from qpd.server import protocol
    base = protocol.make_base_environ('127.0.0.1', 5000, '127.0.0.1', '8000',
                                      False)
    head = (b'GET http://evil.example:81/items/?x=1 HTTP/1.1\r\n'
            b'Host: localhost\r\n\r\n')
    parsed, environ = protocol.parse_http_request(head, protocol.LIMITS, base)
    assert environ['HTTP_HOST'] == 'evil.example:81'
    assert environ['PATH_INFO'] == '/items/'
    assert environ['QUERY_STRING'] == 'x=1'
    head = b'GET http://[::1]:8000/ HTTP/1.1\r\nHost: localhost\r\n\r\n'
    assert protocol.parse_http_request(
        head, protocol.LIMITS, base)[1]['HTTP_HOST'] == '[::1]:8000'
    environ = protocol.make_scgi_environ(
        b'CONTENT_LENGTH\x000\x00SCGI\x001\x00REQUEST_METHOD\x00GET\x00'
        b'REQUEST_URI\x00http://evil.example/\x00HTTP_HOST\x00localhost\x00',
        base)
    assert environ['HTTP_HOST'] == 'evil.example'


def test_absolute_form_host_is_checked_like_host(make_site, durus_server):
    from qpd.server import protocol
    from qpd.web.hit import Hit
    from qpd.web.request import HTTPRequest
    site = make_site(URLS_SLASH, durus_address=durus_server.address,
                     allowed_hosts=['localhost'])
    publisher = site.make_publisher()
    base = protocol.make_base_environ('127.0.0.1', 5000, '127.0.0.1', '8000',
                                      False)
    for target, status in ((b'http://evil.example/go', 400),
                           (b'http://localhost/go', 302)):
        head = b'GET ' + target + b' HTTP/1.1\r\nHost: localhost\r\n\r\n'
        environ = protocol.parse_http_request(head, protocol.LIMITS, base)[1]
        hit = Hit(HTTPRequest(None, environ))
        publisher.process_hit(hit)
        response = hit.get_response()
        assert response.get_status_code() == status, target
        assert 'evil' not in (response.get_header('Location') or '')
