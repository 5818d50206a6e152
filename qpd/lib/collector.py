"""qpd.lib.collector: Python's cyclic garbage collector in a long-running
process that serves requests.

`settle()`, once the site is loaded: collect what loading left, freeze the
rest (gc.freeze: never scanned again) and set GC_THRESHOLDS. Python's are
700, 10, 10; what a hit leaves is mostly freed by reference counting, and a
young collection every 700 allocations ran every few requests while a full
one walked the whole heap (the site's modules, the Durus cache) in the
middle of a request: the tail. With the loaded heap frozen, collections
come a tenth as often and scan only what the hits made.

`gc_clock` says how long collections have run since settle(): a worker
reads it before and after a hit, so that a slow hit's line can say how much
of its time was a collection (qpd.server.respond.format_slow_hit). It is a
`gc.callbacks` hook: two clock reads per collection, nothing per hit.
Installing it twice installs it once.
"""

import gc
import time

__all__ = ['GCClock', 'gc_clock', 'settle', 'GC_THRESHOLDS']

GC_THRESHOLDS = (7000, 20, 20)


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


def settle():
    """() -> None: collect, freeze what is left, set GC_THRESHOLDS and
    start gc_clock (see the module's docstring)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    gc_clock.install()
