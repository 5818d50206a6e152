"""qpd.web.common: short names for what the current hit is about.

    from qpd.web.common import get_request, get_user, redirect, respond

A Publisher registers itself as the current publisher when it is made
(QP's `set_publisher`), so one made in a test or in `qpd shell` is found
by `get_publisher()`; it sets the current hit (`set_hit`) at the start of
every hit. Workers are single-threaded, so these are plain module globals.
Outside a hit `get_hit()` is None, and, as in QP, `get_request()` and
`get_response()` raise (an AttributeError naming the fix): qpd code that
may run outside a hit asks `find_request()`, which answers None there.

As in QP, `get_user()` is never None: nobody signed in gives the falsy
null User, and `redirect`, `not_found` and `respond` call the publisher's
methods of the same names (hooks a SitePublisher may override).
"""

from qpd.lib.mail.send import set_settings_source as set_mail_settings_source
from qpd.web.errors import NotFound, Redirect

__all__ = [
    'get_publisher', 'get_hit', 'get_request', 'find_request',
    'get_response', 'NoHitError', 'get_session',
    'get_user', 'get_path', 'get_site', 'get_connection', 'get_fields',
    'get_field', 'get_root', 'get_users', 'get_sessions', 'redirect',
    'not_found', 'respond', 'header', 'footer', 'page', 'complete_url',
    'ensure_signed_in', 'sign_out', 'set_current', 'set_publisher',
    'clear_publisher', 'set_hit',
]

_publisher = None
_hit = None


def set_current(publisher, hit):
    """(publisher:Publisher | None, hit:Hit | None) -> None
    Called by the publisher; not for applications.
    """
    global _publisher, _hit
    _publisher = publisher
    _hit = hit


def set_publisher(value):
    """(value:Publisher) -> None
    Make value the current publisher (a Publisher does this when made).
    The hit of another publisher is no longer current (as in QP, where
    the hit is the publisher's).
    """
    global _publisher, _hit
    if value is not _publisher:
        _hit = None
    _publisher = value


def clear_publisher():
    """() -> None: forget the current publisher and hit (for tests)"""
    set_current(None, None)


def set_hit(hit):
    """(hit:Hit | None) -> None: make hit the current hit"""
    global _hit
    _hit = hit


def get_publisher():
    """() -> Publisher | None"""
    return _publisher


def get_hit():
    """() -> Hit | None"""
    return _hit


class NoHitError(AttributeError):
    """get_request() or get_response() called while no hit is processed
    (an AttributeError, what QP raised there)."""


def get_request():
    """() -> HTTPRequest
    The request of the current hit. Outside a hit there is none: raises
    NoHitError (an AttributeError, as QP); find_request() answers None.
    """
    if _hit is None:
        raise NoHitError('get_request(): no hit is being processed; call '
                         'it while the publisher processes a hit (or use '
                         'find_request(), None outside a hit)')
    return _hit.request


def find_request():
    """() -> HTTPRequest | None: the current request, None outside a hit"""
    return _hit.request if _hit is not None else None


def get_response():
    """() -> HTTPResponse
    The response of the current hit; NoHitError outside a hit (as QP).
    """
    if _hit is None:
        raise NoHitError('get_response(): no hit is being processed; call '
                         'it while the publisher processes a hit')
    return _hit.response


def get_session():
    """() -> Session
    The session of the current hit, made (unsaved) when there is none.
    """
    return _publisher.get_session()


def get_user():
    """() -> User
    Who is signed in: the session's effective user, or the falsy null
    User when nobody is.
    """
    if _hit is not None:
        user = _hit.get_user()
        if user is not None:
            return user
    if _publisher is not None:
        return _publisher.get_null_user()
    from qpd.storage.user import User
    return User('')


def get_path(n=0):
    """(n:int=0) -> str
    The path of the current request (script name included); n > 0 drops
    n trailing components, n < 0 keeps -n leading ones (see
    HTTPRequest.get_path).
    """
    return _hit.request.get_path(n)


def get_fields():
    """() -> dict: the form fields of the current request"""
    return _hit.request.get_fields()


def get_field(name, default=None):
    """(name:str, default=None) -> str | Upload | list | None"""
    return _hit.request.get_field(name, default)


def get_site():
    """() -> Site | None"""
    return _publisher.get_site() if _publisher is not None else None


def get_connection():
    """() -> durus Connection | None"""
    return _publisher.get_connection() if _publisher is not None else None


def get_root():
    """() -> the root object of the database"""
    return _publisher.get_root()


def get_users():
    """() -> BTree of user id -> User"""
    return _publisher.get_users()


def get_sessions():
    """() -> BTree of session id -> Session"""
    return _publisher.get_sessions()


def redirect(location, permanent=False):
    """(location:str, permanent=False)
    Answer with a 302 (301 when permanent) to location, completed by
    complete_url (a '/...' location goes under the script name). Ends the
    hit (Publisher.redirect raises RespondNow). Without a publisher, raises
    Redirect.
    """
    if _publisher is None or _hit is None:
        raise Redirect(location, permanent)
    _publisher.redirect(location, permanent=permanent)


def not_found(body=None):
    """(body:str=None)
    Answer with a 404 page holding body (Publisher.not_found); ends the
    hit. Without a publisher, raises NotFound.
    """
    if _publisher is None or _hit is None:
        raise NotFound(body or '')
    _publisher.not_found(body)


def respond(title, *content, **kwargs):
    """(title:str, *content, status:int=400, **kwargs)
    Make the response a page(title, *content) with status (400 unless
    given, as in QP) and end the hit (raises RespondNow).
    """
    _publisher.respond(title, *content, **kwargs)


def header(title, *args, **kwargs):
    """(title:str, *args, **kwargs) -> xml: the top of a page"""
    return _publisher.header(title, *args, **kwargs)


def footer(**kwargs):
    """(**kwargs) -> xml: the bottom of a page"""
    return _publisher.footer(**kwargs)


def page(title, *content, **kwargs):
    """(title:str, *content, **kwargs) -> xml: header, content, footer"""
    return _publisher.page(title, *content, **kwargs)


def complete_url(path, secure=False):
    """(path:str, secure=False) -> str
    The absolute URL of path (relative to the request URL); an https URL
    on the site's https_address when secure.
    """
    return _publisher.complete_url(path, secure=secure)


def ensure_signed_in(**kwargs):
    """(**kwargs) -> None
    Return when someone is signed in; else answer with a way to sign in
    (by default a form). See Publisher.ensure_signed_in.
    """
    _publisher.ensure_signed_in(**kwargs)


def sign_out():
    """() -> None: forget who signed in, in this session"""
    _publisher.sign_out()


# qpd.lib.mail sits below the framework and does not import it: it finds
# the current publisher's mail settings through this registration.
set_mail_settings_source(get_publisher)
