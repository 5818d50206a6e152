"""qpd.server.protocol: the bytes of HTTP/1.x and SCGI requests and responses.

The dispatcher uses this module to find where a request ends and to refuse
malformed or ambiguous ones before any worker sees them; the worker uses it
to build the CGI environ from the bytes the dispatcher passed along.

HTTP heads are parsed by httptools (llhttp, strict mode). On top of it this
module adds the rules llhttp leaves to the server: only HTTP/1.0 and 1.1,
a plain request line, chunked only under HTTP/1.1 and only alone, one Host
(required under 1.1), no `Expect` but `100-continue`, size limits, and
header names holding `_` never reaching the environ (so `X-Auth_User`
cannot pose as `X-Auth-User`). Each refusal is an HTTPError whose status is
the answer (400, 413, 414, 417, 431, 501 or 505); the connection is then
closed.
"""

import re
from urllib.parse import unquote_to_bytes

import httptools

from qpd.config import LIMIT_KEYS, SCHEMA
from qpd.lib.address import get_client_address, in_networks
from qpd.lib.http import format_head, get_reason_phrase
from qpd.lib.speedups import native
from qpd.web.errors import HTTPError

__all__ = [
    'LIMIT_KEYS', 'LIMITS', 'get_limits', 'RequestHead', 'check_partial_head',
    'find_head_end', 'parse_http_head', 'parse_scgi',
    'scgi_pairs',
    'check_partial_scgi', 'make_base_environ', 'make_http_environ', 'make_scgi_environ',
    'parse_http_request', 'may_have_body', 'apply_forwarded',
    'format_error', 'format_status_line', 'split_target', 'get_target_host',
]

# LIMIT_KEYS: the configuration keys this module and the dispatcher read,
# those marked limit=True in qpd.config (with their defaults and ranges).
# Sizes in bytes, times in seconds.

# The defaults, for code and tests that parse without a site.
LIMITS = {key: SCHEMA[key].get_default() for key in LIMIT_KEYS}


def get_limits(site):
    """(site:Site|None) -> dict: the limits of site's configuration (already
    checked, so within what fits a worker message), else the defaults."""
    if site is None:
        return dict(LIMITS)
    return {key: site.get(key) for key in LIMIT_KEYS}


# HTTP heads ----------------------------------------------------------------

# method SP target SP HTTP/d.d CRLF, with single spaces and a token method.
_REQUEST_LINE = re.compile(
    rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+ [^\x00-\x20\x7f]+ HTTP/([0-9]\.[0-9])\r\n")
_DIGITS = re.compile(rb'[0-9]{1,18}')


def find_head_end(buf):
    """(buf:bytes) -> (buf:bytes, end:int)
    buf without the empty lines a client may send before a request (RFC
    9112, 2.2), and the index in it just past the blank line that ends the
    request head; end < 4 while the head is not all there. The one place
    that frames a head (the dispatcher's intake, a worker's held
    connections)."""
    while buf.startswith(b'\r\n'):
        buf = buf[2:]
    return buf, buf.find(b'\r\n\r\n') + 4


_BODY_HEADERS = re.compile(
    rb'\n[ \t]*(?:content-length|transfer-encoding|expect)', re.IGNORECASE)


def may_have_body(head):
    """(head:bytes) -> bool
    False when no line of the head names Content-Length, Transfer-Encoding
    or Expect, in any case: the request certainly ends with its head, and
    the dispatcher may hand it over without parsing it, for the worker to
    parse (parse_http_request refuses whatever parse_http_head would)."""
    return _BODY_HEADERS.search(head) is not None


def check_partial_head(buf, limits):
    """(buf:bytes, limits:dict) -> None
    Raise HTTPError when an incomplete head already cannot be accepted:
    a bare LF, or more bytes than the limits allow."""
    if buf.count(b'\n') != buf.count(b'\r\n'):
        raise HTTPError(400, 'bare LF in the request head')
    if len(buf) > limits['max_head_size']:
        if b'\r\n' not in buf:
            raise HTTPError(414, 'request line too long')
        raise HTTPError(431, 'request head too large')
    if b'\r\n' not in buf and len(buf) > limits['max_target_size'] + 64:
        raise HTTPError(414, 'request line too long')


class RequestHead:
    """What the dispatcher needs to know about a request head."""

    __slots__ = ('method', 'version', 'content_length', 'chunked',
                 'keep_alive', 'expect_continue', 'target')

    def __init__(self):
        self.method = b''
        self.version = '1.1'
        self.content_length = None
        self.chunked = False
        self.keep_alive = False
        self.expect_continue = False
        self.target = b''


class _HeadCallbacks:
    """httptools callbacks that keep the few headers the dispatcher checks."""

    __slots__ = ('url', 'lengths', 'codings', 'hosts', 'expect', 'complete',
                 'parser', 'keep_alive')

    def __init__(self):
        self.parser = None
        self.keep_alive = False
        self.url = b''
        self.lengths = 0
        self.codings = None
        self.hosts = 0
        self.expect = None
        self.complete = False

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        name = name.lower()
        if name == b'host':
            self.hosts += 1
        elif name == b'transfer-encoding':
            if self.codings is None:
                self.codings = []
            self.codings.extend(
                c.strip(b' \t').lower() for c in value.split(b','))
        elif name == b'content-length':
            self.lengths += 1
        elif name == b'expect':
            self.expect = value.strip(b' \t').lower()

    def on_headers_complete(self):
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()


def parse_http_head(head, limits):
    """(head:bytes, limits:dict) -> RequestHead
    head runs from the request line through the blank line. Raises HTTPError
    for anything malformed, ambiguous or over the limits."""
    return _check_head(head, limits, _HeadCallbacks())[0]


def parse_http_request(head, limits, base, script_name=''):
    """(head:bytes, limits:dict, base:dict, script_name:str='')
        -> (RequestHead, environ:dict)
    parse_http_head and make_http_environ in one pass of the parser: what a
    worker does with a request it read itself. Raises HTTPError like
    parse_http_head."""
    parsed = _parse_plain_request(head, limits, base, script_name)
    if parsed is not None:
        return parsed
    return _parse_full_request(head, limits, base, script_name)


def _parse_full_request(head, limits, base, script_name):
    """parse_http_request by httptools, for any head."""
    environ = dict(base)
    callbacks = _RequestCallbacks(environ)
    result, parser = _check_head(head, limits, callbacks)
    _finish_environ(environ, parser, callbacks.url, script_name)
    return result, environ


# The common request, read without httptools: GET or HEAD, an origin-form
# target of plain URL characters, HTTP/1.0 or 1.1, and header lines of a
# token, a colon and visible ASCII. A head that is all of that is valid,
# and it means the same to this reader as to llhttp; any other head (a
# body, an odd byte, a repeated Host, Upgrade, blanks at the end of a
# header value, which llhttp keeps) is left to the full parser,
# which answers it or refuses it. tests/test_server_fastpath.py checks that
# the two agree.
_PLAIN_REQUEST = re.compile(
    rb"(GET|HEAD) (/[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*) HTTP/1\.([01])\r\n"
    rb"((?:[!#$%&'*+.^_`|~0-9A-Za-z-]+:[ \t]*[\x21-\x7e](?:[\x20-\x7e\t]*"
    rb"[\x21-\x7e])?\r\n)*)\r\n")
_NOT_PLAIN = frozenset((b'content-length', b'transfer-encoding', b'expect',
                        b'upgrade'))
_CONNECTION_OPTIONS = {'close': False, 'keep-alive': True}


def _parse_plain_native(head, limits, base, script_name):
    """_parse_plain_python by qpd/lib/_speedups.c (qpd.lib.speedups)."""
    if type(head) is not bytes:     # the C reader takes bytes only
        return _parse_plain_python(head, limits, base, script_name)
    parsed = native.parse_plain(head, limits['max_head_size'],
                                limits['max_target_size'], base, script_name)
    if parsed is None:
        return None
    method, target, minor, keep_alive, environ = parsed
    result = RequestHead()
    result.method = method
    result.target = target
    result.version = '1.1' if minor else '1.0'
    result.keep_alive = keep_alive
    return result, environ


def _parse_plain_python(head, limits, base, script_name):
    """(head:bytes, limits:dict, base:dict, script_name:str)
        -> (RequestHead, environ:dict) | None
    parse_http_request for a head of the common kind (_PLAIN_REQUEST);
    None for any other head. The reference: _parse_plain_request is this
    function, or its C twin where qpd.lib.speedups was built."""
    match = _PLAIN_REQUEST.fullmatch(head)
    if match is None or len(head) > limits['max_head_size']:
        return None
    method, target, minor, lines = match.groups()
    if len(target) > limits['max_target_size']:
        return None
    environ = dict(base)
    hosts = 0
    for line in lines.split(b'\r\n')[:-1]:
        name, _, value = line.partition(b':')
        lower = name.lower()
        if lower in _NOT_PLAIN:
            return None
        if lower == b'host':
            hosts += 1
        _add_header(environ, name, value.lstrip(b' \t'))
    if hosts > 1 or (hosts == 0 and minor == b'1'):
        return None
    connection = environ.get('HTTP_CONNECTION')
    if connection is None:
        keep_alive = minor == b'1'
    else:
        keep_alive = _CONNECTION_OPTIONS.get(connection.lower())
        if keep_alive is None:
            return None
        if minor == b'1':
            keep_alive = keep_alive or connection.lower() != 'close'
    result = RequestHead()
    result.method = method
    result.target = target
    result.version = '1.1' if minor == b'1' else '1.0'
    result.keep_alive = keep_alive
    path, _, query = target.partition(b'?')
    if b'%' in path:
        path = unquote_to_bytes(path)
    environ['REQUEST_METHOD'] = method.decode()
    environ['SERVER_PROTOCOL'] = 'HTTP/' + result.version
    environ['REQUEST_URI'] = target.decode()
    environ['QUERY_STRING'] = query.decode()
    _set_path(environ, path.decode('latin-1'), script_name)
    return result, environ


_parse_plain_request = (_parse_plain_native if native is not None
                        else _parse_plain_python)


def _check_head(head, limits, callbacks):
    """(head:bytes, limits:dict, callbacks:_HeadCallbacks)
        -> (RequestHead, parser)"""
    if len(head) > limits['max_head_size']:
        raise HTTPError(431, 'request head too large')
    if head.count(b'\n') != head.count(b'\r\n'):
        raise HTTPError(400, 'bare LF in the request head')
    line_end = head.find(b'\r\n') + 2
    match = _REQUEST_LINE.fullmatch(head, 0, line_end)
    if not match:
        if line_end - 12 > limits['max_target_size']:
            raise HTTPError(414, 'request line too long')
        raise HTTPError(400, 'malformed request line')
    if match.group(1) not in (b'1.1', b'1.0'):
        raise HTTPError(505, 'HTTP/%s is not supported' %
                        match.group(1).decode())
    parser = callbacks.parser = httptools.HttpRequestParser(callbacks)
    try:
        parser.feed_data(head)
    except httptools.HttpParserUpgrade:
        pass    # Upgrade and CONNECT: refused below or served as plain
    except httptools.HttpParserError as e:
        status = 413 if 'overflow' in str(e) else 400
        raise HTTPError(status, str(e)) from None
    if not callbacks.complete:
        raise HTTPError(400, 'incomplete request head')
    result = RequestHead()
    result.method = parser.get_method()
    result.target = callbacks.url
    version = parser.get_http_version()
    if version not in ('1.1', '1.0'):
        raise HTTPError(505, 'HTTP/%s is not supported' % version)
    result.version = version
    if len(callbacks.url) > limits['max_target_size']:
        raise HTTPError(414, 'request target too long')
    if result.method == b'CONNECT':
        raise HTTPError(501, 'CONNECT is not implemented')
    if callbacks.hosts > 1:
        raise HTTPError(400, 'more than one Host header')
    if callbacks.hosts == 0 and version == '1.1':
        raise HTTPError(400, 'HTTP/1.1 request without Host')
    if callbacks.codings is not None:
        codings = callbacks.codings
        if version == '1.0':
            raise HTTPError(400, 'Transfer-Encoding under HTTP/1.0')
        if callbacks.lengths:
            raise HTTPError(400, 'Transfer-Encoding with Content-Length')
        if codings != [b'chunked']:
            if codings[-1:] == [b'chunked'] and b'chunked' not in codings[:-1]:
                raise HTTPError(501, 'only the chunked transfer coding is '
                                     'implemented')
            raise HTTPError(400, 'Transfer-Encoding is not chunked alone')
        result.chunked = True
    elif callbacks.lengths:
        if callbacks.lengths > 1:
            raise HTTPError(400, 'more than one Content-Length')
        result.content_length = _content_length(head)
    if result.content_length is not None and (
            result.content_length > limits['max_body_size']):
        raise HTTPError(413, 'request body too large')
    if callbacks.expect is not None:
        if callbacks.expect != b'100-continue':
            raise HTTPError(417, 'only Expect: 100-continue is supported')
        result.expect_continue = version == '1.1'
    result.keep_alive = callbacks.keep_alive
    return result, parser


_CONTENT_LENGTH = re.compile(
    rb'\r\ncontent-length:[ \t]*([^\r]*?)[ \t]*\r\n', re.IGNORECASE)


def _content_length(head):
    """(head:bytes) -> int: the one Content-Length value,
    which must be plain ASCII digits."""
    match = _CONTENT_LENGTH.search(head)
    value = match.group(1) if match else b''
    if not _DIGITS.fullmatch(value):
        raise HTTPError(400, 'Content-Length is not plain digits')
    return int(value)


def _is_absolute_form(target):
    return (target[:7].lower() == b'http://'
            or target[:8].lower() == b'https://')


def split_target(target):
    """(target:bytes) -> (path:bytes, query:bytes)
    Origin form ('/a/b?x=1'), absolute form ('http://host/a?x') or '*'."""
    if target[:1] != b'/' and target != b'*':
        if _is_absolute_form(target):
            try:
                url = httptools.parse_url(target)
            except httptools.HttpParserInvalidURLError:
                raise HTTPError(400, 'malformed request target') from None
            return url.path or b'/', url.query or b''
        raise HTTPError(400, 'request target is not a path')
    path, _, query = target.partition(b'?')
    query = query.partition(b'#')[0]
    return path, query


def get_target_host(target):
    """(target:bytes) -> str | None: the host (and port) of an
    absolute-form request target ('http://host:8000/a' -> 'host:8000'),
    which stands for the Host header (RFC 9112, 3.2.2); None for the
    origin form and '*'."""
    if not _is_absolute_form(target):
        return None
    try:
        url = httptools.parse_url(target)
    except httptools.HttpParserInvalidURLError:
        raise HTTPError(400, 'malformed request target') from None
    host = (url.host or b'').decode('latin-1')
    if not host:
        raise HTTPError(400, 'absolute request target without a host')
    if ':' in host:
        host = '[%s]' % host
    if url.port is not None:
        host = '%s:%d' % (host, url.port)
    return host


def _check_asterisk(target, method):
    """'*' is OPTIONS's only (RFC 9112, 3.2.4): any other method with it
    is refused, so it never reaches a page as the path '*'."""
    if target == b'*' and method != b'OPTIONS':
        raise HTTPError(400, 'the request target * is for OPTIONS only')


# SCGI ------------------------------------------------------------------------

def check_partial_scgi(buf, limits):
    """(buf:bytes, limits:dict) -> None
    Raise HTTPError when an incomplete SCGI netstring cannot be valid."""
    colon = buf.find(b':', 0, 9)
    digits = buf[:colon] if colon >= 0 else buf[:9]
    if (not digits.isdigit() and digits) or (colon < 0 and len(buf) > 8):
        raise HTTPError(400, 'malformed SCGI netstring')
    if colon > 0 and int(digits) > limits['max_head_size']:
        raise HTTPError(431, 'SCGI headers too large')


def parse_scgi(buf, limits):
    """(buf:bytes, limits:dict) -> (headers:bytes, environ:dict, end:int) | None
    The netstring of SCGI headers at the start of buf: its payload, the
    environ it holds, and the index just past it; None while incomplete."""
    check_partial_scgi(buf, limits)
    colon = buf.find(b':', 0, 9)
    if colon < 0:
        return None
    digits = buf[:colon]
    if not digits.isdigit() or (len(digits) > 1 and digits[:1] == b'0'):
        raise HTTPError(400, 'malformed SCGI netstring length')
    size = int(digits)
    end = colon + 1 + size
    if len(buf) <= end:
        return None
    if buf[end:end + 1] != b',':
        raise HTTPError(400, 'SCGI netstring not ended by a comma')
    payload = buf[colon + 1:end]
    environ = scgi_pairs(payload)
    length = environ.get('CONTENT_LENGTH')
    if length is None or not _DIGITS.fullmatch(length.encode('latin-1')):
        raise HTTPError(400, 'SCGI CONTENT_LENGTH missing or not digits')
    if not payload.startswith(b'CONTENT_LENGTH\0'):
        raise HTTPError(400, 'SCGI headers must start with CONTENT_LENGTH')
    if environ.get('SCGI') != '1':
        raise HTTPError(400, 'SCGI header missing')
    if int(length) > limits['max_body_size']:
        raise HTTPError(413, 'request body too large')
    return payload, environ, end + 1


def scgi_pairs(payload):
    """(payload:bytes) -> dict: NUL-separated names and values."""
    if payload[-1:] != b'\0':
        raise HTTPError(400, 'SCGI headers not NUL terminated')
    items = payload[:-1].split(b'\0')
    if len(items) % 2:
        raise HTTPError(400, 'SCGI header without a value')
    environ = {}
    for i in range(0, len(items), 2):
        name = items[i].decode('latin-1')
        if not name or name in environ:
            raise HTTPError(400, 'empty or repeated SCGI header')
        environ[name] = items[i + 1].decode('latin-1')
    return environ


# Environ ------------------------------------------------------------------------

_ENVIRON_KEYS = {}   # raw header name -> environ key, or None (dropped)
_JOINERS = {'HTTP_COOKIE': '; '}


def _environ_key(name):
    """(name:bytes) -> str | None"""
    key = _ENVIRON_KEYS.get(name, 0)
    if key == 0:
        if b'_' in name:
            key = None
        else:
            key = name.decode('latin-1').upper().replace('-', '_')
            if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
                key = 'HTTP_' + key
        if len(_ENVIRON_KEYS) < 2000:
            _ENVIRON_KEYS[name] = key
    return key


def _add_header(environ, name, value):
    """(environ:dict, name:bytes, value:bytes) -> None: a header line into
    its environ key (HTTP_*, CONTENT_TYPE, CONTENT_LENGTH); a repeated
    header joins the earlier value (', ', or '; ' for Cookie)."""
    key = _environ_key(name)
    if key is not None:
        value = value.decode('latin-1')
        if key in environ:
            value = environ[key] + _JOINERS.get(key, ', ') + value
        environ[key] = value


class _EnvironCallbacks:
    """httptools callbacks that fill an environ."""

    __slots__ = ('environ', 'url', 'parser', 'keep_alive')

    def __init__(self, environ):
        self.environ = environ
        self.url = b''
        self.parser = None
        self.keep_alive = False

    def on_headers_complete(self):
        self.keep_alive = self.parser.should_keep_alive()

    def on_url(self, url):
        self.url += url

    def on_header(self, name, value):
        _add_header(self.environ, name, value)


class _RequestCallbacks(_HeadCallbacks):
    """httptools callbacks that check a head and fill an environ."""

    __slots__ = ('environ',)

    def __init__(self, environ):
        _HeadCallbacks.__init__(self)
        self.environ = environ

    def on_header(self, name, value):
        _HeadCallbacks.on_header(self, name, value)
        _add_header(self.environ, name, value)


def _set_path(environ, path, script_name):
    """(environ:dict, path:str, script_name:str) -> None: SCRIPT_NAME and
    PATH_INFO of a percent-decoded path."""
    if script_name and (path == script_name
                        or path.startswith(script_name + '/')):
        environ['SCRIPT_NAME'] = script_name
        environ['PATH_INFO'] = path[len(script_name):]
    else:
        environ['SCRIPT_NAME'] = ''
        environ['PATH_INFO'] = path


def make_base_environ(remote_addr, remote_port, server_name, server_port,
                      https):
    """(remote_addr:str, remote_port, server_name:str, server_port:str,
        https:bool) -> dict: the environ keys of a connection (the base
    every request on it starts from)."""
    base = {
        'REMOTE_ADDR': remote_addr,
        'REMOTE_PORT': str(remote_port),
        'SERVER_NAME': server_name,
        'SERVER_PORT': server_port,
        'SERVER_SOFTWARE': 'qpd',
        'GATEWAY_INTERFACE': 'CGI/1.1',
    }
    if https:
        # as_https_address: a TLS proxy (stunnel) connected, and the
        # client behind it is unknown (qpd.web.debug's check reads this).
        base['HTTPS'] = 'on'
        base['wsgi.url_scheme'] = 'https'
        base['qpd.tls_proxy'] = 'on'
    else:
        base['wsgi.url_scheme'] = 'http'
    return base


def apply_forwarded(environ, trusted):
    """(environ:dict, trusted:[network]) -> bool
    When REMOTE_ADDR (the peer, '' on a unix socket, or what an SCGI
    front end sent) is a trusted proxy's (the `trusted_proxies` key;
    'unix' trusts a unix socket's peer), believe its
    X-Forwarded-For and X-Forwarded-Proto: REMOTE_ADDR becomes the client
    (qpd.lib.address.get_client_address), the proxy's address is kept as
    `qpd.proxy`, and the scheme (HTTPS, wsgi.url_scheme) is the last
    X-Forwarded-Proto's, when it says http or https. Does nothing and
    answers False when the peer is not trusted."""
    remote = environ.get('REMOTE_ADDR')
    if not trusted or remote is None or not in_networks(remote, trusted):
        return False
    environ['qpd.proxy'] = remote
    environ['REMOTE_ADDR'] = get_client_address(
        remote, environ.get('HTTP_X_FORWARDED_FOR'), trusted)
    proto = environ.get('HTTP_X_FORWARDED_PROTO')
    if proto:
        proto = proto.rpartition(',')[2].strip().lower()
        if proto == 'https':
            environ['HTTPS'] = 'on'
            environ['wsgi.url_scheme'] = 'https'
        elif proto == 'http':
            environ.pop('HTTPS', None)
            environ['wsgi.url_scheme'] = 'http'
    return True


def make_http_environ(head, base, script_name=''):
    """(head:bytes, base:dict, script_name:str='') -> (environ:dict, keep_alive:bool)
    The CGI environ of an HTTP request head (already checked by
    parse_http_head), over a copy of base (the server and remote address
    keys, wsgi.url_scheme and HTTPS)."""
    environ = dict(base)
    callbacks = _EnvironCallbacks(environ)
    parser = callbacks.parser = httptools.HttpRequestParser(callbacks)
    try:
        parser.feed_data(head)
    except httptools.HttpParserUpgrade:
        pass
    except httptools.HttpParserError as e:
        raise HTTPError(400, str(e)) from None
    _finish_environ(environ, parser, callbacks.url, script_name)
    return environ, callbacks.keep_alive


def _finish_environ(environ, parser, target, script_name):
    """(environ:dict, parser, target:bytes, script_name:str) -> None: the
    keys of the request line."""
    method = parser.get_method()
    _check_asterisk(target, method)
    path, query = split_target(target)
    if b'%' in path:
        path = unquote_to_bytes(path)
    host = get_target_host(target)
    if host is not None:
        environ['HTTP_HOST'] = host      # the target's host wins
    environ['REQUEST_METHOD'] = method.decode('latin-1')
    environ['SERVER_PROTOCOL'] = 'HTTP/' + parser.get_http_version()
    environ['REQUEST_URI'] = target.decode('latin-1')
    environ['QUERY_STRING'] = query.decode('latin-1')
    _set_path(environ, path.decode('latin-1'), script_name)


def make_scgi_environ(payload, base, script_name=''):
    """(payload:bytes, base:dict, script_name:str='') -> dict
    The environ of SCGI headers, over a copy of base. PATH_INFO and
    QUERY_STRING come from REQUEST_URI when the front end leaves them out
    (nginx's scgi_params do)."""
    environ = dict(base)
    sent = scgi_pairs(payload)
    for key in [k for k in sent if k.startswith('HTTP_') and '-' in k]:
        del sent[key]
    environ.update(sent)
    if sent.get('HTTPS', '').lower() in ('on', '1'):
        environ['HTTPS'] = 'on'
        environ['wsgi.url_scheme'] = 'https'
    uri = environ.get('REQUEST_URI')
    if uri is not None:
        target = uri.encode('latin-1')
        _check_asterisk(target, environ.get(
            'REQUEST_METHOD', 'GET').encode('latin-1'))
        host = get_target_host(target)
        if host is not None:
            environ['HTTP_HOST'] = host
    if 'PATH_INFO' not in sent and uri is not None:
        path, query = split_target(uri.encode('latin-1'))
        if b'%' in path:
            path = unquote_to_bytes(path)
        prefix = sent.get('SCRIPT_NAME') or script_name
        _set_path(environ, path.decode('latin-1'), prefix)
        if 'QUERY_STRING' not in sent:
            environ['QUERY_STRING'] = query.decode('latin-1')
    environ.setdefault('SCRIPT_NAME', '')
    environ.setdefault('PATH_INFO', '/')
    environ.setdefault('QUERY_STRING', '')
    environ.setdefault('REQUEST_METHOD', 'GET')
    environ.setdefault('SERVER_PROTOCOL', 'HTTP/1.0')
    if environ.get('CONTENT_LENGTH') == '0':
        del environ['CONTENT_LENGTH']
    return environ


# Responses the dispatcher writes itself --------------------------------------

def format_error(status, message='', scgi=False, headers=()):
    """(status:int, message:str='', scgi:bool=False, headers=()) -> bytes
    A complete short plain-text response that closes the connection."""
    reason = get_reason_phrase(status) or 'Error'
    body = ('%s %s\n%s' % (status, reason, message + '\n' if message else '')
            ).encode('utf-8', 'replace')
    return format_head(
        format_status_line(status, reason, scgi),
        [('Content-Type', 'text/plain; charset=utf-8'),
         ('Content-Length', str(len(body))),
         ('Connection', 'close')] + list(headers)) + body


_STATUS_LINES = {}      # (status, reason, scgi) -> line, the few in use


def format_status_line(status, reason, scgi=False):
    """(status:int, reason:str, scgi:bool=False) -> str: the first line of
    a response head: `HTTP/1.1 200 OK`, or `Status: 200 OK` for SCGI."""
    key = (status, reason, scgi)
    line = _STATUS_LINES.get(key)
    if line is None:
        line = ('Status: %d %s' if scgi else 'HTTP/1.1 %d %s') % (
            status, reason)
        if len(_STATUS_LINES) < 256:
            _STATUS_LINES[key] = line
    return line
