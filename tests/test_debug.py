"""The technical 500 page (qpd.web.debug): traceback with source lines and
locals, the request, everything quoted, secrets masked."""

import io
import sys

from qpd.web.debug import MASK, format_debug_page, get_frames, is_sensitive
from qpd.web.request import HTTPRequest


def make_request(query='a=%3Cb%3E&password=hunter2', **headers):
    environ = {'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '',
               'PATH_INFO': '/boom', 'QUERY_STRING': query,
               'SERVER_NAME': 'example.com', 'SERVER_PORT': '80',
               'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.1',
               'wsgi.url_scheme': 'http'}
    environ.update(('HTTP_' + k.upper(), v) for k, v in headers.items())
    request = HTTPRequest(io.BytesIO(b''), environ)
    request.process_inputs()
    return request


def fail(thing, api_token, environ=None):
    markup = '<script>alert(1)</script>'
    raise ValueError('bad <value> %s' % thing)


def page_for(request):
    try:
        fail([1, 2], 'tok-%d' % 123456, request.get_environ())
    except ValueError:
        return format_debug_page(sys.exc_info(), request)


def test_page_shows_traceback_source_and_quoted_locals():
    page = page_for(make_request(user_agent='curl/8'))
    assert page.startswith('<!DOCTYPE html>')
    assert 'ValueError at /boom' in page
    assert 'bad &lt;value&gt; [1, 2]' in page
    assert "raise ValueError(&#39;bad &lt;value&gt; %s&#39; % thing)" in page
    assert 'class="current"' in page
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page
    assert '<script>' not in page
    assert 'User-Agent' in page and 'curl/8' in page
    assert '&lt;b&gt;' in page                       # the field, quoted


def test_secrets_are_masked_everywhere():
    request = make_request(cookie='site_session=c00kie-value',
                           authorization='Basic QWxhZGRpbjpzZXNhbWU=')
    page = page_for(request)
    for secret in ('c00kie-value', 'QWxhZGRpbjpzZXNhbWU=', 'hunter2',
                   'tok-123456'):
        assert secret not in page, secret
    assert 'site_session' in page and MASK in page


def test_frames_and_sensitive_names():
    try:
        fail('x', 'y')
    except ValueError:
        frames = get_frames(sys.exc_info()[2])
    last = frames[-1]
    assert last['function'] == 'fail'
    assert dict(last['locals'])['api_token'] == MASK
    assert dict(last['locals'])['thing'] == "'x'"
    assert any(n == last['lineno'] for n, _ in last['lines'])
    assert is_sensitive('password') and is_sensitive('HTTP_COOKIE')
    assert not is_sensitive('thing')


def test_qpy_template_lines(tmp_path, monkeypatch):
    import qpd  # noqa: F401  (the .qpy import hook)
    (tmp_path / 'debug_page_tpl.qpy').write_text(
        'def render:xml(items):\n'
        '    "<ul>"\n'
        '    for item in items:\n'
        '        "<li>%s</li>" % (1 / item)\n'
        '    "</ul>"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    import debug_page_tpl
    try:
        debug_page_tpl.render([1, 0])
    except ZeroDivisionError:
        page = format_debug_page(sys.exc_info(), None)
    assert 'debug_page_tpl.qpy' in page
    assert '&quot;&lt;li&gt;%s&lt;/li&gt;&quot; % (1 / item)' in page or \
        '(1 / item)' in page


def test_a_failing_repr_does_not_break_the_page():
    class Bad:
        def __repr__(self):
            raise RuntimeError('no repr')

    def go(bad):
        raise KeyError('k')
    try:
        go(Bad())
    except KeyError:
        page = format_debug_page()
    assert 'repr failed: RuntimeError' in page
