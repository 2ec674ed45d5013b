"""The external tools: Bandit, pip-audit and Safety, each run as a subprocess.

A subprocess keeps their imports, logging and global state out of the caller's process and
lets a timeout bound each one. Their output is mapped into :class:`Finding` objects; code
snippets they copy (Bandit's ``code``) are dropped, and messages that quote a value (Bandit's
hardcoded-password tests) are rewritten without it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess  # nosec B404 - runs Bandit, pip-audit and Safety with argument lists
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from hardpoint.audit._files import SourceFile
from hardpoint.audit._model import Confidence, Finding, Severity, fingerprint

__all__ = [
    "ToolRun",
    "bandit_version",
    "distribution_version",
    "is_importable",
    "run_bandit",
    "run_pip_audit",
    "run_safety",
]

_BANDIT_BATCH: Final = 200
# Bandit's B105-B107 put the hardcoded string into issue_text; never pass that on.
_QUOTED_VALUE: Final = re.compile(r"""(['"]).*?\1""")


@dataclass(slots=True)
class ToolRun:
    """What a tool run produced: findings, or why it could not finish.

    Attributes:
        findings: The mapped findings.
        problem: None when the run covered everything; else why not (the check becomes
            ``incomplete`` or ``error``).
        error: True when the tool failed rather than lacking a service.
    """

    findings: list[Finding]
    problem: str | None = None
    error: bool = False


def is_importable(module: str) -> bool:
    """Tell whether *module* can be imported by this interpreter."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def distribution_version(name: str) -> str | None:
    """Return the installed version of distribution *name*, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def bandit_version() -> str | None:
    """Return Bandit's version, or None when it is not installed."""
    return distribution_version("bandit") if is_importable("bandit") else None


_BANDIT_SEVERITY: Final[dict[str, Severity]] = {
    "LOW": "low",
    "MEDIUM": "medium",
    "HIGH": "high",
    "UNDEFINED": "low",
}
_BANDIT_CONFIDENCE: Final[dict[str, Confidence]] = {
    "LOW": "low",
    "MEDIUM": "medium",
    "HIGH": "high",
    "UNDEFINED": "low",
}


def _bandit_message(result: dict[str, Any]) -> str:
    text = str(result.get("issue_text", "")).strip()
    if str(result.get("test_id", "")) in ("B105", "B106", "B107"):
        text = _QUOTED_VALUE.sub("'[REDACTED]'", text)
    return text


def _in_tests(rel: str) -> bool:
    parts = rel.split("/")
    name = parts[-1]
    return (
        bool({"tests", "test"} & set(parts[:-1]))
        or name.startswith("test_")
        or name == "conftest.py"
    )


def _bandit_config(root: Path) -> list[str]:
    """Return ``-c pyproject.toml`` when the project configures Bandit there."""
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return []
    return ["-c", str(pyproject)] if "[tool.bandit" in text else []


def run_bandit(
    files: Sequence[SourceFile],
    lines: dict[str, list[str]],
    *,
    timeout: float,
    root: Path | None = None,
) -> ToolRun:
    """Run Bandit over *files* (Python only) and map its results.

    Bandit reads exactly the files the audit walked, so the audit's exclusions apply to it.
    ``B101`` (``assert``) is dropped in test code, where asserting is the point.

    Args:
        files: The Python files to read.
        lines: Each file's lines by relative path, to fingerprint a finding by its line.
        timeout: Seconds for each Bandit batch.
        root: The project directory; its ``pyproject.toml`` ``[tool.bandit]`` table, when
            there is one, configures Bandit (``skips``, ``tests``).
    """
    by_path = {str(f.path.resolve()): f for f in files}
    findings: list[Finding] = []
    problems: list[str] = []
    paths = list(by_path)
    config = _bandit_config(root) if root is not None and root.is_dir() else []
    for start in range(0, len(paths), _BANDIT_BATCH):
        batch = paths[start : start + _BANDIT_BATCH]
        command = [sys.executable, "-m", "bandit", "--format", "json", "--quiet", *config, *batch]
        try:
            done = subprocess.run(  # noqa: S603  # nosec B603 - an argument list, no shell
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return ToolRun(findings, f"bandit timed out after {timeout:g} s", error=True)
        try:
            report = json.loads(done.stdout)
        except ValueError:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return ToolRun(findings, f"bandit failed (exit {done.returncode}): {last}", True)
        for error in report.get("errors", []):
            source = by_path.get(str(Path(str(error.get("filename", ""))).resolve()))
            where = source.rel if source else "a file"
            problems.append(f"bandit could not read {where}")
        for result in report.get("results", []):
            source = by_path.get(str(Path(str(result.get("filename", ""))).resolve()))
            if source is None:
                continue
            rule_id = str(result.get("test_id", "B000"))
            if rule_id == "B101" and _in_tests(source.rel):
                continue
            line_no = int(result.get("line_number", 0))
            file_lines = lines.get(source.rel, [])
            line = file_lines[line_no - 1] if 0 < line_no <= len(file_lines) else ""
            name = str(result.get("test_name", ""))
            message = _bandit_message(result)
            findings.append(
                Finding(
                    check="bandit",
                    rule_id=rule_id,
                    severity=_BANDIT_SEVERITY.get(str(result.get("issue_severity")), "low"),
                    confidence=_BANDIT_CONFIDENCE.get(str(result.get("issue_confidence")), "low"),
                    path=source.rel,
                    line=line_no,
                    message=f"{message} ({name})" if name else message,
                    fingerprint=fingerprint(rule_id, source.rel, line),
                    help_uri=str(result.get("more_info") or "") or None,
                )
            )
    return ToolRun(findings, "; ".join(problems) or None, error=bool(problems))


def _requirements_file(pins: Sequence[tuple[str, str]]) -> str:
    handle, name = tempfile.mkstemp(prefix="hardpoint-audit-", suffix=".txt")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.writelines(f"{project}=={version}\n" for project, version in pins)
    return name


def run_pip_audit(
    pins: Sequence[tuple[str, str]], *, timeout: float
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Ask pip-audit's vulnerability service about exact pins.

    Runs ``pip-audit --strict --no-deps --disable-pip`` on a temporary requirements file, so
    a package the service cannot answer for fails the run instead of being skipped silently.

    Returns:
        ``(dependencies, None)`` with pip-audit's JSON ``dependencies`` list, or
        ``(None, reason)`` when the service did not answer for every pin.
    """
    if not pins:
        return [], None
    path = _requirements_file(pins)
    try:
        command = [
            sys.executable,
            "-m",
            "pip_audit",
            "--strict",
            "--no-deps",
            "--disable-pip",
            "--progress-spinner",
            "off",
            "--format",
            "json",
            "--requirement",
            path,
        ]
        try:
            done = subprocess.run(  # noqa: S603  # nosec B603 - an argument list, no shell
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return None, f"pip-audit timed out after {timeout:g} s"
    finally:
        Path(path).unlink(missing_ok=True)
    try:
        report = json.loads(done.stdout) if done.stdout.strip() else None
    except ValueError:
        report = None
    if done.returncode in (0, 1) and isinstance(report, dict):
        dependencies = report.get("dependencies", [])
        if all("skip_reason" not in d for d in dependencies):
            return list(dependencies), None
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else f"pip-audit exited {done.returncode}"
    return None, f"pip-audit's vulnerability service did not answer: {reason[-300:]}"


def run_safety(
    pins: Sequence[tuple[str, str]], *, timeout: float
) -> tuple[list[dict[str, Any]] | None, str | None]:
    """Run Safety's ``check`` over exact pins; it reads ``SAFETY_API_KEY`` from the environment.

    Returns:
        ``(vulnerabilities, None)`` from Safety's JSON, or ``(None, reason)``.
    """
    executable = shutil.which("safety")
    if executable is None:
        return None, "SAFETY_API_KEY is set but the safety command is not installed"
    path = _requirements_file(pins)
    try:
        try:
            done = subprocess.run(  # noqa: S603  # nosec B603 - an argument list, no shell
                [executable, "check", "--json", "--file", path],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, f"safety timed out after {timeout:g} s"
    finally:
        Path(path).unlink(missing_ok=True)
    start = done.stdout.find("{")
    try:
        report = json.loads(done.stdout[start:]) if start >= 0 else None
    except ValueError:
        report = None
    if not isinstance(report, dict) or not isinstance(report.get("vulnerabilities"), list):
        lines = done.stderr.strip().splitlines() or [f"exit {done.returncode}"]
        return None, f"safety gave no usable report: {lines[-1][-300:]}"
    return list(report["vulnerabilities"]), None
