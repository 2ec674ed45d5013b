"""Inline suppression comments: ``# nosec`` and ``# hardpoint: ignore[rule, ...]``."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Suppression", "is_suppressed", "parse_suppression"]

# "# nosec", "# nosec B602", "# nosec: B602, B603" (Bandit's forms).
_NOSEC = re.compile(r"#\s*nosec\b(?P<rest>[^#]*)", re.IGNORECASE)
# "# hardpoint: ignore" or "# hardpoint: ignore[secret-generic, print]".
_OURS = re.compile(r"#\s*hardpoint\s*:\s*ignore\b(?:\s*\[(?P<rules>[^\]]*)\])?", re.IGNORECASE)
_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True, slots=True)
class Suppression:
    """The suppressions written on one line.

    Attributes:
        all_rules: A bare ``# nosec`` or ``# hardpoint: ignore``: every rule is silenced.
        rules: Rule ids named in brackets (``ignore[print]``) or after ``nosec``, lowercased.
    """

    all_rules: bool
    rules: frozenset[str]

    def covers(self, rule_id: str) -> bool:
        """Tell whether this suppression silences *rule_id*."""
        return self.all_rules or rule_id.lower() in self.rules


_NONE = Suppression(all_rules=False, rules=frozenset())


def parse_suppression(line: str) -> Suppression:
    """Read the suppression comments of one source line.

    Args:
        line: The line, as text; anything goes.

    Returns:
        What the line suppresses; nothing when it has no suppression comment.
    """
    all_rules = False
    rules: set[str] = set()
    for match in _OURS.finditer(line):
        named = match.group("rules")
        if named is None:
            all_rules = True
        else:
            found = _RULE.findall(named)
            if found:
                rules.update(rule.lower() for rule in found)
            else:
                all_rules = True  # "ignore[]" is as wide as a bare "ignore"
    for match in _NOSEC.finditer(line):
        rest = match.group("rest").lstrip(" :")
        ids = re.findall(r"\bB\d{3}\b", rest, re.IGNORECASE)
        if ids:
            rules.update(rule.lower() for rule in ids)
        else:
            all_rules = True
    if not all_rules and not rules:
        return _NONE
    return Suppression(all_rules=all_rules, rules=frozenset(rules))


def is_suppressed(line: str, rule_id: str) -> bool:
    """Tell whether *line* carries a comment that silences *rule_id*."""
    if "nosec" not in line.lower() and "hardpoint" not in line.lower():
        return False
    return parse_suppression(line).covers(rule_id)
