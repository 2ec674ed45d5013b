"""Hardcoded secrets found by their shape, and the redaction every report goes through.

Two kinds of rule:

- *Shape* rules match tokens whose format is distinctive: AWS access key ids, AWS secret
  access keys next to an AWS-ish name, GitHub, Slack, Stripe and OpenAI tokens, private key
  PEM headers. They fire in any audited file.
- The *generic* rule fires on a quoted (or, in ``.env``/INI/YAML, bare) value assigned to a
  secret-like name (``password``, ``secret``, ``token``, ``api_key`` ...) when the value looks
  random (long, mixed character classes, high Shannon entropy) and is no placeholder
  (``changeme``, ``${VAR}``, ``<your-key>``, ``os.environ[...]`` and the like).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from hardpoint.audit._files import SourceFile
from hardpoint.audit._model import Finding, Severity, fingerprint
from hardpoint.audit._suppress import is_suppressed

__all__ = [
    "REDACTED",
    "SECRET_RULES",
    "is_placeholder",
    "looks_random",
    "redact",
    "scan_secrets",
    "shannon_entropy",
]

REDACTED: Final = "[REDACTED]"


@dataclass(frozen=True, slots=True)
class _ShapeRule:
    rule_id: str
    name: str
    severity: Severity
    pattern: re.Pattern[str]


_SHAPES: Final = (
    _ShapeRule(
        "secret-aws-access-key-id",
        "AWS access key id",
        "high",
        re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])"),
    ),
    _ShapeRule(
        "secret-github-token",
        "GitHub token",
        "high",
        re.compile(
            r"(?<![A-Za-z0-9_])(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36}"
            r"|github_pat_[A-Za-z0-9_]{50,})(?![A-Za-z0-9_])"
        ),
    ),
    _ShapeRule(
        "secret-slack-token",
        "Slack token",
        "high",
        re.compile(r"(?<![A-Za-z0-9])xox[bpars]-[A-Za-z0-9]{6,}(?:-[A-Za-z0-9]+)+"),
    ),
    _ShapeRule(
        "secret-stripe-key",
        "Stripe live secret key",
        "high",
        re.compile(r"(?<![A-Za-z0-9_])(?:sk|rk)_live_[A-Za-z0-9]{20,}(?![A-Za-z0-9])"),
    ),
    _ShapeRule(
        "secret-openai-key",
        "OpenAI API key",
        "high",
        re.compile(
            r"(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}(?![A-Za-z0-9_-])"
        ),
    ),
    _ShapeRule(
        "secret-private-key",
        "private key",
        "critical",
        re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    ),
)
_AWS_SECRET: Final = _ShapeRule(
    "secret-aws-secret-access-key",
    "AWS secret access key",
    "critical",
    re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
)
_AWS_NAME: Final = re.compile(r"aws|amazon", re.IGNORECASE)
_AWS_SECRET_NAME: Final = re.compile(r"secret|private|sk\b", re.IGNORECASE)

GENERIC_RULE: Final = "secret-generic"
#: Every rule id this module reports, with a one-line description (SARIF rule metadata).
SECRET_RULES: Final[dict[str, tuple[str, Severity]]] = {
    **{r.rule_id: (f"Hardcoded {r.name}", r.severity) for r in _SHAPES},
    _AWS_SECRET.rule_id: ("Hardcoded AWS secret access key", _AWS_SECRET.severity),
    GENERIC_RULE: ("High-entropy string assigned to a secret-like name", "high"),
}

_SECRET_NAME: Final = re.compile(
    r"(?:^|_)(?:password|passwd|passphrase|pwd|secret|token|api_?key|apikey|access_?key"
    r"|secret_?key|private_?key|auth_?key|client_?secret|credentials?|signing_?key)$"
)
# key = "value", key: "value", "key": "value", key: str = "value" (Python annotations).
_QUOTED: Final = re.compile(
    r"""(?<![\w.-])(?P<key>[A-Za-z_][\w.-]*)["']?\s*(?::\s*[\w\[\]., |]+\s*)?(?::|=)\s*"""
    r"""(?P<q>["'])(?P<value>[^"'\n]*)(?P=q)"""
)
# KEY=value and key: value without quotes (.env, INI, YAML).
_BARE: Final = re.compile(
    r"""^\s*(?:export\s+)?(?P<key>[A-Za-z_][\w.-]*)\s*(?::|=)\s*(?P<value>[^\s"']+)"""
    r"""(?:\s+[#;].*)?\s*$"""
)
_PLACEHOLDER_WORDS: Final = (
    "changeme",
    "change-me",
    "change_me",
    "example",
    "placeholder",
    "your-",
    "your_",
    "yourkey",
    "dummy",
    "redacted",
    "replace",
    "insert",
    "todo",
    "xxxx",
    "****",
    "....",
)
_TEMPLATE: Final = re.compile(r"\$\{|\$\(|\{\{|%\(|<[^>]*>|^\$[A-Za-z_]|^env:|^vault:|^arn:")
_ENV_LOOKUP: Final = re.compile(r"environ|getenv|env\(|secrets?\.get|settings\.", re.IGNORECASE)


def shannon_entropy(value: str) -> float:
    """Return the Shannon entropy of *value*, in bits per character (0 for "")."""
    if not value:
        return 0.0
    counts = Counter(value)
    total = len(value)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def is_placeholder(value: str) -> bool:
    """Tell whether *value* is a placeholder, a template or a lookup rather than a secret."""
    lower = value.lower()
    if any(word in lower for word in _PLACEHOLDER_WORDS):
        return True
    if _TEMPLATE.search(value) or _ENV_LOOKUP.search(value):
        return True
    return len(set(value)) <= 2


def looks_random(value: str) -> bool:
    """Tell whether *value* looks like a generated credential rather than a word or name.

    Needs 12+ characters without spaces, at least three of lower case, upper case, digits
    and symbols, and 3.3+ bits of entropy per character.
    """
    if len(value) < 12 or len(value) > 512 or any(c.isspace() for c in value):
        return False
    if value.startswith(("http://", "https://", "/", "./", "../", "~")):
        return False
    classes = sum(
        (
            any(c.islower() for c in value),
            any(c.isupper() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        )
    )
    return classes >= 3 and shannon_entropy(value) >= 3.3


def _secret_name(key: str) -> bool:
    normal = re.sub(r"[^a-z0-9]+", "_", key.lower()).strip("_")
    return _SECRET_NAME.search(normal) is not None


def _finding(
    source: SourceFile, line_no: int, line: str, rule_id: str, message: str, value: str
) -> Finding:
    description, severity = SECRET_RULES[rule_id]
    return Finding(
        check="secrets",
        rule_id=rule_id,
        severity=severity,
        confidence="medium" if rule_id == GENERIC_RULE else "high",
        path=source.rel,
        line=line_no,
        message=message or description,
        fingerprint=fingerprint(rule_id, source.rel, line),
        secret=value,
    )


def scan_secrets(source: SourceFile, text: str) -> list[Finding]:
    """Return the hardcoded secrets in one file.

    Args:
        source: The file, for its relative path and format.
        text: Its content.

    Returns:
        One finding per secret value per line, suppressed lines left out.
    """
    findings: list[Finding] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if len(line) > 4000:
            continue  # minified data, not hand-written configuration
        seen: set[str] = set()
        for rule in _SHAPES:
            for match in rule.pattern.finditer(line):
                value = match.group(0)
                if value in seen or (
                    rule.rule_id != "secret-private-key" and is_placeholder(value)
                ):
                    continue
                if is_suppressed(line, rule.rule_id):
                    continue
                seen.add(value)
                findings.append(
                    _finding(source, line_no, line, rule.rule_id, f"Hardcoded {rule.name}", value)
                )
        if _AWS_NAME.search(line) and _AWS_SECRET_NAME.search(line):
            for match in _AWS_SECRET.pattern.finditer(line):
                value = match.group(0)
                if value in seen or is_placeholder(value) or not looks_random(value):
                    continue
                if is_suppressed(line, _AWS_SECRET.rule_id):
                    continue
                seen.add(value)
                findings.append(
                    _finding(
                        source,
                        line_no,
                        line,
                        _AWS_SECRET.rule_id,
                        "Hardcoded AWS secret access key",
                        value,
                    )
                )
        findings.extend(_generic(source, line_no, line, seen))
    return findings


def _generic(source: SourceFile, line_no: int, line: str, seen: set[str]) -> list[Finding]:
    candidates = [(m.group("key"), m.group("value")) for m in _QUOTED.finditer(line)]
    if source.kind in ("env", "ini", "yaml"):
        bare = _BARE.match(line)
        if bare:
            candidates.append((bare.group("key"), bare.group("value")))
    out = []
    for key, value in candidates:
        if value in seen or not _secret_name(key) or any(value in s or s in value for s in seen):
            continue
        if is_placeholder(value) or not looks_random(value):
            continue
        if is_suppressed(line, GENERIC_RULE):
            continue
        seen.add(value)
        out.append(
            _finding(
                source,
                line_no,
                line,
                GENERIC_RULE,
                f"High-entropy string assigned to {key!r}",
                value,
            )
        )
    return out


_ALL_SHAPES: Final = [r.pattern for r in _SHAPES]


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every known secret value, and anything shaped like a token, in *text*.

    Args:
        text: Report text.
        secrets: Values found by the audit (any check); each is replaced wherever it occurs.

    Returns:
        *text* with each secret replaced by ``[REDACTED]``.
    """
    for value in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(value, REDACTED)
    for pattern in _ALL_SHAPES:
        text = pattern.sub(REDACTED, text)
    return text
