"""The ``hardpoint audit`` command line: options, the printed summary and the exit code.

Exit codes: 0 nothing new at or above ``--fail-on``; 1 such findings; 2 usage or
configuration error; 3 a check could not finish, unless ``--allow-incomplete``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from hardpoint.audit._model import SEVERITIES
from hardpoint.audit._reports import FORMATS, summary_lines
from hardpoint.audit._runner import CHECKS, AuditOptions, run_audit
from hardpoint.audit._secrets import redact
from hardpoint.errors import ConfigurationError

__all__ = ["add_arguments", "build_parser", "main", "run"]

DESCRIPTION = (
    "Audit a Python project: Bandit, a dependency vulnerability audit (pip-audit, or an "
    "offline folder of OSV records with --vuln-db) and hardpoint's own checks for hardcoded "
    "secrets, debug mode, print() in library code and security TODOs. Writes timestamped "
    "JSON, text, Markdown and SARIF reports. Exit codes: 0 pass, 1 findings at or above "
    "--fail-on, 2 usage error, 3 incomplete (a tool missing, no network and no --vuln-db)."
)


def _formats(value: str) -> tuple[str, ...]:
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    if names == ["all"]:
        return FORMATS
    if names == ["none"]:
        return ()
    bad = [name for name in names if name not in FORMATS]
    if bad or not names:
        choices = ", ".join((*FORMATS, "all", "none"))
        msg = f"unknown format {', '.join(bad) or repr(value)}; choose from {choices}"
        raise argparse.ArgumentTypeError(msg)
    return tuple(names)


def _positive(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if number <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``audit`` options to *parser* (the ``hardpoint audit`` subparser)."""
    parser.add_argument(
        "path", nargs="?", default=".", type=Path, help="the project to audit (default: .)"
    )
    parser.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        default=Path("reports/security"),
        help="where to write the reports (default: reports/security)",
    )
    parser.add_argument(
        "--format",
        type=_formats,
        default=FORMATS,
        metavar="FORMATS",
        help="comma-separated reports to write: json, txt, md, sarif, all (default) or none",
    )
    parser.add_argument(
        "--fail-on",
        choices=SEVERITIES,
        default="high",
        help="lowest severity that fails the run with exit code 1 (default: high)",
    )
    parser.add_argument(
        "--baseline", type=Path, metavar="FILE", help="accepted findings: only new ones fail"
    )
    parser.add_argument(
        "--write-baseline",
        type=Path,
        metavar="FILE",
        help="write this run's findings to FILE as a baseline",
    )
    parser.add_argument(
        "--vuln-db",
        type=Path,
        metavar="PATH",
        help="folder or zip of OSV JSON records: audit dependencies offline against it",
    )
    parser.add_argument(
        "-r",
        "--requirement",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        dest="requirements",
        help="requirements or lock file to audit (repeatable; default: those found in PATH)",
    )
    parser.add_argument(
        "--installed",
        action="store_true",
        help="audit the distributions installed in this environment, not PATH's files",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        help="never call a vulnerability service (needs --vuln-db for a complete audit)",
    )
    parser.add_argument(
        "--allow-incomplete",
        action="store_true",
        help="exit 0 rather than 3 when a check could not finish",
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=CHECKS,
        default=[],
        metavar="CHECK",
        help=f"a check not to run (repeatable): {', '.join(CHECKS)}",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="files or directories not to read (repeatable), such as 'migrations/*'",
    )
    parser.add_argument(
        "--timeout",
        type=_positive,
        default=300.0,
        metavar="SECONDS",
        help="time limit for each external tool (default: 300)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="print only the one-line verdict"
    )


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of ``python -m hardpoint.audit``."""
    parser = argparse.ArgumentParser(prog="hardpoint audit", description=DESCRIPTION)
    add_arguments(parser)
    return parser


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run the audit that parsed *args* describe, print its summary and return the exit code."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        options = AuditOptions(
            path=args.path,
            output_dir=args.output_dir,
            formats=args.format,
            fail_on=args.fail_on,
            baseline=args.baseline,
            write_baseline=args.write_baseline,
            vuln_db=args.vuln_db,
            requirements=tuple(args.requirements),
            installed=args.installed,
            offline=args.offline,
            allow_incomplete=args.allow_incomplete,
            skip=frozenset(args.skip),
            exclude=tuple(args.exclude),
            tool_timeout=args.timeout,
        )
        result = run_audit(options)
    except ConfigurationError as exc:
        print(f"hardpoint audit: error: {exc}", file=err)
        return 2
    lines = summary_lines(result)
    if args.quiet:
        lines = lines[-1:]
    else:
        lines += [f"report: {path}" for path in result.reports]
        if args.write_baseline:
            lines.append(f"baseline: {args.write_baseline}")
    print(redact("\n".join(lines), result.secrets), file=out)
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m hardpoint.audit`` and return its exit status."""
    return run(build_parser().parse_args(argv))
