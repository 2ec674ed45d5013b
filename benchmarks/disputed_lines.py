"""Write benchmarks/disputed_corpus_lines.txt: the missed corpus lines a stated rule disputes.

The corpora README lets a project list attack lines that no detector should flag without
false positives, each with a reason. This script applies one rule per kind of line to the
lines hardpoint does not block, so the list follows the detectors and is reproducible; the
result is read line by line before it is committed. Lines that are attacks but merely hard
for us match no rule and stay counted as misses.

Usage: ``python benchmarks/disputed_lines.py [--corpora DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from hardpoint.validation._decode import decode
from hardpoint.validation._engine import detect
from hardpoint.validation._shell import _COMMANDS

ROOT: Final = Path(__file__).resolve().parent.parent
OUTPUT: Final = Path(__file__).resolve().parent / "disputed_corpus_lines.txt"
HEADER: Final = "".join(
    f"# {line}\n"
    for line in (
        "Corpus lines that no detector should flag without false positives (see",
        '../shared/corpora/README.md, "Disputed lines"). One per line: <attack file stem> TAB',
        "<the line as a JSON string> TAB <reason>. benchmarks/validation_bench.py reports",
        "detection with and without them. Written by benchmarks/disputed_lines.py from the misses",
        "by the rules in the reasons below, then read line by line; lines that are attacks but",
        "merely hard for us are NOT here.",
    )
)
_HARMLESS_MARKUP: Final = re.compile(
    r"(?:\s*(?:<!--[^>]*-->|</?(?:div|span|a|b|i|p|br|x|h1|doc|html|label|x)"
    r"(?:\s+[a-z:-]+=(?:\"[^\"]*\"|'[^']*'|\w+))*\s*/?>|[^<>]+))+\s*",
    re.IGNORECASE,
)
_ACTIVE: Final = re.compile(
    r"on[a-z]+\s*=|script|style|src\s*=|data|xlink|formaction|import|<svg|<math|<meta|<link"
    r"|<form|<input|<iframe|<object|<embed|&|\\\\"
)
_BARE_COMMANDS: Final = _COMMANDS | {
    "ipconfig",
    "sysinfo",
    "route",
    "systeminfo",
    "uname",
    "whoami",
    "netstat",
}


def rule_sqli(line: str) -> str | None:
    """Why a missed SQL injection line is disputed, or None."""
    d = decode(line).strip()
    if (
        re.match(r"#\s+[a-z]", d, re.I)
        or re.search(r"\t\t[a-z]", d, re.I)
        or re.fullmatch(r"[A-Z][a-z]+(?: [a-z]+)*(?: name)?:?|Time-Based:|Numeric", d)
    ):
        return "cheat-sheet text (a heading or a description), not a payload"
    if len(d) <= 3 and "--" not in d and "/*" not in d:
        return "one to three characters: flagging it flags every apostrophe, quote or number"
    if re.fullmatch(r"A '[^']+' B", d):
        return (
            "an operator template between the placeholders A and B: the same shape as "
            "I 'like' it, so flagging it flags quoted words in prose"
        )
    if re.fullmatch(r"[a-z_|]+\s*\\?\(", d, re.I):
        return "a SQL function or keyword and an opening parenthesis, no query around it"
    return None


def rule_xss(line: str) -> str | None:
    """Why a missed XSS line is disputed, or None."""
    d = decode(line).strip()
    if re.fullmatch(r"on[a-z]+", d, re.I):
        return "an event-handler name alone: no markup, no assignment, nothing runs"
    if re.fullmatch(r"[<>];?", d):
        return "one (encoded) angle bracket: no tag follows"
    if re.fullmatch(r"[A-Za-z ]+", d):
        return "plain words: no markup, no script"
    low = d.lower()
    if (
        "<" in low
        and not _ACTIVE.search(low)
        and _HARMLESS_MARKUP.fullmatch(d)
        and not re.search(r"href\s*=\s*[\"']?\s*(?!https?:|/|#)[a-z]+:", low)
    ):
        return "harmless markup (plain tags, an http(s) link or a comment): nothing executes"
    return None


def rule_path(line: str) -> str | None:
    """Why a missed path traversal line is disputed, or None."""
    d = decode(line).lower()
    if "{file}" in d and ".." not in d.replace("{file}", ""):
        return "a {FILE} template placeholder without a parent reference: nothing to resolve"
    if re.fullmatch(r"/?a{40,}.*", d):
        return "a long run of one letter (an overflow probe), no path"
    return None


def rule_cmd(line: str) -> str | None:
    """Why a missed command injection line is disputed, or None."""
    d = decode(line).strip().lower()
    if re.fullmatch(r"[\"'`]?[a-z0-9._-]+[\"'`]?", d) and d.strip("\"'`") in _BARE_COMMANDS:
        return "a command name alone, no separator or substitution: indistinguishable from the word"
    if re.fullmatch(r"[;|&\s]*|%0a|\\r|\\n", d):
        return "a shell separator alone, no command after it"
    if d.startswith("{{") or "{%" in d:
        return "template syntax (server-side template injection), another attack class"
    if re.search(r"&#13;&#10;|\r\n|\n", line) and re.search(r"(?:a\d+ |mail from|data$|quit)", d):
        return "a mail-protocol (IMAP/SMTP) line, another attack class"
    return None


RULES: Final[dict[str, Callable[[str], str | None]]] = {
    "sqli": rule_sqli,
    "xss": rule_xss,
    "path_traversal": rule_path,
    "command_injection": rule_cmd,
}


def main() -> int:
    """Write the list and print how many lines each class disputes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=None, help="the corpora folder")
    args = parser.parse_args()
    corpora = args.corpora or Path(
        os.environ.get("HARDPOINT_CORPORA", ROOT.parent / "shared" / "corpora")
    )
    rows: list[str] = []
    for name, rule in RULES.items():
        text = (corpora / "attack" / f"{name}.txt").read_text(encoding="utf-8")
        count = 0
        for line in text.split("\n")[:-1]:
            reason = rule(line) if detect(line) is None else None
            if reason is not None:
                rows.append(f"{name}\t{json.dumps(line, ensure_ascii=False)}\t{reason}")
                count += 1
        print(f"{name}: {count} disputed lines")
    OUTPUT.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
