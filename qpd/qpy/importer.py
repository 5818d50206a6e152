"""The import hook that makes `name.qpy` files importable as modules.

`install()` appends a `QpyFinder` to `sys.meta_path`, after Python's own
finders, so a `name.py` beside `name.qpy` wins. The finder looks for
`name.qpy` in the package's `__path__` (or `sys.path` for a top-level
module); `QpyLoader` compiles it with qpd.qpy.compiler and caches the code
in `__pycache__/name.qpy.<tag>.pyc`, a name no `.py` file ever uses. The
cache file holds the interpreter's magic number, the compiler version and a
digest of the source; the module is compiled again whenever any of them
changes.

QP compiled .qpy files ahead of time; its functions are here with QP's
names: `compile(path)` always writes the cache, `compile_qpy_file(path)`
only when it is missing or stale, `compile_qpy_files(directory)` does the
latter for every .qpy file below a directory (`python -m qpd.qpy FILE...`
from a shell). Python 3 keeps compiled code under `__pycache__` (PEP 3147),
so that is where it goes, not into a `name.pyc` beside the source.
"""

import hashlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys

from qpd.qpy.compiler import compile_qpy

__all__ = ['install', 'QpyFinder', 'QpyLoader', 'get_cache_path', 'SUFFIX',
           'compile', 'compile_qpy_file', 'compile_qpy_files']

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


def _get_header(data):
    """(data:bytes) -> bytes: the cache header for source data"""
    return (importlib.util.MAGIC_NUMBER
            + COMPILER_VERSION.to_bytes(4, 'little')
            + hashlib.blake2b(data, digest_size=16).digest())


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
        return _get_header(data)

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


def compile(source_name):
    """(source_name:str) -> str | None
    Compile the .qpy file at source_name and write its cached code (where
    the import hook looks for it); the cache path, or None when bytecode
    caching is off. SyntaxError when the source is not valid.
    """
    with open(source_name, 'rb') as file:
        data = file.read()
    code = compile_qpy(data, source_name)
    cache_path = get_cache_path(source_name)
    if cache_path is not None:
        _write_atomic(cache_path, _get_header(data) + marshal.dumps(code))
    return cache_path


def compile_qpy_file(source_name):
    """(source_name:str) -> str | None
    compile(source_name) unless its cached code is present and current;
    the cache path.
    """
    cache_path = get_cache_path(source_name)
    if cache_path is not None:
        with open(source_name, 'rb') as file:
            header = _get_header(file.read())
        try:
            with open(cache_path, 'rb') as file:
                if file.read(len(header)) == header:
                    return cache_path
        except OSError:
            pass
    return compile(source_name)


def compile_qpy_files(path):
    """(path:str) -> [str]
    compile_qpy_file() for every .qpy file in the directory path and its
    subdirectories; the source paths, sorted.
    """
    names = []
    for directory, subdirectories, files in os.walk(path):
        subdirectories[:] = sorted(d for d in subdirectories
                                   if d != '__pycache__' and not d.startswith('.'))
        for name in sorted(files):
            if name.endswith(SUFFIX):
                names.append(os.path.join(directory, name))
    for name in names:
        compile_qpy_file(name)
    return names


def install():
    """() -> None
    Make .qpy modules importable (once; later calls do nothing).
    """
    if QpyFinder not in sys.meta_path:
        sys.meta_path.append(QpyFinder)
