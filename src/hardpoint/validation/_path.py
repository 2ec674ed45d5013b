r"""Path traversal: resolve the path segments and flag a value that climbs above its root.

After decoding (percent, double, overlong UTF-8, ``%u2216``-style look-alikes), backslashes
count as separators, as Windows and many file APIs treat them. The segments are then walked like
a resolver does: a dot-only segment of two or more dots goes up, ``.`` and empty segments stay,
anything else goes down. A value whose walk goes above where it started escapes the directory
the application meant to serve. ``docs/../img/logo.png`` stays inside and passes; ``...`` with
no separator is punctuation, not a path. Absolute paths to well-known sensitive files
(``/etc/passwd``, ``C:\boot.ini``) and file-reading URL schemes (``php://filter``) are flagged
too, since they read the same files without climbing.
"""

from __future__ import annotations

import re
from typing import Final

from ._text import contains_any, replace_chars

__all__ = ["traversal_reason"]

_SEPARATORS: Final = str.maketrans({"\\": "/", "\x00": None})
_SEPARATOR_PAIRS: Final = (("\\", "/"), ("\x00", ""))
# Files no form value names by accident: flagged wherever they appear.
_SENSITIVE_ANYWHERE = re.compile(
    r"(?:^|[/.])(?:etc/passwd|etc/shadow|boot\.ini|win\.ini|web-inf/|\.ssh/|id_rsa\b|\.htaccess"
    r"|\.htpasswd|global\.asa|proc/self/|wp-config\.php)"
)
# A percent-less encoding of a separator after dots (..2f..2f), as some filters leave it.
_BARE_HEX_SEP = re.compile(r"(?<=\.\.)(?:2f|5c)")
_SENSITIVE = re.compile(
    r"(?:^|/)(?:etc/(?:passwd|shadow|group|hosts|issue|master\.passwd|sudoers|security/)"
    r"|proc/(?:self|\d+)/|boot\.ini|win\.ini|system\.ini|windows/(?:win\.ini|repair/)"
    r"|system32/(?:config/|drivers/etc/)"
    r"|winnt/|\.ssh/|\.htpasswd|\.htaccess|\.aws/credentials|\.git/config|\.env$"
    r"|var/log/|wp-config\.php)"
)
_SENSITIVE_WORDS: Final = (
    "passwd",
    "shadow",
    "boot.ini",
    "win.ini",
    "web-inf",
    ".ssh",
    "id_rsa",
    ".ht",
    "global.asa",
    "proc/",
    "wp-config",
)
_ABSOLUTE_WORDS: Final = (
    "etc/",
    "proc/",
    ".ini",
    "windows/",
    "system32",
    "winnt",
    ".ssh",
    ".ht",
    ".aws",
    ".git/",
    ".env",
    "var/log",
    "wp-config",
)
# URL schemes that read files: anywhere at the start, or these three after a space or quote.
_START_SCHEMES: Final = frozenset(
    {"php", "file", "zip", "phar", "expect", "data", "glob", "compress.zlib", "jar", "netdoc"}
    | {"gopher"}
)
_INNER_SCHEMES: Final = frozenset({"php", "phar", "expect"})
_SCHEME_BEFORE = re.compile(r"[a-z.]+\Z")


def _file_scheme(path: str) -> bool:
    if path.startswith("file:/"):
        return True
    start = path.find("://")
    while start > 0:
        name = _SCHEME_BEFORE.search(path, max(0, start - 16), start)
        if name is not None:
            scheme, at = name.group(), name.start()
            if at == 0 and scheme in _START_SCHEMES:
                return True
            if scheme in _INNER_SCHEMES and (at == 0 or path[at - 1] in " \t'\"("):
                return True
        start = path.find("://", start + 3)
    return False


_DRIVE = re.compile(r"^[a-z]:/")


# Spaces and control characters a lenient path API drops around a segment ("..%01/").
_BLANK: Final = " " + "".join(chr(c) for c in range(32))
# Percent signs followed by something no decoder reads (%pc, %qf, %8s) used as separators.
# Separators stripped by a filter: "........etcpasswd", "....web-infweb.xml".
_GLUED_DOTS = re.compile(r"(?<!\.)\.{4,}/?(?:etc|web-inf|windows|winnt|boot\.ini|oot\.ini|inetpub)")
_JUNK_ESCAPE = re.compile(r"%(?:[g-z][0-9a-z]|[0-9a-f][g-z])")
_TARGET_NAMES: Final = ("passwd", "shadow", "hosts", "issue", "boot.ini", "win.ini", "system32")


def _climbs(path: str) -> bool:
    """Whether walking *path*'s segments goes above the starting directory."""
    depth = 0
    for segment in path.split("/"):
        seg = segment.strip(_BLANK)
        if not seg or seg == ".":
            continue
        if seg.strip(".") == "" or seg.rstrip(".? ") == "" or seg in ("..;", "..%00"):
            depth -= 1
            if depth < 0:
                return True
        else:
            depth += 1
    return False


def _dot_dot_chain(path: str) -> bool:
    """``..%bg%qf..%bg%qf..``: parent references joined by junk separators, no spaces."""
    chunks = path.split("..")
    joints = [c for c in chunks[1:-1] if c.strip(".")]
    if len(joints) < 2:
        return False
    return all(
        len(j) <= 10 and not any(c.isspace() for c in j) and not j.strip(".").isalnum()
        for j in joints
    )


def traversal_reason(text: str) -> str | None:
    """Why *text* (decoded and lower-cased) is a path traversal or sensitive file read, or None."""
    if "/" not in text and "\\" not in text and ":" not in text and "." not in text:
        return None
    path = replace_chars(
        text, _SEPARATORS, _SEPARATOR_PAIRS
    )  # NUL dropped too: ".%00." is ".." to a filter
    if ".." in path and ("2f" in path or "5c" in path):
        path = _BARE_HEX_SEP.sub("/", path)
    if ("/" in path and (".." in path or "?" in path)) and _climbs(path):
        return "escapes the root directory"
    if "...." in path and _GLUED_DOTS.search(path) is not None:
        return "parent references glued to a system path"
    if (
        ".." in path
        and "%" in path
        and contains_any(path, _TARGET_NAMES)
        and _JUNK_ESCAPE.search(path) is not None
    ):
        return "parent reference behind junk escapes"
    if contains_any(path, _SENSITIVE_WORDS) and _SENSITIVE_ANYWHERE.search(path):
        return "sensitive file"
    if path.count("..") >= 3 and _dot_dot_chain(path):
        return "chain of parent references"
    if (
        (path.startswith(("/", "~")) or _DRIVE.match(path))
        and contains_any(path, _ABSOLUTE_WORDS)
        and _SENSITIVE.search(path)
    ):
        return "sensitive file"
    if ":/" in path and _file_scheme(path):
        return "file URL scheme"
    return None
