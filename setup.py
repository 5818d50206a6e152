"""The one part of qpd's build that pyproject.toml cannot say: the optional
C speedups (qpd/lib/_speedups.c). Without a C compiler the install goes on
without them and qpd runs its pure-Python twins (qpd.lib.speedups)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension('qpd.lib._speedups', ['qpd/lib/_speedups.c'],
                             optional=True)])
