"""qpd.server.recycle: when a worker leaves on its own.

A long-lived worker may grow (a leak in a site's code, a cache that only
fills) or simply be wanted fresh now and then. Two keys say when it goes:

- `max_requests`: after that many hits, plus a share of
  `max_requests_jitter`. The jitter's range is cut into one slot per worker
  index and each worker draws within its own slot (get_request_limit), so
  that workers started together never reach their limits together, which
  would leave the pool short twice over.
- `max_worker_memory`: after the hit that left the process's resident set
  (read from its open /proc/self/statm between hits, one pread) past it.

`Recycling.after_hit()` is the worker's only question after a hit: None, or
why it should leave. The worker then asks the dispatcher (fdpass LEAVE),
which lets one worker go at a time (GO), so no request is refused and the
pool is never two short; the worker leaves through the same path as on
SIGTERM in a rolling restart. A worker never asks in its first
MIN_LIFETIME seconds: supervisord (startsecs=1, qpd.ops.supervisor) takes
an exit that soon for a failed start.
"""

import os
import random
import time

__all__ = ['Recycling', 'get_request_limit', 'read_rss', 'MIN_LIFETIME']

MIN_LIFETIME = 1.5
_PAGE_SIZE = os.sysconf('SC_PAGE_SIZE')


def get_request_limit(max_requests, jitter, index, count, draw=random.random):
    """(max_requests:int, jitter:int, index:int, count:int, draw) -> int|None
    The requests after which worker `index` of `count` leaves (None: never,
    max_requests 0): max_requests plus a part of the jitter drawn (`draw()`
    in [0, 1)) within the slot of the jitter's range that is this index's,
    so that the workers' limits differ and two never leave together."""
    if not max_requests:
        return None
    slots = max(1, count)
    width = (jitter + 1) / slots
    return max_requests + int(((index % slots) + draw()) * width)


def read_rss(fd):
    """(fd:int) -> int: the resident bytes of this process, from its open
    /proc/self/statm."""
    return int(os.pread(fd, 128, 0).split()[1]) * _PAGE_SIZE


class Recycling:
    """(site:Site, index:int)
    One worker's limits (max_requests with its jitter, max_worker_memory)
    and its count of hits. `asked` is (reason, why) once after_hit has
    said to leave: reason is the metric's label, why the log's words."""

    def __init__(self, site, index):
        self.site = site
        self.born = time.monotonic()
        self.hits = 0
        self.request_limit = get_request_limit(
            site.get('max_requests'), site.get('max_requests_jitter'),
            index, site.get_max_children())
        self.memory_limit = site.get('max_worker_memory')
        self.statm = (os.open('/proc/self/statm', os.O_RDONLY)
                      if self.memory_limit else None)
        self.limited = bool(self.request_limit or self.memory_limit)
        self.asked = None

    def after_hit(self):
        """() -> (reason, why) | None: count a hit; the first time a limit
        is past (and the worker is older than MIN_LIFETIME), why it should
        leave; else None (also once it has been said)."""
        self.hits += 1
        if not self.limited or self.asked is not None:
            return None
        if self.request_limit and self.hits >= self.request_limit:
            reason = 'max_requests'
            why = '%d requests (max_requests %d, jitter %d)' % (
                self.hits, self.site.get('max_requests'),
                self.site.get('max_requests_jitter'))
        elif self.memory_limit and read_rss(self.statm) > self.memory_limit:
            reason = 'max_worker_memory'
            why = '%d bytes resident after %d requests (max_worker_memory ' \
                '%d)' % (read_rss(self.statm), self.hits, self.memory_limit)
        else:
            return None
        if time.monotonic() - self.born < MIN_LIFETIME:
            return None
        self.asked = (reason, why)
        return self.asked
