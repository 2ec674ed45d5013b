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

__all__ = ["traversal_reason"]

_SEPARATORS: Final = str.maketrans({"\\": "/"})
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
_FILE_SCHEME = re.compile(
    r"^(?:php|file|zip|phar|expect|data|glob|compress\.zlib|jar|netdoc|gopher)://"
    r"|^php://|(?:^|[\s'\"(])(?:php|phar|expect)://|^file:/"
)
_DRIVE = re.compile(r"^[a-z]:/")


def _climbs(path: str) -> bool:
    """Whether walking *path*'s segments goes above the starting directory."""
    depth = 0
    for segment in path.split("/"):
        seg = segment.strip(" ")
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
    """Why *text* (already decoded) is a path traversal or sensitive file read, or None."""
    if "/" not in text and "\\" not in text and ":" not in text and "." not in text:
        return None
    path = text.translate(_SEPARATORS).lower()
    if ".." in path and ("2f" in path or "5c" in path):
        path = _BARE_HEX_SEP.sub("/", path)
    if ("/" in path and (".." in path or ".?" in path)) and _climbs(path):
        return "escapes the root directory"
    if _SENSITIVE_ANYWHERE.search(path):
        return "sensitive file"
    if path.count("..") >= 3 and _dot_dot_chain(path):
        return "chain of parent references"
    if _SENSITIVE.search(path) and (path.startswith(("/", "~")) or _DRIVE.match(path)):
        return "sensitive file"
    if ":/" in path and _FILE_SCHEME.search(path):
        return "file URL scheme"
    return None
