"""qpd.storage.check: read every record of a FileStorage file, and every
object reachable from the root, and say what is wrong.

    report = check_file(path, live=False, progress=None)
    report.is_clean(); report.summary(); report.get_problems()

The file is read directly, never through the StorageServer, so a check
does not slow a site down and sees one consistent state even while the
site runs: FileStorage is append-only, so the file up to the end of its
last complete transaction (qpd.storage.shelf_scan) is the database as it
was committed at that moment. With `live` (the StorageServer runs), bytes
after that boundary are a transaction being written and are left alone;
without it, they are a torn tail, which the StorageServer would cut at its
next start, and are reported.

What is checked:
- the structure of every transaction and record (lengths, oids);
- from the root (oid 0), every reachable object: its record is found, its
  class pickle loads (the class is importable) and its state pickle loads
  (decompressed when Durus compressed it), and every oid it refers to has
  a record (else a dangling reference).
Objects that are not reachable are counted (a pack drops them), not
reported as problems.
"""

import io
import os
import pickle
import struct
import zlib
from collections import deque

from durus.serialize import COMPRESSED_START_BYTE, split_oids, unpack_record

from qpd.storage.shelf_scan import (
    Damage, analyze_tail, iter_records, scan)

__all__ = ['check_file', 'load_record', 'walk_from_root', 'CheckReport',
           'ROOT_OID']

ROOT_OID = b'\0' * 8
_INT8 = struct.Struct('>Q')
_PROGRESS_EVERY = 2000


def _oid_number(oid):
    return _INT8.unpack(oid)[0]


class CheckReport:
    """What check_file() found."""

    def __init__(self, path):
        self.path = path
        self.size = 0
        self.committed_end = 0
        self.transactions = 0
        self.records = 0            # record versions in the file
        self.objects = 0            # current objects (distinct oids)
        self.reachable = 0
        self.reachable_bytes = 0
        self.unreadable = []        # (oid number, reason)
        self.dangling = []          # (oid number, missing oid number)
        self.damage = None          # str: structural damage
        self.torn = None            # str: a torn tail (not live)
        self.pending = 0            # bytes being written (live)

    def is_clean(self):
        """() -> bool"""
        return not (self.unreadable or self.dangling or self.damage
                    or self.torn)

    def get_problems(self):
        """() -> [str]: one line per problem (at most 20 of each kind)."""
        lines = []
        if self.damage:
            lines.append('damaged: %s' % self.damage)
        if self.torn:
            lines.append('torn tail: %s' % self.torn)
        for oid, reason in self.unreadable[:20]:
            lines.append('unreadable object %d: %s' % (oid, reason))
        if len(self.unreadable) > 20:
            lines.append('... and %d more unreadable objects' % (
                len(self.unreadable) - 20))
        for oid, missing in self.dangling[:20]:
            lines.append('object %d refers to object %d, which has no '
                         'record (a dangling reference)' % (oid, missing))
        if len(self.dangling) > 20:
            lines.append('... and %d more dangling references' % (
                len(self.dangling) - 20))
        return lines

    def summary(self):
        """() -> str: one line."""
        text = ('%d objects reachable from the root (%d bytes), %d '
                'objects in all, %d transactions, %d bytes checked' % (
                    self.reachable, self.reachable_bytes, self.objects,
                    self.transactions, self.committed_end))
        if self.pending:
            text += ' (%d bytes being written were left alone)' % (
                self.pending)
        if self.is_clean():
            return 'clean: ' + text
        counts = []
        if self.damage:
            counts.append('damaged')
        if self.torn:
            counts.append('a torn tail')
        if self.unreadable:
            counts.append('%d unreadable objects' % len(self.unreadable))
        if self.dangling:
            counts.append('%d dangling references' % len(self.dangling))
        return 'NOT clean (%s): %s' % (', '.join(counts), text)


def _plain_unpickler(stream):
    unpickler = pickle.Unpickler(stream)
    unpickler.persistent_load = lambda pid: None
    return unpickler


def load_record(data, make_unpickler=_plain_unpickler):
    """(data:bytes, make_unpickler=...) -> (klass, state)
    Unpickle a record's class and state as a Durus connection would: one
    unpickler, make_unpickler(stream), for both (the state pickle may
    refer to what the class pickle memoized), the state decompressed when
    Durus compressed it. By default persistent references are not
    followed (they load as None). Raises what unpickling raises."""
    stream = io.BytesIO(data)
    unpickler = make_unpickler(stream)
    klass = unpickler.load()
    position = stream.tell()
    if data[position:position + 1] == bytes([COMPRESSED_START_BYTE]):
        try:
            state = zlib.decompress(data[position:])
        except zlib.error:
            pass        # the unpickler tries the bytes as they are
        else:
            stream.write(state)
            stream.seek(position)
    return klass, unpickler.load()


def walk_from_root(report, has, read, say):
    """(report:CheckReport, has, read, say) -> None
    Check every object reachable from the root into report: has(oid) ->
    bool (is there a record), read(oid) -> record bytes; say(text) tells
    of progress. report.objects is the number of objects in all."""
    if not has(ROOT_OID):
        if report.objects:
            report.unreadable.append((0, 'the root object has no record'))
        return
    seen = {ROOT_OID}
    todo = deque([ROOT_OID])
    while todo:
        oid = todo.popleft()
        record = read(oid)
        report.reachable += 1
        report.reachable_bytes += len(record)
        if report.reachable % _PROGRESS_EVERY == 0:
            say('checking: %d of %d objects' % (
                report.reachable, report.objects))
        try:
            record_oid, data, refs = unpack_record(record)
            if record_oid != oid:
                raise ValueError('its record names oid %d' %
                                 _oid_number(record_oid))
            load_record(data)
            refs = split_oids(refs)
        except Exception as e:
            report.unreadable.append((_oid_number(oid), '%s: %s' % (
                type(e).__name__, e)))
            continue
        for ref in refs:
            if ref in seen:
                continue
            seen.add(ref)
            if has(ref):
                todo.append(ref)
            else:
                report.dangling.append((_oid_number(oid),
                                        _oid_number(ref)))


def check_file(path, live=False, progress=None):
    """(path:str, live:bool=False, progress=None) -> CheckReport
    See the module's docstring. progress(text) is called now and then on
    a large file."""
    report = CheckReport(path)
    say = progress or (lambda text: None)
    with open(path, 'rb', buffering=1024 * 1024) as f:
        size = report.size = os.fstat(f.fileno()).st_size
        try:
            result = scan(f, size)
        except Damage as damage:
            report.damage = str(damage)
            return report
        report.committed_end = result.committed_end
        report.transactions = len(result.transactions)
        if result.damage is not None:
            if live:
                report.pending = size - result.committed_end
            else:
                tail = analyze_tail(path)
                if tail.kind == 'damaged':
                    report.damage = '%s (at byte %d)' % (
                        tail.reason, tail.offset)
                else:
                    report.torn = (
                        '%d bytes at byte %d (%s); the StorageServer cuts '
                        'them at its next start and keeps them in a '
                        '.torn- file' % (size - result.committed_end,
                                         result.committed_end, tail.reason))
        index = {}
        layout = result.layout
        for position, oid, length in iter_records(
                f, layout.base_start, layout.base_end):
            index[oid] = (position, length)
            report.records += 1
        for number, (start, end) in enumerate(result.transactions, 1):
            if end > result.committed_end:
                break
            for position, oid, length in iter_records(f, start + 8, end):
                index[oid] = (position, length)
                report.records += 1
            if number % _PROGRESS_EVERY == 0:
                say('indexing: %d of %d transactions' % (
                    number, report.transactions))
        report.objects = len(index)

        def read(oid):
            position, length = index[oid]
            f.seek(position + 16)
            return f.read(length - 8)
        walk_from_root(report, index.__contains__, read, say)
    return report
