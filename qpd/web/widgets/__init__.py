"""qpd.web.widgets: the widgets of qpd.web.form, one module per kind.

base      Widget, render_tag and the field readers
text      StringWidget, TextWidget, PasswordWidget, EmailWidget, HiddenWidget
number    IntWidget, FloatWidget, DateWidget
choice    CheckboxWidget and the select widgets
button    SubmitWidget, ResetWidget, ButtonWidget
upload    FileWidget
compound  CompositeWidget, WidgetList, WidgetDict

`qpd.web.widget` exports them all under QP's module name.
"""

from qpd.web.widgets.base import Widget, WidgetValueError, render_tag
from qpd.web.widgets.text import (StringWidget, TextWidget, PasswordWidget,
                                  EmailWidget, HiddenWidget)
from qpd.web.widgets.number import (NumberWidget, IntWidget, FloatWidget,
                                    DateWidget)
from qpd.web.widgets.choice import (CheckboxWidget, SingleSelectWidget,
                                    MultipleSelectWidget, RadiobuttonsWidget,
                                    OptionSelectWidget, SelectWidget, Option)
from qpd.web.widgets.button import SubmitWidget, ResetWidget, ButtonWidget
from qpd.web.widgets.upload import FileWidget
from qpd.web.widgets.compound import CompositeWidget, WidgetList, WidgetDict

__all__ = ['Widget', 'WidgetValueError', 'render_tag', 'Option',
           'StringWidget', 'TextWidget', 'PasswordWidget', 'EmailWidget',
           'HiddenWidget', 'NumberWidget', 'IntWidget', 'FloatWidget',
           'DateWidget', 'SelectWidget',
           'CheckboxWidget', 'SingleSelectWidget', 'MultipleSelectWidget',
           'RadiobuttonsWidget', 'OptionSelectWidget', 'SubmitWidget',
           'ResetWidget', 'ButtonWidget', 'FileWidget', 'CompositeWidget',
           'WidgetList', 'WidgetDict']
