"""qp.sites.qpshop: a QP 1.1-style site (Python 2) with persistent classes
of its own, the fixture of tests/test_ops_migrate.py (ported there with
`qpd port` before its database is migrated)."""
from qpy.compile import compile_qpy_files
compile_qpy_files(__path__[0])
