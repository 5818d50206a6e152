"""qpd.web.common: short names for what the current hit is about.

    from qpd.web.common import get_request, get_user, redirect, respond

The publisher sets the current publisher and hit (`set_current`) at the
start of every hit; workers are single-threaded, so these are plain module
globals. Outside a hit (in `qpd shell`, say) `get_publisher()` still
returns the last publisher that processed one, and `get_hit()` None.
"""

from qpd.web.errors import NotFound, Redirect

__all__ = [
    'get_publisher', 'get_hit', 'get_request', 'get_response', 'get_session',
    'get_user', 'get_path', 'get_site', 'get_connection', 'get_fields',
    'get_field', 'get_root', 'get_users', 'get_sessions', 'redirect',
    'not_found', 'respond', 'header', 'footer', 'page', 'complete_url',
    'ensure_signed_in', 'sign_out', 'set_current',
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


def get_publisher():
    """() -> Publisher | None"""
    return _publisher


def get_hit():
    """() -> Hit | None"""
    return _hit


def get_request():
    """() -> HTTPRequest | None"""
    return _hit.request if _hit is not None else None


def get_response():
    """() -> HTTPResponse | None"""
    return _hit.response if _hit is not None else None


def get_session():
    """() -> Session
    The session of the current hit, made (unsaved) when there is none.
    """
    return _publisher.get_session()


def get_user():
    """() -> User | None: who is signed in, if anyone"""
    return _hit.get_user() if _hit is not None else None


def get_path():
    """() -> str: the path of the current request (script name included)"""
    return _hit.request.get_path()


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
    Answer with a 302 (301 when permanent) to location, relative to the
    request URL. Raises Redirect.
    """
    raise Redirect(location, permanent)


def not_found(message=''):
    """(message:str='') -> raises NotFound (a 404 page)"""
    raise NotFound(message)


def respond(title, *content, **kwargs):
    """(title:str, *content, status:int=None, **kwargs)
    Make the response a page(title, *content) and end the hit (raises
    RespondNow).
    """
    _publisher.respond(title, *content, **kwargs)


def header(title, **kwargs):
    """(title:str, **kwargs) -> xml: the top of a page"""
    return _publisher.header(title, **kwargs)


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
