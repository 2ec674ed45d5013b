"""hardpoint: hardening components for Python services.

Importing ``hardpoint`` imports no component. Use the component packages directly::

    from hardpoint.cache import cached
"""

from __future__ import annotations

import logging

__all__ = ["__version__"]

# Libraries must not configure logging; the host does. Keep "No handlers" warnings away.
logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> str:
    # PEP 562: read the version lazily so `import hardpoint` stays cheap.
    if name == "__version__":
        from hardpoint._version import __version__

        return __version__
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
