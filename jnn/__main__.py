"""``python -m jnn`` runs the ``jnn`` command."""

import sys

from jnn.cli import main

sys.exit(main())
