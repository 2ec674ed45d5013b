"""``python -m hardpoint`` runs the console script."""

import sys

from hardpoint._cli import main

sys.exit(main())
