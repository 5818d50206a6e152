"""Widgets that choose among offered values: CheckboxWidget,
SingleSelectWidget, MultipleSelectWidget, RadiobuttonsWidget and
OptionSelectWidget.

An option is a value, a (value, description) pair, or a (value,
description, key) triple. The key is the text the browser sends back; a
submitted key that was not offered is an error, so a select widget only
ever yields one of its own values. Without an explicit key: None is '',
a str is itself, a bool, int, float, Decimal or date is its str(), an
object with get_key() gives str(get_key()), anything else its position
('#3'). Keys never come from repr() and are never evaluated.
"""

import datetime
import decimal

from qpd.qpy import xml
from qpd.web.widgets.base import (Widget, WidgetValueError, render_tag,
                                  get_text_field, is_upload)

__all__ = ['CheckboxWidget', 'SingleSelectWidget', 'MultipleSelectWidget',
           'RadiobuttonsWidget', 'OptionSelectWidget', 'SelectWidget', 'Option',
           'make_options', 'get_option_key']

CHOICE_MESSAGE = 'must be one of the offered choices'

_plain_types = (bool, int, float, decimal.Decimal, datetime.date, datetime.time)


def get_option_key(value, index:int) -> str:
    """(value:object, index:int) -> str
    The default key of an option with this value at this position.
    """
    if value is None:
        return ''
    if isinstance(value, str):
        return value
    if isinstance(value, _plain_types):
        return str(value)
    get_key = getattr(value, 'get_key', None)
    if callable(get_key):
        return str(get_key())
    return '#%d' % index


class Option:
    """(value:object, description:str|xml, key:str)
    One offered choice.
    """

    __slots__ = ('value', 'description', 'key')

    def __init__(self, value, description, key):
        self.value = value
        self.description = description
        self.key = key

    def get_value(self):
        """() -> object"""
        return self.value

    def get_description(self):
        """() -> str | xml"""
        return self.description

    def get_key(self) -> str:
        """() -> str"""
        return self.key

    def __repr__(self):
        return 'Option(%r, %r, %r)' % (self.value, self.description, self.key)


def make_options(options) -> list:
    """(options:iterable) -> [Option]
    Options from values, (value, description) pairs or (value,
    description, key) triples. Duplicate keys are a ValueError: give keys.
    """
    result = []
    keys = set()
    for index, item in enumerate(options or ()):
        if isinstance(item, Option):
            option = item
        elif isinstance(item, tuple) and len(item) == 3:
            option = Option(item[0], item[1], str(item[2]))
        elif isinstance(item, tuple) and len(item) == 2:
            option = Option(item[0], item[1], get_option_key(item[0], index))
        else:
            option = Option(item, '' if item is None else str(item),
                            get_option_key(item, index))
        if option.key in keys:
            raise ValueError('options have the same key %r; give explicit keys'
                             % option.key)
        keys.add(option.key)
        result.append(option)
    return result


class CheckboxWidget(Widget):
    """(name:str, value:bool=False, ..., **attrs)
    A checkbox; its value is True when checked. Required means it must be
    checked.
    """

    def __init__(self, name, value=False, **kwargs):
        Widget.__init__(self, name, value=bool(value), **kwargs)

    def _parse(self, request):
        submitted = request.get_field(self.name)
        if is_upload(submitted):
            raise WidgetValueError('must be text, not a file')
        return submitted is not None

    def is_empty(self):
        return not self.value

    def render_content(self) -> xml:
        attrs = dict(type='checkbox', name=self.name, id=self.get_id(),
                     value='yes', checked=bool(self.value))
        attrs.update(self.get_control_attrs())
        return render_tag('input', attrs)


class SelectWidget(Widget):
    """(name:str, value=None, options=None, ...)
    The common base of the option widgets (QP's SelectWidget).
    """

    def __init__(self, name, value=None, options=None, **kwargs):
        Widget.__init__(self, name, value=value, **kwargs)
        self.set_options(options)

    def get_options(self) -> list:
        """() -> [Option]"""
        return self.options

    def set_options(self, options):
        """(options:iterable) -> None"""
        self.options = make_options(options)
        self.option_by_key = {option.key: option for option in self.options}

    def get_option_for_key(self, key:str):
        """(key:str) -> Option | None"""
        return self.option_by_key.get(key)

    def get_selected_keys(self) -> set:
        """() -> {str}
        The keys to show as selected: those submitted, else those of the
        current value(s).
        """
        if self.raw is not None:
            return set(self.raw)
        values = self.get_selected_values()
        return {option.key for option in self.options
                if any(option.value == value for value in values)}

    def get_selected_values(self) -> list:
        """() -> list"""
        return [] if self.value is None else [self.value]

    def _parse(self, request):
        """One key from one text field (a single select, radio buttons):
        the value of its option; '' not offered is None."""
        key = get_text_field(request, self.name)
        if key is None:
            return None
        self.raw = [key]
        option = self.get_option_for_key(key)
        if option is None:
            if key == '':
                return None
            raise WidgetValueError(CHOICE_MESSAGE)
        return option.value

    def _render_option_tags(self) -> list:
        """() -> [xml]: an <option> per option, the selected keys marked."""
        selected = self.get_selected_keys()
        return [render_tag('option', dict(value=option.key,
                                          selected=option.key in selected),
                           option.description)
                for option in self.options]


class SingleSelectWidget(SelectWidget):
    """(name:str, value=None, options=None, ..., **attrs)
    A <select> of one of the options. A required select starts with a
    placeholder option (value '', text `placeholder`), as HTML5 asks.
    """

    placeholder = '(choose one)'

    def render_options(self) -> xml:
        """() -> xml"""
        items = []
        if self.required and self.get_option_for_key('') is None:
            items.append(render_tag('option', {'value': ''}, self.placeholder))
        return xml('').join(items + self._render_option_tags())

    def get_select_attrs(self) -> dict:
        """() -> dict"""
        attrs = dict(name=self.name, id=self.get_id())
        attrs.update(self.get_control_attrs())
        return attrs

    def render_content(self) -> xml:
        return render_tag('select', self.get_select_attrs(), self.render_options())


class OptionSelectWidget(SingleSelectWidget):
    """(name:str, value=None, options=None, ..., **attrs)
    A single select that submits its form as soon as it changes (with a
    button for browsers without scripts).
    """

    def get_select_attrs(self):
        attrs = SingleSelectWidget.get_select_attrs(self)
        attrs.setdefault('onchange', 'this.form.submit()')
        return attrs

    def render_content(self):
        return (SingleSelectWidget.render_content(self)
                + render_tag('noscript', {}, render_tag('input', dict(
                    type='submit', value='apply'))))


class MultipleSelectWidget(SelectWidget):
    """(name:str, value:list=None, options=None, ..., size=None, **attrs)
    A <select multiple>; the value is the list of chosen values, in the
    order of the options.
    """

    def __init__(self, name, value=None, options=None, **kwargs):
        SelectWidget.__init__(self, name, value=list(value or ()),
                               options=options, **kwargs)

    def get_selected_values(self):
        return list(self.value or ())

    def _parse(self, request):
        submitted = request.get_field(self.name)
        if submitted is None:
            self.raw = []
            return []
        if isinstance(submitted, str):
            submitted = [submitted]
        if not isinstance(submitted, list) or not all(
                isinstance(key, str) for key in submitted):
            raise WidgetValueError('must be text, not a file')
        self.raw = list(submitted)
        chosen = set()
        for key in submitted:
            if self.get_option_for_key(key) is None:
                raise WidgetValueError(CHOICE_MESSAGE)
            chosen.add(key)
        return [option.value for option in self.options if option.key in chosen]

    def render_content(self) -> xml:
        options = xml('').join(self._render_option_tags())
        attrs = dict(name=self.name, id=self.get_id(), multiple=True)
        attrs.update(self.get_control_attrs())
        return render_tag('select', attrs, options)


class RadiobuttonsWidget(SelectWidget):
    """(name:str, value=None, options=None, ..., **attrs)
    One radio button per option, each with its own label; the title is the
    legend of their fieldset.
    """

    has_label = False

    def get_option_id(self, index:int) -> str:
        """(index:int) -> str"""
        return '%s-%d' % (self.get_id(), index)

    def render_content(self) -> xml:
        selected = self.get_selected_keys()
        common = self.get_control_attrs()
        items = []
        for index, option in enumerate(self.options):
            attrs = dict(type='radio', name=self.name, id=self.get_option_id(index),
                         value=option.key, checked=option.key in selected)
            attrs.update(common)
            items.append(render_tag('span', {'class': 'option'},
                                    render_tag('input', attrs)
                                    + render_tag('label', {'for': attrs['id']},
                                                 option.description)))
        return xml(' ').join(items)

    def render_title(self) -> xml:
        title = self.get_title()
        return render_tag('legend', {'class': 'title'}, title) if title else xml('')

    def render(self) -> xml:
        return render_tag('fieldset', {'class': self.get_class_names()},
                          self.render_title()
                          + render_tag('div', {'class': 'content'}, self.render_content())
                          + self.render_hint()
                          + self.render_error())
