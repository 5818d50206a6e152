"""qpd.web.guard: what the publisher checks before a hit and adds after.

Before traversal (`check_request`):

- `allowed_hosts`: when set, a request whose Host is not one of them gets
  400. Every absolute URL qpd makes (redirects, complete_url) is built
  from the request's host, so this is what keeps `Host: evil.example`
  out of a `Location` header (and out of password-reset links and caches).
  A name with a leading dot allows the domain and its subdomains; '*'
  allows any host, as None (the key's default) does.
- the request target `*` (PATH_INFO '*'): `OPTIONS *` is answered plainly
  (200, Allow, no body), any other method gets 400 (qpd's own server
  refuses it already), so '*' is never a path to redirect to '/*';
- a method that HTTP and WebDAV do not define gets 501. Which defined
  methods a page answers is the Directory's business
  (`Directory.allowed_methods`, GET, HEAD and POST by default): the others
  get 405 with an Allow header there.

The technical 500 page (`--debug`) goes only to a client on this machine
(`is_local_client`): the client address (REMOTE_ADDR, which a trusted
proxy's X-Forwarded-For has already replaced, qpd.server.protocol's
apply_forwarded) is loopback, and no front end stands between it and
qpd unseen: not a TLS proxy on `as_https_address` (stunnel hides the
client), not an untrusted proxy whose X-Forwarded-For, Forwarded or
X-Real-IP shows a client somewhere else. An SCGI front end's REMOTE_ADDR
is the client's own, so a request from elsewhere through nginx on
loopback gets the plain page. Without `allowed_hosts`, the Host must be a
localhost name too (`localhost`, `*.localhost`, a loopback address): a
page of another site whose name an attacker resolves to 127.0.0.1 (DNS
rebinding) cannot read the page.

After the response is made (`add_security_headers`):

- every response: `X-Content-Type-Options: nosniff`, so a browser never
  runs an upload or a text file as script or style;
- HTML responses: `X-Frame-Options` and CSP `frame-ancestors` from
  `frame_options` ('DENY' by default; 'SAMEORIGIN'; None sends neither),
  so other sites cannot frame a page to trick clicks;
- a response to a visitor with a stored session or a signed-in user, one
  with a form token for this browser, or one that sets a cookie:
  `Cache-Control: private, no-store` unless the
  application chose a Cache-Control itself, so no shared cache keeps one
  user's page for another.
"""

import re

from qpd.lib.address import is_loopback_ip
from qpd.web.errors import BadRequest, HTTPError, RespondNow

__all__ = ['KNOWN_METHODS', 'check_request', 'is_allowed_host',
           'add_security_headers', 'get_host_name', 'is_local_client',
           'is_local_name', 'FORWARDING_HEADERS']

# The environ keys of the headers a proxy adds to say who the client is.
FORWARDING_HEADERS = ('HTTP_X_FORWARDED_FOR', 'HTTP_FORWARDED',
                      'HTTP_X_REAL_IP')

KNOWN_METHODS = frozenset("""
    GET HEAD POST PUT DELETE CONNECT OPTIONS TRACE PATCH QUERY
    PROPFIND PROPPATCH MKCOL COPY MOVE LOCK UNLOCK SEARCH REPORT ACL
    MKCALENDAR BIND UNBIND REBIND LINK UNLINK ORDERPATCH MERGE CHECKIN
    CHECKOUT UNCHECKOUT UPDATE LABEL VERSION-CONTROL MKWORKSPACE
    MKACTIVITY BASELINE-CONTROL MKREDIRECTREF UPDATEREDIRECTREF
    """.split())

_HOST = re.compile(r'(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&\'()*+,;=%-]+)'
                   r'(:[0-9]*)?')
_FRAME_ANCESTORS = {'DENY': "'none'", 'SAMEORIGIN': "'self'"}


def get_host_name(request):
    """(request) -> str | None
    The host name the client asked for (the Host header without its
    port, lower case), else SERVER_NAME; None when the Host header is
    malformed.
    """
    environ = request.get_environ()
    host = environ.get('HTTP_HOST')
    if host is None:
        return (environ.get('SERVER_NAME') or '').lower()
    found = _HOST.fullmatch(host)
    if found is None or len(host) > 255:
        return None
    return found.group(1).lower()


def is_allowed_host(name, allowed):
    """(name:str, allowed:[str] | None) -> bool"""
    if allowed is None:
        return True
    for pattern in allowed:
        if pattern == '*' or pattern == name:
            return True
        if pattern.startswith('.') and (
                name == pattern[1:] or name.endswith(pattern)):
            return True
    return False


def is_local_name(name):
    """(name:str | None) -> bool: is the host name one only this machine
    answers to: 'localhost', a name under '.localhost' (RFC 6761), or a
    loopback address ('127.0.0.1', '[::1]')?"""
    if not name:
        return False
    name = name.rstrip('.')
    if name == 'localhost' or name.endswith('.localhost'):
        return True
    return is_loopback_ip(name.strip('[]'))


def is_local_client(request, allowed_hosts=None):
    """(request, allowed_hosts:[str] | None=None) -> bool
    May this request see what only this machine's users may (the
    technical 500 page)? See the module's docstring."""
    environ = request.get_environ()
    if not is_loopback_ip(request.get_remote_address() or ''):
        return False
    if 'qpd.proxy' not in environ:
        if environ.get('qpd.tls_proxy'):
            return False
        if any(environ.get(key) for key in FORWARDING_HEADERS):
            return False
    if allowed_hosts is None and not is_local_name(get_host_name(request)):
        return False
    return True


def check_request(publisher, request):
    """(publisher, request) -> None
    Raise BadRequest for a Host that allowed_hosts does not allow and for
    the target '*' but in OPTIONS (answered at once: RespondNow), and a
    501 for a method nobody defines.
    """
    if request.get_method() not in KNOWN_METHODS:
        raise HTTPError(501, 'The method %s is not implemented.' %
                        request.get_method())
    if request.get_environ('PATH_INFO') == '*':
        if request.get_method() != 'OPTIONS':
            raise BadRequest('The request target * is for OPTIONS only.')
        response = publisher.get_hit().get_response()
        response.set_status(200)
        response.set_header('Allow', 'GET, HEAD, POST, OPTIONS')
        response.set_body(b'')
        raise RespondNow()
    allowed = publisher.get_config('allowed_hosts')
    if allowed is not None:
        name = get_host_name(request)
        if name is None or not is_allowed_host(name, allowed):
            raise BadRequest('This site does not answer to that host name.')


def add_security_headers(publisher, hit):
    """(publisher, hit) -> None: see the module's docstring"""
    response = hit.get_response()
    response.set_header('X-Content-Type-Options', 'nosniff')
    frame = publisher.get_config('frame_options')
    content_type = response.get_content_type() or ''
    if frame and content_type.startswith('text/html'):
        if response.get_header('X-Frame-Options') is None:
            response.set_header('X-Frame-Options', frame)
        policy = response.get_header('Content-Security-Policy')
        if policy is None:
            response.set_header('Content-Security-Policy',
                                'frame-ancestors %s' %
                                _FRAME_ANCESTORS[frame])
    if response.get_header('Cache-Control') is None:
        session = hit.get_session()
        personal = (
            bool(hit.get_user())
            # A page with a stateless form token (qpd.web.form_token) holds
            # a token for this browser only.
            or hit.get_info().get('qpd_browser_key') is not None
            or (session is not None and hit.get_stored_session_id())
            or any(name.lower() == 'set-cookie'
                   for name, _ in response.get_header_list()))
        if personal:
            response.set_header('Cache-Control', 'private, no-store')
