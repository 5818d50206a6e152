"""qpd.lib.speedups: the C twin of a hot pure function, when built.

    from qpd.lib.speedups import native   # the module, or None

qpd/lib/_speedups.c holds a C version of qpd.server.protocol's plain
request reader. The install builds it where a C compiler is (setup.py
marks it optional); where it is not built, or when QPD_PURE_PYTHON=1 is
set in the environment, `native` is None and the caller runs its Python
version, which stays the reference: the tests check that both give the
same answers (tests/test_speedups.py)."""

import os

__all__ = ['native', 'PURE_PYTHON_VARIABLE']

PURE_PYTHON_VARIABLE = 'QPD_PURE_PYTHON'


def _load():
    if os.environ.get(PURE_PYTHON_VARIABLE, '') not in ('', '0'):
        return None
    try:
        from qpd.lib import _speedups
    except ImportError:
        return None
    return _speedups


native = _load()
