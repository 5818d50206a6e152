"""`qpd migrate SRC DEST`: a Durus file written by QP on Python 2 becomes a
new Durus file for qpd. SRC is only read (opened read-only, never locked
nor repaired); DEST is written whole or not at all.

Reading. SRC is either Durus file format (the shelf format of Durus 3.8
and later, or DFS20 before). Each record is Durus's pair of pickles, the
class and then the state (zlib-compressed, or not), read as Durus reads
them: with one Python 3 unpickler, so the state pickle can refer to what
the class pickle memoized, and with encoding='bytes', so a Python 2 `str`
arrives as bytes and nothing is guessed while unpickling. Durus's
persistent references, (oid, class), become placeholders that are
resolved once every record reachable from the root is read.

Classes. A pickled class path is looked up in qpd.ops.port's table
(map_class, the one `qpd port` rewrites imports with): qp.pub.user.User
is qpd.storage.user.User, qp.sites.NAME.model.Thing is
qpd.sites.NAME.model.Thing, imported from the qpd home's sites/ (port the
site there first). Durus's (and qpd's) own persistent classes keep their
paths; from the standard library only data types load (set, frozenset, datetime's,
Decimal, OrderedDict, deque, copyreg's reconstructor). Anything else is
refused, naming the class: unpickling a class path calls it.

Text. Every bytes value is decoded with --encoding (UTF-8 by default)
unless the attribute's spec in the target class asks for bytes (`bytes`,
`either(None, bytes)`, `[bytes]`, `mapping({str: bytes})`, ...: the spec
is followed into sequences, mappings and positional tuples). What does not
decode stops the migration with one line naming the oid, the class (as
SRC names it) and the attribute, before DEST is written.

Layouts. Objects are copied with their attributes, then QP's layouts
become qpd's, by the qpd class an object is (a site's subclass too):
- Digester: QP kept `digests`, realm -> MD5 of id:realm:password. That is
  an unsalted fast hash, and qpd does not take it as a password: it is
  kept as `qp_digests` (never consulted by sign-in; Digester.
  needs_new_password() is true) and the user has no password until one
  is set (`user.set_password(...)`, e.g. in `qpd shell`). The report
  lists those users. An operator who accepts the risk can still load a
  digest as a password record: `d.set_digest(realm, d.qp_digests[realm])`.
- Permissions: QP's PersistentDict of PersistentSets becomes `grants`,
  permission -> set of granters (True and users kept as they are; the
  root, QP's default granter, becomes the string 'root', since a Python 3
  PersistentDict cannot be in a set).
- TokenSet: QP's tokens are newest first, qpd's oldest first; max_size 16.
- Session: QP's (owner, effective_user, authentication_time as a naive
  datetime, remote_address) becomes qpd's. Sessions are *dropped*: the
  root's `sessions` mapping is left empty. Its keys are QP's cookie
  values, which qpd's publisher never reads (a qpd session id is 128
  random bits in qpd's own cookie), and every migrated user must set a
  new password and sign in again anyway.
- Keep: QP's `key_counter` is qpd's `counter`; `count` and `key_spec`
  (int) are added; a PersistentDict mapping becomes a BTree. Stamped:
  QP's naive UTC stamp becomes an aware UTC datetime.
- BTree: rebuilt, since decoded keys may sort differently than bytes did.

Only what is reachable from the root is read and written (a copy is a
pack: the classes of garbage need not import); the rest is counted. It is
written with new oids, in one transaction, to a temporary 0600 file beside
DEST, synced, then linked to DEST (an existing DEST is refused unless
--force, then replaced atomically). The report counts the objects written
per class, the sessions dropped, what was left behind, and names the
users who must set a new password. The whole database is held in memory
while it is converted.
"""

import collections
import datetime
import decimal
import importlib
import logging
import os
import pickle
import pickletools
import secrets
import struct
import time
from collections import Counter

from durus.serialize import unpack_record

from qpd.lib.private_dir import create_private_file
from qpd.ops.errors import OperationError, UsageError

__all__ = ['migrate', 'MigrationError', 'MigrationReport']

ROOT_OID = b'\0' * 8
ROOT_GRANTER = 'root'    # the root, as a granter (see _Decoder.hashable)
_INT8 = struct.Struct('>Q')


class MigrationError(OperationError):
    """A record of SRC that cannot become a qpd object: one line."""


def _oid_number(oid):
    return _INT8.unpack(oid)[0]


# Classes -------------------------------------------------------------------

def _decimal(value='0', *rest):
    """Python 2 pickled a Decimal as Decimal(str): the str came as bytes."""
    if isinstance(value, bytes):
        value = value.decode('ascii')
    return decimal.Decimal(value, *rest)


def _standard():
    import copyreg
    table = {('copy_reg', '_reconstructor'): copyreg._reconstructor,
             ('copyreg', '_reconstructor'): copyreg._reconstructor,
             ('decimal', 'Decimal'): _decimal,
             ('collections', 'OrderedDict'): collections.OrderedDict,
             ('collections', 'deque'): collections.deque}
    for name in ('set', 'frozenset', 'object', 'complex', 'bytearray',
                 'list', 'dict', 'tuple', 'int', 'float', 'bool', 'slice'):
        value = getattr(__import__('builtins'), name)
        table[('__builtin__', name)] = table[('builtins', name)] = value
    # Python 2's text and number types, as a spec or a Keep's value_spec
    for name, value in (('unicode', str), ('basestring', str),
                        ('str', str), ('long', int)):
        table[('__builtin__', name)] = value
    for name in ('datetime', 'date', 'time', 'timedelta'):
        table[('datetime', name)] = getattr(datetime, name)
    return table


_STANDARD = _standard()
_found = {}


def find_class(module, name):
    """(module:str, name:str) -> the class (or data constructor) that the
    pickled path module.name stands for in qpd; MigrationError for one
    qpd has no counterpart for, or that migrate does not load."""
    key = (module, name)
    if key not in _found:
        _found[key] = _find_class(module, name)
    return _found[key]


def _find_class(module, name):
    from qpd.ops.port import map_class
    if (module, name) in _STANDARD:
        return _STANDARD[(module, name)]
    top = module.split('.')[0]
    if top in ('qp', 'qpy'):
        target = map_class(module, name)
        if target is None:
            raise MigrationError(
                'class %s.%s: qpd has no counterpart for it (see docs/'
                'qp_api.md); a site class must live in qp.sites.NAME'
                % (module, name))
    elif top in ('durus', 'qpd'):
        target = (module, name)     # persistent classes only (below)
    else:
        raise MigrationError(
            'class %s.%s: migrate loads only the classes of QP (mapped as '
            'qpd port maps them), of Durus, of the site packages '
            '(qp.sites.NAME) and standard data types; loading another '
            'could run any code' % (module, name))
    target_module, target_name = target
    try:
        value = getattr(importlib.import_module(target_module), target_name)
    except ImportError as error:
        fix = ('copy the QP site into HOME/sites/%s and run "qpd port" on '
               'it (and give --home HOME)' % target_module.split('.')[2]
               if target_module.startswith('qpd.sites.') else 'qpd lacks it')
        raise MigrationError('class %s.%s: %s does not import (%s): %s' % (
            module, name, target_module, error, fix))
    except AttributeError:
        raise MigrationError('class %s.%s: %s has no %s (was the site '
                             'ported?)' % (module, name, target_module,
                                           target_name))
    if not isinstance(value, type):
        raise MigrationError('%s.%s is not a class; migrate loads classes '
                             'only' % (module, name))
    if top in ('durus', 'qpd') and not module.startswith('qpd.sites.'):
        from durus.persistent import PersistentBase
        if not issubclass(value, PersistentBase):
            raise MigrationError(
                'class %s.%s: of Durus\'s and qpd\'s own classes, migrate '
                'loads persistent ones only' % (module, name))
    return value


class _Ref:
    """A persistent reference, until every record is read."""

    __slots__ = ('oid',)

    def __init__(self, oid):
        self.oid = oid


class _Reader(pickle.Unpickler):

    def __init__(self, stream):
        super().__init__(stream, encoding='bytes')
        self.first_class = None

    def find_class(self, module, name):
        if self.first_class is None:
            self.first_class = '%s.%s' % (module, name)
        return find_class(module, name)

    def persistent_load(self, pid):
        oid = pid[0] if isinstance(pid, tuple) else pid
        if not (isinstance(oid, bytes) and len(oid) == 8):
            raise pickle.UnpicklingError('a persistent reference that is '
                                         'not a Durus oid: %r' % (pid,))
        return _Ref(oid)


def read_record(data):
    """(data:bytes) -> (klass:type, state, class_path:str)
    A record's class and state pickles (qpd.storage.check.load_record);
    class_path is the class as SRC names it."""
    from qpd.storage.check import load_record
    readers = []

    def make_reader(stream):
        readers.append(_Reader(stream))
        return readers[0]
    klass, state = load_record(data, make_reader)
    return klass, state, readers[0].first_class


def open_source(path):
    """(path:str) -> a read-only Durus storage of the file at path"""
    from durus.file import File
    from durus.file_storage import FileStorage
    from durus.file_storage2 import FileStorage2
    from durus.shelf import Shelf
    if not os.path.isfile(path):
        raise UsageError('SRC %s: no such file; give the Durus file the QP '
                         'site used (its durus_file)' % path)
    probe = File(path, readonly=True)
    try:
        if FileStorage2.has_format(probe):
            kind = FileStorage2
        elif Shelf.has_format(probe):
            kind = FileStorage
        else:
            raise UsageError('SRC %s is not a Durus FileStorage file '
                             '(neither the shelf format nor DFS20); give '
                             'the Durus file the QP site used' % path)
    finally:
        probe.close()
    return kind(path, readonly=True)


# Text ----------------------------------------------------------------------

_TEXT = 'text'
_BYTES = 'bytes'


def _plan(pattern):
    """(pattern) -> how bytes inside a value of that spec become values:
    _TEXT, _BYTES, ('seq', plan), ('map', key plan, value plan) or
    ('tuple', [plan, ...])."""
    from qpd.lib import spec as specs
    if isinstance(pattern, specs.Spec):
        return _plan(pattern.pattern)
    if pattern in (bytes, bytearray):
        return _BYTES
    if isinstance(pattern, type) or pattern is None:
        return _TEXT
    if isinstance(pattern, specs.either) or (
            isinstance(pattern, tuple) and specs._is_disjunction(pattern)):
        alternatives = (pattern.patterns if isinstance(pattern, specs.either)
                        else pattern)
        plans = [_plan(p) for p in alternatives]
        if _BYTES in plans and str not in alternatives and \
                specs.string not in alternatives:
            return _BYTES
        structured = [p for p in plans if isinstance(p, tuple)]
        return structured[0] if structured else _TEXT
    if isinstance(pattern, specs.both):
        plans = [_plan(p) for p in pattern.patterns]
        others = [p for p in plans if p != _TEXT]
        return others[0] if others else _TEXT
    if isinstance(pattern, specs.sequence):
        return ('seq', _plan(pattern.element))
    if isinstance(pattern, list) and pattern:
        return ('seq', _plan(pattern[0] if len(pattern) == 1
                             else specs.either(*pattern)))
    if isinstance(pattern, specs.mapping) and pattern.items:
        key, value = pattern.items[0]
        return ('map', _plan(key), _plan(value))
    if isinstance(pattern, dict) and pattern:
        key, value = next(iter(pattern.items()))
        return ('map', _plan(key), _plan(value))
    if isinstance(pattern, tuple):
        return ('tuple', [_plan(p) for p in pattern])
    return _TEXT


def _element_plan(plan):
    return plan[1] if isinstance(plan, tuple) and plan[0] == 'seq' else plan


def _map_plans(plan):
    if isinstance(plan, tuple) and plan[0] == 'map':
        return plan[1], plan[2]
    plan = _element_plan(plan)
    return plan, plan


class _Decoder:
    """Turns a state as unpickled into the value qpd wants: bytes decoded
    (or kept, by plan), persistent references resolved, instances'
    attribute names made text."""

    def __init__(self, encoding, objects):
        self.encoding = encoding
        self.objects = objects
        self.record = None      # 'oid N, class C': the record being read
        self.attributes = []    # the attribute path within it

    @property
    def where(self):
        """-> str: 'oid N, class C, attribute a.b', for errors"""
        if not self.attributes:
            return self.record
        return '%s, attribute %s' % (self.record, '.'.join(self.attributes))

    def attribute_name(self, name):
        if isinstance(name, bytes):
            try:
                return name.decode('ascii')
            except UnicodeDecodeError:
                raise MigrationError('%s: an attribute name that is not '
                                     'ASCII: %r' % (self.where, name))
        return name

    def text(self, value):
        try:
            return value.decode(self.encoding)
        except UnicodeDecodeError as error:
            raise MigrationError(
                '%s: %r does not decode as %s (%s at byte %d): give the '
                "encoding it was written in (--encoding latin-1), or, for "
                'binary data, declare the attribute bytes in its class '
                '(NAME_is = bytes)' % (self.where, value[:40], self.encoding,
                                       error.reason, error.start))

    def convert(self, value, plan=_TEXT, memo=None):
        from durus.persistent import PersistentBase
        if memo is None:
            memo = {}
        if isinstance(value, bytes):
            return value if plan == _BYTES else self.text(value)
        if isinstance(value, _Ref):
            found = self.objects.get(value.oid)
            if found is None:
                raise MigrationError(
                    '%s: refers to oid %d, which has no record in SRC (a '
                    'dangling reference: SRC is damaged; migrate a backup '
                    'of it)' % (self.where, _oid_number(value.oid)))
            return found
        if value is None or isinstance(value, (str, int, float, complex,
                                               type, PersistentBase,
                                               datetime.date,
                                               datetime.time,
                                               datetime.timedelta,
                                               decimal.Decimal)):
            return value
        if id(value) in memo:
            return memo[id(value)]
        if isinstance(value, tuple):
            if (isinstance(plan, tuple) and plan[0] == 'tuple'
                    and len(plan[1]) == len(value)):
                plans = plan[1]
            else:
                plans = [_element_plan(plan)] * len(value)
            result = tuple(self.convert(item, item_plan, memo)
                           for item, item_plan in zip(value, plans))
        elif isinstance(value, frozenset):
            result = frozenset(self.hashable(self.convert(
                item, _element_plan(plan), memo)) for item in value)
        elif isinstance(value, (list, set, collections.deque, dict)):
            result = _empty_copy(value)
            memo[id(value)] = result
            if isinstance(value, dict):
                key_plan, value_plan = _map_plans(plan)
                for key, item in value.items():
                    result[self.convert(key, key_plan, memo)] = \
                        self.convert(item, value_plan, memo)
            else:
                items = [self.convert(item, _element_plan(plan), memo)
                         for item in value]
                if isinstance(value, set):
                    result.update(self.hashable(item) for item in items)
                else:
                    result.extend(items)
        elif hasattr(value, '__dict__'):
            # A plain instance, pickled inside the record (NEWOBJ, BUILD).
            memo[id(value)] = value
            self.fill(value, list(vars(value).items()), memo)
            result = value
        else:
            result = value
        memo[id(value)] = result
        return result

    def hashable(self, item):
        """The root stands for itself in a set (QP granted permissions by
        the root), but a Python 3 PersistentDict is unhashable: there it
        becomes ROOT_GRANTER."""
        if item is self.objects.get(ROOT_OID):
            return ROOT_GRANTER
        try:
            hash(item)
        except TypeError:
            raise MigrationError('%s: a set holds a %s, which Python 3 '
                                 'cannot hash; keep it in a list instead'
                                 % (self.where, type(item).__name__))
        return item

    def fill(self, obj, items, memo=None):
        """(obj, items:[(name, value)]) -> {name: value} decoded per obj's
        class specs, also set in obj's __dict__ when obj is no
        Persistent (a Persistent's caller sets its state)."""
        from durus.persistent import PersistentBase
        from qpd.lib.spec import get_spec
        fields = {}
        klass = type(obj)
        for name, value in items:
            name = self.attribute_name(name)
            self.attributes.append(name)
            fields[name] = self.convert(value, _plan(get_spec(klass, name)),
                                        memo)
            self.attributes.pop()
        if not isinstance(obj, PersistentBase):
            vars(obj).clear()
            vars(obj).update(fields)
        return fields


def _empty_copy(value):
    if type(value) in (list, set, dict):
        return type(value)()
    import copy
    result = copy.copy(value)
    result.clear()
    return result


# Layouts -------------------------------------------------------------------

class _Context:
    """What a layout conversion may need: the time of the migration."""

    def __init__(self):
        self.now = time.time()


def _digester(obj, context):
    state = vars(obj)
    digests = state.pop('digests', None)
    if 'records' not in state:
        state['records'] = {}
        state['http_digests'] = {}
    if digests:
        state['qp_digests'] = dict(digests)


def _permissions(obj, context):
    state = vars(obj)
    if 'grants' in state:
        return
    data = state.pop('data', None) or {}
    grants = {}
    for permission, granters in data.items():
        grants[permission] = set(granters)
    state['grants'] = grants


def _token_set(obj, context):
    state = vars(obj)
    if 'max_size' not in state:
        state['tokens'] = list(reversed(state.get('tokens') or []))
        state['max_size'] = 16


def _epoch(value):
    if isinstance(value, datetime.datetime):
        if value.utcoffset() is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    return value


def _session(obj, context):
    from qpd.storage.session import new_session_id
    state = vars(obj)
    if 'id' in state:
        return
    owner = state.get('owner') or None
    effective = state.get('effective_user') or None
    when = state.get('authentication_time')
    address = state.get('remote_address') or ''
    signed_in = effective is not None and when is not None
    state.clear()
    state.update(
        id=new_session_id(), owner=owner,
        authenticated_user=effective if signed_in else None,
        remote_address=address, start_time=context.now,
        access_time=context.now, tokens=None, effective_user=None,
        authentication_time=_epoch(when) if signed_in else None,
        authentication_address=address if signed_in else None)


def _keep(obj, context):
    from durus.btree import BTree
    state = vars(obj)
    if 'key_counter' in state:
        state['counter'] = state.pop('key_counter')
    mapping = state.get('mapping')
    if mapping is not None and not isinstance(mapping, BTree):
        tree = BTree()
        for key, value in mapping.items():
            tree[key] = value
        state['mapping'] = mapping = tree
    if 'count' not in state and mapping is not None:
        state['count'] = len(mapping)
    state.setdefault('key_spec', int)


def _stamped(obj, context):
    from qpd.lib.tz import UTC
    stamp = vars(obj).get('stamp')
    if isinstance(stamp, datetime.datetime) and stamp.utcoffset() is None:
        vars(obj)['stamp'] = stamp.replace(tzinfo=UTC)     # as Stamped does


def _btree(obj, context):
    items = list(obj.items())
    try:
        items.sort(key=lambda item: item[0])
    except TypeError:
        raise MigrationError(
            'a BTree holds keys that do not compare (%s): its keys were '
            'decoded unevenly; declare them in a spec' % ', '.join(sorted(
                {type(key).__name__ for key, value in items})))
    node_class = type(obj.root)
    obj.__init__(node_constructor=node_class)
    for key, value in items:
        obj[key] = value


def _layouts():
    from durus.btree import BTree
    from qpd.storage.digester import Digester
    from qpd.storage.keep import Keep, Stamped
    from qpd.storage.permissions import Permissions
    from qpd.storage.session import Session
    from qpd.storage.token_set import TokenSet
    return [(Digester, _digester), (Permissions, _permissions),
            (TokenSet, _token_set), (Session, _session), (Keep, _keep),
            (Stamped, _stamped), (BTree, _btree)]


# The report ----------------------------------------------------------------

class MigrationReport:
    """What migrate() did: objects read and written per class, sessions
    dropped, users who must set a new password."""

    def __init__(self, src, dest):
        self.src = src
        self.dest = dest
        self.read = Counter()        # (qpd class path, SRC's path) -> count
        self.written = Counter()     # qpd class path -> count
        self.sessions_dropped = 0
        self.unreachable = 0         # records of SRC not reachable
        self.must_set_password = []  # user ids

    def get_rows(self):
        """() -> [(read:int, written:int, class path, SRC's paths)], by
        class path: each class of DEST and each class read from SRC."""
        read = Counter()
        names = collections.defaultdict(set)
        for (target, source), count in self.read.items():
            read[target] += count
            if source != target:
                names[target].add(source)
        return [(read[name], self.written[name], name, sorted(names[name]))
                for name in sorted(set(read) | set(self.written))]

    def get_lines(self):
        """() -> [str]: the report, one line each"""
        lines = ['migrated %s to %s: %d objects read, %d written' % (
            self.src, self.dest, sum(self.read.values()),
            sum(self.written.values())),
            '  %6s %7s  class (in SRC, when it differs)' % ('read',
                                                           'written')]
        for read, written, name, sources in self.get_rows():
            lines.append('  %6d %7d  %s%s' % (
                read, written, name,
                ' (%s)' % ', '.join(sources) if sources else ''))
        lines.append('  sessions dropped: %d (QP sign-ins do not carry '
                     'over: see "A QP site\'s database" in the README)'
                     % self.sessions_dropped)
        if self.unreachable:
            lines.append('  not reachable from the root, left behind: %d '
                         '(as a pack drops them)' % self.unreachable)
        users = self.must_set_password
        if users:
            shown = ', '.join(users[:10]) + (
                ', ...' if len(users) > 10 else '')
            lines.append('  users who must set a new password: %d (%s): '
                         'their QP MD5 record is kept as qp_digests, never '
                         'accepted' % (len(users), shown))
        return lines


def _class_path(klass):
    return '%s.%s' % (klass.__module__, klass.__qualname__)


def _count_written(path):
    from durus.file_storage import FileStorage
    counts = Counter()
    storage = FileStorage(path, readonly=True)
    try:
        for oid, record in storage.gen_oid_record():
            data = unpack_record(record)[1]
            for opcode, argument, position in pickletools.genops(data):
                if opcode.name == 'GLOBAL':
                    counts[argument.replace(' ', '.')] += 1
                    break
                if opcode.name == 'STACK_GLOBAL':
                    counts['?'] += 1
                    break
    finally:
        storage.close()
    return counts


# The migration -------------------------------------------------------------

def migrate(src, dest, encoding='utf-8', force=False, home=None):
    """(src:str, dest:str, encoding:str='utf-8', force:bool=False,
        home:str=None) -> MigrationReport
    Write DEST from SRC (see the module docstring). home: the qpd home
    whose sites/ holds the ported site packages."""
    from qpd.site import _install_sites_path, get_home
    try:
        ''.encode(encoding)
    except LookupError:
        raise UsageError('--encoding %s: no such encoding; give one such as '
                         'utf-8, latin-1 or cp1252' % encoding)
    dest_path = os.path.abspath(dest)
    if os.path.exists(src) and os.path.exists(dest_path) and \
            os.path.samefile(src, dest_path):
        raise UsageError('DEST is SRC (%s): give a new file for DEST; SRC '
                         'is never changed' % src)
    if os.path.isdir(dest_path):
        raise UsageError('DEST %s is a directory: give the new file\'s '
                         'path (e.g. %s)' % (dest, os.path.join(
                             dest, os.path.basename(src))))
    if not os.path.isdir(os.path.dirname(dest_path)):
        raise UsageError('DEST %s: no directory %s; create it first' % (
            dest, os.path.dirname(dest_path)))
    if os.path.lexists(dest_path) and not force:
        raise UsageError('DEST %s exists; give --force to replace it' % dest)
    if os.path.lexists(dest_path):
        _refuse_a_live_database(dest_path, get_home(home))
    _install_sites_path(get_home(home))
    report = MigrationReport(src, dest)
    durus_logger = logging.getLogger('durus')
    level = durus_logger.level
    durus_logger.setLevel(logging.WARNING)   # not a line per transaction
    try:
        _migrate(src, dest_path, encoding, force, report)
    finally:
        durus_logger.setLevel(level)
    return report


def _refuse_a_live_database(dest_path, home):
    """UsageError when dest_path is the database of a site of home whose
    StorageServer runs: replacing it under the server loses both."""
    from qpd.ops.backup import is_storage_running
    from qpd.site import Site, list_site_names
    for name in list_site_names(home):
        site = Site(name, home)
        try:
            durus_file = site.get_durus_file()
        except Exception:
            continue        # a site whose configuration does not load
        if (os.path.abspath(durus_file) == dest_path
                and is_storage_running(site)):
            raise UsageError('DEST %s is the database of site %s, and it '
                             'runs: stop it first (qpd stop %s)' % (
                                 dest_path, name, name))


def _refs(value, found, seen):
    """Add to found the oids of the persistent references in value."""
    if isinstance(value, _Ref):
        found.add(value.oid)
    elif isinstance(value, (bytes, str, int, float, type(None))):
        return
    elif id(value) in seen:
        return
    else:
        seen.add(id(value))
        if isinstance(value, dict):
            for key, item in value.items():
                _refs(key, found, seen)
                _refs(item, found, seen)
        elif isinstance(value, (list, tuple, set, frozenset,
                                collections.deque)):
            for item in value:
                _refs(item, found, seen)
        elif hasattr(value, '__dict__') and not isinstance(value, type):
            _refs(vars(value), found, seen)


def _read_reachable(src):
    """(src:str) -> ({oid: (klass, state, class path)}, unreachable:int)
    Every record reachable from the root, read (read_record); what is not
    reachable is only counted (a pack would drop it): its classes need
    not import. A reference to a missing record is left for the decoder
    to name."""
    from durus.serialize import split_oids
    source = open_source(src)
    raw = {}
    try:
        todo = [ROOT_OID]
        seen = {ROOT_OID}
        while todo:
            oid = todo.pop()
            try:
                record = source.load(oid)
            except KeyError:
                if oid == ROOT_OID:
                    raise MigrationError('SRC %s has no root object (oid '
                                         '0): nothing to migrate' % src)
                continue
            record_oid, data, refs = unpack_record(record)
            try:
                raw[oid] = read_record(data)
            except MigrationError as error:
                raise MigrationError('oid %d: %s' % (_oid_number(oid),
                                                     error))
            except Exception as error:
                raise MigrationError('oid %d: its record does not unpickle '
                                     '(%s: %s)' % (_oid_number(oid),
                                                   type(error).__name__,
                                                   error))
            found = set(split_oids(refs))
            _refs(raw[oid][1], found, set())
            for ref in sorted(found - seen, reverse=True):
                seen.add(ref)
                todo.append(ref)
        total = sum(1 for item in source.gen_oid_record())
    finally:
        source.close()
    return raw, total - len(raw)


def _migrate(src, dest_path, encoding, force, report):
    from durus.connection import Connection
    from durus.file_storage import FileStorage
    from durus.persistent import PersistentBase
    from qpd.storage.digester import Digester
    from durus.btree import BTree
    from qpd.storage.user import User

    raw, unreachable = _read_reachable(src)
    report.unreachable = unreachable
    for klass, state, path in raw.values():
        report.read[(_class_path(klass), path)] += 1

    directory = os.path.dirname(dest_path)
    partial = os.path.join(directory, '.%s.%s.partial' % (
        os.path.basename(dest_path), secrets.token_hex(8)))
    # Made new, 0600, never through a link; Durus writes its header into
    # the empty file.
    create_private_file(partial).close()
    storage = None
    try:
        root_class = raw[ROOT_OID][0]
        storage = FileStorage(partial)
        connection = Connection(storage, root_class=root_class)
        objects = {}
        for oid, (klass, state, path) in raw.items():
            if oid == ROOT_OID:
                objects[oid] = connection.get_root()
            elif issubclass(klass, PersistentBase):
                objects[oid] = klass.__new__(klass)
            else:
                raise MigrationError('oid %d: class %s is not persistent' % (
                    _oid_number(oid), path))
        decoder = _Decoder(encoding, objects)
        for oid, (klass, state, path) in raw.items():
            obj = objects[oid]
            decoder.record = 'oid %d, class %s' % (_oid_number(oid), path)
            if isinstance(state, dict):
                fields = decoder.fill(obj, list(state.items()))
            else:
                fields = decoder.convert(state)
            obj.__setstate__(fields)
        context = _Context()
        layouts = _layouts()
        for oid, obj in objects.items():
            for base, convert in layouts:
                if isinstance(obj, base):
                    try:
                        convert(obj, context)
                    except MigrationError as error:
                        raise MigrationError('oid %d, class %s: %s' % (
                            _oid_number(oid), raw[oid][2], error))
        root = connection.get_root()
        sessions = root.get('sessions')
        if isinstance(sessions, BTree):
            report.sessions_dropped = len(sessions)
            sessions.__init__(node_constructor=type(sessions.root))
        for obj in objects.values():
            if isinstance(obj, User) and isinstance(
                    getattr(obj, 'digester', None), Digester):
                if obj.digester.needs_new_password():
                    report.must_set_password.append(obj.id)
        report.must_set_password.sort()
        root._p_note_change()
        connection.commit()
        storage.close()
        storage = None
        with open(partial, 'rb') as f:
            os.fsync(f.fileno())
        report.written = _count_written(partial)
        if force:
            os.replace(partial, dest_path)
        else:
            try:
                os.link(partial, dest_path)
            except FileExistsError:
                raise UsageError('DEST %s exists; give --force to replace '
                                 'it' % dest_path)
            os.unlink(partial)
        from qpd.storage.durable import sync_directory
        sync_directory(directory)
    finally:
        if storage is not None:
            storage.close()
        if os.path.exists(partial):
            os.unlink(partial)
