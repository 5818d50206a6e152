"""python -m qpd.qpy FILE_OR_DIRECTORY...: compile .qpy files ahead of time.

QP's `python -m qpy` (its `compile` tool): each file is compiled into the
cache the import hook reads (see qpd.qpy.importer), each directory is
searched for .qpy files. The exit status is 1 when any file has an error,
which is printed as Python prints a SyntaxError.
"""

import os
import sys
import traceback

from qpd.qpy.importer import compile, compile_qpy_files

__all__ = ['main']


def main(argv=None):
    """(argv:list[str]=None) -> int"""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print('usage: python -m qpd.qpy FILE_OR_DIRECTORY...', file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            if os.path.isdir(path):
                compile_qpy_files(path)
            else:
                compile(path)
        except (SyntaxError, OSError) as error:
            traceback.print_exception(error, limit=0, file=sys.stderr)
            status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
