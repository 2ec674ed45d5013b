"""``python -m hardpoint.audit``: the same as ``hardpoint audit``."""

from __future__ import annotations

import sys

from hardpoint.audit._cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess
    sys.exit(main())
