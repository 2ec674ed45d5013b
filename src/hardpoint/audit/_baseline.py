"""Baseline files: the fingerprints of accepted findings, so only new ones fail a build."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from hardpoint.audit._model import Finding
from hardpoint.errors import ConfigurationError

__all__ = ["BASELINE_VERSION", "read_baseline", "write_baseline"]

BASELINE_VERSION: Final = 1


def read_baseline(path: Path) -> frozenset[str]:
    """Return the fingerprints recorded in the baseline file at *path*.

    Raises:
        ConfigurationError: The file is missing or is not a baseline.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"--baseline {path}: {exc.strerror}", field="baseline") from exc
    except ValueError as exc:
        raise ConfigurationError(f"--baseline {path}: not JSON ({exc})", field="baseline") from exc
    entries = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigurationError(f"--baseline {path}: no 'findings' list", field="baseline")
    fingerprints = set()
    for entry in entries:
        value = entry.get("fingerprint") if isinstance(entry, dict) else entry
        if not isinstance(value, str):
            raise ConfigurationError(f"--baseline {path}: bad entry {entry!r}", field="baseline")
        fingerprints.add(value)
    return frozenset(fingerprints)


def write_baseline(path: Path, findings: Iterable[Finding]) -> None:
    """Write the fingerprints of *findings* to *path*, sorted so the file diffs well.

    Each entry keeps the rule and path beside its fingerprint for a reviewer; no line
    number (lines move) and no code or secret.
    """
    entries = sorted(
        {(f.fingerprint, f.rule_id, f.path) for f in findings},
        key=lambda entry: (entry[2], entry[1], entry[0]),
    )
    document = {
        "version": BASELINE_VERSION,
        "tool": "hardpoint audit",
        "findings": [
            {"fingerprint": fp, "rule_id": rule, "path": rel} for fp, rule, rel in entries
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
