"""qpd.web.request: HTTPRequest, an HTTP request as the application sees it.

An HTTPRequest is built from a CGI-style environ (what a WSGI server passes)
and a binary body stream. Fields come from the query string and from
urlencoded and multipart/form-data bodies; uploaded files become Upload
instances, spooled to a temporary file past a size threshold. Anything
malformed raises an HTTPError with a 4xx status (BadRequest is also a
ValueError, what QP raised), never another exception.

QP's names are here with QP's contracts: `get_path(n)`, `get_encoding`,
`get_accepted_types`, the functions `get_content_type(environ)`,
`parse_header`, `parse_content_disposition`, `make_safe_filename`, and
an Upload with QP's attributes (`orig_filename`, `base_filename`,
`content_type`, `charset`, `fp`) and file methods. `parse_query` gives
QP's dict; `parse_query_pairs` the ordered pairs qpd parses bodies with.
"""

import re
import tempfile
from urllib.parse import quote, unquote_to_bytes

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import (
    MultipartParser, MultipartState, parse_options_header)

from qpd.web.errors import BadRequest, HTTPError, RequestEntityTooLarge

__all__ = ['HTTPRequest', 'Upload', 'parse_query', 'parse_query_pairs',
           'parse_cookies', 'parse_header', 'parse_content_disposition',
           'get_content_type', 'make_safe_filename', 'DEFAULT_CHARSET']

DEFAULT_CHARSET = 'utf-8'   # the only charset qpd accepts for form data

_BAD_PERCENT = re.compile(rb'%(?![0-9A-Fa-f]{2})')
_HOST = re.compile(r'[A-Za-z0-9.\-_]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?')
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=?]([0-9A-Za-z'()+_,\-./:=? ]{0,68}"
                       r"[0-9A-Za-z'()+_,\-./:=?])?")
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# What a URL path keeps unquoted (RFC 3986 pchar and "/").
URL_SAFE = "/:@!$&'()*+,;=-._~"
_ONE_LEADING_SLASH = re.compile(r'^(?:[/\\]{2,}|(?![/\\]))')
_CHUNK = 64 * 1024
_FORM_URLENCODED = 'application/x-www-form-urlencoded'
_MULTIPART = 'multipart/form-data'


def _to_bytes(text):
    """(text:str | bytes) -> bytes
    The raw bytes of a WSGI-style str (latin-1 stands for bytes).
    """
    if isinstance(text, bytes):
        return text
    try:
        return text.encode('latin-1')
    except UnicodeEncodeError:
        return text.encode('utf-8', 'surrogateescape')


def _decode(raw, what):
    """(raw:bytes, what:str) -> str
    raw decoded as UTF-8, or BadRequest naming what was not UTF-8.
    """
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        raise BadRequest('%s is not UTF-8' % what) from None


def _unquote(raw, what):
    """(raw:bytes, what:str) -> bytes
    raw with '+' as space and %XX escapes decoded; a '%' that does not start
    a valid escape is a BadRequest.
    """
    if b'+' in raw:
        raw = raw.replace(b'+', b' ')
    if b'%' in raw:
        if _BAD_PERCENT.search(raw):
            raise BadRequest('bad percent-encoding in %s' % what)
        raw = unquote_to_bytes(raw)
    return raw


def parse_query_pairs(query, max_fields=1000, max_field_length=1024 * 1024):
    """(query:str | bytes, max_fields:int=1000, max_field_length:int=1048576) -> list[(str, str)]
    The (name, value) pairs of an application/x-www-form-urlencoded string
    (a query string or a form body), in order. Pieces are separated by '&';
    empty pieces are skipped and a piece without '=' has the value ''.
    Raises BadRequest for bad percent-encoding, text that is not UTF-8, or
    more than max_fields pairs, and RequestEntityTooLarge for a name or value
    longer than max_field_length bytes.
    """
    raw = _to_bytes(query)
    if not raw:
        return []
    pairs = []
    for piece in raw.split(b'&'):
        if not piece:
            continue
        if len(pairs) >= max_fields:
            raise BadRequest('too many fields')
        name, _, value = piece.partition(b'=')
        name = _unquote(name, 'field name')
        value = _unquote(value, 'field value')
        if len(name) > max_field_length or len(value) > max_field_length:
            raise RequestEntityTooLarge('field too long')
        pairs.append((_decode(name, 'field name'), _decode(value, 'field value')))
    return pairs


def parse_query(qs, charset=DEFAULT_CHARSET, max_fields=1000,
                max_field_length=1024 * 1024):
    """(qs:str | bytes, charset:str='utf-8', ...) -> dict[str, str | list]
    QP's parse_query: the fields of a query string, a name given more than
    once having the list of its values. Only UTF-8 (and its subset ASCII)
    is accepted (BadRequest, a ValueError, for another charset).
    """
    if charset and charset.lower().replace('_', '-') not in (
            'utf-8', 'utf8', 'ascii', 'us-ascii'):
        raise BadRequest('charset %r: form data must be UTF-8' % (charset,))
    fields = {}
    for name, value in parse_query_pairs(qs, max_fields, max_field_length):
        _add_field(fields, name, value)
    return fields


def _add_field(fields, name, value):
    """(fields:dict, name:str, value) -> None: a name given once has its
    value; given again, the list of its values (QP's fields)."""
    if name in fields:
        present = fields[name]
        if isinstance(present, list):
            present.append(value)
        else:
            fields[name] = [present, value]
    else:
        fields[name] = value


_PARAMETER = re.compile(
    r';\s*([^\s;=]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;]*))?')


def parse_header(line):
    """(line:str) -> (str, dict[str, str])
    A Content-Type-like header split into its value (stripped) and its
    parameters (names in lower case, quotes and backslash escapes
    removed): 'text/plain; charset="utf-8"' -> ('text/plain',
    {'charset': 'utf-8'}).
    """
    value, sep, rest = line.partition(';')
    params = {}
    for match in _PARAMETER.finditer(sep + rest):
        name, given = match.group(1).lower(), match.group(2) or ''
        given = given.strip()
        if len(given) >= 2 and given[0] == given[-1] == '"':
            given = re.sub(r'\\(.)', r'\1', given[1:-1])
        params[name] = given
    return value.strip(), params


def parse_content_disposition(full_cdisp):
    """(full_cdisp:str) -> (str, str | None)
    (name, filename) of a form-data Content-Disposition header; ValueError
    when it is not form-data or names no field.
    """
    kind, params = parse_header(full_cdisp)
    if kind.lower() != 'form-data':
        raise ValueError('expected form-data Content-Disposition: %r'
                         % (full_cdisp,))
    name = params.get('name')
    if name is None:
        raise ValueError('no name in Content-Disposition: %r' % (full_cdisp,))
    return name, params.get('filename')


def get_content_type(environ):
    """(environ:dict) -> str | None
    The media type of CONTENT_TYPE in lower case, without parameters, or
    None when there is none.
    """
    value = environ.get('CONTENT_TYPE')
    if not value:
        return None
    return value.partition(';')[0].strip().lower() or None


_UNSAFE_FILENAME = re.compile(r'[^A-Za-z0-9._-]')


def make_safe_filename(s):
    """(s:str) -> str
    s with every character outside letters, digits, '.', '_' and '-'
    replaced by '_'.
    """
    return _UNSAFE_FILENAME.sub('_', s)


def _parse_weighted(header):
    """(header:str | None) -> dict[str, float]
    The items of an Accept-like header with their quality (1.0 unless
    given). An item whose quality is malformed (`q=.9.9`) is left out, as
    in QP.
    """
    result = {}
    for item in (header or '').split(','):
        value, params = parse_header(item)
        if not value:
            continue
        try:
            quality = float(params.get('q', '1'))
        except ValueError:
            continue
        if quality != quality:      # nan
            continue
        result[value.lower()] = quality
    return result


def parse_cookies(header):
    """(header:str | bytes) -> dict[str, str]
    The cookies of a Cookie header. Junk is skipped, never raised on: a
    piece without '=', a name that is not an HTTP token, or a value that is
    not UTF-8 is left out. The first of several cookies of one name wins.
    A value in double quotes loses its quotes; RFC 2109 attributes
    ($Version, $Path...) are skipped.
    """
    cookies = {}
    if not header:
        return cookies
    if isinstance(header, bytes):
        header = header.decode('latin-1')
    for piece in header.split(';'):
        name, sep, value = piece.partition('=')
        if not sep:
            continue
        name = name.strip(' \t')
        if name.startswith('$'):
            continue    # an RFC 2109 attribute ($Version, $Path)
        if name in cookies or not _COOKIE_NAME.fullmatch(name):
            continue
        value = value.strip(' \t')
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1]
        if not value.isascii():
            try:
                value = _to_bytes(value).decode('utf-8')
            except UnicodeDecodeError:
                continue
        cookies[name] = value
    return cookies


class Upload:
    """(orig_filename:str, content_type:str=None, charset:str=None, name:str=None)
    A file uploaded in a multipart/form-data body. Its content is kept in
    memory up to max_memory_size bytes and in a temporary file beyond.
    QP's attributes: orig_filename (as the client sent it), base_filename
    (its last path component), content_type, charset, fp (the file); the
    file methods read, readline, readlines and iteration read from fp,
    which is at the start once the upload is received.
    """

    max_memory_size = 256 * 1024

    def __init__(self, orig_filename, content_type=None, charset=None,
                 name=None):
        self.orig_filename = orig_filename
        self.base_filename = _clean_filename(orig_filename or '')
        self.filename = self.base_filename
        self.content_type = content_type
        self.charset = charset
        self.name = name
        self.size = 0
        self.fp = self.file = tempfile.SpooledTemporaryFile(
            max_size=self.max_memory_size)

    def __repr__(self):
        return '<Upload %r %s %d bytes>' % (
            self.filename, self.content_type, self.size)

    def get_filename(self):
        """() -> str
        The file's base name as the client gave it (any directory part that
        a client sent along is removed).
        """
        return self.filename

    def get_content_type(self):
        """() -> str | None"""
        return self.content_type

    def get_field_name(self):
        """() -> str | None"""
        return self.name

    def get_size(self):
        """() -> int"""
        return self.size

    def get_file(self):
        """() -> file
        The binary file object holding the content, positioned at its start.
        """
        self.file.seek(0)
        return self.file

    def receive(self, lines):
        """(lines:iterable of bytes) -> None
        Copy lines into the content (QP), leaving the file at its start.
        """
        for line in lines:
            self.write(line)
        self.file.seek(0)

    def read(self, n=-1):
        """(n:int=-1) -> bytes
        Up to n bytes from the current position (all that is left when n
        is negative), as a file's read.
        """
        return self.file.read(n)

    def readline(self, n=-1):
        """(n:int=-1) -> bytes: the next line of the content"""
        return self.file.readline(n)

    def readlines(self, hint=-1):
        """(hint:int=-1) -> list[bytes]: the remaining lines"""
        return self.file.readlines(hint)

    def __iter__(self):
        return iter(self.file)

    def write(self, data):
        """(data:bytes)
        Append data to the content.
        """
        self.file.write(data)
        self.size += len(data)

    def is_in_memory(self):
        """() -> bool"""
        return not getattr(self.file, '_rolled', False)

    def close(self):
        """()
        Release the content (and its temporary file).
        """
        self.file.close()


def _clean_filename(filename):
    """(filename:str) -> str
    The last component of a path that a client may send as a file name.
    """
    filename = filename.replace('\\', '/').rsplit('/', 1)[-1]
    return filename.replace('\x00', '')


class _MultipartReader:
    """(request:HTTPRequest, boundary:bytes)
    Feeds a multipart/form-data body through python_multipart's parser and
    adds its parts to request's fields.
    """

    def __init__(self, request, boundary):
        self.request = request
        self.on_part_begin()
        self.parser = MultipartParser(boundary, callbacks=dict(
            on_part_begin=self.on_part_begin,
            on_header_field=self.on_header_field,
            on_header_value=self.on_header_value,
            on_header_end=self.on_header_end,
            on_headers_finished=self.on_headers_finished,
            on_part_data=self.on_part_data,
            on_part_end=self.on_part_end))

    def write(self, chunk):
        try:
            self.parser.write(chunk)
        except HTTPError:
            raise
        except (FormParserError, ValueError, IndexError, KeyError) as error:
            raise BadRequest('malformed multipart body: %s' % error) from None

    def finish(self):
        if self.parser.state != MultipartState.END:
            raise BadRequest('truncated or malformed multipart body')

    def close(self):
        """()
        Release the upload of a part left unfinished.
        """
        if self.upload is not None:
            self.upload.close()
            self.upload = None

    def on_part_begin(self):
        self.headers = []
        self.header_name = b''
        self.header_value = b''
        self.name = None
        self.upload = None
        self.data = []
        self.length = 0

    def on_header_field(self, data, start, end):
        self.header_name += data[start:end]

    def on_header_value(self, data, start, end):
        self.header_value += data[start:end]

    def on_header_end(self):
        self.headers.append((self.header_name.lower(), self.header_value))
        self.header_name = b''
        self.header_value = b''

    def on_headers_finished(self):
        request = self.request
        request._count_field()
        disposition = content_type = None
        for name, value in self.headers:
            if name == b'content-disposition':
                disposition = value
            elif name == b'content-type':
                content_type = value
        kind, params = parse_options_header(disposition)
        if kind != b'form-data' or b'name' not in params:
            return  # not a form field: its data is skipped
        self.name = _decode(params[b'name'], 'field name')
        if b'filename' in params:
            filename = _decode(params[b'filename'], 'file name')
            charset = None
            if content_type is not None:
                content_type = _decode(content_type, 'content type').strip() or None
            if content_type is not None:
                content_type, type_params = parse_header(content_type)
                content_type = content_type or None
                charset = type_params.get('charset')
            self.upload = Upload(filename, content_type, charset, self.name)

    def on_part_data(self, data, start, end):
        if self.name is None:
            return
        if self.upload is not None:
            self.upload.write(data[start:end])
        else:
            self.length += end - start
            if self.length > self.request.max_field_length:
                raise RequestEntityTooLarge('field too long')
            self.data.append(data[start:end])

    def on_part_end(self):
        if self.name is None:
            return
        if self.upload is not None:
            upload = self.upload
            self.upload = None
            if upload.orig_filename or upload.size:
                upload.file.seek(0)
                self.request._add_field(self.name, upload)
            else:
                upload.close()  # a file input left empty
        else:
            value = _decode(b''.join(self.data), 'field value')
            self.request._add_field(self.name, value)
        self.name = None


class HTTPRequest:
    """(body:file-like, environ:dict, max_request_size:int=None, max_fields:int=None, max_field_length:int=None)
    An HTTP request: environ is CGI style (as a WSGI server passes it) and
    body a binary stream holding at least CONTENT_LENGTH bytes. The limits
    default to the class attributes of the same name.
    """

    max_request_size = 20 * 1024 * 1024
    max_fields = 1000
    max_field_length = 1024 * 1024

    def __init__(self, body, environ, max_request_size=None, max_fields=None,
                 max_field_length=None):
        self.body_file = body
        self.environ = environ
        if max_request_size is not None:
            self.max_request_size = max_request_size
        if max_fields is not None:
            self.max_fields = max_fields
        if max_field_length is not None:
            self.max_field_length = max_field_length
        self.fields = None
        self.field_count = 0
        self.body = None
        self.cookies = None
        self.path_info = None

    def __repr__(self):
        return '<HTTPRequest %s %s>' % (
            self.environ.get('REQUEST_METHOD', 'GET'),
            self.environ.get('SCRIPT_NAME', '') + self.environ.get('PATH_INFO', ''))

    # The environ

    def get_environ(self, name=None, default=None):
        """(name:str=None, default=None) -> str | dict
        The environ value of name (or default); without a name, the environ.
        """
        if name is None:
            return self.environ
        return self.environ.get(name, default)

    def get_method(self):
        """() -> str
        The request method in upper case, such as 'GET'.
        """
        return self.environ.get('REQUEST_METHOD', 'GET').upper()

    def get_scheme(self):
        """() -> str
        'https' when the request came over https (HTTPS is on, or the
        url scheme is https), else 'http'.
        """
        environ = self.environ
        if environ.get('HTTPS', '').lower() in ('on', '1', 'yes', 'true'):
            return 'https'
        if environ.get('wsgi.url_scheme') == 'https':
            return 'https'
        return 'http'

    def is_secure(self):
        """() -> bool
        Whether the scheme is https.
        """
        return self.get_scheme() == 'https'

    def get_server(self):
        """() -> str
        The host (and port, when not the scheme's default) that the client
        asked for: the Host header when it looks like a host name, else
        SERVER_NAME and SERVER_PORT.
        """
        host = self.environ.get('HTTP_HOST')
        if host and len(host) <= 255 and _HOST.fullmatch(host):
            return host.lower()
        name = self.environ.get('SERVER_NAME') or 'localhost'
        port = str(self.environ.get('SERVER_PORT') or '')
        default = '443' if self.get_scheme() == 'https' else '80'
        if port and port != default:
            return '%s:%s' % (name, port)
        return name

    def get_script_name(self):
        """() -> str
        The path prefix where the application is mounted ('' at the root).
        """
        return self.environ.get('SCRIPT_NAME', '')

    def get_path_info(self):
        """() -> str
        The path below the script name, percent-decoded and decoded as UTF-8
        (BadRequest when it is not UTF-8).
        """
        if self.path_info is None:
            path_info = self.environ.get('PATH_INFO', '')
            if not path_info.isascii():
                path_info = _decode(_to_bytes(path_info), 'path')
            self.path_info = path_info
        return self.path_info

    def get_path(self, n=0):
        """(n:int=0) -> str
        The decoded path: the script name followed by the path info ('/'
        for the root, even when both are empty). As in QP, n > 0 drops n
        trailing components and n < 0 keeps the first -n; ValueError when
        the path has fewer. It always starts with one '/': a PATH_INFO
        without one ('a') is '/a', so the request's URL is http://host/a,
        not http://hosta; and a leading run of slashes (or backslashes,
        which browsers read as slashes) is one '/': '//evil.example/x'
        would be another host's URL wherever the path is used as one (a
        form's action, a redirect).
        """
        path = _ONE_LEADING_SLASH.sub(
            '/', self.get_script_name() + self.get_path_info()) or '/'
        if n == 0:
            return path
        components = path.split('/')
        if abs(n) > len(components) - 1:
            raise ValueError('n=%d too big for path %r' % (n, path))
        if n > 0:
            return '/'.join(components[:-n])
        return '/'.join(components[:-n + 1])

    def get_query(self):
        """() -> str
        The raw query string, without the '?' ('' when there is none).
        """
        return self.environ.get('QUERY_STRING', '')

    def get_path_query(self):
        """() -> str
        The path, percent-encoded for use in a URL, followed by '?' and the
        query string when there is one.
        """
        path = quote(self.get_path(), safe=URL_SAFE)
        query = self.get_query()
        if query:
            return path + '?' + query
        return path

    def get_url(self):
        """() -> str
        The full URL of the request: scheme, server, path and query.
        """
        return '%s://%s%s' % (
            self.get_scheme(), self.get_server(), self.get_path_query())

    def get_remote_address(self):
        """() -> str | None
        The address of the client (REMOTE_ADDR).
        """
        return self.environ.get('REMOTE_ADDR')

    def get_header(self, name, default=None):
        """(name:str, default=None) -> str | None
        The value of the request header called name (in any case), as the
        server passed it (a latin-1 str standing for bytes), or default.
        As in QP, the CGI spelling works too: 'HTTP_USER_AGENT', or an
        environ key such as 'CONTENT_TYPE'.
        """
        key = name.upper().replace('-', '_')
        value = self.environ.get(key)
        if isinstance(value, str) and key.isupper():
            return value
        if key.startswith('HTTP_'):
            return default
        return self.environ.get('HTTP_' + key, default)

    def get_content_type(self):
        """() -> str
        The media type of the body in lower case, without parameters ('' when
        there is none; the function get_content_type(environ) gives None).
        """
        return get_content_type(self.environ) or ''

    def get_encoding(self, encodings):
        """(encodings:sequence of str) -> str | None
        The first of encodings (such as 'gzip') that the client accepts by
        its Accept-Encoding header, else None.
        """
        accepted = _parse_weighted(self.get_header('Accept-Encoding'))
        for encoding in encodings:
            quality = accepted.get(encoding.lower(), accepted.get('*'))
            if quality:
                return encoding
        return None

    def get_accepted_types(self):
        """() -> dict[str, float]
        The Accept header as {media type: quality}.
        """
        return _parse_weighted(self.get_header('Accept'))

    def get_content_length(self):
        """() -> int | None
        CONTENT_LENGTH as a number (None when absent); BadRequest when it is
        not a non-negative number, RequestEntityTooLarge when it is more than
        max_request_size.
        """
        value = self.environ.get('CONTENT_LENGTH', '')
        if isinstance(value, str):
            value = value.strip()
        if value == '' or value is None:
            return None
        if isinstance(value, int):
            length = value
        elif value.isascii() and value.isdigit():
            length = int(value)
        else:
            raise BadRequest('bad Content-Length')
        if length < 0:
            raise BadRequest('bad Content-Length')
        if length > self.max_request_size:
            raise RequestEntityTooLarge('request body too large')
        return length

    # Cookies

    def get_cookies(self):
        """() -> dict[str, str]
        The cookies the client sent; malformed ones are left out.
        """
        if self.cookies is None:
            self.cookies = parse_cookies(self.environ.get('HTTP_COOKIE', ''))
        return self.cookies

    def get_cookie(self, name, default=None):
        """(name:str, default=None) -> str | None"""
        return self.get_cookies().get(name, default)

    # The body and the fields

    def _read(self, size):
        """(size:int) -> bytes
        size bytes of the body stream; BadRequest if it ends before.
        """
        data = self.body_file.read(size) if size else b''
        if len(data) < size:
            parts = [data]
            got = len(data)
            while got < size:
                more = self.body_file.read(size - got)
                if not more:
                    raise BadRequest('truncated request body')
                parts.append(more)
                got += len(more)
            data = b''.join(parts)
        return data

    def _read_chunks(self):
        """() -> iterator of bytes
        The body stream in chunks, checked against CONTENT_LENGTH and
        max_request_size.
        """
        length = self.get_content_length()
        if length is None:
            if not self.environ.get('wsgi.input_terminated'):
                return
            limit = self.max_request_size
            total = 0
            while True:
                chunk = self.body_file.read(_CHUNK)
                if not chunk:
                    return
                total += len(chunk)
                if total > limit:
                    raise RequestEntityTooLarge('request body too large')
                yield chunk
        while length > 0:
            chunk = self._read(min(length, _CHUNK))
            length -= len(chunk)
            yield chunk

    def get_body(self):
        """() -> bytes
        The request body (read once, then kept). A multipart/form-data body
        is streamed into the fields instead, so after process_inputs() it
        gives b''.
        """
        if self.body is None:
            self.body = b''.join(self._read_chunks())
        return self.body

    def _count_field(self):
        self.field_count += 1
        if self.field_count > self.max_fields:
            raise BadRequest('too many fields')

    def _add_field(self, name, value):
        _add_field(self.fields, name, value)

    def process_inputs(self):
        """()
        Parse the query string and a urlencoded or multipart/form-data body
        into fields (the second and later calls do nothing). Raises
        HTTPError with a 4xx status for anything malformed or too large.
        """
        if self.fields is not None:
            return
        self.fields = {}
        try:
            # A malformed Content-Length is refused whatever the method
            # (QP's ValueError: BadRequest is one).
            self.get_content_length()
            query = self.environ.get('QUERY_STRING', '')
            if query:
                self._add_pairs(query)
            content_type = self.environ.get('CONTENT_TYPE', '')
            if content_type:
                self._process_body(content_type)
        except HTTPError:
            self.close()
            self.fields = {}
            raise

    def _add_pairs(self, raw):
        pairs = parse_query_pairs(raw, self.max_fields - self.field_count,
                            self.max_field_length)
        self.field_count += len(pairs)
        for name, value in pairs:
            self._add_field(name, value)

    def _process_body(self, content_type):
        media_type = content_type.partition(';')[0].strip().lower()
        if media_type == _FORM_URLENCODED:
            self._add_pairs(self.get_body())
        elif media_type == _MULTIPART:
            boundary = self._get_boundary(content_type)
            reader = _MultipartReader(self, boundary)
            try:
                if self.body is None:
                    self.body = b''
                    for chunk in self._read_chunks():
                        reader.write(chunk)
                else:
                    reader.write(self.body)
                reader.finish()
            finally:
                reader.close()

    def _get_boundary(self, content_type):
        try:
            _, params = parse_options_header(content_type)
        except (UnicodeError, ValueError):
            raise BadRequest('bad Content-Type') from None
        boundary = params.get(b'boundary', b'').decode('latin-1')
        if not _BOUNDARY.fullmatch(boundary):
            raise BadRequest('bad multipart boundary')
        return boundary.encode('ascii')

    def get_fields(self):
        """() -> dict[str, str | Upload | list]
        All fields: a repeated field has a list of values, an uploaded file
        an Upload. Processes the inputs first if that is not done yet.
        """
        if self.fields is None:
            self.process_inputs()
        return self.fields

    def get_field(self, name, default=None):
        """(name:str, default=None) -> str | Upload | list | None"""
        return self.get_fields().get(name, default)

    def get_field_list(self, name):
        """(name:str) -> list
        The values of field name as a list (empty when it is absent).
        """
        value = self.get_fields().get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return value
        return [value]

    def close(self):
        """()
        Release the temporary files of uploads.
        """
        for value in (self.fields or {}).values():
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, Upload):
                    item.close()

