"""QP compatibility: qp.fill.directory -> qpd.web.directory, one test per
entry of docs/qp_api.md, pinning the contract QP's API states."""

import pytest

from qpd.web import common
from qpd.web.directory import (
    Directory, get_crumb_tree, get_directory_path, get_path_directory_list)
from qpd.web.errors import NotFound, Redirect
from qpd.web.profile import Profile
from qpd.web.publish import Publisher

SEEN = {}


class Inner(Directory):

    def get_exports(self):
        yield ('', '_q_index', 'Inner', 'the inner index')
        yield ('leaf', 'leaf', 'Leaf', None)
        yield ('hidden', 'hidden', None, None)

    def _q_index(self):
        return 'inner'

    def leaf(self):
        SEEN['path'] = get_directory_path()
        SEEN['list'] = get_path_directory_list()
        SEEN['tree'] = get_crumb_tree()
        return 'leaf'

    def hidden(self):
        return 'hidden'


class SiteDirectory(Directory):
    _q_exports = ['', 'inner', 'none', 'noindex']

    inner = Inner()

    class NoIndex(Directory):
        _q_exports = ['x']

        def x(self):
            return 'x'
    noindex = NoIndex()

    def _q_index(self):
        return 'root'

    def none(self):
        return None

    def _q_lookup(self, component):
        if component.isdigit():
            return lambda: 'item %s' % component
        return None


class SitePublisher(Publisher):
    pass


def get(path, **fields):
    profile = Profile(SitePublisher())
    return profile.get(path, **fields)


def test_directory():
    assert get('/').get_body() == b'root'
    assert get('/inner/').get_body() == b'inner'


def test_get_exports():
    assert list(SiteDirectory().get_exports())[:2] == [
        ('', '_q_index', None, None), ('inner', 'inner', None, None)]
    assert ('leaf', 'leaf', 'Leaf', None) in list(Inner().get_exports())


def test_q_translate():
    assert SiteDirectory()._q_translate('') == '_q_index'
    assert SiteDirectory()._q_translate('nope') is None


def test_q_lookup():
    assert get('/42').get_body() == b'item 42'
    assert get('/nope').get_status_code() == 404
    assert Directory()._q_lookup('x') is None


def test_q_traverse():
    root = SiteDirectory()
    assert root._q_traverse(['inner', 'leaf']) == 'leaf'
    with pytest.raises(NotFound):
        root._q_traverse(['none'])              # None is not found
    with pytest.raises(NotFound):
        root._q_traverse(['inner', 'leaf', 'more'])
    assert get('/none').get_status_code() == 404


def test_call():
    response = get('/inner')
    assert response.get_status_code() == 301
    assert response.get_header('Location') == '/inner/'   # qpd: relative
    assert get('/inner', a='1').get_status_code() == 404     # fields came
    assert get('/noindex').get_status_code() == 404          # no index
    common.clear_publisher()
    with pytest.raises(Redirect):
        Inner()()


def test_get_directory_path():
    SEEN.clear()
    assert get('/inner/leaf').get_body() == b'leaf'
    path = SEEN['path']
    assert [type(d) for d in path] == [SiteDirectory, Inner]


def test_get_path_directory_list():
    SEEN.clear()
    get('/inner/leaf')
    assert [(p, type(d)) for p, d in SEEN['list']] == [
        ('../', SiteDirectory), ('./', Inner)]


def test_get_crumb_tree():
    SEEN.clear()
    get('/inner/leaf')
    assert SEEN['tree'] == [
        [], [('./', 'Inner', 'the inner index'), ('./leaf', 'Leaf', None)]]
