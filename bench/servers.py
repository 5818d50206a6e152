"""The servers the bench compares, each started the way a user would.

    make_home(directory, port, workers, settings=None) -> HOME
                                        # sites/bench, its database
    QpdServer(processes, home, port, workers)     # qpd start (or qpd serve)
    GunicornServer(processes, home, port, workers)  # qpd durus + gunicorn
    GranianServer(processes, home, port, workers)   # qpd durus + granian
    UwsgiServer(processes, home, port, workers)     # qpd durus + uWSGI
    NginxServer(processes, directory, port, workers, static_file)

Each server has start() -> seconds from launch to the first 200,
worker_pids(), other_pids(), get_count() (the /write counter) and stop().
"""

import json
import os
import shutil
import subprocess
import sys
import time

from harness import (HarnessError, free_port, http_get, kill_tree,
                     wait_for_200)

__all__ = ['make_home', 'QpdServer', 'WsgiServer', 'GunicornServer',
           'GranianServer', 'UwsgiServer', 'NginxServer', 'SERVER_CLASSES',
           'qpd_command', 'STATIC_SIZE', 'SITE_NAME']

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
SITE_SOURCE = os.path.join(BENCH_DIR, 'site')
SITE_NAME = 'bench'
STATIC_SIZE = 100 * 1024
HOST = '127.0.0.1'

_INITIALIZE = '''
import sys
from durus.connection import Connection
from durus.file_storage import FileStorage
from qpd.site import Site
site = Site(sys.argv[1], home=sys.argv[2])
site.get_slash_module()          # puts HOME/sites on qpd.sites.__path__
site.ensure_var_directory()
from qpd.sites.bench.model import initialize
if site.get('durus_storage') == 'postgresql':
    from qpd.storage.postgresql import PostgresStorage
    storage = PostgresStorage(site.get('durus_dsn'), site=site.get_name(),
                              say=lambda line: None)
else:
    storage = FileStorage(site.get_durus_file())
initialize(Connection(storage))
storage.close()
'''


def qpd_command():
    """() -> [str]: how to run the qpd command of this Python."""
    script = os.path.join(os.path.dirname(sys.executable), 'qpd')
    if os.path.exists(script):
        return [script]
    return [sys.executable, '-m', 'qpd']


def static_bytes(size=STATIC_SIZE):
    """(size:int=STATIC_SIZE) -> bytes: the static file's content."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def make_home(directory, port, workers, settings=None):
    """(directory:str, port:int, workers:int, settings:dict=None) -> str
    Make a qpd home in directory with sites/bench copied from bench/site,
    bench.json naming the port and the worker count (and settings, more
    configuration keys), the 100 KB static file, and the database with the
    bench objects. Returns the home."""
    home = os.path.abspath(directory)
    package = os.path.join(home, 'sites', SITE_NAME)
    shutil.copytree(SITE_SOURCE, package, ignore=shutil.ignore_patterns(
        '__pycache__', 'var', 'static', 'bench.json'))
    with open(os.path.join(package, 'bench.json'), 'w') as f:
        json.dump(dict(settings or {}, http_address=[HOST, port],
                       workers=workers), f)
    os.makedirs(os.path.join(package, 'static'))
    with open(os.path.join(package, 'static', '100k.bin'), 'wb') as f:
        f.write(static_bytes())
    completed = subprocess.run(
        [sys.executable, '-c', _INITIALIZE, SITE_NAME, home],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if completed.returncode != 0:
        raise HarnessError('could not initialize the bench database in %s:\n%s'
                         % (home, completed.stdout))
    return home


def _children(pid, recursive=True):
    import psutil
    try:
        return psutil.Process(pid).children(recursive=recursive)
    except psutil.Error:
        return []


def _cmdline(proc):
    import psutil
    try:
        return ' '.join(proc.cmdline())
    except psutil.Error:
        return ''


def _log_tail(path, size=3000):
    try:
        with open(path, errors='replace') as f:
            return f.read()[-size:]
    except OSError:
        return ''


class _Server:
    """What every server shares: its address and the /write counter."""

    name = 'server'
    host = HOST

    def __init__(self, processes, port, workers):
        self.processes = processes
        self.port = port
        self.workers = workers

    def url(self, path, close=False):
        """(path:str, close:bool=False) -> str: where to send the requests
        (close: each with `Connection: close`)."""
        return 'http://%s:%s%s' % (self.host, self.port, path)

    def get_count(self):
        """() -> int: the /write counter as the site reads it now."""
        status, body = http_get(self.host, self.port, '/count', timeout=10)
        if status != 200:
            raise HarnessError('%s /count answered %s: %r' % (
                self.name, status, body[:200]))
        return int(body.strip())

    def other_pids(self):
        """() -> [int]: server processes that are not workers."""
        return []

    def role_pids(self):
        """() -> {role:str: [pid]}: the server's processes by role."""
        return dict(workers=self.worker_pids(), others=self.other_pids())


class QpdServer(_Server):
    """(processes, home, port, workers, mode='auto')
    qpd's own dispatcher and workers. mode 'start' runs
    `qpd --home HOME start bench` (supervisord), 'serve' runs
    `qpd --home HOME serve bench --workers N` in the foreground, and 'auto'
    tries start, then serve."""

    name = 'qpd'

    def __init__(self, processes, home, port, workers, mode='auto'):
        _Server.__init__(self, processes, port, workers)
        self.home = home
        self.mode = mode
        self.used_mode = None
        self.serve_proc = None
        self.supervisord_pid = None
        self.command_seconds = None
        self.log = os.path.join(home, 'bench-qpd.log')

    def start(self):
        """() -> float: seconds from the command to the first 200."""
        if self.mode in ('start', 'auto'):
            try:
                return self._start_supervised()
            except HarnessError as e:
                if self.mode == 'start':
                    raise
                print('bench: qpd start did not work (%s); using qpd serve'
                      % str(e).splitlines()[0], flush=True)
                self._stop_supervised()
        return self._start_serve()

    def log_patterns(self):
        """() -> [glob pattern]: the files its workers log to (supervisord's
        per-process logs in the site's var directory, or qpd serve's
        output)."""
        return [os.path.join(self.home, 'sites', SITE_NAME, 'var', '*.log'),
                self.log]

    def _start_supervised(self):
        """Run `qpd start` and poll /hello while it runs: the time is to
        the first 200, whether or not the command has returned by then."""
        self.used_mode = 'start'
        self.processes.on_stop(self._stop_supervised)
        start = time.monotonic()
        log = open(self.log, 'a')
        command = self.processes.spawn(
            qpd_command() + ['--home', self.home, 'start', SITE_NAME],
            name='qpd start', stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_for_200(self.host, self.port, '/hello', timeout=60,
                         alive=lambda: command.poll() in (None, 0))
            seconds = time.monotonic() - start
            status = command.wait(timeout=60)
            self.command_seconds = time.monotonic() - start
        except (HarnessError, subprocess.TimeoutExpired) as e:
            self._find_supervisord()
            raise HarnessError('qpd start: %s\n%s' % (e, _log_tail(self.log)))
        finally:
            self.processes.stop(command)
        self._find_supervisord()
        if status != 0:
            raise HarnessError('qpd start exited %d: %s' % (
                status, _log_tail(self.log, 1000)))
        return seconds

    def _find_supervisord(self):
        import psutil
        for proc in psutil.process_iter():
            line = _cmdline(proc)
            if 'supervisord' in line and self.home in line:
                self.supervisord_pid = proc.pid
                self.processes.adopt(proc.pid, 'supervisord')
                return

    def _stop_supervised(self):
        if self.used_mode != 'start':
            return
        self.used_mode = None
        try:
            with open(self.log, 'a') as log:
                subprocess.run(
                    qpd_command() + ['--home', self.home, 'shutdown'],
                    stdout=log, stderr=subprocess.STDOUT, timeout=60)
        except subprocess.TimeoutExpired:
            pass
        if self.supervisord_pid is None:
            self._find_supervisord()
        if self.supervisord_pid is not None:
            kill_tree(self.supervisord_pid)
            self.supervisord_pid = None

    def _start_serve(self):
        self.used_mode = 'serve'
        log = open(self.log, 'a')
        start = time.monotonic()
        self.serve_proc = self.processes.spawn(
            qpd_command() + ['--home', self.home, 'serve', SITE_NAME,
                             '--workers', str(self.workers)],
            name='qpd serve', stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_for_200(self.host, self.port, '/hello', timeout=30,
                         alive=lambda: self.serve_proc.poll() is None)
        except HarnessError as e:
            raise HarnessError('%s\n%s' % (e, _log_tail(self.log)))
        return time.monotonic() - start

    def _root_pid(self):
        if self.used_mode == 'serve' and self.serve_proc is not None:
            return self.serve_proc.pid
        return self.supervisord_pid

    def _processes(self, role):
        root = self._root_pid()
        if root is None:
            return []
        return [proc.pid for proc in _children(root)
                if (' %s ' % role) in ' %s ' % _cmdline(proc)
                and SITE_NAME in _cmdline(proc)]

    def worker_pids(self):
        """() -> [int]: the workers' pids."""
        return self._processes('worker')

    def other_pids(self):
        """() -> [int]: the dispatcher's and the storage server's pids."""
        return self._processes('dispatcher') + self._processes('durus')

    def role_pids(self):
        """() -> {role: [pid]}: workers, dispatcher, durus."""
        return dict(workers=self.worker_pids(),
                    dispatcher=self._processes('dispatcher'),
                    durus=self._processes('durus'))

    def stop(self):
        """() -> None"""
        if self.used_mode == 'start':
            self._stop_supervised()
        elif self.serve_proc is not None:
            self.processes.stop(self.serve_proc, wait=15)
            self.serve_proc = None


class WsgiServer(_Server):
    """(processes, home, port, workers)
    `qpd --home HOME durus bench`, then a WSGI server (get_command())
    serving qpd.web.wsgi.make_app(site) (bench/gunicorn_app.py, which makes
    the application in each worker process): the same site code and the
    same StorageServer as under qpd's own dispatcher and workers."""

    name = 'wsgi'

    def __init__(self, processes, home, port, workers):
        _Server.__init__(self, processes, port, workers)
        self.home = home
        self.durus = None
        self.master = None
        self.log = os.path.join(home, 'bench-%s.log' % self.name)

    def get_command(self):
        """() -> [str]: the server's command line (run in bench/)."""
        raise NotImplementedError

    def start(self):
        """() -> float: seconds from starting the storage server to the
        first 200."""
        start = time.monotonic()
        durus_log = os.path.join(self.home, 'bench-durus.log')
        with open(durus_log, 'a') as log:
            self.durus = self.processes.spawn(
                qpd_command() + ['--home', self.home, 'durus', SITE_NAME],
                name='qpd durus', stdout=log, stderr=subprocess.STDOUT)
        _wait_for_log_line(durus_log, 'READY durus', self.durus, timeout=30)
        env = dict(os.environ, QPD_BENCH_HOME=self.home,
                   QPD_BENCH_SITE=SITE_NAME, PYTHONPATH=os.pathsep.join(
                       p for p in (BENCH_DIR, os.environ.get('PYTHONPATH'))
                       if p))
        with open(self.log, 'a') as log:
            self.master = self.processes.spawn(
                self.get_command(), name=self.name, stdout=log,
                stderr=subprocess.STDOUT, env=env, cwd=BENCH_DIR)
        try:
            wait_for_200(self.host, self.port, '/hello', timeout=30,
                         alive=lambda: self.master.poll() is None)
        except HarnessError as e:
            raise HarnessError('%s\n%s' % (e, _log_tail(self.log)))
        return time.monotonic() - start

    def worker_pids(self):
        """() -> [int]: the worker pids (the master's children)."""
        if self.master is None:
            return []
        return [proc.pid for proc in _children(self.master.pid, False)]

    def other_pids(self):
        """() -> [int]: the master's and the storage server's pids."""
        return [proc.pid for proc in (self.master, self.durus)
                if proc is not None]

    def role_pids(self):
        """() -> {role: [pid]}: workers, master, durus."""
        return dict(workers=self.worker_pids(),
                    master=[self.master.pid] if self.master else [],
                    durus=[self.durus.pid] if self.durus else [])

    def stop(self):
        """() -> None"""
        for attribute in ('master', 'durus'):
            proc = getattr(self, attribute)
            if proc is not None:
                self.processes.stop(proc, wait=15)
                setattr(self, attribute, None)


class GunicornServer(WsgiServer):
    """gunicorn's sync workers; with access_log (the bench's --access-log,
    when qpd's workers write a line per hit too) an access log."""

    name = 'gunicorn'
    access_log = False

    def get_command(self):
        log = (['--access-logfile', os.path.join(self.home, 'access.log')]
               if self.access_log else [])
        return [sys.executable, '-m', 'gunicorn',
                '-c', os.path.join(BENCH_DIR, 'gunicorn_conf.py'),
                '--chdir', BENCH_DIR,
                '-w', str(self.workers),
                '-b', '%s:%s' % (self.host, self.port)] + log + [
                'gunicorn_app:application']


class GranianServer(WsgiServer):
    """granian's WSGI interface: `--workers N --blocking-threads 1` (one
    Python thread per worker, as the publisher and its Durus connection
    want), no access log (granian's default)."""

    name = 'granian'

    def get_command(self):
        return [_script('granian'), '--interface', 'wsgi',
                '--workers', str(self.workers), '--blocking-threads', '1',
                '--no-ws', '--host', self.host, '--port', str(self.port),
                'gunicorn_app:application']

    def worker_pids(self):
        """() -> [int]: granian's worker processes (every descendant)."""
        if self.master is None:
            return []
        return [proc.pid for proc in _children(self.master.pid)]


class UwsgiServer(WsgiServer):
    """uWSGI (the pyuwsgi wheel): its own HTTP/1.1 keep-alive socket
    (`--http11-socket`), a master and N processes, the application made
    in each process (`--lazy-apps`), no request log (`--disable-logging`,
    what a user after speed sets). The http11 socket ignores a client's
    `Connection: close` and keeps the connection open (the close rows then
    measured keep-alive), so the close rows go to a second socket of the
    same processes, `--http-socket`, which closes after every response."""

    name = 'uwsgi'

    def __init__(self, processes, home, port, workers):
        WsgiServer.__init__(self, processes, home, port, workers)
        self.close_port = free_port()

    def url(self, path, close=False):
        return 'http://%s:%s%s' % (
            self.host, self.close_port if close else self.port, path)

    def get_command(self):
        return [_script('uwsgi'), '--http11-socket',
                '%s:%s' % (self.host, self.port), '--http-socket',
                '%s:%s' % (self.host, self.close_port), '--master',
                '--processes', str(self.workers), '--lazy-apps',
                '--pythonpath', BENCH_DIR, '--module',
                'gunicorn_app:application', '--disable-logging',
                '--die-on-term', '--need-app']


SERVER_CLASSES = {server.name: server for server in (
    GunicornServer, GranianServer, UwsgiServer)}


def _script(name):
    """(name:str) -> str: a console script of this Python's environment."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(path):
        return path
    found = shutil.which(name)
    if found is None:
        raise HarnessError('%s is not installed (pip install -e '
                           "'.[bench]')" % name)
    return found


def _wait_for_log_line(path, prefix, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in _log_tail(path, 100000).splitlines():
            if line.startswith(prefix):
                return line
        if proc.poll() is not None:
            raise HarnessError('%s exited (%s) before %r:\n%s' % (
                proc.args, proc.returncode, prefix, _log_tail(path)))
        time.sleep(0.01)
    raise HarnessError('no %r from %s within %.0f s:\n%s' % (
        prefix, proc.args, timeout, _log_tail(path)))


_NGINX_CONF = '''\
%(user)s
worker_processes %(workers)d;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    keepalive_requests 1000000;
    server {
        listen %(host)s:%(port)d;
        location = /hello { default_type text/html; return 200 "hello"; }
        location = /static/100k.bin {
            default_type application/octet-stream;
            alias %(static)s;
        }
    }
}
'''


class NginxServer(_Server):
    """(processes, directory, port, workers, static_file)
    nginx answering /hello with a fixed body and /static/100k.bin from the
    file: the ceiling for this machine."""

    name = 'nginx'

    def __init__(self, processes, directory, port, workers, static_file):
        _Server.__init__(self, processes, port, workers)
        self.directory = os.path.abspath(directory)
        self.static_file = static_file
        self.proc = None

    def start(self):
        """() -> float: seconds to the first 200."""
        nginx = shutil.which('nginx') or '/usr/sbin/nginx'
        if not os.path.exists(nginx):
            raise HarnessError('nginx is not installed (apt-get install nginx)')
        os.makedirs(self.directory, exist_ok=True)
        conf = os.path.join(self.directory, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(_NGINX_CONF % dict(
                user='user root;' if os.geteuid() == 0 else '',
                workers=self.workers, dir=self.directory, host=self.host,
                port=self.port, static=self.static_file))
        log = os.path.join(self.directory, 'stderr.log')
        start = time.monotonic()
        with open(log, 'a') as f:
            self.proc = self.processes.spawn(
                [nginx, '-p', self.directory, '-c', conf,
                 '-e', os.path.join(self.directory, 'error.log'),
                 '-g', 'daemon off;'],
                name='nginx', stdout=f, stderr=subprocess.STDOUT)
        try:
            wait_for_200(self.host, self.port, '/hello', timeout=15,
                         alive=lambda: self.proc.poll() is None)
        except HarnessError as e:
            raise HarnessError('%s\n%s%s' % (e, _log_tail(log), _log_tail(
                os.path.join(self.directory, 'error.log'))))
        return time.monotonic() - start

    def worker_pids(self):
        """() -> [int]"""
        if self.proc is None:
            return []
        return [proc.pid for proc in _children(self.proc.pid, False)]

    def other_pids(self):
        """() -> [int]: the master's pid."""
        return [self.proc.pid] if self.proc is not None else []

    def stop(self):
        """() -> None"""
        if self.proc is not None:
            self.processes.stop(self.proc)
            self.proc = None
