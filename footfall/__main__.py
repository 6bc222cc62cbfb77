"""``python -m footfall``: the ``footfall`` command line (footfall/cli.py)."""

import sys

from footfall.cli import main

sys.exit(main())
