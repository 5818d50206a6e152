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
    assert location.startswith('http://localhost/'), location
    assert 'evil.example/' not in location.split('/', 3)[2]
