"""qpd.storage.keep: a persistent collection of uniquely identified items.

    class Note(Persistent, Keyed, Stamped):
        text_is = spec(string, "what the note says")

    class Notes(Persistent, Keep):
        pass

    notes = Notes(value_spec=Note)
    note = Note()
    notes.add(note)             # note.get_key() == 1, the next one gets 2
    notes.get(1) is note

As in QP, `Keep`, `Keyed` and `Stamped` are mixins: the Durus persistence
comes from `Persistent` in the class that uses them, so an application's
collections are its own classes (`class Things(Persistent, Keep)`).  A bare
`Keep()` works in memory, but refuses to be pickled: stored inside another
record its count would silently stop being saved.

A Keep holds its items in a Durus `BTree` keyed by each item's key, so
lookups cost a few node loads however many items there are, and iteration
runs in key order.  Keys are increasing integers handed out by a `Counter`,
a persistent object of its own so that handing out a key does not rewrite
the Keep's record; an item that already has a key when added keeps it (it
must be unique and match the Keep's key_spec).  `Stamped` items carry their
UTC creation time, and `stamp_sorted` orders them by it.
"""

from durus.btree import BTree
from durus.persistent import Persistent

from qpd.lib.spec import (
    anything, datetime_with_tz, format_pattern, get_spec_problems,
    match_pattern, require, spec)
from qpd.lib.tz import get_now, UTC

__all__ = ['Keep', 'Keyed', 'Counter', 'Stamped', 'stamp_sorted',
           'reverse_stamp_sorted']


class Keyed:
    """A mixin for the items of a Keep (usable alone too): the item knows
    its key.  The key is None until the item is added to a Keep.
    """

    key_is = spec(anything, "the item's key in its Keep; None until added")
    key = None

    def get_key(self):
        """() -> key | None"""
        return self.key

    def set_key(self, key):
        """(key) -> None
        Normally called by Keep.add().
        """
        self.key = key


class Counter(Persistent):
    """(next_available:int=1)
    A persistent source of increasing int keys, kept apart from the Keep it
    serves.
    """

    next_available_is = spec(int, "the key next() hands out")

    def __init__(self, next_available=1):
        self.next_available = next_available

    def next(self):
        """() -> int
        The next key (and counts past it).
        """
        key = self.next_available
        self.next_available = key + 1
        return key

    def skip_to(self, key):
        """(key:int) -> None
        Never hand out key or anything below it.
        """
        if key >= self.next_available:
            self.next_available = key + 1

    def __repr__(self):
        return '<Counter %d>' % self.next_available


class Stamped:
    """A mixin for items that know when they were made: `stamp` is an aware
    UTC datetime, set by Stamped.__init__() or set_stamp().
    """

    stamp_is = spec((None, datetime_with_tz), "when the item was made (UTC)")
    stamp = None

    def __init__(self):
        self.set_stamp()

    def get_stamp(self):
        """() -> datetime | None"""
        return self.stamp

    def set_stamp(self, stamp=None):
        """(stamp:datetime=None) -> None
        Set the stamp to stamp (converted to UTC; a naive one is taken as
        UTC), or to now.
        """
        if stamp is None:
            stamp = get_now(UTC)
        elif stamp.utcoffset() is None:
            stamp = stamp.replace(tzinfo=UTC)
        else:
            stamp = stamp.astimezone(UTC)
        self.stamp = stamp


def _stamp_key(item):
    stamp = item.get_stamp()
    return (stamp is not None, stamp or 0)


def stamp_sorted(items):
    """(items:iterable[Stamped]) -> list
    The items, oldest first (those without a stamp before all others).
    """
    return sorted(items, key=_stamp_key)


def reverse_stamp_sorted(items):
    """(items:iterable[Stamped]) -> list
    The items, newest first.
    """
    return sorted(items, key=_stamp_key, reverse=True)


class Keep:
    """(value_spec=Keyed, key_spec=int)
    A mixin for Persistent classes: `class Things(Persistent, Keep)`.
    Items must match value_spec (anything when None) and have get_key() and
    set_key() (the Keyed mixin); keys must match key_spec.
    """

    mapping_is = spec(BTree, "key -> item")
    count_is = spec(int, "the number of items, kept so len() is O(1)")
    counter_is = spec(Counter, "hands out the keys")
    value_spec_is = spec(anything, "what items must match, or None")
    key_spec_is = spec(anything, "what keys must match")

    def __init__(self, value_spec=Keyed, key_spec=int):
        self.mapping = BTree()
        self.count = 0
        self.counter = Counter()
        self.value_spec = value_spec
        self.key_spec = key_spec

    def __getstate__(self):
        if not isinstance(self, Persistent):
            raise TypeError('%s: Keep is a mixin; store a persistent subclass '
                            '(class Things(Persistent, Keep))' % type(self).__name__)
        return super().__getstate__()

    def get_mapping(self):
        """() -> BTree
        The BTree of key -> item.  Change it only through the Keep.
        """
        return self.mapping

    def get_value_spec(self):
        """() -> pattern | None"""
        return self.value_spec

    def get_key_spec(self):
        """() -> pattern"""
        return self.key_spec

    def add(self, item):
        """(item) -> key
        Store item, giving it the next key unless it has one already.  An
        item whose key is already taken raises ValueError; an item or key
        that does not match the Keep's specs raises TypeError, and so does
        an item with spec problems (get_spec_problems: an attribute that
        does not match its class's spec, or one no spec names), as in QP;
        a refused item keeps the key it had.
        """
        if self.value_spec is not None:
            require(item, self.value_spec, 'item')
        if not (hasattr(item, 'get_key') and hasattr(item, 'set_key')):
            raise TypeError('item: expected an item with get_key() and '
                            'set_key() (Keyed), got %s' % type(item).__name__)
        key = item.get_key()
        if key is None:
            key = self.counter.next()
            require(key, self.key_spec, 'key')
            while key in self.mapping:
                key = self.counter.next()
        else:
            require(key, self.key_spec, 'key')
            if key in self.mapping:
                if self.mapping[key] is item:
                    return key
                raise ValueError('key %r is already taken' % (key,))
        had_key = item.get_key()
        item.set_key(key)
        problems = get_spec_problems(item)
        if problems:
            item.set_key(had_key)
            raise TypeError('item %r: %s' % (item, '; '.join(problems)))
        if isinstance(key, int):
            self.counter.skip_to(key)
        self.mapping[key] = item
        self.count += 1
        return key

    def get(self, key, default=None):
        """(key, default=None) -> item | default
        The item stored under key; default when there is none, or when key
        does not even match the key spec (so a stray string from a URL
        cannot upset the BTree).
        """
        if key is None or not match_pattern(key, self.key_spec):
            return default
        return self.mapping.get(key, default)

    def remove(self, item):
        """(item) -> None
        Take item out.  Raises KeyError if it is not in this Keep.
        """
        key = item.get_key()
        if (key is None or not match_pattern(key, self.key_spec) or
                self.mapping.get(key) is not item):
            raise KeyError('%r is not in this Keep' % (item,))
        del self.mapping[key]
        self.count -= 1

    def __contains__(self, item):
        """(item) -> bool
        Is this very item stored here?
        """
        get_key = getattr(item, 'get_key', None)
        if get_key is None:
            return False
        key = get_key()
        return key is not None and self.get(key) is item

    def __len__(self):
        return self.count

    def __bool__(self):
        return self.count > 0

    def __iter__(self):
        """() -> iterator of items, in key order"""
        return self.mapping.itervalues()

    def items(self):
        """() -> iterator of (key, item), in key order"""
        return self.mapping.iteritems()

    def keys(self):
        """() -> iterator of keys, in order"""
        return self.mapping.iterkeys()

    def values(self):
        """() -> iterator of items, in key order (what `qpd port` makes of
        QP's itervalues())"""
        return self.mapping.itervalues()

    # QP's names.
    itervalues = values
    iteritems = items
    iterkeys = keys

    def items_from(self, key):
        """(key) -> iterator of (key, item) from key on, in key order"""
        return self.mapping.items_from(key)

    def __repr__(self):
        return '<%s of %s: %d>' % (
            type(self).__name__,
            'anything' if self.value_spec is None
            else format_pattern(self.value_spec), len(self))
