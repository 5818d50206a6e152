"""Widgets made of widgets: CompositeWidget (named parts), WidgetList
(rows that can be added and removed) and WidgetDict (rows of key and value).

A part of a compound widget named `n` is named `n$part` in the form, so
the fields of one compound widget never collide with another's.
"""

import re

from qpd.qpy import xml
from qpd.web.widgets.base import Widget, render_tag, get_text_field
from qpd.web.widgets.button import SubmitWidget
from qpd.web.widgets.text import StringWidget

__all__ = ['CompositeWidget', 'WidgetList', 'WidgetDict']


class CompositeWidget(Widget):
    """(name:str, value:dict=None, title=None, hint=None, **attrs)
    A group of widgets added with add(); the value is the dict of their
    values by part name. value gives initial values to parts added later.
    Rendered as a fieldset whose legend is the title.
    """

    has_label = False

    def __init__(self, name, value=None, **kwargs):
        Widget.__init__(self, name, value=None, **kwargs)
        self.initial = value if isinstance(value, dict) else {}
        self.widgets = []
        self.widget_by_name = {}

    def add(self, widget_class, name:str, *args, **kwargs) -> Widget:
        """(widget_class:type, name:str, *args, **kwargs) -> Widget
        Add a part named name (a field named `<self>$<name>`).
        """
        if name in self.widget_by_name:
            raise ValueError('%r already has a part named %r' % (self, name))
        if not args and 'value' not in kwargs and name in self.initial:
            kwargs['value'] = self.initial[name]
        widget = widget_class('%s$%s' % (self.name, name), *args, **kwargs)
        self.widgets.append(widget)
        self.widget_by_name[name] = widget
        return widget

    def get_widget(self, name:str):
        """(name:str) -> Widget | None"""
        return self.widget_by_name.get(name)

    def get_widgets(self) -> list:
        """() -> [Widget]"""
        return list(self.widgets)

    def get(self, name:str):
        """(name:str) -> object
        The value of the part named name.
        """
        return self.widget_by_name[name].get_value()

    def get_value(self):
        """() -> dict"""
        return {name: widget.get_value()
                for name, widget in self.widget_by_name.items()}

    def set_value(self, value):
        """(value:dict) -> None"""
        for name, item in (value or {}).items():
            if name in self.widget_by_name:
                self.widget_by_name[name].set_value(item)

    def _parse(self, request):
        for widget in self.get_widgets():
            widget.parse(request)
        return self.get_value()

    def is_empty(self):
        return all(widget.is_empty() for widget in self.get_widgets()
                   if not widget.is_button())

    def has_error(self):
        return self.error is not None or any(
            widget.has_error() for widget in self.get_widgets())

    def clear_error(self):
        self.error = None
        for widget in self.get_widgets():
            widget.clear_error()

    def has_buttons(self) -> bool:
        """() -> bool
        Whether submit buttons are among the parts (so pressing Enter in
        a field could press one of them).
        """
        return any(isinstance(widget, SubmitWidget) or
                   widget.has_buttons()
                   for widget in self.get_widgets())

    def is_rearranged(self) -> bool:
        """() -> bool
        Whether the submission only changed the shape of this widget (added
        or removed a row), so its form should come back rather than be
        processed.
        """
        return any(widget.is_rearranged()
                   for widget in self.get_widgets())

    def render_title(self) -> xml:
        title = self.get_title()
        return render_tag('legend', {'class': 'title'}, title) if title else xml('')

    def render_content(self) -> xml:
        return xml('').join(widget.render() for widget in self.get_widgets())

    def render(self) -> xml:
        return render_tag('fieldset', {'class': self.get_class_names(), 'id': self.get_id()},
                          self.render_title()
                          + render_tag('div', {'class': 'content'}, self.render_content())
                          + self.render_hint()
                          + self.render_error())


_row_id = re.compile(r'[0-9]{1,6}\Z')
_word = re.compile(r'\S+')


class WidgetList(CompositeWidget):
    """(name:str, value:list=None, element_type=StringWidget, element_kwargs=None,
        add_element_label='Add row', remove_element_label='Remove',
        max_rows=100, title=None, hint=None, **attrs)
    A list of widgets of one type, one per row, with a button that adds a
    row and one on each row that removes it. The value is the list of the
    rows' values, empty rows (None) left out. Pressing add or remove makes
    the form come back (see is_rearranged) with the typing kept.
    """

    def __init__(self, name, value=None, element_type=StringWidget,
                 element_kwargs=None, add_element_label='Add row',
                 remove_element_label='Remove', max_rows=100, **kwargs):
        CompositeWidget.__init__(self, name, **kwargs)
        self.element_type = element_type
        self.element_kwargs = dict(element_kwargs or {})
        self.add_element_label = add_element_label
        self.remove_element_label = remove_element_label
        self.max_rows = max_rows
        self.rows = {}  # row id -> element widget, in order
        self.rearranged = False
        self.value = []
        for item in value or ():
            self.add_row(item)
        if not self.rows:
            self.add_row()

    # rows

    def get_row_widgets(self) -> list:
        """() -> [Widget]"""
        return list(self.rows.values())

    def add_row(self, value=None) -> Widget:
        """(value=None) -> Widget
        Append a row holding value.
        """
        row_id = max(self.rows, default=-1) + 1
        return self._make_row(row_id, value)

    def remove_row(self, widget:Widget):
        """(widget:Widget) -> None"""
        for row_id, row in list(self.rows.items()):
            if row is widget:
                del self.rows[row_id]

    def _make_row(self, row_id, value=None):
        kwargs = dict(self.element_kwargs)
        if value is not None:
            kwargs['value'] = value
        widget = self.element_type('%s$%d' % (self.name, row_id), **kwargs)
        self.rows[row_id] = widget
        return widget

    def _get_field_name(self, *parts):
        return '$'.join((self.name,) + parts)

    # the CompositeWidget interface, over the rows

    def get_widgets(self):
        """() -> [Widget]
        The rows' widgets.
        """
        return list(self.rows.values())

    def add(self, widget_class, name, *args, **kwargs):
        raise TypeError('WidgetList rows are added with add_row()')

    def get_value(self):
        """() -> list"""
        return self.get_element_values()

    def set_value(self, value):
        """(value:list) -> None"""
        self.rows = {}
        self.parsed = False
        for item in value or ():
            self.add_row(item)
        if not self.rows:
            self.add_row()

    def get_element_values(self) -> list:
        """() -> list
        The values of the rows, empty ones left out.
        """
        return [row.get_value() for row in self.rows.values()
                if row.get_value() is not None]

    def is_rearranged(self):
        return self.rearranged

    def has_buttons(self):
        return True

    def _parse(self, request):
        ids_text = get_text_field(request, self._get_field_name('rows'))
        if ids_text is not None:
            self.rows = {}
            for match in _word.finditer(ids_text):
                if len(self.rows) >= self.max_rows:
                    break
                text = match.group()
                if _row_id.match(text) and int(text) not in self.rows:
                    self._make_row(int(text))
        for row_id, row in list(self.rows.items()):
            row.parse(request)
            if request.get_field(self._get_field_name('remove', str(row_id))) is not None:
                del self.rows[row_id]
                self.rearranged = True
        if request.get_field(self._get_field_name('add')) is not None:
            self.rearranged = True
            if len(self.rows) < self.max_rows:
                self.add_row()
        return self.get_element_values()

    def is_empty(self):
        return not self.get_value()

    # rendering

    def render_content(self) -> xml:
        title = self.get_title() or 'Row'
        items = [render_tag('input', dict(
            type='hidden', name=self._get_field_name('rows'),
            value=' '.join(str(row_id) for row_id in self.rows)))]
        for number, (row_id, row) in enumerate(self.rows.items(), 1):
            if 'title' not in self.element_kwargs:
                row.set_title('%s %d' % (title, number))
            remove = SubmitWidget(self._get_field_name('remove', str(row_id)),
                                  self.remove_element_label, formnovalidate=True,
                                  class_='remove', aria_label='%s: %s' % (
                                      self.remove_element_label, row.get_title()))
            items.append(render_tag('div', {'class': 'row'},
                                    row.render() + remove.render()))
        if len(self.rows) < self.max_rows:
            items.append(SubmitWidget(self._get_field_name('add'),
                                      self.add_element_label, formnovalidate=True,
                                      class_='add').render())
        return xml('').join(items)


class _PairWidget(CompositeWidget):
    """(name:str, value:tuple=None, key_type=StringWidget, value_type=StringWidget,
        key_kwargs=None, value_kwargs=None, **attrs)
    A key and a value; the value of the pair is (key, value), or None when
    no key was given.
    """

    def __init__(self, name, value=None, key_type=StringWidget,
                 value_type=StringWidget, key_kwargs=None, value_kwargs=None,
                 **kwargs):
        CompositeWidget.__init__(self, name, **kwargs)
        key, item = value if value is not None else (None, None)
        self.add(key_type, 'key', value=key, **dict(dict(title='Key'), **(key_kwargs or {})))
        self.add(value_type, 'value', value=item,
                 **dict(dict(title='Value'), **(value_kwargs or {})))

    def get_value(self):
        key = self.widget_by_name['key'].get_value()
        if key is None:
            return None
        return (key, self.widget_by_name['value'].get_value())

    def set_value(self, value):
        key, item = value if value is not None else (None, None)
        self.widget_by_name['key'].set_value(key)
        self.widget_by_name['value'].set_value(item)


class WidgetDict(WidgetList):
    """(name:str, value:dict=None, key_type=StringWidget, value_type=StringWidget,
        key_kwargs=None, value_kwargs=None, add_element_label='Add row', ...)
    Rows of a key and a value, added and removed like WidgetList's; the
    value is the dict of the rows with a key. A repeated key is an error.
    """

    def __init__(self, name, value=None, key_type=StringWidget,
                 value_type=StringWidget, key_kwargs=None, value_kwargs=None,
                 element_key_type=None, element_value_type=None,
                 element_key_kwargs=None, element_value_kwargs=None,
                 **kwargs):
        # QP's keyword names, beside qpd's shorter ones.
        key_type = element_key_type or key_type
        value_type = element_value_type or value_type
        key_kwargs = element_key_kwargs or key_kwargs
        value_kwargs = element_value_kwargs or value_kwargs
        element_kwargs = dict(key_type=key_type, value_type=value_type,
                              key_kwargs=key_kwargs, value_kwargs=value_kwargs)
        WidgetList.__init__(self, name, value=list((value or {}).items()),
                            element_type=_PairWidget,
                            element_kwargs=element_kwargs, **kwargs)

    def get_value(self):
        """() -> dict"""
        return dict(WidgetList.get_value(self))

    def set_value(self, value):
        """(value:dict) -> None"""
        WidgetList.set_value(self, list((value or {}).items()))

    def _parse(self, request):
        pairs = WidgetList._parse(self, request)
        seen = set()
        for row in self.rows.values():
            pair = row.get_value()
            if pair is None:
                continue
            if pair[0] in seen:
                row.get_widget('key').set_error('is repeated')
            seen.add(pair[0])
        return pairs
