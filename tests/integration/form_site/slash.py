"""formdemo: an order form, to try qpd forms in Profile and in a browser.

/order/ shows the form; a valid order shows a summary. The name 'admin' is
refused by the handler (form.set_error), the other checks are the widgets'.
The http port comes from $QPD_FORM_SITE_PORT (default 8011).
"""

import os

from qpd.qpy import xml
from qpd.web.common import page
from qpd.web.directory import Directory
from qpd.web.form import Form
from qpd.web.publish import Publisher
from qpd.web.widget import StringWidget, WidgetList

__all__ = ['SitePublisher', 'SiteDirectory', 'make_order_form']


class SitePublisher(Publisher):

    configuration = dict(
        http_address=('127.0.0.1', int(os.environ.get('QPD_FORM_SITE_PORT', '8011'))),
        display_exceptions=True,
    )


SIZES = [('s', 'Small'), ('m', 'Medium'), ('l', 'Large')]


def make_order_form():
    """() -> Form"""
    form = Form()
    form.add_string('name', title='Name', required=True, hint='who the order is for')
    form.add_email('email', title='Email')
    form.add_int('quantity', 1, title='Quantity', required=True, min_value=1,
                 max_value=99)
    form.add_single_select('size', 'm', title='Size', options=SIZES)
    form.add_checkbox('gift', title='Gift wrap')
    form.add_text('note', title='Note', rows=3)
    form.add(WidgetList, 'tags', title='Tag', element_type=StringWidget)
    form.add_submit('order', 'Order')
    return form


class SiteDirectory(Directory):

    _q_exports = ['', 'order']

    def _q_index(self):
        return page('formdemo', xml('<h1>formdemo</h1><p><a href="order">Order</a></p>'))

    def order(self):
        form = make_order_form()
        if form.is_submitted() and not form.has_errors() and form['name'] == 'admin':
            form.set_error('name', 'this name is taken')
        if not form.is_submitted() or form.has_errors():
            return page('Order', xml('<h1>Order</h1>'), form.render())
        summary = xml('<p id="summary">%s ordered %s %s%s.</p>') % (
            form['name'], form['quantity'], dict(SIZES)[form['size']],
            ' (gift wrapped)' if form['gift'] else '')
        tags = form['tags']
        if tags:
            summary += xml('<p id="tags">Tags: %s</p>') % ', '.join(tags)
        return page('Thank you', xml('<h1>Thank you</h1>'), summary)
