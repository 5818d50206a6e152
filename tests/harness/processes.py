"""Processes a test or a benchmark starts, and always stops.

    process = Process(argv, env, 'durus')     # stdout/stderr collected,
    process.wait_ready('durus')               # READY lines parsed
    process.stop()

    with Processes() as processes:            # the benchmarks' group: every
        proc = processes.spawn([...])         # child stopped on the way out

Plus the small waits every harness needs: free_port, wait_until,
pid_exists, find_processes_in, kill_tree, wait_for_line.
"""

import os
import queue
import signal
import socket
import subprocess
import threading
import time

from qpd.lib.ready import parse_ready_line

__all__ = ['HarnessError', 'free_port', 'log_tail', 'pid_exists',
           'wait_until', 'find_processes_in', 'kill_tree', 'wait_for_line',
           'Process', 'Processes']


class HarnessError(AssertionError):
    """Something a test or benchmark needs did not happen (a server that
    never answered, a tool that failed). str() says what."""


def free_port(host='127.0.0.1'):
    """(host:str='127.0.0.1') -> int: a TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def log_tail(path, lines=30):
    """(path:str, lines:int=30) -> str: a heading naming the file and its
    last lines, for a failure's message (a process that would not start or
    stop says why in its log)."""
    try:
        with open(path, errors='replace') as f:
            return '\n%s:\n%s' % (path, ''.join(f.readlines()[-lines:]))
    except OSError as e:
        return '\n%s: %s' % (path, e)


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


def find_processes_in(directory):
    """(directory:str) -> [int]: pids of the processes whose working
    directory is `directory` (supervisord runs every program there)."""
    pids = []
    real = os.path.realpath(directory)
    for entry in os.listdir('/proc'):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.path.realpath(os.readlink('/proc/%s/cwd' % entry)) == real:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def kill_tree(pid, sig=signal.SIGTERM, wait=5.0):
    """(pid:int, sig=SIGTERM, wait:float=5.0) -> None
    Send sig to pid and its descendants; SIGKILL whatever is left after
    wait seconds."""
    import psutil
    try:
        root = psutil.Process(pid)
        family = root.children(recursive=True) + [root]
    except psutil.Error:
        return
    for proc in family:
        try:
            proc.send_signal(sig)
        except psutil.Error:
            pass
    gone, alive = psutil.wait_procs(family, timeout=wait)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=wait)


def wait_for_line(proc, prefix, timeout=30.0):
    """(proc:Popen (text stdout), prefix:str, timeout:float=30.0) -> str
    Read proc's stdout until a line starts with prefix; return it. Raises
    HarnessError when the process exits or the time runs out first."""
    import selectors
    deadline = time.monotonic() + timeout
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    seen = []
    try:
        while time.monotonic() < deadline:
            if not selector.select(timeout=max(0.0, deadline
                                               - time.monotonic())):
                continue
            line = proc.stdout.readline()
            if not line:
                raise HarnessError('process exited before printing %r: %s' % (
                    prefix, ''.join(seen)[-2000:]))
            seen.append(line)
            if line.startswith(prefix):
                return line.strip()
    finally:
        selector.close()
    raise HarnessError('no %r line within %.0f s: %s' % (
        prefix, timeout, ''.join(seen)[-2000:]))


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
                ready = parse_ready_line(line)
                if ready:
                    role, site, pid, rest = (ready.role, ready.site,
                                             ready.pid, ready.rest)
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


class Processes:
    """Every process the bench starts, so that all of them are stopped on
    the way out (normal exit, exception, Ctrl-C or SIGTERM).

    spawn() starts a child in its own session (so a terminal's Ctrl-C
    reaches only the harness, which then stops the children in order);
    adopt(pid) registers a process started indirectly (a daemonized
    supervisord)."""

    def __init__(self):
        self.children = []      # [(name, Popen)]
        self.adopted = []       # [(name, pid)]
        self.cleanups = []      # callables run first by stop_all()
        self.previous_handler = None

    def __enter__(self):
        self.previous_handler = signal.signal(signal.SIGTERM, _interrupt)
        return self

    def __exit__(self, *exc):
        try:
            self.stop_all()
        finally:
            signal.signal(signal.SIGTERM, self.previous_handler
                          or signal.SIG_DFL)
        return False

    def spawn(self, command, name=None, stdout=None, stderr=None, env=None,
              cwd=None, text=True):
        """(command:[str], name:str=None, stdout=None, stderr=None, env=None,
            cwd=None, text=True) -> Popen"""
        proc = subprocess.Popen(
            command, stdout=stdout, stderr=stderr, env=env, cwd=cwd,
            text=text, start_new_session=True)
        self.children.append((name or command[0], proc))
        return proc

    def adopt(self, pid, name='adopted'):
        """(pid:int, name:str='adopted') -> None"""
        self.adopted.append((name, pid))

    def on_stop(self, cleanup):
        """(cleanup:callable) -> None: run cleanup() first in stop_all()."""
        self.cleanups.append(cleanup)

    def stop(self, proc, wait=10.0):
        """(proc:Popen, wait:float=10.0) -> int | None: SIGTERM proc and
        its descendants (SIGKILL after wait), forget it, return its status."""
        kill_tree(proc.pid, wait=wait)
        try:
            status = proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            status = proc.wait()
        self.children = [(n, p) for n, p in self.children if p is not proc]
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        return status

    def stop_all(self):
        """() -> None: run the cleanups, then stop every process, newest
        first."""
        while self.cleanups:
            cleanup = self.cleanups.pop()
            try:
                cleanup()
            except Exception as e:      # keep stopping the rest
                print('harness: cleanup failed: %s' % e)
        for name, proc in reversed(list(self.children)):
            try:
                self.stop(proc)
            except Exception as e:
                print('harness: could not stop %s: %s' % (name, e))
        while self.adopted:
            name, pid = self.adopted.pop()
            kill_tree(pid)


def _interrupt(signum, frame):
    raise KeyboardInterrupt('SIGTERM')

