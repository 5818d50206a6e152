"""Publisher without a network: pages, errors, redirects, retries, logging,
URLs, mail. Most use the in-memory database a Publisher made without a
connection has."""

import logging

import pytest
from durus.error import ConflictError, ReadConflictError

from qpd.qpy import xml
from qpd.web import common
from qpd.web.common import (
    complete_url, get_hit, get_publisher, get_request, get_response, redirect,
    respond)
from qpd.web.directory import Directory
from qpd.web.hit import Hit
from qpd.web.profile import Profile, format_response
from qpd.web.publish import Publisher
from qpd.web.request import HTTPRequest


class SiteDirectory(Directory):

    _q_exports = ['', 'boom', 'go', 'moved', 'page', 'conflict', 'swallow',
                  'secure', 'urls', 'bytes', 'nothing']

    conflicts_left = 0

    def _q_index(self):
        assert get_publisher().get_hit() is get_hit()
        return xml('<p>Hello, %s!</p>') % get_request().get_field('name', 'world')

    def boom(self):
        raise ValueError('secret detail <b>')

    def go(self):
        redirect('page?x=1')

    def moved(self):
        redirect('/elsewhere', permanent=True)

    def page(self):
        respond('Title <t>', xml('<em>'), 'a & b', xml('</em>'), status=202)

    def conflict(self):
        if SiteDirectory.conflicts_left > 0:
            SiteDirectory.conflicts_left -= 1
            raise ReadConflictError([b'\0' * 8])
        return 'through'

    def swallow(self):
        try:
            raise ConflictError()
        except ConflictError:
            raise RuntimeError('wrapped')   # not a conflict any more

    def secure(self):
        get_publisher().secure()
        return 'secure'

    def urls(self):
        return ' '.join([complete_url('x'), complete_url('/y', secure=True)])

    def bytes(self):
        get_response().set_content_type('application/octet-stream')
        return b'\x00\x01'

    def nothing(self):
        get_response().set_body('set directly')


class SitePublisher(Publisher):
    configuration = {'max_retries': 3, 'retry_delay': 0.0}


def test_hello_and_fields():
    profile = Profile(SitePublisher())
    response = profile.get('/', name='<you>')
    assert format_response(response) == (
        b'HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n'
        b'X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n'
        b"Content-Security-Policy: frame-ancestors 'none'\r\n"
        b'Content-Length: 26\r\n\r\n<p>Hello, &lt;you&gt;!</p>')
    assert common.get_publisher() is profile.get_publisher()
    assert profile.get_text(profile.post('/', name='post')) == \
        '<p>Hello, post!</p>'


def test_bodies_set_or_returned():
    profile = Profile(SitePublisher())
    assert profile.get_body(profile.get('/bytes')) == b'\x00\x01'
    # As in QP, a handler that returns None is not found.
    assert profile.get('/nothing').get_status_code() == 404
    response = profile.head('/')
    assert profile.get_body(response) == b''
    assert response.get_content_length() == 20


def test_http_errors_become_pages():
    profile = Profile(SitePublisher())
    response = profile.get('/missing')
    assert response.get_status_code() == 404
    assert b'<title>Not Found</title>' in profile.get_body(response)
    response = profile.get('/%ff')
    assert response.get_status_code() == 400


def test_exception_page_hides_details(caplog):
    profile = Profile(SitePublisher())
    with caplog.at_level(logging.ERROR, logger='qpd.publisher'):
        response = profile.get('/boom')
    assert response.get_status_code() == 500
    body = profile.get_text(response)
    assert 'secret detail' not in body and 'Traceback' not in body
    assert 'secret detail <b>' in caplog.text and 'Traceback' in caplog.text
    assert 'GET /boom' in caplog.text


def test_exception_page_shows_details_when_asked():
    class Displaying(SitePublisher):
        configuration = {'display_exceptions': True}
    publisher = Displaying()
    publisher.set_root_directory(SiteDirectory())
    profile = Profile(publisher)
    response = profile.get('/boom')
    body = profile.get_text(response)
    assert response.get_status_code() == 500
    assert response.get_content_type() == 'text/html'
    assert 'secret detail &lt;b&gt;' in body and 'Traceback' in body
    assert 'def boom' in body or 'boom' in body        # the frame


def test_exception_report_mailed_when_enabled():
    sent = []

    class Smtp:
        def sendmail(self, from_address, recipients, data):
            sent.append((from_address, recipients, data))
            return {}

        def quit(self):
            pass

    class Mailing(SitePublisher):
        configuration = {'email_enabled': True, 'smtp_server': Smtp(),
                         'webmaster_address': 'webmaster@example.com',
                         'administrator_address': 'admin@example.com'}
    publisher = Mailing()
    publisher.set_root_directory(SiteDirectory())
    assert publisher.is_email_enabled()
    assert publisher.get_webmaster_address() == 'webmaster@example.com'
    assert publisher.get_debug_address() is None
    Profile(publisher).get('/boom')
    assert len(sent) == 1
    from_address, recipients, data = sent[0]
    assert recipients == ['admin@example.com']
    assert b'secret detail' in data
    Profile(SitePublisher()).get('/boom')      # mail off: nothing sent
    assert len(sent) == 1


class Named(SitePublisher):
    configuration = dict(SitePublisher.configuration,
                         allowed_hosts=['example.com'])


def test_redirects_are_absolute_on_an_allowed_host():
    publisher = Named()
    publisher.set_root_directory(SiteDirectory())
    profile = Profile(publisher, host='example.com:8080')
    response = profile.get('/go')
    assert response.get_status_code() == 302
    assert response.get_header('Location') == 'http://example.com:8080/page?x=1'
    response = profile.get('/moved')
    assert response.get_status_code() == 301
    assert response.get_header('Location') == 'http://example.com:8080/elsewhere'


def test_redirects_are_site_relative_without_allowed_hosts():
    # The Host is the client's word (issue 27 #8): never in a Location.
    profile = Profile(SitePublisher(), host='evil.example:8080')
    response = profile.get('/go')
    assert response.get_status_code() == 302
    assert response.get_header('Location') == '/page?x=1'
    response = profile.get('/moved')
    assert response.get_status_code() == 301
    assert response.get_header('Location') == '/elsewhere'


def test_respond_sets_status_and_quotes():
    profile = Profile(SitePublisher())
    response = profile.get('/page')
    assert response.get_status_code() == 202
    body = profile.get_text(response)
    assert '<title>Title &lt;t&gt;</title>' in body
    assert '<em>a &amp; b</em>' in body


def test_conflicts_are_retried():
    SiteDirectory.conflicts_left = 2
    publisher = SitePublisher()
    profile = Profile(publisher)
    request = HTTPRequest(None, profile.make_environ('GET', '/conflict'))
    hit = Hit(request)
    publisher.process_hit(hit)
    assert profile.get_body(hit.get_response()) == b'through'
    assert hit.get_attempts() == 2 and publisher.get_retry_count() == 2
    SiteDirectory.conflicts_left = 10      # more than max_retries
    response = profile.get('/conflict')
    assert response.get_status_code() == 503
    assert response.get_header('Retry-After') == '1'
    SiteDirectory.conflicts_left = 0


def test_handle_exception_does_not_swallow_conflicts():
    publisher = SitePublisher()
    hit = Hit(HTTPRequest(None, Profile(publisher).make_environ('GET', '/')))
    publisher.set_hit(hit)
    try:
        raise ConflictError()
    except ConflictError:
        with pytest.raises(ConflictError):
            publisher.handle_exception()
    response = Profile(publisher).get('/swallow')
    assert response.get_status_code() == 500


def test_secure_and_complete_url():
    class Secure(SitePublisher):
        configuration = {'https_address': ('', 8443),
                         'allowed_hosts': ['example.com']}
    publisher = Secure()
    publisher.set_root_directory(SiteDirectory())
    profile = Profile(publisher, host='example.com')
    response = profile.get('/secure', a='b')
    assert response.get_status_code() == 302
    assert response.get_header('Location') == 'https://example.com:8443/secure?a=b'
    https = Profile(publisher, host='example.com', scheme='https')
    assert https.get_text(https.get('/secure')) == 'secure'
    assert profile.get_text(profile.get('/urls')) == (
        'http://example.com/x https://example.com:8443/y')
    named = Named()
    named.set_root_directory(SiteDirectory())
    plain = Profile(named, host='example.com')
    assert plain.get_text(plain.get('/secure')) == 'secure'
    assert plain.get_text(plain.get('/urls')) == (
        'http://example.com/x http://example.com/y')


def test_log_hit_combined_format(caplog):
    profile = Profile(SitePublisher(), remote_address='10.1.2.3')
    with caplog.at_level(logging.INFO, logger='qpd.publisher'):
        profile.request('GET', '/missing?q=1', headers={
            'Referer': 'http://a/"b', 'User-Agent': 'test agent'})
    line = caplog.records[-1].getMessage()
    import re
    assert re.fullmatch(
        r'10\.1\.2\.3 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] '
        r'"GET /missing\?q=1 HTTP/1\.1" 404 \d+ "http://a/\\"b" "test agent"',
        line), line


def test_log_hit_off_writes_no_line(caplog):
    class Quiet(SitePublisher):
        configuration = dict(SitePublisher.configuration,
                             access_log_format='off')
    lines = []
    publisher = Quiet()
    publisher.hit_log = lines.append
    profile = Profile(publisher)
    with caplog.at_level(logging.INFO, logger='qpd.publisher'):
        assert profile.request('GET', '/missing').get_status_code() == 404
    assert lines == []
    assert not [r for r in caplog.records if 'GET /missing' in r.getMessage()]


def test_configuration_defaults_and_names():
    publisher = SitePublisher()
    assert publisher.get_config('max_retries') == 3
    assert publisher.get_config('session_idle_timeout') == 7 * 24 * 3600
    assert publisher.get_realm() == 'qpd'
    assert publisher.get_session_cookie_name() == 'qpd_session'
    assert publisher.get_site() is None
    # As in QP, a publisher made without a connection has its own database.
    assert publisher.get_connection() is not None
    assert isinstance(publisher.get_root_directory(), SiteDirectory)
    assert Publisher.configuration == {}


def test_publisher_with_site_reads_site_configuration(publish_site):
    publisher = publish_site.make_publisher()
    name = publish_site.get_name()
    assert publisher.get_site() is publish_site
    assert publisher.get_realm() == name
    assert publisher.get_session_cookie_name() == name + '_session'
    assert publisher.get_config('durus_address') == \
        publish_site.get_durus_address()
    assert publisher.get_logger().name == 'qpd.site.' + name
    publisher.get_connection().get_storage().close()
