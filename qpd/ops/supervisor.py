"""Supervisor: supervisord's configuration for a qpd home, and its control.

`<home>/supervisord.conf` runs supervisord with control over a unix socket
(mode 0700; never an inet server) and includes one file per started site,
`<home>/supervisord.conf.d/NAME.conf`, holding the program group `NAME`:
`NAME:durus` (started first), `NAME:dispatcher`, and `NAME:worker_00` …
one per `max_children`; on a site spread over several hosts (the `hosts`
key), only the programs of this host's roles. supervisord's own log, pid
file and socket live in `<home>/var/`. The files in supervisord.conf.d/ are the sites that should
run: `qpd start` writes one, `qpd stop` removes it, so a supervisord started
again from supervisord.conf brings back exactly the running sites.

Control goes through supervisord's XML-RPC interface over the unix socket.
"""

import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client

from qpd.config import get_stop_wait
from qpd.lib.private_dir import get_fallback_directory
from qpd.lib.process import is_alive
from qpd.ops.errors import OperationError
from qpd.ops.logs import tail as _tail

__all__ = ['Supervisor', 'get_qpd_command', 'get_program_names',
           'make_main_conf', 'make_site_conf', 'RUNNING_STATES',
           'FAILED_STATES', 'get_priority']

RUNNING_STATES = ('RUNNING',)
FAILED_STATES = ('FATAL', 'BACKOFF', 'EXITED', 'UNKNOWN')
_MAX_SOCKET_PATH = 100


def get_qpd_command():
    """() -> [str]: how to run `qpd` with this Python: the console script
    beside sys.executable (the venv's bin), else `python -m qpd`."""
    script = os.path.join(os.path.dirname(sys.executable), 'qpd')
    if os.path.exists(script):
        return [script]
    return [sys.executable, '-m', 'qpd']


def _find_executable(name, module):
    """(name:str, module:str) -> [str]: a supervisor tool beside
    sys.executable, else `python -m module`."""
    script = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(script):
        return [script]
    return [sys.executable, '-m', module]


def _escape(value):
    """(value) -> str: a value for supervisord's ini files, where '%'
    starts an expansion."""
    return str(value).replace('%', '%%')


def _command_line(words):
    """([str]) -> str: a shell-quoted command line for supervisord."""
    return _escape(' '.join(shlex.quote(word) for word in words))


def get_program_names(site):
    """(site:Site) -> [str]: the process names of the site's group on
    this host, in start order: durus (on the storage host), dispatcher,
    worker_00 … (on a web host); see Site.get_roles()."""
    roles = site.get_roles()
    names = ['durus'] if 'storage' in roles else []
    if 'web' in roles:
        names += ['dispatcher'] + [
            'worker_%02d' % index for index in range(site.get_max_children())]
    return names


def make_main_conf(supervisor):
    """(supervisor:Supervisor) -> str: the text of supervisord.conf."""
    socket = supervisor.get_socket_path()
    var = supervisor.get_var_directory()
    return '\n'.join([
        '; supervisord.conf for the qpd home %s' % supervisor.get_home(),
        '; written by qpd; `qpd start` rewrites it.',
        '',
        '[unix_http_server]',
        'file = %s' % _escape(socket),
        'chmod = 0700',
        '',
        '[supervisord]',
        'logfile = %s' % _escape(os.path.join(var, 'supervisord.log')),
        'logfile_maxbytes = 10MB',
        'logfile_backups = 3',
        'loglevel = info',
        'pidfile = %s' % _escape(supervisor.get_pid_file()),
        'childlogdir = %s' % _escape(var),
        'directory = %s' % _escape(supervisor.get_home()),
        'identifier = qpd',
        'umask = 077',
        '',
        '[rpcinterface:supervisor]',
        'supervisor.rpcinterface_factory = '
        'supervisor.rpcinterface:make_main_rpcinterface',
        '',
        '[supervisorctl]',
        'serverurl = unix://%s' % _escape(socket),
        '',
        '[include]',
        'files = supervisord.conf.d/*.conf',
        ''])


_PRIORITIES = {'durus': 10, 'dispatcher': 20}
_WORKER_PRIORITY = 30


def get_priority(process):
    """(process:str) -> int: supervisord's priority for a site's program
    (durus, dispatcher, worker_NN): lower starts first and stops last, so
    the StorageServer is up before the dispatcher, and the dispatcher
    before the workers (qpd.ops.lifecycle stops the dispatcher first
    itself)."""
    return _PRIORITIES.get(process, _WORKER_PRIORITY)


def make_site_conf(site):
    """(site:Site) -> str: the text of supervisord.conf.d/NAME.conf."""
    name = site.get_name()
    home = site.get_home()
    var = site.get_var_directory()
    qpd = get_qpd_command() + ['--home', home]
    stop_wait = get_stop_wait(site.get_configuration())
    names = get_program_names(site)
    lines = [
        '; supervisord program group for the qpd site %s' % name,
        '; written by qpd; `qpd start %s` rewrites it.' % name,
        '',
        '[group:%s]' % name,
        'programs = %s' % ','.join('%s-%s' % (name, n) for n in names),
        '']
    for process in names:
        if process in ('durus', 'dispatcher'):
            words = [process, name]
        else:
            index = int(process.split('_')[1])
            words = ['worker', name, '--index', str(index)]
        priority = get_priority(process)
        lines.extend([
            '[program:%s-%s]' % (name, process),
            'process_name = %s' % process,
            'command = %s' % _command_line(qpd + words),
            'directory = %s' % _escape(home),
            'priority = %d' % priority,
            'autostart = true',
            'autorestart = true',
            'startsecs = 1',
            'startretries = 20',
            'stopsignal = TERM',
            'stopwaitsecs = %d' % stop_wait,
            'stopasgroup = true',
            'killasgroup = true',
            'redirect_stderr = true',
            'stdout_logfile = %s' % _escape(
                os.path.join(var, '%s.log' % process)),
            'stdout_logfile_maxbytes = 10MB',
            'stdout_logfile_backups = 3',
            'environment = PYTHONUNBUFFERED="1"',
            ''])
    return '\n'.join(lines)


class Supervisor:
    """supervisord for the qpd home `home`: its files and its control."""

    def __init__(self, home):
        if '%' in home:
            raise OperationError(
                "the qpd home %s has a '%%' in its path, which supervisord's "
                "configuration cannot hold; use another directory" % home)
        self.home = home
        self._proxy = None

    def get_home(self):
        """() -> str"""
        return self.home

    def get_conf_file(self):
        """() -> str: <home>/supervisord.conf"""
        return os.path.join(self.home, 'supervisord.conf')

    def get_conf_directory(self):
        """() -> str: <home>/supervisord.conf.d"""
        return os.path.join(self.home, 'supervisord.conf.d')

    def get_site_conf_file(self, name):
        """(name:str) -> str: <home>/supervisord.conf.d/NAME.conf"""
        return os.path.join(self.get_conf_directory(), '%s.conf' % name)

    def get_var_directory(self):
        """() -> str: <home>/var, for supervisord's own log and pid file."""
        return os.path.join(self.home, 'var')

    def get_pid_file(self):
        """() -> str"""
        return os.path.join(self.get_var_directory(), 'supervisord.pid')

    def get_log_file(self):
        """() -> str"""
        return os.path.join(self.get_var_directory(), 'supervisord.log')

    def get_socket_path(self):
        """() -> str: the control socket, <home>/var/supervisord.sock, or a
        short private path when that is too long for a unix socket."""
        path = os.path.join(self.get_var_directory(), 'supervisord.sock')
        if len(path.encode()) <= _MAX_SOCKET_PATH:
            return path
        return os.path.join(get_fallback_directory(self.home),
                            'supervisord.sock')

    def get_site_names(self):
        """() -> [str]: the sites with a file in supervisord.conf.d."""
        try:
            names = os.listdir(self.get_conf_directory())
        except FileNotFoundError:
            return []
        return sorted(n[:-5] for n in names if n.endswith('.conf'))

    # Files -----------------------------------------------------------------

    def write_main_conf(self):
        """() -> str: write supervisord.conf (and make its directories);
        its path."""
        os.makedirs(self.get_var_directory(), mode=0o700, exist_ok=True)
        os.makedirs(self.get_conf_directory(), exist_ok=True)
        # supervisord's log is private like every other log (its umask,
        # 077, covers the files it makes; this covers one made before).
        log = self.get_log_file()
        os.close(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        os.chmod(log, 0o600)
        path = self.get_conf_file()
        _write_if_changed(path, make_main_conf(self))
        return path

    def write_site_conf(self, site):
        """(site:Site) -> bool: write the site's program group file; was it
        new or changed?"""
        self.write_main_conf()
        site.ensure_var_directory()
        return _write_if_changed(self.get_site_conf_file(site.get_name()),
                                 make_site_conf(site))

    def remove_site_conf(self, name):
        """(name:str) -> bool: remove the site's program group file; was it
        there?"""
        try:
            os.unlink(self.get_site_conf_file(name))
            return True
        except FileNotFoundError:
            return False

    # Control ---------------------------------------------------------------

    def get_proxy(self):
        """() -> the `supervisor` namespace of supervisord's XML-RPC
        interface, over the unix socket."""
        if self._proxy is None:
            from supervisor.xmlrpc import SupervisorTransport
            transport = SupervisorTransport(
                None, None, 'unix://' + self.get_socket_path())
            self._proxy = xmlrpc.client.ServerProxy(
                'http://127.0.0.1', transport=transport).supervisor
        return self._proxy

    def call(self, method, *args):
        """(method:str, *args) -> the result of supervisor.METHOD(*args);
        an unreachable supervisord or a fault is an OperationError."""
        try:
            return getattr(self.get_proxy(), method)(*args)
        except xmlrpc.client.Fault as e:
            raise OperationError('supervisord: %s(%s): %s' % (
                method, ', '.join(map(repr, args)), e.faultString))
        except OSError as e:
            self._proxy = None
            raise OperationError(
                'supervisord is not running for %s (%s)' % (self.home, e))

    def is_running(self):
        """() -> bool: does supervisord answer on the control socket?"""
        if not os.path.exists(self.get_socket_path()):
            return False
        try:
            self.call('getState')
            return True
        except OperationError:
            return False

    def ensure_running(self, timeout=15):
        """(timeout:float=15) -> bool: start supervisord unless it is
        running; True when this call started it."""
        if self.is_running():
            return False
        self.write_main_conf()
        command = _find_executable('supervisord', 'supervisor.supervisord')
        result = subprocess.run(
            command + ['-c', self.get_conf_file()],
            cwd=self.home, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        if result.returncode != 0:
            raise OperationError(
                'supervisord did not start: %s' % (
                    result.stdout.strip().splitlines() or ['?'])[-1],
                details=result.stdout.strip().splitlines()[-10:])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.is_running():
                return True
            time.sleep(0.1)
        raise OperationError(
            'supervisord did not answer within %ss; see %s' % (
                timeout, self.get_log_file()),
            details=_tail(self.get_log_file(), 10))

    def get_pid(self):
        """() -> int | None: supervisord's pid, when it is running."""
        if not self.is_running():
            return None
        return self.call('getPID')

    def get_group_names(self):
        """() -> [str]: the process groups supervisord runs now."""
        return sorted({info['group']
                       for info in self.call('getAllProcessInfo')})

    def get_process_infos(self, name=None):
        """(name:str=None) -> [dict]: supervisord's process infos, for one
        site's group or for all."""
        infos = self.call('getAllProcessInfo')
        if name is not None:
            infos = [info for info in infos if info['group'] == name]
        return infos

    def update(self, names):
        """(names:[str]) -> {name: 'added'|'changed'|'removed'|'unchanged'}

        Reread the configuration and apply it to the named sites only: a
        new group is added (and so started), a changed one is stopped,
        replaced and started, a removed one is stopped and dropped. Other
        sites are not touched."""
        added, changed, removed = self.call('reloadConfig')[0]
        result = {}
        for name in names:
            if name in added:
                self.call('addProcessGroup', name)
                result[name] = 'added'
            elif name in changed:
                self.call('stopProcessGroup', name, True)
                self.call('removeProcessGroup', name)
                self.call('addProcessGroup', name)
                result[name] = 'changed'
            elif name in removed:
                self.call('stopProcessGroup', name, True)
                self.call('removeProcessGroup', name)
                result[name] = 'removed'
            else:
                result[name] = 'unchanged'
        return result

    def start_process(self, namespec, wait=True):
        """(namespec:str, wait=True) -> None: start one process (or
        'NAME:*'); a running one is left alone."""
        self._process_call('start', namespec, wait, 'ALREADY_STARTED')

    def stop_process(self, namespec, wait=True):
        """(namespec:str, wait=True) -> None: stop one process (or
        'NAME:*'); a stopped one is left alone."""
        self._process_call('stop', namespec, wait, 'NOT_RUNNING')

    def _process_call(self, verb, namespec, wait, harmless):
        """(verb:'start'|'stop', namespec:str, wait:bool, harmless:str)
        supervisord's startProcess or stopProcess (the ProcessGroup one
        for 'NAME:*'); a fault naming harmless means it is so already."""
        try:
            if namespec.endswith(':*'):
                self.call(verb + 'ProcessGroup', namespec[:-2], wait)
            else:
                self.call(verb + 'Process', namespec, wait)
        except OperationError as e:
            if harmless not in str(e):
                raise

    def shutdown(self, timeout=60):
        """(timeout:float=60) -> bool: stop every process and supervisord,
        waiting until it has exited; False if it was not running."""
        if not self.is_running():
            return False
        pid = self.call('getPID')
        self.call('shutdown')
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not is_alive(pid):
                return True
            time.sleep(0.1)
        raise OperationError('supervisord (pid %s) did not exit within %ss'
                             % (pid, timeout))


def _write_if_changed(path, text):
    """(path:str, text:str) -> bool: write text to path unless it already
    holds it; was it written?"""
    try:
        with open(path) as f:
            if f.read() == text:
                return False
    except FileNotFoundError:
        pass
    temporary = path + '.tmp'
    with open(temporary, 'w') as f:
        f.write(text)
    os.replace(temporary, path)
    return True

