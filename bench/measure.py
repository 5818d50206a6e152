"""The bench harness's plumbing: processes that are always cleaned up, free
ports, plain HTTP probes, RSS, and medians.

    with Processes() as processes:
        proc = processes.spawn(['nginx', ...], name='nginx')
        ...                        # every process is killed on the way out

Nothing here knows about qpd; bench/servers.py does.
"""

import http.client
import os
import signal
import socket
import statistics
import subprocess
import time

__all__ = ['Processes', 'free_port', 'http_get', 'wait_for_200',
           'wait_for_line', 'median', 'rss_of', 'cpu_times', 'cpu_delta',
           'kill_tree', 'BenchError']


class BenchError(Exception):
    """Something the bench needs did not happen (a server that never
    answered, a tool that failed). str() says what."""


def median(values):
    """(values:[float|None]) -> float | None: the median of the values that
    are not None; None when there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return statistics.median(values)


def free_port(host='127.0.0.1'):
    """(host:str='127.0.0.1') -> int: a TCP port nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def http_get(host, port, path='/', timeout=2.0):
    """(host:str, port:int, path:str='/', timeout:float=2.0)
        -> (status:int, body:bytes)
    Raises OSError (or http.client.HTTPException) when nothing answers."""
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request('GET', path, headers={'Connection': 'close'})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_for_200(host, port, path='/', timeout=30.0, alive=None,
                 interval=0.01):
    """(host:str, port:int, path:str='/', timeout:float=30.0, alive=None,
        interval:float=0.01) -> float
    Poll until GET path answers 200; return the seconds it took. alive(),
    when given, is called between polls and must return True while the
    server can still come up. Raises BenchError."""
    start = time.monotonic()
    last = 'nothing answered'
    while time.monotonic() - start < timeout:
        try:
            status, body = http_get(host, port, path, timeout=2.0)
            if status == 200:
                return time.monotonic() - start
            last = 'status %d: %r' % (status, body[:200])
        except (OSError, http.client.HTTPException) as e:
            last = '%s: %s' % (type(e).__name__, e)
        if alive is not None and not alive():
            raise BenchError('server exited before answering 200 on %s:%s%s'
                             ' (%s)' % (host, port, path, last))
        time.sleep(interval)
    raise BenchError('no 200 from %s:%s%s within %.0f s (%s)' % (
        host, port, path, timeout, last))


def wait_for_line(proc, prefix, timeout=30.0):
    """(proc:Popen (text stdout), prefix:str, timeout:float=30.0) -> str
    Read proc's stdout until a line starts with prefix; return it. Raises
    BenchError when the process exits or the time runs out first."""
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
                raise BenchError('process exited before printing %r: %s' % (
                    prefix, ''.join(seen)[-2000:]))
            seen.append(line)
            if line.startswith(prefix):
                return line.strip()
    finally:
        selector.close()
    raise BenchError('no %r line within %.0f s: %s' % (
        prefix, timeout, ''.join(seen)[-2000:]))


def rss_of(pids):
    """(pids:[int]) -> [int]: resident set size in bytes of each live pid."""
    import psutil
    sizes = []
    for pid in pids:
        try:
            sizes.append(psutil.Process(pid).memory_info().rss)
        except psutil.Error:
            pass
    return sizes


def cpu_times(role_pids):
    """(role_pids:{role: [pid]}) -> {role: {pid: seconds}}: user + system
    CPU time used so far by each live process."""
    import psutil
    times = {}
    for role, pids in role_pids.items():
        times[role] = {}
        for pid in pids:
            try:
                cpu = psutil.Process(pid).cpu_times()
            except psutil.Error:
                continue
            times[role][pid] = cpu.user + cpu.system
    return times


def cpu_delta(before, after):
    """(before, after: cpu_times() results) -> {role: seconds}: the CPU
    each role used in between (processes present in both)."""
    delta = {}
    for role, pids in before.items():
        delta[role] = sum(after.get(role, {}).get(pid, start) - start
                          for pid, start in pids.items())
    return delta


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
                print('bench: cleanup failed: %s' % e)
        for name, proc in reversed(list(self.children)):
            try:
                self.stop(proc)
            except Exception as e:
                print('bench: could not stop %s: %s' % (name, e))
        while self.adopted:
            name, pid = self.adopted.pop()
            kill_tree(pid)


def _interrupt(signum, frame):
    raise KeyboardInterrupt('SIGTERM')


def pid_alive(pid):
    """(pid:int) -> bool"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
