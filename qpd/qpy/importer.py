"""The import hook that makes `name.qpy` files importable as modules.

`install()` appends a `QpyFinder` to `sys.meta_path`, after Python's own
finders, so a `name.py` beside `name.qpy` wins. The finder looks for
`name.qpy` in the package's `__path__` (or `sys.path` for a top-level
module); `QpyLoader` compiles it with qpd.qpy.compiler and caches the code
in `__pycache__/name.qpy.<tag>.pyc`, a name no `.py` file ever uses. The
cache file holds the interpreter's magic number, the compiler version and a
digest of the source; the module is compiled again whenever any of them
changes.
"""

import hashlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys

from qpd.qpy.compiler import compile_qpy

__all__ = ['install', 'QpyFinder', 'QpyLoader', 'get_cache_path', 'SUFFIX']

SUFFIX = '.qpy'

# Bump when the compiler's output changes, so cached code is replaced.
COMPILER_VERSION = 1


def get_cache_path(source_path: str):
    """(source_path:str) -> str | None
    Where the compiled code of the .qpy file at source_path is cached, or
    None when bytecode caching is off.
    """
    if sys.implementation.cache_tag is None:
        return None
    # cache_from_source keeps everything before the last dot, so naming the
    # source `name.qpy.py` yields `__pycache__/name.qpy.<tag>.pyc`, honouring
    # sys.pycache_prefix and the optimization level as for .py files.
    return importlib.util.cache_from_source(source_path + '.py')


def _write_atomic(path, data):
    directory = os.path.dirname(path)
    temporary = '%s.%d.tmp' % (path, os.getpid())
    try:
        os.makedirs(directory, exist_ok=True)
        with open(temporary, 'wb') as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass


class QpyLoader(importlib.machinery.SourceFileLoader):
    """(fullname:str, path:str)
    Loads a .qpy module: source from path, code from the cache when it
    matches the source, else from qpd.qpy.compiler.
    """

    def source_to_code(self, data, path, *, _optimize=-1):
        """(data:bytes|str, path:str) -> code"""
        return compile_qpy(data, path, optimize=_optimize)

    def get_header(self, data: bytes) -> bytes:
        """(data:bytes) -> bytes
        The cache header that the code compiled from data must carry.
        """
        return (importlib.util.MAGIC_NUMBER
                + COMPILER_VERSION.to_bytes(4, 'little')
                + hashlib.blake2b(data, digest_size=16).digest())

    def get_code(self, fullname):
        """(fullname:str) -> code"""
        source_path = self.get_filename(fullname)
        data = self.get_data(source_path)
        header = self.get_header(data)
        cache_path = get_cache_path(source_path)
        if cache_path is not None:
            try:
                with open(cache_path, 'rb') as file:
                    cached = file.read()
            except OSError:
                cached = b''
            if cached.startswith(header):
                try:
                    return marshal.loads(cached[len(header):])
                except (EOFError, ValueError, TypeError):
                    pass
        code = self.source_to_code(data, source_path)
        if cache_path is not None and not sys.dont_write_bytecode:
            _write_atomic(cache_path, header + marshal.dumps(code))
        return code


class QpyFinder:
    """Finds `name.qpy` files on sys.path or a package's __path__."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        """(fullname:str, path:list[str]|None=None, target=None) -> ModuleSpec | None"""
        tail = fullname.rpartition('.')[2]
        for entry in (sys.path if path is None else path):
            if not isinstance(entry, str):
                continue
            filename = os.path.join(entry or os.getcwd(), tail + SUFFIX)
            if os.path.isfile(filename):
                loader = QpyLoader(fullname, filename)
                return importlib.util.spec_from_file_location(
                    fullname, filename, loader=loader)
        return None

    @classmethod
    def invalidate_caches(cls):
        """() -> None (the finder keeps no caches)"""


def install():
    """() -> None
    Make .qpy modules importable (once; later calls do nothing).
    """
    if QpyFinder not in sys.meta_path:
        sys.meta_path.append(QpyFinder)
