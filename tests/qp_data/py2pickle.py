"""A pickle writer that emits what Python 2's cPickle emits at protocol 2,
for test fixtures: no Python 2 interpreter is available here, and
Python 3's pickle cannot write a Python 2 `str` (it has no such type).

Values are described with Python 3 objects standing for Python 2 ones:

    bytes            a Python 2 str       SHORT_BINSTRING (< 256 bytes) or
                                          BINSTRING, memoized
    str              a Python 2 unicode   BINUNICODE (UTF-8), memoized
    int              a Python 2 int       BININT1, BININT2, BININT (32 bits)
                                          or INT (text) beyond 32 bits
    Long(n)          a Python 2 long      LONG1 (LONG4 past 255 bytes)
    float            BINFLOAT;  True/False NEWTRUE/NEWFALSE;  None NONE
    tuple            EMPTY_TUPLE, TUPLE1/2/3, or MARK ... TUPLE
    list             EMPTY_LIST, then APPEND (one item) or MARK ... APPENDS
    dict             EMPTY_DICT, then SETITEM (one item) or MARK ... SETITEMS
    Global(m, n)     a class or function: GLOBAL 'm\\nn\\n', memoized (a
                     second use is BINGET)
    Reduce(f, args, state=None)
                     what __reduce__ gives (a set, a datetime): f, args,
                     REDUCE, then state and BUILD if state is not None
    NewObj(cls, state)
                     a new-style instance (copy_reg.__newobj__): cls,
                     EMPTY_TUPLE, NEWOBJ, then state and BUILD
    OldObj(cls, state)
                     an old-style (classic) instance: MARK, cls, OBJ, then
                     state and BUILD
    Ref(oid, cls)    a Durus persistent reference: Durus's persistent_id
                     returns (oid as an 8-byte str, the class), so
                     SHORT_BINSTRING, GLOBAL, TUPLE2, BINPERSID

Memo indexes start at 1 (as cPickle's put() numbers them), BINPUT below
256 and LONG_BINPUT past it; repeated globals and a persistent object's
oid come back with BINGET. (cPickle leaves out the BINPUT of an object
nothing else refers to, by its reference count; this writer always puts,
which an unpickler reads the same way.) One Pickler2 keeps its memo across dump()
calls until clear_memo(), as cPickle's does: Durus writes a record as
two dumps on one pickler (the class, then the state), so the state
pickle may BINGET what the class pickle memoized.

`durus_record(oid, cls, state)` builds a Durus object record that way.
"""

import struct
import zlib

__all__ = ['Long', 'Global', 'Reduce', 'NewObj', 'OldObj', 'Ref', 'Pickler2',
           'durus_record', 'oid_bytes', 'OPCODES']

# The opcodes this writer can emit (what a test covers, by name).
OPCODES = ('PROTO', 'STOP', 'NONE', 'NEWTRUE', 'NEWFALSE', 'BININT1',
           'BININT2', 'BININT', 'INT', 'LONG1', 'LONG4', 'BINFLOAT',
           'SHORT_BINSTRING', 'BINSTRING', 'BINUNICODE', 'EMPTY_TUPLE',
           'TUPLE1', 'TUPLE2', 'TUPLE3', 'MARK', 'TUPLE', 'EMPTY_LIST',
           'APPEND', 'APPENDS', 'EMPTY_DICT', 'SETITEM', 'SETITEMS',
           'GLOBAL', 'REDUCE', 'NEWOBJ', 'OBJ', 'BUILD', 'BINPERSID', 'BINPUT',
           'LONG_BINPUT', 'BINGET', 'LONG_BINGET')

_BATCH = 1000     # cPickle's BATCHSIZE for APPENDS and SETITEMS


class Long:
    """(value:int): a Python 2 long"""

    def __init__(self, value):
        self.value = value


class Global:
    """(module:str, name:str): a class or function, by its path"""

    def __init__(self, module, name):
        self.module = module
        self.name = name

    def key(self):
        return ('global', self.module, self.name)


class Reduce:
    """(function:Global, args:tuple, state=None)"""

    def __init__(self, function, args, state=None):
        self.function = function
        self.args = args
        self.state = state


class NewObj:
    """(cls:Global, state)"""

    def __init__(self, cls, state):
        self.cls = cls
        self.state = state


class OldObj(NewObj):
    """(cls:Global, state): an instance of a classic class"""


class Ref:
    """(oid:int, cls:Global): a reference to a persistent object"""

    def __init__(self, oid, cls):
        self.oid = oid
        self.cls = cls


def oid_bytes(oid):
    """(oid:int) -> bytes: Durus's 8-byte big-endian oid"""
    return struct.pack('>Q', oid)


def _long_bytes(n):
    """Two's complement, little-endian, as short as it can be (pickle's
    encode_long)."""
    if n == 0:
        return b''
    length = (n.bit_length() >> 3) + 1
    data = n.to_bytes(length, 'little', signed=True)
    if n < 0 and length > 1 and data[-1] == 0xff and data[-2] & 0x80:
        data = data[:-1]
    return data


class Pickler2:
    """() A protocol 2 writer with a memo that lasts across dump()s."""

    def __init__(self):
        self.clear_memo()

    def clear_memo(self):
        self.memo = {}
        self.keep = []      # keeps id()s of memoized values from reuse

    def dump(self, value):
        """(value) -> bytes: one pickle (PROTO 2 ... STOP)"""
        self.out = [b'\x80\x02']
        self.save(value)
        self.out.append(b'.')
        return b''.join(self.out)

    # memo

    def _get(self, key):
        index = self.memo.get(key)
        if index is None:
            return False
        if index < 256:
            self.out.append(b'h' + bytes([index]))
        else:
            self.out.append(b'j' + struct.pack('<I', index))
        return True

    def _put(self, key, value=None):
        index = len(self.memo) + 1
        self.memo[key] = index
        self.keep.append(value)
        if index < 256:
            self.out.append(b'q' + bytes([index]))
        else:
            self.out.append(b'r' + struct.pack('<I', index))

    # values

    def save(self, value):
        write = self.out.append
        if value is None:
            write(b'N')
        elif value is True:
            write(b'\x88')
        elif value is False:
            write(b'\x89')
        elif isinstance(value, int):
            self.save_int(value)
        elif isinstance(value, Long):
            data = _long_bytes(value.value)
            if len(data) < 256:
                write(b'\x8a' + bytes([len(data)]) + data)
            else:
                write(b'\x8b' + struct.pack('<i', len(data)) + data)
        elif isinstance(value, float):
            write(b'G' + struct.pack('>d', value))
        elif isinstance(value, bytes):
            if self._get(('id', id(value))):
                return
            if len(value) < 256:
                write(b'U' + bytes([len(value)]) + value)
            else:
                write(b'T' + struct.pack('<i', len(value)) + value)
            self._put(('id', id(value)), value)
        elif isinstance(value, str):
            if self._get(('id', id(value))):
                return
            data = value.encode('utf-8')
            write(b'X' + struct.pack('<i', len(data)) + data)
            self._put(('id', id(value)), value)
        elif isinstance(value, tuple):
            self.save_tuple(value)
        elif isinstance(value, list):
            if self._get(('id', id(value))):
                return
            write(b']')
            self._put(('id', id(value)), value)
            self._batch(value, b'a', b'e', self.save)
        elif isinstance(value, dict):
            if self._get(('id', id(value))):
                return
            write(b'}')
            self._put(('id', id(value)), value)
            self._batch(list(value.items()), b's', b'u', self._save_pair)
        elif isinstance(value, Global):
            if self._get(value.key()):
                return
            write(b'c' + value.module.encode('ascii') + b'\n' +
                  value.name.encode('ascii') + b'\n')
            self._put(value.key())
        elif isinstance(value, Reduce):
            self.save(value.function)
            self.save(value.args)
            write(b'R')
            self._put(('id', id(value)), value)
            if value.state is not None:
                self.save(value.state)
                write(b'b')
        elif isinstance(value, OldObj):
            write(b'(')
            self.save(value.cls)
            write(b'o')
            self._put(('id', id(value)), value)
            self.save(value.state)
            write(b'b')
        elif isinstance(value, NewObj):
            self.save(value.cls)
            self.save(())
            write(b'\x81')
            self._put(('id', id(value)), value)
            self.save(value.state)
            write(b'b')
        elif isinstance(value, Ref):
            # Durus's persistent_id: (obj._p_oid, type(obj)); the oid str
            # is the object's own, so a second reference memo-gets it.
            key = ('oid', value.oid)
            if not self._get(key):
                write(b'U\x08' + oid_bytes(value.oid))
                self._put(key)
            self.save(value.cls)
            write(b'\x86')
            self._put(('id', id(value)), value)
            write(b'Q')
        else:
            raise TypeError('py2pickle: cannot write %r' % (value,))

    def save_int(self, value):
        write = self.out.append
        if not -0x80000000 <= value <= 0x7fffffff:
            write(b'I%d\n' % value)     # cPickle's INT for 64-bit ints
        elif 0 <= value < 256:
            write(b'K' + bytes([value]))
        elif 0 <= value < 65536:
            write(b'M' + struct.pack('<H', value))
        else:
            write(b'J' + struct.pack('<i', value))

    def save_tuple(self, value):
        write = self.out.append
        if not value:
            write(b')')
            return
        if self._get(('id', id(value))):
            return
        if len(value) <= 3:
            for item in value:
                self.save(item)
            write(b'\x85\x86\x87'[len(value) - 1:len(value)])
        else:
            write(b'(')
            for item in value:
                self.save(item)
            write(b't')
        self._put(('id', id(value)), value)

    def _save_pair(self, pair):
        self.save(pair[0])
        self.save(pair[1])

    def _batch(self, items, one, many, save):
        write = self.out.append
        for start in range(0, len(items), _BATCH):
            chunk = items[start:start + _BATCH]
            if len(chunk) == 1:
                save(chunk[0])
                write(one)
            else:
                write(b'(')
                for item in chunk:
                    save(item)
                write(many)


def _refs(value, found):
    if isinstance(value, Ref):
        found.add(value.oid)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _refs(item, found)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refs(key, found)
            _refs(item, found)
    elif isinstance(value, Reduce):
        _refs(value.args, found)
        _refs(value.state, found)
    elif isinstance(value, NewObj):
        _refs(value.state, found)
    return found


def durus_record(oid, cls, state, compress=True):
    """(oid:int, cls:Global, state, compress=True) -> bytes
    A Durus object record: oid, the length of its data, the data (the
    class pickle, then the state pickle, zlib-compressed with compress,
    both dumped by one pickler as Durus does), and the sorted oids it
    refers to (its own left out).
    """
    pickler = Pickler2()
    class_pickle = pickler.dump(cls)
    state_pickle = pickler.dump(state)
    if compress:
        state_pickle = zlib.compress(state_pickle)
    data = class_pickle + state_pickle
    refs = sorted(_refs(state, set()) - {oid})
    return (oid_bytes(oid) + struct.pack('>I', len(data)) + data +
            b''.join(oid_bytes(ref) for ref in refs))
