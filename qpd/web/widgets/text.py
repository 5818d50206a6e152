"""Widgets whose value is text: StringWidget, TextWidget, PasswordWidget,
EmailWidget and HiddenWidget.
"""

import re

from qpd.qpy import xml
from qpd.web.widgets.base import Widget, WidgetValueError, render_tag, get_text_field

__all__ = ['StringWidget', 'TextWidget', 'PasswordWidget', 'EmailWidget',
           'HiddenWidget', 'InputWidget']


# C0 controls and DEL: one line holds only tab of them; text, tab and newline
_line_controls = re.compile('[\x00-\x08\x0a-\x1f\x7f]')
_text_controls = re.compile('[\x00-\x08\x0b-\x1f\x7f]')


class InputWidget(Widget):
    """(name:str, value=None, ..., maxlength=None, **attrs)
    A single `<input>` holding text. `maxlength` limits the length of the
    value (checked here too, not just by the browser).
    """

    input_type = 'text'
    strip = True  # surrounding whitespace is dropped from the value

    def __init__(self, name, value=None, maxlength=None, **kwargs):
        Widget.__init__(self, name, value=value, **kwargs)
        self.maxlength = maxlength

    def _parse(self, request):
        raw = get_text_field(request, self.name)
        self.raw = raw
        if raw is None:
            return None
        text = raw.strip() if self.strip else raw
        if not text:
            return None
        if _line_controls.search(text):
            raise WidgetValueError('must be one line of text')
        if self.maxlength is not None and len(text) > self.maxlength:
            raise WidgetValueError('must be at most %d characters' % self.maxlength)
        return self.convert(text)

    def convert(self, text:str):
        """(text:str) -> object
        The value for the (non-empty) submitted text, or WidgetValueError.
        """
        return text

    def format_value(self, value) -> str:
        """(value) -> str
        The text shown in the control for a value.
        """
        return '' if value is None else str(value)

    def get_display_text(self) -> str:
        """() -> str
        What the control shows: what was typed when it has an error (so it
        can be corrected), else the formatted value.
        """
        if self.raw is not None and self.has_error():
            return _line_controls.sub(' ', self.raw)
        return self.format_value(self.value)

    def is_showable(self, text:str) -> bool:
        """(text:str) -> bool
        Whether text may stand as the value of an input of this type (a
        number input may not hold letters). Text that may not is shown in
        a plain text input instead, so what was typed comes back.
        """
        return True

    def get_input_type(self) -> str:
        """() -> str"""
        text = self.get_display_text()
        if text and not self.is_showable(text):
            return 'text'
        return self.input_type

    def get_input_attrs(self) -> dict:
        """() -> dict
        The attributes of the <input> besides the common ones.
        """
        input_type = self.get_input_type()
        attrs = dict(type=input_type, name=self.name, id=self.get_id(),
                     value=self.get_display_text())
        if input_type in ('text', 'email', 'password', 'search', 'url', 'tel'):
            attrs['maxlength'] = self.maxlength
        return attrs

    def render_content(self) -> xml:
        attrs = self.get_input_attrs()
        attrs.update(self.get_control_attrs())
        return render_tag('input', attrs)


class StringWidget(InputWidget):
    """(name:str, value:str=None, ..., maxlength=None, **attrs)
    One line of text; surrounding whitespace is dropped, blank gives None.
    """


class PasswordWidget(InputWidget):
    """(name:str, value=None, ..., **attrs)
    A password: kept exactly as typed and never rendered back.
    """

    input_type = 'password'
    strip = False

    def get_display_text(self) -> str:
        return ''

    def get_input_attrs(self) -> dict:
        attrs = InputWidget.get_input_attrs(self)
        attrs['value'] = None
        return attrs


class EmailWidget(InputWidget):
    """(name:str, value:str=None, ..., **attrs)
    An email address (`type=email`), checked against HTML5's rule for a
    valid address.
    """

    input_type = 'email'
    pattern = re.compile(
        r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"
        r"@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z")

    def convert(self, text):
        if len(text) > 254 or not self.pattern.match(text):
            raise WidgetValueError('must be an email address')
        return text

    def is_showable(self, text):
        return bool(self.pattern.match(text.strip()))


class HiddenWidget(InputWidget):
    """(name:str, value=None, **attrs)
    A hidden field: rendered as the bare <input>, with no title.
    """

    input_type = 'hidden'
    has_label = False
    strip = False

    def is_hidden(self) -> bool:
        return True

    def get_control_attrs(self) -> dict:
        return dict(self.attrs)

    def render(self) -> xml:
        return self.render_content()


class TextWidget(Widget):
    """(name:str, value:str=None, ..., rows=None, cols=None, maxlength=None, **attrs)
    Several lines of text in a <textarea>; line ends become '\\n', blank
    gives None.
    """

    def __init__(self, name, value=None, rows=None, cols=None, maxlength=None,
                 **kwargs):
        Widget.__init__(self, name, value=value, **kwargs)
        self.rows = rows
        self.cols = cols
        self.maxlength = maxlength

    def _parse(self, request):
        raw = get_text_field(request, self.name)
        self.raw = raw
        if raw is None or not raw.strip():
            return None
        text = raw.replace('\r\n', '\n').replace('\r', '\n')
        if _text_controls.search(text):
            raise WidgetValueError('must not hold control characters')
        if self.maxlength is not None and len(text) > self.maxlength:
            raise WidgetValueError('must be at most %d characters' % self.maxlength)
        return text

    def render_content(self) -> xml:
        text = self.raw if self.raw is not None else (self.value or '')
        attrs = dict(name=self.name, id=self.get_id(), rows=self.rows,
                     cols=self.cols, maxlength=self.maxlength)
        attrs.update(self.get_control_attrs())
        # A newline right after <textarea> is dropped by parsers: add one
        # so that text starting with a newline survives.
        return render_tag('textarea', attrs, xml('\n') + text)
