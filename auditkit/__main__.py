"""``python -m auditkit``: the command line, as the ``auditkit`` script runs it."""

import sys

from auditkit.cli import main

sys.exit(main())
