"""
The pages of numbers that qp2keys lists, items_per_page at a time.
"""
from qp.pub.common import get_site


def get_page(number):
    size = get_site().get('items_per_page', 10)
    start = (number - 1) * size
    return range(start + 1, start + size + 1)


def get_colors():
    colors = get_site().get("colors")
    return map(lambda c: c.upper(), colors)
