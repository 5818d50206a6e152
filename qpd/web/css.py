"""qpd.web.css: helpers for writing style sheets in Python.

Colors are '#rrggbb' strings (or '#rgb', 'rgb(r, g, b)', or (r, g, b)
tuples on input); rules are built from mappings of property to value.
"""

import re

__all__ = [
    'parse_color', 'hex_to_rgb', 'rgb_to_hex', 'mix', 'lighten', 'darken',
    'rgba', 'declarations', 'rule', 'rules',
]

_HEX = re.compile(r'#?([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6})')
_RGB = re.compile(r'rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)')
_PROPERTY = re.compile(r'-?[A-Za-z][A-Za-z0-9\-]*|--[A-Za-z0-9\-_]+')
_UNSAFE_VALUE = re.compile(r'[{};]|</|<!--|\n|\r')
_QUOTED = re.compile(r'"[^"\\\n]*"|\'[^\'\\\n]*\'')


def hex_to_rgb(color):
    """(color:str) -> (int, int, int)
    The red, green and blue (0-255) of '#rrggbb' or '#rgb' (the '#' may
    be left out). ValueError for anything else.
    """
    match = _HEX.fullmatch(color.strip())
    if not match:
        raise ValueError('not a hex color: %r' % (color,))
    digits = match.group(1)
    if len(digits) == 3:
        digits = ''.join(digit * 2 for digit in digits)
    return tuple(int(digits[index:index + 2], 16) for index in (0, 2, 4))


def _clamp(value):
    return max(0, min(255, int(round(value))))


def rgb_to_hex(red, green=None, blue=None):
    """(red:int | tuple, green:int=None, blue:int=None) -> str
    '#rrggbb' for the three components (0-255, clamped), given apart or as
    one tuple.
    """
    if green is None and blue is None:
        red, green, blue = red
    return '#%02x%02x%02x' % (_clamp(red), _clamp(green), _clamp(blue))


def parse_color(color):
    """(color:str | tuple) -> (int, int, int)
    The components of a color written '#rrggbb', '#rgb', 'rgb(r, g, b)' or
    given as a tuple. ValueError for anything else.
    """
    if isinstance(color, (tuple, list)):
        if len(color) != 3:
            raise ValueError('not a color: %r' % (color,))
        return tuple(_clamp(component) for component in color)
    match = _RGB.fullmatch(color.strip())
    if match:
        return tuple(_clamp(int(component)) for component in match.groups())
    return hex_to_rgb(color)


def mix(color, other, weight=0.5):
    """(color:str | tuple, other:str | tuple, weight:float=0.5) -> str
    The color made of weight of color and 1 - weight of other.
    """
    weight = max(0.0, min(1.0, float(weight)))
    first = parse_color(color)
    second = parse_color(other)
    return rgb_to_hex(tuple(a * weight + b * (1 - weight)
                            for a, b in zip(first, second)))


def lighten(color, amount=0.1):
    """(color:str | tuple, amount:float=0.1) -> str
    color mixed with amount (0-1) of white.
    """
    return mix('#ffffff', color, amount)


def darken(color, amount=0.1):
    """(color:str | tuple, amount:float=0.1) -> str
    color mixed with amount (0-1) of black.
    """
    return mix('#000000', color, amount)


def rgba(color, alpha):
    """(color:str | tuple, alpha:float) -> str
    'rgba(r, g, b, alpha)' for color with the given opacity (0-1).
    """
    red, green, blue = parse_color(color)
    alpha = max(0.0, min(1.0, float(alpha)))
    return 'rgba(%d, %d, %d, %s)' % (red, green, blue, ('%.3f' % alpha).rstrip('0').rstrip('.'))


def _property(name):
    if not name.startswith('--'):
        name = name.replace('_', '-')
    if not _PROPERTY.fullmatch(name):
        raise ValueError('bad CSS property name %r' % (name,))
    return name


def _value(value):
    if isinstance(value, (list, tuple)):
        value = ' '.join(str(item) for item in value)
    else:
        value = str(value)
    if (_UNSAFE_VALUE.search(_QUOTED.sub('""', value))
            or '</' in value or '<!--' in value):
        raise ValueError('unsafe CSS value %r' % (value,))
    return value


def declarations(mapping=None, **properties):
    """(mapping:dict=None, **properties) -> str
    'name: value;' lines for each property, in order. '_' in a name becomes
    '-' (font_size); a list or tuple value is joined with spaces; None
    leaves the property out. ValueError for a value that could break out of
    its declaration or its <style> element ('{', '}' or ';' outside quotes,
    '</', '<!--', line breaks).
    """
    items = dict(mapping or {}, **properties)
    return ''.join('  %s: %s;\n' % (_property(name), _value(value))
                   for name, value in items.items() if value is not None)


def rule(selector, mapping=None, **properties):
    """(selector:str, mapping:dict=None, **properties) -> str
    A rule block: 'selector {' then the declarations, then '}'.
    """
    if _UNSAFE_VALUE.search(selector):
        raise ValueError('unsafe CSS selector %r' % (selector,))
    return '%s {\n%s}\n' % (selector, declarations(mapping, **properties))


def rules(mapping):
    """(mapping:dict) -> str
    A style sheet from {selector: {property: value}}; a value whose own
    values are mappings is a block (such as '@media ...') of nested rules.
    """
    parts = []
    for selector, body in mapping.items():
        if body and all(isinstance(item, dict) for item in body.values()):
            if _UNSAFE_VALUE.search(selector):
                raise ValueError('unsafe CSS selector %r' % (selector,))
            inner = rules(body)
            indented = ''.join('  ' + line if line else line
                               for line in inner.splitlines(True))
            parts.append('%s {\n%s}\n' % (selector, indented))
        else:
            parts.append(rule(selector, body))
    return ''.join(parts)
