"""`qpd migrate SRC DEST` on a Durus file as QP 1.1 on Python 2 left it.

The fixture database (tests/qp_data/qp_database.py) is written record by
record with tests/qp_data/py2pickle.py, which emits what Python 2's
cPickle emits at protocol 2. The records of the fixture use these
opcodes (test_fixture_covers_the_opcodes checks it on the file):
PROTO, STOP, GLOBAL, BINPUT, LONG_BINPUT, BINGET, LONG_BINGET, MARK,
NONE, NEWTRUE, NEWFALSE, BININT1, BININT2, BININT, INT (a 64-bit int),
LONG1, LONG4, BINFLOAT, SHORT_BINSTRING and BINSTRING (Python 2 str),
BINUNICODE, EMPTY_TUPLE, TUPLE1, TUPLE2, TUPLE3, TUPLE, EMPTY_LIST,
APPEND, APPENDS, EMPTY_DICT, SETITEM, SETITEMS, REDUCE (set, datetime),
NEWOBJ and BUILD (a plain instance), OBJ (a classic one), BINPERSID
(Durus's references); and Durus's record layout: the class pickle then the state pickle, one memo
across both, the state zlib-compressed or not. The site whose classes it
holds is tests/qp_data/qpshop (QP 1.1 style, Python 2), ported here with
`qpd port` into a qpd home, as a porter would.

Everything runs the real thing: the `qpd` command in a subprocess, the
site's own StorageServer (`qpd durus NAME`) on the migrated file for
signing in, `qpd shell` to set the password, `qpd check` on DEST.
"""

import hashlib
import os
import pickletools
import shutil
import subprocess
import sys
import zlib

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
QP_DATA = os.path.join(HERE, 'qp_data')
sys.path.insert(0, QP_DATA)

import py2pickle  # noqa: E402  (tests/qp_data)
import qp_database  # noqa: E402
from py2pickle import OPCODES  # noqa: E402

SITE = 'qpshop'


def qpd(home, *args):
    """-> CompletedProcess of `qpd --home HOME ARGS` (text)"""
    return subprocess.run(
        [sys.executable, '-m', 'qpd', '--home', home] + list(args),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        timeout=120)


def _sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


class Shop:
    """The module's qpd home: the ported site, SRC, DEST, the report."""


@pytest.fixture(scope='module')
def shop(tmp_path_factory):
    shop = Shop()
    shop.home = str(tmp_path_factory.mktemp('migrate-home'))
    site_directory = os.path.join(shop.home, 'sites', SITE)
    shutil.copytree(os.path.join(QP_DATA, SITE), site_directory,
                    ignore=shutil.ignore_patterns('__pycache__'))
    result = qpd(shop.home, 'port', site_directory)
    assert result.returncode == 0, result.stdout + result.stderr
    shop.src = os.path.join(shop.home, 'qp.durus')
    shop.fixture = qp_database.build_database(shop.src, site=SITE)
    shop.src_hash = _sha256(shop.src)
    shop.dest = os.path.join(shop.home, 'qpd.durus')
    shop.result = qpd(shop.home, 'migrate', shop.src, shop.dest)
    return shop


@pytest.fixture(scope='module')
def dest_root(shop):
    """The migrated root, read straight from DEST (read-only)."""
    from durus.connection import Connection
    from durus.file_storage import FileStorage
    from qpd.site import Site
    Site(SITE, home=shop.home).get_package()     # qpd.sites.qpshop imports
    storage = FileStorage(shop.dest, readonly=True)
    yield Connection(storage).get_root()
    storage.close()


def test_fixture_covers_the_opcodes(shop):
    from durus.file_storage import FileStorage
    from durus.serialize import unpack_record
    seen = set()
    storage = FileStorage(shop.src, readonly=True)
    for oid, record in storage.gen_oid_record():
        data = unpack_record(record)[1]
        end = [pos for op, arg, pos in pickletools.genops(data)
               if op.name == 'STOP'][0] + 1
        first = data[:end]                      # the class pickle
        rest = data[len(first):]
        if rest[:1] == b'x':
            rest = zlib.decompress(rest)
        for pickle in (first, rest):
            seen.update(op.name for op, arg, pos in pickletools.genops(pickle))
    storage.close()
    assert seen >= set(OPCODES), set(OPCODES) - seen


def test_report_counts_per_class(shop):
    assert shop.result.returncode == 0, shop.result.stderr
    out = shop.result.stdout
    read = len(shop.fixture.records) - shop.fixture.unreachable
    # Not written: the 2 sessions and the 2 PersistentSets QP's
    # Permissions held (qpd's keep plain sets).
    assert 'migrated %s to %s: %d objects read, %d written' % (
        shop.src, shop.dest, read, read - 4) in out
    rows = {}
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3 and parts[0].isdigit():
            rows[parts[2]] = (int(parts[0]), int(parts[1]))
    model = 'qpd.sites.%s.model.' % SITE
    # class: (read, written)
    assert rows == {
        'durus.btree.BNode16': (3, 3), 'durus.btree.BTree': (3, 3),
        'durus.persistent_dict.PersistentDict': (1, 1),
        'durus.persistent_set.PersistentSet': (2, 0),
        model + 'Category': (2, 2), model + 'Note': (1, 1),
        model + 'Product': (2, 2), model + 'Products': (1, 1),
        'qpd.storage.digester.Digester': (4, 4),
        'qpd.storage.keep.Counter': (1, 1),
        'qpd.storage.permissions.Permissions': (4, 4),
        'qpd.storage.session.Session': (2, 0),
        'qpd.storage.token_set.TokenSet': (4, 4),
        'qpd.storage.user.User': (4, 4)}
    assert '  4       4  qpd.storage.user.User (qp.pub.user.User)' in out
    assert 'sessions dropped: 2' in out
    assert 'not reachable from the root, left behind: 1' in out
    assert 'users who must set a new password: 3 (admin, ann, jos\xe9)' in out
    assert os.stat(shop.dest).st_mode & 0o777 == 0o600


def test_src_is_unchanged(shop):
    assert _sha256(shop.src) == shop.src_hash


def test_qpd_check_passes_on_dest(shop):
    result = qpd(shop.home, 'check', SITE, '--file', shop.dest)
    assert result.returncode == 0, result.stdout + result.stderr
    written = len(shop.fixture.records) - shop.fixture.unreachable - 4
    assert 'clean: %d objects reachable from the root' % written in (
        result.stdout + result.stderr)
    assert '%d objects in all' % written in result.stdout + result.stderr


def test_every_object_is_reachable_and_matches_its_specs(shop, dest_root):
    from durus.persistent import PersistentBase
    from qpd.lib.spec import get_spec_problems
    seen = {}
    todo = [dest_root]
    while todo:
        obj = todo.pop()
        if obj._p_oid in seen:
            continue
        seen[obj._p_oid] = obj
        state = obj.__getstate__()
        assert not any(isinstance(key, bytes) for key in state), obj
        assert get_spec_problems(obj) == [], obj

        def walk(value):
            if isinstance(value, PersistentBase):
                todo.append(value)
            elif isinstance(value, dict):
                for key, item in value.items():
                    assert not isinstance(key, bytes), (obj, key)
                    walk(item)
            elif isinstance(value, (list, tuple, set, frozenset)):
                for item in value:
                    walk(item)
            elif isinstance(value, bytes):
                assert type(obj).__name__ == 'Product', (obj, value)
        walk(state)
    assert len(seen) == (len(shop.fixture.records) -
                         shop.fixture.unreachable - 4)


def test_users_layout(dest_root):
    users = dest_root['users']
    assert sorted(users.keys()) == ['', 'admin', 'ann', 'jos\xe9']
    null = users['']
    assert not null and not null.get_digester().needs_new_password()
    admin = users['admin']
    assert admin.is_admin()                     # 'administrator' by True
    assert admin.get_permissions().get_granters('administrator') == {
        True, 'root'}                           # QP's root granter
    assert users['ann'].is_granted('edit', 'root')
    assert not users['ann'].is_admin()
    tokens = users['ann'].get_tokens()
    assert tokens.tokens == ['ann-oldest', 'ann-newest']
    assert 'ann-newest' in tokens and tokens.get_max_size() == 16
    for name in ('admin', 'ann', 'jos\xe9'):
        digester = users[name].get_digester()
        assert digester.needs_new_password()
        assert digester.get_realms() == []      # no password record
        assert list(digester.qp_digests) == [SITE]
        assert not users[name].has_password(qp_database.PASSWORDS[name],
                                            SITE)
    # The README's way to accept an old password anyway (not saved here).
    digester = users['ann'].get_digester()
    digester.set_digest(SITE, digester.qp_digests[SITE])
    try:
        assert users['ann'].has_password(qp_database.PASSWORDS['ann'], SITE)
        assert not digester.needs_new_password()
    finally:
        dest_root._p_connection.abort()
    assert users['ann'].get_digester().needs_new_password()


def test_sessions_are_dropped(dest_root):
    from durus.btree import BTree
    sessions = dest_root['sessions']
    assert isinstance(sessions, BTree) and len(sessions) == 0


def test_the_sites_classes_load(dest_root):
    from qpd.lib.tz import UTC
    from qpd.sites.qpshop.model import Category, Note, Product, Products
    products = dest_root['products']
    assert isinstance(products, Products) and len(products) == 2
    widget, green = products.get(1), products.get(2)
    assert isinstance(widget, Product) and widget.get_key() == 1
    assert widget.name == 'Widget \xfc' and green.name == 'Gr\xfcn'
    assert widget.price == 1999 and green.price == -(2 ** 70)
    assert widget.stock == 2 ** 40 and widget.weight == 0.25
    assert widget.picture.startswith(b'\x89PNG')    # declared bytes
    assert widget.tags == ['blue', 'small'] and green.tags == ['green']
    assert widget.size.area() == 3000 and widget.size.unit == 'cm'
    assert widget.history == (1, -2, 100000, 4)
    assert widget.description == 'long ' * 60
    assert widget.log[-1] == 'entry 280' and len(widget.log) == 301
    assert widget.related is green and green.related is widget
    assert widget.stamp.isoformat() == '2005-11-02T09:00:00+00:00'
    assert widget.stamp.tzinfo is UTC
    assert widget.describe() == 'Widget \xfc (blue, small)'
    assert products.get_mapping().get(2) is green
    assert products.counter.next_available == 3
    categories = dest_root['categories']
    assert isinstance(categories, Category) and categories.count() == 3
    assert categories.children[0].products == [widget]
    note = dest_root['notes']
    assert isinstance(note, Note) and note.text == 'caf\xe9'
    assert note.has_colour('rgb') and note.colours['rgb'] == (255, 0, 128)
    assert note.archived is False and note.serial == 2 ** 2100 + 1
    assert vars(note.origin) == {'city': 'Z\xfcrich'}


def test_sign_in_only_after_a_new_password(shop):
    from qpd.site import Site
    from qpd.web.profile import Profile
    from qpd.web.signin import PASSWORD_FIELD, USER_FIELD
    # As the README says: DEST becomes the site's durus_file, and the
    # site's own StorageServer (what supervisord runs) serves it.
    site = Site(SITE, home=shop.home)
    os.makedirs(os.path.dirname(site.get_durus_file()), exist_ok=True)
    shutil.copy(shop.dest, site.get_durus_file())
    server = subprocess.Popen(
        [sys.executable, '-m', 'qpd', '--home', shop.home, 'durus', SITE],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        assert line.startswith('READY'), (line, server.stderr.read())
        result = qpd(shop.home, 'migrate', shop.src, site.get_durus_file(),
                     '--force')
        assert result.returncode == 2 and result.stderr.count('\n') == 1
        assert 'stop it first (qpd stop %s)' % SITE in result.stderr
        def sign_in(password):
            profile = Profile(site)
            profile.submit('/account', **{USER_FIELD: 'ann',
                                          PASSWORD_FIELD: password})
            return profile.get_text(profile.get('/whoami'))

        assert sign_in(qp_database.PASSWORDS['ann']) == 'nobody'
        assert sign_in('') == 'nobody'
        result = qpd(shop.home, 'shell', SITE, '-c',
                     "users['ann'].set_password('new secret'); commit()")
        assert result.returncode == 0, result.stdout + result.stderr
        assert sign_in('new secret') == 'ann'
        assert sign_in(qp_database.PASSWORDS['ann']) == 'nobody'
        result = qpd(shop.home, 'shell', SITE, '-c', "print(users['ann']"
                     ".get_digester().needs_new_password())")
        assert result.stdout.strip() == 'False'
    finally:
        server.terminate()
        server.wait(10)
        server.stdout.close()
        server.stderr.close()


def test_text_that_does_not_decode_is_one_line(shop, tmp_path):
    src = str(tmp_path / 'bad.durus')
    fixture = qp_database.build_database(src, site=SITE, bad_text=True)
    dest = str(tmp_path / 'out.durus')
    result = qpd(shop.home, 'migrate', src, dest)
    assert result.returncode == 1
    assert result.stderr.count('\n') == 1, result.stderr
    line = result.stderr
    assert ('oid %d, class qp.sites.%s.model.Note, attribute text: '
            "b'caf\\xe9' does not decode as utf-8" % (
                fixture.note_oid, SITE)) in line, line
    assert '--encoding' in line and 'bytes' in line
    assert not os.path.exists(dest) and os.listdir(tmp_path) == ['bad.durus']
    # Given the encoding it was written in, it migrates.
    result = qpd(shop.home, 'migrate', src, dest, '--encoding', 'latin-1')
    assert result.returncode == 0, result.stderr


def test_the_older_dfs20_format_migrates(shop, tmp_path):
    src = str(tmp_path / 'old.durus')
    qp_database.build_database(src, site=SITE, format='dfs20')
    with open(src, 'rb') as f:
        assert f.read(5) == b'DFS20'
    digest = _sha256(src)
    dest = str(tmp_path / 'new.durus')
    result = qpd(shop.home, 'migrate', src, dest)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == shop.result.stdout.splitlines()[
        0].replace(shop.src, src).replace(shop.dest, dest)
    assert _sha256(src) == digest


def test_bad_arguments_are_one_line_with_the_fix(shop, tmp_path, capsys):
    from qpd.cli import main
    not_durus = tmp_path / 'notes.txt'
    not_durus.write_text('hello')
    existing = tmp_path / 'existing.durus'
    existing.write_bytes(b'keep me')
    dest = str(tmp_path / 'new.durus')
    cases = [
        ([str(tmp_path / 'nosuch.durus'), dest], 'no such file'),
        ([str(not_durus), dest], 'not a Durus FileStorage file'),
        ([shop.src, str(existing)], '--force'),
        ([shop.src, shop.src], 'DEST is SRC'),
        ([shop.src, str(tmp_path)], 'is a directory'),
        ([shop.src, str(tmp_path / 'no' / 'dir.durus')], 'create it first'),
        ([shop.src, dest, '--encoding', 'klingon'], 'no such encoding'),
    ]
    for argv, fix in cases:
        status = main(['--home', shop.home, 'migrate'] + argv)
        err = capsys.readouterr().err
        assert status == 2, (argv, err)
        assert err.count('\n') == 1, (argv, err)
        assert err.startswith('qpd: ') and fix in err, (argv, err)
    assert existing.read_bytes() == b'keep me'
    assert not os.path.exists(dest)
    assert _sha256(shop.src) == shop.src_hash
    # --force replaces DEST, and it is 0600 again.
    os.chmod(existing, 0o644)
    result = qpd(shop.home, 'migrate', shop.src, str(existing), '--force')
    assert result.returncode == 0, result.stderr
    assert os.stat(existing).st_mode & 0o777 == 0o600


def _one_record_database(path, state, cls=qp_database.PERSISTENT_DICT):
    from durus.file_storage import FileStorage
    from py2pickle import durus_record
    storage = FileStorage(path)
    storage.new_oid()
    storage.begin()
    storage.store(b'\0' * 8, durus_record(0, cls, state))
    storage.end()
    storage.close()


@pytest.mark.parametrize('cls, state, line', [
    (py2pickle.Global('os', 'system'), {b'data': {}},
     'oid 0: class os.system: migrate loads only the classes of QP'),
    (py2pickle.Global('durus.file_storage', 'FileStorage'), {},
     'loads persistent ones only'),
    (qp_database.PERSISTENT_DICT, {b'data': {b'x': py2pickle.Ref(
        5, qp_database.PERSISTENT_DICT)}},
     'oid 0, class durus.persistent_dict.PersistentDict, attribute data: '
     'refers to oid 5, which has no record in SRC'),
])
def test_a_record_that_cannot_load_is_named(shop, tmp_path, cls, state,
                                            line):
    src = str(tmp_path / 'odd.durus')
    _one_record_database(src, state, cls)
    result = qpd(shop.home, 'migrate', src, str(tmp_path / 'out.durus'))
    assert result.returncode == 1 and result.stderr.count('\n') == 1
    assert line in result.stderr, result.stderr
    assert os.listdir(tmp_path) == ['odd.durus']


# The parts, without a database ---------------------------------------------

@pytest.mark.parametrize('pattern, value, expected', [
    (None, b'caf\xc3\xa9', 'caf\xe9'),                 # no spec: text
    ('str', b'abc', 'abc'),
    ('bytes', b'\xff', b'\xff'),
    ('either(None, bytes)', b'\xff', b'\xff'),
    ('either(None, str, bytes)', b'abc', 'abc'),      # text where it can be
    ('[bytes]', [b'\xff', b'\xfe'], [b'\xff', b'\xfe']),
    ('sequence(str, list)', [b'a'], ['a']),
    ('mapping({str: bytes})', {b'k': b'\xff'}, {'k': b'\xff'}),
    ('{str: [bytes]}', {b'k': [b'\xff']}, {'k': [b'\xff']}),
    ('(str, bytes)', (b'a', b'\xff'), ('a', b'\xff')),
    ('spec(either(None, sequence(bytes, set)), "doc")', {b'\xff'}, {b'\xff'}),
])
def test_bytes_follow_the_spec(pattern, value, expected):
    from qpd.lib.spec import either, mapping, sequence, spec  # noqa: F401
    from qpd.ops.migrate import _Decoder, _plan
    decoder = _Decoder('utf-8', {})
    decoder.record = 'oid 1, class C'
    plan = _plan(None if pattern is None else eval(pattern))
    assert decoder.convert(value, plan) == expected


def test_an_error_names_the_attribute_path():
    from qpd.ops.migrate import _Decoder, MigrationError
    from qpd.storage.keep import Counter

    class Plain:
        pass
    inner = Plain()
    vars(inner)[b'unit'] = b'\xff'
    decoder = _Decoder('utf-8', {})
    decoder.record = 'oid 7, class qp.lib.keep.Counter'
    with pytest.raises(MigrationError) as raised:
        decoder.fill(Counter(), [(b'size', inner)])
    assert str(raised.value).startswith(
        "oid 7, class qp.lib.keep.Counter, attribute size.unit: b'\\xff' "
        'does not decode as utf-8 (invalid start byte at byte 0)')


def test_a_qp_session_gets_qpds_layout():
    import datetime
    from qpd.lib.spec import get_spec_problems
    from qpd.ops.migrate import _Context, _session
    from qpd.storage.session import Session, is_session_id
    from qpd.storage.user import User
    ann, nobody = User('ann'), User('')
    session = Session.__new__(Session)
    vars(session).update(
        remote_address='10.0.0.1', owner=ann, effective_user=ann,
        authentication_time=datetime.datetime(2006, 3, 1, 12, 0, 0))
    _session(session, _Context())
    assert get_spec_problems(session) == []
    assert is_session_id(session.id) and session.get_owner() is ann
    assert session.is_authenticated() and session.get_user() is ann
    assert session.authentication_time == datetime.datetime(
        2006, 3, 1, 12, tzinfo=datetime.timezone.utc).timestamp()
    assert not session.is_valid('10.0.0.1')         # its lease ran out
    signed_out = Session.__new__(Session)
    vars(signed_out).update(remote_address='10.0.0.2', owner=ann,
                            effective_user=nobody, authentication_time=None)
    _session(signed_out, _Context())
    assert get_spec_problems(signed_out) == []
    assert not signed_out.is_authenticated() and not signed_out.get_user()


def test_a_site_not_in_the_home_is_named_with_the_fix(shop, tmp_path):
    empty_home = tmp_path / 'home'
    empty_home.mkdir()
    result = qpd(str(empty_home), 'migrate', shop.src,
                 str(tmp_path / 'out.durus'))
    assert result.returncode == 1 and result.stderr.count('\n') == 1
    assert ('class qp.sites.%s.model.' % SITE) in result.stderr
    assert ('copy the QP site into HOME/sites/%s and run "qpd port" on it'
            % SITE) in result.stderr


def test_the_writer_agrees_with_pythons_own_protocol_2():
    # Where Python 2 and 3 pickle alike (text, numbers, containers),
    # py2pickle must emit the opcodes Python 3's protocol 2 emits, and a
    # pickle that loads to the same value; only memo numbers differ
    # (cPickle counts from 1). (A Python 2 int past 32 bits is INT, a
    # Python 3 one LONG1: the fixture has one.)
    import pickle
    value = {'name': 'Widget \xfc', 'counts': [1, 300, 70000, -5, -70000],
             'pair': (1.5, None), 'triple': (True, False, ()), 'four': (
                 1, 2, 3, 4), 'one': ['x'], 'nested': {'k': {'j': []}}}
    ours = py2pickle.Pickler2().dump(value)
    theirs = pickle.dumps(value, 2)

    def opcodes(data):
        return [op.name for op, arg, pos in pickletools.genops(data)
                if op.name not in ('BINPUT', 'LONG_BINPUT', 'MEMOIZE')]
    assert opcodes(ours) == opcodes(theirs)
    assert pickle.loads(ours) == value
