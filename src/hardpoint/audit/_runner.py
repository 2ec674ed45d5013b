"""Run every check over a project, apply suppressions and the baseline, write the reports."""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from hardpoint.audit._baseline import read_baseline, write_baseline
from hardpoint.audit._checks import scan_debug, scan_print, scan_todo
from hardpoint.audit._files import SourceFile, read_text, walk
from hardpoint.audit._model import SEVERITIES, CheckResult, Finding, Severity, fingerprint
from hardpoint.audit._reports import FORMATS, AuditResult, write_reports
from hardpoint.audit._secrets import scan_secrets
from hardpoint.audit._suppress import is_suppressed
from hardpoint.audit._tools import (
    bandit_version,
    distribution_version,
    is_importable,
    run_bandit,
    run_pip_audit,
    run_safety,
)
from hardpoint.errors import ConfigurationError, MissingDependencyError

if TYPE_CHECKING:
    from hardpoint.audit._osv import Pin, VulnDatabase


def _canonical_name(name: str) -> str:
    """Return the PEP 503 form of a project name (``Foo_Bar`` -> ``foo-bar``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


__all__ = ["CHECKS", "AuditOptions", "run_audit"]

logger = logging.getLogger(__name__)

#: Every check, in run order.
CHECKS: Final = ("secrets", "debug", "print", "todo", "bandit", "dependencies", "safety")

_OWN: Final[dict[str, Callable[[SourceFile, str], list[Finding]]]] = {
    "secrets": scan_secrets,
    "debug": scan_debug,
    "print": scan_print,
    "todo": scan_todo,
}


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """What to audit and how; the command line's options, one for one.

    Attributes:
        path: The project directory (or one file).
        output_dir: Where reports go; None writes none.
        formats: Which reports: any of ``json``, ``txt``, ``md``, ``sarif``.
        fail_on: The lowest severity that fails the run.
        baseline: A baseline file: its findings do not fail the run.
        write_baseline: Write the findings of this run as a baseline here.
        vuln_db: A folder or zip of OSV records to match dependencies against offline.
        requirements: Requirements or lock files to audit instead of those found in *path*.
        installed: Audit the distributions installed in this interpreter's environment.
        offline: Never call a vulnerability service (without *vuln_db* the dependency
            check is then incomplete).
        allow_incomplete: Exit 0 rather than 3 when a check could not finish.
        skip: Checks not to run (see :data:`CHECKS`).
        exclude: Glob patterns of files and directories not to read.
        tool_timeout: Seconds each external tool may take.
        environ: Environment variables to read (``SAFETY_API_KEY``); None reads
            ``os.environ``.
    """

    path: Path
    output_dir: Path | None = Path("reports/security")
    formats: tuple[str, ...] = FORMATS
    fail_on: Severity = "high"
    baseline: Path | None = None
    write_baseline: Path | None = None
    vuln_db: Path | None = None
    requirements: tuple[Path, ...] = ()
    installed: bool = False
    offline: bool = False
    allow_incomplete: bool = False
    skip: frozenset[str] = frozenset()
    exclude: tuple[str, ...] = ()
    tool_timeout: float = 300.0
    environ: Mapping[str, str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.skip) - set(CHECKS))
        if unknown:
            msg = f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}"
            raise ConfigurationError(msg, field="skip")
        bad = sorted(set(self.formats) - set(FORMATS))
        if bad:
            msg = f"unknown format(s) {', '.join(bad)}; choose from {', '.join(FORMATS)}"
            raise ConfigurationError(msg, field="formats")
        if self.fail_on not in SEVERITIES:
            raise ConfigurationError(f"fail_on must be one of {SEVERITIES}", field="fail_on")
        if self.tool_timeout <= 0:
            raise ConfigurationError("tool_timeout must be positive", field="tool_timeout")


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _dependency_files(root: Path) -> list[Path]:
    from hardpoint.audit._osv import LOCK_FILE_NAMES

    if not root.is_dir():
        return []
    found = sorted(root.glob("requirements*.txt"))
    found += (
        sorted((root / "requirements").glob("*.txt")) if (root / "requirements").is_dir() else []
    )
    found += [root / name for name in LOCK_FILE_NAMES if (root / name).is_file()]
    return found


def _collect_pins(options: AuditOptions, root: Path) -> tuple[list[Pin], list[str]]:
    """Return the pins to audit and the sources they came from."""
    from hardpoint.audit._osv import (
        LOCK_FILE_NAMES,
        Pin,
        parse_lock_file,
        parse_requirements,
    )

    files = list(options.requirements) or ([] if options.installed else _dependency_files(root))
    pins: list[Pin] = []
    sources: list[str] = []
    for file in files:
        rel = _rel(file, root)
        text = file.read_text(encoding="utf-8", errors="replace")
        if file.name in LOCK_FILE_NAMES:
            pins += parse_lock_file(file.name, text, source=rel)
        else:
            pins += parse_requirements(text, source=rel, base=file.parent)
        sources.append(rel)
    if not files:
        sources.append("installed distributions")
        seen = set()
        for dist in metadata.distributions():
            name = dist.metadata["Name"]
            if name and _canonical_name(name) not in seen:
                seen.add(_canonical_name(name))
                pins.append(Pin(_canonical_name(name), dist.version, "", 0))
    return pins, sources


def _dependency_finding(
    pin: Pin, advisory_id: str, severity: Severity, summary: str, fixed: Sequence[str]
) -> Finding:
    fix = f"; fixed in {', '.join(fixed)}" if fixed else ""
    text = f"{pin.name} {pin.version} is affected by {advisory_id}"
    text += f": {summary}" if summary else ""
    return Finding(
        check="dependencies",
        rule_id=advisory_id,
        severity=severity,
        confidence="high",
        path=pin.source,
        line=pin.line,
        message=text + fix,
        fingerprint=fingerprint(advisory_id, pin.source, f"{pin.name}=={pin.version}"),
        help_uri=f"https://osv.dev/vulnerability/{advisory_id}",
    )


def _fixed_versions(entries: Sequence[Any]) -> list[str]:
    return sorted(
        {
            str(event["fixed"])
            for entry in entries
            for version_range in entry.get("ranges") or []
            for event in version_range.get("events") or []
            if isinstance(event, dict) and "fixed" in event
        }
    )


def _match_database(database: VulnDatabase, pins: Sequence[Pin]) -> list[Finding]:
    return [
        _dependency_finding(
            pin,
            advisory.id,
            advisory.severity,
            advisory.summary,
            _fixed_versions(advisory.affected),
        )
        for pin in pins
        for advisory in database.match(pin)
    ]


def _dependencies(
    options: AuditOptions, root: Path, database: VulnDatabase | None, started: datetime
) -> CheckResult:
    pins, sources = _collect_pins(options, root)
    pinned = [p for p in pins if p.version is not None]
    unpinned = sorted({p.name for p in pins if p.version is None})
    extra: dict[str, object] = {
        "sources": sources,
        "packages": len(pinned),
        "unpinned": unpinned,
    }
    if database is not None:
        check = CheckResult("dependencies", "hardpoint-osv", extra=extra)
        check.tool_version = distribution_version("packaging")
        extra["database"] = {
            "source": "osv-records",
            "path": str(options.vuln_db),
            "records": database.records,
            "date": database.newest.isoformat() if database.newest else None,
        }
        check.findings = _match_database(database, pinned)
    else:
        check = CheckResult("dependencies", "pip-audit", extra=extra)
        check.tool_version = distribution_version("pip-audit")
        if options.offline:
            check.status = "incomplete"
            check.detail = "offline and no --vuln-db: dependencies were not audited"
            return check
        if not is_importable("pip_audit"):
            check.status = "incomplete"
            check.detail = "pip-audit is not installed (pip install 'hardpoint[audit]')"
            return check
        unique = sorted({(p.name, p.version or "") for p in pinned})
        dependencies, problem = run_pip_audit(unique, timeout=options.tool_timeout)
        if dependencies is None:
            check.status = "incomplete"
            check.detail = f"{problem}; pass --vuln-db PATH to audit offline"
            return check
        extra["database"] = {"source": "pip-audit service", "date": started.isoformat()}
        by_name = {p.name: p for p in pinned}
        for dependency in dependencies:
            pin = by_name.get(_canonical_name(str(dependency.get("name", ""))))
            if pin is None:
                continue
            for vuln in dependency.get("vulns", []):
                summary = str(vuln.get("description") or "").strip().split("\n")[0][:200]
                check.findings.append(
                    _dependency_finding(
                        pin, str(vuln.get("id")), "high", summary, vuln.get("fix_versions", [])
                    )
                )
    if unpinned:
        check.detail = f"not pinned, so not matched: {', '.join(unpinned)}"
    return check


def _safety(options: AuditOptions, root: Path, env: Mapping[str, str]) -> CheckResult:
    check = CheckResult("safety", "safety", tool_version=distribution_version("safety"))
    if not env.get("SAFETY_API_KEY"):
        check.status = "skipped"
        check.detail = "SAFETY_API_KEY is not set"
        return check
    if options.offline:
        check.status = "incomplete"
        check.detail = "offline: Safety needs its online platform"
        return check
    try:
        pins, _sources = _collect_pins(options, root)
    except MissingDependencyError as exc:
        check.status = "incomplete"
        check.detail = str(exc)
        return check
    unique = sorted({(p.name, p.version) for p in pins if p.version is not None})
    by_name = {p.name: p for p in pins if p.version is not None}
    vulnerabilities, problem = run_safety(unique, timeout=options.tool_timeout)
    if vulnerabilities is None:
        check.status = "incomplete"
        check.detail = problem
        return check
    for vuln in vulnerabilities:
        pin = by_name.get(_canonical_name(str(vuln.get("package_name", ""))))
        if pin is not None:
            ident = str(vuln.get("vulnerability_id") or vuln.get("CVE") or "safety")
            summary = str(vuln.get("advisory") or "").split("\n")[0][:200]
            check.findings.append(_dependency_finding(pin, ident, "high", summary, []))
    return check


def _timed(check: CheckResult, began: float) -> CheckResult:
    check.seconds = time.monotonic() - began
    if check.status == "ok" and check.findings:
        check.status = "findings"
    return check


def run_audit(options: AuditOptions) -> AuditResult:
    """Run the audit described by *options*, write its reports and return the result.

    Raises:
        ConfigurationError: The path, a requirements file, the vulnerability database or
            the baseline is missing or invalid (the command line exits 2).
    """
    began = time.monotonic()
    started = datetime.now(UTC).replace(microsecond=0)
    root = options.path
    if not root.exists():
        raise ConfigurationError(f"{root}: no such file or directory", field="path")
    for file in options.requirements:
        if not file.is_file():
            raise ConfigurationError(f"--requirement {file}: no such file", field="requirements")
    baseline = read_baseline(options.baseline) if options.baseline else None
    database = None
    missing: str | None = None
    if "dependencies" not in options.skip:
        try:
            from hardpoint.audit._osv import load_vuln_db
        except MissingDependencyError as exc:
            missing = str(exc)
        else:
            if options.vuln_db is not None:
                database = load_vuln_db(options.vuln_db)
    env = os.environ if options.environ is None else options.environ

    skip_dirs = [options.output_dir] if options.output_dir else []
    files = list(walk(root, exclude=options.exclude, skip_dirs=skip_dirs))
    texts = {f.rel: t for f in files if (t := read_text(f.path)) is not None}
    lines = {rel: text.splitlines() for rel, text in texts.items()}
    checks: list[CheckResult] = []
    for name, scan in _OWN.items():
        check = CheckResult(name, "hardpoint", tool_version=distribution_version("hardpoint"))
        if name in options.skip:
            check.status = "skipped"
            check.detail = "--skip"
        else:
            clock = time.monotonic()
            for source in files:
                if source.rel in texts:
                    check.findings += scan(source, texts[source.rel])
            _timed(check, clock)
        checks.append(check)

    check = CheckResult("bandit", "bandit", tool_version=bandit_version())
    clock = time.monotonic()
    if "bandit" in options.skip:
        check.status, check.detail = "skipped", "--skip"
    elif check.tool_version is None:
        check.status = "incomplete"
        check.detail = "bandit is not installed (pip install 'hardpoint[audit]')"
    else:
        python = [f for f in files if f.kind == "python" and f.rel in texts]
        run = run_bandit(python, lines, timeout=options.tool_timeout, root=root)
        check.findings = [
            f for f in run.findings if not is_suppressed(_line(lines, f.path, f.line), f.rule_id)
        ]
        if run.problem:
            check.status = "error" if run.error else "incomplete"
            check.detail = run.problem
    checks.append(_timed(check, clock))

    clock = time.monotonic()
    if "dependencies" in options.skip:
        check = CheckResult("dependencies", "hardpoint-osv", status="skipped", detail="--skip")
    elif missing is not None:
        check = CheckResult("dependencies", "hardpoint-osv", status="incomplete", detail=missing)
    else:
        check = _dependencies(options, root, database, started)
    checks.append(_timed(check, clock))
    clock = time.monotonic()
    if "safety" in options.skip:
        check = CheckResult("safety", "safety", status="skipped", detail="--skip")
    else:
        check = _safety(options, root, env)
    checks.append(_timed(check, clock))

    every = [f for c in checks for f in c.findings]
    new = frozenset(
        f.fingerprint for f in every if baseline is None or f.fingerprint not in baseline
    )
    result = AuditResult(
        root=root,
        started=started,
        fail_on=options.fail_on,
        checks=checks,
        new=new,
        baseline_used=baseline is not None,
    )
    if result.gating:
        result.exit_code = 1
    elif result.incomplete and not options.allow_incomplete:
        result.exit_code = 3
    if options.write_baseline is not None:
        write_baseline(options.write_baseline, every)
    result.seconds = time.monotonic() - began
    if options.output_dir is not None and options.formats:
        result.reports = write_reports(result, options.output_dir, options.formats)
    logger.info("audit of %s finished with exit code %d", root, result.exit_code)
    return result


def _line(lines: dict[str, list[str]], rel: str, number: int) -> str:
    file_lines = lines.get(rel, [])
    return file_lines[number - 1] if 0 < number <= len(file_lines) else ""
