"""Widgets whose text stands for a number or a date: IntWidget, FloatWidget
and DateWidget, with optional bounds checked here and told to the browser.
"""

import datetime
import math
import re

from qpd.web.widgets.base import WidgetValueError
from qpd.web.widgets.text import InputWidget

__all__ = ['NumberWidget', 'IntWidget', 'FloatWidget', 'DateWidget']


class _BoundedWidget(InputWidget):
    """(name:str, value=None, ..., min_value=None, max_value=None, **attrs)"""

    def __init__(self, name, value=None, min_value=None, max_value=None, **kwargs):
        InputWidget.__init__(self, name, value=value, **kwargs)
        self.min_value = min_value
        self.max_value = max_value

    def check_bounds(self, value):
        """(value) -> value
        value, or WidgetValueError when it is outside the bounds.
        """
        if self.min_value is not None and value < self.min_value:
            raise WidgetValueError('must be at least %s' % self.format_value(self.min_value))
        if self.max_value is not None and value > self.max_value:
            raise WidgetValueError('must be at most %s' % self.format_value(self.max_value))
        return value

    def read(self, text:str):
        """(text:str) -> object
        The value written in text, bounds aside, or WidgetValueError.
        """
        raise NotImplementedError

    def convert(self, text):
        return self.check_bounds(self.read(text))

    def is_showable(self, text):
        try:
            self.read(text.strip())
        except WidgetValueError:
            return False
        return True

    def get_input_attrs(self):
        attrs = InputWidget.get_input_attrs(self)
        if attrs['type'] != self.input_type:
            return attrs
        if self.min_value is not None:
            attrs['min'] = self.format_value(self.min_value)
        if self.max_value is not None:
            attrs['max'] = self.format_value(self.max_value)
        return attrs


class NumberWidget(_BoundedWidget):
    """(name:str, value=None, ..., min_value=None, max_value=None, **attrs)
    The common base of the numeric widgets (QP's NumberWidget). `step`
    is the browser's step between allowed values (None: no step).
    """

    step = None

    def get_input_attrs(self):
        attrs = _BoundedWidget.get_input_attrs(self)
        if self.step is not None and attrs['type'] == self.input_type:
            attrs['step'] = self.step
        return attrs


class IntWidget(NumberWidget):
    """(name:str, value:int=None, ..., min_value=None, max_value=None, **attrs)
    An integer in decimal digits (`type=number`): "must be an integer".
    """

    input_type = 'number'
    step = '1'
    pattern = re.compile(r'[+-]?[0-9]{1,4000}\Z')

    def read(self, text):
        if not self.pattern.match(text):
            raise WidgetValueError('must be an integer')
        return int(text)


class FloatWidget(NumberWidget):
    """(name:str, value:float=None, ..., min_value=None, max_value=None, **attrs)
    A finite decimal number (`type=number`, any step): "must be a number".
    """

    input_type = 'number'
    step = 'any'
    pattern = re.compile(r'[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]{1,4})?\Z')

    def read(self, text):
        if len(text) > 400 or not self.pattern.match(text):
            raise WidgetValueError('must be a number')
        value = float(text)
        if not math.isfinite(value):
            raise WidgetValueError('must be a number')
        return value

    def format_value(self, value):
        if value is None:
            return ''
        return repr(float(value)) if not isinstance(value, str) else value


class DateWidget(_BoundedWidget):
    """(name:str, value:date=None, ..., min_value=None, max_value=None, **attrs)
    A calendar date written YYYY-MM-DD (`type=date`); the value is a
    datetime.date.
    """

    input_type = 'date'
    pattern = re.compile(r'[0-9]{4}-[0-9]{2}-[0-9]{2}\Z')
    message = 'must be a date (YYYY-MM-DD)'

    def read(self, text):
        if not self.pattern.match(text):
            raise WidgetValueError(self.message)
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            raise WidgetValueError(self.message) from None

    def format_value(self, value):
        if value is None:
            return ''
        if isinstance(value, datetime.datetime):
            value = value.date()
        if isinstance(value, datetime.date):
            return value.isoformat()
        return str(value)
