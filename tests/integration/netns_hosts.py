"""Simulated hosts for tests and benchmarks: Linux network namespaces on one
bridge, each with its own address, processes and qpd home.

    net = Network('q%d' % os.getpid())       # names are unique per run
    net.start()                               # the hub namespace + bridge
    net.add_host('store', '10.77.0.2')        # namespace q123-store, eth0
    net.popen('store', ['qpd', ...])          # ip netns exec q123-store ...
    net.call_in('web1', function)             # function() in a thread there
    net.set_link('web2', up=False)            # the host's cable pulled
    net.cleanup()                             # kill what runs in them, delete

The bridge lives in a namespace of its own (`<tag>-hub`), so nothing is
added to the machine's own network. `call_in` runs a function in a thread
that has entered the host's namespace (setns(2) moves only the calling
thread), so sockets it makes belong to that host, and the test can talk
to the simulated hosts without a helper process. `unavailable()` says why
namespaces cannot be made here (not root, no `ip`, no permission), for a
clear skip.
"""

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import threading
import time

__all__ = ['Network', 'unavailable']

CLONE_NEWNET = 0x40000000


def unavailable():
    """() -> str | None: why network namespaces cannot be used here, or
    None when they can."""
    if os.geteuid() != 0:
        return 'network namespaces need root'
    if not shutil.which('ip'):
        return "no `ip` command (iproute2): apt-get install iproute2"
    name = 'qpdprobe%d' % os.getpid()
    made = subprocess.run(['ip', 'netns', 'add', name],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if made.returncode != 0:
        return 'cannot make a network namespace: %s' % made.stdout.strip()
    subprocess.run(['ip', 'netns', 'del', name])
    return None


def _ip(*args):
    subprocess.run(['ip'] + list(args), check=True, stdout=subprocess.PIPE,
                   stderr=subprocess.PIPE)


class Network:
    """(tag:str, subnet:str='10.77.0') a bridge and hosts on subnet.0/24"""

    def __init__(self, tag, subnet='10.77.0'):
        self.tag = tag
        self.subnet = subnet
        self.hub = '%s-hub' % tag
        self.hosts = {}         # name -> (namespace, address)
        self.made = []          # namespaces, in order

    def get_namespace(self, host):
        """(host:str) -> str"""
        return self.hosts[host][0]

    def get_address(self, host):
        """(host:str) -> str: the host's IPv4 address."""
        return self.hosts[host][1]

    def start(self):
        """() -> self: the hub namespace with its bridge."""
        _ip('netns', 'add', self.hub)
        self.made.append(self.hub)
        _ip('-n', self.hub, 'link', 'add', 'br0', 'type', 'bridge')
        _ip('-n', self.hub, 'link', 'set', 'br0', 'up')
        return self

    def add_host(self, name, number):
        """(name:str, number:int) -> str: a namespace `<tag>-name` whose
        eth0 (subnet.number/24) is cabled to the bridge; its address."""
        namespace = '%s-%s' % (self.tag, name)
        address = '%s.%d' % (self.subnet, number)
        _ip('netns', 'add', namespace)
        self.made.append(namespace)
        port = 'v%d' % number
        _ip('-n', self.hub, 'link', 'add', port, 'type', 'veth', 'peer',
            'name', 'eth0', 'netns', namespace)
        _ip('-n', self.hub, 'link', 'set', port, 'master', 'br0', 'up')
        _ip('-n', namespace, 'addr', 'add', '%s/24' % address, 'dev', 'eth0')
        _ip('-n', namespace, 'link', 'set', 'eth0', 'up')
        _ip('-n', namespace, 'link', 'set', 'lo', 'up')
        self.hosts[name] = (namespace, address)
        return address

    def set_link(self, host, up):
        """(host:str, up:bool) -> None: the host's eth0 up or down."""
        _ip('-n', self.get_namespace(host), 'link', 'set', 'eth0',
            'up' if up else 'down')

    def command(self, host, argv):
        """(host:str, argv:[str]) -> [str]: argv run on host."""
        return ['ip', 'netns', 'exec', self.get_namespace(host)] + list(argv)

    def run(self, host, argv, env=None, timeout=120, check=True):
        """(host, argv, env=None, timeout=120, check=True) ->
        CompletedProcess (text)"""
        result = subprocess.run(
            self.command(host, argv), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, env=env, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError('%s on %s: exit %s\n%s%s' % (
                ' '.join(argv), host, result.returncode, result.stdout,
                result.stderr))
        return result

    def popen(self, host, argv, env=None, **options):
        """(host, argv, env=None, **Popen options) -> Popen"""
        return subprocess.Popen(self.command(host, argv), env=env,
                                start_new_session=True, **options)

    def enter(self, host):
        """(host:str) -> None: move the calling thread into host's
        namespace (for a thread of its own: see call_in)."""
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        fd = os.open('/var/run/netns/%s' % self.get_namespace(host),
                     os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                errno = ctypes.get_errno()
                raise OSError(errno, os.strerror(errno))
        finally:
            os.close(fd)

    def call_in(self, host, function, *args):
        """(host:str, function, *args) -> function(*args), run in a thread
        inside host's namespace (its exception is raised here)."""
        result = {}

        def run():
            try:
                self.enter(host)
                result['value'] = function(*args)
            except BaseException as e:     # handed to the caller
                result['error'] = e
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join()
        if 'error' in result:
            raise result['error']
        return result['value']

    def get_pids(self, namespace):
        """(namespace:str) -> [int]: the processes in a namespace."""
        result = subprocess.run(['ip', 'netns', 'pids', namespace],
                                stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        return [int(p) for p in result.stdout.split() if p.isdigit()]

    def cleanup(self):
        """() -> None: end every process in the namespaces (TERM, then
        KILL), and delete them."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = [p for ns in self.made for p in self.get_pids(ns)]
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            deadline = time.monotonic() + 5
            while pids and time.monotonic() < deadline:
                pids = [p for ns in self.made for p in self.get_pids(ns)]
                time.sleep(0.1)
        for namespace in reversed(self.made):
            subprocess.run(['ip', 'netns', 'del', namespace],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        self.made = []


# A qpd site on simulated hosts --------------------------------------------

SLASH = '''\
import os
from durus.btree import BTree
from qpd.web.publish import Publisher
from qpd.web.directory import Directory
from qpd.web.common import get_request, get_response, get_root

HOST = os.environ.get('QPD_HOST', '?')


class SitePublisher(Publisher):
    configuration = %(configuration)r


def _tokens():
    root = get_root()
    if 'tokens' not in root:
        root['tokens'] = BTree()
    return root['tokens']


def _text(text):
    get_response().set_content_type('text/plain')
    get_response().set_header('X-Host', HOST)
    return text


class SiteDirectory(Directory):
    _q_exports = ['', 'read', 'write', 'has', 'tokens']

    def _q_index(self):
        return _text('hello from %%s' %% HOST)

    def read(self):
        return _text('%%s %%d' %% (HOST, len(_tokens())))

    def write(self):
        token = get_request().get_query()
        _tokens()[token] = HOST
        return _text('%%s wrote %%s' %% (HOST, token))

    def has(self):
        token = get_request().get_query()
        return _text('yes' if token in _tokens() else 'no')

    def tokens(self):
        return _text('\\n'.join(_tokens().keys()))
'''

NGINX_CONF = '''\
user root;
worker_processes 1;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log %(dir)s/access.log;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
%(site)s
}
'''

HTTP_PORT = 8001
DURUS_PORT = 2972


class SiteOnHosts:
    """(network:Network, root:str, web_hosts:int=2, workers:int=2,
        name='hello', configuration:dict=None)
    One storage host (`store`, .2; none with storage_host=False: each web
    host then runs the whole site), web hosts web1… (.11, .12, …) and a
    front host (.10) running nginx, each with its own qpd home under
    root, supervisord and TLS files from `qpd certs`."""

    def __init__(self, network, root, web_hosts=2, workers=2, name='hello',
                 configuration=None, storage_host=True):
        import sys
        # Without a storage host, each web host runs the whole site (its
        # own StorageServer, as on durus_storage='postgresql').
        self.storage_host = storage_host
        self.net = network
        self.root = root
        self.name = name
        self.qpd = [os.path.join(os.path.dirname(sys.executable), 'qpd')]
        self.webs = ['web%d' % i for i in range(1, web_hosts + 1)]
        self.nginx = None
        self.store_address = '%s.2' % network.subnet
        self.configuration = {
            'http_address': ('0.0.0.0', HTTP_PORT),
            'durus_address': (self.store_address, DURUS_PORT),
            'durus_tls': True,
            'hosts': dict([('store', ['storage'])] + [
                (web, ['web']) for web in self.webs]),
            'max_children': workers,
            'upstream_connect_timeout': 1,
            'upstream_fail_timeout': 2,
            'reconnect_wait': 20,
        }
        self.configuration.update(configuration or {})

    def get_site_hosts(self):
        """() -> [str]: the hosts that run the site's programs."""
        return (['store'] if self.storage_host else []) + self.webs

    def get_home(self, host):
        """(host:str) -> str: the host's qpd home."""
        return os.path.join(self.root, host)

    def get_var(self, host):
        """(host:str) -> str: the site's var directory on host."""
        return os.path.join(self.get_home(host), 'sites', self.name, 'var')

    def env(self, host):
        """(host:str) -> dict: the environment of qpd commands on host."""
        return dict(os.environ, QPD_HOST=host, PYTHONUNBUFFERED='1')

    def qpd_on(self, host, *words, check=True, timeout=120):
        """(host, *words) -> CompletedProcess: `qpd --home HOME words` run
        on host (in its namespace, QPD_HOST set)."""
        return self.net.run(host, self.qpd + ['--home', self.get_home(host)]
                            + list(words), env=self.env(host),
                            timeout=timeout, check=check)

    def build(self):
        """() -> self: the hosts, the homes (the same site package on
        each), and the certificates copied to each host's var/tls."""
        self.net.start()
        if self.storage_host:
            self.net.add_host('store', 2)
        self.net.add_host('front', 10)
        for number, web in enumerate(self.webs, 11):
            self.net.add_host(web, number)
        source = SLASH % {'configuration': self.configuration}
        for host in self.get_site_hosts():
            package = os.path.join(self.get_home(host), 'sites', self.name)
            os.makedirs(package)
            open(os.path.join(package, '__init__.py'), 'w').close()
            with open(os.path.join(package, 'slash.py'), 'w') as f:
                f.write(source)
        if not self.storage_host:
            return self
        self.qpd_on('store', 'certs', self.name)
        certs = os.path.join(self.get_home('store'), 'certs', self.name)
        for host in ['store'] + self.webs:
            tls = os.path.join(self.get_var(host), 'tls')
            os.makedirs(os.path.dirname(tls), mode=0o700, exist_ok=True)
            shutil.copytree(os.path.join(certs, host), tls)
        return self

    def start(self):
        """() -> self: `qpd start` on the storage host, then on every web
        host at once, then nginx on the front host."""
        if self.storage_host:
            self.qpd_on('store', 'start', self.name, '--timeout', '60')
        starting = [self.net.popen(
            web, self.qpd + ['--home', self.get_home(web), 'start',
                             self.name, '--timeout', '60'],
            env=self.env(web), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True) for web in self.webs]
        for web, process in zip(self.webs, starting):
            output = process.communicate(timeout=120)[0]
            assert process.returncode == 0, '%s: %s' % (web, output)
        self.start_nginx()
        return self

    def get_front_address(self):
        """() -> str: where nginx listens."""
        return self.net.get_address('front')

    def start_nginx(self):
        """() -> None: nginx on the front host, configured by `qpd build
        NAME --hosts` with every web host."""
        hosts = ','.join('%s:%d' % (self.net.get_address(web), HTTP_PORT)
                         for web in self.webs)
        built = self.qpd_on('web1', 'build', self.name, '--hosts', hosts)
        proxy = built.stdout.split('# ==== nginx-upstream-proxy.conf ====')[
            1].split('# ==== ')[0]
        proxy = proxy.replace('listen 80;', 'listen %s:80;'
                              % self.get_front_address())
        directory = os.path.join(self.root, 'front')
        os.makedirs(directory, exist_ok=True)
        conf = os.path.join(directory, 'nginx.conf')
        with open(conf, 'w') as f:
            f.write(NGINX_CONF % {'dir': directory, 'site': proxy})
        nginx = shutil.which('nginx') or '/usr/sbin/nginx'
        self.nginx = self.net.popen(
            'front', [nginx, '-p', directory, '-c', conf],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(directory, 'stderr'), 'w'))
        self.nginx_conf = open(conf).read()

        def listening():
            import socket
            try:
                socket.create_connection((self.get_front_address(), 80),
                                         0.5).close()
                return True
            except OSError:
                return False
        deadline = time.monotonic() + 10
        while not self.net.call_in('front', listening):
            assert self.nginx.poll() is None, 'nginx exited'
            assert time.monotonic() < deadline, 'nginx does not listen'
            time.sleep(0.1)

    def supervisor(self, host):
        """(host:str) -> qpd.ops.supervisor.Supervisor of host's home
        (its control socket is a file: reachable from any namespace)."""
        from qpd.ops.supervisor import Supervisor
        return Supervisor(self.get_home(host))

    def stop(self):
        """() -> None: nginx, then `qpd shutdown` on every host."""
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
        for host in self.webs + ['store']:
            if os.path.isdir(self.get_home(host)):
                try:
                    self.qpd_on(host, 'shutdown', check=False, timeout=60)
                except (subprocess.TimeoutExpired, KeyError):
                    pass


@contextlib.contextmanager
def running(site):
    """(site:SiteOnHosts) -> context: the site built and started; on the
    way out stopped, its namespaces deleted and its root removed, whatever
    happens."""
    try:
        site.build().start()
        yield site
    finally:
        try:
            site.stop()
        finally:
            site.net.cleanup()
            shutil.rmtree(site.root, ignore_errors=True)
