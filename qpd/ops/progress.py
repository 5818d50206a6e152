"""Progress: one line of progress for long work, redrawn on a terminal;
say: one line of what a command did, on stdout."""

import sys
import time

__all__ = ['Progress', 'say']


def say(text):
    """(text:str) -> None: print text on stdout, flushed at once (the
    lines of a command, in order with its processes' output)."""
    print(text, flush=True)


class Progress:
    """Shows the state of long work on `out` (default stderr): redrawn in
    place on a terminal, else printed when it changes, at most once every
    `interval` seconds."""

    def __init__(self, out=None, interval=2.0):
        self.out = out or sys.stderr
        self.interval = interval
        self.is_tty = hasattr(self.out, 'isatty') and self.out.isatty()
        self.last = None
        self.last_time = 0.0
        self.width = 0

    def update(self, text):
        """(text:str) -> None"""
        if text == self.last:
            return
        now = time.monotonic()
        if self.is_tty:
            self.out.write('\r' + text.ljust(self.width))
            self.width = len(text)
        elif now - self.last_time >= self.interval:
            self.out.write(text + '\n')
            self.last_time = now
        else:
            return
        self.out.flush()
        self.last = text

    def done(self, text=None):
        """(text:str=None) -> None: end the progress line (with a last
        text)."""
        if self.is_tty and self.last is not None:
            self.out.write('\r' + (text or self.last).ljust(self.width) + '\n')
        elif text:
            self.out.write(text + '\n')
        self.out.flush()
        self.last = None
        self.width = 0
