"""The xml string class: trusted markup that quotes whatever joins it.

An `xml` instance is a `str` whose content is markup the program vouches
for. Combining it with anything that is not markup (`+`, `%`, `join`,
`format`) quotes the other operand first, so untrusted text can never turn
into tags. Objects with an `__html__` method (markupsafe's Markup, Jinja2's
output, ...) count as markup too.

QP's names are here too: `h8` is `xml` (with QP's `h8.quote` and
`h8.from_list`), and `u8` is QP's plain-text type, which under Python 3 is
just `str` (a subclass that keeps operations plain str and adds QP's
`u8.from_list`); `join_str` joins plain text as `:str` templates do.
As QP's h8 and u8, an xml or u8 joined with None (`+`, `join`,
`from_list`) gets nothing from it, not the text 'None' (`%` formats None
as Python does).
"""

import string

import markupsafe

try:  # markupsafe >= 3.0: the C function that quotes a str into a str
    from markupsafe._speedups import _escape_inner as quote_text
except ImportError:  # pragma: no cover - older markupsafe, or no C code
    def quote_text(text: str) -> str:
        """(text:str) -> str
        text with & < > " ' replaced by character references.
        """
        return str.__str__(markupsafe.escape(text))

__all__ = ['xml', 'h8', 'u8', 'xml_quote', 'join_xml', 'join_str',
           'quote_text', 'markup_text', 'joined_markup', 'joined_text',
           'html_escape_string', 'stringify']


def stringify(value) -> str:
    """(value:object) -> str
    value as text: a str as it is, bytes decoded as UTF-8 (invalid bytes
    replaced), anything else through str().
    """
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode('utf-8', 'replace')
    return str(value)


def html_escape_string(value) -> str:
    """(value:str) -> str
    QP's escaping: value with & < > " (and ') replaced by character
    references. TypeError unless value is a str (or bytes, decoded as UTF-8).
    """
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    if not isinstance(value, str):
        raise TypeError('html_escape_string: expected str, got %s'
                        % type(value).__name__)
    return quote_text(str.__str__(value))


def markup_text(value) -> str:
    """(value:object) -> str
    The markup for value as a plain str: xml and __html__ objects as they
    are, anything else converted with str() and quoted.
    """
    if type(value) is str:
        return quote_text(value)
    if isinstance(value, xml):
        return str.__str__(value)
    html = getattr(value, '__html__', None)
    if html is not None:
        return str(html())
    return quote_text(str(value))


def joined_markup(value) -> str:
    """(value:object) -> str
    What value adds to markup it is joined to (`+`, join, from_list):
    nothing for None (as QP's h8), else markup_text(value).
    """
    return '' if value is None else markup_text(value)


def joined_text(value) -> str:
    """(value:object) -> str
    What value adds to plain text it is joined to (u8's `+`, join,
    from_list): nothing for None (as QP's u8), else stringify(value).
    """
    return '' if value is None else stringify(value)


def xml_quote(value) -> 'xml':
    """(value:object) -> xml
    value itself when it is already xml; else the markup for value:
    the __html__() of markup objects, otherwise str(value) with
    & < > " ' replaced by character references.
    """
    if isinstance(value, xml):
        return value
    return xml(markup_text(value))


def join_xml(items, separator='') -> 'xml':
    """(items:iterable, separator:object='') -> xml
    The items joined by separator, each (and the separator) quoted unless
    it is already markup.
    """
    return xml_quote(separator).join(items)


def join_str(items, separator='') -> str:
    """(items:iterable, separator:object='') -> str
    The items converted with str() and joined as plain text (what a `:str`
    template returns); nothing is quoted.
    """
    return str(separator).join([stringify(item) for item in items])


class _Operand:
    """(value:object)
    Stands in for a `%` operand: it converts like the value would, but
    yields quoted text, and quotes the items looked up through it.
    """

    __slots__ = ('value',)

    def __init__(self, value):
        self.value = value

    def __getitem__(self, key):
        return _Operand(self.value[key])

    def __str__(self):
        return markup_text(self.value)

    def __repr__(self):
        return quote_text(repr(self.value))

    def __int__(self):
        return int(self.value)

    def __float__(self):
        return float(self.value)

    def __index__(self):
        return self.value.__index__()


class _Formatter(string.Formatter):
    """Formats fields of an xml template, quoting each formatted field."""

    def format_field(self, value, format_spec):
        if format_spec == '' and (isinstance(value, xml) or hasattr(value, '__html__')):
            return markup_text(value)
        return quote_text(format(value, format_spec))


_formatter = _Formatter()


class xml(str):
    """(value:object='') -> xml
    A str of trusted markup. Operations that combine it with other values
    quote the values that are not markup themselves.
    """

    __slots__ = ()

    def __html__(self):
        """() -> xml"""
        return self

    def __repr__(self):
        return 'xml(%s)' % str.__repr__(self)

    def __add__(self, other):
        return xml(str.__add__(self, joined_markup(other)))

    def __radd__(self, other):
        return xml(str.__add__(joined_markup(other), self))

    def __mul__(self, count):
        return xml(str.__mul__(self, count))

    __rmul__ = __mul__

    def __mod__(self, args):
        if isinstance(args, tuple):
            args = tuple(_Operand(arg) for arg in args)
        else:
            args = _Operand(args)
        return xml(str.__mod__(self, args))

    def __rmod__(self, other):
        return NotImplemented

    def join(self, items):
        """(items:iterable) -> xml
        The items, each quoted unless it is markup, joined by this markup
        (None adds nothing, as in QP).
        """
        return xml(str.join(self, [joined_markup(item) for item in items]))

    def format(self, *args, **kwargs):
        """(*args, **kwargs) -> xml
        str.format with every replacement field quoted unless it is markup.
        """
        return xml(_formatter.vformat(self, args, kwargs))

    def format_map(self, mapping):
        """(mapping) -> xml"""
        return xml(_formatter.vformat(self, (), mapping))

    @classmethod
    def quote(cls, value):
        """(value:object) -> xml
        QP's h8.quote: value itself when it is markup, the empty xml for
        None, else the quoted text of str(value).
        """
        if value is None:
            return cls('')
        return xml_quote(value)

    @classmethod
    def from_list(cls, items):
        """(items:iterable) -> xml
        QP's h8.from_list: join_xml(items).
        """
        return join_xml(items)


h8 = xml


class u8(str):
    """(string:object='', encoding:str='utf-8', errors:str='strict') -> u8
    QP's plain-text type: a str (bytes are decoded with encoding; None
    gives ''). Nothing is quoted: `+`, `%` and join convert the other
    operands with str().
    """

    __slots__ = ()

    def __new__(cls, string='', encoding='utf-8', errors='strict'):
        if string is None:
            string = ''
        elif isinstance(string, bytes):
            string = string.decode(encoding, errors)
        elif not isinstance(string, str):
            string = str(string)
        return str.__new__(cls, string)

    def __add__(self, other):
        return u8(str.__add__(self, joined_text(other)))

    def __radd__(self, other):
        return u8(joined_text(other) + str(self))

    def __mod__(self, args):
        return u8(str.__mod__(self, args))

    def join(self, items):
        """(items:iterable) -> u8: the items converted with str() (None
        adds nothing, as in QP), joined"""
        return u8(str.join(self, [joined_text(item) for item in items]))

    @classmethod
    def from_list(cls, items):
        """(items:iterable) -> u8: u8('').join(items)"""
        return cls('').join(items)
