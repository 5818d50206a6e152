"""qpd.lib.delegation: methods that hand the call to an attribute.

    class Basket(Persistent):
        items_is = PersistentList
        def __init__(self):
            self.items = PersistentList()

    delegate(Basket, 'items', 'append', 'remove', '__len__', '__iter__')

or, one name at a time, with the descriptor:

    class Basket(Persistent):
        append = Delegated('items')
        size = Delegated('items', '__len__')
"""

__all__ = ['Delegated', 'delegate', 'delegates']


class Delegated:
    """(attribute:str, name:str=None)
    A class attribute that reads `getattr(self.<attribute>, name)`; name
    defaults to the name the descriptor is assigned to.  A method comes back
    bound to the delegate, so `obj.append(x)` calls `obj.items.append(x)`.
    """

    def __init__(self, attribute, name=None):
        self.attribute = attribute
        self.name = name

    def __set_name__(self, owner, name):
        if self.name is None:
            self.name = name

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return getattr(getattr(instance, self.attribute), self.name)

    def __repr__(self):
        return 'Delegated(%r, %r)' % (self.attribute, self.name)


def _make_method(attribute, name):
    def method(self, *args, **kwargs):
        return getattr(getattr(self, attribute), name)(*args, **kwargs)
    method.__name__ = name
    method.__doc__ = '(*args, **kwargs) -> self.%s.%s(*args, **kwargs)' % (
        attribute, name)
    return method


def delegate(cls, attribute, *names):
    """(cls:type, attribute:str, *names:str) -> cls
    Give cls a method for each name that calls the same-named method of
    `self.<attribute>`.  Methods cls defines itself are left alone.  Special
    methods (`__len__`, `__iter__`, `__contains__`, ...) work too, since
    these are real methods on the class.
    """
    for name in names:
        if name in vars(cls):
            continue
        method = _make_method(attribute, name)
        method.__qualname__ = '%s.%s' % (cls.__qualname__, name)
        method.__module__ = cls.__module__
        setattr(cls, name, method)
    return cls


def delegates(attribute, *names):
    """(attribute:str, *names:str) -> class decorator
    `@delegates('items', 'append', '__len__')` is delegate(cls, 'items',
    'append', '__len__').
    """
    def decorate(cls):
        return delegate(cls, attribute, *names)
    return decorate
