"""The ``hardpoint`` console script: ``--version`` and the subcommands.

This module and the subcommands it loads are the only library code that prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hardpoint._version import __version__

__all__ = ["main"]


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hardpoint",
        description="Hardening components for Python services.",
    )
    parser.add_argument("--version", action="version", version=f"hardpoint {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="serve a small app built from every component, drive traffic at it, summarise",
        description=(
            "Start a small Starlette service on a free loopback port, built from every "
            "component on embedded defaults (no Redis, database or cloud account needed), send "
            "it scripted traffic and print what each component did. HARDPOINT_REDIS_URL "
            "switches the cache to Redis, DATABASE_URL the database to PostgreSQL (the demo "
            "creates and drops a table named hp_demo_products there)."
        ),
    )
    demo.add_argument(
        "--quiet", action="store_true", help="print only the summary table, no progress lines"
    )
    demo.add_argument(
        "--serve",
        action="store_true",
        help="keep the service up after the summary, for a browser (Ctrl-C stops)",
    )
    demo.add_argument(
        "--port", type=int, default=0, help="loopback port to serve on (default: a free one)"
    )
    db = commands.add_parser(
        "db",
        help="database checks",
        description="Check a PostgreSQL database (needs hardpoint[sqlalchemy]).",
    )
    db_commands = db.add_subparsers(dest="db_command", metavar="DB_COMMAND", required=True)
    check = db_commands.add_parser(
        "check",
        help="suggest indexes for unindexed foreign keys and list the slowest statements",
        description=(
            "Read the catalog (and pg_stat_statements when installed) of the database at URL "
            "and print index suggestions. Suggests only: creates nothing."
        ),
    )
    check.add_argument("url", help="the database URL, such as postgresql://app@db/app")
    check.add_argument(
        "--schema", action="append", dest="schemas", help="only this schema (repeatable)"
    )
    check.add_argument("--limit", type=int, default=10, help="slow statements to list (10)")
    from hardpoint.audit._cli import DESCRIPTION, add_arguments

    audit = commands.add_parser(
        "audit",
        help="run Bandit, a dependency audit and secret/debug/print/TODO checks",
        description=DESCRIPTION,
    )
    add_arguments(audit)
    return parser


def _db_check(url: str, schemas: list[str] | None, limit: int) -> int:
    from hardpoint.errors import HardpointError
    from hardpoint.pool.indexes import check_database, format_report

    try:
        report = check_database(url, schemas=schemas, limit=limit)
    except HardpointError as exc:
        sys.stderr.write(f"hardpoint db check: {exc}\n")
        return 2
    sys.stdout.write(format_report(report))
    return 1 if report.unindexed_foreign_keys else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns:
        0 on success; 1 when the command failed (or ``db check`` found unindexed foreign
        keys, or ``audit`` found something at or above ``--fail-on``); 2 for a usage or
        configuration error; 3 when ``audit`` could not finish a check.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from hardpoint._demo import run_demo

        return run_demo(quiet=args.quiet, serve=args.serve, port=args.port, out=sys.stdout)
    if args.command == "db":
        return _db_check(args.url, args.schemas, args.limit)
    if args.command == "audit":
        from hardpoint.audit._cli import run

        return run(args)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
