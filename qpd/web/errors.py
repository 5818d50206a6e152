"""qpd.web.errors: the exceptions that end a hit early.

HTTPError carries an HTTP status: every malformed or refused request raises
it (or one of its subclasses), and the publisher turns it into an error page.
Redirect asks for a 302 (or 301) to another location; RespondNow says that
the current response is already complete.
"""

from qpd.lib.http import get_reason_phrase

__all__ = [
    'HTTPError', 'BadRequest', 'Forbidden', 'NotFound', 'MethodNotAllowed',
    'RequestEntityTooLarge', 'URITooLong', 'RequestHeaderFieldsTooLarge',
    'NotImplementedHTTP', 'Redirect', 'RespondNow', 'get_reason_phrase',
]


class HTTPError(Exception):
    """(status:int, message:str='', headers=None)
    A request that cannot be served as asked; status is the HTTP status of
    the answer, message a short text for the error page, headers a list of
    (name, value) pairs to add to the response (such as Allow for a 405).
    """

    status = 500

    def __init__(self, status=None, message='', headers=None):
        if status is not None:
            self.status = int(status)
        self.message = message or ''
        self.headers = list(headers or ())
        Exception.__init__(self, self.status, self.message)

    def get_status(self):
        """() -> int"""
        return self.status

    def get_message(self):
        """() -> str"""
        return self.message

    def get_headers(self):
        """() -> list[(str, str)]"""
        return self.headers

    def get_reason_phrase(self):
        """() -> str"""
        return get_reason_phrase(self.status)

    def __str__(self):
        reason = self.get_reason_phrase()
        if self.message:
            return '%s %s: %s' % (self.status, reason, self.message)
        return '%s %s' % (self.status, reason)


class _ShortcutError(HTTPError):
    """(message:str='', headers=None)
    An HTTPError whose status is fixed by its class.
    """

    def __init__(self, message='', headers=None):
        HTTPError.__init__(self, None, message, headers)


class BadRequest(_ShortcutError, ValueError):
    """(message:str='', headers=None) -> 400
    Also a ValueError, what QP raised for malformed input.
    """
    status = 400


class Forbidden(_ShortcutError):
    """(message:str='', headers=None) -> 403"""
    status = 403


class NotFound(_ShortcutError):
    """(message:str='', headers=None) -> 404"""
    status = 404


class MethodNotAllowed(_ShortcutError):
    """(message:str='', headers=None) -> 405"""
    status = 405


class RequestEntityTooLarge(_ShortcutError, ValueError):
    """(message:str='', headers=None) -> 413 (also a ValueError)"""
    status = 413


class URITooLong(_ShortcutError):
    """(message:str='', headers=None) -> 414"""
    status = 414


class RequestHeaderFieldsTooLarge(_ShortcutError):
    """(message:str='', headers=None) -> 431"""
    status = 431


class NotImplementedHTTP(_ShortcutError):
    """(message:str='', headers=None) -> 501"""
    status = 501


class Redirect(Exception):
    """(location:str, permanent=False)
    Answer with a 302 (or a 301 when permanent) to location. A relative
    location is resolved by the publisher against the request URL.
    Redirect is not an HTTPError: it is not a refusal.
    """

    def __init__(self, location, permanent=False):
        Exception.__init__(self, location)
        self.location = location
        self.permanent = bool(permanent)

    def get_location(self):
        """() -> str"""
        return self.location

    def is_permanent(self):
        """() -> bool"""
        return self.permanent

    def get_status(self):
        """() -> int
        301 when permanent, else 302.
        """
        return 301 if self.permanent else 302


class RespondNow(Exception):
    """()
    Raised when the response of the current hit is complete and should be
    sent as it is.
    """
