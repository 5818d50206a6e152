"""QP compatibility: qp.lib.spec -> qpd.lib.spec, one test per entry of
docs/qp_api.md, pinning the contract QP's API states."""

import re
from datetime import datetime

import pytest
from durus.btree import BTree
from durus.persistent import Persistent

from qpd.lib import spec as S
from qpd.lib.spec import (
    SpecOperator, Specification, add_getters, add_getters_and_setters,
    add_setters, anything, ascii, boolean, both, charset, either, eq, equal,
    format_spec, get_spec, get_spec_doc, get_spec_problems, get_spec_report,
    get_specs, identifier_pattern, init, instance, interval, length, mapping,
    match, no, nspec, pattern, prefix_pattern, require, sequence, spec,
    specify, string, subclass, with_attribute)


def test_shorthands():
    # [s]: a list of s
    assert match([1, 2], [int]) and not match([1, 'a'], [int])
    assert not match((1,), [int])
    # (a, b) of specs: a fixed-length tuple
    assert match((1, 'a'), (int, str))
    assert not match((1, 2), (int, str)) and not match((1,), (int, str))
    # a tuple holding None or literals: alternatives
    assert match(None, (None, int)) and match(3, (None, int))
    assert match('b', ('a', 'b')) and not match('c', ('a', 'b'))
    # {k: v}: a dict whose items match some pair
    assert match({'a': 1}, {str: int}) and not match({'a': 'b'}, {str: int})
    assert not match([('a', 1)], {str: int})
    # a function: called with the value
    assert match(4, lambda value: value % 2 == 0)
    assert not match(3, lambda value: value % 2 == 0)


def test_match():
    assert match(1, int) is True
    assert match('x', int) is False
    assert match(3, 3) and not match(3, 4)


def test_require():
    require(1, int)
    with pytest.raises(TypeError) as info:
        require('x', int)
    assert 'int' in str(info.value) and "'x'" in str(info.value)
    with pytest.raises(TypeError) as info:
        require('x', int, message='the count')
    assert str(info.value).startswith('the count')


def test_format_spec():
    assert format_spec(int) == 'int'
    assert format_spec((None, int)) == '(None, int)'
    assert format_spec([int]) == '[int]'
    assert format_spec({str: int}) == '{str: int}'
    assert format_spec(sequence(int)) .startswith('sequence(int')
    # QP's canonical strings: each reads back as the spec
    for text in ('equal(1)', 'eq(1)', 'ascii', 'sequence(2, anything)',
                 'interval(2, 4)', 'interval(2)', 'interval()',
                 'interval(anything, 3)', 'length(1)', 'None', 'string',
                 '(int, str)', '[int]', '{int: str}', "'constant'",
                 'mapping({int: str}, dict)', 'either(int, str)'):
        assert format_spec(eval(text)) == text


def test_combinators_get_args():
    # QP's combinators are SpecOperators: get_args() is what they hold
    assert sequence().get_args() == (anything, anything)
    assert sequence(int, list).get_args() == (int, list)
    assert mapping({int: str}, dict).get_args() == ({int: str}, dict)
    assert either(int, str).get_args() == (int, str)
    assert interval(1).get_args() == (1, anything)
    assert string.get_args() == ()


def test_list_spec_by_position():
    # QP's: [s] is "each element matches s"; [s1, s2] a list of two,
    # matched position by position
    assert match([3, 'ok'], [int, str])
    assert not match([3, 'ok', 3], [int, str])
    assert not match(['ok', 3], [int, str])
    assert match([1, 2, 3], [int]) and match([], [int])
    assert not match([1, 'hello'], [str, str])


def test_spec_operator():
    class even(SpecOperator):
        def __call__(self, value):
            return isinstance(value, int) and value % 2 == 0

    class bigger(SpecOperator):
        def match(self, value):
            return value > self.get_args()[0]

    assert match(2, even()) and not match(3, even())
    assert match(5, bigger(4)) and not match(4, bigger(4))
    assert bigger(4).get_args() == (4,)
    assert bigger(4).format_args() == '4'
    assert even()(2) is True


def test_specification():
    s = Specification(int, 'a count')
    assert s.valid(3) and not s.valid('3')
    assert s.format_spec() == 'int'
    assert 'a count' in str(s)
    assert match(3, s)


def test_spec():
    s = spec(string, 'the name', 'of the thing')
    assert isinstance(s, Specification)
    assert s.get_doc() == 'the name of the thing'
    assert match('x', s) and not match(None, s)


def test_nspec():
    s = nspec(string, 'a name, or None')
    assert match(None, s) and match('x', s) and not match(3, s)


def test_anything():
    for value in (None, 0, 'x', object(), [1]):
        assert match(value, anything)


def test_either():
    assert match(1, either(int, str)) and match('a', either(int, str))
    assert not match(1.5, either(int, str))


def test_both():
    assert match(3, both(int, interval(1, 5)))
    assert not match(7, both(int, interval(1, 5)))


def test_no():
    assert match('x', no(int, None))
    assert not match(None, no(int, None)) and not match(3, no(int, None))


def test_sequence():
    assert match([1, 2], sequence(int)) and match((1, 2), sequence(int))
    assert match({1, 2}, sequence(int, set)) and not match([1], sequence(int, set))
    assert not match([1, 'a'], sequence(int))
    assert match([], sequence())


def test_mapping():
    assert match({'a': 1}, mapping({str: int}))
    assert not match({'a': 'b'}, mapping({str: int}))
    tree = BTree()
    tree['a'] = 1
    assert match(tree, mapping({str: int}))          # any container by default
    assert not match(tree, mapping({str: int}, dict))
    assert match({1: [2]}, mapping())


def test_subclass():
    class A:
        pass

    class B(A):
        pass
    assert match(B, subclass(A)) and match(A, subclass(A))
    assert not match(B(), subclass(A)) and not match(int, subclass(A))


def test_instance():
    class Widget:
        pass

    class Special(Widget):
        pass
    assert match(Special(), instance('Widget'))
    assert not match(3, instance('Widget'))


def test_interval():
    assert match(3, interval(1, 5)) and match(1, interval(1, 5))
    assert not match(6, interval(1, 5))
    assert match(100, interval(1)) and match(-100, interval(max=0))
    assert not match('x', interval(1, 5))


def test_length():
    assert match('abc', length(1, 3)) and not match('abcd', length(1, 3))
    assert match('x' * 100, length(1)) and not match('', length(1))
    assert not match(3, length(1))


def test_eq():
    thing = [1]
    assert match(thing, eq(thing)) and not match([1], eq(thing))


def test_equal():
    assert match([1], equal([1])) and not match([2], equal([1]))


def test_boolean():
    for value in (True, False, 0, 1):
        assert match(value, boolean)
    for value in (2, None, 'True', 1.0):
        assert not match(value, boolean)


def test_charset():
    assert match('café', charset('latin-1'))
    assert not match('日本', charset('latin-1'))
    assert match(b'caf\xe9', charset('latin-1'))
    assert not match(3, charset('ascii'))


def test_ascii():
    assert match('plain', ascii) and not match('café', ascii)


def test_string():
    assert match('x', string) and not match(b'x', string) and not match(1, string)


def test_pattern():
    assert match('abc', pattern('[a-z]+'))
    assert not match('abc1', pattern('[a-z]+'))   # qpd: the whole string
    assert match('abc1', prefix_pattern('[a-z]+'))  # QP's start-only match
    assert match('ABC', pattern('[a-z]+', re.I))
    assert not match(None, pattern('x'))


def test_identifier_pattern():
    assert match('_name1', identifier_pattern)
    assert not match('1name', identifier_pattern)
    assert not match('a-b', identifier_pattern)


def test_with_attribute():
    class Point:
        x = 1
        y = 'two'
    assert match(Point(), with_attribute(x=int))
    assert not match(Point(), with_attribute(y=int))
    assert not match(Point(), with_attribute(z=anything))


class Thing:
    name_is = spec(string, 'what it is called')
    size_is = (None, int)
    even_is = lambda value: value % 2 == 0   # noqa: E731 - QP's callable spec


def test_get_spec():
    assert get_spec(Thing, 'name') is Thing.__dict__['name_is']
    assert get_spec(Thing, 'size') == (None, int)
    assert callable(get_spec(Thing, 'even'))
    assert get_spec(Thing, 'colour') is None


def test_get_specs():
    specs = get_specs(Thing)
    assert list(specs) == ['name', 'size', 'even']


def test_get_spec_problems():
    thing = Thing()
    thing.name, thing.size, thing.even = 'a', None, 4
    assert get_spec_problems(thing) == []
    thing.even = 3
    thing.colour = 'red'
    problems = get_spec_problems(thing)
    assert len(problems) == 2
    assert problems[0].startswith('even') and 'colour' in problems[1]
    everything = {'name': string, 'size': anything, 'even': anything,
                  'colour': string}
    assert get_spec_problems(thing, specs=everything) == []
    del thing.name
    assert any(p.startswith('name') for p in get_spec_problems(thing))


def test_get_spec_doc():
    doc = get_spec_doc(Thing)
    lines = doc.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith('name: string') and 'what it is called' in lines[0]


def test_get_spec_report():
    assert get_spec_report([]) is None
    good = []
    for n in range(3):
        thing = Thing()
        thing.name, thing.size, thing.even = 'n%d' % n, n, 2
        good.append(thing)
    assert '3' in get_spec_report(good)
    bad = Thing()
    bad.name, bad.size, bad.even = 5, None, 2
    report = get_spec_report(good + [bad])
    assert 'name' in report and '#4' in report


def test_specify():
    thing = Thing()
    specify(thing, name='a', size=3)
    assert (thing.name, thing.size) == ('a', 3)
    with pytest.raises(TypeError):
        specify(thing, size='big')
    with pytest.raises(AttributeError):      # QP: an undeclared name
        specify(thing, colour='red')
    assert thing.size == 3


def test_init():
    thing = Thing()
    init(thing, name='a')
    assert thing.name == 'a' and thing.size is None and thing.even is None


def test_add_getters():
    class A:
        x_is = int
    add_getters(A)
    a = A()
    a.x = 3
    assert a.get_x() == 3 and not hasattr(A, 'set_x')


def test_add_setters():
    class A:
        x_is = int
    add_setters(A)
    a = A()
    a.set_x(4)
    assert a.x == 4
    with pytest.raises(TypeError):
        a.set_x('4')


def test_add_getters_and_setters():
    class Stored(Persistent):
        when_is = datetime
    add_getters_and_setters(Stored)
    stored = Stored()
    now = datetime(2024, 1, 1)
    stored.set_when(now)
    assert stored.get_when() is now
    assert S.get_specs(Stored) == {'when': datetime}
