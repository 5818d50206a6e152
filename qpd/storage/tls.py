"""qpd.storage.tls: Durus's protocol over mutual TLS.

Durus's ClientStorage and StorageServer speak over plain sockets, and
whoever can write to a StorageServer can make every client unpickle what
they sent. On one machine the unix socket (mode 0600) keeps others out;
across machines (`durus_address` a `(host, port)` with `durus_tls` on)
this module wraps both ends in TLS with Python's `ssl`, TLS 1.2 or newer,
and both ends must show a certificate signed by the site's own CA (made
by `qpd certs NAME`, see qpd.ops.certs): the server checks the client's,
the client checks the server's and that it names the host it dialled.

The files of one host sit in one directory (`durus_tls_directory`, by
default `var/tls`): `ca.pem`, `host.pem` and `host.key`, and `crl.pem`
when `qpd certs NAME` wrote one (the certificates revoked with `qpd
certs NAME --revoke HOST`: a peer showing one of them is refused). Every
host has one identity: the storage host's certificate serves TLS (and is
a client too, for `qpd shell` there), a web host's is a client
certificate.

The files are checked before a context is made (`check_tls_files`), so
that what is wrong with them is one line naming the file and the fix
(TLSFileError) from `qpd durus`, `qpd shell` and the workers alike,
never an ssl.SSLError traceback: a missing file, a file that is not a
PEM certificate or key, a key that does not match host.pem, a host.key
that group or others may read, a certificate past its end (`qpd certs
NAME --renew`).
A certificate that ends within EXPIRY_WARNING_DAYS is a warning line on
stderr at start, not an error.

How it meets Durus, without patching it:

- Durus reads and writes through `durus.utils.read(f, n)` and
  `write(f, data)`, which use `f.read(n)` / `f.write(data)` when the
  object has them. `TLSChannel` wraps an `ssl.SSLSocket` with a `read(n)`
  that returns exactly n bytes (fewer only at end of stream, which Durus
  turns into ShortRead) and a `write` that sends everything.
- Client: `TLSAddress` is a Durus `HostPortAddress` whose
  `get_connected_socket()` dials (with a connect timeout), does the
  handshake and returns a TLSChannel. `ClientStorage(TLSAddress(...))`
  then works as over any socket, and `qpd.storage.connection.reconnect`
  reuses the address, so reconnecting after a StorageServer restart goes
  over TLS too.
- Server: `TLSStorageServer` is qpd's DurableStorageServer whose accept
  does not block: the accepted socket is wrapped with the handshake
  deferred, and the select loop drives the handshake a step at a time, so
  a client that never finishes it (a port scanner, a plain-TCP Durus
  client waiting for an answer) cannot stall the other clients. A failed
  handshake is refused: one line on stderr (supervisord's durus.log)
  names the peer and the reason (no certificate, a certificate of another
  CA, not TLS at all). Handshakes still pending after HANDSHAKE_TIMEOUT
  are dropped when the next client connects. Since TLS decrypts whole
  records, bytes of a next command may already sit in the SSL buffer
  where select() cannot see them: after each command the server serves
  what is pending before going back to select.
"""

import datetime
import os
import socket
import ssl
import sys
import time

from durus.storage_server import HostPortAddress, _Client

from qpd.lib.private_dir import check_private_file
from qpd.lib.process import log_line
from qpd.storage.durable import DurableStorageServer

__all__ = ['CA_FILE', 'CERT_FILE', 'KEY_FILE', 'CRL_FILE', 'TLSFileError',
           'TLSFilesMissing', 'get_tls_files', 'check_tls_files',
           'make_server_context', 'make_client_context',
           'TLSChannel', 'TLSAddress', 'TLSStorageServer', 'describe_error',
           'HANDSHAKE_TIMEOUT', 'CONNECT_TIMEOUT', 'EXPIRY_WARNING_DAYS',
           'get_certificate_end']

CA_FILE = 'ca.pem'
CERT_FILE = 'host.pem'
KEY_FILE = 'host.key'
CRL_FILE = 'crl.pem'
EXPIRY_WARNING_DAYS = 30
_REMAKE = ('make this host\'s files again with "qpd certs NAME" (--renew '
           'for a new certificate) and copy its directory there')

HANDSHAKE_TIMEOUT = 10.0    # seconds a client has to finish its handshake
CONNECT_TIMEOUT = 10.0      # seconds a client waits to connect and shake
IO_TIMEOUT = 10             # Durus's own timeout on a server's sockets


class TLSFileError(OSError):
    """(problem:str, fix:str)
    A host's TLS file cannot be used; str() is one line, 'PROBLEM: FIX',
    the problem naming the file."""

    def __init__(self, problem, fix):
        self.problem = problem
        self.fix = fix
        OSError.__init__(self, '%s: %s' % (problem, fix))

    def for_site(self, site_name):
        """(site_name:str) -> str: the line, its fix naming the site."""
        return str(self).replace('qpd certs NAME', 'qpd certs ' + site_name)


class TLSFilesMissing(TLSFileError):
    """(directory:str, missing:[str])
    A host's TLS directory lacks files; str() is one line with the fix."""

    def __init__(self, directory, missing):
        self.directory = directory
        self.missing = missing
        TLSFileError.__init__(
            self, '%s lacks %s' % (directory, ', '.join(missing)),
            'make the files with "qpd certs NAME" and copy this host\'s '
            'ca.pem, host.pem and host.key there')


def get_tls_files(directory):
    """(directory:str) -> (ca:str, cert:str, key:str): the paths of the
    host's TLS files; TLSFilesMissing when one is not there."""
    paths = [os.path.join(directory, name)
             for name in (CA_FILE, CERT_FILE, KEY_FILE)]
    missing = [os.path.basename(p) for p in paths if not os.path.exists(p)]
    if missing:
        raise TLSFilesMissing(directory, missing)
    return tuple(paths)


def _read_certificate(path):
    from cryptography import x509
    try:
        with open(path, 'rb') as f:
            return x509.load_pem_x509_certificate(f.read())
    except ValueError:
        raise TLSFileError('%s is not a PEM certificate' % path,
                           _REMAKE) from None


def get_certificate_end(certificate):
    """(x509.Certificate) -> datetime (UTC): its end, on cryptography 41
    (naive) as on 42 and newer (aware)."""
    end = getattr(certificate, 'not_valid_after_utc', None)
    if end is None:
        end = certificate.not_valid_after.replace(
            tzinfo=datetime.timezone.utc)
    return end


def check_tls_files(directory, now=None):
    """(directory:str, now:datetime=None) -> [str]
    Check a host's TLS files (see the module's docstring): TLSFileError
    for the first one that cannot be used; the warnings (a certificate
    that ends within EXPIRY_WARNING_DAYS), one line each."""
    from cryptography.hazmat.primitives import serialization
    ca, cert, key = get_tls_files(directory)
    problem = check_private_file(key)
    if problem:
        raise TLSFileError(problem, 'the key is this host\'s identity to '
                           'the StorageServer; if others could copy it, '
                           'revoke it: "qpd certs NAME --revoke HOST"')
    now = now or datetime.datetime.now(datetime.timezone.utc)
    warnings = []
    certificates = {}
    for path in (ca, cert):
        certificate = certificates[path] = _read_certificate(path)
        end = get_certificate_end(certificate)
        if end <= now:
            raise TLSFileError('%s expired on %s' % (
                path, end.strftime('%Y-%m-%d %H:%M UTC')),
                'make a new one with "qpd certs NAME --renew" and copy '
                "this host's directory there")
        if end - now < datetime.timedelta(days=EXPIRY_WARNING_DAYS):
            warnings.append(
                '%s expires on %s (in %d days): make a new one with "qpd '
                'certs NAME --renew" and copy this host\'s directory there'
                % (path, end.strftime('%Y-%m-%d'), (end - now).days))
    try:
        with open(key, 'rb') as f:
            private = serialization.load_pem_private_key(f.read(), None)
    except (ValueError, TypeError):
        raise TLSFileError('%s is not an unencrypted PEM private key' % key,
                           _REMAKE) from None
    public = private.public_key().public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    if public != certificates[cert].public_key().public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo):
        raise TLSFileError('%s is not the key of %s' % (key, cert), _REMAKE)
    return warnings


def _context(purpose, directory):
    ca, cert, key = get_tls_files(directory)
    for line in check_tls_files(directory):
        log_line('qpd', 'warning: ' + line, sys.stderr)
    context = ssl.SSLContext(purpose)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    crl = os.path.join(directory, CRL_FILE)
    try:
        context.load_verify_locations(cafile=ca)
        context.load_cert_chain(cert, key)
        if os.path.exists(crl):
            context.load_verify_locations(cafile=crl)
            context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    except ssl.SSLError as error:
        # What check_tls_files did not catch (a CRL of another CA, ...).
        raise TLSFileError('the TLS files in %s cannot be used (%s)' % (
            directory, describe_error(error)), _REMAKE) from None
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def make_server_context(directory):
    """(directory:str) -> ssl.SSLContext for the StorageServer: its own
    certificate, and a client certificate of the site's CA required."""
    return _context(ssl.PROTOCOL_TLS_SERVER, directory)


def make_client_context(directory):
    """(directory:str) -> ssl.SSLContext for a client: this host's
    certificate shown, the server's verified against the site's CA and
    the host name dialled."""
    context = _context(ssl.PROTOCOL_TLS_CLIENT, directory)
    context.check_hostname = True
    return context


class TLSChannel:
    """(sock:ssl.SSLSocket)
    A TLS socket as Durus's read() and write() want it: read(n) returns n
    bytes (fewer only at the end of the stream), write(data) sends all."""

    def __init__(self, sock):
        self.sock = sock

    def __repr__(self):
        return '<TLSChannel %s>' % (self.sock,)

    def read(self, n):
        """(n:int) -> bytes: n bytes, or fewer when the peer closed."""
        if n <= 0:
            return b''
        buffer = bytearray(n)
        view = memoryview(buffer)
        got = 0
        while got < n:
            count = self.sock.recv_into(view[got:], n - got)
            if not count:
                break
            got += count
        return bytes(view[:got])

    def write(self, data):
        """(data:bytes) -> None: send all of data."""
        self.sock.sendall(data)

    def pending(self):
        """() -> int: decrypted bytes waiting in the SSL buffer."""
        return self.sock.pending()

    def fileno(self):
        return self.sock.fileno()

    def settimeout(self, timeout):
        self.sock.settimeout(timeout)

    def setsockopt(self, *args):
        self.sock.setsockopt(*args)

    def getpeername(self):
        return self.sock.getpeername()

    def version(self):
        """() -> str: the TLS version ('TLSv1.3')."""
        return self.sock.version()

    def close(self):
        self.sock.close()


class TLSAddress(HostPortAddress):
    """(host:str, port:int, context:ssl.SSLContext, server_hostname=None)
    A Durus address whose connected sockets speak TLS (TLSChannel);
    server_hostname (default host) is what the server's certificate must
    name."""

    def __init__(self, host, port, context, server_hostname=None):
        HostPortAddress.__init__(self, host=host, port=port)
        self.context = context
        self.server_hostname = server_hostname or host

    def __str__(self):
        return 'tls:' + HostPortAddress.__str__(self)

    def get_connected_socket(self):
        """() -> TLSChannel | None (None when the connection is refused);
        a failed handshake raises ssl.SSLError (an OSError)."""
        try:
            sock = socket.create_connection((self.host, self.port),
                                            timeout=CONNECT_TIMEOUT)
        except ConnectionRefusedError:
            return None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.context.wrap_socket(
                sock, server_hostname=self.server_hostname)
        except BaseException:
            sock.close()
            raise
        tls.settimeout(None)        # as Durus's client sockets
        return TLSChannel(tls)


def describe_error(error):
    """(error:Exception) -> str: why a TLS handshake failed, in words."""
    reason = getattr(error, 'reason', None) or ''
    words = {
        'PEER_DID_NOT_RETURN_A_CERTIFICATE': 'no client certificate',
        'CERTIFICATE_VERIFY_FAILED':
            "a certificate not signed by the site's CA",
        'TLSV1_ALERT_UNKNOWN_CA': "it does not trust the site's CA",
        'WRONG_VERSION_NUMBER': 'not TLS (plain TCP?)',
        'HTTP_REQUEST': 'not TLS (an HTTP request)',
        'UNSUPPORTED_PROTOCOL': 'a TLS version older than 1.2',
        'TLSV1_ALERT_PROTOCOL_VERSION': 'a TLS version older than 1.2',
        'NO_SHARED_CIPHER': 'no shared cipher',
    }
    if reason in words:
        return '%s (%s)' % (words[reason], reason)
    if reason:
        return reason
    return str(error) or type(error).__name__


class TLSStorageServer(DurableStorageServer):
    """(storage, address, context:ssl.SSLContext, name:str='', **options)
    qpd's DurableStorageServer over mutual TLS (see the module's
    docstring); options are DurableStorageServer's."""

    def __init__(self, storage, address, context, name='', log=None,
                 **options):
        DurableStorageServer.__init__(self, storage, address, **options)
        self.context = context
        self.name = name
        self.handshakes = {}    # SSLSocket -> (peer address, deadline)
        self.refusals = 0
        self.log_file = log

    def say(self, message):
        """(message:str) -> None: one dated line on stderr."""
        log_line('qpd durus %s' % self.name, message, self.log_file)

    def accept(self, listener):
        conn, addr = listener.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.setblocking(False)
        tls = self.context.wrap_socket(conn, server_side=True,
                                       do_handshake_on_connect=False)
        self.handshakes[tls] = (addr, time.monotonic() + HANDSHAKE_TIMEOUT)
        self.sockets.append(tls)
        self.expire_handshakes()

    def expire_handshakes(self):
        """() -> None: drop the handshakes that ran out of time."""
        now = time.monotonic()
        for tls, (addr, deadline) in list(self.handshakes.items()):
            if deadline < now:
                self.refuse(tls, 'no handshake within %ss'
                            % HANDSHAKE_TIMEOUT)

    def refuse(self, tls, reason):
        """(tls:SSLSocket, reason:str) -> None: close a client whose
        handshake failed, and log it."""
        addr, deadline = self.handshakes.pop(tls)
        if tls in self.sockets:
            self.sockets.remove(tls)
        try:
            tls.close()
        except OSError:
            pass
        self.refusals += 1
        self.say('refused a client at %s: %s' % (_format_peer(addr), reason))

    def shake(self, tls):
        """(tls:SSLSocket) -> None: take the handshake one step further;
        once done, the socket becomes a Durus client."""
        try:
            tls.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return
        except (ssl.SSLError, OSError) as error:
            self.refuse(tls, describe_error(error))
            return
        addr, deadline = self.handshakes.pop(tls)
        self.sockets.remove(tls)
        tls.settimeout(IO_TIMEOUT)
        channel = TLSChannel(tls)
        self.clients.append(_Client(channel, addr))
        self.sockets.append(channel)
        if tls.pending():
            self.serve_client(channel)

    def serve_client(self, s):
        if s in self.handshakes:
            self.shake(s)
            return
        DurableStorageServer.serve_client(self, s)
        while s in self.sockets and s.pending():
            DurableStorageServer.serve_client(self, s)


def _format_peer(addr):
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[:2]
        return '[%s]:%s' % (host, port) if ':' in host else '%s:%s' % (
            host, port)
    return str(addr)
