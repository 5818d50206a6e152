"""Tests for qpd.web.directory: traversal, exports, redirects, crumbs."""

import io

import pytest

from qpd.qpy import xml
from qpd.web import common
from qpd.web.directory import Directory, split_path
from qpd.web.errors import Forbidden, NotFound, Redirect
from qpd.web.hit import Hit
from qpd.web.request import HTTPRequest


@pytest.fixture
def current_request(monkeypatch):
    """Make the current hit (qpd.web.common) one whose request is built
    from the environ set through the returned function."""

    def set_request(**environ):
        common.set_hit(Hit(HTTPRequest(io.BytesIO(b''), environ)))

    yield set_request
    common.set_hit(None)


class Item:
    def __init__(self, number):
        self.number = number

    def __call__(self):
        return 'item %s' % self.number

    def get_crumb(self):
        return 'Item %s' % self.number


class ItemsDirectory(Directory):

    def get_exports(self):
        yield '', 'index', 'Items', 'All items'
        yield 'new', 'new', 'New', None

    def index(self):
        return xml('<p>items</p>')

    def new(self):
        return 'new item'

    def _q_lookup(self, component):
        if component.isdigit():
            return Item(int(component))
        return None


class Secret(Directory):
    _q_exports = ['']

    def _q_access(self):
        raise Forbidden()

    def _q_index(self):
        return 'secret'


class Root(Directory):

    def get_exports(self):
        yield '', 'index', 'Home', 'Home page'
        yield 'about', 'about', 'About', 'About us'
        yield 'items', 'items', 'Items', None
        yield 'style.css', 'style_css', None, None
        yield 'data', 'data', None, None
        yield 'secret', 'secret', None, None
        yield 'missing', 'no_such_attribute', None, None

    items = ItemsDirectory()
    secret = Secret()
    data = b'bytes'

    def index(self):
        return 'home'

    def about(self):
        return 'about'

    def style_css(self):
        return 'body {}'

    def hidden(self):
        return 'never'


def test_split_path():
    assert split_path('/a/b/') == ['a', 'b', '']
    assert split_path('/') == ['']
    assert split_path('') == []
    assert split_path('/a') == ['a']


def test_index_and_exports():
    root = Root()
    assert root._q_traverse(['']) == 'home'
    assert root._q_traverse(['about']) == 'about'
    assert root._q_traverse(['style.css']) == 'body {}'
    assert root._q_traverse(['data']) == b'bytes'
    assert root._q_traverse(['items', '']) == '<p>items</p>'
    assert root._q_traverse(['items', 'new']) == 'new item'


def test_q_lookup():
    root = Root()
    assert root._q_traverse(['items', '42']) == 'item 42'
    with pytest.raises(NotFound):
        root._q_traverse(['items', 'abc'])


@pytest.mark.parametrize('components', [
    ['hidden'], ['index'], ['style_css'], ['__init__'], ['__class__'], ['_q_lookup'],
    ['nothing'], ['missing'], ['about', 'more'], ['items', '42', 'x'], ['', 'about'],
    ['items', 'index'], ['..'], ['items', '..', 'about'],
])
def test_not_exported_is_not_found(components):
    with pytest.raises(NotFound):
        Root()._q_traverse(components)


def test_slash_redirect(current_request):
    current_request(PATH_INFO='/items')
    with pytest.raises(Redirect) as info:
        Root()._q_traverse(['items'])
    assert info.value.get_location() == 'items/'
    assert info.value.get_status() == 301


def test_no_slash_redirect_when_fields_came(current_request):
    # As in QP: a directory reached with fields is not found (a redirect
    # would lose a posted form).
    current_request(PATH_INFO='/items', QUERY_STRING='a=1&b=2')
    with pytest.raises(NotFound):
        Root()._q_traverse(['items'])


def test_slash_redirect_outside_a_hit():
    common.set_hit(None)
    with pytest.raises(Redirect) as info:
        Root()._q_traverse(['items'])
    assert info.value.get_location() == 'items/'


def test_slash_redirect_quotes_component(current_request):
    class Dynamic(Directory):
        def _q_lookup(self, component):
            return ItemsDirectory()
    current_request()
    with pytest.raises(Redirect) as info:
        Dynamic()._q_traverse(['a b:c'])
    assert info.value.get_location() == 'a%20b%3Ac/'
    with pytest.raises(Redirect) as info:
        Dynamic()._q_traverse(['..'])
    assert info.value.get_location() == '%2E%2E/'


def test_root_without_slash(current_request):
    current_request(SCRIPT_NAME='/app', PATH_INFO='')
    with pytest.raises(Redirect) as info:
        Root()._q_traverse([])
    assert info.value.get_location() == 'app/'


def test_q_access():
    with pytest.raises(Forbidden):
        Root()._q_traverse(['secret', ''])


def test_quixote_style_exports():
    class Old(Directory):
        _q_exports = ['', 'page', ('favicon.ico', 'favicon_ico')]

        def _q_index(self):
            return 'index'

        def page(self):
            return 'page'

        def favicon_ico(self):
            return b'icon'

        def other(self):
            return 'other'

    old = Old()
    assert old._q_traverse(['']) == 'index'
    assert old._q_traverse(['page']) == 'page'
    assert old._q_traverse(['favicon.ico']) == b'icon'
    assert old._q_translate('favicon_ico') is None
    with pytest.raises(NotFound):
        old._q_traverse(['other'])
    assert list(old.get_exports())[0] == ('', '_q_index', None, None)


def test_empty_directory_has_no_index():
    with pytest.raises(NotFound):
        Directory()._q_traverse([''])


def test_translate():
    root = Root()
    assert root._q_translate('') == 'index'
    assert root._q_translate('style.css') == 'style_css'
    assert root._q_translate('hidden') is None


def test_crumbs():
    root = Root()
    assert root.get_crumbs(['']) == [('/', 'Home', 'Home page')]
    assert root.get_crumbs(['about']) == [
        ('/', 'Home', 'Home page'), ('/about', 'About', 'About us')]
    assert root.get_crumbs(['items', '7'], prefix='/app') == [
        ('/app/', 'Home', 'Home page'), ('/app/items/', 'Items', None),
        ('/app/items/7', 'Item 7', None)]
    assert root.get_crumbs(['items', 'new', '']) == [
        ('/', 'Home', 'Home page'), ('/items/', 'Items', None), ('/items/new', 'New', None)]
    assert root.get_crumbs(['style.css']) == [('/', 'Home', 'Home page')]
    assert root.get_crumbs(['nothing', 'x']) == [('/', 'Home', 'Home page')]
