"""qpd.web.widget: every widget class under QP's module name.

The classes live in the modules of the qpd.web.widgets package.
"""

from qpd.web.widgets import *  # noqa: F401,F403
from qpd.web.widgets import __all__
