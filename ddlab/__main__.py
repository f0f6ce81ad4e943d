"""``python -m ddlab``: the ddlab command line."""

import sys

from .cli import main

sys.exit(main())
