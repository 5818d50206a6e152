"""qpd.lib.spec: patterns, combinators, require, problems, accessors."""

import pickle
import re
from datetime import datetime, timezone

import pytest
from durus.connection import Connection
from durus.file_storage import FileStorage
from durus.persistent import Persistent

from qpd.lib.spec import (
    Pattern, Spec, Specified, add_getters, add_getters_and_setters,
    add_setters, anything, both, boolean, datetime_with_tz,
    datetime_without_tz, either, format_pattern, get_spec_problems, get_specs,
    mapping, match, match_pattern, prefix_pattern, no, pattern, require, sequence, spec,
    specify, string)


def test_type_patterns():
    assert match_pattern(3, int)
    assert not match_pattern('3', int)
    assert match_pattern(True, int)  # isinstance, as Python says
    assert match_pattern(3.0, float)
    assert match_pattern([], object)


def test_tuple_of_alternatives():
    assert match_pattern(None, (None, int))
    assert match_pattern(3, (None, int))
    assert not match_pattern('x', (None, int))
    assert match_pattern('b', ('a', 'b'))
    assert not match_pattern('c', ('a', 'b'))
    assert not match_pattern(1, ())


def test_literal_values():
    assert match_pattern(None, None)
    assert not match_pattern(0, None)
    assert match_pattern('red', 'red')
    assert not match_pattern('Red', 'red')
    assert match_pattern(1, 1)
    assert not match_pattern(True, 1)
    assert not match_pattern(1, True)
    assert match_pattern(True, True)
    assert not match_pattern(0, False)


def test_anything():
    for value in (None, 0, '', object(), [1]):
        assert match_pattern(value, anything)
    assert repr(anything) == 'anything'


def test_either():
    p = either(int, str)
    assert match_pattern(1, p)
    assert match_pattern('a', p)
    assert not match_pattern(1.5, p)
    assert repr(p) == 'either(int, str)'
    assert not match_pattern(1, either())


def test_both():
    p = both(int, no(bool))
    assert match_pattern(1, p)
    assert not match_pattern(True, p)
    assert not match_pattern('1', p)
    assert repr(p) == 'both(int, no(bool))'
    assert match_pattern('anything at all', both())


def test_no():
    assert match_pattern(1, no(None))
    assert not match_pattern(None, no(None))
    assert match_pattern('x', no(int))
    assert repr(no(None)) == 'no(None)'


def test_sequence():
    p = sequence(int)
    assert match_pattern([], p)
    assert match_pattern([1, 2], p)
    assert not match_pattern([1, 'a'], p)
    assert match_pattern((1, 2), p)  # QP: any container by default
    assert not match_pattern((1, 2), sequence(int, list))
    assert match_pattern((1, 2), sequence(int, tuple))
    assert match_pattern({'a'}, sequence(string, container=either(set, frozenset)))
    assert match_pattern(frozenset(), sequence(string, either(set, frozenset)))
    assert not match_pattern('abc', sequence(string))
    assert match_pattern([None, 1], sequence((None, int)))
    assert match_pattern([[1], []], sequence(sequence(int)))
    assert match_pattern(['x', 3], sequence())
    assert repr(p) == 'sequence(int, anything)'


def test_mapping():
    p = mapping({string: int})
    assert match_pattern({}, p)
    assert match_pattern({'a': 1}, p)
    assert not match_pattern({'a': 'b'}, p)
    assert not match_pattern({1: 1}, p)
    assert not match_pattern([('a', 1)], p)
    several = mapping({string: int, int: string})
    assert match_pattern({'a': 1, 2: 'b'}, several)
    assert not match_pattern({'a': 'b'}, several)
    assert match_pattern({1: [2]}, mapping())

    class MyDict(dict):
        pass
    assert match_pattern(MyDict(a=1), p)
    assert not match_pattern({'a': 1}, mapping({string: int}, MyDict))
    assert repr(p) == 'mapping({string: int}, anything)'


def test_string():
    assert match_pattern('', string)
    assert match_pattern('é', string)
    assert not match_pattern(b'x', string)
    assert not match_pattern(None, string)
    assert repr(string) == 'string'


def test_boolean():
    assert match_pattern(True, boolean)
    assert match_pattern(False, boolean)
    assert match_pattern(1, boolean) and match_pattern(0, boolean)  # QP
    assert not match_pattern(2, boolean)
    assert not match_pattern(None, boolean)
    assert repr(boolean) == 'boolean'


def test_pattern_matches_whole_value():
    p = pattern(r'[a-z]+')
    assert match_pattern('abc', p)
    assert not match_pattern('abc1', p)
    assert not match_pattern('1abc', p)
    assert not match_pattern(3, p)
    assert not match_pattern(b'abc', p)
    assert match_pattern(b'abc', pattern(rb'[a-z]+'))
    assert match_pattern('ABC', pattern('[a-z]+', re.I))
    assert repr(p) == "pattern('[a-z]+')"


def test_prefix_pattern_matches_at_start():
    p = prefix_pattern(r'[a-z]+')
    assert match_pattern('abc1', p)
    assert not match_pattern('1abc', p)
    assert not match_pattern(None, p)
    assert not match_pattern('abc1', prefix_pattern(r'[a-z]+$'))
    assert repr(p) == "prefix_pattern('[a-z]+')"
    assert match('abc', p) is True  # match is QP's match(value, spec)


def test_datetime_patterns():
    aware = datetime(2024, 1, 2, tzinfo=timezone.utc)
    naive = datetime(2024, 1, 2)
    assert match_pattern(aware, datetime_with_tz)
    assert not match_pattern(naive, datetime_with_tz)
    assert not match_pattern('2024-01-02', datetime_with_tz)
    assert match_pattern(naive, datetime_without_tz)
    assert not match_pattern(aware, datetime_without_tz)
    assert repr(datetime_with_tz) == 'datetime_with_tz'


def test_spec_wraps_pattern_and_doc():
    s = spec((None, string), 'a name')
    assert isinstance(s, Spec) and isinstance(s, Pattern)
    assert s.get_pattern() == (None, string)
    assert s.get_doc() == 'a name'
    assert match_pattern(None, s)
    assert not match_pattern(3, s)
    assert repr(s) == '(None, string)'


def test_patterns_pickle():
    for p in (anything, string, boolean, datetime_with_tz,
              either(int, None), both(int, no(bool)), sequence(string, tuple),
              mapping({string: int}), pattern('a+', re.I), prefix_pattern('b'),
              spec(sequence(int), 'numbers')):
        copy = pickle.loads(pickle.dumps(p, 2))
        assert repr(copy) == repr(p)
    assert pickle.loads(pickle.dumps(anything)) is anything
    assert pickle.loads(pickle.dumps(string)) is string
    assert match_pattern('AA', pickle.loads(pickle.dumps(pattern('a+', re.I))))


def test_format_pattern():
    assert format_pattern(int) == 'int'
    assert format_pattern((None, int)) == '(None, int)'
    assert format_pattern('red') == "'red'"
    assert format_pattern(datetime) == 'datetime'


def test_require_passes_and_fails():
    require(3, int)
    require(None, (None, int))
    with pytest.raises(TypeError) as info:
        require('3', int)
    assert str(info.value) == "expected int, got '3' (str)"
    with pytest.raises(TypeError) as info:
        require(3.5, sequence(int), 'numbers')
    message = str(info.value)
    assert message.startswith('numbers: expected sequence(int')
    assert message.endswith('got 3.5 (float)')


def test_require_shortens_long_values():
    with pytest.raises(TypeError) as info:
        require('x' * 1000, int, 'n')
    assert len(str(info.value)) < 120
    assert '(str)' in str(info.value)


class Base:
    name_is = spec(string, 'a name')
    age_is = int
    name = ''
    age = 0

    @staticmethod
    def this_is():  # a static method named like a spec is not a spec
        return 1


class Derived(Base):
    age_is = spec((None, int), 'maybe an age')
    tags_is = sequence(string)
    tags = ()


def test_get_specs():
    specs = get_specs(Derived)
    assert list(specs) == ['name', 'age', 'tags']
    assert specs['name'] is Base.name_is
    assert specs['age'] is Derived.age_is
    assert 'this' not in specs


def test_get_spec_problems():
    obj = Derived()
    problems = get_spec_problems(obj)
    assert problems == []
    Derived.tags_is = sequence(string, list)
    try:
        assert get_spec_problems(obj) == [
            "tags: expected sequence(string, list), got () (tuple)"]
    finally:
        Derived.tags_is = sequence(string)
    obj.tags = ['a']
    obj.age = None
    assert get_spec_problems(obj) == []
    obj.name = 5
    obj.age = 'x'
    assert get_spec_problems(obj) == [
        'name: expected string, got 5 (int)',
        "age: expected (None, int), got 'x' (str)"]


def test_get_spec_problems_reports_missing():
    class Thing:
        size_is = int
    assert get_spec_problems(Thing()) == ['size: missing (expected int)']


@add_getters_and_setters
class Point:
    x_is = spec(int, 'across')
    y_is = spec(int, 'down')

    def __init__(self):
        self.x = self.y = 0

    def get_y(self):
        return 'own getter'


def test_generated_getters_and_setters():
    point = Point()
    point.set_x(3)
    assert point.get_x() == 3
    assert point.x == 3
    point.set_y(4)
    assert point.y == 4
    assert point.get_y() == 'own getter'   # existing methods are kept
    assert Point.get_x.__doc__ == '() -> int'
    assert Point.set_x.__doc__ == '(value:int) -> None'
    assert Point.set_x.__name__ == 'set_x'
    assert Point.set_x.__qualname__ == 'Point.set_x'


def test_generated_setter_names_attribute_spec_and_type():
    point = Point()
    with pytest.raises(TypeError) as info:
        point.set_x('3')
    assert str(info.value) == "x: expected int, got '3' (str)"
    assert point.x == 0


def test_add_getters_and_add_setters_separately():
    class A:
        a_is = string
    assert add_getters(A) is A
    assert hasattr(A, 'get_a') and not hasattr(A, 'set_a')
    add_setters(A)
    obj = A()
    obj.set_a('v')
    assert obj.get_a() == 'v'


def test_setter_uses_subclass_spec():
    class A:
        v_is = int
    add_setters(A)

    class B(A):
        v_is = either(int, str)
    B().set_v('ok')
    with pytest.raises(TypeError):
        A().set_v('no')


class Person(Specified):
    name_is = spec(string, 'the name')
    age_is = spec((None, int), 'the age')
    age = None


def test_specified_checks_keywords():
    person = Person(name='Ann', age=30)
    assert person.name == 'Ann' and person.age == 30
    assert get_spec_problems(person) == []
    with pytest.raises(TypeError) as info:
        Person(name=3)
    assert str(info.value) == 'name: expected string, got 3 (int)'
    with pytest.raises(TypeError) as info:
        Person(name='a', colour='red')
    assert 'colour' in str(info.value)
    assert get_spec_problems(Person()) == [
        'name: missing (expected string)']


def test_specify_sets_nothing_on_failure():
    person = Person(name='a')
    with pytest.raises(TypeError):
        specify(person, name='b', age='old')
    assert person.name == 'a'


class PersistentPerson(Persistent, Specified):
    name_is = spec(string, 'the name')
    friends_is = spec(sequence(string), 'their names')
    born_is = spec((None, datetime_with_tz), 'when')
    born = None


add_getters_and_setters(PersistentPerson)


def test_specs_on_persistent_objects(tmp_path):
    person = PersistentPerson(name='Ann', friends=['Bob'])
    assert person._p_is_unsaved()
    assert person.get_name() == 'Ann'
    with pytest.raises(TypeError) as info:
        person.set_friends(['Bob', 3])
    assert str(info.value).startswith('friends: expected sequence(string')
    person.set_born(datetime(2000, 1, 1, tzinfo=timezone.utc))
    assert get_spec_problems(person) == []

    storage = FileStorage(str(tmp_path / 'spec.durus'))
    connection = Connection(storage)
    connection.get_root()['person'] = person
    connection.commit()
    storage.close()

    storage = FileStorage(str(tmp_path / 'spec.durus'))
    connection = Connection(storage)
    person = connection.get_root()['person']
    assert person._p_is_ghost()
    assert get_spec_problems(person) == []   # loads the ghost
    assert person.get_name() == 'Ann'
    person.set_name('Anne')
    assert person._p_is_unsaved()
    connection.commit()
    person.name = 5
    assert get_spec_problems(person) == ['name: expected string, got 5 (int)']
    connection.abort()
    assert person.get_name() == 'Anne'
    storage.close()


def test_durus_btree_root_is_a_spec():
    from durus.btree import BTree, BNode
    assert get_specs(BTree) == {'root': BNode}
    assert get_spec_problems(BTree()) == []
