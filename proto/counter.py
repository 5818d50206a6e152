"""Counter: a number kept in the database, as an example of a persistent
class of a site.

The site keeps one Counter at root['visits'] rather than a number in the
root mapping itself: every change to a persistent object makes the
requests that read it concurrently start again (Durus's conflicts), and
every request reads the root.
"""

from durus.persistent import Persistent

__all__ = ['Counter', 'get_counter']


class Counter(Persistent):
    """(count:int=0)"""

    def __init__(self, count=0):
        self.count = count

    def get_count(self):
        """() -> int"""
        return self.count

    def add(self, amount=1):
        """(amount:int=1) -> int: the count after adding amount"""
        self.count += amount
        return self.count


def get_counter(root, key):
    """(root, key:str) -> Counter: root[key], made when missing."""
    counter = root.get(key)
    if counter is None:
        counter = root[key] = Counter()
    return counter
