"""qpd.storage.keep: a persistent collection of uniquely identified items.

    class Note(Persistent, Keyed):
        text_is = spec(string, "what the note says")

    notes = Keep(value_spec=Note)
    note = Note()
    notes.add(note)             # note.get_key() == 1, the next one gets 2
    notes.get(1) is note

A Keep holds its items in a Durus `BTree` keyed by each item's key, so
lookups cost a few node loads however many items there are, and iteration
runs in key order.  Keys are increasing integers handed out by `add()`; an
item that already has a key when added keeps it (it must be unique and match
the Keep's key_spec).
"""

from durus.btree import BTree
from durus.persistent import Persistent

from qpd.lib.spec import anything, format_pattern, match_pattern, require, spec

__all__ = ['Keep', 'Keyed']


class Keyed:
    """A mixin for the items of a Keep: the item knows its key.  The key is
    None until the item is added to a Keep.
    """

    __slots__ = ()

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


class Keep(Persistent):
    """(value_spec=None, key_spec=int)
    Items must match value_spec (anything when None) and have get_key() and
    set_key() (the Keyed mixin); keys must match key_spec.
    """

    mapping_is = spec(BTree, "key -> item")
    count_is = spec(int, "the number of items, kept so len() is O(1)")
    next_key_is = spec(int, "the key add() hands out next")
    value_spec_is = spec(anything, "what items must match, or None")
    key_spec_is = spec(anything, "what keys must match")

    def __init__(self, value_spec=None, key_spec=int):
        self.mapping = BTree()
        self.count = 0
        self.next_key = 1
        self.value_spec = value_spec
        self.key_spec = key_spec

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
        that does not match the Keep's specs raises TypeError.
        """
        if self.value_spec is not None:
            require(item, self.value_spec, 'item')
        if not (hasattr(item, 'get_key') and hasattr(item, 'set_key')):
            raise TypeError('item: expected an item with get_key() and '
                            'set_key() (Keyed), got %s' % type(item).__name__)
        key = item.get_key()
        if key is None:
            key = self.next_key
            require(key, self.key_spec, 'key')
            while key in self.mapping:
                key += 1
        else:
            require(key, self.key_spec, 'key')
            if key in self.mapping:
                if self.mapping[key] is item:
                    return key
                raise ValueError('key %r is already taken' % (key,))
        if isinstance(key, int) and key >= self.next_key:
            self.next_key = key + 1
        item.set_key(key)
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

    def items_from(self, key):
        """(key) -> iterator of (key, item) from key on, in key order"""
        return self.mapping.items_from(key)

    def __repr__(self):
        return '<%s of %s: %d>' % (
            type(self).__name__,
            'anything' if self.value_spec is None
            else format_pattern(self.value_spec), len(self))
