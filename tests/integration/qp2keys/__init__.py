"""
qp2keys: a QP 1.1 site on Python 2 that keeps settings of its own in its
SitePublisher's configuration (greeting, items_per_page, colors) beside
QP's keys, and reads them with get_site().get(name), in its slash.qpy and
in another module. tests/integration/test_qp2_sites.py ports a copy and
serves it.
"""
from qpy.compile import compile_qpy_files
compile_qpy_files(__path__[0])

from qp.sites.qp2keys.slash import SitePublisher, SiteDirectory
