"""Own code checks with no extra dependency: DEBUG switched on, ``print``, security TODOs."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from typing import Final

from hardpoint.audit._files import SourceFile
from hardpoint.audit._model import Finding, Severity, fingerprint
from hardpoint.audit._suppress import is_suppressed

__all__ = [
    "CHECK_RULES",
    "is_library_module",
    "scan_debug",
    "scan_print",
    "scan_todo",
    "security_todo",
]

DEBUG_RULE: Final = "debug-enabled"
PRINT_RULE: Final = "print-in-library"
TODO_RULE: Final = "security-todo"

#: Rule id -> (description, severity), for the SARIF rule metadata.
CHECK_RULES: Final[dict[str, tuple[str, Severity]]] = {
    DEBUG_RULE: ("Debug mode switched on in code or configuration", "medium"),
    PRINT_RULE: ("print() in library code (use logging)", "low"),
    TODO_RULE: ("TODO/FIXME comment about a security matter", "low"),
}

_DEBUG_NAMES: Final = frozenset(
    {"DEBUG", "TEMPLATE_DEBUG", "FLASK_DEBUG", "DJANGO_DEBUG", "APP_DEBUG", "DEBUG_MODE"}
)
_TRUE_WORDS: Final = r"(?:true|yes|on|1)"
# DEBUG=true / FLASK_DEBUG=1 in .env and INI; debug: true in YAML; debug = true in TOML;
# "debug": true in JSON.
_DEBUG_CONFIG: Final = re.compile(
    rf"""^\s*(?:export\s+)?["']?(?P<key>(?:flask_|django_|app_|template_)?debug(?:_mode)?)["']?\s*[:=]\s*["']?{_TRUE_WORDS}["']?\s*,?\s*(?:[#;].*)?$""",
    re.IGNORECASE,
)
_TODO: Final = re.compile(r"\b(?:TODO|FIXME|XXX|HACK)\b", re.IGNORECASE)
_TODO_TAG: Final = re.compile(r"\b(?:TODO|FIXME|XXX|HACK)\b")
_SECURITY_WORDS: Final = re.compile(
    r"\b(?:secur\w*|auth\w*|password\w*|passwd|secrets?|tokens?|credentials?|inject\w*|xss"
    r"|csrf|crypt\w*|encrypt\w*|decrypt\w*|sanitis\w*|sanitiz\w*|escap\w*|vulnerab\w*|cve"
    r"|permissions?|privilege\w*|ssl|tls|certificates?|verify|hash\w*|salt|sql|rce"
    r"|unsafe|insecure|exploit\w*|login|session|cors)\b",
    re.IGNORECASE,
)
_COMMENT_START: Final = re.compile(r"(?:^|\s)(?:#|//|;)")

# Paths where print is how the code talks to its user: tests, scripts and command lines.
_NON_LIBRARY_DIRS: Final = frozenset(
    {"tests", "test", "testing", "scripts", "examples", "example", "benchmarks", "docs", "tools"}
)
_NON_LIBRARY_FILES: Final = re.compile(
    r"^(?:__main__|_?cli|_?main|conftest|setup|noxfile|fabfile|manage|test_.*|.*_test)\.py$"
)


def _make(source: SourceFile, rule_id: str, line_no: int, line: str, message: str) -> Finding:
    _description, severity = CHECK_RULES[rule_id]
    return Finding(
        check=rule_id.split("-", 1)[0] if rule_id != TODO_RULE else "todo",
        rule_id=rule_id,
        severity=severity,
        confidence="high" if rule_id != TODO_RULE else "medium",
        path=source.rel,
        line=line_no,
        message=message,
        fingerprint=fingerprint(rule_id, source.rel, line),
    )


def _line(lines: list[str], line_no: int) -> str:
    return lines[line_no - 1] if 0 < line_no <= len(lines) else ""


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None  # not Python 3, or beyond the parser's limits: Bandit reports it


def _is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _debug_nodes(tree: ast.Module) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if not _is_true(node.value):
                continue
            for target in targets:
                if isinstance(target, ast.Name) and target.id.upper() in _DEBUG_NAMES:
                    yield node.lineno, f"{target.id} = True"
                elif isinstance(target, ast.Attribute) and target.attr.lower() == "debug":
                    yield node.lineno, f".{target.attr} = True"
                elif (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.slice, ast.Constant)
                    and isinstance(target.slice.value, str)
                    and target.slice.value.upper() in _DEBUG_NAMES
                ):
                    yield node.lineno, f"[{target.slice.value!r}] = True"
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in ("debug", "use_debugger") and _is_true(keyword.value):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else ""
                    name = func.id if isinstance(func, ast.Name) else name
                    yield node.lineno, f"{name or 'call'}({keyword.arg}=True)"


def scan_debug(source: SourceFile, text: str) -> list[Finding]:
    """Return places that switch debug mode on.

    Python: ``DEBUG = True`` (Django settings and friends), ``app.debug = True``,
    ``app.config["DEBUG"] = True`` and any call with ``debug=True`` such as
    ``app.run(debug=True)``. Configuration: ``DEBUG=true``/``1``/``yes``/``on`` in ``.env``
    and INI files, ``debug: true`` in YAML, ``debug = true`` in TOML, ``"debug": true`` in JSON.
    """
    lines = text.splitlines()
    found: list[tuple[int, str]] = []
    if source.kind == "python":
        tree = _parse(text)
        if tree is not None:
            found = sorted(set(_debug_nodes(tree)))
    else:
        for line_no, line in enumerate(lines, start=1):
            match = _DEBUG_CONFIG.match(line)
            if match:
                found.append((line_no, f"{match.group('key')} is on"))
    return [
        _make(source, DEBUG_RULE, n, _line(lines, n), f"Debug mode switched on: {what}")
        for n, what in found
        if not is_suppressed(_line(lines, n), DEBUG_RULE)
    ]


def is_library_module(rel: str) -> bool:
    """Tell whether the file at *rel* is library code, where ``print`` is a finding.

    Not library code: anything under a ``tests``, ``test``, ``testing``, ``scripts``,
    ``examples``, ``example``, ``benchmarks``, ``docs`` or ``tools`` directory; ``__main__.py``,
    ``cli.py``, ``_cli.py``, ``main.py``, ``conftest.py``, ``setup.py``, ``manage.py`` and test
    modules (``test_*.py``, ``*_test.py``); and modules inside a ``cli`` package.
    """
    parts = rel.split("/")
    directories = {p.lower() for p in parts[:-1]}
    if directories & _NON_LIBRARY_DIRS or "cli" in directories:
        return False
    return _NON_LIBRARY_FILES.match(parts[-1]) is None


def _main_guard(node: ast.stmt) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value == "__main__"
    )


def _print_calls(tree: ast.Module) -> Iterator[int]:
    for statement in tree.body:
        if _main_guard(statement):
            continue  # an ``if __name__ == "__main__":`` block is a script
        for node in ast.walk(statement):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "print"
            ):
                yield node.lineno


def scan_print(source: SourceFile, text: str) -> list[Finding]:
    """Return the ``print()`` calls in library code (see :func:`is_library_module`).

    Calls inside a top-level ``if __name__ == "__main__":`` block do not count.
    """
    if source.kind != "python" or not is_library_module(source.rel):
        return []
    tree = _parse(text)
    if tree is None:
        return []
    lines = text.splitlines()
    return [
        _make(source, PRINT_RULE, n, _line(lines, n), "print() in library code; use logging")
        for n in sorted(set(_print_calls(tree)))
        if not is_suppressed(_line(lines, n), PRINT_RULE)
    ]


def security_todo(comment: str) -> bool:
    """Tell whether a comment is a TODO/FIXME/XXX/HACK note about a security matter.

    The tag must be upper case (``todo`` in prose is no tag) and a security word must follow
    it (security, auth, password, secret, token, injection, xss, csrf, crypto, ...).
    """
    tag = _TODO_TAG.search(comment)
    return tag is not None and _SECURITY_WORDS.search(comment, tag.end()) is not None


def _python_comments(text: str) -> Iterator[tuple[int, str]]:
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                yield token.start[0], token.string
    except (tokenize.TokenError, SyntaxError):
        return


def _other_comments(text: str) -> Iterator[tuple[int, str]]:
    for line_no, line in enumerate(text.splitlines(), start=1):
        match = _COMMENT_START.search(line)
        if match:
            yield line_no, line[match.start() :]


def scan_todo(source: SourceFile, text: str) -> list[Finding]:
    """Return TODO/FIXME/XXX/HACK comments that mention a security matter.

    Python comments come from the tokenizer (so strings never count); other formats use
    ``#``, ``;`` and ``//`` comments. JSON has no comments and is not read.
    """
    if source.kind == "json" or not _TODO.search(text):
        return []
    comments = _python_comments(text) if source.kind == "python" else _other_comments(text)
    lines = text.splitlines()
    return [
        _make(source, TODO_RULE, n, _line(lines, n), "Security TODO/FIXME left in the code")
        for n, comment in comments
        if security_todo(comment) and not is_suppressed(_line(lines, n), TODO_RULE)
    ]
