"""Helpers for tests that boot a site's real processes.

    home = make_home(tmp_path, configuration={...})
    with Cluster(home) as cluster:
        cluster.start_durus(); cluster.start_dispatcher()
        cluster.start_worker(0); cluster.start_worker(1)
        status, headers, body = cluster.get('/')

`Cluster` starts `qpd durus|dispatcher|worker|serve NAME` as children (each
in its own session), waits for their READY lines, and on exit stops them
all (SIGTERM, then SIGKILL) and checks that every process it saw is gone.
`Nginx` runs a real nginx in front of the SCGI address.
"""

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

__all__ = ['SLASH', 'make_home', 'Process', 'Cluster', 'Nginx', 'free_port',
           'read_response', 'request', 'connect', 'wait_until', 'pid_exists']

SLASH = '''\
import json, os, time
from qpd.web.publish import Publisher
from qpd.web.directory import Directory
from qpd.web.common import get_request, get_response


class SitePublisher(Publisher):
    configuration = %(configuration)r


class SiteDirectory(Directory):
    _q_exports = ['', 'echo', 'slow', 'env', 'pid']

    def _q_index(self):
        get_response().set_content_type('text/plain')
        return 'hello'

    def echo(self):
        get_response().set_content_type('application/octet-stream')
        return get_request().get_body()

    def slow(self):
        seconds = float(get_request().get_query() or '1')
        time.sleep(seconds)
        get_response().set_content_type('text/plain')
        return 'slept %%s' %% seconds

    def env(self):
        get_response().set_content_type('application/json')
        environ = get_request().environ
        return json.dumps(
            {k: v for k, v in environ.items() if isinstance(v, str)})

    def pid(self):
        get_response().set_content_type('text/plain')
        return str(os.getpid())
'''

BASE_CONFIGURATION = {
    'http_address': ('127.0.0.1', 0),
    'scgi_address': ('127.0.0.1', 0),
    'as_https_address': ('127.0.0.1', 0),
}


def make_home(root, name='hello', configuration=None, slash=None):
    """(root:path, name='hello', configuration:dict=None, slash:str=None) -> str
    A qpd home under root holding one site; configuration is added to
    BASE_CONFIGURATION (ephemeral ports); slash replaces the site's module."""
    home = os.path.join(str(root), 'home')
    package = os.path.join(home, 'sites', name)
    os.makedirs(package, exist_ok=True)
    config = dict(BASE_CONFIGURATION)
    config.update(configuration or {})
    with open(os.path.join(package, '__init__.py'), 'w'):
        pass
    with open(os.path.join(package, 'slash.py'), 'w') as f:
        f.write(slash if slash is not None else SLASH % {
            'configuration': config})
    return home


def pid_exists(pid):
    """(pid:int) -> bool: is pid a live (not zombie) process?"""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except (FileNotFoundError, IndexError, ProcessLookupError):
        return False


def wait_until(predicate, timeout=10.0, interval=0.02):
    """(predicate, timeout=10.0, interval=0.02) -> value of predicate, or
    AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out waiting for %r' % (predicate,))
        time.sleep(interval)


_READY = re.compile(r'^READY (\S+) (\S+) pid=(\d+)(.*)$')


class Process:
    """(argv:[str], env:dict, label:str)
    A child whose stdout lines are collected by a thread and whose READY
    lines are parsed (every READY line: serve forwards its children's)."""

    def __init__(self, argv, env, label):
        self.label = label
        self.popen = subprocess.Popen(
            argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True)
        self.lines = queue.Queue()
        self.ready = []           # (role, site, pid, {key: value}, text)
        self.output = []
        self.errors = []
        self._threads = [
            threading.Thread(target=self._read, args=(self.popen.stdout,
                                                      self.output, True),
                             daemon=True),
            threading.Thread(target=self._read, args=(self.popen.stderr,
                                                      self.errors, False),
                             daemon=True)]
        for thread in self._threads:
            thread.start()

    def _read(self, stream, into, parse):
        for raw in stream:
            line = raw.decode('utf-8', 'replace').rstrip('\n')
            into.append(line)
            if parse:
                match = _READY.match(line)
                if match:
                    role, site, pid, rest = match.groups()
                    fields = {}
                    for token in rest.split():
                        key, sep, value = token.partition('=')
                        fields[key if sep else 'address'] = value if sep \
                            else key
                    self.ready.append((role, site, int(pid), fields, line))
                    self.lines.put(line)

    def get_pid(self):
        """() -> int"""
        return self.popen.pid

    def wait_ready(self, role=None, count=1, timeout=30.0):
        """(role:str=None, count:int=1, timeout=30.0) -> [ready tuples]"""
        deadline = time.monotonic() + timeout

        def matching():
            return [r for r in self.ready if role is None or r[0] == role]
        while len(matching()) < count:
            if self.popen.poll() is not None:
                time.sleep(0.1)
                raise AssertionError('%s exited (%s) before READY:\n%s' % (
                    self.label, self.popen.returncode,
                    '\n'.join(self.errors[-20:])))
            if time.monotonic() > deadline:
                raise AssertionError('%s not READY in %ss:\n%s' % (
                    self.label, timeout, '\n'.join(self.errors[-20:])))
            try:
                self.lines.get(timeout=0.05)
            except queue.Empty:
                pass
        return matching()

    def get_pids(self):
        """() -> [int]: its own pid and every pid in a READY line it printed."""
        return [self.popen.pid] + [r[2] for r in self.ready]

    def stop(self, timeout=15.0):
        """(timeout=15.0) -> int: SIGTERM, then SIGKILL; the exit status."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill_group()
                self.popen.wait(5)
        for thread in self._threads:
            thread.join(2)
        return self.popen.returncode

    def kill_group(self):
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except OSError:
            pass


def free_port():
    """() -> int: a TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class Cluster:
    """(home:str, name:str='hello')
    The processes of one site, stopped (and checked gone) on exit."""

    def __init__(self, home, name='hello'):
        self.home = home
        self.name = name
        self.processes = {}
        self.env = dict(os.environ, QPD_HOME=home, PYTHONUNBUFFERED='1')
        self.addresses = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop_all()

    def start(self, label, *args):
        """(label:str, *args) -> Process: `qpd --home HOME args...`"""
        argv = [sys.executable, '-m', 'qpd', '--home', self.home] + list(args)
        process = Process(argv, self.env, label)
        self.processes[label] = process
        return process

    def start_durus(self):
        process = self.start('durus', 'durus', self.name)
        process.wait_ready('durus')
        return process

    def start_dispatcher(self):
        process = self.start('dispatcher', 'dispatcher', self.name)
        ready = process.wait_ready('dispatcher')[0]
        self._set_addresses(ready[3])
        return process

    def start_worker(self, index, wait=True):
        label = 'worker%d' % index
        if label in self.processes:
            self.processes[label + '-%d' % time.monotonic_ns()] = \
                self.processes.pop(label)
        process = self.start(label, 'worker', self.name, '--index',
                             str(index))
        if wait:
            process.wait_ready('worker')
        return process

    def start_serve(self, workers=2):
        process = self.start('serve', 'serve', self.name, '--workers',
                             str(workers))
        ready = process.wait_ready('serve')[0]
        self._set_addresses(ready[3])
        return process

    def boot(self, workers=2):
        """(workers=2) -> self: durus, dispatcher and workers, each READY."""
        self.start_durus()
        self.start_dispatcher()
        for i in range(workers):
            self.start_worker(i, wait=False)
        for i in range(workers):
            self.processes['worker%d' % i].wait_ready('worker')
        wait_until(lambda: self.get_stats()['workers'] == workers)
        return self

    def _set_addresses(self, fields):
        for key in ('http', 'scgi', 'as_https'):
            if key in fields:
                host, _, port = fields[key].rpartition(':')
                self.addresses[key] = (host, int(port))

    def get_port(self, key='http'):
        """(key='http') -> int"""
        return self.addresses[key][1]

    def get_stats(self):
        """() -> dict from the dispatcher's control socket."""
        from qpd.server.control import get_stats
        from qpd.site import Site
        return get_stats(Site(self.name, home=self.home))

    def get_worker_pids(self):
        """() -> [int]: pids of the workers the dispatcher has now."""
        return [w['pid'] for w in self.get_stats()['pool']]

    def get(self, path='/', key='http', headers=(), timeout=10.0):
        """(path='/', key='http', headers=(), timeout=10.0) -> (status, headers:dict, body:bytes)"""
        data = ('GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%s\r\n'
                % (path, ''.join('%s: %s\r\n' % h for h in headers))).encode()
        return request(self.addresses[key], data, timeout=timeout)

    def all_pids(self):
        pids = set()
        for process in self.processes.values():
            pids.update(process.get_pids())
        return pids

    def stop_all(self):
        """() -> None: stop everything (dispatcher first); assert that no
        process is left behind."""
        pids = self.all_pids()
        order = sorted(self.processes, key=lambda label: (
            0 if label == 'serve' else 1 if label == 'dispatcher'
            else 3 if label == 'durus' else 2))
        for label in order:
            self.processes[label].stop()
        for pid in pids:
            try:
                wait_until(lambda: not pid_exists(pid), timeout=10)
            except AssertionError:
                os.kill(pid, signal.SIGKILL)
                raise AssertionError('process %d was left behind' % pid)

    def get_errors(self, label):
        """(label:str) -> str: what the process printed on stderr."""
        return '\n'.join(self.processes[label].errors)


def read_response(sock, head_only_for_head=False):
    """(sock:buffered socket, head_only_for_head=False) -> (status:int, headers:dict, body:bytes)
    One HTTP response (Content-Length framed, or read to the end); a 100
    Continue is skipped. sock comes from connect()."""
    buf = b''
    while b'\r\n\r\n' not in buf:
        data = sock.recv(65536)
        if not data:
            raise EOFError('connection closed before a response: %r' % buf)
        buf += data
    head, _, rest = buf.partition(b'\r\n\r\n')
    lines = head.decode('latin-1').split('\r\n')
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(':')
        headers[name.strip().lower()] = value.strip()
    if status == 100:
        sock.pending = rest
        return read_response(sock)
    if head_only_for_head:
        sock.pending = rest
        return status, headers, b''
    length = headers.get('content-length')
    if length is not None:
        length = int(length)
        while len(rest) < length:
            data = sock.recv(65536)
            if not data:
                break
            rest += data
        body, extra = rest[:length], rest[length:]
    else:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            rest += data
        body, extra = rest, b''
    sock.pending = extra
    return status, headers, body


class _Buffered:
    """A socket wrapper whose recv() first returns what a previous
    read_response left over (pipelined responses)."""

    def __init__(self, sock):
        self.sock = sock
        self.pending = b''

    def recv(self, n):
        if self.pending:
            data, self.pending = self.pending, b''
            return data
        return self.sock.recv(n)

    def sendall(self, data):
        self.sock.sendall(data)

    def close(self):
        self.sock.close()

    def settimeout(self, t):
        self.sock.settimeout(t)


def connect(address, timeout=10.0):
    """(address:(host, port), timeout=10.0) -> buffered socket"""
    sock = socket.create_connection(address, timeout=timeout)
    return _Buffered(sock)


def request(address, data, timeout=10.0):
    """(address, data:bytes, timeout=10.0) -> (status, headers, body) of
    the first response on a new connection."""
    sock = connect(address, timeout)
    try:
        sock.sendall(data)
        return read_response(sock)
    finally:
        sock.close()


NGINX_CONF = '''\
%(user)s
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 512; }
http {
    access_log off;
    client_body_temp_path %(dir)s/client_body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            include %(scgi_params)s;
            scgi_pass %(upstream)s;
        }
    }
}
'''


class Nginx:
    """(directory:str, scgi_address:(host, port))
    A real nginx, unprivileged and in the foreground, passing every request
    to scgi_address with scgi_pass."""

    def __init__(self, directory, scgi_address):
        self.directory = directory
        self.port = free_port()
        self.scgi_address = scgi_address
        self.process = None

    @staticmethod
    def find():
        """() -> str | None: the nginx binary."""
        return shutil.which('nginx') or next(
            (p for p in ('/usr/sbin/nginx', '/usr/local/sbin/nginx')
             if os.path.exists(p)), None)

    def start(self):
        os.makedirs(self.directory, exist_ok=True)
        params = '/etc/nginx/scgi_params'
        if not os.path.exists(params):
            params = os.path.join(self.directory, 'scgi_params')
            with open(params, 'w') as f:
                for name, var in [
                        ('REQUEST_METHOD', 'request_method'),
                        ('REQUEST_URI', 'request_uri'),
                        ('QUERY_STRING', 'query_string'),
                        ('CONTENT_TYPE', 'content_type'),
                        ('CONTENT_LENGTH', 'content_length'),
                        ('SERVER_PROTOCOL', 'server_protocol'),
                        ('REMOTE_ADDR', 'remote_addr'),
                        ('REMOTE_PORT', 'remote_port'),
                        ('SERVER_PORT', 'server_port'),
                        ('SERVER_NAME', 'server_name')]:
                    f.write('scgi_param %s $%s;\n' % (name, var))
        conf = os.path.join(self.directory, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(NGINX_CONF % {
                'user': 'user root;' if os.geteuid() == 0 else '',
                'dir': self.directory, 'port': self.port,
                'scgi_params': params,
                'upstream': '%s:%d' % self.scgi_address})
        self.process = subprocess.Popen(
            [self.find(), '-p', self.directory, '-c', conf,
             '-g', 'daemon off;'], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            start_new_session=True)

        def listening():
            if self.process.poll() is not None:
                raise AssertionError('nginx exited: %s' %
                                     self.process.stderr.read().decode())
            try:
                socket.create_connection(('127.0.0.1', self.port), 0.2).close()
                return True
            except OSError:
                return False
        wait_until(listening, timeout=10)
        return self

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)  # stray workers
            except OSError:
                pass
