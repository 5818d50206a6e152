"""Buttons: SubmitWidget, ResetWidget and ButtonWidget. They carry no
title row; a form lays them out after its fields.
"""

from qpd.qpy import xml
from qpd.web.widgets.base import Widget, render_tag

__all__ = ['SubmitWidget', 'ResetWidget', 'ButtonWidget']


class _ButtonWidget(Widget):
    """(name:str, value:str=None, **attrs)
    value is the text on the button (default: from the name).
    """

    has_label = False
    css_class = 'button'

    def __init__(self, name, value=None, **kwargs):
        Widget.__init__(self, name, value=None, **kwargs)
        self.label = value

    def get_label(self) -> str:
        """() -> str
        The text on the button.
        """
        if self.label is None:
            return Widget.get_title(self)
        return self.label

    def set_label(self, label):
        """(label:str) -> None"""
        self.label = label

    def _parse(self, request):
        return None

    def is_empty(self):
        return False

    def is_button(self) -> bool:
        return True

    def get_control_attrs(self) -> dict:
        return dict(self.attrs)

    def render(self) -> xml:
        return self.render_content()


class SubmitWidget(_ButtonWidget):
    """(name:str, value:str=None, **attrs)
    A submit button. Parsed, its value is True when it was the button
    pressed (see Form.get_submit), else False.
    """

    def __init__(self, name, value=None, **kwargs):
        _ButtonWidget.__init__(self, name, value=value, **kwargs)
        self.value = False

    def _parse(self, request):
        return request.get_field(self.name) is not None

    def is_pressed(self) -> bool:
        """() -> bool
        Whether this button submitted the form (after parse).
        """
        return bool(self.value)

    def render_content(self) -> xml:
        attrs = dict(type='submit', name=self.name, id=self.get_id(),
                     value=self.get_label())
        attrs.update(self.get_control_attrs())
        return render_tag('input', attrs)


class ResetWidget(_ButtonWidget):
    """(name:str='reset', value:str=None, **attrs)
    A button that puts the form's fields back as they were rendered.
    """

    def __init__(self, name='reset', value=None, **kwargs):
        _ButtonWidget.__init__(self, name, value=value, **kwargs)

    def render_content(self) -> xml:
        attrs = dict(type='reset', id=self.get_id(), value=self.get_label())
        attrs.update(self.get_control_attrs())
        return render_tag('input', attrs)


class ButtonWidget(_ButtonWidget):
    """(name:str, value:str=None, **attrs)
    A plain button (`type=button`) for scripts to act on; it submits
    nothing.
    """

    def render_content(self) -> xml:
        attrs = dict(type='button', name=self.name, id=self.get_id())
        attrs.update(self.get_control_attrs())
        return render_tag('button', attrs, self.get_label())
