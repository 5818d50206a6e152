"""bench.breakdown: where qpd's slow hits spent their time.

With `bench/run.py --breakdown MS`, qpd runs with `slow_hit_seconds` at MS
milliseconds, so each of its workers logs a line for every hit that took
that long (qpd.server.respond.format_slow_hit). After each workload the
bench reads the lines its workers wrote meanwhile (LogTail) and sums them
by phase (summarize_slow_hits): how many hits were slow, and of their time, how much
was waiting for a worker, syncs, the application, commits, retry waits,
sending, the publisher's other work, and garbage collections. The rest of
a slow hit's time, before its worker saw its request (the listen backlog,
the dispatcher's queue), is not in the line: it is the difference between
wrk's latency and these figures.
"""

import glob
import os
import re

__all__ = ['LogTail', 'parse_slow_hit', 'summarize_slow_hits', 'format_summary']

_LINE = re.compile(r'slow hit (\d+\.\d) ms: .*?, (\d+) attempts?: (.*)$')
_PART = re.compile(r'([^,]+?) (\d+\.\d)(?:, |$)')
_GC = re.compile(r'\d+ garbage collections?$')


class LogTail:
    """(paths:[glob pattern])
    The lines appended to the files matching the patterns since the last
    read (or since made)."""

    def __init__(self, patterns):
        self.patterns = patterns
        self.offsets = {}
        self.read()

    def read(self):
        """() -> [str]: the lines appended since the last call."""
        lines = []
        for pattern in self.patterns:
            for path in glob.glob(pattern):
                try:
                    size = os.path.getsize(path)
                    start = self.offsets.get(path, 0)
                    if size < start:        # rotated
                        start = 0
                    with open(path, 'rb') as f:
                        f.seek(start)
                        data = f.read()
                except OSError:
                    continue
                end = data.rfind(b'\n') + 1
                self.offsets[path] = start + end
                lines.extend(data[:end].decode('utf-8', 'replace')
                             .splitlines())
        return lines


def parse_slow_hit(line):
    """(line:str) -> (total_ms:float, attempts:int, {phase: ms}) | None"""
    found = _LINE.search(line)
    if found is None:
        return None
    parts = {}
    for name, ms in _PART.findall(found.group(3)):
        if _GC.match(name):
            name = 'garbage collection'
        parts[name] = parts.get(name, 0.0) + float(ms)
    return float(found.group(1)), int(found.group(2)), parts


def summarize_slow_hits(lines):
    """(lines:[str]) -> dict | None: count, mean_ms, max_ms, retried (hits
    with more than one attempt) and phases_ms (the mean milliseconds per
    slow hit of each phase) of the slow-hit lines among lines."""
    hits = [hit for hit in map(parse_slow_hit, lines) if hit is not None]
    if not hits:
        return None
    phases = {}
    for _, _, parts in hits:
        for name, ms in parts.items():
            phases[name] = phases.get(name, 0.0) + ms
    count = len(hits)
    return dict(
        count=count,
        mean_ms=sum(hit[0] for hit in hits) / count,
        max_ms=max(hit[0] for hit in hits),
        retried=sum(1 for hit in hits if hit[1] > 1),
        phases_ms={name: total / count for name, total in sorted(
            phases.items(), key=lambda item: -item[1])})


def format_summary(summary):
    """(summary:dict | None) -> str: one line for the bench's log."""
    if summary is None:
        return 'no slow hits'
    return '%d slow hits (mean %.1f ms, max %.1f, %d retried): %s' % (
        summary['count'], summary['mean_ms'], summary['max_ms'],
        summary['retried'], ', '.join(
            '%s %.2f' % item for item in summary['phases_ms'].items()))
