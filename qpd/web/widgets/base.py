"""The Widget base class, the tag writer and the field readers widgets share.

A widget is one named piece of a form: it reads its own field(s) from a
request (`parse`), keeps what the user typed so the form can come back
with it, reports its own error, and renders itself (title, control, hint,
error) as xml.
"""

import re

from qpd.qpy import xml, xml_quote

__all__ = ['Widget', 'WidgetValueError', 'render_tag', 'get_text_field',
           'is_upload', 'get_current_request', 'REQUIRED_MESSAGE']

REQUIRED_MESSAGE = 'this field is required'

_attribute_name = re.compile(r'[A-Za-z_:][-A-Za-z0-9_:.]*\Z')


class WidgetValueError(ValueError):
    """(message:str)
    Raised by a widget's _parse when the submitted text is not acceptable;
    the message becomes the widget's error.
    """


def _attribute_text(name, value):
    if not _attribute_name.match(name):
        raise ValueError('bad attribute name %r' % (name,))
    name = name.rstrip('_').replace('_', '-')
    if value is True:
        return ' ' + name
    return ' %s="%s"' % (name, xml_quote(value))


def render_tag(tag:str, attrs=(), content=None) -> xml:
    """(tag:str, attrs:dict|iterable=(), content=None) -> xml
    `<tag attrs>` followed, when content is not None, by the content
    (quoted unless xml) and `</tag>`. Attribute values of None or False are
    left out, True gives a bare boolean attribute; in names a trailing `_`
    is dropped and `_` becomes `-` (so `class_`, `aria_describedby`).
    """
    if hasattr(attrs, 'items'):
        attrs = attrs.items()
    start = xml('<' + tag + ''.join(
        _attribute_text(name, value) for name, value in attrs
        if value is not None and value is not False) + '>')
    if content is None:
        return start
    return start + content + xml('</' + tag + '>')


def is_upload(value) -> bool:
    """(value:object) -> bool
    Whether value is an uploaded file (an `Upload`), told by its interface.
    """
    return hasattr(value, 'get_filename') and hasattr(value, 'get_size')


def get_text_field(request, name:str):
    """(request:HTTPRequest, name:str) -> str | None
    The one text value submitted under name, or None when absent. A repeated
    field or an upload is not text: WidgetValueError.
    """
    value = request.get_field(name)
    if value is None or isinstance(value, str):
        return value
    if is_upload(value):
        raise WidgetValueError('must be text, not a file')
    raise WidgetValueError('must be a single value')


def get_current_request():
    """() -> HTTPRequest
    The request of the hit being processed in this process (None
    outside a hit).
    """
    from qpd.web.common import find_request
    return find_request()


class Widget:
    """(name:str, value=None, title=None, hint=None, required=False, id=None, **attrs)
    The base of every widget. `value` is the initial (parsed) value; `title`
    labels the control (None derives one from the name, '' leaves it out);
    `hint` is help shown beside it; `required` makes an empty submission an
    error; `id` is the control's HTML id (default: from the name). Other
    keywords become attributes of the control (`class_`, `placeholder`,
    `autocomplete`, `size`, `data_x`, ...).
    """

    css_class = 'widget'
    has_label = True  # the title renders as a <label for=...> of the control

    def __init__(self, name, value=None, title=None, hint=None,
                 required=False, id=None, **attrs):
        if not isinstance(name, str) or not name:
            raise ValueError('a widget needs a non-empty str name')
        self.name = name
        self.value = value
        self.title = title
        self.hint = hint
        self.required = bool(required)
        self.id = id
        self.attrs = attrs
        self.error = None
        self.raw = None  # the text submitted, rendered again on errors
        self.parsed = False

    def __repr__(self):
        return '<%s %r>' % (type(self).__name__, self.name)

    # accessors

    def get_name(self) -> str:
        """() -> str"""
        return self.name

    def get_value(self):
        """() -> object
        The parsed value (or the initial value before any parse).
        """
        return self.value

    def set_value(self, value):
        """(value) -> None
        Set the value, forgetting anything typed.
        """
        self.value = value
        self.raw = None

    def get_title(self):
        """() -> str | xml | None
        The title to show: the given one, else one made from the name.
        """
        if self.title is None:
            return self.name.rsplit('$', 1)[-1].replace('_', ' ').capitalize()
        return self.title

    def set_title(self, title):
        """(title:str|xml|None) -> None"""
        self.title = title

    def get_hint(self):
        """() -> str | xml | None"""
        return self.hint

    def set_hint(self, hint):
        """(hint:str|xml|None) -> None"""
        self.hint = hint

    def is_required(self) -> bool:
        """() -> bool"""
        return self.required

    def set_required(self, required=True):
        """(required:bool=True) -> None"""
        self.required = bool(required)

    def get_error(self):
        """() -> str | None"""
        return self.error

    def set_error(self, error):
        """(error:str|None) -> None"""
        self.error = error

    def has_error(self) -> bool:
        """() -> bool"""
        return self.error is not None

    def clear_error(self):
        """() -> None"""
        self.error = None

    def get_widgets(self) -> list:
        """() -> [Widget]: the widgets inside this one (none; compound
        widgets override)."""
        return []

    def has_buttons(self) -> bool:
        """() -> bool: does this widget hold submit buttons of its own
        (a compound widget's add/remove buttons)?"""
        return False

    def is_rearranged(self) -> bool:
        """() -> bool: did the submission only rearrange this widget (add
        or remove a row), so the form should come back rather than be
        accepted?"""
        return False

    def get_id(self) -> str:
        """() -> str
        The HTML id of the control, the target of its label.
        """
        return self.id or re.sub(r'\s', '_', self.name)

    def get_attrs(self) -> dict:
        """() -> dict
        The extra HTML attributes given to the constructor.
        """
        return self.attrs

    def is_submitted_in(self, fields) -> bool:
        """(fields:dict) -> bool
        Whether any field of this widget is among the submitted field names.
        """
        prefix = self.name + '$'
        return any(key == self.name or key.startswith(prefix) for key in fields)

    def is_button(self) -> bool:
        """() -> bool
        Whether this widget is a button (laid out apart from the fields).
        """
        return False

    def is_hidden(self) -> bool:
        """() -> bool"""
        return False

    # parsing

    def parse(self, request=None):
        """(request:HTTPRequest=None) -> object
        Read this widget's field(s) from request (the current one by
        default) once, and return the value. A bad submission sets the
        error and leaves the value None; what was typed is kept in raw.
        """
        if not self.parsed:
            if request is None:
                request = get_current_request()
            self.parsed = True
            self.error = None
            self.raw = None
            try:
                self.value = self._parse(request)
            except WidgetValueError as error:
                self.value = None
                self.error = str(error)
            else:
                if self.required and self.is_empty():
                    self.error = REQUIRED_MESSAGE
        return self.value

    def _parse(self, request):
        """(request:HTTPRequest) -> object
        Subclasses read the request here, set self.raw to what should be
        shown again, and return the value or raise WidgetValueError.
        """
        raw = get_text_field(request, self.name)
        self.raw = raw
        return raw or None

    def is_empty(self) -> bool:
        """() -> bool
        Whether the value counts as nothing entered (for `required`).
        """
        return self.value is None or self.value == '' or self.value == []

    # rendering

    def get_class_names(self) -> str:
        """() -> str
        The classes of the row that holds this widget.
        """
        names = [self.css_class, type(self).__name__]
        if self.required:
            names.append('required')
        if self.has_error():
            names.append('has-error')
        return ' '.join(names)

    def get_hint_id(self) -> str:
        """() -> str"""
        return self.get_id() + '-hint'

    def get_error_id(self) -> str:
        """() -> str"""
        return self.get_id() + '-error'

    def get_control_attrs(self) -> dict:
        """() -> dict
        The attributes every control of this widget carries: required,
        aria-invalid, aria-describedby, and the constructor's extras.
        """
        described = []
        if self.get_hint():
            described.append(self.get_hint_id())
        if self.has_error():
            described.append(self.get_error_id())
        attrs = dict(required=self.required or None,
                     aria_invalid='true' if self.has_error() else None,
                     aria_describedby=' '.join(described) or None)
        attrs.update(self.attrs)
        return attrs

    def render_title(self) -> xml:
        """() -> xml
        The title as a label for the control (empty when there is none).
        """
        title = self.get_title()
        if not title:
            return xml('')
        if self.has_label:
            return render_tag('label', {'for': self.get_id(), 'class': 'title'}, title)
        return render_tag('div', {'class': 'title'}, title)

    def render_content(self) -> xml:
        """() -> xml
        The control itself; subclasses render theirs.
        """
        raise NotImplementedError

    def render_hint(self) -> xml:
        """() -> xml"""
        hint = self.get_hint()
        if not hint:
            return xml('')
        return render_tag('div', {'class': 'hint', 'id': self.get_hint_id()}, hint)

    def render_error(self) -> xml:
        """() -> xml"""
        if self.error is None:
            return xml('')
        return render_tag('div', {'class': 'error', 'id': self.get_error_id()},
                          self.error)

    def render(self) -> xml:
        """() -> xml
        The whole row: title, control, hint and error.
        """
        return render_tag('div', {'class': self.get_class_names()},
                          self.render_title()
                          + render_tag('div', {'class': 'content'}, self.render_content())
                          + self.render_hint()
                          + self.render_error())

    def __html__(self):
        return self.render()
