"""QP compatibility: qp.pub.common -> qpd.web.common, one test per entry
of docs/qp_api.md, pinning the contract QP's API states."""

import pytest

from qpd.qpy import xml
from qpd.web import common
from qpd.web.directory import Directory
from qpd.web.profile import Profile
from qpd.web.publish import Publisher


class SiteDirectory(Directory):
    _q_exports = ['', 'who', 'path', 'go', 'away', 'missing', 'missing_body',
                  'say', 'say_ok', 'guarded']

    def _q_index(self):
        return 'index'

    def who(self):
        user = common.get_user()
        return '%r %s' % (bool(user), user.get_id())

    def path(self):
        return '|'.join([common.get_path(), common.get_path(1),
                         common.get_path(-1)])

    def go(self):
        common.redirect('/there')

    def away(self):
        common.redirect('http://example.org/x', permanent=True)

    def missing(self):
        common.not_found()

    def missing_body(self):
        common.not_found('No such <thing>')

    def say(self):
        common.respond('Said', 'hello')

    def say_ok(self):
        common.respond('Said', 'hello', status=200)

    def guarded(self):
        common.ensure_signed_in()
        return 'in'


class SitePublisher(Publisher):
    pass


def make_profile(**environ):
    publisher = SitePublisher()
    profile = Profile(publisher)
    profile.headers.update(environ)     # environ keys of every request
    return profile


def test_set_publisher():
    publisher = SitePublisher()
    other = SitePublisher()
    common.set_publisher(publisher)
    assert common.get_publisher() is publisher
    assert other is not publisher


def test_clear_publisher():
    SitePublisher()
    common.clear_publisher()
    assert common.get_publisher() is None and common.get_hit() is None


def test_get_publisher():
    publisher = SitePublisher()         # made outside a server: current
    assert common.get_publisher() is publisher


def test_get_hit():
    profile = make_profile()
    profile.get('/')
    assert common.get_hit() is profile.get_publisher().get_hit()


def test_get_request():
    profile = make_profile()
    profile.get('/who')
    assert common.get_request().get_path() == '/who'


def test_get_request_outside_a_hit_raises():
    # QP's contract: never None; outside a hit, an AttributeError
    SitePublisher()
    with pytest.raises(AttributeError) as raised:
        common.get_request()
    assert 'find_request()' in str(raised.value)
    with pytest.raises(AttributeError):
        common.get_response()
    assert common.find_request() is None
    profile = make_profile()
    profile.get('/who')
    assert common.find_request() is common.get_request()


def test_get_response():
    profile = make_profile()
    response = profile.get('/who')
    assert common.get_response() is response


def test_get_session():
    profile = make_profile()
    profile.get('/')
    session = common.get_session()
    assert session is not None and session is common.get_hit().get_session()


def test_get_user():
    # Nobody signed in: the falsy null User, never None; users[''] is it.
    profile = make_profile()
    assert profile.get_text(profile.get('/who')) == 'False '
    assert common.get_user() is profile.get_publisher().get_users()['']


def test_get_site():
    SitePublisher()
    assert common.get_site() is None


def test_get_path():
    profile = make_profile()
    assert profile.get_text(profile.get('/path')) == '/path||/path'


def test_redirect():
    profile = make_profile(SCRIPT_NAME='/app')
    response = profile.get('/go')
    assert response.get_status_code() == 302
    # qpd: without allowed_hosts, a site-relative Location, never built
    # on the client's Host (docs/qp_api.md).
    assert response.get_header('Location') == '/app/there'
    response = profile.get('/away')
    assert response.get_status_code() == 301
    assert response.get_header('Location') == 'http://example.org/x'


def test_not_found():
    profile = make_profile()
    response = profile.get('/missing')
    assert response.get_status_code() == 404
    assert '<title>Not Found</title>' in profile.get_text(response)
    response = profile.get('/missing_body')
    assert 'No such &lt;thing&gt;' in profile.get_text(response)


def test_header():
    SitePublisher()
    assert isinstance(common.header('T <x>'), xml)
    assert '<title>T &lt;x&gt;</title>' in common.header('T <x>')


def test_footer():
    SitePublisher()
    assert common.footer().endswith('</html>\n')


def test_page():
    SitePublisher()
    page = common.page('T', 'a<b', xml('<i>c</i>'))
    assert page.startswith(common.header('T'))
    assert 'a&lt;b<i>c</i>' in page and page.endswith(common.footer())


def test_respond():
    profile = make_profile()
    response = profile.get('/say')
    assert response.get_status_code() == 400       # QP's default
    assert 'hello' in profile.get_text(response)
    assert profile.get('/say_ok').get_status_code() == 200


def test_ensure_signed_in():
    profile = make_profile()
    response = profile.get('/guarded')
    assert response.get_status_code() == 403       # the sign-in form
    assert 'type="password"' in profile.get_text(response)
