"""The common finding model every check reports into, and its stable fingerprint."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Final, Literal

__all__ = [
    "SEVERITIES",
    "CheckResult",
    "CheckStatus",
    "Confidence",
    "Finding",
    "Severity",
    "fingerprint",
    "normalise_line",
    "severity_at_least",
]

Severity = Literal["low", "medium", "high", "critical"]
Confidence = Literal["low", "medium", "high"]
CheckStatus = Literal["ok", "findings", "skipped", "incomplete", "error"]

SEVERITIES: Final[tuple[Severity, ...]] = ("low", "medium", "high", "critical")

_SPACE = re.compile(r"\s+")


def severity_at_least(severity: Severity, threshold: Severity) -> bool:
    """Tell whether *severity* is *threshold* or worse."""
    return SEVERITIES.index(severity) >= SEVERITIES.index(threshold)


def normalise_line(line: str) -> str:
    """Collapse runs of whitespace and strip, so re-indenting a line keeps its fingerprint."""
    return _SPACE.sub(" ", line).strip()


def fingerprint(rule_id: str, path: str, line_content: str) -> str:
    """Return a fingerprint of a finding that survives lines moving up or down.

    It hashes the rule, the repository-relative path and the normalised content of the
    flagged line, not the line number, so adding code above a known finding keeps it
    known. Two identical lines in one file share a fingerprint.
    """
    material = "\0".join((rule_id, path, normalise_line(line_content)))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by one check.

    Attributes:
        check: The check that found it (``bandit``, ``secrets``, ``dependencies``, ...).
        rule_id: A stable rule identifier such as ``B602`` or ``secret-aws-access-key-id``.
        severity: ``low``, ``medium``, ``high`` or ``critical``.
        confidence: How sure the check is.
        path: Repository-relative POSIX path (or the requirements file for a dependency).
        line: 1-based line number; 0 when the finding has no line.
        message: Human text. Never holds a secret value or a copy of the code line.
        fingerprint: See :func:`fingerprint`.
        help_uri: Where the rule is documented, when known.
        secret: The matched secret value, kept in memory only so every report can redact
            it; never serialised.
    """

    check: str
    rule_id: str
    severity: Severity
    confidence: Confidence
    path: str
    line: int
    message: str
    fingerprint: str
    help_uri: str | None = None
    secret: str | None = field(default=None, repr=False, compare=False)


@dataclass(slots=True)
class CheckResult:
    """What one check did: its status, its findings and how long it took.

    Attributes:
        name: The check (``bandit``, ``secrets``, ``debug``, ``print``, ``todo``,
            ``dependencies``, ``safety``).
        tool: The tool that ran it, for the SARIF run and the version table.
        tool_version: The tool's version, when known.
        status: ``ok`` (ran, nothing found), ``findings``, ``skipped`` (not asked for or not
            applicable), ``incomplete`` (could not cover everything, such as no network and
            no database) or ``error`` (the tool failed).
        findings: What it found, suppressed ones excluded.
        seconds: Wall time.
        detail: Why the status is what it is, for incomplete, error and skipped.
        extra: Check-specific facts for the JSON report (such as the vulnerability
            database date).
    """

    name: str
    tool: str
    tool_version: str | None = None
    status: CheckStatus = "ok"
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    detail: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
