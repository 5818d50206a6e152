"""python -m qpd: the same as the `qpd` command."""
import sys

from qpd.cli import main

sys.exit(main())
