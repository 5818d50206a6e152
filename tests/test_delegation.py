"""qpd.lib.delegation."""

from durus.persistent import Persistent
from durus.persistent_list import PersistentList

from qpd.lib.delegation import Delegated, delegate, delegates


class Basket:
    def __init__(self):
        self.items = []

    def append(self, item):
        self.items.append(item * 10)


delegate(Basket, 'items', 'append', 'remove', 'count', '__len__',
         '__iter__', '__contains__')


def test_delegate_adds_methods():
    basket = Basket()
    basket.append(1)          # its own method is kept
    assert basket.items == [10]
    basket.items.append(2)
    assert len(basket) == 2
    assert list(basket) == [10, 2]
    assert 2 in basket
    assert basket.count(2) == 1
    basket.remove(2)
    assert basket.items == [10]
    assert Basket.remove.__name__ == 'remove'
    assert Basket.remove.__qualname__ == 'Basket.remove'
    assert 'self.items.remove' in Basket.remove.__doc__


@delegates('data', 'get', 'keys', '__getitem__')
class Record:
    def __init__(self, **data):
        self.data = data


def test_delegates_decorator():
    record = Record(a=1)
    assert record.get('a') == 1
    assert record['a'] == 1
    assert list(record.keys()) == ['a']


class Stack(Persistent):
    push = Delegated('items', 'append')
    pop = Delegated('items')
    size = Delegated('items', '__len__')

    def __init__(self):
        self.items = PersistentList()


def test_descriptor_on_a_persistent_class():
    stack = Stack()
    stack.push(1)
    stack.push(2)
    assert stack.size() == 2
    assert stack.pop() == 2
    assert list(stack.items) == [1]
    assert isinstance(Stack.__dict__['pop'], Delegated)
    assert Stack.pop.name == 'pop'
    assert repr(Stack.push) == "Delegated('items', 'append')"


def test_descriptor_reads_plain_attributes_too():
    class Box:
        size = Delegated('inner')

        def __init__(self, inner):
            self.inner = inner

    class Inner:
        size = 3
    assert Box(Inner()).size == 3
