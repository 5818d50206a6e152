"""qpd.web.html: small builders of HTML for pages.

Each builder returns xml and quotes what it is given unless that is already
xml, so text from users can be passed in as it is.
"""

import re
from urllib.parse import quote

from qpd.qpy import stringify, xml, xml_quote

__all__ = [
    'url_quote', 'url_with_query', 'stringify', 'htmltag', 'element',
    'href', 'nl2br', 'ul', 'ol', 'dl', 'div', 'list_of_links', 'option',
    'select',
]

_TAG = re.compile(r'[A-Za-z][A-Za-z0-9\-]*')
_ATTRIBUTE = re.compile(r'[A-Za-z_:][A-Za-z0-9_:.\-]*')
_PATH_SAFE = "/:@!$&'()*+,;=-._~%#?"


def url_quote(value, fallback=None):
    """(value:object, fallback=None) -> xml
    value as text, percent-encoded for use in a URL ('/' is kept); fallback
    when value is None. The result holds no markup characters.
    """
    if value is None:
        return fallback
    return xml(quote(stringify(value), safe='/'))


def _query_pairs(attributes):
    for name, value in attributes.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else (value,)
        for item in values:
            yield '%s=%s' % (quote(stringify(name), safe=''),
                             quote(stringify(item), safe=''))


def url_with_query(path, **attributes):
    """(path:str, **attributes) -> xml
    path followed by a query string made of attributes (None values are
    left out, a list or tuple value repeats the name), quoted for use in
    markup ('&' becomes '&amp;'). Characters not allowed in URLs are
    percent-encoded in path; a '?' already in path is continued with '&'.
    """
    url = quote(stringify(path), safe=_PATH_SAFE)
    query = '&'.join(_query_pairs(attributes))
    if query:
        url += ('&' if '?' in url else '?') + query
    return xml_quote(url)


def _attribute_markup(css_class, attributes):
    parts = []
    if css_class is not None:
        attributes = dict(attributes, class_=css_class)
    for name, value in attributes.items():
        if value is None or value is False:
            continue
        name = name.rstrip('_').replace('_', '-') if name != '_' else name
        if not _ATTRIBUTE.fullmatch(name):
            raise ValueError('bad attribute name %r' % name)
        if value is True:
            parts.append(' ' + name)
        else:
            parts.append(' %s="%s"' % (name, str(xml_quote(stringify(value)))))
    return ''.join(parts)


def htmltag(tag, xml_end=False, css_class=None, **attributes):
    """(tag:str, xml_end=False, css_class:str=None, **attributes) -> xml
    A start tag. Attribute names lose a trailing '_' and turn '_' into '-'
    (class_, data_id, http_equiv); a value of None or False leaves the
    attribute out, True gives the bare name, anything else is quoted.
    xml_end closes the tag with ' />'.
    """
    if not _TAG.fullmatch(tag):
        raise ValueError('bad tag name %r' % (tag,))
    end = ' />' if xml_end else '>'
    return xml('<%s%s%s' % (tag, _attribute_markup(css_class, attributes), end))


def element(tag, content='', css_class=None, **attributes):
    """(tag:str, content:object='', css_class:str=None, **attributes) -> xml
    A whole element: start tag, quoted content, end tag.
    """
    return xml('%s%s</%s>' % (htmltag(tag, False, css_class, **attributes),
                              xml_quote(content), tag))


def href(url, text, title=None, **attributes):
    """(url:str, text:object, title:str=None, **attributes) -> xml
    A link: <a href="url" title="title">text</a>.
    """
    return element('a', text, href=url, title=title, **attributes)


def nl2br(value):
    """(value:object) -> xml
    value as text, quoted, each line break (\\n or \\r\\n) replaced by a
    <br /> (QP's output: the markup keeps no newline).
    """
    lines = stringify(value).replace('\r\n', '\n').split('\n')
    return xml('<br />').join(lines)


def ul(items, css_class=None, **attributes):
    """(items:iterable, css_class:str=None, **attributes) -> xml
    An unordered list with an <li> for each item.
    """
    return _list('ul', items, css_class, attributes)


def ol(items, css_class=None, **attributes):
    """(items:iterable, css_class:str=None, **attributes) -> xml
    An ordered list with an <li> for each item.
    """
    return _list('ol', items, css_class, attributes)


def dl(items, css_class=None, **attributes):
    """(items:dict | iterable of (term, definition), css_class:str=None, **attributes) -> xml
    A definition list: a <dt> and a <dd> for each pair, quoted unless
    markup. As in QP, an empty term or definition (None, '', any false
    value) has no element: `('e', None)` is `<dt>e</dt>` alone.
    """
    if hasattr(items, 'items'):
        items = items.items()
    parts = [htmltag('dl', False, css_class, **attributes)]
    for term, definition in items:
        if term:
            parts.append('<dt>%s</dt>' % xml_quote(term))
        if definition:
            parts.append('<dd>%s</dd>' % xml_quote(definition))
    parts.append('</dl>')
    return xml(''.join(parts))


def div(*content, **attrs):
    """(*content, css_class:str=None, **attrs) -> xml
    A <div> around the content items, each quoted unless markup.
    """
    css_class = attrs.pop('css_class', None)
    return xml('%s%s</div>' % (htmltag('div', False, css_class, **attrs),
                               ''.join(xml_quote(item) for item in content)))


def _list(tag, items, css_class, attributes):
    parts = [htmltag(tag, False, css_class, **attributes)]
    for item in items:
        parts.append('<li>%s</li>' % xml_quote(item))
    parts.append('</%s>' % tag)
    return xml(''.join(parts))


def list_of_links(links, css_class=None, **attributes):
    """(links:iterable of (url, text) or (url, text, title), css_class:str=None, **attributes) -> xml
    An unordered list of links.
    """
    return ul((href(*link) for link in links), css_class, **attributes)


def option(value, text=None, selected=False, disabled=False):
    """(value:object, text:object=None, selected=False, disabled=False) -> xml
    An <option>; its text is the value when none is given.
    """
    value = stringify(value)
    return element('option', value if text is None else text,
                   value=value, selected=bool(selected), disabled=bool(disabled))


def select(name, options, selected=None, css_class=None, **attributes):
    """(name:str, options:iterable, selected=None, css_class:str=None, **attributes) -> xml
    A <select> of options, each a value or a (value, text) pair; the
    options whose value is selected (or in selected, for a list) are
    selected.
    """
    if isinstance(selected, (list, tuple, set)):
        chosen = {stringify(item) for item in selected}
    elif selected is None:
        chosen = set()
    else:
        chosen = {stringify(selected)}
    parts = [htmltag('select', False, css_class, name=name, **attributes)]
    for item in options:
        value, text = item if isinstance(item, tuple) else (item, None)
        parts.append(option(value, text, stringify(value) in chosen))
    parts.append('</select>')
    return xml(''.join(parts))
