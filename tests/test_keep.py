"""qpd.storage.keep: Keep and Keyed, in memory and in a real FileStorage."""

import random
import time

import pytest
from durus.btree import BTree
from durus.connection import Connection
from durus.file_storage import FileStorage
from durus.persistent import Persistent

from qpd.lib.spec import get_spec_problems, spec, string
from qpd.storage.keep import Keep, Keyed


class Note(Persistent, Keyed):
    text_is = spec(string, 'what it says')

    def __init__(self, text=''):
        self.text = text


class Other(Keyed):
    pass


class Notes(Persistent, Keep):
    """A Keep as QP sites declare them: the mixin on a Persistent class."""


def test_add_gives_increasing_keys():
    keep = Keep(Note)
    notes = [Note(str(n)) for n in range(5)]
    for note in notes:
        assert note.get_key() is None
        keep.add(note)
    assert [note.get_key() for note in notes] == [1, 2, 3, 4, 5]
    assert len(keep) == 5
    assert keep.get(3) is notes[2]
    assert list(keep) == notes
    assert list(keep.items()) == [(n.get_key(), n) for n in notes]
    assert list(keep.keys()) == [1, 2, 3, 4, 5]
    assert isinstance(keep.get_mapping(), BTree)
    assert notes[0] in keep
    assert Note() not in keep
    assert get_spec_problems(keep) == []
    assert all(get_spec_problems(note) == [] for note in notes)


def test_get_missing_and_wrong_type_keys():
    keep = Keep()
    keep.add(Other())
    assert keep.get(2) is None
    assert keep.get(2, 'x') == 'x'
    assert keep.get('1') is None        # a string from a URL: no crash
    assert keep.get(None) is None


def test_remove():
    keep = Keep()
    a, b, c = Other(), Other(), Other()
    for item in (a, b, c):
        keep.add(item)
    keep.remove(b)
    assert len(keep) == 2
    assert keep.get(2) is None
    assert list(keep) == [a, c]
    with pytest.raises(KeyError):
        keep.remove(b)
    with pytest.raises(KeyError):
        keep.remove(Other())
    d = Other()
    keep.add(d)
    assert d.get_key() == 4            # keys are not reused
    assert not Keep()
    assert keep


def test_item_with_its_own_key():
    keep = Keep()
    item = Other()
    item.set_key(10)
    assert keep.add(item) == 10
    assert keep.add(item) == 10         # adding it again changes nothing
    assert len(keep) == 1
    after = Other()
    keep.add(after)
    assert after.get_key() == 11
    clash = Other()
    clash.set_key(10)
    with pytest.raises(ValueError):
        keep.add(clash)
    assert len(keep) == 2


def test_string_keys():
    keep = Keep(key_spec=string)
    item = Other()
    item.set_key('ann')
    keep.add(item)
    assert keep.get('ann') is item
    assert keep.get(1) is None
    with pytest.raises(TypeError):
        keep.add(Other())               # an int key does not fit


def test_value_spec_and_keyed_are_checked():
    keep = Keep(Note)
    with pytest.raises(TypeError) as info:
        keep.add(Other())
    assert str(info.value).startswith('item: expected Note, got')
    with pytest.raises(TypeError) as info:
        Keep().add(object())
    assert 'Keyed' in str(info.value)
    assert len(keep) == 0


def test_items_from():
    keep = Keep()
    for n in range(10):
        keep.add(Other())
    assert [key for key, item in keep.items_from(8)] == [8, 9, 10]


COUNT = 100000
BATCH = 10000


def test_keep_with_100000_items_in_a_file_storage(tmp_path, capsys):
    path = str(tmp_path / 'keep.durus')
    connection = Connection(FileStorage(path), cache_size=20000)
    root = connection.get_root()
    root['notes'] = keep = Notes(Note)
    connection.commit()
    started = time.perf_counter()
    for n in range(COUNT):
        keep.add(Note('note %d' % n))
        if n % BATCH == BATCH - 1:
            connection.commit()
    connection.commit()
    add_time = time.perf_counter() - started
    assert len(keep) == COUNT
    connection.get_storage().close()

    # Reopen: a cold cache, everything comes from the file.
    connection = Connection(FileStorage(path), cache_size=20000)
    keep = connection.get_root()['notes']
    assert len(keep) == COUNT
    keys = random.Random(4).sample(range(1, COUNT + 1), 10000)
    started = time.perf_counter()
    for key in keys:
        note = keep.get(key)
        assert note.text == 'note %d' % (key - 1)
    cold = (time.perf_counter() - started) / len(keys)
    started = time.perf_counter()
    for key in keys:
        keep.get(key).text
    warm = (time.perf_counter() - started) / len(keys)
    assert keep.get(COUNT + 1) is None

    started = time.perf_counter()
    previous = 0
    seen = 0
    for key, note in keep.items():
        assert key == previous + 1 and note.get_key() == key
        previous = key
        seen += 1
    iterate_time = time.perf_counter() - started
    assert seen == COUNT

    # And it is still a working Keep after the reopen.
    note = Note('one more')
    keep.add(note)
    assert note.get_key() == COUNT + 1
    connection.commit()
    connection.get_storage().close()

    with capsys.disabled():
        print('\nKeep, %d items in a FileStorage: add+commit %.1f s; '
              'lookup after reopen %.1f us/item cold, %.1f us/item warm; '
              'iteration %.1f s'
              % (COUNT, add_time, cold * 1e6, warm * 1e6, iterate_time))
