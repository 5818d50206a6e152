"""The shop's persistent classes, as a QP 1.1 site on Python 2 has them."""
from durus.persistent import Persistent
from qp.lib.keep import Keep, Keyed, Stamped
from qp.lib.spec import spec, either, sequence, mapping


class Size (object):
    """Not persistent: pickled inside a Product's record."""

    def __init__(self, width, height, unit):
        self.width = width
        self.height = height
        self.unit = unit

    def area(self):
        return self.width * self.height


class Place:
    """A classic class (Python 2): pickled with OBJ inside a Note."""

    city_is = basestring


class Product (Persistent, Keyed, Stamped):

    name_is = spec(basestring, "what it is called")
    price_is = spec(long, "in cents")
    stock_is = spec(either(int, long), "how many are left")
    weight_is = float
    picture_is = spec(either(None, bytes), "PNG bytes, if any")
    tags_is = spec(sequence(basestring, list), "words to find it by")
    size_is = Size
    history_is = tuple
    description_is = basestring
    log_is = [basestring]
    related_is = either(None, Persistent)

    def __init__(self, name, price):
        Keyed.__init__(self)
        Stamped.__init__(self)
        self.name = name
        self.price = long(price)

    def describe(self):
        tags = self.tags[:]
        tags.sort()
        return "%s (%s)" % (self.name, ", ".join(tags))


class Products (Persistent, Keep):

    def __init__(self):
        Keep.__init__(self, value_spec=Product)


class Category (Persistent):

    name_is = basestring
    children_is = sequence(either(Persistent), list)
    products_is = [Product]

    def count(self):
        total = len(self.products)
        for child in self.children:
            total += child.count()
        return total


class Note (Persistent):

    text_is = spec(basestring, "what it says")
    colours_is = mapping({basestring: tuple})
    archived_is = bool
    serial_is = long
    origin_is = either(None, Place)

    def has_colour(self, name):
        return self.colours.has_key(name)
