"""qpd.web.profile: Profile, a browser without a network.

    profile = Profile(site)                 # or Profile(publisher)
    response = profile.get('/')             # an HTTPResponse, finished
    response = profile.post('/sign_in', qpd_sign_in_user='ann', ...)
    response = profile.submit('/sign_in', qpd_sign_in_user='ann', ...)
                                            # get the form, post with its token
    profile.get_body(response)              # bytes
    Profile(site, profile=True).get('/')    # prints cProfile statistics

Each call builds a WSGI-style environ and an HTTPRequest, runs
`publisher.process_hit` in this process, keeps the cookies the response
sets (as a browser would, by name; an expired one is dropped) and sends
them with the next calls, and returns the response.
"""

import cProfile
import html
import io
import pstats
import re
import sys
from urllib.parse import urlencode, urlsplit

from qpd.lib.http import format_head
from qpd.web.hit import Hit
from qpd.web.request import HTTPRequest

__all__ = ['Profile', 'format_response']

_FORM_TOKEN = re.compile(r'name="_form_token" value="([^"]*)"')


def format_response(response):
    """(response:HTTPResponse) -> bytes
    The response as an HTTP/1.1 server would send it, without Date and
    Server headers: status line, headers, blank line, body.
    """
    head = format_head('HTTP/1.1 %s %s' % (
        response.get_status_code(), response.get_reason_phrase()),
        response.get_header_list())
    return head + b''.join(response.iter_body())


class Profile:
    """(site_or_publisher, profile=False, host='localhost', scheme='http',
        remote_address='127.0.0.1', stream=None)
    With profile, each hit runs under cProfile and the statistics are
    printed to stream (default stdout).
    """

    sort_by = 'cumulative'
    limit = 40

    def __init__(self, site_or_publisher, profile=False, host='localhost',
                 scheme='http', remote_address='127.0.0.1', stream=None):
        if hasattr(site_or_publisher, 'process_hit'):
            self.publisher = site_or_publisher
        else:
            self.publisher = site_or_publisher.make_publisher()
        self.profile = profile
        self.host = host
        self.scheme = scheme
        self.remote_address = remote_address
        self.stream = stream
        self.cookies = {}
        self.headers = {}

    def get_publisher(self):
        """() -> Publisher"""
        return self.publisher

    def get_cookies(self):
        """() -> dict: the cookies the next request will send"""
        return self.cookies

    def set_header(self, name, value):
        """(name:str, value:str | None) -> None
        Send this header with every later request (None: stop sending it).
        """
        key = 'HTTP_' + name.upper().replace('-', '_')
        if value is None:
            self.headers.pop(key, None)
        else:
            self.headers[key] = value

    def get(self, path, **fields):
        """(path:str, **fields) -> HTTPResponse: fields go in the query"""
        return self.request('GET', path, fields=fields)

    def head(self, path, **fields):
        """(path:str, **fields) -> HTTPResponse"""
        return self.request('HEAD', path, fields=fields)

    def post(self, path, **fields):
        """(path:str, **fields) -> HTTPResponse: fields go in the body,
        form-urlencoded"""
        return self.request('POST', path, fields=fields)

    def submit(self, path, **fields):
        """(path:str, **fields) -> HTTPResponse
        What a person does: get the page at path, then post fields to it
        with the one-time token of the form on it."""
        fields.setdefault('_form_token', self.get_form_token(path))
        return self.post(path, **fields)

    def get_form_token(self, path):
        """(path:str) -> str | None: the token of the first form that
        carries one on the page at path."""
        match = _FORM_TOKEN.search(self.get_text(self.get(path)))
        return html.unescape(match.group(1)) if match else None

    def make_environ(self, method, path, query='', body=b'',
                     content_type=None, headers=None, scheme=None):
        """(method:str, path:str, query:str='', body:bytes=b'',
            content_type:str=None, headers:dict=None, scheme:str=None)
            -> dict"""
        scheme = scheme or self.scheme
        host, _, port = self.host.partition(':')
        if not port:
            port = '443' if scheme == 'https' else '80'
        environ = {
            'REQUEST_METHOD': method,
            'SCRIPT_NAME': self.publisher.get_config('script_name'),
            'PATH_INFO': path,
            'QUERY_STRING': query,
            'SERVER_NAME': host,
            'SERVER_PORT': port,
            'SERVER_PROTOCOL': 'HTTP/1.1',
            'REMOTE_ADDR': self.remote_address,
            'HTTP_HOST': self.host,
            'wsgi.url_scheme': scheme,
            'wsgi.input': io.BytesIO(body),
        }
        if scheme == 'https':
            environ['HTTPS'] = 'on'
        if body or method == 'POST':
            environ['CONTENT_LENGTH'] = str(len(body))
            environ['CONTENT_TYPE'] = (
                content_type or 'application/x-www-form-urlencoded')
        if self.cookies:
            environ['HTTP_COOKIE'] = '; '.join(
                '%s=%s' % item for item in self.cookies.items())
        environ.update(self.headers)
        for name, value in (headers or {}).items():
            environ['HTTP_' + name.upper().replace('-', '_')] = value
        return environ

    def request(self, method, url, fields=None, body=None, content_type=None,
                headers=None, scheme=None):
        """(method:str, url:str, fields:dict=None, body:bytes=None,
            content_type:str=None, headers:dict=None, scheme:str=None)
            -> HTTPResponse
        url is a path, with a query if you like; fields go in the query
        for GET and HEAD, else in the body (unless body is given).
        """
        parts = urlsplit(url)
        path = parts.path or '/'
        script_name = self.publisher.get_config('script_name')
        if script_name and path.startswith(script_name):
            path = path[len(script_name):]
        query = parts.query
        if fields and method in ('GET', 'HEAD'):
            query = '&'.join(filter(None, [query, urlencode(fields,
                                                            doseq=True)]))
        elif fields and body is None:
            body = urlencode(fields, doseq=True).encode('utf-8')
        environ = self.make_environ(
            method, _unquote_path(path), query, body or b'', content_type,
            headers, scheme)
        request = HTTPRequest(environ['wsgi.input'], environ)
        hit = Hit(request)
        if self.profile:
            profiler = cProfile.Profile()
            profiler.runcall(self.publisher.process_hit, hit)
            stream = self.stream or sys.stdout
            stats = pstats.Stats(profiler, stream=stream)
            stats.sort_stats(self.sort_by).print_stats(self.limit)
        else:
            self.publisher.process_hit(hit)
        response = hit.get_response()
        self.keep_cookies(response)
        return response

    def keep_cookies(self, response):
        """(response:HTTPResponse) -> None"""
        for name, value in response.get_header_list():
            if name.lower() != 'set-cookie':
                continue
            pair, _, attributes = value.partition(';')
            cookie_name, _, cookie_value = pair.partition('=')
            attributes = attributes.lower().replace(' ', '')
            if ('max-age=0' in attributes.split(';') or not cookie_value):
                self.cookies.pop(cookie_name.strip(), None)
            else:
                self.cookies[cookie_name.strip()] = cookie_value.strip()

    def get_body(self, response):
        """(response:HTTPResponse) -> bytes
        The whole body; the response is closed after it.
        """
        try:
            return b''.join(response.iter_body())
        finally:
            response.close()

    def get_text(self, response):
        """(response:HTTPResponse) -> str: the body, decoded"""
        return self.get_body(response).decode(response.get_charset())


def _unquote_path(path):
    """As a WSGI server does: percent-decoded, as latin-1 str of the bytes."""
    from urllib.parse import unquote_to_bytes
    return unquote_to_bytes(path).decode('latin-1')
