"""The bench site's persistent objects and the initializer that creates them.

    initialize(connection)   # root['bench_items'], root['bench_counter'],
                             # root['bench_rows'] (the /page table)

Kept apart from slash.py so that the harness can create the objects (with
a plain FileStorage connection, before any server starts) without importing
the web layer.
"""

from durus.persistent import Persistent
from durus.persistent_dict import PersistentDict

__all__ = ['Item', 'Counter', 'Row', 'initialize', 'ITEM_COUNT',
           'ROW_COUNT']

ITEM_COUNT = 20
ROW_COUNT = 100


class Item(Persistent):
    """(number:int) A small record that /read reads."""

    def __init__(self, number):
        self.number = number
        self.title = 'item %d' % number
        self.tags = ['tag%d' % (number % 3), 'bench']

    def get_title(self):
        """() -> str"""
        return self.title


class Counter(Persistent):
    """() A shared counter that /write increments: every worker writes the
    same object, so concurrent hits conflict."""

    def __init__(self):
        self.count = 0

    def get_count(self):
        """() -> int"""
        return self.count

    def increment(self):
        """() -> int: the new count."""
        self.count += 1
        return self.count


class Row(Persistent):
    """(number:int) One row of the /page table: five fields, one of them
    text that needs quoting."""

    def __init__(self, number):
        self.number = number
        self.name = 'row %d' % number
        self.note = '<b>"Tom" & \'Jerry\' #%d</b>' % number
        self.amount = number * 1.25
        self.email = 'user%d@example.com' % number


def initialize(connection):
    """(connection:durus Connection) -> None
    Create the bench objects in the root when missing, and commit.
    """
    root = connection.get_root()
    if 'bench_items' not in root:
        items = PersistentDict()
        for number in range(ITEM_COUNT):
            items[number] = Item(number)
        root['bench_items'] = items
    if 'bench_rows' not in root:
        rows = PersistentDict()
        for number in range(ROW_COUNT):
            rows[number] = Row(number)
        root['bench_rows'] = rows
    if 'bench_counter' not in root:
        root['bench_counter'] = Counter()
    connection.commit()
