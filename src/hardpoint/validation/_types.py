"""The detector names and the finding a detector reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Detector", "Finding"]


class Detector(enum.StrEnum):
    """The attack classes a detector looks for; the value is the ``rule`` in responses."""

    SQLI = "sqli"
    XSS = "xss"
    PATH_TRAVERSAL = "path_traversal"
    COMMAND_INJECTION = "command_injection"

    @property
    def label(self) -> str:
        """The human name used in block messages (``Potential SQL injection detected``)."""
        return _TITLES[self]


_TITLES = {
    Detector.SQLI: "SQL injection",
    Detector.XSS: "cross-site scripting",
    Detector.PATH_TRAVERSAL: "path traversal",
    Detector.COMMAND_INJECTION: "command injection",
}

ALL_DETECTORS: frozenset[Detector] = frozenset(Detector)


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector found in one string.

    Attributes:
        rule: The attack class.
        reason: A short, fixed description of the evidence (``"tautology"``,
            ``"script element"``); never a copy of the input.
        field: Where the string came from (``root.title``, ``query.q``, ``path``); empty when
            :func:`scan` is called on a bare string.
    """

    rule: Detector
    reason: str
    field: str = ""
