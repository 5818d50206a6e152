"""qpd.web.hit: Hit, one request and the response being built for it.

    hit = Hit(HTTPRequest(body_file, environ))
    publisher.process_hit(hit)
    hit.get_response()

As in QP, `Hit(input_stream, cgi_environment)` also works: the request is
made with the class `request_is` and the response with `response_is`,
attributes a subclass may change.

Besides the request and the response, a hit holds the session (None until
the publisher finds one in a cookie or someone asks for one through
`qpd.web.common.get_session()`), the user signed in for this hit alone (by
HTTP Basic or Digest authentication), the time it started, and `info`, a
dict for whatever the application wants to note about the hit.
"""

import time
from datetime import datetime, timezone

from qpd.web.request import HTTPRequest
from qpd.web.response import HTTPResponse

__all__ = ['Hit']


class Hit:
    """(request:HTTPRequest | input_stream, response:HTTPResponse | cgi_environment=None)
    A dict as second argument (QP's form) makes the request from the
    input stream and that environment.
    """

    request_is = HTTPRequest
    response_is = HTTPResponse

    def __init__(self, request, response=None):
        if isinstance(response, dict):
            request = self.request_is(request, response)
            response = None
        self.request = request
        self.response = self.response_is() if response is None else response
        self.session = None
        self.stored_session_id = None
        self.user = None
        self.time = time.time()
        self.info = {}
        self.attempts = 0
        # time.monotonic() by which the request had begun to arrive, when
        # the server knows it (qpd's workers do): the publisher need not
        # sync again for a request that arrived before its last sync began
        # (coalesce_syncs).
        self.arrived = None
        # Where the hit's time went, in seconds summed over its attempts
        # (the publisher fills them in; the server's slow-hit line reports
        # them): the syncs with the StorageServer, the application (traversal
        # to the filled response), the commits (with any wait for the write
        # turn), and the waits before a retry.
        self.sync_seconds = 0.0
        self.app_seconds = 0.0
        self.commit_seconds = 0.0
        self.retry_seconds = 0.0

    def __repr__(self):
        return '<Hit %r>' % (self.request,)

    def get_request(self):
        """() -> HTTPRequest"""
        return self.request

    def get_response(self):
        """() -> HTTPResponse"""
        return self.response

    def set_response(self, response):
        """(response:HTTPResponse) -> None"""
        self.response = response

    def get_session(self):
        """() -> Session | None
        The session of this hit, if one was found or made; use
        qpd.web.common.get_session() to have one made when there is none.
        """
        return self.session

    def set_session(self, session, stored_id=None):
        """(session:Session | None, stored_id:str=None) -> None
        stored_id is the key the session was found under in the database
        (None for a session that is not stored yet).
        """
        self.session = session
        self.stored_session_id = stored_id

    def get_stored_session_id(self):
        """() -> str | None: the session's key in the database when the
        hit began (it changes when the id is rotated)."""
        return self.stored_session_id

    def get_user(self):
        """() -> User | None
        The user signed in for this hit alone (Basic, Digest), else the
        session's effective user, else None.
        """
        if self.user is not None:
            return self.user
        if self.session is not None:
            user = self.session.get_effective_user()
            if user:   # the session gives the falsy null User for nobody
                return user
        return None

    def set_user(self, user):
        """(user:User | None) -> None: sign in for this hit only."""
        self.user = user

    def init_response(self):
        """() -> None: replace the response with a new one (QP)"""
        self.response = self.response_is()

    def get_time(self):
        """() -> datetime: when the hit started, in UTC (timezone-aware)"""
        return datetime.fromtimestamp(self.time, timezone.utc)

    def get_timestamp(self):
        """() -> float: when the hit started, in seconds since the epoch"""
        return self.time

    def get_info(self):
        """() -> dict: notes about the hit, the application's to use"""
        return self.info

    def get_attempts(self):
        """() -> int: how many times the hit was retried after a conflict
        or a lost database connection (0 for most hits)"""
        return self.attempts

    def reset(self):
        """() -> None
        Forget what an attempt that is to be retried has done: a new
        response, no session, no user, empty info. The request stays (its
        fields are already parsed).
        """
        self.response = self.response_is()
        self.session = None
        self.stored_session_id = None
        self.user = None
        self.info = {}
