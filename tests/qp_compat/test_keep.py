"""QP compatibility: qp.lib.keep -> qpd.storage.keep, one test per entry of
docs/qp_api.md; the Keep lives in a real Durus FileStorage, declared the
way QP sites declared theirs."""

import pickle
from datetime import datetime, timedelta, timezone

import pytest
from durus.btree import BTree
from durus.connection import Connection
from durus.file_storage import FileStorage
from durus.persistent import Persistent

from qpd.lib.spec import get_spec_problems, spec, string
from qpd.storage.keep import (
    Counter, Keep, Keyed, Stamped, reverse_stamp_sorted, stamp_sorted)


class Note(Persistent, Keyed, Stamped):
    text_is = spec(string, 'what it says')

    def __init__(self, text=''):
        Stamped.__init__(self)
        self.text = text


class Notes(Persistent, Keep):
    """The QP spelling: Keep is a mixin."""

    def __init__(self):
        Keep.__init__(self, value_spec=Note)


@pytest.fixture
def connection(tmp_path):
    connection = Connection(FileStorage(str(tmp_path / 'keep.durus')))
    yield connection
    connection.get_storage().close()


def test_keyed():
    item = Keyed()                      # usable on its own
    assert item.get_key() is None
    item.set_key(3)
    assert item.get_key() == 3


def test_keyed_get_key(connection):
    notes = Notes()
    note = Note('a')
    assert note.get_key() is None
    notes.add(note)
    assert note.get_key() == 1


def test_counter(connection):
    counter = Counter()
    assert [counter.next(), counter.next()] == [1, 2]
    connection.get_root()['counter'] = counter
    connection.commit()
    assert isinstance(counter, Persistent)
    notes = Notes()
    assert isinstance(notes.counter, Counter)     # kept apart from the Keep


def test_keep(connection):
    root = connection.get_root()
    root['notes'] = notes = Notes()
    notes.add(Note('one'))
    connection.commit()
    assert get_spec_problems(notes) == []
    with pytest.raises(TypeError):
        notes.add(Keyed())                         # the value spec: Note
    plain = Keep()                                 # default value spec: Keyed
    plain.add(Keyed())
    with pytest.raises(TypeError):
        plain.add(object())
    with pytest.raises(TypeError):
        pickle.dumps(plain)                        # a bare Keep is not stored


def test_keep_get_mapping():
    notes = Notes()
    note = Note('x')
    notes.add(note)
    mapping = notes.get_mapping()
    assert isinstance(mapping, BTree) and mapping[1] is note


def test_keep_get():
    notes = Notes()
    note = Note('x')
    notes.add(note)
    assert notes.get(1) is note
    assert notes.get(2) is None and notes.get(2, 'd') == 'd'


def test_keep_iter_methods():
    notes = Notes()
    items = [Note(str(n)) for n in range(3)]
    for item in items:
        notes.add(item)
    assert list(notes.itervalues()) == items
    assert list(notes.iterkeys()) == [1, 2, 3]
    assert list(notes.iteritems()) == [(1, items[0]), (2, items[1]), (3, items[2])]


def test_keep_add(connection):
    root = connection.get_root()
    root['notes'] = notes = Notes()
    first, second = Note('a'), Note('b')
    notes.add(first)
    notes.add(second)
    connection.commit()
    assert (first.get_key(), second.get_key()) == (1, 2)
    connection.abort()
    third = Note('c')
    notes.add(third)
    assert third.get_key() == 3
    connection.commit()


def test_keep_add_refuses_spec_problems():
    # QP's: an item with spec problems is not stored (TypeError)
    notes = Notes()
    bad = Note('x')
    bad.badattr = 1                                 # no spec names it
    with pytest.raises(TypeError) as raised:
        notes.add(bad)
    assert 'badattr' in str(raised.value)
    assert bad.get_key() is None and len(notes) == 0
    wrong = Note('y')
    wrong.text = 3                                  # text_is: string
    with pytest.raises(TypeError):
        notes.add(wrong)
    good = Note('z')
    notes.add(good)
    assert list(notes.values()) == [good] and len(notes) == 1


def test_stamped():
    before = datetime.now(timezone.utc)
    note = Note('x')
    stamp = note.get_stamp()
    assert stamp.utcoffset() == timedelta(0) and stamp >= before - timedelta(seconds=1)
    note.set_stamp(datetime(2020, 1, 1))           # naive: taken as UTC
    assert note.get_stamp() == datetime(2020, 1, 1, tzinfo=timezone.utc)
    assert get_spec_problems(note) == []


def test_stamp_sorted():
    notes = [Note(str(n)) for n in range(3)]
    for n, note in enumerate(notes):
        note.set_stamp(datetime(2020, 1, 3 - n))
    assert stamp_sorted(notes) == notes[::-1]
    assert reverse_stamp_sorted(notes) == notes
