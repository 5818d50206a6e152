"""qpd.web.publish: Publisher, which turns each hit into a response inside
one Durus transaction.

    publisher = SitePublisher(connection=connection, site=site)
    publisher.process_hit(hit)      # never raises for request problems

`process_hit` syncs the Durus connection (so the hit sees what other
clients committed), parses the request's inputs, finds the session named
by the cookie, traverses the root directory with the request path, and
then commits when the hit succeeded (including a Redirect or RespondNow)
or aborts when it failed (an HTTPError becomes its error page, any other
exception the 500 page of handle_exception()).

Syncs are coalesced (the `coalesce_syncs` key, on by default): a hit
whose request had begun to arrive before the publisher's last sync began
(`hit.arrived`, which qpd's workers set; None elsewhere) skips its own.
That sync already shows it every commit acknowledged before the request
was sent, which is what a sync at the start of the hit is for: a client
that saw a commit acknowledged sends its next request after that, so the
request arrives after the commit, and a hit never misses a commit its
client could know of. What it may miss is a commit acknowledged while its
request was on the way, which a sync at its start could not promise to
show either. A retry, a connection with uncommitted changes, and a hit
whose arrival the server did not note always sync, and so does a hit
when the storage's commit counter (qpd.storage.commit_count) moved since
the last sync: skipping it then would leave the hit on objects another
client changed, and a writing hit would lose its commit to a conflict. A
worker that finds several requests waiting serves them all after one
sync.

A ConflictError or ReadConflictError, and a lost connection to the storage
server, make the whole hit run again (at most `max_retries` times, after a
short jittered backoff), reconnecting first when the connection was lost.
No handler here swallows them, and an application that does (`except
Exception`) does not hide them either: a conflict left in the connection
or a storage socket that failed is noticed at the end of the attempt.

Retries cannot starve: after WRITE_TURN_AFTER conflicts, a hit takes the
site's write turn, `publisher.write_turn.acquire()`, before its next
attempt, and gives it back when the hit is done; every commit runs inside
`publisher.write_turn.committing()`. The process server installs the
turn (qpd.server.write_turn: locks that every worker of the pool shares):
while one hit holds it no other hit commits, so its attempt wins. Hits that
never conflict never wait for it, except while another hit holds it.
Without a pool (WSGI, tests) `write_turn` is None and retries just back
off, up to `max_retries`.

Absolute URLs never take the client's word for the host: with
`allowed_hosts` set, the guard has checked the request's Host, and
complete_url and redirects build on it; without it, complete_url uses the
configured name (`https_address` for https, else `http_address`; this
host's name for a wildcard), and redirect(), a Redirect and any relative
Location a page sets stay relative to the site (`Location: /items/`),
which browsers resolve against what they asked for, front end included.

Configuration: `SitePublisher.configuration` over the defaults of
qpd.config (the one table of keys), under the site's checked configuration
when a Site is given.

QP's hooks keep QP's signatures and order, so a QP SitePublisher's
overrides run: fill_response() -> fill_response_with_session_present() ->
the root's _q_traverse(); handle_exception() -> log_exception() ->
display_exception() or hide_exception(); then log_hit(). The hooks take no
arguments (they read get_hit()); redirect(), not_found(), respond() and
respond_now() end the hit from anywhere. A Publisher registers itself as
qpd.web.common's current publisher when made, and one made without a
connection (a test, a script) has an in-memory database of its own, as
QP's had a temporary one.
"""

import logging
import re
import sys
import time
import traceback
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from durus.btree import BTree
from durus.error import ConflictError

from qpd.config import get_defaults
from qpd.lib.backoff import Backoff
from qpd.qpy import join_xml, xml
from qpd.storage.digester import set_http_digest_policy
from qpd.storage.connection import (
    LOST_CONNECTION_ERRORS, StorageUnavailable, is_disconnected, reconnect)
from qpd.storage.session import Session, is_session_id
from qpd.storage.user import User
from qpd.storage.ledger import sweep_ledgers
from qpd.web import common, guard, signin
from qpd.web.directory import split_path
from qpd.web.errors import HTTPError, NotFound, Redirect, RespondNow
from qpd.web.request import URL_SAFE
from qpd.web.response import HTTPResponse

__all__ = ['Publisher', 'RespondNow', 'Redirect', 'LostConnection',
           'WRITE_TURN_AFTER', 'log_quote', 'raw_path_query']

# Conflicts after which a hit asks for the write turn (see the docstring).
WRITE_TURN_AFTER = 3


def _committed_since_sync(watch):
    """(watch:CommitWatch|None) -> bool: does the storage's commit counter
    (qpd.storage.commit_count) say a transaction was written since the
    connection's last real sync? Then a coalesced sync would leave this hit
    on objects another worker changed, and a writing hit would lose its
    commit to a conflict and run again (on one hot object, most did): the
    sync is made, and costs its round trip only because something changed.
    False when the storage keeps no counter (another host)."""
    return watch is not None and watch.moved()


def _sync(connection, watch, arrived):
    """(connection, watch:CommitWatch|None, arrived:float|None) -> None:
    abort, which syncs; the storage's commit watch is told when the request
    arrived (a client of a StorageServer on a shared PostgreSQL database
    may then skip the round trip when the server polled since,
    qpd.storage.commit_count)."""
    if watch is None:
        connection.abort()
        return
    watch.arrived = arrived
    try:
        connection.abort()
    finally:
        watch.arrived = None


class LostConnection(Exception):
    """The connection to the storage server failed during a hit."""


_log_time_cache = [None, '']


def _format_log_time(seconds):
    """(seconds:float) -> str: '10/Oct/2000:13:55:36 -0700'"""
    whole = int(seconds)
    if _log_time_cache[0] != whole:
        _log_time_cache[1] = time.strftime(
            '%d/%b/%Y:%H:%M:%S %z', time.localtime(whole))
        _log_time_cache[0] = whole
    return _log_time_cache[1]


def raw_path_query(environ):
    """(environ:dict) -> str: the request target as the client sent it
    (near enough), even when the path is not valid UTF-8."""
    path = quote((environ.get('SCRIPT_NAME', '') +
                  environ.get('PATH_INFO', '')).encode('latin-1', 'replace'),
                 safe=URL_SAFE)
    query = environ.get('QUERY_STRING', '')
    return path + '?' + query if query else path


def _signs_in_with_digest(cls):
    """(cls:type) -> bool: does cls's ensure_signed_in call
    ensure_signed_in_using_digest?"""
    code = getattr(getattr(cls, 'ensure_signed_in', None), '__code__', None)
    return code is not None and \
        'ensure_signed_in_using_digest' in code.co_names


def _current_http_digest_realms():
    publisher = common.get_publisher()
    if publisher is None:
        return []
    return publisher.get_http_digest_realms()


# User.set_password asks this which realms need HTTP digests kept.
set_http_digest_policy(_current_http_digest_realms)

_fqdn = []


def _get_fqdn():
    """() -> str: this host's fully qualified name (looked up once)"""
    if not _fqdn:
        import socket
        _fqdn.append(socket.getfqdn() or 'localhost')
    return _fqdn[0]


def log_quote(text):
    """(text:str | None) -> str: text for a quoted log field"""
    if not text:
        return '-'
    text = text.replace('\\', '\\\\').replace('"', '\\"').replace(
        '\n', '\\n').replace('\r', '\\r')
    return _CONTROL.sub(lambda found: '\\x%02x' % ord(found.group()), text)


_CONTROL = re.compile('[\x00-\x1f\x7f]')


class Publisher:
    """(connection:durus Connection=None, site:Site=None)
    A site's SitePublisher subclasses this, setting `configuration`.
    """

    configuration = {}
    session_class = Session
    user_class = User
    # The site's write turn (see the module's docstring): acquire() ->
    # release, and committing(), a context around each commit. Installed
    # by the process server's worker (qpd.server.write_turn); None
    # elsewhere.
    write_turn = None

    def __init__(self, connection=None, site=None):
        if connection is None:
            # As in QP: a publisher made without a connection (in a test,
            # say) has a database of its own, in memory.
            from durus.connection import Connection
            from durus.storage import MemoryStorage
            connection = Connection(MemoryStorage())
        self.connection = connection
        self.site = site
        self.null_user = None
        config = get_defaults()
        config.update(type(self).configuration or {})
        if site is not None:
            config.update(site.get_configuration())
        self.config = config
        self.hit = None
        self.root_directory = None
        self.initialized = False
        self.retry_count = 0
        self.synced_at = float('-inf')   # time.monotonic() of the last sync
        self.coalesced_syncs = 0         # hits that skipped theirs
        self.reconnect_count = 0
        self.reconnect_time = 0.0
        self.last_session_cleanup = time.time()
        self.secret = None
        self.secret_file = None
        if site is not None:
            name = 'qpd.site.%s' % site.get_name()
        else:
            name = 'qpd.publisher'
        self.logger = logging.getLogger(name)
        self.hit_log = None
        name = self.config.get('session_cookie_name')
        if not name:
            name = ('%s_session' % site.get_name() if site is not None
                    else 'qpd_session')
        self.session_cookie_name = name
        common.set_publisher(self)

    # Configuration and parts ---------------------------------------------

    def get_configuration(self):
        """() -> dict"""
        return self.config

    def get_config(self, key, default=None):
        """(key:str, default=None) -> value of configuration key"""
        value = self.config.get(key)
        return default if value is None else value

    def get_site(self):
        """() -> Site | None"""
        return self.site

    def get_connection(self):
        """() -> durus Connection | None"""
        return self.connection

    def get_hit(self):
        """() -> Hit | None: the hit being processed"""
        return self.hit

    def get_logger(self):
        """() -> logging.Logger
        Hits are logged at INFO (Combined Log Format), failures at ERROR.
        The worker attaches a handler that writes to the site's log file.
        """
        return self.logger

    def get_realm(self):
        """() -> str: the realm for passwords and HTTP authentication"""
        realm = self.config.get('realm')
        if realm:
            return realm
        return self.site.get_name() if self.site is not None else 'qpd'

    def get_http_digest_realms(self):
        """() -> [str]
        The realms for which setting a password keeps the digests HTTP
        Digest sign-in needs: the site's realm when the `http_digests`
        key says so, or (it is None) when this publisher's
        ensure_signed_in calls ensure_signed_in_using_digest (a QP site's
        way); else none.
        """
        wanted = self.config.get('http_digests')
        if wanted is None:
            wanted = _signs_in_with_digest(type(self))
        return [self.get_realm()] if wanted else []

    def get_webmaster_address(self):
        """() -> str
        The `webmaster_address` setting, else (as in QP) 'webmaster@' and
        the host's fully qualified name.
        """
        address = self.config.get('webmaster_address')
        if not address:
            address = 'webmaster@' + _get_fqdn()
        return address

    def get_administrator_address(self):
        """() -> str | None: who gets error reports"""
        return (self.config.get('administrator_address')
                or self.get_webmaster_address())

    def is_email_enabled(self):
        """() -> bool"""
        return bool(self.config.get('email_enabled'))

    def get_smtp_server(self):
        """() -> str | (host, port) | None"""
        return self.config.get('smtp_server')

    def get_debug_address(self):
        """() -> str | None
        When set, all mail goes here instead of to its recipients: the
        `debug_address` setting (None by default, so mail goes out; QP
        defaulted to the webmaster address).
        """
        return self.config.get('debug_address')

    def display_exceptions(self):
        """() -> bool: may the 500 page show the traceback?"""
        return bool(self.config.get('display_exceptions'))

    def get_https_address(self):
        """() -> (host, port) | None"""
        return self.config.get('https_address')

    def get_session_cookie_name(self):
        """() -> str"""
        return self.session_cookie_name

    def get_retry_count(self):
        """() -> int: hits retried since this publisher started"""
        return self.retry_count

    def get_reconnect_count(self):
        """() -> int: reconnections to the storage server"""
        return self.reconnect_count

    # The root directory -----------------------------------------------------

    def get_root_directory(self):
        """() -> Directory
        The root of the URL space: the SiteDirectory (or, QP's name,
        SiteRootDirectory) of the module that defines this publisher's
        class, else the site's.
        """
        if self.root_directory is None:
            module = sys.modules.get(type(self).__module__)
            cls = (getattr(module, 'SiteDirectory', None) or
                   getattr(module, 'SiteRootDirectory', None))
            if cls is None and self.site is not None:
                cls = self.site.get_root_directory_class()
            if cls is None:
                raise TypeError('%s: no SiteDirectory next to the publisher '
                                'class' % type(self).__name__)
            self.root_directory = cls()
        return self.root_directory

    def set_root_directory(self, directory):
        """(directory:Directory) -> None"""
        self.root_directory = directory

    # The database ------------------------------------------------------------

    def get_root(self):
        """() -> the database's root mapping"""
        return self.connection.get_root()

    def ensure_initialized(self):
        """() -> None
        Create the root's `sessions` and `users` (holding the null user
        under '', as in QP) when they are missing, and commit. A site's
        old `qpd_secret` root entry is moved into its key file
        (get_secret); a publisher without a site keeps its key there.
        """
        if self.initialized or self.connection is None:
            return
        root = self.get_root()
        changed = False
        if 'sessions' not in root:
            root['sessions'] = BTree()
            changed = True
        if 'users' not in root:
            root['users'] = BTree()
            changed = True
        if '' not in root['users']:
            root['users'][''] = self.user_class('')
            changed = True
        secret_file = self._get_secret_file()
        if secret_file is not None:
            changed = secret_file.take_over(root) or changed
        elif 'qpd_secret' not in root:
            import secrets
            root['qpd_secret'] = secrets.token_bytes(32)
            changed = True
        if changed:
            self.connection.commit()
        self.initialized = True

    def get_sessions(self):
        """() -> BTree of session id -> Session"""
        self.ensure_initialized()
        return self.get_root()['sessions']

    def get_users(self):
        """() -> BTree of user id -> User"""
        self.ensure_initialized()
        return self.get_root()['users']

    def _get_secret_file(self):
        """() -> SecretFile | None: the site's key file (None without a
        site)"""
        if self.secret_file is None and self.site is not None:
            from qpd.lib.secret_file import SecretFile
            self.secret_file = SecretFile(
                self.site.get_secret_file(), site_name=self.site.get_name(),
                say=lambda line: self.logger.warning('%s', line))
        return self.secret_file

    def _get_ready_secret_file(self):
        secret_file = self._get_secret_file()
        if secret_file is not None and not secret_file.exists():
            if self.connection is not None:
                self.ensure_initialized()       # takes the root's over
            if secret_file.ensure() and self.site.get('hosts'):
                self.logger.warning(
                    'made %s, the key that signs form tokens and nonces, '
                    'for this host alone: a form shown by another web host '
                    'is refused here; run "qpd certs %s" and copy each '
                    'host\'s directory again', secret_file.path,
                    self.site.get_name())
        return secret_file

    def get_secret(self):
        """() -> bytes: the key that signs the site's stateless form
        tokens and Digest nonces, shared by every worker of the site: the
        current key of the site's key file (qpd.lib.secret_file, made
        when missing); without a site, one in the database root (or, with
        no database, one made once)."""
        secret_file = self._get_ready_secret_file()
        if secret_file is not None:
            return secret_file.get_current()
        if self.secret is None:
            if self.connection is not None:
                self.ensure_initialized()
                self.secret = self.get_root()['qpd_secret']
            else:
                import secrets
                self.secret = secrets.token_bytes(32)
        return self.secret

    def get_secrets(self):
        """() -> [bytes]: the keys a signature may verify with:
        get_secret(), then, for the longest lifetime of what it signs
        after `qpd secret NAME --rotate`, the key before."""
        secret_file = self._get_ready_secret_file()
        if secret_file is None:
            return [self.get_secret()]
        return secret_file.get_keys(max(
            self.get_config('form_token_lifetime'),
            self.get_config('digest_nonce_lifetime')))

    def get_null_user(self):
        """() -> User
        The falsy null User that stands for nobody: users[''] when there
        is a database, else one made once.
        """
        if self.connection is not None:
            self.ensure_initialized()
            user = self.get_users().get('')
            if user is not None:
                return user
        if self.null_user is None:
            self.null_user = self.user_class('')
        return self.null_user

    def create_user(self, user_id):
        """(user_id:str) -> User
        A new User, not stored (as in QP: store it in get_users()).
        """
        return self.user_class(user_id)

    def add_user(self, user_id):
        """(user_id:str) -> User
        A new user made by create_user() and stored in get_users();
        ValueError when the id is taken.
        """
        users = self.get_users()
        if user_id in users:
            raise ValueError('user %r exists' % (user_id,))
        user = self.create_user(user_id)
        users[user_id] = user
        return user

    def commit(self):
        """() -> None: commit the connection (QP)"""
        self.connection.commit()

    def abort(self):
        """() -> None: drop uncommitted changes (QP)"""
        self.connection.abort()

    def set_hit(self, hit):
        """(hit:Hit | None) -> None: make hit the current hit"""
        self.hit = hit
        common.set_current(self, hit)

    def respond_now(self):
        """() -> raises RespondNow: the response as it is is sent"""
        raise RespondNow()

    def create_session(self):
        """() -> Session: a new, unsaved session for the current hit"""
        request = self.hit.get_request() if self.hit is not None else None
        address = (request.get_remote_address() or '') if request else ''
        return self.session_class(remote_address=address)

    # Processing a hit ------------------------------------------------

    def process_hit(self, hit):
        """(hit:Hit) -> None
        Fill in hit's response (see the module's docstring).
        """
        self.set_hit(hit)
        max_retries = self.config['max_retries']
        backoff = Backoff(self.config['retry_delay'], 0.05)
        release = None      # the write turn's, once this hit holds it
        try:
            while True:
                try:
                    self.try_hit(hit)
                    break
                except (ConflictError, LostConnection) as error:
                    lost = isinstance(error, LostConnection)
                    if hit.attempts >= max_retries:
                        self.abort_quietly()
                        self.respond_unavailable(hit, error)
                        break
                    hit.attempts += 1
                    self.retry_count += 1
                    waited = time.monotonic()
                    if lost:
                        if not self.recover_connection():
                            self.respond_unavailable(hit, error)
                            break
                    else:
                        self.abort_quietly()
                        if (release is None
                                and self.write_turn is not None
                                and hit.attempts >= min(WRITE_TURN_AFTER,
                                                        max_retries)):
                            release = self.write_turn.acquire()
                        elif hit.attempts > 1:
                            # The first retry runs at once: the commit
                            # that beat this one is already in, and the
                            # abort just made its changes visible here.
                            backoff.sleep()
                    hit.reset()
                    hit.retry_seconds += time.monotonic() - waited
                except BaseException:
                    self.abort_quietly()
                    raise
        finally:
            if release is not None:
                release()
        guard.add_security_headers(self, hit)
        self.settle_location(hit)
        hit.get_response().finish(hit.get_request())
        self.log_hit()
        if (self.connection is not None and hit.get_timestamp() -
                self.last_session_cleanup >
                self.config['session_cleanup_interval']):
            self.last_session_cleanup = hit.get_timestamp()
            self.clean_sessions_quietly()

    def try_hit(self, hit):
        """(hit:Hit) -> None
        One attempt at the hit: sync, fill the response, commit or abort.
        Raises ConflictError or LostConnection for the retry loop.
        """
        connection = self.connection
        if connection is None:
            began = time.monotonic()
            self.run_hit(hit)
            hit.app_seconds += time.monotonic() - began
            return
        try:
            if is_disconnected(connection):
                raise LostConnection('the storage connection failed before')
            arrived = hit.arrived
            watch = getattr(connection.storage, 'commit_watch', None)
            if (arrived is None or arrived > self.synced_at or hit.attempts
                    or connection.changed
                    or not self.config['coalesce_syncs']
                    or _committed_since_sync(watch)):
                # sync: see other clients' commits (see the module's
                # docstring for when a sync is left out)
                self.synced_at = began = time.monotonic()
                _sync(connection, watch, None if hit.attempts else arrived)
                hit.sync_seconds += time.monotonic() - began
            else:
                self.coalesced_syncs += 1
            self.ensure_initialized()
        except LOST_CONNECTION_ERRORS as error:
            raise LostConnection(str(error)) from error
        began = time.monotonic()
        ok = self.run_hit(hit)
        ended = time.monotonic()
        hit.app_seconds += ended - began
        self.check_storage()
        try:
            if ok:
                if connection.changed:
                    if self.write_turn is None:
                        connection.commit()
                    else:
                        with self.write_turn.committing():
                            connection.commit()
                    hit.commit_seconds += time.monotonic() - ended
            else:
                self.abort_quietly()
        except LOST_CONNECTION_ERRORS as error:
            raise LostConnection(str(error)) from error

    def run_hit(self, hit):
        """(hit:Hit) -> bool
        Parse the inputs and call fill_response(); True when the hit
        succeeded (the changes are to be committed). A Redirect becomes its
        redirect, a NotFound the page of not_found(), another HTTPError its
        error page, any other exception the 500 page of handle_exception();
        ConflictError and a lost storage connection are raised.
        """
        try:
            request = hit.get_request()
            guard.check_request(self, request)
            request.process_inputs()
            self.fill_response()
            return True
        except RespondNow:
            return True
        except Redirect as redirect:
            self.respond_redirect(hit, redirect)
            return True
        except ConflictError:
            raise
        except NotFound as error:
            self.check_storage(error)
            try:
                self.not_found(error.get_message() or None)
            except RespondNow:
                pass
            return False
        except HTTPError as error:
            self.check_storage(error)
            self.respond_http_error(hit, error)
            return False
        except Exception as error:
            self.check_storage(error)
            self.handle_exception()
            return False

    def fill_response(self):
        """() -> None
        QP's hook: find the session named by the cookie (an unknown or
        expired one is dropped), call fill_response_with_session_present(),
        then store the session when it needs saving and send its cookie.
        The session is stored also when a RespondNow or a Redirect ends the
        hit early, not when another exception does.
        """
        hit = self.get_hit()
        self.start_session(hit)
        try:
            self.fill_response_with_session_present()
        except (RespondNow, Redirect):
            self.finish_session(hit)
            raise
        self.finish_session(hit)

    def fill_response_with_session_present(self):
        """() -> None
        QP's hook: a path without its leading '/' (or an empty one) is a
        301 to the slashed form; else traverse the root directory with the
        path and make what it returns the response body (None: not found).
        """
        hit = self.get_hit()
        request = hit.get_request()
        path = request.get_path_info()
        if not path.startswith('/'):
            location = quote('/' + path, safe=URL_SAFE)
            if request.get_query():
                location += '?' + request.get_query()
            self.redirect(location, permanent=True)
        self.traverse(hit)

    def check_storage(self, error=None):
        """(error:Exception=None) -> None
        Raise LostConnection when the storage connection has failed, and
        ConflictError when a read conflict happened (and was caught by the
        application): either is the real cause of error, if any.
        """
        connection = self.connection
        if connection is None:
            return
        if is_disconnected(connection):
            raise LostConnection(str(error or 'storage failed')) from error
        if connection.invalid_oids:
            raise ConflictError(list(connection.invalid_oids)) from error

    def traverse(self, hit):
        """(hit:Hit) -> None
        Walk the root directory with the request path, and make what the
        callable at the end returns the response body (None: NotFound).
        """
        request = hit.get_request()
        components = split_path(request.get_path_info())
        output = self.get_root_directory()._q_traverse(components)
        if output is None:
            raise NotFound()
        hit.get_response().set_body(output)

    def abort_quietly(self):
        """() -> None
        Drop the uncommitted changes; a failing connection is left to be
        noticed (and reconnected) by the next hit.
        """
        connection = self.connection
        if connection is None:
            return
        try:
            connection.abort()
        except LOST_CONNECTION_ERRORS:
            pass

    def recover_connection(self):
        """() -> bool
        Reconnect to the storage server, waiting up to `reconnect_wait`
        seconds. False when it does not come back.
        """
        start = time.monotonic()
        try:
            reconnect(self.connection, wait=self.config['reconnect_wait'])
        except StorageUnavailable:
            self.logger.error('storage server unavailable: %s',
                              self.connection.get_storage().address)
            return False
        self.reconnect_count += 1
        self.reconnect_time = time.monotonic() - start
        self.logger.warning('reconnected to the storage server in %.3fs',
                            self.reconnect_time)
        return True

    # Sessions --------------------------------------------------------------

    def start_session(self, hit):
        """(hit:Hit) -> None
        Give the hit the stored, unexpired session its cookie names.
        A missing, malformed, unknown or expired cookie gives no session.
        """
        if self.connection is None:
            return
        value = hit.get_request().get_cookie(self.session_cookie_name)
        if value is None or not is_session_id(value):
            return
        session = self.get_sessions().get(value)
        if session is None:
            return
        if session.is_expired(self.config['session_idle_timeout'],
                              hit.get_timestamp()):
            return
        hit.set_session(session, stored_id=value)

    def get_session(self):
        """() -> Session
        The session of the current hit, made (unsaved) when there is none.
        """
        hit = self.hit
        session = hit.get_session()
        if session is None:
            session = self.create_session()
            hit.set_session(session)
        return session

    def finish_session(self, hit):
        """(hit:Hit) -> None
        Store the session when it needs saving (under its id, which may
        have changed) and send its cookie when the client does not have
        it yet. A stored session stays until it expires.
        """
        session = hit.get_session()
        if session is None or self.connection is None:
            return
        stored_id = hit.get_stored_session_id()
        session_id = session.get_id()
        sessions = None
        if stored_id is not None and stored_id != session_id:
            sessions = self.get_sessions()
            if sessions.get(stored_id) is session:
                del sessions[stored_id]
            stored_id = None
        if stored_id is not None:
            session.touch(hit.get_timestamp())
        elif session.needs_saving():
            if sessions is None:
                sessions = self.get_sessions()
            sessions[session_id] = session
            hit.set_session(session, stored_id=session_id)
            self.set_session_cookie(hit, session_id)

    def set_session_cookie(self, hit, session_id):
        """(hit:Hit, session_id:str | None) -> None
        Send the session cookie (None: tell the client to drop it).
        """
        response = hit.get_response()
        path = (self.config.get('script_name') or '') + '/'
        if session_id is None:
            response.expire_cookie(self.session_cookie_name, path=path)
        else:
            response.set_cookie(
                self.session_cookie_name, session_id, path=path,
                max_age=self.config.get('session_cookie_max_age'))

    def clean_sessions(self, now=None):
        """(now:float=None) -> int
        Remove the expired sessions, and the expired records of the
        ledgers (spent form tokens, Digest counts, sign-in failures: see
        qpd.storage.ledger), without committing; how many sessions.
        """
        now = time.time() if now is None else now
        limit = self.config['session_idle_timeout']
        sessions = self.get_sessions()
        expired = [key for key, session in sessions.items()
                   if session.is_expired(limit, now)]
        for key in expired:
            del sessions[key]
        sweep_ledgers(self.get_root(), now)
        return len(expired)

    def clean_sessions_quietly(self):
        """() -> None
        clean_sessions() in a transaction of its own; a conflict or a
        failure just leaves the work for next time.
        """
        try:
            self.connection.abort()
            count = self.clean_sessions()
            if self.connection.changed:
                self.connection.commit()
                self.logger.info('removed %d expired sessions', count)
        except Exception:
            self.abort_quietly()

    # Signing in (see qpd.web.signin) ---------------------------------------

    def ensure_signed_in(self, **kwargs):
        """(**kwargs) -> None
        Return when a user is signed in; else answer with a way to sign in.
        By default a form (ensure_signed_in_using_form); override to use
        another way.
        """
        self.ensure_signed_in_using_form(**kwargs)

    def ensure_signed_in_using_form(self, title='Please Sign In', realm=None,
                                    **kwargs):
        """(title:str='Please Sign In', realm:str=None, **kwargs) -> None
        See qpd.web.signin; kwargs go to page().
        """
        signin.ensure_signed_in_using_form(self, title=title, realm=realm,
                                           **kwargs)

    def ensure_signed_in_using_basic(self, realm=None):
        """(realm:str=None) -> None"""
        signin.ensure_signed_in_using_basic(self, realm=realm)

    def ensure_signed_in_using_digest(self, realm=None):
        """(realm:str=None) -> None"""
        signin.ensure_signed_in_using_digest(self, realm=realm)

    def sign_in(self, user):
        """(user:User) -> None
        Make user the authenticated user of the session (whose id
        changes, and is sent in a new cookie).
        """
        self.get_session().set_authenticated(user)

    def sign_out(self, url=None):
        """(url:str=None) -> None
        No user is signed in any more (the session id changes); with url,
        redirect there (as QP's sign_out(url)).
        """
        hit = self.hit
        hit.set_user(None)
        session = hit.get_session()
        if session is not None:
            session.set_authenticated(None)
        if url is not None:
            self.redirect(url)

    # Pages ------------------------------------------------------------------

    def header(self, title, **kwargs):
        """(title:str, **kwargs) -> xml"""
        return xml('<!DOCTYPE html>\n<html lang="en"><head>'
                   '<meta charset="utf-8">'
                   '<meta name="viewport" '
                   'content="width=device-width, initial-scale=1">'
                   '<title>%s</title></head>\n<body>\n') % title

    def footer(self, **kwargs):
        """(**kwargs) -> xml"""
        return xml('\n</body></html>\n')

    def page(self, title, *content, **kwargs):
        """(title:str, *content, **kwargs) -> xml
        header(title) + content (quoted unless xml) + footer().
        """
        return (self.header(title, **kwargs) + join_xml(content) +
                self.footer(**kwargs))

    def _fresh_response(self):
        """() -> HTTPResponse
        A new response for the current hit, keeping the cookies set so far.
        """
        hit = self.get_hit()
        cookies = hit.get_response().cookies
        response = HTTPResponse()
        response.cookies = cookies
        hit.set_response(response)
        return response

    def respond(self, title, *content, status=400, **kwargs):
        """(title:str, *content, status:int=400, **kwargs)
        As QP: a fresh response (cookies kept) holding page(title,
        *content, **kwargs) with status (400 unless given; None keeps the
        current status); raises RespondNow.
        """
        if status is None:
            status = self.get_hit().get_response().get_status_code()
        response = self._fresh_response()
        response.set_status(status)
        response.set_body(self.page(title, *content, **kwargs))
        raise RespondNow()

    def redirect(self, location, permanent=False):
        """(location:str, permanent=False)
        As QP: a fresh 302 (301 when permanent) response to
        complete_url(location) (so '/...' goes under the script name),
        cookies kept; raises RespondNow. Without allowed_hosts, the
        Location is the site-relative path instead (the module's
        docstring).
        """
        if self.get_config('allowed_hosts') is None:
            url = self._resolve(location)     # relative: see the docstring
        else:
            url = self.complete_url(location)
        self._fresh_response().redirect(url, permanent)
        raise RespondNow()

    def not_found(self, body=None):
        """(body:str=None)
        As QP: respond('Not Found', body or a default text, status=404).
        Traversal calls it for every unknown path.
        """
        response = self.get_hit().get_response()
        response.set_header('Cache-Control', 'no-store')
        self.respond('Not Found',
                     body or 'The requested resource was not found.',
                     status=404)

    def respond_redirect(self, hit, redirect):
        """(hit:Hit, redirect:Redirect) -> None
        The answer to a Redirect exception: its location is relative to
        the request URL (no script name is added).
        """
        hit.get_response().redirect(redirect.get_location(),
                                    redirect.is_permanent())

    def format_error_page(self, status, title, message=''):
        """(status:int, title:str, message:str='') -> xml"""
        content = [xml('<h1>%s</h1>\n') % title]
        if message:
            content.append(xml('<p>%s</p>\n') % message)
        return self.page(title, *content)

    def _error_response(self, hit, status):
        response = HTTPResponse()
        response.set_status(status)
        response.set_header('Cache-Control', 'no-store')
        hit.set_response(response)
        return response

    def respond_http_error(self, hit, error):
        """(hit:Hit, error:HTTPError) -> None
        A fresh response: error's status, headers, and page.
        """
        response = self._error_response(hit, error.get_status())
        for name, value in error.get_headers():
            response.add_header(name, value)
        title = '%s %s' % (error.get_status(), error.get_reason_phrase())
        response.set_body(self.format_error_page(
            error.get_status(), title.strip(), error.get_message()))

    def respond_unavailable(self, hit, error):
        """(hit:Hit, error:Exception) -> None
        The 503 page, when retries did not get the hit through.
        """
        self.logger.error('giving up after %d retries: %s: %s',
                          hit.attempts, type(error).__name__, error)
        response = self._error_response(hit, 503)
        response.set_header('Retry-After', '1')
        response.set_body(self.format_error_page(
            503, '503 Service Unavailable', 'Please try again.'))

    def format_exception_report(self):
        """() -> str
        The report of the exception being handled (sys.exc_info()): the
        request line, address and user, the traceback, the hit's info, and
        the request's environment (cookies and credentials left out).
        """
        from qpd.web.debug import is_sensitive_header
        hit = self.get_hit()
        request = hit.get_request()
        lines = ['%s %s' % (request.get_method(), log_quote(
                     raw_path_query(request.get_environ()))),
                 'remote address: %s' % request.get_remote_address()]
        user = hit.get_user()
        if user:
            lines.append('user: %s' % user)
        lines.append('')
        lines.extend(traceback.format_exception(*sys.exc_info()))
        info = hit.get_info()
        if info:
            lines.append('hit info:')
            for key in sorted(info, key=str):
                lines.append('  %s: %r' % (key, info[key]))
        lines.append('request:')
        for key, value in sorted(request.get_environ().items()):
            if not isinstance(value, str):
                continue
            if is_sensitive_header(key):
                value = '(not shown)'
            lines.append('  %s: %s' % (key, log_quote(value)
                                       if value else ''))
        return '\n'.join(line.rstrip('\n') for line in lines)

    def handle_exception(self):
        """() -> None
        QP's hook, called while the exception is being handled: a conflict
        or a lost storage connection is raised again (the hit is retried);
        else log_exception(), a fresh 500 response, and display_exception()
        or hide_exception() as display_exceptions() says (and only to a
        client on this machine: qpd.web.guard.is_local_client).
        """
        error = sys.exc_info()[1]
        if isinstance(error, (ConflictError, LostConnection, SystemExit)):
            raise error
        self.log_exception()
        hit = self.get_hit()
        self._error_response(hit, 500)
        # The technical page only to a client on this machine, never
        # through a front end from elsewhere (qpd.web.guard).
        if self.display_exceptions() and guard.is_local_client(
                hit.get_request(), self.get_config('allowed_hosts')):
            self.display_exception()
        else:
            self.hide_exception()

    def log_exception(self):
        """() -> None
        Log the report (format_exception_report) at ERROR and send it to
        the administrator.
        """
        report = self.format_exception_report()
        self.logger.error('%s', report)
        self.send_to_administrator(report)

    def display_exception(self):
        """() -> None: the technical 500 page (qpd.web.debug: traceback
        with source lines and locals, the request, secrets masked) in the
        500 response"""
        from qpd.web.debug import format_debug_page
        hit = self.get_hit()
        response = hit.get_response()
        response.set_content_type('text/html')
        response.set_body(format_debug_page(sys.exc_info(),
                                            hit.get_request()))

    def hide_exception(self):
        """() -> None: a page regretting the failure in the 500 response"""
        self.get_hit().get_response().set_body(self.format_error_page(
            500, '500 Internal Server Error',
            'The error has been logged; sorry.'))

    def send_to_administrator(self, message):
        """(message:str) -> None
        Mail message to get_administrator_address() when email is enabled;
        the subject names the site and the first line of the message.
        """
        address = self.get_administrator_address()
        if not (self.is_email_enabled() and address):
            return
        try:
            from qpd.lib.mail import sendmail
            name = self.site.get_name() if self.site is not None else 'qpd'
            subject = '%s error: %s' % (name, message.split('\n', 1)[0])
            sendmail(subject[:200], message, to=address,
                     from_address=self.get_webmaster_address() or address)
        except Exception:
            self.logger.exception('could not mail the error report')

    mail_exception_report = send_to_administrator

    # URLs ----------------------------------------------

    def secure(self):
        """() -> None
        When https_address is set and the request is not https, redirect
        to the https URL of the request.
        """
        request = self.hit.get_request()
        if self.get_https_address() and not request.is_secure():
            raise Redirect(self.complete_url(
                self.get_origin() + request.get_path_query(), secure=True))

    def complete_url(self, path, secure=False):
        """(path:str, secure=False) -> str
        The absolute URL of path, relative to the request URL; as in QP a
        path starting with one '/' goes under the script name. With
        secure and an https_address, an https URL on that address (its
        host, unless it is a wildcard, when get_origin()'s host is kept).
        The host is get_origin()'s, never an unchecked Host header.
        """
        url = urljoin(self.get_origin(), self._resolve(path))
        https_address = self.get_https_address()
        if secure and https_address:
            parts = urlsplit(url)
            host, port = https_address
            if host in ('', '0.0.0.0', '::'):
                host = (parts.hostname if self.get_config('allowed_hosts')
                        is not None else None) or _get_fqdn()
            if ':' in host:
                host = '[%s]' % host
            netloc = host if port == 443 else '%s:%s' % (host, port)
            url = urlunsplit(('https', netloc, parts.path, parts.query,
                              parts.fragment))
        return url

    def get_origin(self):
        """() -> str: 'scheme://host[:port]' that the site's absolute URLs
        start with. With allowed_hosts, the request's (the guard checked
        its Host); without, the configured name: https_address under
        https, else http_address (this host's name for a wildcard or a
        unix socket), never what the client sent."""
        hit = self.hit
        if hit is None:
            return 'http://localhost'
        request = hit.get_request()
        scheme = request.get_scheme()
        if self.get_config('allowed_hosts') is not None:
            return '%s://%s' % (scheme, request.get_server())
        address = self.get_config(
            'https_address' if scheme == 'https' else 'http_address')
        if not isinstance(address, tuple):
            address = self.get_config('http_address')
            if scheme == 'https' or not isinstance(address, tuple):
                address = (None, None)
        host, port = address
        if host in (None, '', '0.0.0.0', '::'):
            host = _get_fqdn()
        if ':' in host:
            host = '[%s]' % host
        if port is None or port == (443 if scheme == 'https' else 80):
            return '%s://%s' % (scheme, host)
        return '%s://%s:%s' % (scheme, host, port)

    def _resolve(self, path):
        """(path:str) -> str: path resolved against the request's path (as
        a browser resolves a relative URL), a '/...' path under the
        script name; an absolute URL stays what it is."""
        hit = self.hit
        if hit is not None:
            request = hit.get_request()
            current = request.get_path_query()
            script_name = request.get_script_name()
        else:
            current = '/'
            script_name = self.config.get('script_name') or ''
        if path.startswith('/') and not path.startswith('//'):
            path = script_name.rstrip('/') + path
        return urljoin(current, path)

    def settle_location(self, hit):
        """(hit:Hit) -> None: a relative Location of hit's response (a
        Redirect, or one a page set) resolved against the request: an
        absolute URL on get_origin() with allowed_hosts, else a
        site-relative path (never the client's Host)."""
        response = hit.get_response()
        location = response.get_header('Location')
        if not location or urlsplit(location).scheme or location[:2] == '//':
            return
        request = hit.get_request()
        try:
            current = request.get_path_query()
        except HTTPError:        # a path that is not UTF-8
            return
        resolved = urljoin(current, location)
        if self.get_config('allowed_hosts') is not None:
            resolved = urljoin(self.get_origin(), resolved)
        response.set_header('Location', resolved)

    # Logging ---------------------------------------------

    def set_hit_log(self, write):
        """(write:callable(str) | None) -> None
        Where log_hit sends each line (with its newline): a worker passes a
        function that appends to the site's log file in one system call.
        None (the default) sends the lines to get_logger() at INFO.
        """
        self.hit_log = write

    def format_hit_json(self, target):
        """(target:str) -> str: the current hit as one JSON object (the
        `access_log_format='json'` hit line): time (ISO 8601 with offset),
        remote, user, method, target, protocol, status, length, referer,
        user_agent, seconds."""
        import json
        hit = self.get_hit()
        request = hit.get_request()
        response = hit.get_response()
        environ = request.get_environ()
        user = hit.get_user()
        started = hit.get_timestamp()
        return json.dumps({
            'time': time.strftime('%Y-%m-%dT%H:%M:%S%z',
                                  time.localtime(started)),
            'remote': request.get_remote_address(),
            'user': str(user) if user else None,
            'method': request.get_method(),
            'target': target,
            'protocol': environ.get('SERVER_PROTOCOL', 'HTTP/1.0'),
            'status': response.get_status_code(),
            'length': response.get_content_length(),
            'referer': environ.get('HTTP_REFERER'),
            'user_agent': environ.get('HTTP_USER_AGENT'),
            'seconds': round(time.time() - started, 6),
        }, ensure_ascii=True, separators=(',', ':'))

    def log_hit(self):
        """() -> None
        One line for the current hit in Combined Log Format (or JSON, when
        access_log_format is 'json': format_hit_json), to the hit log
        (set_hit_log), or else at INFO on get_logger(); none when it is
        'off'.
        """
        hit = self.get_hit()
        write = self.hit_log
        if write is None and not self.logger.isEnabledFor(logging.INFO):
            return
        style = self.config.get('access_log_format')
        if style == 'off':
            return
        request = hit.get_request()
        response = hit.get_response()
        environ = request.get_environ()
        user = hit.get_user()
        length = response.get_content_length()
        if style == 'json':
            line = self.format_hit_json(raw_path_query(environ))
        else:
            line = '%s - %s [%s] "%s %s %s" %s %s "%s" "%s"' % (
                request.get_remote_address() or '-',
                log_quote(str(user)) if user else '-',
                _format_log_time(hit.get_timestamp()),
                request.get_method(),
                log_quote(raw_path_query(environ)),
                environ.get('SERVER_PROTOCOL', 'HTTP/1.0'),
                response.get_status_code(),
                '-' if length is None else length,
                log_quote(environ.get('HTTP_REFERER')),
                log_quote(environ.get('HTTP_USER_AGENT')))
        if write is None:
            self.logger.info(line)
        else:
            write(line + '\n')
