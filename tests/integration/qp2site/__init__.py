"""
qp2site: a site written for QP 1.1 on Python 2, the way QP's demo sites
are written, kept with its QP imports and its Python 2 idioms.
tests/integration/test_qp2_sites.py copies it into a qpd home, runs
`qpd port` on the copy, and serves it. Nothing here is Python 3: print
statements, `except E, e`, has_key, iteritems, unicode, long,
basestring, octal literals, the string module, implicit relative
imports, `items.sort()` on dict.items(), in .py and in [html] templates.
"""
from qpy.compile import compile_qpy_files
compile_qpy_files(__path__[0])

from qp.sites.qp2site.slash import SitePublisher, SiteRootDirectory
used = [SitePublisher, SiteRootDirectory]
