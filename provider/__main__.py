"""``python -m provider``: the same as the ``provider`` command."""

import sys

from .cli import main

sys.exit(main())
