"""qpd.web.durus_directory: DurusDirectory, a read-only database browser.

Mount it in a site's directory (`durus = DurusDirectory()` exported as
'durus') and admins can look at any object of the database:

    /durus/              the root object
    /durus/OID/          the persistent object with that oid
    /durus/OID/STEP/...  a value inside it, reached by steps:
                         a.NAME (an attribute), k.TEXT (a str key),
                         n.NUMBER (an int key, or an index), p.NUMBER (the
                         item at that position of a container)

Each page shows the value's class and oid, then its items: a mapping (dict,
PersistentDict, BTree) by key, a sequence or set by index, any other object
by attribute; containers are paged (?start=N). Persistent values are links
to their oid's page, small containers are shown inline, bigger ones link to
their own page, and everything else is shown with its repr, quoted. Nothing
here changes the database.

Only admins (`user.is_admin()`) may browse; someone not signed in is asked
to sign in, anyone else gets 403. Override `is_allowed(user)` to change
who may.

Credentials are masked, since whoever reads them can act as their owner:
a password record or an HTTP Digest HA1 (which works as the password), a
live session id (which signs its reader in as that user, including the
keys of the sessions BTree), form tokens, and anything named like a
credential by the rule the debug page masks with (qpd.lib.sensitive:
`smtp_api_key`, `*password*`, `*secret*`, `*token*`, ...). They show as "(hidden)" and the steps
into them are 404. `DurusDirectory(show_credentials=True)` is the
explicit opt-in to see them. `?start=` must be a plain number and an oid
fit in 64 bits (else 400 and 404), so no query makes the page fail.
"""

import itertools
from collections.abc import Mapping
from urllib.parse import quote, unquote

from durus.persistent import PersistentBase

from qpd.lib.sensitive import is_sensitive
from qpd.qpy import xml, xml_quote, join_xml
from qpd.storage.digester import Digester
from qpd.storage.session import Session, is_session_id
from qpd.storage.token_set import TokenSet
from qpd.web.directory import Directory
from qpd.web.errors import BadRequest, Forbidden, NotFound

__all__ = ['DurusDirectory', 'ValueDirectory', 'get_oid', 'format_step',
           'resolve_step', 'is_hidden', 'is_credential', 'CREDENTIALS']

PAGE_SIZE = 50
INLINE_ITEMS = 8
REPR_LIMIT = 300
HIDDEN = '(hidden)'


# Attributes that hold credentials, by class (None: every attribute).
CREDENTIALS = {Session: ('id', 'tokens'), TokenSet: None, Digester: None}
MAX_START = 10 ** 12


def is_hidden(label, value):
    """(label, value) -> bool: is value a secret not to show, such as the
    key that signs the site's nonces (a bytes value named *secret*)?"""
    return (isinstance(label, str) and 'secret' in label.lower()
            and isinstance(value, (bytes, str)))


def is_credential(container, label, value):
    """(container, label, value) -> bool
    Is value, found under label in container, a credential to mask:
    an attribute listed in CREDENTIALS for the container's class, or a
    label that names a credential (qpd.lib.sensitive.is_sensitive)?
    """
    for cls, names in CREDENTIALS.items():
        if isinstance(container, cls) and (names is None or label in names):
            return True
    return (isinstance(label, str) and not isinstance(value, PersistentBase)
            and is_sensitive(label))


def is_credential_key(label, value):
    """(label, value) -> bool: is label a session id keying its session?"""
    return isinstance(value, Session) and bool(is_session_id(label))


def _common():
    from qpd.web import common
    return common


def get_oid(value):
    """(value) -> int | None: the oid of a stored persistent object."""
    if not isinstance(value, PersistentBase) or value._p_oid is None:
        return None
    return int(value._p_format_oid())


def _load(value):
    """(value) -> value, with its state loaded if it is a ghost."""
    if isinstance(value, PersistentBase) and value._p_is_ghost():
        value._p_load_state()
    return value


def _is_mapping(value):
    return isinstance(value, (dict, Mapping))


def _is_sequence(value):
    return isinstance(value, (list, tuple)) or (
        hasattr(value, '__getitem__') and hasattr(value, '__len__')
        and type(value).__name__ == 'PersistentList')


def _is_set(value):
    return isinstance(value, (set, frozenset)) or (
        type(value).__name__ == 'PersistentSet')


def _is_container(value):
    return _is_mapping(value) or _is_sequence(value) or _is_set(value)


def _count(value):
    """(value) -> int | None"""
    try:
        return len(value)
    except Exception:
        return None


def _class_name(value):
    cls = type(value)
    if cls.__module__ == 'builtins':
        return cls.__qualname__
    return '%s.%s' % (cls.__module__, cls.__qualname__)


def _get_items(value):
    """(value) -> iterator of (step:str, label, item)"""
    if _is_mapping(value):
        for position, (key, item) in enumerate(value.items()):
            yield format_step(key, position), key, item
    elif _is_sequence(value):
        for index, item in enumerate(value):
            yield 'n.%d' % index, index, item
    elif _is_set(value):
        for position, item in enumerate(_sorted(value)):
            yield 'p.%d' % position, position, item
    else:
        state = _load(value).__getstate__() if isinstance(
            value, PersistentBase) else getattr(value, '__dict__', {})
        for name in sorted(state):
            yield 'a.%s' % name, name, state[name]


def _sorted(items):
    try:
        return sorted(items)
    except TypeError:
        return sorted(items, key=repr)


def format_step(key, position):
    """(key, position:int) -> str: the URL step for a mapping's key."""
    if isinstance(key, str):
        return 'k.' + quote(key, safe='')
    if isinstance(key, int) and not isinstance(key, bool):
        return 'n.%d' % key
    return 'p.%d' % position


def resolve_step(value, step):
    """(value, step:str) -> the value that step names inside value;
    LookupError when there is none."""
    kind, _, text = step.partition('.')
    if kind == 'a' and not (_is_mapping(value) or _is_sequence(value)):
        state = _get_items(value)
        for candidate, name, item in state:
            if candidate == step:
                return item
        raise LookupError(step)
    if kind == 'k' and _is_mapping(value):
        return value[unquote(text)]
    if kind == 'n' and text.lstrip('-').isdigit():
        number = int(text)
        if _is_mapping(value):
            return value[number]
        if _is_sequence(value):
            return value[number]
    if kind == 'p' and text.isdigit():
        position = int(text)
        for index, (_, _, item) in enumerate(_get_items(value)):
            if index == position:
                return item
    raise LookupError(step)


class _Renderer:
    """Renders values of one page: links to other objects are made
    relative to the page (`to_root` is the way back to /durus/)."""

    def __init__(self, to_root, here):
        self.to_root = to_root
        self.here = here

    def get_object_url(self, oid):
        return '%s%d/' % (self.to_root, oid)

    def render_link(self, value):
        oid = get_oid(value)
        return xml('<a class="durus-ref" href="%s">%s %s</a>') % (
            self.get_object_url(oid), type(value).__name__, oid)

    def render_value(self, value, step=None, depth=0):
        """(value, step:str=None, depth:int=0) -> xml"""
        if get_oid(value) is not None:
            return self.render_link(value)
        if _is_container(value):
            count = _count(value)
            if count is not None and count <= INLINE_ITEMS and depth < 2:
                return self.render_inline(value, depth)
            label = '%s of %s items' % (type(value).__name__, count)
            if step is not None:
                return xml('<a href="%s%s/">%s</a>') % (
                    self.here, step, label)
            return xml_quote(label)
        if isinstance(value, PersistentBase):
            return xml('<span class="durus-new">%s (not yet stored)</span>'
                       ) % repr(value)
        text = repr(value)
        if len(text) > REPR_LIMIT:
            text = text[:REPR_LIMIT] + '…'
        return xml('<code>%s</code>') % text

    def render_inline(self, value, depth):
        if _is_mapping(value):
            parts = [xml('%s: %s') % (
                self.render_value(key, None, depth + 1),
                self.render_value(item, None, depth + 1))
                for key, item in value.items()]
            open_, close = '{', '}'
        else:
            items = _sorted(value) if _is_set(value) else value
            parts = [self.render_value(item, None, depth + 1)
                     for item in items]
            open_, close = ('[', ']') if isinstance(value, list) else (
                ('(', ')') if isinstance(value, tuple) else ('{', '}'))
        if not parts:
            return xml('<code>%s</code>') % (
                type(value).__name__ + '()' if _is_set(value) else
                open_ + close)
        return xml('<code>%s</code>%s<code>%s</code>') % (
            open_, join_xml(parts, xml(', ')), close)


class ValueDirectory(Directory):
    """(value, oid:int, steps:[str]=(), depth:int=None): the page of a
    value: a persistent object (steps empty), or something inside one;
    `depth` is how many components below /durus/ its URL is (by default
    one for the oid and one per step)."""

    def __init__(self, value, oid, steps=(), depth=None,
                 show_credentials=False):
        self.value = value
        self.oid = oid
        self.steps = list(steps)
        self.depth = 1 + len(self.steps) if depth is None else depth
        self.show_credentials = show_credentials

    def get_exports(self):
        yield '', '_q_index', None, None

    def _q_lookup(self, component):
        container = _load(self.value)
        try:
            value = resolve_step(container, component)
        except (LookupError, TypeError, ValueError, OverflowError):
            return None
        if not self.show_credentials:
            kind, _, text = component.partition('.')
            label = unquote(text) if kind in ('a', 'k') else None
            if is_credential(container, label, value):
                return None
            if kind == 'p' and (isinstance(container, tuple(
                    cls for cls, names in CREDENTIALS.items()
                    if names is None))):
                return None
        oid = get_oid(value)
        if oid is not None:
            return ValueDirectory(value, oid, depth=self.depth + 1,
                                  show_credentials=self.show_credentials)
        return ValueDirectory(value, self.oid, self.steps + [component],
                              depth=self.depth + 1,
                              show_credentials=self.show_credentials)

    def get_crumb(self):
        return self.steps[-1] if self.steps else str(self.oid)

    def get_depth(self):
        """() -> int: how many components below /durus/ the page is."""
        return self.depth

    def _q_index(self):
        here = ''
        if self.depth != 1 + len(self.steps):   # reached by another path
            here = '../' * self.depth + '%d/%s' % (self.oid, ''.join(
                step + '/' for step in self.steps))
        return render_page(self.value, self.oid, self.steps,
                           '../' * self.depth, here,
                           show_credentials=self.show_credentials)


def _get_start():
    """() -> int: the ?start= of the page; BadRequest unless it is a plain
    number up to MAX_START."""
    text = _common().get_field('start')
    if text is None or text == '':
        return 0
    if (not isinstance(text, str) or not text.isdigit() or not text.isascii()
            or len(text) > len(str(MAX_START)) or int(text) > MAX_START):
        raise BadRequest('start must be a number from 0 to %d.' % MAX_START)
    return int(text)


def render_page(value, oid, steps, to_root, here='', show_credentials=False):
    """(value, oid:int, steps:[str], to_root:str, here:str='',
        show_credentials=False) -> xml: the page of a value in the site's
    page; `to_root` leads from the page to /durus/, `here` to the page's
    own directory; credentials are masked unless show_credentials."""
    value = _load(value)
    renderer = _Renderer(to_root, here)
    crumbs = [xml('<a href="%s">durus</a>') % to_root]
    if oid != 0 or steps:
        path = '%d/' % oid
        crumbs.append(xml('<a href="%s%s">%s</a>') % (to_root, path, oid))
        for step in steps:
            path += step + '/'
            crumbs.append(xml('<a href="%s%s">%s</a>') % (
                to_root, path, unquote(step)))
    count = _count(value) if _is_container(value) else None
    start = _get_start()
    items = list(itertools.islice(_get_items(value), start,
                                  start + PAGE_SIZE))
    rows = []
    for step, label, item in items:
        masked = not show_credentials and is_credential(value, label, item)
        if isinstance(label, str) and step.startswith('a.'):
            label_xml = xml('<code>%s</code>') % label
        elif not show_credentials and is_credential_key(label, item):
            label_xml = xml('<em>%s</em>') % HIDDEN
        else:
            label_xml = renderer.render_value(label, None, 1)
        if is_hidden(label, item) or masked:
            shown = xml('<em>%s</em>') % HIDDEN
        else:
            shown = renderer.render_value(item, step)
        rows.append(xml('<tr><th>%s</th><td>%s</td></tr>\n') % (
            label_xml, shown))
    pager = []
    if start > 0:
        pager.append(xml('<a href="?start=%d">previous</a>') % max(
            0, start - PAGE_SIZE))
    if len(items) == PAGE_SIZE and (count is None or
                                    start + PAGE_SIZE < count):
        pager.append(xml('<a href="?start=%d">next</a>') % (
            start + PAGE_SIZE))
    title = '%s %s' % (type(value).__name__, oid if not steps else
                       '%s/%s' % (oid, '/'.join(unquote(s) for s in steps)))
    if _is_container(value):
        heading = '%s items' % (count if count is not None else '?')
        if items:
            heading += ', %d to %d' % (start, start + len(items) - 1)
    else:
        heading = 'attributes'
    body = [
        xml('<nav class="durus-crumbs">%s</nav>\n') % join_xml(
            crumbs, xml(' / ')),
        xml('<h1>%s</h1>\n') % title,
        xml('<p>class <code>%s</code>%s</p>\n') % (
            _class_name(value),
            xml(', oid <code>%s</code>') % oid if not steps else ''),
        xml('<h2>%s</h2>\n') % heading,
        xml('<table class="durus">\n%s</table>\n') % join_xml(rows)
        if rows else xml('<p>(none)</p>\n'),
    ]
    if pager:
        body.append(xml('<p class="durus-pager">%s</p>\n') % join_xml(
            pager, xml(' ')))
    return _common().page(title, *body)


class DurusDirectory(Directory):
    """(connection=None, show_credentials=False): browse the database of
    `connection` (default: the current publisher's), read-only, for
    admins; credentials are masked unless show_credentials."""

    def __init__(self, connection=None, show_credentials=False):
        self.connection = connection
        self.show_credentials = show_credentials

    def get_connection(self):
        """() -> durus Connection"""
        return self.connection or _common().get_connection()

    def is_allowed(self, user):
        """(user:User | None) -> bool: may this user browse?"""
        return bool(user) and user.is_admin()

    def _q_access(self):
        common = _common()
        user = common.get_user()
        if not user:
            common.ensure_signed_in()
            user = common.get_user()
        if not self.is_allowed(user):
            raise Forbidden('The database browser is for admins only.')

    def get_exports(self):
        yield '', '_q_index', 'durus', 'The database'

    def _q_lookup(self, component):
        if (not component.isdigit() or not component.isascii()
                or len(component) > 20 or int(component) >= 2 ** 64):
            return None
        value = self.get_connection().get(int(component))
        if value is None:
            raise NotFound('No object has oid %s.' % component)
        return ValueDirectory(value, int(component),
                              show_credentials=self.show_credentials)

    def _q_index(self):
        return render_page(self.get_connection().get_root(), 0, [], '',
                           here='0/', show_credentials=self.show_credentials)
