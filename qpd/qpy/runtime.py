"""The helpers that compiled .qpy templates call.

The compiler (qpd.qpy.compiler) imports these under `_qpy_` names at the
top of every .qpy module; they are small and hot, so they stay plain
functions with no indirection.
"""

from qpd.qpy.xml import xml, quote_text, markup_text

__all__ = ['xml', 'quote_text', 'markup_text', 'quote_item', 'text_item',
           'join_markup', 'join_text']


def quote_item(value) -> str:
    """(value:object) -> str
    The markup for the value of an expression statement in an xml template:
    '' for None, markup as it is, anything else as quoted text.
    """
    if type(value) is str:
        return quote_text(value)
    if value is None:
        return ''
    return markup_text(value)


def text_item(value) -> str:
    """(value:object) -> str
    The text for the value of an expression statement in a str template:
    '' for None, else str(value).
    """
    if value is None:
        return ''
    return str(value)


def join_markup(parts) -> xml:
    """(parts:list[str]) -> xml"""
    return xml(''.join(parts))


def join_text(parts) -> str:
    """(parts:list[str]) -> str"""
    return ''.join(parts)
