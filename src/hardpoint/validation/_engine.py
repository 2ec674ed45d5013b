"""The detection engine: decode, then tokenizer-based detectors, each behind a pre-filter.

No I/O. :func:`detect` is total (any ``str`` in, a finding or None out) and its time is
bounded by the length of the value: every detector is a single pass of non-backtracking
patterns plus an analysis of a bounded number of tokens.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from ._decode import decode
from ._html import xss_reason
from ._path import traversal_reason
from ._shell import PROGRAMS, command_reason
from ._sql import plain_sql_shape, sql_reason
from ._text import lower
from ._types import ALL_DETECTORS, Detector, Finding

__all__ = ["detect"]

# Cheapest first. A path finding that only names a sensitive file yields to a more specific
# one: "; cat /etc/passwd" is reported as the command injection it is.
_CHECKS: Final[tuple[tuple[Detector, Callable[[str], str | None]], ...]] = (
    (Detector.PATH_TRAVERSAL, traversal_reason),
    (Detector.XSS, xss_reason),
    (Detector.SQLI, sql_reason),
    (Detector.COMMAND_INJECTION, command_reason),
)
_WEAK_REASONS: Final = frozenset({"sensitive file"})
# Percent-encoded byte pairs that are only ever overlong UTF-8, at any depth of encoding
# (%c0%ae, %25c0%25af, %e0%80%ae, %f0%80%80%ae, %f8%80...).
_OVERLONG = re.compile(
    r"%(?:25)*(?:c[01](?:%(?:25)*[0-9a-f]{2}|[./\\])|e0%(?:25)*[89][0-9a-f]|f0%(?:25)*8[0-9a-f]"
    r"|f[89a-c]%(?:25)*8[0-9a-f])",
    re.IGNORECASE,
)

# Characters and bytes of plain text: a value made only of these cannot hold any of the
# attacks (no quote, bracket, operator, separator, escape or encoding), except by the 0x2e
# spelling of a dot or a slash, in either case.
_PLAIN: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.!?:_-")


def detect(value: str, enabled: frozenset[Detector] = ALL_DETECTORS) -> Finding | None:
    """Return the first finding in *value* among the *enabled* detectors, or None."""
    if _PLAIN.issuperset(value) and "0x" not in value and "0X" not in value:
        return _plain_words(value, enabled)
    text = lower(decode(value))  # every detector works on lower case
    weak: Finding | None = None
    for detector, check in _CHECKS:
        if detector in enabled:
            reason = check(text)
            if reason is not None:
                if reason not in _WEAK_REASONS:
                    return Finding(detector, reason)
                weak = weak or Finding(detector, reason)
    # No client encodes text as overlong UTF-8 (RFC 3629 forbids it); the only use of %c0%ae
    # and friends is smuggling dots and slashes past a filter.
    if (
        weak is None
        and "%" in value
        and Detector.PATH_TRAVERSAL in enabled
        and _OVERLONG.search(value) is not None
    ):
        return Finding(Detector.PATH_TRAVERSAL, "overlong UTF-8 encoding")
    return weak


# SQL that needs no punctuation at all: 1 UNION SELECT 2, ORDER BY 3, AND FALSE.
_PLAIN_SQL_WORDS: Final = frozenset(
    {
        "union",
        "select",
        "order",
        "group",
        "having",
        "between",
        "waitfor",
        "exec",
        "execute",
        "declare",
        "true",
        "false",
        "null",
        "xor",
        "div",
        "case",
    }
)


# First words of command lines that need no punctuation: IF EXIST x CMD, net view,
# strace whoami, sleep 5, and every tool name the shell detector knows.
_PLAIN_SHELL_STARTS: Final = PROGRAMS | frozenset(
    [
        "if",
        "for",
        "net",
        "netsh",
        "reg",
        "sc",
        "strace",
        "ltrace",
        "time",
        "nohup",
        "which",
        "sudo",
        "timeout",
        "watch",
        "ping",
        "wget",
        "curl",
        "nc",
        "ncat",
        "bash",
        "sh",
        "zsh",
        "powershell",
        "cmd",
        "sleep",
    ]
)


def _plain_words(value: str, enabled: frozenset[Detector]) -> Finding | None:
    """Plain words can still spell ``1 union select 2`` or a bare command line."""
    low = value.lower()
    if Detector.SQLI in enabled and (
        not _PLAIN_SQL_WORDS.isdisjoint(low.split()) or plain_sql_shape(low)
    ):
        reason = sql_reason(low)
        if reason is not None:
            return Finding(Detector.SQLI, reason)
    if Detector.PATH_TRAVERSAL in enabled and "." in value:
        reason = traversal_reason(low)
        if reason is not None:
            return Finding(Detector.PATH_TRAVERSAL, reason)
    first = low.split(None, 1)
    if Detector.COMMAND_INJECTION in enabled and (
        " -" in value or (first and first[0] in _PLAIN_SHELL_STARTS)
    ):
        reason = command_reason(low)
        if reason is not None:
            return Finding(Detector.COMMAND_INJECTION, reason)
    return None
