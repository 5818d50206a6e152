"""`qpd shell NAME`: a Python session on a running site's database.

The shell is one more client of the site's StorageServer: what it commits,
the next request sees; what the workers commit, it sees after `abort()`
(which drops its own uncommitted changes and syncs). Its commits take
the write turn's commit lock as a worker's do (qpd.server.write_turn):
while a hit holds the turn, the shell's commit waits. Its namespace holds
`site`, `publisher`, `connection`, `root`, `users`, `sessions`, `commit`,
`abort`, `pp` (pprint.pprint), and `create_user(user_id, password,
admin=False)`.
"""

import code
import os
import pprint
import sys
import traceback

from qpd.server.write_turn import open_write_turn

__all__ = ['make_namespace', 'run_code', 'interact', 'get_banner']


def _first(*getters):
    """(*getters:callable) -> the first value a getter answers without an
    error that is not None, else None."""
    for getter in getters:
        try:
            value = getter()
        except Exception:
            continue
        if value is not None:
            return value
    return None


def make_namespace(site):
    """(site:Site) -> dict: the shell's names, connected to the running
    site's StorageServer."""
    connection = site.get_connection()
    publisher = site.make_publisher(connection)
    site.ensure_var_directory()
    turn = publisher.write_turn = open_write_turn(site)
    root = connection.get_root()

    def commit():
        """() -> None: commit this session's changes; the site sees them
        (waiting while a hit holds the write turn)."""
        with turn.committing():
            connection.commit()

    def abort():
        """() -> None: drop uncommitted changes and see what others
        committed."""
        connection.abort()

    def create_user(user_id, password=None, admin=False):
        """(user_id:str, password:str=None, admin=False) -> User: a new
        user who can sign in with password (an admin if admin), committed.
        """
        connection.abort()
        user = publisher.add_user(user_id)
        if password is not None:
            user.set_password(password, realm=publisher.get_realm())
        if admin:
            user.grant('admin', 'qpd shell')
        commit()
        return user

    ensure = getattr(publisher, 'ensure_initialized', None)
    if ensure is not None:
        ensure()
    namespace = dict(
        site=site, publisher=publisher, connection=connection, root=root,
        commit=commit, abort=abort, pp=pprint.pprint,
        create_user=create_user,
        users=_first(lambda: publisher.get_users(), lambda: root['users']),
        sessions=_first(lambda: publisher.get_sessions(),
                        lambda: root['sessions']))
    return namespace


def get_banner(namespace):
    """(namespace:dict) -> str"""
    site = namespace['site']
    return ('qpd shell: site %s, database %s\n'
            'names: %s\n'
            'commit() saves your changes; abort() drops them and shows what '
            'the site committed.' % (
                site.get_name(), site.get_durus_address(),
                ', '.join(sorted(k for k in namespace
                                 if not k.startswith('_')))))


def run_code(source, namespace):
    """(source:str, namespace:dict) -> int: run source; 0, or 1 after
    printing the traceback of an exception."""
    try:
        exec(compile(source, '<qpd shell -c>', 'exec'), namespace)
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return e.code or 0
        sys.stderr.write('%s\n' % e.code)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def _setup_readline(namespace, history):
    """(namespace:dict, history:str) -> callable | None: tab completion and
    history; answers the function that saves the history."""
    try:
        import readline
        import rlcompleter
    except ImportError:
        return None
    readline.set_completer(rlcompleter.Completer(namespace).complete)
    readline.parse_and_bind('tab: complete')
    try:
        readline.read_history_file(history)
    except OSError:
        pass
    readline.set_history_length(1000)

    def save():
        try:
            readline.write_history_file(history)
        except OSError:
            pass
    return save


def interact(namespace, plain=False):
    """(namespace:dict, plain=False) -> int: an interactive session;
    IPython when it is installed (unless `plain`)."""
    banner = get_banner(namespace)
    if not plain:
        try:
            import IPython
        except ImportError:
            IPython = None
        if IPython is not None:
            print(banner)
            IPython.start_ipython(argv=[], user_ns=namespace)
            return 0
    site = namespace['site']
    history = os.path.join(site.get_var_directory(), 'shell_history')
    save = _setup_readline(namespace, history)
    try:
        code.InteractiveConsole(namespace).interact(
            banner=banner, exitmsg='')
    finally:
        if save:
            save()
    return 0
