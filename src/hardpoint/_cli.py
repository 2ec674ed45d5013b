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
        help="run every available component on embedded defaults and print what each did",
        description=(
            "Run the components on embedded defaults (no Redis, database or cloud account "
            "needed) and print a summary table. HARDPOINT_REDIS_URL switches the cache to Redis."
        ),
    )
    demo.add_argument(
        "--quiet", action="store_true", help="print only the summary table, no progress lines"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` when omitted.

    Returns:
        0 on success, 1 when the command failed, 2 for a usage error.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from hardpoint._demo import run_demo

        return run_demo(quiet=args.quiet, out=sys.stdout)
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover - exercised through the console script
    sys.exit(main())
