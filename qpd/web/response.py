"""qpd.web.response: HTTPResponse, the answer that a hit builds.

The application sets a status, headers, cookies and a body; the publisher
then calls finish(request), after which a server sends get_status_code(),
get_reason_phrase(), get_header_list() and the bytes from iter_body().

QP's names keep QP's contracts beside them: `get_status()`,
`get_mime_type()`, `set_compress()`, `set_buffered()`, `set_expires(seconds,
minutes, hours, days)`, `Stream` bodies, `generate_headers()`,
`generate_body_chunks()`, `write(output)` (a CGI-style response written
to a file) and the `status_reasons` table.
"""

import codecs
import re
import time
import zlib
from http import HTTPStatus
from urllib.parse import quote, urljoin, urlsplit

from qpd.lib.http import get_reason_phrase, http_date
from qpd.web.errors import HTTPError

__all__ = ['HTTPResponse', 'http_date', 'Stream', 'status_reasons']

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r'[\r\n\x00]')
_COOKIE_VALUE = re.compile(r'[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*')
_COOKIE_ATTRIBUTE_VALUE = re.compile(r'[\x20-\x3a\x3c-\x7e]*')
_LOCATION_SAFE = "/:@!$&'()*+,;=-._~?#%[]"
_NO_BODY = (204, 304)
_CHARSET_TYPES = ('application/xml', 'application/javascript',
                  'application/xhtml+xml', 'image/svg+xml')
_COMPRESSIBLE_TYPES = ('application/json', 'application/javascript',
                       'application/xml', 'application/xhtml+xml',
                       'image/svg+xml', 'application/rss+xml',
                       'application/atom+xml', 'application/manifest+json')
_SAMESITE = {'lax': 'Lax', 'strict': 'Strict', 'none': 'None'}



status_reasons = {status.value: status.phrase for status in HTTPStatus}


class Stream:
    """(iterable, length:int=None)
    A body sent as it is, chunk by chunk (QP): iterable gives bytes or str
    chunks; length, when given, becomes the Content-Length.
    """

    def __init__(self, iterable, length=None):
        self.iterable = iterable
        self.length = length

    def __iter__(self):
        return iter(self.iterable)

    def close(self):
        close = getattr(self.iterable, 'close', None)
        if close is not None:
            close()


def _check_name(name):
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise ValueError('bad header name %r' % (name,))


_NOT_GIVEN = object()


def _check_value(value):
    """(value:object) -> str
    value as a header value; ValueError when it holds CR, LF or NUL (header
    injection) or characters that do not fit in latin-1.
    """
    if not isinstance(value, str):
        if isinstance(value, bytes):
            value = value.decode('latin-1')
        else:
            value = str(value)
    if _BAD_VALUE.search(value):
        raise ValueError('CR, LF or NUL in header value %r' % (value,))
    if not value.isascii():
        try:
            value.encode('latin-1')
        except UnicodeEncodeError:
            raise ValueError('header value not latin-1: %r' % (value,)) from None
    return value


def _wants_charset(content_type):
    return content_type.startswith('text/') or content_type in _CHARSET_TYPES


def _is_compressible(content_type):
    media_type = content_type.partition(';')[0].strip().lower()
    return (media_type.startswith('text/') or media_type in _COMPRESSIBLE_TYPES
            or media_type.endswith('+xml') or media_type.endswith('+json'))


def _accepts_gzip(accept_encoding):
    """(accept_encoding:str | None) -> bool"""
    if not accept_encoding or 'gzip' not in accept_encoding.lower():
        return False
    for item in accept_encoding.lower().split(','):
        coding, _, params = item.partition(';')
        if coding.strip() != 'gzip':
            continue
        params = params.replace(' ', '')
        if params.startswith('q='):
            try:
                return float(params[2:]) > 0
            except ValueError:
                return False
        return True
    return False


class HTTPResponse:
    """()
    A response: 200, text/html in UTF-8, empty body, until told otherwise.
    """

    min_compress_size = 1024
    compress_level = 6
    chunk_size = 64 * 1024

    def __init__(self):
        self.status = 200
        self.reason = None
        self.headers = {'content-type': ('Content-Type', 'text/html; charset=utf-8')}
        self.more_headers = None
        self.given_values = None    # lower name -> value set, when not a str
        self.cookies = None
        self.charset = 'utf-8'
        self.body = b''
        self.head = False
        self.secure = False
        self.finished = False
        self.compress = None
        self.buffered = True

    def __repr__(self):
        return '<HTTPResponse %s>' % self.status

    # Status

    def set_status(self, status, reason=None):
        """(status:int, reason:str=None)
        The status code (100-599) and, optionally, a reason phrase other
        than the standard one. As in QP, TypeError for a status that is
        not an int ('200'), ValueError for one out of range.
        """
        if not isinstance(status, int) or isinstance(status, bool):
            raise TypeError('set_status(%r): the status is an int (200, '
                            'not %r)' % (status, status))
        if not 100 <= status <= 599:
            raise ValueError('bad status %r: expected 100-599' % (status,))
        if reason is not None:
            reason = _check_value(reason)
        self.status = status
        self.reason = reason

    def get_status_code(self):
        """() -> int"""
        return self.status

    def get_status(self):
        """() -> (int, str): the status code and reason phrase (QP)"""
        return self.status, self.get_reason_phrase()

    def get_reason_phrase(self):
        """() -> str"""
        if self.reason is not None:
            return self.reason
        return get_reason_phrase(self.status)

    # Headers

    def set_header(self, name, value):
        """(name:str, value:object)
        Set header name to value (sent as str(value)), replacing any
        earlier value. ValueError for a bad name or a value with CR, LF or
        NUL.
        """
        _check_name(name)
        key = name.lower()
        self.headers[key] = (name, _check_value(value))
        if not isinstance(value, str):
            self.given_values = dict(self.given_values or (), **{key: value})
        elif self.given_values:
            self.given_values.pop(key, None)
        if self.more_headers:
            self.more_headers = [
                item for item in self.more_headers if item[0].lower() != key]

    def add_header(self, name, value):
        """(name:str, value:str)
        Add a header line, keeping the lines of the same name set before.
        """
        _check_name(name)
        value = _check_value(value)
        if name.lower() not in self.headers:
            self.headers[name.lower()] = (name, value)
        else:
            if self.more_headers is None:
                self.more_headers = []
            self.more_headers.append((name, value))

    def get_header(self, name, default=None):
        """(name:str, default=None) -> object
        The (first) value of header name, in any case: as set_header was
        given it (QP's: set_header('foo', 1) gives 1), else the str sent.
        """
        key = name.lower()
        item = self.headers.get(key)
        if item is None:
            return default
        given = (self.given_values or {}).get(key, _NOT_GIVEN)
        if given is not _NOT_GIVEN and _check_value(given) == item[1]:
            return given
        return item[1]

    def del_header(self, name):
        """(name:str)
        Remove every line of header name.
        """
        key = name.lower()
        self.headers.pop(key, None)
        if self.more_headers:
            self.more_headers = [
                item for item in self.more_headers if item[0].lower() != key]

    def set_content_type(self, content_type, charset='utf-8'):
        """(content_type:str, charset:str | None='utf-8')
        The media type of the body. charset is the encoding of a str body;
        it is named in the header for text types. A content_type that has
        parameters is used as it is (its charset, if any, wins).
        """
        content_type = _check_value(content_type).strip()
        if ';' in content_type:
            value = content_type
            for parameter in content_type.split(';')[1:]:
                name, _, given = parameter.partition('=')
                if name.strip().lower() == 'charset' and given.strip(' "'):
                    charset = given.strip(' "')
        elif charset and _wants_charset(content_type.lower()):
            value = '%s; charset=%s' % (content_type, _check_value(charset))
        else:
            value = content_type
        if charset:
            try:
                codecs.lookup(charset)
            except LookupError:
                raise ValueError('unknown charset %r' % (charset,)) from None
        self.headers['content-type'] = ('Content-Type', value)
        self.charset = charset or 'utf-8'

    def get_content_type(self):
        """() -> str | None
        The media type of the body, without parameters.
        """
        value = self.get_header('Content-Type')
        if value is None:
            return None
        return value.partition(';')[0].strip()

    def get_mime_type(self):
        """() -> str | None: the media type, as get_content_type() (QP)"""
        return self.get_content_type()

    def get_charset(self):
        """() -> str"""
        return self.charset

    def set_compress(self, value):
        """(value:bool | None)
        Whether the body may be gzipped: True whenever the client accepts
        gzip, False never, None (the default) when it pays (a text body of
        at least min_compress_size bytes).
        """
        self.compress = None if value is None else bool(value)

    def get_compress(self):
        """() -> bool: whether the body may be gzipped (see set_compress)"""
        return self.compress is not False

    def set_buffered(self, value):
        """(value:bool)
        False makes write() flush its output after every chunk of a
        streamed body.
        """
        self.buffered = bool(value)

    def get_buffered(self):
        """() -> bool"""
        return self.buffered

    def set_expires(self, seconds=0, minutes=0, hours=0, days=0):
        """(seconds:int | None=0, minutes=0, hours=0, days=0)
        How long clients may cache the response (QP's arguments, added
        up): None leaves caching to them (no Cache-Control or Expires
        header), 0 or less asks them to check every time, more allows
        that many seconds of caching.
        """
        if seconds is not None:
            seconds += 60 * minutes + 3600 * hours + 86400 * days
        if seconds is None:
            self.del_header('Cache-Control')
            self.del_header('Expires')
        elif seconds <= 0:
            self.set_header('Cache-Control', 'no-cache')
            self.set_header('Expires', http_date())
        else:
            seconds = int(seconds)
            self.set_header('Cache-Control', 'max-age=%d' % seconds)
            self.set_header('Expires', http_date(time.time() + seconds))

    def set_location(self, location):
        """(location:str)
        The Location header; characters not allowed in a URL are
        percent-encoded, and finish() makes a relative location absolute.
        """
        self.set_header('Location', quote(location, safe=_LOCATION_SAFE))

    def redirect(self, location, permanent=False):
        """(location:str, permanent=False)
        Make this a 302 (301 when permanent) to location, with a short body.
        """
        self.set_status(301 if permanent else 302)
        self.set_location(location)
        self.set_content_type('text/html')
        self.set_body('<html><body><a href="%s">moved here</a></body></html>'
                      % self.get_header('Location').replace('"', '%22')
                      .replace('<', '%3C').replace('>', '%3E'))

    # Cookies

    def set_cookie(self, name, value, **attributes):
        """(name:str, value:str, **attributes)
        Send a cookie. Attributes (in Python spelling): path='/',
        domain=None, max_age=None, expires=None (a time in seconds or an
        HTTP date), secure=None (set by finish() under https),
        httponly=True, samesite='Lax', partitioned=False. ValueError when
        the name is not a token or the value holds characters that cookies
        cannot carry (quote or encode such values first). A number is sent
        as its str() (QP's set_cookie('a', 23)), None as the empty value.
        """
        if not isinstance(name, str) or not _TOKEN.fullmatch(name):
            raise ValueError('bad cookie name %r' % (name,))
        if value is None:
            value = ''
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _COOKIE_VALUE.fullmatch(value):
            raise ValueError('bad cookie value %r' % (value,))
        for obsolete in ('comment', 'version'):   # RFC 2109; browsers ignore
            attributes.pop(obsolete, None)
        settings = dict(path='/', domain=None, max_age=None, expires=None,
                        secure=None, httponly=True, samesite='Lax',
                        partitioned=False)
        for key, item in attributes.items():
            if key not in settings:
                raise TypeError('unknown cookie attribute %r' % key)
            settings[key] = item
        for key in ('path', 'domain'):
            item = settings[key]
            if item is not None and not (isinstance(item, str) and
                                         _COOKIE_ATTRIBUTE_VALUE.fullmatch(item)):
                raise ValueError('bad cookie %s %r' % (key, item))
        if settings['samesite'] is not None:
            samesite = _SAMESITE.get(str(settings['samesite']).lower())
            if samesite is None:
                raise ValueError('bad samesite %r' % (settings['samesite'],))
            settings['samesite'] = samesite
            if samesite == 'None' and settings['secure'] is None:
                settings['secure'] = True
        if settings['max_age'] is not None:
            settings['max_age'] = int(settings['max_age'])
        expires = settings['expires']
        if expires is not None:
            if isinstance(expires, (int, float)):
                settings['expires'] = http_date(expires)
            else:
                settings['expires'] = _check_value(expires)
                if ';' in expires:
                    raise ValueError('bad cookie expires %r' % (expires,))
        if self.cookies is None:
            self.cookies = {}
        self.cookies[name] = (value, settings)

    def expire_cookie(self, name, **attributes):
        """(name:str, **attributes)
        Tell the client to drop cookie name; path and domain must be the
        ones it was set with.
        """
        attributes.setdefault('max_age', 0)
        attributes.setdefault('expires', 0)
        self.set_cookie(name, '', **attributes)

    def get_cookies(self):
        """() -> dict[str, str]
        The values of the cookies set so far, by name.
        """
        return {name: item[0] for name, item in (self.cookies or {}).items()}

    def get_cookie_line(self, name):
        """(name:str) -> str | None
        The Set-Cookie value for cookie name, as it would be sent.
        """
        item = (self.cookies or {}).get(name)
        if item is None:
            return None
        return self._cookie_line(name, *item)

    def _cookie_line(self, name, value, settings):
        parts = ['%s=%s' % (name, value)]
        if settings['path'] is not None:
            parts.append('Path=' + settings['path'])
        if settings['domain'] is not None:
            parts.append('Domain=' + settings['domain'])
        if settings['max_age'] is not None:
            parts.append('Max-Age=%d' % settings['max_age'])
        if settings['expires'] is not None:
            parts.append('Expires=' + settings['expires'])
        secure = settings['secure']
        if secure or (secure is None and self.secure):
            parts.append('Secure')
        if settings['httponly']:
            parts.append('HttpOnly')
        if settings['samesite'] is not None:
            parts.append('SameSite=' + settings['samesite'])
        if settings['partitioned']:
            parts.append('Partitioned')
        return '; '.join(parts)

    # Body

    def set_body(self, body):
        """(body:str | xml | bytes | file | iterable | None)
        The body: text (encoded with the charset of set_content_type),
        bytes, a binary file (read in chunks, then closed) or an iterable of
        bytes or str chunks (streamed). Set a Content-Length header yourself
        to give the length of a streamed body.
        """
        if body is None:
            body = b''
        elif isinstance(body, Stream):
            if body.length is not None:
                self.set_header('Content-Length', str(int(body.length)))
        elif isinstance(body, (bytearray, memoryview)):
            body = bytes(body)
        elif not isinstance(body, (str, bytes)):
            if not hasattr(body, 'read') and not hasattr(body, '__iter__'):
                raise TypeError('cannot use %r as a body' % (body,))
        self.body = body

    def get_body(self):
        """() -> bytes | file | iterable
        The body: bytes for text and bytes bodies, else the stream as set.
        """
        body = self.body
        if isinstance(body, str):
            body = self.body = body.encode(self.charset)
        return body

    def is_streaming(self):
        """() -> bool
        Whether the body is a file or an iterable rather than bytes.
        """
        return not isinstance(self.body, (str, bytes))

    def get_content_length(self):
        """() -> int | None
        The length of the body when it is known: the size of a bytes body,
        the Content-Length header of a streamed one.
        """
        item = self.headers.get('content-length')
        if item is not None:
            return int(item[1])
        body = self.get_body()
        if isinstance(body, bytes):
            return len(body)
        return None

    # What servers use

    def finish(self, request=None):
        """(request:HTTPRequest=None)
        Make the response ready to send (the second and later calls do
        nothing): Secure cookies under https, an absolute Location (but
        a '/path' one, which stays site-relative),
        gzip when the client accepts it and it pays, Content-Length when
        the length is known, no body for HEAD and for 1xx, 204 and 304.
        """
        if self.finished:
            return
        self.finished = True
        headers = self.headers
        status = self.status
        body = self.body
        if isinstance(body, str):
            body = self.body = body.encode(self.charset)
        if request is not None:
            if self.cookies and request.get_scheme() == 'https':
                self.secure = True
            if 'location' in headers:
                location = headers['location'][1]
                # A site-relative '/path' stays so: the publisher leaves
                # it when the Host is unchecked (allowed_hosts unset).
                if not urlsplit(location).scheme and (
                        location[:1] != '/' or location[:2] == '//'):
                    try:
                        base = request.get_url()
                    except HTTPError:  # a path that is not UTF-8
                        base = None
                    if base is not None:
                        headers['location'] = ('Location', urljoin(base, location))
            if request.get_method() == 'HEAD':
                self.head = True
        if status < 200 or status in _NO_BODY:
            self._close_stream()
            self.body = b''
            headers.pop('content-length', None)
            headers.pop('content-type', None)
            return
        if isinstance(body, bytes):
            compress = self.compress
            if compress is None:
                compress = (len(body) >= self.min_compress_size and
                            _is_compressible(
                                headers.get('content-type', ('', ''))[1]))
            if (compress and body and status != 206
                    and 'content-encoding' not in headers):
                self._compress(request)
            headers['content-length'] = ('Content-Length', str(len(self.body)))
        if self.head:
            self._close_stream()

    def _compress(self, request):
        vary = self.get_header('Vary')
        if vary is None:
            self.set_header('Vary', 'Accept-Encoding')
        elif 'accept-encoding' not in vary.lower():
            self.set_header('Vary', vary + ', Accept-Encoding')
        if request is None or not _accepts_gzip(request.get_header('Accept-Encoding')):
            return
        compressed = zlib.compress(self.body, self.compress_level, wbits=31)
        if len(compressed) < len(self.body):
            self.body = compressed
            self.headers['content-encoding'] = ('Content-Encoding', 'gzip')
            etag = self.get_header('ETag')
            if etag and not etag.startswith('W/'):
                self.headers['etag'] = ('ETag', 'W/' + etag)

    def _close_stream(self):
        close = getattr(self.body, 'close', None)
        if close is not None and not isinstance(self.body, (str, bytes)):
            close()

    def close(self):
        """()
        Release a streamed body (close its file or iterator); servers call
        this when a body is not sent to the end, such as when the client
        went away.
        """
        self._close_stream()

    def is_finished(self):
        """() -> bool"""
        return self.finished

    def get_header_list(self):
        """() -> list[(str, str)]
        Every header line in order, Set-Cookie lines last.
        """
        lines = list(self.headers.values())
        if self.more_headers:
            lines.extend(self.more_headers)
        if self.cookies:
            for name, (value, settings) in self.cookies.items():
                lines.append(('Set-Cookie', self._cookie_line(name, value, settings)))
        return lines

    def iter_body(self):
        """() -> iterator of bytes
        The body in chunks (nothing for HEAD): a file is read chunk_size
        bytes at a time and closed at the end, str chunks are encoded.
        """
        if self.head:
            return iter(())
        body = self.get_body()
        if isinstance(body, bytes):
            return iter((body,)) if body else iter(())
        if hasattr(body, 'read'):
            return self._iter_file(body)
        return self._iter_items(body)

    def _iter_file(self, file):
        try:
            read = file.read
            size = self.chunk_size
            while True:
                chunk = read(size)
                if not chunk:
                    break
                yield chunk
        finally:
            file.close()

    def _iter_items(self, items):
        charset = self.charset
        try:
            for chunk in items:
                if isinstance(chunk, str):
                    chunk = chunk.encode(charset)
                if chunk:
                    yield bytes(chunk)
        finally:
            close = getattr(items, 'close', None)
            if close is not None:
                close()

    # QP's output methods

    def generate_headers(self):
        """() -> list[(str, str)]
        The header lines as QP sent them: Date, then the headers (with
        Content-Length when the length is known) and the cookies.
        """
        lines = [('Date', http_date())]
        lines.extend(self.get_header_list())
        if 'content-length' not in self.headers and not (
                self.status < 200 or self.status in _NO_BODY):
            length = self.get_content_length()
            if length is not None:
                lines.insert(len(lines) - len(self.cookies or ()),
                             ('Content-Length', str(length)))
        return lines

    def generate_body_chunks(self):
        """() -> iterator of bytes: the encoded body (see iter_body)"""
        return self.iter_body()

    def write(self, output, include_status=True, include_body=True):
        """(output:binary file, include_status=True, include_body=True)
        Write the response CGI style: a Status line (unless not
        include_status), the headers, a blank line and (unless not
        include_body) the body, flushing after every chunk when not
        get_buffered(). A text file is written through its buffer.
        """
        output = getattr(output, 'buffer', output)
        lines = []
        if include_status:
            lines.append('Status: %s %s' % self.get_status())
        lines.extend('%s: %s' % pair for pair in self.generate_headers())
        output.write(('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1'))
        if include_body:
            for chunk in self.generate_body_chunks():
                output.write(chunk)
                if not self.buffered:
                    output.flush()
        output.flush()
