"""qpd.lib.util: small helpers that did not fit elsewhere."""

import importlib
import secrets

__all__ = [
    'randbytes', 'make_token', 'import_object', 'ensure_list',
    'format_bytes', 'as_str', 'as_bytes',
]


def randbytes(count):
    """(count:int) -> str
    count random bytes from `secrets`, as a string of 2 * count hex digits.
    randbytes(16) is a 128-bit identifier.
    """
    return secrets.token_hex(count)


def make_token(count=16):
    """(count:int=16) -> str
    count random bytes from `secrets`, as a URL-safe base64 string (no
    padding): for links in email, form tokens and the like.
    """
    return secrets.token_urlsafe(count)


def import_object(name):
    """(name:str) -> object
    The object a dotted name refers to: 'pkg.mod.Name', 'pkg.mod.Name.attr',
    or with the module made explicit, 'pkg.mod:Name.attr'.  A module name
    alone gives the module.  Raises ImportError when nothing is found.
    """
    if ':' in name:
        module_name, _, attributes = name.partition(':')
        module = importlib.import_module(module_name)
        parts = attributes.split('.') if attributes else []
    else:
        parts = name.split('.')
        module = None
        for index in range(len(parts), 0, -1):
            module_name = '.'.join(parts[:index])
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as error:
                # Only swallow the error if it is about this very name (or
                # a parent), not about something the module itself imports.
                missing = error.name or ''
                if not (module_name == missing or
                        module_name.startswith(missing + '.')):
                    raise
                continue
            parts = parts[index:]
            break
        if module is None:
            raise ImportError('no module found for %r' % name)
    value = module
    for part in parts:
        try:
            value = getattr(value, part)
        except AttributeError:
            raise ImportError('%r has no attribute %r (importing %r)' % (
                value, part, name)) from None
    return value


def ensure_list(value):
    """(value) -> list
    None gives [], a list is returned as it is, a str, bytes or mapping
    becomes a one-item list, and any other iterable is listed.  Anything
    else becomes a one-item list.
    """
    if value is None:
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, (str, bytes, bytearray, dict)):
        return [value]
    try:
        return list(value)
    except TypeError:
        return [value]


_UNITS = ('bytes', 'KB', 'MB', 'GB', 'TB', 'PB')


def format_bytes(count):
    """(count:int) -> str
    A size for people: 512 -> '512 bytes', 1536 -> '1.5 KB' (1 KB = 1024).
    """
    size = float(count)
    unit = 0
    while abs(size) >= 1024 and unit < len(_UNITS) - 1:
        size /= 1024
        unit += 1
    if unit == 0:
        return '%d %s' % (count, 'byte' if count == 1 else 'bytes')
    return '%.1f %s' % (size, _UNITS[unit])


def as_str(value, encoding='utf-8'):
    """(value:str|bytes, encoding='utf-8') -> str"""
    if isinstance(value, (bytes, bytearray)):
        return value.decode(encoding)
    return value


def as_bytes(value, encoding='utf-8'):
    """(value:str|bytes, encoding='utf-8') -> bytes"""
    if isinstance(value, str):
        return value.encode(encoding)
    return value
