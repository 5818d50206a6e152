"""qpd: QP for Python 3.

Several web sites, each backed by its own Durus database, served by a
dispatcher and a pool of single-threaded worker processes under supervisord.

Importing qpd installs the import hook that makes `.qpy` template modules
importable (see qpd.qpy).
"""

__version__ = '0.1.0'

from qpd.qpy.importer import install as _install_qpy_importer

_install_qpy_importer()

__all__ = ['__version__']
