"""qpd.lib.spec: declaring and checking what an attribute may hold.

A class declares an attribute `x` with a class attribute named `x_is`:

    class User(Persistent):
        name_is = spec(string, "the user's name")
        email_is = spec((None, string), "where to write, if anywhere")
        roles_is = sequence(string, container=set)

The value of `x_is` is a pattern (or a `spec(pattern, doc)` wrapping one).
Patterns are:

- a type (class): the value is an instance of it;
- a tuple: the value matches at least one of its items;
- a `Pattern` instance (the combinators below): its `match(value)` decides;
- anything else is a literal: the value equals it (`None` is a handy one;
  `True` does not count as equal to `1`, nor `1` to `True`).

`require(value, pattern)` raises a TypeError that says what was expected and
what came; `get_spec_problems(obj)` lists every declared attribute whose value
does not match.  `add_getters_and_setters(cls)` writes `get_x`/`set_x`
methods, and `Specified` is a base class whose `__init__(**kwargs)` checks and
sets declared attributes.  All of it works on Durus `Persistent` subclasses.
"""

import re
from datetime import datetime

__all__ = [
    'Pattern', 'Spec', 'spec', 'match_pattern', 'format_pattern', 'require',
    'get_specs', 'get_spec_problems', 'specify', 'Specified',
    'add_getters', 'add_setters', 'add_getters_and_setters',
    'anything', 'either', 'both', 'no', 'sequence', 'mapping', 'string',
    'boolean', 'pattern', 'match', 'datetime_with_tz', 'datetime_without_tz',
]

SPEC_SUFFIX = '_is'


class Pattern:
    """The base of the combinators: a subclass defines match() and __repr__().
    """

    __slots__ = ()

    def match(self, value):
        """(value) -> bool"""
        raise NotImplementedError

    def __repr__(self):
        return self.__class__.__name__


def match_pattern(value, pattern):
    """(value, pattern) -> bool
    Does value match pattern (a type, tuple, Pattern, or literal)?
    """
    if isinstance(pattern, type):
        return isinstance(value, pattern)
    if isinstance(pattern, Pattern):
        return pattern.match(value)
    if isinstance(pattern, tuple):
        for alternative in pattern:
            if match_pattern(value, alternative):
                return True
        return False
    if value is pattern:
        return True
    if isinstance(value, bool) != isinstance(pattern, bool):
        return False
    try:
        return bool(value == pattern)
    except Exception:
        return False


def format_pattern(pattern):
    """(pattern) -> str
    A short description of pattern, for error messages and documentation.
    """
    if isinstance(pattern, type):
        if pattern.__module__ in ('builtins', '__builtin__'):
            return pattern.__name__
        return pattern.__qualname__
    if isinstance(pattern, tuple):
        return 'either(%s)' % ', '.join(format_pattern(p) for p in pattern)
    return repr(pattern)


def _format_value(value, limit=60):
    text = repr(value)
    if len(text) > limit:
        text = text[:limit - 3] + '...'
    return '%s (%s)' % (text, type(value).__name__)


def require(value, pattern, name=None):
    """(value, pattern, name:str=None) -> None
    Raise TypeError unless value matches pattern.  The message names the
    attribute (when name is given), the expected pattern, and the value's
    type.
    """
    if not match_pattern(value, pattern):
        message = 'expected %s, got %s' % (
            format_pattern(pattern), _format_value(value))
        if name:
            message = '%s: %s' % (name, message)
        raise TypeError(message)


class Spec(Pattern):
    """(pattern, doc:str='')
    A pattern with its documentation: what `spec(pattern, doc)` returns.
    """

    __slots__ = ('pattern', 'doc')

    def __init__(self, pattern, doc=''):
        self.pattern = pattern
        self.doc = doc

    def get_pattern(self):
        """() -> pattern"""
        return self.pattern

    def get_doc(self):
        """() -> str"""
        return self.doc

    def match(self, value):
        return match_pattern(value, self.pattern)

    def __repr__(self):
        return format_pattern(self.pattern)

    def __getstate__(self):
        return (self.pattern, self.doc)

    def __setstate__(self, state):
        self.pattern, self.doc = state


def spec(pattern, doc=''):
    """(pattern, doc:str='') -> Spec
    Declare an attribute in a class body: `name_is = spec(string, "a name")`.
    """
    return Spec(pattern, doc)


class _Anything(Pattern):

    __slots__ = ()

    def match(self, value):
        return True

    def __repr__(self):
        return 'anything'

    def __reduce__(self):
        return 'anything'


anything = _Anything()


class either(Pattern):
    """(*patterns)
    Matches a value that matches at least one of patterns.
    """

    __slots__ = ('patterns',)

    def __init__(self, *patterns):
        self.patterns = patterns

    def match(self, value):
        return match_pattern(value, self.patterns)

    def __repr__(self):
        return 'either(%s)' % ', '.join(map(format_pattern, self.patterns))

    def __getstate__(self):
        return self.patterns

    def __setstate__(self, state):
        self.patterns = state


class both(Pattern):
    """(*patterns)
    Matches a value that matches every one of patterns.
    """

    __slots__ = ('patterns',)

    def __init__(self, *patterns):
        self.patterns = patterns

    def match(self, value):
        for item in self.patterns:
            if not match_pattern(value, item):
                return False
        return True

    def __repr__(self):
        return 'both(%s)' % ', '.join(map(format_pattern, self.patterns))

    def __getstate__(self):
        return self.patterns

    def __setstate__(self, state):
        self.patterns = state


class no(Pattern):
    """(pattern)
    Matches a value that does not match pattern.
    """

    __slots__ = ('pattern',)

    def __init__(self, pattern):
        self.pattern = pattern

    def match(self, value):
        return not match_pattern(value, self.pattern)

    def __repr__(self):
        return 'no(%s)' % format_pattern(self.pattern)

    def __getstate__(self):
        return self.pattern

    def __setstate__(self, state):
        self.pattern = state


class sequence(Pattern):
    """(element=anything, container=list)
    Matches a value that matches container (a pattern, usually a type such
    as list, tuple, set or a tuple of them) and whose every element matches
    element.
    """

    __slots__ = ('element', 'container')

    def __init__(self, element=anything, container=list):
        self.element = element
        self.container = container

    def match(self, value):
        if not match_pattern(value, self.container):
            return False
        try:
            for item in value:
                if not match_pattern(item, self.element):
                    return False
        except TypeError:
            return False
        return True

    def __repr__(self):
        return 'sequence(%s, container=%s)' % (
            format_pattern(self.element), format_pattern(self.container))

    def __getstate__(self):
        return (self.element, self.container)

    def __setstate__(self, state):
        self.element, self.container = state


class mapping(Pattern):
    """(items:dict={anything: anything}, container=dict)
    Matches a value that matches container and each of whose (key, value)
    pairs matches at least one (key pattern, value pattern) entry of items.
    """

    __slots__ = ('items', 'container')

    def __init__(self, items=None, container=dict):
        if items is None:
            items = {anything: anything}
        self.items = tuple(dict(items).items())
        self.container = container

    def match(self, value):
        if not match_pattern(value, self.container):
            return False
        try:
            pairs = value.items()
        except (AttributeError, TypeError):
            return False
        for key, item in pairs:
            for key_pattern, value_pattern in self.items:
                if (match_pattern(key, key_pattern) and
                        match_pattern(item, value_pattern)):
                    break
            else:
                return False
        return True

    def __repr__(self):
        items = ', '.join('%s: %s' % (format_pattern(k), format_pattern(v))
                          for k, v in self.items)
        return 'mapping({%s}, container=%s)' % (
            items, format_pattern(self.container))

    def __getstate__(self):
        return (self.items, self.container)

    def __setstate__(self, state):
        self.items, self.container = state


class _String(Pattern):

    __slots__ = ()

    def match(self, value):
        return isinstance(value, str)

    def __repr__(self):
        return 'string'

    def __reduce__(self):
        return 'string'


string = _String()


class _Boolean(Pattern):

    __slots__ = ()

    def match(self, value):
        return value is True or value is False

    def __repr__(self):
        return 'boolean'

    def __reduce__(self):
        return 'boolean'


boolean = _Boolean()


class pattern(Pattern):
    """(regex:str|bytes, flags:int=0)
    Matches a str (or bytes, for a bytes regex) that the regular expression
    matches entirely (re.fullmatch).
    """

    __slots__ = ('regex', 'flags', 'compiled')

    def __init__(self, regex, flags=0):
        self.regex = regex
        self.flags = flags
        self.compiled = re.compile(regex, flags)

    def _search(self, value):
        return self.compiled.fullmatch(value)

    def match(self, value):
        if not isinstance(value, type(self.regex)):
            return False
        return self._search(value) is not None

    def __repr__(self):
        if self.flags:
            return '%s(%r, %r)' % (type(self).__name__, self.regex, self.flags)
        return '%s(%r)' % (type(self).__name__, self.regex)

    def __getstate__(self):
        return (self.regex, self.flags)

    def __setstate__(self, state):
        self.regex, self.flags = state
        self.compiled = re.compile(self.regex, self.flags)


class match(pattern):
    """(regex:str|bytes, flags:int=0)
    Matches a str (or bytes) that the regular expression matches at its
    start, as re.match does: anchor the end with `$` or `\\Z` if it matters.
    """

    __slots__ = ()

    def _search(self, value):
        return self.compiled.match(value)


class _DatetimeWithTz(Pattern):

    __slots__ = ()

    def match(self, value):
        return isinstance(value, datetime) and value.utcoffset() is not None

    def __repr__(self):
        return 'datetime_with_tz'

    def __reduce__(self):
        return 'datetime_with_tz'


datetime_with_tz = _DatetimeWithTz()


class _DatetimeWithoutTz(Pattern):

    __slots__ = ()

    def match(self, value):
        return isinstance(value, datetime) and value.utcoffset() is None

    def __repr__(self):
        return 'datetime_without_tz'

    def __reduce__(self):
        return 'datetime_without_tz'


datetime_without_tz = _DatetimeWithoutTz()


def _is_declaration(value):
    if isinstance(value, (type, tuple, Pattern)):
        return True
    if isinstance(value, (staticmethod, classmethod, property)):
        return False
    return not callable(value)


def get_specs(cls):
    """(cls:type) -> {str: pattern}
    The declared attributes of cls and its bases: every class attribute named
    `x_is` whose value is a pattern, keyed by `x`, in definition order (bases
    first).
    """
    specs = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if (name.endswith(SPEC_SUFFIX) and not name.startswith('_') and
                    len(name) > len(SPEC_SUFFIX) and _is_declaration(value)):
                specs[name[:-len(SPEC_SUFFIX)]] = value
    return specs


_MISSING = object()


def get_spec_problems(obj):
    """(obj) -> [str]
    One message for every declared attribute of obj that is missing or does
    not match its spec; empty when all is well.
    """
    problems = []
    for name, item in get_specs(type(obj)).items():
        value = getattr(obj, name, _MISSING)
        if value is _MISSING:
            problems.append('%s: missing (expected %s)' % (
                name, format_pattern(item)))
        elif not match_pattern(value, item):
            problems.append('%s: expected %s, got %s' % (
                name, format_pattern(item), _format_value(value)))
    return problems


def specify(obj, **kwargs):
    """(obj, **kwargs) -> None
    Check each keyword against the spec that obj's class declares for it and
    set it as an attribute.  An undeclared keyword is a TypeError.  Nothing
    is set unless every keyword passes.
    """
    specs = get_specs(type(obj))
    for name, value in kwargs.items():
        if name not in specs:
            raise TypeError('%s: no spec for %r (declare %s%s)' % (
                type(obj).__name__, name, name, SPEC_SUFFIX))
        require(value, specs[name], name)
    for name, value in kwargs.items():
        setattr(obj, name, value)


class Specified:
    """(**kwargs)
    A base class whose constructor checks each keyword against the declared
    spec and sets it: `User(name='ann')`.
    """

    __slots__ = ()

    def __init__(self, **kwargs):
        specify(self, **kwargs)


def _make_getter(name, item):
    def getter(self):
        return getattr(self, name)
    getter.__name__ = 'get_' + name
    getter.__doc__ = '() -> %s' % format_pattern(item)
    return getter


def _make_setter(name, item):
    spec_name = name + SPEC_SUFFIX

    def setter(self, value):
        require(value, getattr(type(self), spec_name, item), name)
        setattr(self, name, value)
    setter.__name__ = 'set_' + name
    setter.__doc__ = '(value:%s) -> None' % format_pattern(item)
    return setter


def _add_methods(cls, prefix, make):
    for name, item in get_specs(cls).items():
        method_name = prefix + name
        if not hasattr(cls, method_name):
            method = make(name, item)
            method.__qualname__ = '%s.%s' % (cls.__qualname__, method_name)
            method.__module__ = cls.__module__
            setattr(cls, method_name, method)
    return cls


def add_getters(cls):
    """(cls:type) -> cls
    Give cls a `get_x()` for every declared attribute `x` that does not
    already have one.  Usable as a class decorator.
    """
    return _add_methods(cls, 'get_', _make_getter)


def add_setters(cls):
    """(cls:type) -> cls
    Give cls a `set_x(value)` for every declared attribute `x` that does not
    already have one; it raises TypeError unless value matches the spec.
    Usable as a class decorator.
    """
    return _add_methods(cls, 'set_', _make_setter)


def add_getters_and_setters(cls):
    """(cls:type) -> cls
    add_getters(cls) and add_setters(cls).
    """
    return add_setters(add_getters(cls))
