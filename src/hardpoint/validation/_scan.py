"""`scan()`: the detectors on one string, outside ASGI."""

from __future__ import annotations

from collections.abc import Iterable

from hardpoint.validation import _engine
from hardpoint.validation._config import parse_detectors
from hardpoint.validation._types import ALL_DETECTORS, Detector, Finding

__all__ = ["scan"]


def scan(value: str, *, detectors: Iterable[Detector | str] | None = None) -> Finding | None:
    """Return what the detectors find in *value*, or None when it looks harmless.

    The same check the middleware runs on each field, for strings that do not arrive
    through ASGI (a queue message, a CLI argument, a file name)::

        finding = scan("1 UNION SELECT password FROM users")
        if finding is not None:
            print(finding.rule, finding.reason)  # sqli ...

    Args:
        value: The text to check.
        detectors: Which detectors run, as `Detector` members or names (``"sqli"``);
            all of them by default.

    Returns:
        The first finding (its *field* is empty), or None.

    Raises:
        TypeError: *value* is not a str.
        ConfigurationError: An unknown detector name.
    """
    if not isinstance(value, str):
        raise TypeError(f"scan() argument 'value' must be str, not {type(value).__name__}")
    enabled = (
        ALL_DETECTORS if detectors is None else parse_detectors(detectors, argument="detectors")
    )
    return _engine.detect(value, enabled)
