"""FileWidget: a file chosen in the browser, received as an `Upload`."""

from qpd.qpy import xml
from qpd.web.widgets.base import Widget, WidgetValueError, render_tag, is_upload

__all__ = ['FileWidget']


class FileWidget(Widget):
    """(name:str, value=None, ..., accept=None, max_size=None, **attrs)
    An `<input type=file>`; the value is the request's `Upload` (or None
    when no file was chosen). The form it is in is sent as
    multipart/form-data. `accept` is told to the browser; `max_size` (bytes)
    is checked here. Browsers cannot be given a file back, so a form that
    comes back with errors asks for the file again.
    """

    def __init__(self, name, value=None, accept=None, max_size=None, **kwargs):
        Widget.__init__(self, name, value=value, **kwargs)
        self.accept = accept
        self.max_size = max_size

    def _parse(self, request):
        value = request.get_field(self.name)
        if value is None or value == '':
            return None
        if not is_upload(value):
            raise WidgetValueError('must be a file')
        if not value.get_filename() and not value.get_size():
            return None  # the browser's part for "no file chosen"
        if self.max_size is not None and value.get_size() > self.max_size:
            raise WidgetValueError('must be at most %d bytes' % self.max_size)
        return value

    def render_content(self) -> xml:
        attrs = dict(type='file', name=self.name, id=self.get_id(),
                     accept=self.accept)
        attrs.update(self.get_control_attrs())
        return render_tag('input', attrs)
