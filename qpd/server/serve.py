"""qpd.server.serve: run one site in the foreground, without supervisord.

    qpd serve NAME [--workers N] [--debug] [--reload]
        ->  main(Site(NAME), workers=N, debug=..., reload=...)

Starts `qpd durus NAME`, `qpd dispatcher NAME` and N x `qpd worker NAME
--index i` as child processes, each waiting for the one before to print its
READY line, then prints its own:

    READY serve NAME pid=PID http=HOST:PORT ...

Logs go to the terminal. A worker that exits is started again (as
supervisord would): at once when it left on its own with status 0
(max_requests, max_worker_memory), else after RESTART_DELAY; if the storage server or the dispatcher exits, or a
worker keeps failing at once, everything stops. Ctrl-C or SIGTERM stops the
dispatcher first (it finishes the requests in hand), then the workers, then
the storage server. The children run in their own process groups, so the
terminal's Ctrl-C reaches only this process, which stops them in order, and
they get SIGTERM should this process die. SIGHUP is passed to the workers
(they reopen the site's log file).

While it runs, its pid is in `var/serve.pid` (0600), and SIGUSR1
(REPLACE_SIGNAL) replaces its workers as --reload does: a new set is
started, and once every one is ready the old ones finish the request in
hand and go. That is how `qpd deploy` and `qpd rollback` restart the
workers of a site run by `qpd serve` (`replace_serve_workers`: it waits
until the pool holds only new workers).

Started by systemd socket activation (`qpd build NAME --systemd`), it
passes the listening sockets it was given on to the dispatcher
(qpd.server.listeners.take_passed), which opens only the keys not passed.

With --debug, the workers answer exceptions with the technical 500 page
(qpd.web.debug); it is refused when a listener is not on loopback. With
--reload, a watcher (qpd.server.reload) reports changed .py and .qpy files
of the site (and of qpd, when installed editable); the site is then tried
in a scratch process (qpd.server.trial) and, if it imports, a new set of
workers is started and the old ones retire once the new are ready, one
line saying which file changed. If it does not import, the error (with
its file and line) is printed and the old workers go on serving. The
StorageServer and the dispatcher, with its listening sockets, never
restart.
"""

import ctypes
import os
import selectors
import signal
import subprocess
import sys
import time

from qpd.config import ConfigurationError
from qpd.lib.address import format_address, is_loopback
from qpd.lib.process import log_line
from qpd.lib.ready import format_ready_line, parse_ready_line
from qpd.metrics import clear_metrics_directory
from qpd.server.listeners import format_passed, take_passed

__all__ = ['main', 'Child', 'Serve', 'check_debug', 'find_serve',
           'replace_serve_workers', 'REPLACE_SIGNAL', 'PID_FILE_NAME']

READY_TIMEOUT = 60.0
RESTART_DELAY = 1.0
FAST_FAILURES = 5          # consecutive quick exits before giving up
QUICK_EXIT = 5.0           # an exit this soon after a start is quick
REPLACE_SIGNAL = signal.SIGUSR1    # start new workers, retire the old
PID_FILE_NAME = 'serve.pid'


def _pid_file(site):
    return os.path.join(site.get_var_directory(), PID_FILE_NAME)


def find_serve(site):
    """(site:Site) -> int | None: the pid of the `qpd serve` running the
    site on this host (its pid file names a live `qpd serve NAME`)."""
    try:
        with open(_pid_file(site)) as f:
            pid = int(f.read().strip())
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            # argv, or setproctitle's 'qpd serve NAME'
            words = f.read().replace(b'\0', b' ').split()
    except (OSError, ValueError):
        return None
    if b'serve' in words and site.get_name().encode() in words:
        return pid
    return None


def replace_serve_workers(site, timeout=READY_TIMEOUT, progress=None):
    """(site:Site, timeout:float, progress=None) -> bool: have the workers
    of the `qpd serve` running site replaced (REPLACE_SIGNAL) and wait
    until the dispatcher's pool holds only new ones; False when no `qpd
    serve` runs it. RuntimeError when they are not replaced in time."""
    from qpd.server.control import get_stats
    pid = find_serve(site)
    if pid is None:
        return False

    def pool():
        try:
            return {w['pid'] for w in get_stats(site)['pool']}
        except (OSError, ValueError, KeyError):
            return set()
    old = pool()
    os.kill(pid, REPLACE_SIGNAL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # serve retires the old ones once every new one is ready: none
        # old left means the new set is all there.
        now = pool()
        if now and not now & old:
            return True
        if progress is not None:
            progress.update('replacing the workers of %s under qpd serve: '
                            '%d new, %d old' % (site.get_name(),
                                                len(now - old),
                                                len(now & old)))
        time.sleep(0.1)
    raise RuntimeError('the workers of %s under qpd serve (pid %d) were not '
                       'replaced in %ds; see its output'
                       % (site.get_name(), pid, timeout))


def _die_with_parent():
    """Run in the child before exec: SIGTERM when the parent dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _passing(passed):
    """([(fd, name)]) -> callable: run in the child before exec: die with
    the parent, and name the descriptors systemd passed as this process's
    (LISTEN_PID is the child's pid, known only here; the environment the
    exec gets is the process's own, putenv included)."""
    def prepare():
        _die_with_parent()
        for name, value in format_passed(passed, os.getpid()).items():
            os.putenv(name, value)
    return prepare


class Child:
    """(role:str, argv:[str], index:int=None)
    One child process and the lines it printed."""

    def __init__(self, role, argv, index=None):
        self.role = role
        self.argv = argv
        self.index = index
        self.process = None
        self.ready_line = None
        self.started_at = 0.0
        self.partial = b''
        self.failures = 0
        self.restart_at = None
        self.passed = []           # [(fd, name)] from systemd, for it

    def get_label(self):
        """() -> str"""
        if self.index is None:
            return self.role
        return '%s %s' % (self.role, self.index)

    def start(self):
        self.process = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            process_group=0, pass_fds=[fd for fd, _ in self.passed],
            preexec_fn=_passing(self.passed) if self.passed
            else _die_with_parent)
        os.set_blocking(self.process.stdout.fileno(), False)
        self.ready_line = None
        self.partial = b''
        self.started_at = time.monotonic()
        self.restart_at = None

    def is_running(self):
        """() -> bool"""
        return self.process is not None and self.process.poll() is None

    def read_lines(self):
        """() -> [str]: complete lines printed since the last call."""
        lines = []
        try:
            while True:
                data = os.read(self.process.stdout.fileno(), 65536)
                if not data:
                    break
                self.partial += data
        except BlockingIOError:
            pass
        except OSError:
            pass
        *done, self.partial = self.partial.split(b'\n')
        for raw in done:
            line = raw.decode('utf-8', 'replace')
            if self.ready_line is None and parse_ready_line(line):
                self.ready_line = line
            lines.append(line)
        return lines

    def signal(self, signum):
        if self.is_running():
            try:
                self.process.send_signal(signum)
            except OSError:
                pass


class Serve:
    """(site:Site, workers:int=None, debug=False, reload=False)"""

    def __init__(self, site, workers=None, debug=False, reload=False):
        self.site = site
        self.name = site.get_name()
        self.count = workers or site.get_max_children()
        self.debug = debug
        self.reload = reload
        base = [sys.executable, '-m', 'qpd', '--home', site.get_home()]
        self.base = base
        self.durus = Child('durus', base + ['durus', self.name])
        self.dispatcher = Child('dispatcher', base + ['dispatcher', self.name])
        # Under systemd socket activation (qpd build --systemd), the
        # listeners it passed go on to the dispatcher.
        self.dispatcher.passed = take_passed()
        self.workers = [self.make_worker(i) for i in range(self.count)]
        self.selector = selectors.DefaultSelector()
        self.stopping = False
        self.shutdown_timeout = site.get('shutdown_timeout')
        self.watcher = None        # qpd.server.reload.Watcher (--reload)
        self.changed = []          # files changed, not yet acted on
        self.retiring = []         # replaced workers finishing their work
        self.replace_asked = False  # REPLACE_SIGNAL came

    def make_worker(self, index):
        """(index:int) -> Child: worker number index (not started)."""
        argv = self.base + ['worker', self.name, '--index', str(index)]
        if self.debug:
            argv.append('--debug')
        return Child('worker', argv, index=index)

    def log(self, message):
        """(message:str) -> None: one line on stderr."""
        log_line('qpd serve %s' % self.name, message)

    def on_signal(self, signum, frame):
        self.stopping = True

    def on_replace(self, signum, frame):
        """REPLACE_SIGNAL: replace the workers (qpd deploy)."""
        self.replace_asked = True

    def on_hangup(self, signum, frame):
        """SIGHUP: pass it to the workers, which reopen the site's log."""
        for child in self.workers:
            child.signal(signal.SIGHUP)

    def children(self):
        return [self.durus, self.dispatcher] + self.workers + self.retiring

    def start(self, child):
        child.start()
        self.selector.register(child.process.stdout, selectors.EVENT_READ,
                               child)

    def forget(self, child):
        try:
            self.selector.unregister(child.process.stdout)
        except (KeyError, ValueError):
            pass
        self.pump(child)
        child.process.stdout.close()

    def pump(self, child):
        for line in child.read_lines():
            sys.stdout.write(line + '\n')
        sys.stdout.flush()

    def poll(self, timeout):
        for key, _ in self.selector.select(timeout):
            if key.data is self.watcher:
                self.changed.extend(self.watcher.take())
            else:
                self.pump(key.data)

    def wait_ready(self, children, quiet=False):
        """([Child], quiet=False) -> bool: have they all printed READY?
        (False as soon as one exits; said unless quiet.)"""
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.stopping and time.monotonic() < deadline:
            self.poll(0.1)
            for child in children:
                if child.ready_line is None and not child.is_running():
                    self.pump(child)
                    if not quiet:
                        self.log('%s exited with status %s before it was '
                                 'ready' % (child.get_label(),
                                            child.process.returncode))
                    return False
            if all(child.ready_line for child in children):
                return True
        if not self.stopping:
            self.log('not ready after %ss' % READY_TIMEOUT)
        return False

    def run(self):
        """() -> int: the exit status."""
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGHUP, self.on_hangup)
        signal.signal(REPLACE_SIGNAL, self.on_replace)
        status = 1
        try:
            self.site.ensure_var_directory()
            self.write_pid_file()
            clear_metrics_directory(self.site)
            if self.reload:
                # Before the workers import the site: an edit made while
                # they start, or as soon as it answers, is not missed.
                self.start_watching()
            for group in ([self.durus], [self.dispatcher], self.workers):
                for child in group:
                    self.start(child)
                if not self.wait_ready(group):
                    return 0 if self.stopping else 1
            addresses = parse_ready_line(self.dispatcher.ready_line).rest
            sys.stdout.write(
                format_ready_line('serve', self.name, addresses) + '\n')
            sys.stdout.flush()
            status = self.watch()
        finally:
            if self.watcher is not None:
                self.watcher.stop()
            self.stop()
            self.remove_pid_file()
        return status

    def write_pid_file(self):
        path = _pid_file(self.site)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as f:
            f.write('%d\n' % os.getpid())

    def remove_pid_file(self):
        try:
            if find_serve(self.site) == os.getpid():
                os.unlink(_pid_file(self.site))
        except OSError:
            pass

    # --reload ------------------------------------------------------------

    def start_watching(self):
        from qpd.server.reload import Watcher
        self.watcher = Watcher(self.site).start()
        self.selector.register(self.watcher, selectors.EVENT_READ,
                               self.watcher)
        self.log('watching %s for changes' % ', '.join(self.watcher.paths))

    def on_changes(self):
        """Some code changed: start new workers with it (each imports the
        site first); once they are all ready the old ones retire. If one
        cannot import the site, the new ones go, the old ones stay, and a
        scratch import (qpd.server.trial) prints the error with its file
        and line."""
        from qpd.server.trial import run_trial
        changed, self.changed = self.changed, []
        names = [self.watcher.describe(path) for path in changed]
        shown = ', '.join(names[:3]) + (
            ' and %d more' % (len(names) - 3) if len(names) > 3 else '')
        self.log('%s changed; restarting the workers' % shown)
        if self.replace_workers():
            return
        ok, error, _ = run_trial(self.site.get_home(), self.name)
        self.log('the site does not import; the old workers go on serving '
                 'until the next good change:')
        sys.stderr.write(error)
        sys.stderr.flush()

    def replace_workers(self):
        """() -> bool: start a new set of workers; once they are all
        ready, the old ones get SIGTERM (they finish the request in hand).
        Should a new one exit first, the new ones go and the old ones
        stay (False)."""
        fresh = [self.make_worker(i) for i in range(self.count)]
        for child in fresh:
            self.start(child)
        if not self.wait_ready(fresh, quiet=True):
            for child in fresh:
                child.signal(signal.SIGKILL)
                if child.process is not None:
                    child.process.wait()
                    self.forget(child)
            return False
        old, self.workers = self.workers, fresh
        for child in old:
            child.signal(signal.SIGTERM)
        self.retiring.extend(old)
        return True

    def watch(self):
        """() -> int: supervise until stopped or broken."""
        while not self.stopping:
            self.poll(0.25)
            if self.changed and not self.stopping:
                self.on_changes()
            if self.replace_asked and not self.stopping:
                self.replace_asked = False
                self.log('replacing the workers (asked by signal %d)'
                         % REPLACE_SIGNAL)
                if not self.replace_workers():
                    self.log('the new workers did not start; the old ones '
                             'go on serving')
            for child in list(self.retiring):
                if not child.is_running():
                    if not child.process.stdout.closed:
                        self.forget(child)
                    self.retiring.remove(child)
            now = time.monotonic()
            for child in (self.durus, self.dispatcher):
                if not child.is_running():
                    self.log('%s exited with status %s; stopping' % (
                        child.get_label(), child.process.returncode))
                    return 1
            for child in self.workers:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        self.start(child)
                elif not child.is_running():
                    self.forget(child)
                    if child.process.returncode == 0:
                        # It left on its own (max_requests and the like).
                        child.failures = 0
                        self.start(child)
                        continue
                    quick = now - child.started_at < QUICK_EXIT
                    child.failures = child.failures + 1 if quick else 0
                    if child.failures >= FAST_FAILURES:
                        self.log('%s keeps exiting (status %s); stopping' % (
                            child.get_label(), child.process.returncode))
                        return 1
                    self.log('%s exited with status %s; starting it again'
                             % (child.get_label(), child.process.returncode))
                    child.restart_at = now + RESTART_DELAY * max(
                        1, child.failures)
        return 0

    def stop(self):
        """() -> None: stop the dispatcher, then the workers, then the
        storage server; kill what does not stop in time."""
        for group, grace in (([self.dispatcher], self.shutdown_timeout + 5),
                             (self.workers + self.retiring, 10.0),
                             ([self.durus], 10.0)):
            running = [c for c in group if c.is_running()]
            for child in running:
                child.signal(signal.SIGTERM)
            deadline = time.monotonic() + grace
            while any(c.is_running() for c in running) and (
                    time.monotonic() < deadline):
                self.poll(0.05)
            for child in running:
                if child.is_running():
                    self.log('%s did not stop; killing it' %
                             child.get_label())
                    child.signal(signal.SIGKILL)
                    child.process.wait()
        for child in self.children():
            if child.process is not None:
                if child.process.poll() is None:
                    child.process.wait()
                if not child.process.stdout.closed:
                    self.forget(child)
        self.selector.close()


def check_debug(site):
    """(site:Site) -> None: refuse `--debug` (tracebacks and locals to
    whoever asks) when a listener is reachable from other machines."""
    for key, address in site.get_listening_addresses():
        if not is_loopback(address):
            port = address[1] if isinstance(address, tuple) else 8000
            raise ConfigurationError(
                site.get_name(), key, '%s is reachable from other machines, '
                'and --debug shows them tracebacks and local variables'
                % format_address(address),
                "serve on loopback (%s=('127.0.0.1', %s)) or drop --debug"
                % (key, port))


def main(site, workers=None, debug=False, reload=False):
    """(site:Site, workers:int=None, debug=False, reload=False) -> int: run
    the site in the foreground until Ctrl-C or SIGTERM; `debug` shows the
    technical 500 page (loopback listeners only); `reload` replaces the
    workers when the site's code changes."""
    if debug:
        check_debug(site)
    import setproctitle
    setproctitle.setproctitle('qpd serve %s' % site.get_name())
    return Serve(site, workers, debug=debug, reload=reload).run()
