"""qpd.lib.backoff: the one way qpd waits before trying again.

Workers waiting for the storage server or the dispatcher, a Durus client
opening its storage, the publisher retrying a hit that lost a write
conflict: each sleeps a little, then twice as long, up to a cap. Jitter
(a random factor in [0.5, 1.5)) keeps processes that failed together from
retrying together.

    backoff = Backoff(first=0.05, cap=2.0)
    while not try_it():
        backoff.sleep()
"""

import random
import time

__all__ = ['Backoff']


class Backoff:
    """(first:float=0.05, cap:float=2.0, jitter:bool=True)
    Delays that start at `first` seconds and double up to `cap`."""

    def __init__(self, first=0.05, cap=2.0, jitter=True):
        self.first = first
        self.cap = cap
        self.jitter = jitter
        self.delay = first

    def next_delay(self):
        """() -> float: the delay to wait now; the next one doubles."""
        delay = self.delay
        self.delay = min(delay * 2, self.cap)
        if self.jitter:
            delay *= 0.5 + random.random()
        return delay

    def sleep(self):
        """() -> float: sleep for next_delay(); the time slept."""
        delay = self.next_delay()
        time.sleep(delay)
        return delay

    def reset(self):
        """() -> None: start again from `first`."""
        self.delay = self.first
