"""qpd.storage.shelf_scan: read a Durus FileStorage file record by record,
without Durus, to find where its committed part ends and what is damaged.

A FileStorage file (Durus's "Shelf" format) is append-only:

    prefix  b'SHELF-1\\n'
    base    int8 length, then records (what the last pack kept)
    map     the offset map of the base: int8 size, int8 bytes per word,
            int8 number of words, then the words
    transactions, each: int8 length, then records
    record  int8 length, 8-byte oid, then Durus's record: the oid again,
            int4 data length, data (class and state pickles), the oids it
            refers to (8 bytes each)

Every number is big-endian. Durus writes a transaction's length as 0,
then its records, then goes back and writes the real length: a write cut
short can leave a zero length in front of records.

What a reader can rely on:

- `scan(f)` walks the file and stops at the first transaction that is
  incomplete or malformed. The end of the last complete transaction before
  it (`Scan.committed_end`) is a transaction boundary: the bytes before it
  are a consistent database. A reader of a live file (`qpd backup`,
  `qpd check`) gets a snapshot this way, even while the StorageServer
  appends.
- `analyze_tail(path)` tells apart a torn tail (the damage runs to the end
  of the file and no complete transaction follows it: a write that a crash
  cut short, or garbage after the end) from damage elsewhere (complete
  transactions follow the damaged bytes, or the head of the file is
  broken), which no program should "repair" by cutting.

Checks here are structural (lengths, the oid written twice, the data
length inside the record, whole oids after it); `qpd.storage.check` reads
the pickles too.
"""

import os
import re
import struct

__all__ = ['PREFIX', 'Damage', 'Layout', 'Scan', 'TailReport', 'read_layout',
           'scan', 'iter_records', 'analyze_tail', 'MAX_TAIL_SEARCH']

PREFIX = b'SHELF-1\n'
MAX_TAIL_SEARCH = 64 * 1024 * 1024   # a torn tail longer than this is
                                     # not a cut write: call it damage
_INT8 = struct.Struct('>Q')
_RECORD_HEAD = struct.Struct('>Q8s8sI')    # length, oid, oid again, data len
_MIN_RECORD = 8 + 12                       # oid, then Durus's oid and int4
_READ_SIZE = 1024 * 1024


class Damage(Exception):
    """(offset:int, reason:str) bytes at offset that are not what the
    format says."""

    def __init__(self, offset, reason):
        Exception.__init__(self, 'at byte %d: %s' % (offset, reason))
        self.offset = offset
        self.reason = reason


class Layout:
    """Where the parts of a Shelf file are: base_start and base_end (the
    base transaction's records), map_start, and transactions_start (the
    first byte after the offset map)."""

    def __init__(self, base_start, base_end, map_start, transactions_start):
        self.base_start = base_start
        self.base_end = base_end
        self.map_start = map_start
        self.transactions_start = transactions_start


class Scan:
    """What scan() found: the layout, the transactions as (start, end)
    pairs, committed_end (the end of the last complete, non-empty
    transaction, or the end of the offset map), size (the bytes scanned)
    and damage (a Damage at committed_end, or None)."""

    def __init__(self, layout, size):
        self.layout = layout
        self.size = size
        self.transactions = []
        self.committed_end = layout.transactions_start
        self.damage = None


def _read_exactly(f, offset, n, size):
    """(f, offset:int, n:int, size:int) -> bytes: n bytes at offset, or
    Damage when the file (of size bytes) ends first."""
    if offset + n > size:
        raise Damage(offset, 'needs %d bytes, the file ends after %d' % (
            n, size - offset))
    f.seek(offset)
    data = f.read(n)
    if len(data) != n:
        raise Damage(offset, 'needs %d bytes, read %d' % (n, len(data)))
    return data


def read_layout(f, size):
    """(f:binary file, size:int) -> Layout
    The head of the file: prefix, base transaction and offset map; Damage
    when one of them is broken or incomplete."""
    if _read_exactly(f, 0, len(PREFIX), size) != PREFIX:
        raise Damage(0, 'not a Durus FileStorage (no %r prefix)' % PREFIX)
    base_length = _INT8.unpack(_read_exactly(f, 8, 8, size))[0]
    base_start = 16
    base_end = base_start + base_length
    if base_end + 24 > size:
        raise Damage(8, 'the packed base (%d bytes) runs past the end of '
                        'the file' % base_length)
    total, per_word, words = struct.unpack(
        '>QQQ', _read_exactly(f, base_end, 24, size))
    if per_word > 8 or total != 16 + per_word * words:
        raise Damage(base_end, 'the offset map header is inconsistent')
    transactions_start = base_end + 8 + total
    if transactions_start > size:
        raise Damage(base_end, 'the offset map runs past the end of the file')
    return Layout(base_start, base_end, base_end, transactions_start)


def iter_records(f, start, end):
    """(f, start:int, end:int) -> iter((position:int, oid:bytes, length:int))
    The records that tile [start, end) exactly; Damage at the first one
    that does not. length counts the bytes after the int8 length."""
    position = start
    while position < end:
        if position + _RECORD_HEAD.size > end:
            raise Damage(position, 'a record head runs past its transaction')
        f.seek(position)
        length, oid, oid_again, data_length = _RECORD_HEAD.unpack(
            f.read(_RECORD_HEAD.size))
        if length < _MIN_RECORD or position + 8 + length > end:
            raise Damage(position, 'a record length (%d) that does not fit '
                                   'its transaction' % length)
        if oid != oid_again:
            raise Damage(position, 'a record whose oid is not repeated')
        refs = length - 8 - 12 - data_length
        if refs < 0 or refs % 8:
            raise Damage(position, 'a record whose data length (%d) does '
                                   'not fit it' % data_length)
        yield position, oid, length
        position += 8 + length


def _transaction_end(f, start, size):
    """(f, start:int, size:int) -> int: the end of the complete transaction
    at start; Damage when it is incomplete or malformed."""
    length = _INT8.unpack(_read_exactly(f, start, 8, size))[0]
    end = start + 8 + length
    if end > size:
        raise Damage(start, 'a transaction of %d bytes runs past the end of '
                            'the file (%d bytes left)' % (
                                length, size - start - 8))
    for _ in iter_records(f, start + 8, end):
        pass
    return end


def scan(f, size=None, start=None):
    """(f:binary file, size:int=None, start:int=None) -> Scan
    Walk the transactions of f (its first `size` bytes; default: all) up
    to the first damage, from the first transaction or from `start` (a
    transaction boundary known from an earlier scan). Damage in the head
    of the file is raised."""
    if size is None:
        f.seek(0, os.SEEK_END)
        size = f.tell()
    result = Scan(read_layout(f, size), size)
    if start is not None:
        if not result.layout.transactions_start <= start <= size:
            raise Damage(start, 'not a transaction boundary of this file')
        result.committed_end = start
    position = result.committed_end
    while position < size:
        try:
            end = _transaction_end(f, position, size)
        except Damage as damage:
            result.damage = damage
            break
        result.transactions.append((position, end))
        if end - position > 8:
            result.committed_end = end
        position = end
    if result.damage is None and result.committed_end != size:
        # Only empty transactions at the end: keep them (Durus reads them).
        result.committed_end = size
    return result


class TailReport:
    """What analyze_tail() found. kind is 'clean', 'torn' (cut bytes
    [cut, size) are a torn tail) or 'damaged' (damage at `offset` that is
    not a torn tail); reason says what is wrong."""

    def __init__(self, kind, size, cut=None, offset=None, reason=''):
        self.kind = kind
        self.size = size
        self.cut = cut
        self.offset = offset
        self.reason = reason

    def __repr__(self):
        return 'TailReport(%r, size=%r, cut=%r, offset=%r, %r)' % (
            self.kind, self.size, self.cut, self.offset, self.reason)


# A record head: an int8 length below 2**32 that is not zero, then an oid
# written twice.
_RECORD_SIGNATURE = re.compile(
    rb'(?s)(?=\0\0\0\0(?!\0\0\0\0)....(.{8})\1)')


def _chain_reaches_end(data, start):
    """(data:bytes, start:int) -> bool: do complete transactions, one of
    them not empty, tile data[start:] exactly?"""
    from io import BytesIO
    f = BytesIO(data)
    size = len(data)
    position = start
    records = False
    try:
        while position < size:
            end = _transaction_end(f, position, size)
            records = records or end - position > 8
            position = end
    except Damage:
        return False
    return records


def _complete_transactions_follow(data):
    """(data:bytes) -> int | None: the offset in data (not 0) where
    complete transactions start that run exactly to its end, if any."""
    for match in _RECORD_SIGNATURE.finditer(data, 1):
        start = match.start() - 8     # the transaction's own length
        if start > 0 and _chain_reaches_end(data, start):
            return start
    return None


def analyze_tail(path):
    """(path:str) -> TailReport
    Is the file clean, does it end in a torn tail (cut it at
    report.cut), or is it damaged elsewhere?"""
    with open(path, 'rb', buffering=_READ_SIZE) as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return TailReport('clean', 0)
        try:
            result = scan(f, size)
        except Damage as damage:
            return TailReport('damaged', size, offset=damage.offset,
                              reason=damage.reason)
        if result.damage is None:
            return TailReport('clean', size)
        cut = result.committed_end
        if size - cut > MAX_TAIL_SEARCH:
            return TailReport(
                'damaged', size, offset=result.damage.offset,
                reason='%s, and %d bytes follow (more than a torn write)' % (
                    result.damage.reason, size - result.damage.offset))
        f.seek(cut)
        tail = f.read(size - cut)
        follow = _complete_transactions_follow(tail)
        if follow is not None:
            return TailReport(
                'damaged', size, offset=result.damage.offset,
                reason='%s, and complete transactions follow at byte %d' % (
                    result.damage.reason, cut + follow))
        return TailReport('torn', size, cut=cut, offset=result.damage.offset,
                          reason=result.damage.reason)
