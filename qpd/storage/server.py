"""qpd.storage.server: run a site's Durus StorageServer.

    qpd durus NAME          -> main(Site(NAME))
    python -m qpd.storage.server FILE ADDRESS [--name NAME] [--dsn DSN]
                            -> serve(FILE, ADDRESS), for tests

The server is Durus's own StorageServer over a FileStorage, or, for
`durus_storage = 'postgresql'`, over the PostgreSQL database `durus_dsn`
names (qpd.storage.postgresql). A unix socket
address (a path) is created with mode 0600 (umask 0o177): whoever can write
to a Durus server can make every client unpickle what they sent, so only
the site's own user may connect. A `(host, port)` address listens on TCP,
over mutual TLS when the site sets durus_tls (qpd.storage.tls).

When the server is listening it prints one flushed line to stdout:

    READY durus <name> pid=<pid> <address>

SIGTERM and SIGINT stop it cleanly: the socket file is removed and the
storage file closed.
"""

import os
import signal
import sys

from durus.connection import Connection

from qpd.lib import ready
from qpd.lib.private_dir import create_private_file, tighten
from qpd.lib.process import remove_stale_socket
from durus.file_storage import FileStorage
from durus.storage_server import HostPortAddress, UnixDomainSocketAddress

from qpd.storage.commit_count import CommitCounter, counter_path
from qpd.storage.durable import (
    DurableStorageServer, StorageDamaged, recover_tail)
from qpd.storage.tls import TLSFileError

__all__ = ['main', 'serve', 'make_socket_address', 'format_ready_line',
           'UNIX_SOCKET_UMASK']

UNIX_SOCKET_UMASK = 0o177     # the socket file gets mode 0600


def make_socket_address(address, umask=UNIX_SOCKET_UMASK):
    """(address:str|(host, port), umask:int=UNIX_SOCKET_UMASK) -> durus SocketAddress
    A path is a unix socket, created under umask; a pair is TCP.
    """
    if isinstance(address, (tuple, list)):
        host, port = address
        return HostPortAddress(host=host, port=int(port))
    return UnixDomainSocketAddress(str(address), umask=umask)


def format_ready_line(name, address, pid=None):
    """(name:str, address, pid:int=None) -> str: the StorageServer's READY
    line (see qpd.lib.ready)."""
    return ready.format_ready_line(
        'durus', name, ready.format_address_text(address), pid)


def _stop(signum, frame):
    raise SystemExit(0)


def _make_private(directory, durus_file):
    """(directory:str, durus_file:str) -> None
    Close the file's directory to 0700 and the file to 0600 whatever
    they were (a QP site ships var/ 0755, its .durus file then 0644), and
    make a missing file new and empty, 0600, with O_EXCL|O_NOFOLLOW
    (Durus writes its header into an empty file; left to Durus, it would
    be made by open(..., 'w+b'), under the umask, through any symlink).
    """
    tighten(os.path.realpath(directory), 0o700)   # a release's var: a link
    if os.path.lexists(durus_file):
        tighten(durus_file, 0o600)
    else:
        create_private_file(durus_file).close()


def serve(durus_file, address, name=None, on_listening=None, umask=None,
          quiet=True, sync=True, side_directory=None, check_command=None,
          tls_directory=None, secret_file=None, dsn=None):
    """(durus_file:str, address:str|(host, port), name:str=None,
        on_listening=None, umask:int=None, quiet=True, sync=True,
        side_directory:str=None, check_command:str=None,
        tls_directory:str=None, secret_file:str=None, dsn:str=None)
        -> None
    Serve durus_file on address until SIGTERM or SIGINT. When listening,
    call on_listening(sock) if given, else print the READY line naming
    `name` (the file's base name when None). With quiet, Durus logs only
    warnings (not a line per commit). A TCP port 0 listens on a free port,
    which the READY line names. With sync, every commit is synced to disk
    before it is answered (see qpd.storage.durable). A torn tail is cut off
    the file first (its bytes saved in side_directory, default the file's
    directory); other damage raises StorageDamaged, naming check_command.
    With tls_directory (a host's TLS files, see qpd.storage.tls), clients
    must speak mutual TLS. With dsn, the objects are in that PostgreSQL
    database (qpd.storage.postgresql) and durus_file is not used. With
    secret_file (the site's key file), the key is made there at first
    start, from the old root['qpd_secret'] when there is one, which is
    then dropped (qpd.lib.secret_file); with dsn too, the key is the one
    kept in the database for every host, and the file follows it while
    the server runs (qpd.storage.shared_secret).
    """
    if umask is None:
        umask = UNIX_SOCKET_UMASK
    if name is None:
        name = os.path.splitext(os.path.basename(durus_file))[0]
    if quiet:
        import logging
        logging.getLogger('durus').setLevel(logging.WARNING)
    # Systemd socket activation would bypass our listening hook.
    os.environ.pop('LISTEN_PID', None)
    os.environ.pop('LISTEN_FDS', None)
    if on_listening is None:
        def on_listening(sock):
            bound = sock.getsockname()
            if isinstance(bound, tuple):
                bound = bound[:2]
            print(format_ready_line(name, bound), flush=True)
    if dsn is not None:
        if tls_directory is not None:
            raise StorageDamaged(
                "durus_tls with durus_storage='postgresql' is not supported "
                'yet: run a StorageServer on each web host (a unix socket, '
                'no TLS) and unset durus_tls')
        from qpd.storage.postgresql import PostgresStorage
        storage = PostgresStorage(dsn, site=name)
        context = None
    else:
        directory = os.path.dirname(os.path.abspath(durus_file))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        _make_private(directory, durus_file)
        recover_tail(durus_file, side_directory, check_command)
        context = None
        if tls_directory is not None:
            # Before the file is opened: missing files are a one-line error.
            from qpd.storage.tls import make_server_context
            context = make_server_context(tls_directory)
        storage = FileStorage(durus_file)
    # Make the root object now: clients that start together on a new file
    # would race to create it (on PostgreSQL, servers that start together
    # may conflict: the loser sees the winner's root).
    _make_root(storage)
    mirror = None
    if secret_file is not None:
        mirror = _take_over_secret(storage, secret_file, name, dsn)
    previous = {sig: signal.signal(sig, _stop)
                for sig in (signal.SIGTERM, signal.SIGINT)}
    listening = []

    def note_listening(sock):
        listening.append(sock)
        on_listening(sock)
    try:
        if dsn is not None:
            from qpd.storage.postgresql import PostgresStorageServer
            path = counter_path(address)
            server = PostgresStorageServer(
                storage, make_socket_address(address, umask), sync=sync,
                on_listening=note_listening,
                commit_counter=path and CommitCounter(path,
                                                        shared_database=True))
        elif context is None:
            # A local client's sync costs nothing when nothing changed.
            path = counter_path(address)
            server = DurableStorageServer(
                storage, make_socket_address(address, umask), sync=sync,
                on_listening=note_listening,
                commit_counter=path and CommitCounter(path))
        else:
            from qpd.storage.tls import TLSStorageServer
            server = TLSStorageServer(
                storage, make_socket_address(address, umask), context,
                name=name, sync=sync, on_listening=note_listening)
        server.serve()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if mirror is not None:
            mirror.stop()
        storage.close()
        if listening and not isinstance(address, (tuple, list)):
            # A signal just before Durus's own clean-up could leave it.
            for sock in listening:
                sock.close()
            try:
                remove_stale_socket(str(address))
            except OSError:
                pass


def _make_root(storage):
    from durus.error import ConflictError, ReadConflictError
    for attempt in range(5):
        try:
            Connection(storage)
            return
        except (ConflictError, ReadConflictError):
            storage.sync()
    Connection(storage)


def _take_over_secret(storage, secret_file, name, dsn=None):
    """Make the site's key file, from the old root entry when there is
    one (qpd.lib.secret_file), and check its mode (one line on stderr
    when others could read it). On PostgreSQL (dsn), the key is the one
    every host shares, kept in the database (qpd.storage.shared_secret):
    -> the started SecretMirror that keeps the file up to date, else
    None."""
    from durus.error import ConflictError, ReadConflictError
    from qpd.lib.process import log_line
    from qpd.lib.secret_file import SecretFile

    def say(line):
        log_line('qpd durus %s' % name, line)
    keys = SecretFile(secret_file, site_name=name, say=say)
    connection = Connection(storage)
    root = connection.get_root()
    if dsn is not None:
        from qpd.storage.shared_secret import share_at_start
        changed = share_at_start(storage, root, keys)
    else:
        changed = keys.take_over(root)
    try:
        if changed:
            connection.commit()
    except (ConflictError, ReadConflictError):
        connection.abort()      # another server moved it first
    if dsn is not None:
        from qpd.storage.shared_secret import start_mirror
        return start_mirror(dsn, keys, say=say)
    keys.ensure()
    keys.get_current()
    return None


def _set_title(title):
    try:
        from setproctitle import setproctitle
    except ImportError:     # the title is a convenience, not a need
        return
    setproctitle(title)


def main(site):
    """(site:Site) -> int
    Serve the site's durus file on its durus address (`qpd durus NAME`).
    """
    name = site.get_name()
    _set_title('qpd durus %s' % name)
    var = site.ensure_var_directory()
    from qpd.metrics import open_recorder
    DurableStorageServer.recorder = open_recorder(site)
    dsn = None
    if site.get('durus_storage') == 'postgresql':
        dsn = site.get('durus_dsn')
    return _run(site.get_durus_file(), site.get_durus_address(), name=name,
                sync=site.get('durus_sync'), side_directory=var,
                check_command='qpd check %s' % name,
                tls_directory=site.get_tls_directory(), dsn=dsn,
                secret_file=site.get_secret_file())


def _run(durus_file, address, **options):
    """(durus_file:str, address, **options) -> int: serve(), and the exit
    status: 0 after SIGTERM, 1 when the file is damaged (one line on
    stderr) or a sync failed."""
    # What Durus makes itself (a pack's NAME.durus.pack, then the file)
    # is private too.
    os.umask(0o077)
    from qpd.storage.postgresql import StorageLost, StorageSetupError
    try:
        serve(durus_file, address, **options)
    except (StorageDamaged, TLSFileError, StorageSetupError,
            StorageLost) as e:
        text = e.for_site(options.get('name')) if isinstance(
            e, TLSFileError) else str(e)
        sys.stderr.write('qpd durus %s: %s\n' % (options.get('name'), text))
        sys.stderr.flush()
        return 1
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else 0
    return 0


def _main(argv=None):
    """python -m qpd.storage.server FILE ADDRESS [--name NAME] [--no-sync]
        [--tls DIR] [--dsn DSN] [--secret FILE]
    ADDRESS is a socket path or HOST:PORT; --no-sync answers commits
    without syncing them (durus_sync off); --tls DIR serves mutual TLS
    with the files in DIR (qpd.storage.tls); --secret FILE keeps the
    site's signing key in FILE (qpd.lib.secret_file).
    """
    import argparse
    parser = argparse.ArgumentParser(prog='python -m qpd.storage.server')
    parser.add_argument('durus_file')
    parser.add_argument('address')
    parser.add_argument('--name', default=None)
    parser.add_argument('--no-sync', dest='sync', action='store_false')
    parser.add_argument('--tls', dest='tls_directory', default=None,
                        metavar='DIR', help="mutual TLS with a host's files")
    parser.add_argument('--dsn', default=None, metavar='DSN',
                        help='serve the PostgreSQL database DSN names '
                             '(FILE is not used)')
    parser.add_argument('--secret', dest='secret_file', default=None,
                        metavar='FILE', help="the site's signing key file")
    args = parser.parse_args(argv)
    address = args.address
    if '/' not in address and ':' in address:
        host, _, port = address.rpartition(':')
        address = (host.strip('[]'), int(port))
    name = args.name or os.path.splitext(os.path.basename(args.durus_file))[0]
    _set_title('qpd durus %s' % name)
    return _run(args.durus_file, address, name=name, sync=args.sync,
                tls_directory=args.tls_directory, dsn=args.dsn,
                secret_file=args.secret_file)


if __name__ == '__main__':
    sys.exit(_main())
