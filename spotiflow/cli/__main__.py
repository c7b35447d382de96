"""`python -m spotiflow.cli` runs the `spotiflow` command."""

import sys

from spotiflow.cli import main

sys.exit(main())
