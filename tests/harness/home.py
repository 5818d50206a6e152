"""A qpd home run the way an operator runs it: the `qpd` command and
supervisord.

    home = QpdHome.make()                 # a fresh home in a short temp dir
    home.new('hello')                     # qpd new hello (free ports)
    home.run('start', 'hello')            # qpd --home HOME start hello
    home.get('hello', '/visits')          # (status, text) over HTTP
    home.cleanup()                        # qpd shutdown, kill leftovers, rm

`Load` keeps requests going in threads and counts what failed, for tests
that restart processes under load.
"""

import http.client
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from qpd.ops.newsite import find_ports
from qpd.ops.supervisor import Supervisor, get_qpd_command

from harness import storage
from harness.processes import find_processes_in, free_port

__all__ = ['QpdHome', 'Load']


class QpdHome:
    """(path:str): a qpd home for a test, and the `qpd` command on it."""

    def __init__(self, path):
        self.path = path
        self.ports = {}

    @classmethod
    def make(cls, prefix='qpd-test-'):
        """(prefix:str) -> QpdHome: in a new short directory under /tmp
        (unix socket paths must stay short)."""
        return cls(tempfile.mkdtemp(prefix=prefix, dir='/tmp'))

    def get_path(self):
        """() -> str"""
        return self.path

    def get_supervisor(self):
        """() -> Supervisor"""
        return Supervisor(self.path)

    def run(self, *args, check=True, timeout=120, input=None):
        """(*args:str, check=True, timeout=120, input=None)
            -> subprocess.CompletedProcess (text; stdout and stderr)"""
        result = subprocess.run(
            get_qpd_command() + ['--home', self.path] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            timeout=timeout, input=input, cwd=self.path)
        if check and result.returncode != 0:
            raise AssertionError('qpd %s: exit %s\n%s%s' % (
                ' '.join(args), result.returncode, result.stdout,
                result.stderr))
        return result

    def new(self, name, **configuration):
        """(name:str, **configuration) -> int: `qpd new NAME` from a free
        port; extra keys are added to the site's configuration (values as
        Python literals), and under QPD_TEST_STORAGE=postgresql a new
        database's (harness.storage). The site's http port."""
        port = free_port() // 4 * 4   # four ports in a row, most likely free
        port = max(port, 10000)
        self.run('new', name, '--port', str(port))
        configuration = dict(storage.site_configuration(configuration),
                             **configuration)
        if configuration:
            self.configure(name, **configuration)
        self.ports[name] = self.get_ports(name)['http_address']
        return self.ports[name]

    def get_ports(self, name):
        """(name:str) -> {key: int}: the ports in the site's slash module"""
        with open(self.get_slash_path(name)) as f:
            return find_ports(f.read())

    def get_slash_path(self, name):
        """(name:str) -> str"""
        return os.path.join(self.path, 'sites', name, 'slash.qpy')

    def configure(self, name, **configuration):
        """(name:str, **configuration) -> None: add keys (their values as
        Python literals) to the site's configuration dict; a key given as
        True uncomments the proto's line for it."""
        slash = self.get_slash_path(name)
        with open(slash) as f:
            text = f.read()
        for key, value in configuration.items():
            if value is True:
                text = text.replace('# %s=' % key, '%s=' % key)
            elif re.search(r'^\s+%s=' % key, text, re.M):
                text = re.sub(r'(?m)^(\s+)%s=.*,$' % key,
                              lambda m: '%s%s=%r,' % (m.group(1), key, value),
                              text)
            else:
                text = text.replace(
                    '    configuration = dict(\n',
                    '    configuration = dict(\n        %s=%r,\n' % (
                        key, value), 1)
        with open(slash, 'w') as f:
            f.write(text)

    def get_port(self, name):
        """(name:str) -> int: the site's http port"""
        return self.ports[name]

    def request(self, name, path='/', method='GET', body=None, headers=None,
                timeout=30):
        """(name:str, path:str='/', ...) -> (status:int, text:str)"""
        connection = http.client.HTTPConnection(
            '127.0.0.1', self.ports[name], timeout=timeout)
        try:
            connection.request(method, path, body=body,
                               headers=headers or {})
            response = connection.getresponse()
            return response.status, response.read().decode('utf-8',
                                                           'replace')
        finally:
            connection.close()

    def get(self, name, path='/'):
        """(name:str, path:str='/') -> (status:int, text:str)"""
        return self.request(name, path)

    def get_pid(self, name, process):
        """(name:str, process:str) -> int: a process's pid, from
        supervisord."""
        info = self.get_supervisor().call('getProcessInfo',
                                          '%s:%s' % (name, process))
        return info['pid']

    def cleanup(self, remove=True):
        """(remove=True) -> [int]: `qpd shutdown`, then SIGKILL to whatever
        still runs in the home; the pids that had to be killed."""
        try:
            self.run('shutdown', check=False, timeout=90)
        except subprocess.TimeoutExpired:
            pass
        killed = []
        for pid in find_processes_in(self.path):
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
        if remove:
            shutil.rmtree(self.path, ignore_errors=True)
        return killed


class Load:
    """(home:QpdHome, name:str, path:str='/visits', threads:int=4): GET
    requests in a loop from `threads` threads until stop(); counts every
    answer by status and every failure to get one."""

    def __init__(self, home, name, path='/', threads=4, timeout=30):
        self.home = home
        self.name = name
        self.path = path
        self.timeout = timeout
        self.statuses = {}
        self.errors = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._loop, daemon=True)
                        for _ in range(threads)]

    def start(self):
        """() -> self"""
        for thread in self.threads:
            thread.start()
        return self

    def _loop(self):
        while not self.stopping.is_set():
            try:
                status, _ = self.home.request(self.name, self.path,
                                              timeout=self.timeout)
            except Exception as e:
                with self.lock:
                    self.errors.append('%s: %s' % (type(e).__name__, e))
                time.sleep(0.01)
                continue
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1

    def get_count(self):
        """() -> int: the answers so far"""
        with self.lock:
            return sum(self.statuses.values())

    def wait_for(self, count, timeout=30):
        """(count:int, timeout:float=30) -> None: until `count` more answers
        came (AssertionError after timeout)."""
        target = self.get_count() + count
        deadline = time.monotonic() + timeout
        while self.get_count() < target:
            assert time.monotonic() < deadline, 'load stalled: %s %s' % (
                self.statuses, self.errors[-3:])
            time.sleep(0.05)

    def stop(self):
        """() -> self"""
        self.stopping.set()
        for thread in self.threads:
            thread.join(self.timeout + 5)
        return self

    def get_failures(self):
        """() -> [str]: errors and non-200 answers"""
        failures = list(self.errors)
        failures.extend('status %s x%d' % (status, count)
                        for status, count in self.statuses.items()
                        if status != 200)
        return failures
