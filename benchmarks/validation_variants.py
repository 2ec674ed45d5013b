"""How hardpoint.validation holds up when the attack corpora are re-encoded or re-spelled.

The corpora are a sample; attackers and the cases a reviewer holds back are variants of them.
This script takes every attack line that ``scan`` flags and rewrites it the ways evasion
tools and cheat sheets do (one more layer of percent-encoding, HTML entities, letter case,
other whitespace, comments between SQL words, keywords in MySQL versioned comments, shell
quoting inside command names, other separators), then counts the lines that are no longer
flagged. Each rewrite is applied only to the classes where it keeps the payload working (a
tab separates words for SQL and the shell, a ``/**/`` only for SQL); lines a rewrite leaves
as they were are not counted for it.

Usage: ``python benchmarks/validation_variants.py [--corpora DIR] [--markdown FILE]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

import hardpoint
from hardpoint.validation import scan

if TYPE_CHECKING:  # mypy runs from the repository root, where benchmarks/ is a namespace
    from benchmarks._report import Report, Table
    from benchmarks.validation_bench import naive_blocks, read_lines
else:  # run as a script, benchmarks/ is on sys.path
    from _report import Report, Table
    from validation_bench import naive_blocks, read_lines

ROOT: Final = Path(__file__).resolve().parent.parent
Rewrite = Callable[[str], str]

_SQL_WORDS = re.compile(r"\b(union|select|from|where|and|or)\b", re.IGNORECASE)
_SHELL_WORDS = re.compile(r"\b(cat|ls|id|whoami|wget|curl|nc|bash|sh|ping|sleep|echo|uname)\b")
_HANDLER_VALUE = re.compile(r"(on[a-z]+)=([^\s>\"']+)", re.IGNORECASE)
_TAG_SPACE = re.compile(r"(<[a-z]+)\s+", re.IGNORECASE)


def _percent_every_byte(line: str) -> str:
    return "".join(f"%{byte:02x}" for byte in line.encode("utf-8", "surrogatepass"))


def _percent_twice(line: str) -> str:
    return urllib.parse.quote(urllib.parse.quote(line, safe=""), safe="")


def _entities(line: str) -> str:
    return "".join(f"&#x{ord(c):x};" if not c.isalnum() and c != " " else c for c in line)


def _full_width(line: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" and not c.isalnum() else c for c in line)


def _random_case(line: str) -> str:
    rng = random.Random(line)  # the same rewrite of a line on every run
    return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in line)


def _spaces(to: str) -> Rewrite:
    return lambda line: line.replace(" ", to)


def _versioned(line: str) -> str:
    return _SQL_WORDS.sub(r"/*!50000\1*/", line)


def _logical_symbols(line: str) -> str:
    line = re.sub(r"\band\b", "&&", line, flags=re.IGNORECASE)
    return re.sub(r"\bor\b", "||", line, flags=re.IGNORECASE)


def _quote_split(line: str) -> str:
    return _SHELL_WORDS.sub(lambda m: m.group(1)[0] + "''" + m.group(1)[1:], line)


def _backslash_split(line: str) -> str:
    return _SHELL_WORDS.sub(lambda m: m.group(1)[0] + "\\" + m.group(1)[1:], line)


def _separator(to: str) -> Rewrite:
    return lambda line: line.replace(";", to)


# A rewrite that loses more than 5% of what was flagged is an evasion worth a rule.
KEEP: Final = 95.0
# (name, rewrite, the classes it keeps working in)
ALL: Final = ("sqli", "xss", "path_traversal", "command_injection")
REWRITES: Final[tuple[tuple[str, Rewrite, tuple[str, ...]], ...]] = (
    ("every byte percent-encoded", _percent_every_byte, ALL),
    ("percent-encoded twice", _percent_twice, ALL),
    ("upper case", str.upper, ("sqli", "xss", "path_traversal")),
    ("random case", _random_case, ("sqli", "xss")),
    ("punctuation as hex entities", _entities, ("xss",)),
    ("punctuation full-width", _full_width, ALL),
    ("spaces as tabs", _spaces("\t"), ("sqli", "xss", "command_injection")),
    ("spaces as newlines", _spaces("\n"), ("sqli", "xss")),
    ("spaces as /**/", _spaces("/**/"), ("sqli",)),
    ("spaces as vertical tabs", _spaces("\x0b"), ("sqli",)),
    ("spaces doubled", _spaces("  "), ALL),
    ("keywords in /*!50000 */", _versioned, ("sqli",)),
    ("AND/OR as &&/||", _logical_symbols, ("sqli",)),
    ("-- as #", lambda line: line.replace("--", "#"), ("sqli",)),
    ("space after the tag name as /", lambda line: _TAG_SPACE.sub(r"\1/", line), ("xss",)),
    ("handler values in quotes", lambda line: _HANDLER_VALUE.sub(r'\1="\2"', line), ("xss",)),
    (
        "javascript: as entities",
        lambda line: line.replace("javascript:", "&#x6A;avascript&colon;"),
        ("xss",),
    ),
    ("spaces as ${IFS}", _spaces("${IFS}"), ("command_injection",)),
    ("quotes inside command names", _quote_split, ("command_injection",)),
    ("backslash inside command names", _backslash_split, ("command_injection",)),
    ("; as a newline", _separator("\n"), ("command_injection",)),
    ("; as &&", _separator("&&"), ("command_injection",)),
    ("backticks as $()", lambda line: re.sub(r"`([^`]*)`", r"$(\1)", line), ("command_injection",)),
    ("/ as \\", lambda line: line.replace("/", "\\"), ("path_traversal",)),
)


def sweep(report: Report, corpora: Path) -> None:
    """One table per attack class: each rewrite, the lines it changed and those it lost.

    The naive regex design (validation_bench.py) is rewritten the same way, from the lines it
    flags, in the same run.
    """
    for name in ALL:
        lines = read_lines(corpora / "attack" / f"{name}.txt")
        flagged = [line for line in lines if scan(line) is not None]
        naive = [line for line in lines if naive_blocks(line)]
        table = Table(
            f"{name}: {len(flagged):,} lines flagged (naive regexes: {len(naive):,}), rewritten",
            ["rewrite", "changed", "still flagged", "lost", "naive: still flagged", "a line lost"],
        )
        kept_by_rewrite: dict[str, float] = {}
        for label, rewrite, classes in REWRITES:
            if name not in classes:
                continue
            changed = _rewritten(flagged, rewrite)
            lost = [new for new in changed if scan(new) is None]
            naive_changed = _rewritten(naive, rewrite)
            naive_kept = sum(map(naive_blocks, naive_changed))
            if changed:
                kept_by_rewrite[label] = 100 * (len(changed) - len(lost)) / len(changed)
            table.rows.append(
                [
                    label,
                    f"{len(changed):,}",
                    _share(len(changed) - len(lost), len(changed)),
                    f"{len(lost):,}",
                    _share(naive_kept, len(naive_changed)),
                    repr(lost[0][:40]) if lost else "",
                ]
            )
        report.add(table)
        label, kept = min(kept_by_rewrite.items(), key=lambda item: item[1])
        report.target(
            f"{name}: every rewrite keeps >= {KEEP:.0f}% of the flagged lines",
            kept >= KEEP,
            f"lowest {kept:.1f}% ({label})",
        )


def _rewritten(lines: list[str], rewrite: Rewrite) -> list[str]:
    """The rewrites of *lines* that differ from their line."""
    return [new for old, new in zip(lines, map(rewrite, lines), strict=True) if new != old]


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def main() -> int:
    """Run the sweep and print (and optionally write) the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=None, help="the corpora folder")
    parser.add_argument("--markdown", type=Path, default=None, help="also write Markdown here")
    args = parser.parse_args()
    corpora = args.corpora or Path(
        os.environ.get("HARDPOINT_CORPORA", ROOT.parent / "shared" / "corpora")
    )
    if not (corpora / "attack").is_dir():
        print(f"corpora not found at {corpora}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    report = Report(
        "hardpoint.validation: attack lines rewritten",
        versions=[("hardpoint", hardpoint.__version__), ("python", platform.python_version())],
    )
    report.print_versions()
    sweep(report, corpora)
    elapsed = time.perf_counter() - started
    return report.finish(
        elapsed,
        args.markdown,
        intro=f"Generated by `benchmarks/validation_variants.py` ({elapsed:.0f} s).",
    )


if __name__ == "__main__":
    sys.exit(main())
