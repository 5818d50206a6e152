"""qpd.server.reload: what `qpd serve NAME --reload` watches.

A `Watcher` runs watchfiles in a daemon thread over the site's package
(the real directory, so a deployed release is followed too) and, when
qpd is installed editable (its source is not under site-packages), over
qpd's own package. It keeps `.py` and `.qpy` files only: static files are
read on each request and need no restart, and the var directory (the
database, sockets and logs) changes all the time. Each batch of changes
(watchfiles waits DEBOUNCE ms for a burst of writes to settle) is queued
and announced by a byte on a pipe that the serve loop selects on, so the
loop never blocks on the watcher.

Nothing made between the start of `qpd serve` and the first batch is
lost: the Watcher notes each file's mtime and size when it is made
(`scan`, before the workers import the site), and once watchfiles is
watching (its first yield: it yields at least every FIRST_LOOK ms) it
scans again and reports what differs as the first batch. An edit made
as soon as the site first answers is so either seen by the watcher or
found by the second scan.

What happens then is serve's business (qpd.server.serve): try the new
code in a scratch process (qpd.server.trial), and only if it imports,
start new workers and retire the old ones once the new are ready; the
StorageServer and the dispatcher (with its listening sockets and queued
clients) keep running throughout.
"""

import os
import queue
import threading

from qpd.lib.process import start_thread

__all__ = ['Watcher', 'get_watch_paths', 'is_editable', 'DEBOUNCE']

DEBOUNCE = 50           # ms of quiet before a batch of changes is reported
STEP = 20               # ms between checks while a batch settles
FIRST_LOOK = 200        # ms at most before the watcher yields (and the
                        # files are compared with the scan made at start)


def is_editable():
    """() -> bool: is qpd imported from a source tree (an editable
    install) rather than from site-packages?"""
    import qpd
    path = os.path.realpath(os.path.dirname(qpd.__file__))
    return 'site-packages' not in path.split(os.sep) and \
        'dist-packages' not in path.split(os.sep)


def get_watch_paths(site):
    """(site:Site) -> [str]: the directories to watch."""
    paths = [os.path.realpath(site.get_package_directory())]
    if is_editable():
        import qpd
        paths.append(os.path.realpath(os.path.dirname(qpd.__file__)))
    return paths


class Watcher:
    """(site:Site)
    Watches the site's code in a thread; `fileno()` becomes readable when
    changes wait, `take()` answers them."""

    def __init__(self, site):
        import watchfiles
        self.site = site
        self.paths = get_watch_paths(site)
        ignored = [os.path.realpath(site.get_var_directory()),
                   os.path.realpath(site.get_static_directory())]
        self.filter = watchfiles.PythonFilter(ignore_paths=ignored,
                                              extra_extensions=('.qpy',))
        self.scanned = self.scan()
        self.changes = queue.SimpleQueue()
        self.read_fd, self.write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.stop_event = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, name='qpd-reload',
                                       daemon=True)

    def scan(self):
        """() -> {path: (mtime_ns, size)}: the watched files now."""
        import watchfiles
        found = {}
        for top in self.paths:
            for directory, dirs, files in os.walk(top):
                for name in files:
                    path = os.path.join(directory, name)
                    if not self.filter(watchfiles.Change.modified, path):
                        continue
                    try:
                        info = os.stat(path)
                    except OSError:
                        continue
                    found[path] = (info.st_mtime_ns, info.st_size)
        return found

    def start(self):
        """() -> self: start watching (returns once the watcher runs,
        or after 5 s)."""
        start_thread(self.thread)
        self.ready.wait(5.0)
        return self

    def run(self):
        import watchfiles
        for batch in watchfiles.watch(
                *self.paths, watch_filter=self.filter, debounce=DEBOUNCE,
                step=STEP, stop_event=self.stop_event, rust_timeout=FIRST_LOOK,
                yield_on_timeout=True, raise_interrupt=False):
            changed = {path for _, path in batch}
            if self.scanned is not None:
                # Watching now: what changed since the scan at start.
                before, self.scanned = self.scanned, None
                now = self.scan()
                changed.update(path for path in set(before) | set(now)
                               if before.get(path) != now.get(path))
                self.ready.set()
            if changed:
                self.put(sorted(changed))

    def put(self, changed):
        """([str]) -> None: queue a batch and wake the serve loop."""
        self.changes.put(changed)
        try:
            os.write(self.write_fd, b'x')
        except OSError:
            pass

    def fileno(self):
        """() -> int: readable when changes wait."""
        return self.read_fd

    def take(self):
        """() -> [str]: the changed files since the last call (sorted)."""
        try:
            while os.read(self.read_fd, 4096):
                pass
        except OSError:
            pass
        changed = set()
        while True:
            try:
                changed.update(self.changes.get_nowait())
            except queue.Empty:
                return sorted(changed)

    def describe(self, path):
        """(path:str) -> str: path relative to the watched directory that
        holds it."""
        for top in self.paths:
            if path.startswith(top + os.sep):
                prefix = (os.path.basename(top) if top != self.paths[0]
                          else '')
                return os.path.join(prefix, os.path.relpath(path, top))
        return path

    def stop(self):
        """() -> None"""
        self.stop_event.set()
        self.thread.join(2.0)
        for fd in (self.read_fd, self.write_fd):
            try:
                os.close(fd)
            except OSError:
                pass
