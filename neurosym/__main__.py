"""Run the command line: ``python -m neurosym``."""

import sys

from neurosym.cli import main

sys.exit(main())
