"""Form: a set of widgets rendered as an HTML form and taken back from the
request that submits it.

The usual handler::

    form = Form()
    form.add_string('name', title='Name', required=True)
    form.add_int('age', title='Age')
    form.add_submit('save', 'Save')
    if not form.is_submitted() or form.has_errors():
        return page('Edit', form.render())
    ...use form.get('name'), form['age']...

With `use_tokens` (the default) a post form carries a one-time token from
the stored session, or, for a visitor without one, a stateless token
(qpd.web.form_token) that costs the GET no write; a submission whose token
is missing, forged, already used or not a single string has an error, so
the handler above shows the form again (with a message) instead of
processing it. A token is spent in the database, so tokens need a
publisher with one; pass use_tokens=False for a form on a database-less
site.
"""

from urllib.parse import urljoin

from qpd.qpy import xml
from qpd.web.widgets import (
    Widget, render_tag, StringWidget, TextWidget, PasswordWidget,
    CheckboxWidget, SingleSelectWidget, MultipleSelectWidget,
    RadiobuttonsWidget, OptionSelectWidget, IntWidget, FloatWidget,
    DateWidget, EmailWidget, FileWidget, HiddenWidget, SubmitWidget,
    ResetWidget, ButtonWidget)
from qpd.web.widgets.base import get_current_request

__all__ = ['Form', 'TOKEN_NAME', 'TOKEN_MESSAGE', 'get_javascript_code']

TOKEN_NAME = '_form_token'
TOKEN_MESSAGE = ('This form was already submitted, or it has expired. '
                 'Please check it and submit it again.')
MAX_TOKEN_LENGTH = 200


def get_javascript_code():
    """() -> dict
    The current hit's JavaScript for its forms (QP's): code id -> code.
    Each form rendered in the hit ends with one <script> holding the code
    not yet rendered, in the order of the ids, and empties those entries.
    The code is the application's own (trusted, not quoted). Outside a
    hit, a new empty dict.
    """
    from qpd.web.common import get_hit
    hit = get_hit()
    if hit is None:
        return {}
    return hit.get_info().setdefault('javascript_code', {})


def render_javascript(code):
    """(code:dict) -> xml
    The <script> of the non-empty entries of code, in the order of their
    ids (each entry then emptied), or nothing.
    """
    parts = []
    for code_id in sorted(code):
        if code[code_id]:
            parts.append(str(code[code_id]))
            code[code_id] = ''
    if not parts:
        return xml('')
    return xml('<script>\n%s\n</script>' % '\n'.join(parts))


def get_current_tokens(scope):
    """(scope:str) -> FormTokens
    The token keeper of a form (named by scope) in the current hit: the
    stored session's tokens, else stateless ones (qpd.web.form_token), so
    that showing a form to an anonymous visitor writes nothing.
    """
    from qpd.web.common import get_publisher
    from qpd.web.form_token import FormTokens
    return FormTokens(get_publisher(), scope)


class Form:
    """(method='post', action_url=None, enctype=None, use_tokens=True,
        request=None, session=None, **attrs)
    An HTML form of widgets. `action_url` None submits to the page's own
    URL; `enctype` None is multipart/form-data when the form has a
    FileWidget; `use_tokens` guards post forms with one-time tokens from
    the session. `request` and `session` default to the current hit's.
    Other keywords become attributes of the <form> (`class_`, `id`,
    `novalidate`, ...).
    """

    token_name = TOKEN_NAME
    token_message = TOKEN_MESSAGE

    def __init__(self, method='post', action_url=None, enctype=None,
                 use_tokens=True, request=None, session=None, **attrs):
        method = method.lower()
        if method not in ('get', 'post'):
            raise ValueError('method must be get or post, not %r' % method)
        self.method = method
        self.action_url = action_url
        self.enctype = enctype
        self.use_tokens = use_tokens
        self.request = request
        self.session = session
        self.attrs = attrs
        self.widgets = []
        self.widget_by_name = {}
        self.error = None
        self.parsed = False

    # the request and the session

    def get_request(self):
        """() -> HTTPRequest"""
        if self.request is None:
            self.request = get_current_request()
        return self.request

    def get_session(self):
        """() -> Session
        Where the tokens come from: an object with add_token() -> str and
        use_token(token:str) -> bool.
        """
        if self.session is None:
            self.session = get_current_tokens(self.get_token_scope())
        return self.session

    def get_token_scope(self) -> str:
        """() -> str
        What a stateless token of this form is bound to: the absolute
        path it posts to (the action URL resolved against the page's path,
        so two pages' forms with the same relative action differ), else
        the path of the page.
        """
        path = self.get_request().get_path()
        return urljoin(path, self.action_url) if self.action_url else path

    def is_using_tokens(self) -> bool:
        """() -> bool
        Whether submissions need a token (post forms with use_tokens).
        """
        return bool(self.use_tokens) and self.method == 'post'

    # building

    def add(self, widget_class, name:str, *args, **kwargs) -> Widget:
        """(widget_class:type, name:str, *args, **kwargs) -> Widget
        Add a widget of this class and return it: as in QP, the other
        arguments go to the widget's constructor as they are (so
        add(SingleSelectWidget, 'x', None, options) works).
        """
        if name in self.widget_by_name:
            raise ValueError('the form already has a widget named %r' % name)
        if name == self.token_name or name.startswith(self.token_name + '$'):
            raise ValueError('%r is the name of the form token' % name)
        widget = widget_class(name, *args, **kwargs)
        self.add_widget(widget)
        return widget

    def add_widget(self, widget:Widget) -> Widget:
        """(widget:Widget) -> Widget
        Add a widget made elsewhere.
        """
        if widget.get_name() in self.widget_by_name:
            raise ValueError('the form already has a widget named %r'
                             % widget.get_name())
        self.widgets.append(widget)
        self.widget_by_name[widget.get_name()] = widget
        if self.parsed and self.is_submitted():
            widget.parse(self.get_request())
        return widget

    def add_string(self, name, value=None, **kwargs):
        """(name:str, value:str=None, **kwargs) -> StringWidget"""
        return self.add(StringWidget, name, value, **kwargs)

    def add_text(self, name, value=None, **kwargs):
        """(name:str, value:str=None, **kwargs) -> TextWidget"""
        return self.add(TextWidget, name, value, **kwargs)

    def add_password(self, name, value=None, **kwargs):
        """(name:str, value=None, **kwargs) -> PasswordWidget"""
        return self.add(PasswordWidget, name, value, **kwargs)

    def add_checkbox(self, name, value=False, **kwargs):
        """(name:str, value:bool=False, **kwargs) -> CheckboxWidget"""
        return self.add(CheckboxWidget, name, value, **kwargs)

    def add_single_select(self, name, value=None, **kwargs):
        """(name:str, value=None, options=..., **kwargs) -> SingleSelectWidget"""
        return self.add(SingleSelectWidget, name, value, **kwargs)

    def add_multiple_select(self, name, value=None, **kwargs):
        """(name:str, value:list=None, options=..., **kwargs) -> MultipleSelectWidget"""
        return self.add(MultipleSelectWidget, name, value, **kwargs)

    def add_radiobuttons(self, name, value=None, **kwargs):
        """(name:str, value=None, options=..., **kwargs) -> RadiobuttonsWidget"""
        return self.add(RadiobuttonsWidget, name, value, **kwargs)

    def add_option_select(self, name, value=None, **kwargs):
        """(name:str, value=None, options=..., **kwargs) -> OptionSelectWidget"""
        return self.add(OptionSelectWidget, name, value, **kwargs)

    def add_int(self, name, value=None, **kwargs):
        """(name:str, value:int=None, **kwargs) -> IntWidget"""
        return self.add(IntWidget, name, value, **kwargs)

    def add_float(self, name, value=None, **kwargs):
        """(name:str, value:float=None, **kwargs) -> FloatWidget"""
        return self.add(FloatWidget, name, value, **kwargs)

    def add_date(self, name, value=None, **kwargs):
        """(name:str, value:date=None, **kwargs) -> DateWidget"""
        return self.add(DateWidget, name, value, **kwargs)

    def add_email(self, name, value=None, **kwargs):
        """(name:str, value:str=None, **kwargs) -> EmailWidget"""
        return self.add(EmailWidget, name, value, **kwargs)

    def add_file(self, name, value=None, **kwargs):
        """(name:str, value=None, **kwargs) -> FileWidget"""
        return self.add(FileWidget, name, value, **kwargs)

    def add_hidden(self, name, value=None, **kwargs):
        """(name:str, value=None, **kwargs) -> HiddenWidget"""
        return self.add(HiddenWidget, name, value, **kwargs)

    def add_submit(self, name='submit', value=None, **kwargs):
        """(name:str='submit', value:str=None, **kwargs) -> SubmitWidget
        value is the button's label.
        """
        return self.add(SubmitWidget, name, value, **kwargs)

    def add_reset(self, name='reset', value=None, **kwargs):
        """(name:str='reset', value:str=None, **kwargs) -> ResetWidget"""
        return self.add(ResetWidget, name, value, **kwargs)

    def add_button(self, name, value=None, **kwargs):
        """(name:str, value:str=None, **kwargs) -> ButtonWidget"""
        return self.add(ButtonWidget, name, value, **kwargs)

    # widgets

    def get_widget(self, name:str):
        """(name:str) -> Widget | None"""
        return self.widget_by_name.get(name)

    def get_widgets(self) -> list:
        """() -> [Widget]
        All widgets, in the order they were added.
        """
        return list(self.widgets)

    def get_all_widgets(self) -> list:
        """() -> [Widget]: get_widgets() under QP's name"""
        return self.get_widgets()

    def has_key(self, name:str) -> bool:
        """(name:str) -> bool: has the form a widget of that name? (QP)"""
        return name in self.widget_by_name

    def get_field_widgets(self) -> list:
        """() -> [Widget]
        The widgets laid out as rows: neither hidden nor buttons.
        """
        return [widget for widget in self.widgets
                if not widget.is_hidden() and not widget.is_button()]

    def get_hidden_widgets(self) -> list:
        """() -> [Widget]"""
        return [widget for widget in self.widgets if widget.is_hidden()]

    def get_button_widgets(self) -> list:
        """() -> [Widget]"""
        return [widget for widget in self.widgets if widget.is_button()]

    def get_submit_widgets(self) -> list:
        """() -> [SubmitWidget]"""
        return [widget for widget in self.widgets
                if isinstance(widget, SubmitWidget)]

    # taking the form back

    def is_submitted(self) -> bool:
        """() -> bool
        Whether the current request submits this form, as QP reads it: a
        post form is submitted by any POST (one that lacks the form's token
        or fields then has errors), a get form by a GET that carries any
        field.
        """
        request = self.get_request()
        if self.method == 'post':
            return request.get_method() == 'POST'
        return request.get_method() in ('GET', 'HEAD') and bool(
            request.get_fields())

    def parse(self):
        """() -> None
        When the form is submitted: check the token and parse every widget
        (once; the accessors below call this).
        """
        if self.parsed:
            return
        self.parsed = True
        if not self.is_submitted():
            return
        request = self.get_request()
        for widget in self.widgets:
            widget.parse(request)
        if self.is_using_tokens() and not self.use_submitted_token():
            self.error = self.token_message

    def use_submitted_token(self) -> bool:
        """() -> bool
        Whether the request carries one valid token, which is then used up.
        A missing or unknown token, a repeated field or an upload is False.
        """
        token = self.get_request().get_field(self.token_name)
        if not isinstance(token, str) or not token:
            return False
        if len(token) > MAX_TOKEN_LENGTH:
            return False
        return bool(self.get_session().use_token(token))

    def get(self, name:str, default=None):
        """(name:str, default=None) -> object
        The value of the widget named name: parsed from the request when
        the form is submitted, else its initial value. default when the
        form has no such widget.
        """
        widget = self.widget_by_name.get(name)
        if widget is None:
            return default
        self.parse()
        return widget.get_value()

    def __getitem__(self, name:str):
        """(name:str) -> object
        Like get(), but a KeyError for an unknown name.
        """
        if name not in self.widget_by_name:
            raise KeyError(name)
        return self.get(name)

    def __contains__(self, name):
        return name in self.widget_by_name

    def get_submit(self):
        """() -> str | bool | None
        The name of the submit button that sent the form; True when the
        form was submitted without one (Enter in a field in some
        browsers); None when it was not submitted.
        """
        if not self.is_submitted():
            return None
        self.parse()
        for widget in self.get_submit_widgets():
            if widget.is_pressed():
                return widget.get_name()
        return True

    def has_errors(self) -> bool:
        """() -> bool
        Whether the submission must not be processed: a widget has an
        error, the token was refused, set_error was called, or a widget
        was only rearranged (a row added or removed).
        """
        self.parse()
        if self.error is not None:
            return True
        for widget in self.widgets:
            if widget.has_error():
                return True
            if widget.is_rearranged():
                return True
        return False

    def get_error(self):
        """() -> str | None
        The error of the form as a whole (the token's, or set_form_error's).
        """
        return self.error

    def set_error(self, name:str, message:str):
        """(name:str, message:str) -> None
        Give the widget named name an error (after checks of your own).
        A name of None sets the error of the form as a whole.
        """
        self.parse()
        if name is None:
            self.error = message
        else:
            self.widget_by_name[name].set_error(message)

    def set_form_error(self, message):
        """(message:str|None) -> None"""
        self.parse()
        self.error = message

    def clear_errors(self):
        """() -> None
        Forget every error (the form's and the widgets').
        """
        self.parse()
        self.error = None
        for widget in self.widgets:
            widget.clear_error()

    # rendering

    def get_enctype(self):
        """() -> str | None"""
        if self.enctype is None and self.method == 'post' and any(
                isinstance(widget, FileWidget) for widget in self._walk()):
            return 'multipart/form-data'
        return self.enctype

    def _walk(self):
        stack = list(self.widgets)
        while stack:
            widget = stack.pop()
            yield widget
            stack.extend(widget.get_widgets())

    def get_form_attrs(self) -> dict:
        """() -> dict"""
        attrs = {'method': self.method, 'action': self.action_url or None,
                 'enctype': self.get_enctype(), 'class': 'qpd-form'}
        attrs.update(self.attrs)
        return attrs

    def render_start(self) -> xml:
        """() -> xml
        The <form> tag, the token, the hidden widgets and the form's error:
        what comes before the widgets when laying a form out by hand.
        """
        self.parse()
        return (render_tag('form', self.get_form_attrs())
                + self.render_hidden()
                + self.render_default_button()
                + self.render_error())

    def render_hidden(self) -> xml:
        """() -> xml
        The token (a new one for every rendering) and the hidden widgets.
        """
        items = []
        if self.is_using_tokens():
            items.append(render_tag('input', dict(
                type='hidden', name=self.token_name,
                value=self.get_session().add_token())))
        items.extend(widget.render() for widget in self.get_hidden_widgets())
        return xml('').join(items)

    def render_default_button(self) -> xml:
        """() -> xml
        When a widget has buttons of its own (a WidgetList's add and remove),
        an unseen copy of the first submit button, so that Enter in a field
        presses it rather than the widget's.
        """
        submits = self.get_submit_widgets()
        if not submits or not any(widget.has_buttons()
                                  for widget in self.get_field_widgets()):
            return xml('')
        submit = submits[0]
        return render_tag('div', {'hidden': True}, render_tag('input', dict(
            type='submit', name=submit.get_name(), value=submit.get_label(),
            tabindex='-1', aria_hidden='true')))

    def render_error(self) -> xml:
        """() -> xml
        The error of the form as a whole, if any.
        """
        if self.error is None:
            return xml('')
        return render_tag('div', {'class': 'form-error', 'role': 'alert'}, self.error)

    def render_widgets(self) -> xml:
        """() -> xml
        The rows of the widgets that are neither hidden nor buttons.
        """
        return xml('').join(widget.render() for widget in self.get_field_widgets())

    def render_buttons(self) -> xml:
        """() -> xml
        The buttons, in a div of class "buttons".
        """
        buttons = self.get_button_widgets()
        if not buttons:
            return xml('')
        return render_tag('div', {'class': 'buttons'},
                          xml(' ').join(widget.render() for widget in buttons))

    def render_end(self) -> xml:
        """() -> xml: the end tag, and the hit's JavaScript not yet
        rendered (get_javascript_code())"""
        return xml('</form>') + render_javascript(get_javascript_code())

    def render(self) -> xml:
        """() -> xml
        The whole form.
        """
        return (self.render_start() + self.render_widgets()
                + self.render_buttons() + self.render_end())

    def __html__(self):
        return self.render()
