"""qpd.lib.spec: declaring and checking what an attribute may hold.

A class declares an attribute `x` with a class attribute named `x_is`:

    class User(Persistent):
        name_is = spec(string, "the user's name")
        email_is = spec((None, string), "where to write, if anywhere")
        roles_is = sequence(string, container=set)

The value of `x_is` is a pattern (or a `spec(pattern, doc)` wrapping one).
Patterns are QP's specs, with QP's meaning:

- a type (class): the value is an instance of it;
- a `Pattern` instance (the combinators below; `SpecOperator` is QP's name
  for their base): calling it with the value decides;
- a tuple: when it holds None or a str/bytes/number literal, a disjunction
  (the value matches at least one item: `(None, string)`); otherwise a
  fixed-length tuple whose items match position by position (`(int, str)`
  is a pair); `either(int, str)` says "int or str" whatever the items are;
- a list `[s]`: a list whose every element matches `s`; a list of
  several patterns (`[int, str]`), as in QP, a list of that length whose
  items match position by position (`sequence(either(int, str), list)` is
  "each element an int or a str");
- a dict `{k: v}`: a dict whose every item matches some (k, v) pair;
- any other callable (a function): called with the value, true means match;
- anything else is a literal: the value equals it (`None` is a handy one;
  `True` does not count as equal to `1`, nor `1` to `True`).

`match(value, spec)` is QP's name for the test, `match_pattern` qpd's.

`require(value, pattern)` raises a TypeError that says what was expected and
what came; `get_spec_problems(obj)` lists every declared attribute whose value
does not match.  `add_getters_and_setters(cls)` writes `get_x`/`set_x`
methods, and `Specified` is a base class whose `__init__(**kwargs)` checks and
sets declared attributes.  All of it works on Durus `Persistent` subclasses.
"""

import re
from datetime import datetime

__all__ = [
    'Pattern', 'SpecOperator', 'Spec', 'Specification', 'spec', 'nspec',
    'match', 'match_pattern', 'format_spec', 'format_pattern', 'require',
    'get_spec', 'get_specs', 'get_spec_problems', 'get_spec_doc',
    'get_spec_report', 'specify', 'init', 'Specified',
    'add_getters', 'add_setters', 'add_getters_and_setters',
    'anything', 'either', 'both', 'no', 'sequence', 'mapping', 'string',
    'boolean', 'pattern', 'prefix_pattern', 'identifier_pattern',
    'subclass', 'instance', 'interval', 'length', 'eq', 'equal',
    'charset', 'ascii', 'with_attribute', 'UndeclaredAttributeError',
    'datetime_with_tz', 'datetime_without_tz',
]

SPEC_SUFFIX = '_is'


class Pattern:
    """The base of the combinators: a subclass defines match() (or, as QP's
    spec operators did, __call__()) and __repr__().
    """

    __slots__ = ()

    def match(self, value):
        """(value) -> bool"""
        raise NotImplementedError

    def __call__(self, value):
        """(value) -> bool: QP's spelling of match()."""
        return self.match(value)

    def get_args(self):
        """() -> tuple
        What the pattern was made of (QP's SpecOperator.get_args): its
        pickled state, as a tuple.
        """
        if type(self).__getstate__ is object.__getstate__:
            return ()
        state = self.__getstate__()
        return state if isinstance(state, tuple) else (state,)

    def __repr__(self):
        return self.__class__.__name__


class SpecOperator(Pattern):
    """(*args)
    QP's base class for spec combinators: keeps its arguments, formats
    them, and decides in `__call__(value)` (or `match(value)`).
    """

    def __init__(self, *args):
        self.args = args

    def get_args(self):
        """() -> tuple"""
        return self.args

    def format_args(self):
        """() -> str"""
        return ', '.join(format_pattern(arg) for arg in self.args)

    def __repr__(self):
        return '%s(%s)' % (self.__class__.__name__, self.format_args())


_LITERAL_TYPES = (str, bytes, int, float, complex)


def _is_disjunction(pattern):
    """(pattern:tuple) -> bool
    QP's rule: a tuple holding None or a literal lists alternatives;
    a tuple of specs only describes a fixed-length tuple.
    """
    for item in pattern:
        if item is None or isinstance(item, _LITERAL_TYPES):
            return True
    return False


def match_pattern(value, pattern):
    """(value, pattern) -> bool
    Does value match pattern (a type, Pattern, tuple, list, dict, callable,
    or literal; see the module docstring)?
    """
    if isinstance(pattern, type):
        return isinstance(value, pattern)
    if isinstance(pattern, Pattern):
        return bool(pattern(value))
    if isinstance(pattern, tuple):
        if _is_disjunction(pattern):
            for alternative in pattern:
                if match_pattern(value, alternative):
                    return True
            return False
        if not isinstance(value, tuple) or len(value) != len(pattern):
            return False
        for item, item_pattern in zip(value, pattern):
            if not match_pattern(item, item_pattern):
                return False
        return True
    if isinstance(pattern, list):
        if not isinstance(value, list):
            return False
        if len(pattern) == 1:
            return all(match_pattern(item, pattern[0]) for item in value)
        return len(value) == len(pattern) and all(
            match_pattern(item, item_pattern)
            for item, item_pattern in zip(value, pattern))
    if isinstance(pattern, dict):
        return isinstance(value, dict) and _match_items(value.items(), pattern.items())
    if value is pattern:
        return True
    if callable(pattern):
        return bool(pattern(value))
    if isinstance(value, bool) != isinstance(pattern, bool):
        return False
    try:
        return bool(value == pattern)
    except Exception:
        return False


match = match_pattern  # QP's name


def _match_items(pairs, item_patterns):
    """Does every (key, value) pair match at least one (key, value) pattern?"""
    item_patterns = tuple(item_patterns)
    for key, item in pairs:
        for key_pattern, value_pattern in item_patterns:
            if (match_pattern(key, key_pattern) and
                    match_pattern(item, value_pattern)):
                break
        else:
            return False
    return True


def format_pattern(pattern):
    """(pattern) -> str
    A short description of pattern, for error messages and documentation.
    """
    if isinstance(pattern, type):
        if pattern.__module__ in ('builtins', '__builtin__'):
            return pattern.__name__
        return pattern.__qualname__
    if isinstance(pattern, tuple):
        return '(%s%s)' % (', '.join(format_pattern(p) for p in pattern),
                           ',' if len(pattern) == 1 else '')
    if isinstance(pattern, list):
        return '[%s]' % ', '.join(format_pattern(p) for p in pattern)
    if isinstance(pattern, dict):
        return '{%s}' % ', '.join('%s: %s' % (format_pattern(k), format_pattern(v))
                                  for k, v in pattern.items())
    if callable(pattern) and not isinstance(pattern, Pattern):
        return getattr(pattern, '__qualname__', None) or repr(pattern)
    return repr(pattern)


format_spec = format_pattern  # QP's name


def _format_value(value, limit=60):
    text = repr(value)
    if len(text) > limit:
        text = text[:limit - 3] + '...'
    return '%s (%s)' % (text, type(value).__name__)


def require(value, pattern, name=None, message=None):
    """(value, pattern, name:str=None, message:str=None) -> None
    Raise TypeError unless value matches pattern.  The message names the
    attribute (when name is given), the expected pattern, and the value's
    type; message (QP's keyword) is put in front like name.
    """
    name = name or message
    if not match_pattern(value, pattern):
        message = 'expected %s, got %s' % (
            format_pattern(pattern), _format_value(value))
        if name:
            message = '%s: %s' % (name, message)
        raise TypeError(message)


class Spec(Pattern):
    """(pattern, doc:str='')
    A pattern with its documentation: what `spec(pattern, doc)` returns
    (QP's Specification).
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

    valid = match  # QP's name

    def format_spec(self):
        """() -> str: the readable text of the pattern."""
        return format_pattern(self.pattern)

    def __str__(self):
        if self.doc:
            return '%s: %s' % (format_pattern(self.pattern), self.doc)
        return format_pattern(self.pattern)

    def __repr__(self):
        return format_pattern(self.pattern)

    def __getstate__(self):
        return (self.pattern, self.doc)

    def __setstate__(self, state):
        self.pattern, self.doc = state


Specification = Spec  # QP's name


def spec(pattern, *docs, doc=''):
    """(pattern, *docs:str, doc:str='') -> Spec
    Declare an attribute in a class body: `name_is = spec(string, "a name")`.
    Several doc strings (QP wrote long docs as several lines) are joined
    with spaces.
    """
    return Spec(pattern, ' '.join(docs + ((doc,) if doc else ())))


def nspec(pattern, *docs, doc=''):
    """(pattern, *docs:str, doc:str='') -> Spec
    spec(), also accepting None.
    """
    return spec(either(None, pattern), *docs, doc=doc)


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
        for item in self.patterns:
            if match_pattern(value, item):
                return True
        return False

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
    """(*patterns)
    Matches a value that matches none of patterns.
    """

    __slots__ = ('pattern',)

    def __init__(self, *patterns):
        self.pattern = patterns[0] if len(patterns) == 1 else either(*patterns)

    def match(self, value):
        return not match_pattern(value, self.pattern)

    def __repr__(self):
        if isinstance(self.pattern, either):
            return 'no(%s)' % ', '.join(map(format_pattern, self.pattern.patterns))
        return 'no(%s)' % format_pattern(self.pattern)

    def __getstate__(self):
        return self.pattern

    def __setstate__(self, state):
        self.pattern = state


_UNSET = object()


class sequence(Pattern):
    """(element_spec=anything, container_spec=anything)
    Matches a value that matches container_spec (usually a type such as
    list, tuple, set or `either` of them) and whose every element matches
    element_spec. `element=` and `container=` are accepted as keywords too.
    """

    __slots__ = ('element', 'container')

    def __init__(self, element_spec=anything, container_spec=anything,
                 element=_UNSET, container=_UNSET):
        self.element = element_spec if element is _UNSET else element
        self.container = container_spec if container is _UNSET else container

    def match(self, value):
        if not match_pattern(value, self.container):
            return False
        if isinstance(value, (str, bytes)) and self.container is anything:
            return False  # text is not a sequence of items
        try:
            for item in value:
                if not match_pattern(item, self.element):
                    return False
        except TypeError:
            return False
        return True

    def __repr__(self):
        return 'sequence(%s, %s)' % (
            format_pattern(self.element), format_pattern(self.container))

    def __getstate__(self):
        return (self.element, self.container)

    def __setstate__(self, state):
        self.element, self.container = state


class mapping(Pattern):
    """(dict_spec={anything: anything}, container_spec=anything)
    Matches a value that matches container_spec (dict, BTree, ...) and each
    of whose (key, value) pairs matches at least one (key pattern, value
    pattern) entry of dict_spec. `items=` and `container=` are accepted as
    keywords too.
    """

    __slots__ = ('items', 'container')

    def __init__(self, dict_spec=None, container_spec=anything,
                 items=_UNSET, container=_UNSET):
        if items is not _UNSET:
            dict_spec = items
        if dict_spec is None or dict_spec is anything:
            dict_spec = {anything: anything}
        self.items = tuple(dict(dict_spec).items())
        self.container = container_spec if container is _UNSET else container

    def match(self, value):
        if not match_pattern(value, self.container):
            return False
        try:
            pairs = list(value.items())
        except (AttributeError, TypeError):
            return False
        return _match_items(pairs, self.items)

    def __repr__(self):
        items = ', '.join('%s: %s' % (format_pattern(k), format_pattern(v))
                          for k, v in self.items)
        return 'mapping({%s}, %s)' % (items, format_pattern(self.container))

    def get_args(self):
        """() -> (dict_spec:dict, container_spec)"""
        return (dict(self.items), self.container)

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
        # QP's boolean: True, False, and the ints 0 and 1 older data holds.
        return value is True or value is False or (
            type(value) is int and value in (0, 1))

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


class prefix_pattern(pattern):
    """(regex:str|bytes, flags:int=0)
    Matches a str (or bytes) that the regular expression matches at its
    start, as re.match does (QP's `pattern`): anchor the end with `$` or
    `\\Z` if it matters.
    """

    __slots__ = ()

    def _search(self, value):
        return self.compiled.match(value)


identifier_pattern = pattern(r'[A-Za-z_][A-Za-z0-9_]*')


class subclass(Pattern):
    """(klass:type)
    Matches a class that is klass or a subclass of it.
    """

    __slots__ = ('klass',)

    def __init__(self, klass):
        self.klass = klass

    def match(self, value):
        return isinstance(value, type) and issubclass(value, self.klass)

    def __repr__(self):
        return 'subclass(%s)' % format_pattern(self.klass)

    def __getstate__(self):
        return self.klass

    def __setstate__(self, state):
        self.klass = state


class instance(Pattern):
    """(klass_name:str)
    Matches an instance of a class named klass_name, or of a class with a
    base of that name (for classes that cannot be imported where the spec
    is written).
    """

    __slots__ = ('klass_name',)

    def __init__(self, klass_name):
        self.klass_name = klass_name

    def match(self, value):
        for klass in type(value).__mro__:
            if klass.__name__ == self.klass_name:
                return True
        return False

    def __repr__(self):
        return 'instance(%r)' % self.klass_name

    def __getstate__(self):
        return self.klass_name

    def __setstate__(self, state):
        self.klass_name = state


def _compare(low, value, high):
    """low <= value <= high, bounds `anything`/None skipped; False when the
    values do not compare."""
    try:
        if low is not anything and low is not None and not low <= value:
            return False
        if high is not anything and high is not None and not value <= high:
            return False
    except TypeError:
        return False
    return True


class interval(Pattern):
    """(min=anything, max=anything)
    Matches a value with min <= value <= max (a bound left as `anything`
    is open).
    """

    __slots__ = ('min', 'max')

    def __init__(self, min=anything, max=anything):
        self.min = min
        self.max = max

    def match(self, value):
        return _compare(self.min, value, self.max)

    def format_args(self):
        """() -> str: the bounds, as QP writes them (an open upper bound,
        then an open lower one, left out)"""
        if self.max is anything:
            return '' if self.min is anything else format_pattern(self.min)
        return '%s, %s' % (format_pattern(self.min), format_pattern(self.max))

    def __repr__(self):
        return '%s(%s)' % (type(self).__name__, self.format_args())

    def __getstate__(self):
        return (self.min, self.max)

    def __setstate__(self, state):
        self.min, self.max = state


class length(interval):
    """(min=anything, max=anything)
    Matches a value whose len() lies within min and max (given only min,
    at least min).
    """

    __slots__ = ()

    def match(self, value):
        try:
            size = len(value)
        except TypeError:
            return False
        return _compare(self.min, size, self.max)


class eq(Pattern):
    """(value)
    Matches the very object value (identity, `is`).
    """

    __slots__ = ('value',)

    def __init__(self, value):
        self.value = value

    def match(self, value):
        return value is self.value

    def __repr__(self):
        return '%s(%r)' % (type(self).__name__, self.value)

    def __getstate__(self):
        return self.value

    def __setstate__(self, state):
        self.value = state


class equal(eq):
    """(value)
    Matches a value equal (==) to value.
    """

    __slots__ = ()

    def match(self, value):
        try:
            return bool(value == self.value)
        except Exception:
            return False


class charset(Pattern):
    """(name:str)
    Matches a str that the named charset can encode (or bytes it can
    decode).
    """

    __slots__ = ('name',)

    def __init__(self, name):
        self.name = name

    def match(self, value):
        try:
            if isinstance(value, str):
                value.encode(self.name)
            elif isinstance(value, bytes):
                value.decode(self.name)
            else:
                return False
        except (UnicodeError, LookupError):
            return False
        return True

    def __repr__(self):
        return self.name            # QP's: `ascii` reads 'ascii'

    def __getstate__(self):
        return self.name

    def __setstate__(self, state):
        self.name = state


ascii = charset('ascii')


class with_attribute(Pattern):
    """(**attribute_specs)
    Matches a value whose named attributes all exist and match their specs.
    """

    __slots__ = ('attribute_specs',)

    def __init__(self, **attribute_specs):
        self.attribute_specs = attribute_specs

    def match(self, value):
        for name, item in self.attribute_specs.items():
            attribute = getattr(value, name, _UNSET)
            if attribute is _UNSET or not match_pattern(attribute, item):
                return False
        return True

    def __repr__(self):
        return 'with_attribute(%s)' % ', '.join(
            '%s=%s' % (name, format_pattern(item))
            for name, item in self.attribute_specs.items())

    def __getstate__(self):
        return self.attribute_specs

    def __setstate__(self, state):
        self.attribute_specs = state


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
    # Every `x_is` class attribute is a spec (a function too: QP's callable
    # specs), except the descriptors nobody writes as one.
    return not isinstance(value, (staticmethod, classmethod, property))


def get_spec(klass, name):
    """(klass:type, name:str) -> pattern | None
    The spec klass (or a base) declares for attribute `name`, as written in
    the class body (a function stays a function), or None.
    """
    for base in klass.__mro__:
        value = vars(base).get(name + SPEC_SUFFIX, _UNSET)
        if value is not _UNSET and _is_declaration(value):
            return value
    return None


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


def get_spec_problems(obj, specs=None):
    """(obj, specs:dict=None) -> [str]
    One message for every declared attribute of obj that is missing or does
    not match its spec, and for every instance attribute that has no spec;
    empty when all is well. specs defaults to get_specs(type(obj)).
    """
    if specs is None:
        specs = get_specs(type(obj))
    problems = []
    for name, item in specs.items():
        value = getattr(obj, name, _MISSING)
        if value is _MISSING:
            problems.append('%s: missing (expected %s)' % (
                name, format_pattern(item)))
        elif not match_pattern(value, item):
            problems.append('%s: expected %s, got %s' % (
                name, format_pattern(item), _format_value(value)))
    for name in sorted(getattr(obj, '__dict__', ())):
        if name not in specs and not name.startswith(('_p_', '_v_')):
            problems.append('%s: unspecified (declare %s%s)' % (
                name, name, SPEC_SUFFIX))
    return problems


def get_spec_doc(klass):
    """(klass:type) -> str
    One line per declared attribute: its name, spec and documentation.
    """
    lines = []
    for name, item in get_specs(klass).items():
        line = '%s: %s' % (name, format_pattern(item))
        doc = item.get_doc() if isinstance(item, Spec) else ''
        if doc:
            line += '  # ' + doc
        lines.append(line)
    return '\n'.join(lines)


def get_spec_report(instances):
    """(instances:iterable) -> str | None
    Checks instances (of one class): the problems of the first instance
    that has any, else how many were checked, or None when there were none.
    """
    count = 0
    klass_name = None
    for count, obj in enumerate(instances, 1):
        klass_name = type(obj).__name__
        problems = get_spec_problems(obj)
        if problems:
            return '%s #%d (%r):\n  %s' % (
                klass_name, count, obj, '\n  '.join(problems))
    if not count:
        return None
    return '%d good %s instance%s' % (count, klass_name, '' if count == 1 else 's')


class UndeclaredAttributeError(AttributeError, TypeError):
    """specify() was given a name the class does not declare (an
    AttributeError, as QP raised, and a TypeError, as qpd did)."""


def specify(obj, **kwargs):
    """(obj, **kwargs) -> None
    Check each keyword against the spec that obj's class declares for it and
    set it as an attribute.  An undeclared keyword is an
    UndeclaredAttributeError; a mismatch a TypeError.  Nothing is set unless
    every keyword passes.
    """
    specs = get_specs(type(obj))
    for name, value in kwargs.items():
        if name not in specs:
            raise UndeclaredAttributeError('%s: no spec for %r (declare %s%s)' % (
                type(obj).__name__, name, name, SPEC_SUFFIX))
        require(value, specs[name], name)
    for name, value in kwargs.items():
        setattr(obj, name, value)


def init(obj, **kwargs):
    """(obj, **kwargs) -> None
    Set every declared attribute of obj to None, then specify(obj, **kwargs).
    """
    for name in get_specs(type(obj)):
        setattr(obj, name, None)
    specify(obj, **kwargs)


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
