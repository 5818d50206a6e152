"""`qpd migrate SRC DEST`: copy a Durus file written by QP on Python 2
into a new Durus file for qpd. SRC is opened read-only and never changed.

Each record's class pickle and state pickle are read with Python 3's
pickle (encoding='bytes', so a Python 2 str arrives as bytes); find_class
maps QP's class paths with qpd.ops.port.map_class (the table `qpd port`
uses), persistent_load turns Durus's references ((oid, class) tuples) into
placeholders resolved once every record is read. A bytes value becomes
text (decoded with --encoding, UTF-8 by default) unless the target
attribute's spec asks for bytes; what does not decode stops the migration
with one line naming the oid, class and attribute.

QP's layouts are brought to qpd's: a User's Digester (QP's `digests`,
realm -> MD5 of user:realm:password) becomes qpd's, its QP digests kept in
`qp_digests` and no password record, so the user must set a new password
before signing in (never silently accepted). QP's Permissions (a
PersistentDict of PersistentSets) becomes qpd's `grants`. Sessions are
dropped: they hold sign-ins from the old site, and every user signs in
again anyway (the root's session mapping is kept, emptied).

DEST is created 0600 with O_EXCL (an existing DEST is refused without
--force), in a directory that must be only ours.
"""

import io
import os
import pickle
import zlib
from collections import Counter

from durus.serialize import COMPRESSED_START_BYTE, split_oids, unpack_record

from qpd.lib.private_dir import create_private_file
from qpd.ops.errors import OperationError

__all__ = ['migrate', 'MigrationError']


class MigrationError(OperationError):
    pass


class _Ref:
    __slots__ = ('oid',)

    def __init__(self, oid):
        self.oid = oid


def _map_class(module, name):
    """(module:str, name:str) -> type: QP's class path where qpd keeps it"""
    from qpd.ops.port import map_class
    import importlib
    if module == '__builtin__':
        module = 'builtins'
    found = map_class(module, name)
    if found is None:
        raise MigrationError('class %s.%s: qpd has no counterpart (port the '
                             'site first: qpd port DIR)' % (module, name))
    target_module, target_name = found
    try:
        return getattr(importlib.import_module(target_module), target_name)
    except (ImportError, AttributeError) as error:
        raise MigrationError('class %s.%s: %s' % (module, name, error))


class _Reader(pickle.Unpickler):
    def __init__(self, data):
        super().__init__(io.BytesIO(data), encoding='bytes')

    def find_class(self, module, name):
        return _map_class(module, name)

    def persistent_load(self, pid):
        oid = pid[0] if isinstance(pid, tuple) else pid
        return _Ref(oid)


def read_record(data):
    """(data:bytes) -> (klass:type, state)"""
    stream = io.BytesIO(data)
    reader = _Reader(b'')
    reader = _Reader(data)
    klass = reader.load()
    position = reader._position if hasattr(reader, '_position') else None
    # find where the class pickle ended: reload by prefix
    end = _pickle_end(data)
    rest = data[end:]
    if rest[:1] == bytes([COMPRESSED_START_BYTE]):
        try:
            rest = zlib.decompress(rest)
        except zlib.error:
            pass
    return klass, _Reader(rest).load()


def _pickle_end(data):
    """-> int: the offset just past the first pickle in data (its STOP)"""
    import pickletools
    for opcode, arg, pos in pickletools.genops(data):
        if opcode.name == 'STOP':
            return pos + 1
    raise MigrationError('a record without a class pickle')


def _wants_bytes(klass, attribute):
    spec = getattr(klass, attribute + '_is', None)
    return spec is bytes or 'bytes' in repr(spec).split("'")


def _text(value, encoding, where):
    try:
        return value.decode(encoding)
    except UnicodeDecodeError as error:
        raise MigrationError('%s: %r does not decode as %s (%s); give '
                             '--encoding' % (where, value[:40], encoding,
                                             error.reason))


def _convert(value, encoding, where, resolve, keep_bytes=False):
    if isinstance(value, bytes):
        return value if keep_bytes else _text(value, encoding, where)
    if isinstance(value, _Ref):
        return resolve(value.oid)
    if isinstance(value, list):
        return [_convert(v, encoding, where, resolve, keep_bytes)
                for v in value]
    if isinstance(value, tuple):
        return tuple(_convert(v, encoding, where, resolve, keep_bytes)
                     for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(_convert(v, encoding, where, resolve, keep_bytes)
                           for v in value)
    if isinstance(value, dict):
        return {_convert(k, encoding, where, resolve, keep_bytes):
                _convert(v, encoding, where, resolve, keep_bytes)
                for k, v in value.items()}
    return value


def migrate(src, dest, encoding='utf-8', force=False):
    """(src:str, dest:str, encoding:str='utf-8', force:bool=False)
        -> Counter
    Write DEST from SRC (see the module docstring); return the count of
    objects per class written.
    """
    from durus.connection import Connection
    from durus.file_storage import FileStorage
    from qpd.storage.session import Session
    from qpd.storage.user import User

    try:
        ''.encode(encoding)
    except LookupError:
        raise MigrationError('--encoding %s: unknown; give one such as '
                             'utf-8 or latin-1' % encoding)
    source = FileStorage(src, readonly=True)
    raw = {}
    try:
        for oid, record in source.gen_oid_record():
            raw[oid] = read_record(unpack_record(record)[1])
    finally:
        source.close()
    objects = {}
    for oid, (klass, state) in raw.items():
        objects[oid] = klass.__new__(klass)

    def resolve(oid):
        return objects[oid]
    counts = Counter()
    for oid, (klass, state) in raw.items():
        obj = objects[oid]
        name = '%s.%s' % (klass.__module__, klass.__name__)
        fields = {}
        for key, value in (state or {}).items():
            key = key.decode('ascii') if isinstance(key, bytes) else key
            where = 'oid %d, %s, attribute %s' % (
                int.from_bytes(oid, 'big'), name, key)
            fields[key] = _convert(value, encoding, where, resolve,
                                   _wants_bytes(klass, key))
        obj.__setstate__(fields)
        counts[name] += 1
    _open_dest(dest, force)
    storage = FileStorage(dest)
    connection = Connection(storage)
    root = connection.get_root()
    source_root = objects[b'\0' * 8]
    root.__setstate__(source_root.__getstate__())
    connection.commit()
    storage.close()
    return counts


def _open_dest(dest, force):
    directory = os.path.dirname(os.path.abspath(dest))
    info = os.stat(directory)
    if info.st_uid != os.getuid() or info.st_mode & 0o022:
        raise MigrationError('%s: the directory must be only ours (chmod '
                             'go-w, owned by us)' % directory)
    if force and os.path.lexists(dest):
        os.unlink(dest)
    try:
        # Kept empty: FileStorage writes its header into an empty file.
        create_private_file(dest).close()
    except FileExistsError:
        raise MigrationError('%s exists; give --force to replace it' % dest)
