"""Report writers: JSON, plain text, a Markdown summary and SARIF 2.1.0.

Every writer returns text, and :func:`write_reports` passes each through
:func:`~hardpoint.audit._secrets.redact` before it touches the disk.
"""

from __future__ import annotations

import json
import platform
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from hardpoint._version import __version__
from hardpoint.audit._checks import CHECK_RULES
from hardpoint.audit._model import SEVERITIES, CheckResult, Finding, Severity
from hardpoint.audit._secrets import SECRET_RULES, redact
from hardpoint.audit._tools import distribution_version

__all__ = [
    "FORMATS",
    "AuditResult",
    "render_json",
    "render_markdown",
    "render_sarif",
    "render_text",
    "summary_lines",
    "write_reports",
]

FORMATS: Final = ("json", "txt", "md", "sarif")
# Installed or not, these versions go into the JSON report (None when missing).
_TOOLS: Final = ("bandit", "pip-audit", "safety", "packaging")
SARIF_SCHEMA: Final = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub code scanning reads properties.security-severity as a CVSS-like score.
_SECURITY_SEVERITY: Final[dict[Severity, str]] = {
    "low": "2.0",
    "medium": "5.5",
    "high": "8.0",
    "critical": "9.5",
}
_LEVEL: Final[dict[Severity, str]] = {
    "low": "note",
    "medium": "warning",
    "high": "error",
    "critical": "error",
}
_RUNS: Final = (
    ("bandit", ("bandit",), "https://bandit.readthedocs.io/"),
    ("hardpoint-secrets", ("secrets",), None),
    ("hardpoint-checks", ("debug", "print", "todo"), None),
    ("hardpoint-dependencies", ("dependencies",), None),
    ("safety", ("safety",), "https://safetycli.com/"),
)


@dataclass(slots=True)
class AuditResult:
    """The outcome of one audit.

    Attributes:
        root: The audited directory (or file).
        started: When the audit started (UTC); it names the report files.
        fail_on: The severity threshold that fails the run.
        checks: One result per check, in run order.
        new: Fingerprints of findings not in the baseline (all of them without a baseline).
        baseline_used: Whether a baseline was given.
        exit_code: 0, 1, 3 (2 never gets this far).
        seconds: Wall time of the whole audit.
        reports: The files written.
    """

    root: Path
    started: datetime
    fail_on: Severity
    checks: list[CheckResult]
    new: frozenset[str]
    baseline_used: bool
    exit_code: int = 0
    seconds: float = 0.0
    reports: list[Path] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        """Every unsuppressed finding, baselined ones included, sorted by place."""
        found = [f for check in self.checks for f in check.findings]
        return sorted(found, key=lambda f: (f.path, f.line, f.rule_id))

    @property
    def gating(self) -> list[Finding]:
        """The findings that fail the run: new and at or above *fail_on*."""
        threshold = SEVERITIES.index(self.fail_on)
        return [
            f
            for f in self.findings
            if f.fingerprint in self.new and SEVERITIES.index(f.severity) >= threshold
        ]

    @property
    def incomplete(self) -> list[CheckResult]:
        """Checks that could not cover everything (``incomplete`` or ``error``)."""
        return [c for c in self.checks if c.status in ("incomplete", "error")]

    @property
    def secrets(self) -> set[str]:
        """Secret values found, to redact from every report."""
        return {f.secret for f in self.findings if f.secret}

    @property
    def stamp(self) -> str:
        """The timestamp in report file names, such as ``20260101T120000Z``."""
        return self.started.strftime("%Y%m%dT%H%M%SZ")


def _finding_dict(result: AuditResult, finding: Finding, gating: set[str]) -> dict[str, Any]:
    return {
        "check": finding.check,
        "rule_id": finding.rule_id,
        "severity": finding.severity,
        "confidence": finding.confidence,
        "path": finding.path,
        "line": finding.line,
        "message": finding.message,
        "fingerprint": finding.fingerprint,
        "help_uri": finding.help_uri,
        "new": finding.fingerprint in result.new,
        "fails_run": finding.fingerprint in gating,
    }


def _by_severity(findings: Sequence[Finding]) -> dict[str, int]:
    counts = Counter(f.severity for f in findings)
    return {s: counts.get(s, 0) for s in reversed(SEVERITIES)}


def _database(result: AuditResult) -> dict[str, object] | None:
    for check in result.checks:
        database = check.extra.get("database")
        if check.name == "dependencies" and isinstance(database, dict):
            return database
    return None


def render_json(result: AuditResult) -> str:
    """Return the JSON report: versions, run times, check statuses, database date, findings."""
    gating = {f.fingerprint for f in result.gating}
    findings = result.findings
    document = {
        "tool": {"name": "hardpoint audit", "version": __version__},
        "started": result.started.isoformat(),
        "duration_seconds": round(result.seconds, 3),
        "root": str(result.root.resolve()),
        "fail_on": result.fail_on,
        "exit_code": result.exit_code,
        "baseline_used": result.baseline_used,
        "tool_versions": {
            "hardpoint": __version__,
            "python": platform.python_version(),
            **{name: distribution_version(name) for name in _TOOLS},
            **{c.tool: c.tool_version for c in result.checks if c.tool_version},
        },
        "checks": [
            {
                "name": c.name,
                "tool": c.tool,
                "tool_version": c.tool_version,
                "status": c.status,
                "seconds": round(c.seconds, 3),
                "findings": len(c.findings),
                "detail": c.detail,
                **c.extra,
            }
            for c in result.checks
        ],
        "vulnerability_database": _database(result),
        "summary": {
            "findings": len(findings),
            "new": sum(1 for f in findings if f.fingerprint in result.new),
            "failing": len(gating),
            "by_severity": _by_severity(findings),
        },
        "findings": [_finding_dict(result, f, gating) for f in findings],
    }
    return json.dumps(document, indent=2, default=str) + "\n"


def _verdict(result: AuditResult) -> str:
    if result.exit_code == 1:
        return f"FAILED: {len(result.gating)} finding(s) at or above {result.fail_on}"
    if result.exit_code == 3:
        names = ", ".join(c.name for c in result.incomplete)
        return f"INCOMPLETE: {names} could not finish (use --allow-incomplete to accept)"
    return f"PASSED: nothing new at or above {result.fail_on}"


def summary_lines(result: AuditResult, *, limit: int | None = 50) -> list[str]:
    """Return the human summary the command line prints and the text report starts with."""
    findings = result.findings
    counts = _by_severity(findings)
    lines = [
        f"hardpoint audit {__version__} of {result.root} ({result.seconds:.1f} s)",
        "checks: "
        + ", ".join(
            f"{c.name} {c.status}" + (f" ({len(c.findings)})" if c.findings else "")
            for c in result.checks
        ),
        "findings: " + ", ".join(f"{n} {s}" for s, n in counts.items()),
    ]
    lines += [
        f"  {check.name}: {check.detail}"
        for check in result.checks
        if check.detail and check.status != "ok"
    ]
    gating = result.gating
    shown = gating if limit is None else gating[:limit]
    for finding in shown:
        where = f"{finding.path}:{finding.line}" if finding.path else "(environment)"
        lines.append(f"  {where} [{finding.severity}] {finding.rule_id} {finding.message}")
    if limit is not None and len(gating) > limit:
        lines.append(f"  ... and {len(gating) - limit} more in the reports")
    lines.append(_verdict(result))
    return lines


def render_text(result: AuditResult) -> str:
    """Return the plain-text report: the summary, then every finding grouped by check."""
    lines = summary_lines(result, limit=None)
    for check in result.checks:
        lines += ["", f"== {check.name} ({check.tool}): {check.status}, {check.seconds:.2f} s"]
        if check.detail:
            lines.append(f"   {check.detail}")
        for f in sorted(check.findings, key=lambda f: (f.path, f.line)):
            where = f"{f.path}:{f.line}" if f.path else "(environment)"
            mark = "" if f.fingerprint in result.new else " (baseline)"
            lines.append(f"   {where} [{f.severity}/{f.confidence}] {f.rule_id}{mark}: {f.message}")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(result: AuditResult) -> str:
    """Return ``SUMMARY_<ts>.md``: the verdict, a table of checks and the failing findings."""
    database = _database(result)
    lines = [
        f"# Security audit {result.stamp}",
        "",
        f"**{_verdict(result)}** (exit code {result.exit_code}, fail on {result.fail_on})",
        "",
        "| check | tool | status | findings | seconds |",
        "| --- | --- | --- | ---: | ---: |",
    ]
    for c in result.checks:
        version = f" {c.tool_version}" if c.tool_version else ""
        lines.append(
            f"| {c.name} | {c.tool}{version} | {c.status} | {len(c.findings)} | {c.seconds:.2f} |"
        )
    if database:
        lines += [
            "",
            f"Vulnerability database: {database.get('source')}, "
            f"dated {database.get('date') or 'unknown'}.",
        ]
    counts = _by_severity(result.findings)
    lines += ["", "Findings by severity: " + ", ".join(f"{n} {s}" for s, n in counts.items())]
    gating = result.gating
    if gating:
        lines += [
            "",
            "## Findings that fail the run",
            "",
            "| severity | rule | where | message |",
            "| --- | --- | --- | --- |",
        ]
        for f in gating:
            where = f"`{f.path}:{f.line}`" if f.path else "environment"
            lines.append(f"| {f.severity} | {f.rule_id} | {where} | {_cell(f.message)} |")
    notes = [c for c in result.checks if c.detail and c.status != "ok"]
    if notes:
        lines += ["", "## Notes", ""]
        lines += [f"- **{c.name}**: {_cell(c.detail or '')}" for c in notes]
    return "\n".join(lines) + "\n"


def _rule_text(rule_id: str, findings: Sequence[Finding]) -> str:
    known = {**SECRET_RULES, **CHECK_RULES}
    if rule_id in known:
        return known[rule_id][0]
    return findings[0].message.split(" (")[0][:200] if findings else rule_id


def _sarif_run(
    result: AuditResult, name: str, checks: list[CheckResult], uri: str | None
) -> dict[str, Any]:
    findings = sorted(
        (f for c in checks for f in c.findings), key=lambda f: (f.rule_id, f.path, f.line)
    )
    by_rule: dict[str, list[Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    rules = []
    for rule_id, group in by_rule.items():
        worst = max((f.severity for f in group), key=SEVERITIES.index)
        rule: dict[str, Any] = {
            "id": rule_id,
            "name": rule_id,
            "shortDescription": {"text": _rule_text(rule_id, group)},
            "defaultConfiguration": {"level": _LEVEL[worst]},
            "properties": {
                "security-severity": _SECURITY_SEVERITY[worst],
                "severity": worst,
                "tags": ["security"],
            },
        }
        help_uri = next((f.help_uri for f in group if f.help_uri), None)
        if help_uri:
            rule["helpUri"] = help_uri
        rules.append(rule)
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for f in findings:
        entry: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": _LEVEL[f.severity],
            "message": {"text": f.message},
            "partialFingerprints": {"hardpoint/v1": f.fingerprint},
            "properties": {"severity": f.severity, "confidence": f.confidence},
        }
        if result.baseline_used:
            entry["baselineState"] = "new" if f.fingerprint in result.new else "unchanged"
        if f.path:
            location: dict[str, Any] = {
                "artifactLocation": {"uri": quote(f.path), "uriBaseId": "SRCROOT"}
            }
            if f.line > 0:
                location["region"] = {"startLine": f.line}
            entry["locations"] = [{"physicalLocation": location}]
        results.append(entry)
    versions = [c.tool_version for c in checks if c.tool_version]
    driver: dict[str, Any] = {"name": name, "version": versions[0] if versions else __version__}
    driver["rules"] = rules
    if uri:
        driver["informationUri"] = uri
    notes = [
        {"level": "error" if c.status == "error" else "warning", "message": {"text": c.detail}}
        for c in checks
        if c.detail and c.status in ("incomplete", "error")
    ]
    invocation: dict[str, Any] = {
        "executionSuccessful": all(c.status not in ("incomplete", "error") for c in checks)
    }
    if notes:
        invocation["toolExecutionNotifications"] = notes
    base = result.root if result.root.is_dir() else result.root.parent
    root_uri = base.resolve().as_uri()
    return {
        "tool": {"driver": driver},
        "originalUriBaseIds": {"SRCROOT": {"uri": root_uri.rstrip("/") + "/"}},
        "invocations": [invocation],
        "results": results,
    }


def render_sarif(result: AuditResult) -> str:
    """Return a SARIF 2.1.0 log with one run per tool that ran.

    Paths are relative to the ``SRCROOT`` base id (the audited directory), each rule carries
    ``defaultConfiguration.level`` and ``properties.security-severity``, and each result a
    ``partialFingerprints`` entry with the baseline fingerprint.
    """
    runs = []
    for name, check_names, uri in _RUNS:
        checks = [c for c in result.checks if c.name in check_names and c.status != "skipped"]
        if checks:
            runs.append(_sarif_run(result, name, checks, uri))
    log = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": runs}
    return json.dumps(log, indent=2) + "\n"


_RENDERERS: Final = {
    "json": ("security_audit_{}.json", render_json),
    "txt": ("security_audit_{}.txt", render_text),
    "md": ("SUMMARY_{}.md", render_markdown),
    "sarif": ("security_audit_{}.sarif", render_sarif),
}


def write_reports(result: AuditResult, directory: Path, formats: Sequence[str]) -> list[Path]:
    """Write the reports in *formats* to *directory*, redacted, and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    secrets = result.secrets
    written = []
    for fmt in FORMATS:
        if fmt not in formats:
            continue
        pattern, render = _RENDERERS[fmt]
        path = directory / pattern.format(result.stamp)
        path.write_text(redact(render(result), secrets), encoding="utf-8")
        written.append(path)
    return written
