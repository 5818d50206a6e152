"""QP compatibility: qp.pub.publish -> qpd.web.publish, one test per entry
of docs/qp_api.md, pinning the contract QP's API states: a SitePublisher
overriding QP's hooks with QP's signatures is called in QP's order."""

import logging
import sys

import pytest
from durus.error import ConflictError

from qpd.qpy import xml
from qpd.storage.session import Session
from qpd.storage.user import User
from qpd.web import common
from qpd.web.directory import Directory
from qpd.web.hit import Hit
from qpd.web.profile import Profile
from qpd.web.publish import Publisher, RespondNow
from qpd.web.request import HTTPRequest
from qpd.web.signin import PASSWORD_FIELD, USER_FIELD


class SiteDirectory(Directory):
    _q_exports = ['', 'boom', 'go', 'gone', 'say', 'now', 'secure_page',
                  'form', 'basic', 'digest', 'out', 'signed']

    def _q_index(self):
        return 'index'

    def boom(self):
        raise ValueError('secret <detail>')

    def go(self):
        common.get_publisher().redirect('/there')

    def gone(self):
        common.get_publisher().not_found()

    def say(self):
        common.get_publisher().respond('Title', 'text')

    def now(self):
        common.get_response().set_body('prepared')
        common.get_publisher().respond_now()

    def secure_page(self):
        common.get_publisher().secure()
        return 'secure'

    def form(self):
        common.get_publisher().ensure_signed_in_using_form()
        return 'form: ' + common.get_user().get_id()

    def basic(self):
        common.get_publisher().ensure_signed_in_using_basic()
        return 'basic'

    def digest(self):
        common.get_publisher().ensure_signed_in_using_digest()
        return 'digest'

    def signed(self):
        common.ensure_signed_in()
        return 'signed'

    def out(self):
        common.get_publisher().sign_out('/')


class SitePublisher(Publisher):
    configuration = {'max_retries': 2, 'retry_delay': 0.0}


class Recording(SitePublisher):
    """Overrides QP's hooks with QP's signatures and records the calls."""

    def __init__(self, *args, **kwargs):
        SitePublisher.__init__(self, *args, **kwargs)
        self.calls = []

    def fill_response(self):
        self.calls.append('fill_response')
        SitePublisher.fill_response(self)

    def fill_response_with_session_present(self):
        self.calls.append('fill_response_with_session_present')
        SitePublisher.fill_response_with_session_present(self)

    def handle_exception(self):
        self.calls.append('handle_exception')
        SitePublisher.handle_exception(self)

    def log_exception(self):
        self.calls.append('log_exception')

    def hide_exception(self):
        self.calls.append('hide_exception')
        SitePublisher.hide_exception(self)

    def display_exception(self):
        self.calls.append('display_exception')
        SitePublisher.display_exception(self)

    def log_hit(self):
        self.calls.append('log_hit')

    def header(self, title, **kwargs):
        return xml('<h1 class="site">%s</h1>') % title

    def footer(self, **kwargs):
        return xml('<p class="site-footer"></p>')


def profile_of(cls=SitePublisher, **environ):
    profile = Profile(cls())
    profile.headers.update(environ)     # environ keys of every request
    return profile


def add_user(publisher, user_id='ann', password='secret', digest=False):
    publisher.ensure_initialized()
    user = publisher.create_user(user_id)
    user.set_password(password, realm=publisher.get_realm(),
                      http_digest=digest)
    publisher.get_users()[user_id] = user
    publisher.commit()
    return user


def test_respond_now_exception():
    response = profile_of().get('/now')
    assert response.get_status_code() == 200 and response.get_body() == \
        b'prepared'
    assert issubclass(RespondNow, Exception)


def test_configuration():
    class Configured(SitePublisher):
        configuration = dict(webmaster_address='web@example.org')
    assert Configured().get_webmaster_address() == 'web@example.org'


def test_publisher_constructor():
    publisher = SitePublisher()
    assert common.get_publisher() is publisher      # registered
    assert publisher.get_connection() is not None   # temporary storage
    assert '' in publisher.get_users()              # initialised
    assert isinstance(publisher.get_root_directory(), SiteDirectory)


def test_get_connection_site_hit():
    publisher = SitePublisher()
    assert publisher.get_site() is None and publisher.get_hit() is None
    hit = Hit(HTTPRequest(None, {'REQUEST_METHOD': 'GET'}))
    publisher.set_hit(hit)
    assert publisher.get_hit() is hit
    assert publisher.get_connection().get_root() is publisher.get_root()


def test_get_root_directory():
    module = sys.modules[__name__]

    class SiteRootDirectory(Directory):
        pass
    publisher = SitePublisher()
    assert isinstance(publisher.get_root_directory(), SiteDirectory)
    saved = module.SiteDirectory
    try:
        del module.SiteDirectory
        module.SiteRootDirectory = SiteRootDirectory
        assert isinstance(SitePublisher().get_root_directory(),
                          SiteRootDirectory)          # QP's name
    finally:
        module.SiteDirectory = saved
        del module.SiteRootDirectory


def test_set_hit():
    publisher = SitePublisher()
    hit = Hit(HTTPRequest(None, {}))
    publisher.set_hit(hit)
    assert publisher.get_hit() is hit and common.get_hit() is hit


def test_get_webmaster_address():
    import socket
    assert SitePublisher().get_webmaster_address() == \
        'webmaster@' + socket.getfqdn()


def test_get_debug_address():
    # qpd: the debug_address setting, None by default (README).
    assert SitePublisher().get_debug_address() is None

    class Debugging(SitePublisher):
        configuration = dict(debug_address='dev@example.org')
    assert Debugging().get_debug_address() == 'dev@example.org'


def test_is_email_enabled():
    assert SitePublisher().is_email_enabled() is False


def test_get_smtp_server():
    assert SitePublisher().get_smtp_server() == 'localhost'


def test_ensure_initialized():
    publisher = SitePublisher()
    publisher.ensure_initialized()
    root = publisher.get_root()
    assert 'sessions' in root and 'users' in root
    null = root['users']['']
    assert isinstance(null, User) and not null
    assert not publisher.get_connection().changed       # committed


def test_commit():
    publisher = SitePublisher()
    publisher.get_root()['x'] = 1
    publisher.commit()
    publisher.abort()
    assert publisher.get_root()['x'] == 1


def test_abort():
    publisher = SitePublisher()
    publisher.ensure_initialized()
    publisher.get_root()['y'] = 1
    publisher.abort()
    assert 'y' not in publisher.get_root()


def test_get_root():
    publisher = SitePublisher()
    assert publisher.get_root() is publisher.get_connection().get_root()


def test_get_sessions():
    profile = profile_of()
    add_user(profile.get_publisher())
    profile.submit('/form', **{USER_FIELD: 'ann', PASSWORD_FIELD: 'secret'})
    sessions = profile.get_publisher().get_sessions()
    assert len(sessions) == 1
    assert all(isinstance(session, Session) for session in sessions.values())


def test_get_users():
    publisher = SitePublisher()
    ann = add_user(publisher)
    assert publisher.get_users()['ann'] is ann


def test_respond_now():
    publisher = SitePublisher()
    with pytest.raises(RespondNow):
        publisher.respond_now()


def test_process_hit():
    publisher = Recording()
    hit = Hit(HTTPRequest(None, Profile(publisher).make_environ('GET', '/')))
    publisher.process_hit(hit)
    assert hit.get_response().get_body() == b'index'
    assert publisher.calls == ['fill_response',
                               'fill_response_with_session_present', 'log_hit']


def test_create_user():
    publisher = SitePublisher()
    user = publisher.create_user('bob')
    assert isinstance(user, User) and user.get_id() == 'bob'
    assert 'bob' not in publisher.get_users()            # not stored


def test_create_session():
    publisher = SitePublisher()
    publisher.set_hit(Hit(HTTPRequest(None, {'REMOTE_ADDR': '10.0.0.1'})))
    session = publisher.create_session()
    assert isinstance(session, Session)
    assert session not in publisher.get_sessions().values()


def test_fill_response():
    # Finds the session the cookie names, calls the next hook, stores a
    # session that needs saving under a fresh cookie.
    profile = profile_of(Recording)
    add_user(profile.get_publisher())
    response = profile.submit('/form', **{USER_FIELD: 'ann',
                                          PASSWORD_FIELD: 'secret'})
    assert response.get_status_code() == 302
    name = profile.get_publisher().get_session_cookie_name()
    cookie = profile.get_cookies()[name]
    assert profile.get_publisher().get_sessions()[cookie].get_owner().get_id() \
        == 'ann'
    assert profile.get_text(profile.get('/form')) == 'form: ann'


def test_fill_response_with_session_present():
    profile = profile_of(Recording)
    publisher = profile.get_publisher()
    hit = Hit(HTTPRequest(None, dict(profile.make_environ('GET', '/'),
                                     PATH_INFO='', QUERY_STRING='a=1')))
    publisher.process_hit(hit)
    assert hit.get_response().get_status_code() == 301
    assert hit.get_response().get_header('Location') == '/?a=1'   # qpd
    assert profile.get('/missing').get_status_code() == 404
    # QP's check_path_info_with_no_slash (issue 23: was http://wa/a); the
    # Location is site-relative without allowed_hosts (issue 27 #8).
    hit = Hit(HTTPRequest(None, dict(SCRIPT_NAME='', PATH_INFO='a',
                                     SERVER_NAME='w')))
    publisher.process_hit(hit)
    assert hit.get_response().get_status_code() == 301
    # qpd: site-relative without allowed_hosts (issue 27 #8)
    assert hit.get_response().get_header('Location') == '/a'


def test_handle_exception(caplog):
    profile = profile_of(Recording)
    response = profile.get('/boom')
    assert response.get_status_code() == 500
    calls = profile.get_publisher().calls
    assert calls[calls.index('handle_exception'):] == [
        'handle_exception', 'log_exception', 'hide_exception', 'log_hit']
    publisher = SitePublisher()
    publisher.set_hit(Hit(HTTPRequest(None, {})))
    try:
        raise ConflictError()
    except ConflictError:
        with pytest.raises(ConflictError):      # retried, never a 500
            publisher.handle_exception()


def test_display_exceptions():
    assert SitePublisher().display_exceptions() is False


def test_display_exception():
    class Showing(Recording):
        configuration = dict(display_exceptions=True)
    profile = profile_of(Showing)
    response = profile.get('/boom')
    assert 'display_exception' in profile.get_publisher().calls
    # qpd: an HTML page (qpd.web.debug) holding the report (README).
    assert response.get_status_code() == 500
    assert 'secret &lt;detail&gt;' in profile.get_text(response)
    assert 'Traceback' in profile.get_text(response)


def test_hide_exception():
    profile = profile_of()
    response = profile.get('/boom')
    text = profile.get_text(response)
    assert response.get_status_code() == 500
    assert 'secret' not in text and 'sorry' in text


def test_log_exception(caplog):
    profile = profile_of()
    with caplog.at_level(logging.ERROR):
        profile.get('/boom')
    assert 'secret <detail>' in caplog.text and 'Traceback' in caplog.text


def test_format_exception_report():
    publisher = SitePublisher()
    hit = Hit(HTTPRequest(None, {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/p',
                                 'QUERY_STRING': 'q=1',
                                 'HTTP_COOKIE': 'secret=1'}))
    hit.get_info()['note'] = 'noted'
    publisher.set_hit(hit)
    try:
        raise KeyError('k')
    except KeyError:
        report = publisher.format_exception_report()
    assert 'GET /p?q=1' in report and 'Traceback' in report
    assert "KeyError: 'k'" in report and "note: 'noted'" in report
    assert 'PATH_INFO: /p' in report and 'secret=1' not in report


def test_send_to_administrator(monkeypatch):
    sent = []
    import qpd.lib.mail as mail
    monkeypatch.setattr(mail, 'sendmail',
                        lambda subject, body, **kw: sent.append(
                            (subject, body, kw)))

    class Mailing(SitePublisher):
        configuration = dict(email_enabled=True,
                             webmaster_address='web@example.org')
    Mailing().send_to_administrator('it broke\nbadly')
    assert sent and sent[0][1] == 'it broke\nbadly'
    assert sent[0][2]['to'] == 'web@example.org'
    assert 'it broke' in sent[0][0]


def test_log_hit(caplog):
    profile = profile_of()
    with caplog.at_level(logging.INFO):
        profile.get('/')
    line = caplog.records[-1].getMessage()
    assert '"GET / HTTP/1.1" 200 5' in line


def test_secure():
    class Secure(SitePublisher):
        configuration = {'https_address': ('', 8443),
                         'allowed_hosts': ['localhost']}
    profile = profile_of(Secure)
    response = profile.get('/secure_page', a='b')
    assert response.get_status_code() == 302
    assert response.get_header('Location') == \
        'https://localhost:8443/secure_page?a=b'


def test_complete_url():
    class Named(SitePublisher):      # qpd: the Host is checked, so used
        configuration = {'allowed_hosts': ['h.org']}
    publisher = Named()
    publisher.set_hit(Hit(HTTPRequest(None, {
        'SCRIPT_NAME': '/app', 'PATH_INFO': '/a/b', 'HTTP_HOST': 'h.org'})))
    assert publisher.complete_url('c') == 'http://h.org/app/a/c'
    assert publisher.complete_url('/c') == 'http://h.org/app/c'
    assert publisher.complete_url('http://x.org/') == 'http://x.org/'


def test_redirect():
    profile = profile_of(SCRIPT_NAME='/app')
    response = profile.get('/go')
    assert response.get_status_code() == 302
    assert response.get_header('Location') == '/app/there'    # qpd
    assert 'there' in profile.get_text(response)


def test_not_found():
    response = profile_of().get('/gone')
    assert response.get_status_code() == 404
    assert b'<title>Not Found</title>' in response.get_body()


def test_respond():
    profile = profile_of(Recording)
    response = profile.get('/say')
    assert response.get_status_code() == 400
    assert profile.get_text(response) == \
        '<h1 class="site">Title</h1>text<p class="site-footer"></p>'


def test_header():
    assert '<title>T</title>' in SitePublisher().header('T')


def test_footer():
    assert SitePublisher().footer().strip().endswith('</html>')


def test_page():
    publisher = Recording()
    assert publisher.page('T', 'a&b', xml('<br>')) == \
        '<h1 class="site">T</h1>a&amp;b<br><p class="site-footer"></p>'


def test_sign_out():
    profile = profile_of()
    add_user(profile.get_publisher())
    profile.submit('/form', **{USER_FIELD: 'ann', PASSWORD_FIELD: 'secret'})
    response = profile.get('/out')
    assert response.get_status_code() == 302
    assert response.get_header('Location') == '/'             # qpd
    assert profile.get('/form').get_status_code() == 403


def test_ensure_signed_in_using_form():
    profile = profile_of()
    add_user(profile.get_publisher())
    response = profile.get('/form')
    assert response.get_status_code() == 403
    assert '<title>Please Sign In</title>' in profile.get_text(response)
    response = profile.submit('/form', **{USER_FIELD: 'ann',
                                          PASSWORD_FIELD: 'wrong'})
    assert response.get_status_code() == 403
    response = profile.submit('/form', **{USER_FIELD: 'ann',
                                          PASSWORD_FIELD: 'secret'})
    assert response.get_status_code() == 302
    assert profile.get_text(profile.get('/form')) == 'form: ann'


def test_sign_in_form_ignores_another_forms_post():
    # Form takes any POST as submitted (QP); the sign-in form, shown on
    # any page, only a POST with its own fields: the page's own form posted
    # after the session expired is no failed sign-in.
    from qpd.web.signin import SIGN_IN_FAILED
    profile = profile_of()
    add_user(profile.get_publisher())
    response = profile.post('/form', note='from the page')
    assert response.get_status_code() == 403
    text = profile.get_text(response)
    assert '<title>Please Sign In</title>' in text
    assert SIGN_IN_FAILED not in text and 'has-error' not in text
    assert 'role="alert"' not in text
    # its own fields, even empty, are a (failed) submission
    response = profile.post('/form', **{USER_FIELD: '', PASSWORD_FIELD: ''})
    assert 'has-error' in profile.get_text(response)


def test_ensure_signed_in_using_basic():
    import base64
    profile = Profile(SitePublisher(), scheme='https')
    add_user(profile.get_publisher())
    response = profile.get('/basic')
    assert response.get_status_code() == 401
    assert response.get_header('WWW-Authenticate').startswith('Basic realm=')
    token = base64.b64encode(b'ann:secret').decode()
    response = profile.request('GET', '/basic',
                               headers={'Authorization': 'Basic ' + token})
    assert profile.get_text(response) == 'basic'
    assert profile_of().get('/basic').get_status_code() == 403   # http


def test_ensure_signed_in_using_digest():
    profile = Profile(SitePublisher(), scheme='https')
    response = profile.get('/digest')
    assert response.get_status_code() == 401
    challenges = [value for name, value in response.get_header_list()
                  if name == 'WWW-Authenticate']
    assert any('algorithm=MD5' in value for value in challenges)
    assert any('qop="auth"' in value for value in challenges)


def test_ensure_signed_in():
    response = profile_of().get('/signed')
    assert response.get_status_code() == 403            # qpd: the form
    assert b'type="password"' in response.get_body()
