"""qpd.lib.gc_clock: how long this process's garbage collector has run.

A worker reads it before and after a hit, so that a slow hit's report can
say how much of its time was a collection (see qpd.server.respond's
slow-hit line). The clock is a `gc.callbacks` hook: it costs two clock reads
per collection and nothing per hit. Installing it twice installs it once.
"""

import gc
import time

__all__ = ['GCClock', 'gc_clock']


class GCClock:
    """()
    seconds: the seconds spent in collections since install();
    collections: how many ran."""

    def __init__(self):
        self.seconds = 0.0
        self.collections = 0
        self._started = None

    def install(self):
        """() -> None: start counting (idempotent)."""
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def uninstall(self):
        """() -> None: stop counting."""
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase, info):
        if phase == 'start':
            self._started = time.monotonic()
        elif self._started is not None:
            self.seconds += time.monotonic() - self._started
            self.collections += 1
            self._started = None


gc_clock = GCClock()     # the process's one clock
