"""A Durus file as QP 1.1 on Python 2 would have left it, for `qpd migrate`.

    build_database(path, site='qpshop')          # returns a Fixture

Every record is written with tests/qp_data/py2pickle.py (what Python 2's
cPickle emits at protocol 2, in Durus's record layout), and the records go
into the file with Durus's own FileStorage writer: the shelf format of
Durus 3.8 and later, or with format='dfs20' the older DFS20 format
(durus.file_storage2).

What it holds, as QP made it (qp/pub/publish.py, user.py, session.py,
lib/keep.py):
- the root, a PersistentDict: 'users' and 'sessions' (BTrees), and the
  site's own 'products' (a Keep of Products), 'categories' and 'notes';
- users '' (the null user), 'admin' (granted 'administrator' by True and
  by the root), 'ann', and 'josé' (a UTF-8 str id): each with a Digester
  whose `digests` hold QP's MD5 of id:realm:password for the realm QP
  used (the site's name), a Permissions (a PersistentDict of
  PersistentSets) and a TokenSet (newest token first);
- two sessions keyed by QP's cookie values, one signed in (a datetime);
- the site's persistent classes (qp.sites.SITE.model): two Products in a
  Keep (Keyed and Stamped, a BINUNICODE name and a UTF-8 str one, longs,
  a 64-bit int, bytes for a picture, a plain Size instance, a 300-entry
  log), a tree of Categories (a class referring to its own class: the
  state pickle memo-gets the class pickle's GLOBAL), a Note whose text is
  UTF-8, or not (bad_text=True: Latin-1 bytes that do not decode), with a
  classic-class instance (OBJ) and a huge long (LONG4);
- a record no object refers to, of a class the site no longer has.
"""

import datetime
import hashlib
import logging
import struct

from py2pickle import (
    Global, Long, NewObj, OldObj, Reduce, Ref, durus_record)

__all__ = ['build_database', 'Fixture', 'PASSWORDS']

PASSWORDS = {'admin': 'admin secret', 'ann': 'ann secret',
             'jos\xe9': 'jos\xe9 secret'}

PERSISTENT_DICT = Global('durus.persistent_dict', 'PersistentDict')
PERSISTENT_SET = Global('durus.persistent_set', 'PersistentSet')
BTREE = Global('durus.btree', 'BTree')
BNODE = Global('durus.btree', 'BNode16')
USER = Global('qp.pub.user', 'User')
DIGESTER = Global('qp.pub.user', 'Digester')
PERMISSIONS = Global('qp.pub.user', 'Permissions')
TOKEN_SET = Global('qp.pub.user', 'TokenSet')
SESSION = Global('qp.pub.session', 'Session')
COUNTER = Global('qp.lib.keep', 'Counter')
SET = Global('__builtin__', 'set')
DATETIME = Global('datetime', 'datetime')


def _datetime(value):
    """A Python 2 datetime's pickle: datetime's 10-byte str state."""
    state = struct.pack('>HBBBBB', value.year, value.month, value.day,
                        value.hour, value.minute, value.second)
    state += value.microsecond.to_bytes(3, 'big')
    return Reduce(DATETIME, (state,))


class Fixture:
    """What build_database wrote: path, records {oid: (class path, state)}
    and the counts a migration should report."""

    def __init__(self, path):
        self.path = path
        self.records = {}

    def add(self, oid, cls, state):
        self.records[oid] = (cls, state)
        return Ref(oid, cls)

    def count(self, module, name):
        """-> int: records of the class module.name"""
        return sum(1 for cls, state in self.records.values()
                   if (cls.module, cls.name) == (module, name))


def _btree(fixture, oids, items):
    """A Durus BTree of one leaf node (oids: the tree's and the node's)."""
    tree_oid, node_oid = oids
    node = fixture.add(node_oid, BNODE, {b'items': items, b'nodes': None})
    return fixture.add(tree_oid, BTREE, {b'root': node})


def build_database(path, site='qpshop', format='shelf', bad_text=False):
    """(path:str, site:str='qpshop', format:str='shelf', bad_text=False)
        -> Fixture"""
    model = 'qp.sites.%s.model' % site
    product_class = Global(model, 'Product')
    products_class = Global(model, 'Products')
    category_class = Global(model, 'Category')
    note_class = Global(model, 'Note')
    size_class = Global(model, 'Size')
    realm = site.encode('ascii')
    fixture = Fixture(path)
    oids = iter(range(1, 1000))
    root = Ref(0, PERSISTENT_DICT)

    def user(user_id, granted=()):
        name = user_id.encode('utf-8')
        digests = {}
        if user_id in PASSWORDS:
            digests[realm] = hashlib.md5(b'%s:%s:%s' % (
                name, realm, PASSWORDS[user_id].encode('utf-8'))
            ).hexdigest().encode('ascii')
        digester = fixture.add(next(oids), DIGESTER, {b'digests': digests})
        data = {}
        for permission, granters in granted:
            data[permission] = fixture.add(next(oids), PERSISTENT_SET, {
                b's': Reduce(SET, (list(granters),))})
        permissions = fixture.add(next(oids), PERMISSIONS, {b'data': data})
        tokens = fixture.add(next(oids), TOKEN_SET, {
            b'tokens': [b'%s-newest' % name, b'%s-oldest' % name]
            if user_id else []})
        return fixture.add(next(oids), USER, {
            b'id': name, b'digester': digester, b'permissions': permissions,
            b'tokens': tokens})

    null_user = user('')
    admin = user('admin', [(b'administrator', [True, root])])
    ann = user('ann', [(b'edit', [root])])
    jose = user('jos\xe9')
    users = _btree(fixture, (next(oids), next(oids)), sorted([
        (b'', null_user), (b'admin', admin), (b'ann', ann),
        ('jos\xe9'.encode('utf-8'), jose)], key=lambda item: item[0]))

    signed_in = fixture.add(next(oids), SESSION, {
        b'remote_address': b'127.0.0.1',
        b'authentication_time': _datetime(datetime.datetime(
            2006, 3, 1, 12, 30, 15, 250)),
        b'owner': ann, b'effective_user': ann})
    signed_out = fixture.add(next(oids), SESSION, {
        b'remote_address': b'10.0.0.7', b'authentication_time': None,
        b'owner': admin, b'effective_user': null_user})
    sessions = _btree(fixture, (next(oids), next(oids)), [
        (b'0f1e2d3c4b5a69788796a5b4c3d2e1f0', signed_in),
        (b'a5b4c3d2e1f00f1e2d3c4b5a69788796', signed_out)])

    widget_oid, green_oid = next(oids), next(oids)
    widget_ref = Ref(widget_oid, product_class)
    green_ref = Ref(green_oid, product_class)
    log = [b'entry %d' % i for i in range(300)]
    log.append(log[280])        # a LONG_BINGET: memo index past 255
    fixture.add(widget_oid, product_class, {
        b'key': 1,
        b'stamp': _datetime(datetime.datetime(2005, 11, 2, 9, 0, 0)),
        b'name': 'Widget \xfc',                         # a unicode
        b'price': Long(1999),
        b'stock': 2 ** 40,                              # INT (64-bit int)
        b'weight': 0.25,
        b'picture': b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe',
        b'tags': [b'blue', b'small'],
        b'size': NewObj(size_class, {b'width': 3, b'height': 1000,
                                     b'unit': b'cm'}),
        b'history': (1, -2, 100000, 4),
        b'description': b'long ' * 60,                  # BINSTRING
        b'log': log,
        b'related': green_ref,
    })
    fixture.add(green_oid, product_class, {
        b'key': 2,
        b'stamp': _datetime(datetime.datetime(2006, 1, 15, 17, 45, 3)),
        b'name': 'Gr\xfcn'.encode('utf-8'),             # a UTF-8 str
        b'price': Long(-(2 ** 70)),
        b'stock': 0,
        b'weight': 1.5,
        b'picture': None,
        b'tags': [b'green'],
        b'size': NewObj(size_class, {b'width': 7, b'height': 2,
                                     b'unit': b'in'}),
        b'history': (),
        b'description': b'',
        b'log': [],
        b'related': widget_ref,
    })
    counter = fixture.add(next(oids), COUNTER, {b'next_available': 3})
    mapping = _btree(fixture, (next(oids), next(oids)), [
        (1, widget_ref), (2, green_ref)])
    products = fixture.add(next(oids), products_class, {
        b'mapping': mapping, b'key_counter': counter,
        b'value_spec': product_class})

    leaf_oid = next(oids)
    leaf = fixture.add(leaf_oid, category_class, {
        b'name': b'Small things', b'children': [],
        b'products': [widget_ref]})
    categories = fixture.add(next(oids), category_class, {
        b'name': b'All', b'children': [leaf],
        b'products': [widget_ref, green_ref]})
    notes = fixture.add(next(oids), note_class, {
        b'text': b'caf\xe9' if bad_text else 'caf\xe9'.encode('utf-8'),
        b'colours': {b'rgb': (255, 0, 128)}, b'archived': False,
        b'serial': Long(2 ** 2100 + 1),                 # LONG4
        b'origin': OldObj(Global(model, 'Place'), {
            b'city': 'Z\xfcrich'.encode('utf-8')})})

    # Garbage a pack would drop: no object refers to it, and its class is
    # gone from the site.
    fixture.add(next(oids), Global('qp.sites.%s.gone' % site, 'Old'),
                {b'what': b'nobody refers to this'})
    fixture.unreachable = 1

    fixture.add(0, PERSISTENT_DICT, {b'data': {
        b'users': users, b'sessions': sessions, b'products': products,
        b'categories': categories, b'notes': notes}})
    fixture.note_oid = notes.oid
    _write(path, fixture, format)
    return fixture


def _write(path, fixture, format):
    if format == 'dfs20':
        from durus.file_storage2 import FileStorage2 as Storage
    else:
        from durus.file_storage import FileStorage as Storage
    logging.getLogger('durus').setLevel(logging.WARNING)
    storage = Storage(path)
    count = max(fixture.records) + 1
    for expected in range(count):
        assert storage.new_oid() == struct.pack('>Q', expected)
    storage.begin()
    for oid, (cls, state) in sorted(fixture.records.items()):
        # Every other record's state uncompressed: Durus reads both.
        storage.store(struct.pack('>Q', oid), durus_record(
            oid, cls, state, compress=oid % 2 == 0))
    storage.end()
    storage.close()
