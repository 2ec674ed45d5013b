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

from ._text import contains_any

__all__ = ["traversal_reason"]

# Backslash to slash, NUL dropped: as replace() pairs (see traversal_reason) and as the
# translate() table they must equal, which the tests check.
_SEPARATORS: Final = str.maketrans({"\\": "/", "\x00": None})
_SEPARATOR_PAIRS: Final = (("\\", "/"), ("\x00", ""))
# Files no form value names by accident: flagged wherever they appear, at the start or after a
# "/" or ".". One pattern led by (?:^|[/.]) makes re try a match at every position; led by the
# literal "/" or "." it skips to the next one at C speed, so the three cases are three searches.
_SENSITIVE_NAME = (
    r"(?:etc/passwd|etc/shadow|boot\.ini|win\.ini|web-inf/|\.ssh/|id_rsa\b|\.htaccess"
    r"|\.htpasswd|global\.asa|proc/self/|wp-config\.php)"
)
_SENSITIVE_AT_START = re.compile(_SENSITIVE_NAME)
_SENSITIVE_AFTER_SLASH = re.compile("/" + _SENSITIVE_NAME)
_SENSITIVE_AFTER_DOT = re.compile(r"\." + _SENSITIVE_NAME)
# Every name above has an "s" or an "i": a value with neither (a run of dots or of "/*") skips
# the searches, which still stop at every dot and slash. One-character "in" runs at memchr speed.
_SENSITIVE_LETTERS: Final = ("s", "i")
_SENSITIVE_ABSOLUTE = (
    r"(?:etc/(?:passwd|shadow|group|hosts|issue|master\.passwd|sudoers|security/)"
    r"|proc/(?:self|\d+)/|boot\.ini|win\.ini|system\.ini|windows/(?:win\.ini|repair/)"
    r"|system32/(?:config/|drivers/etc/)"
    r"|winnt/|\.ssh/|\.htpasswd|\.htaccess|\.aws/credentials|\.git/config|\.env$"
    r"|var/log/|wp-config\.php"
    # Web and FTP server configuration, and the logs an include poisons: read by their
    # absolute path (/usr/local/apache2/conf/httpd.conf, /usr/local/apache/logs/access_log).
    r"|(?:httpd|httpd-ssl|apache2?|nginx|lighttpd|vhosts|pure-ftpd|proftpd|vsftpd|my)\.c(?:onf|nf)\b"
    r"|php\.ini|pure-?ftpd\.pdb|logs/(?:access|error)[._]log)"
)
# (?:^|/) as two literal-led searches, for the reason given above _SENSITIVE_AT_START.
_SENSITIVE_ABSOLUTE_AT_START = re.compile(_SENSITIVE_ABSOLUTE)
_SENSITIVE_ABSOLUTE_AFTER_SLASH = re.compile("/" + _SENSITIVE_ABSOLUTE)
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
    ".conf",
    ".cnf",
    "ftpd.pdb",
    "logs/",
)
# URL schemes that read files: anywhere at the start, or these three after a space or quote.
_START_SCHEMES: Final = frozenset(
    {"php", "file", "zip", "phar", "expect", "data", "glob", "compress.zlib", "jar", "netdoc"}
    | {"gopher"}
)
_INNER_SCHEMES: Final = frozenset({"php", "phar", "expect"})
_SCHEME_BEFORE = re.compile(r"[a-z.]+\Z")
_SCHEME_SEP = re.compile("://")  # re's prefix search beats str.find at a short absent needle
# The "://" after an inner scheme, found at C speed: a regex search at every "://" costs a
# microsecond a link, and a page of documentation has dozens of links.
_INNER_SCHEME_END = re.compile(r"://(?:(?<=php://)|(?<=phar://)|(?<=expect://))")


def _scheme_reads(path: str, start: int) -> bool:
    """Whether the scheme before the "://" at *start* reads files."""
    name = _SCHEME_BEFORE.search(path, max(0, start - 16), start)
    if name is not None:
        scheme, at = name.group(), name.start()
        if at == 0 and scheme in _START_SCHEMES:
            return True
        if scheme in _INNER_SCHEMES and (at == 0 or path[at - 1] in " \t'\"("):
            return True
    return False


def _file_scheme(path: str) -> bool:
    if path.startswith("file:/"):
        return True
    sep = _SCHEME_SEP.search(path)
    start = -1 if sep is None else sep.start()
    if start <= 0:  # a value that starts with "://" names no scheme, whatever follows
        return False
    if _scheme_reads(path, start):
        return True
    # A ":" lies between any later "://" and the start, so only an inner scheme can read there.
    return any(
        _scheme_reads(path, end.start()) for end in _INNER_SCHEME_END.finditer(path, start + 3)
    )


_DRIVE = re.compile(r"^[a-z]:/")


# Spaces and control characters a lenient path API drops around a segment ("..%01/").
_BLANK: Final = " " + "".join(chr(c) for c in range(32))
# A percent-less encoding of a separator after dots (..2f..2f), as some filters leave it. Led
# by the dots, re skips to the next ".." at C speed (the look-behind form it replaces,
# (?<=\.\.)(?:2f|5c), tried a match at every position).
_BARE_HEX_SEP = re.compile(r"\.\.(?:2f|5c)")
# Separators stripped by a filter: "........etcpasswd", "....web-infweb.xml". Led by the four
# dots rather than by the look-behind that puts them at the start of the run, re skips to the
# next "...." at C speed instead of trying a match at every position.
_GLUED_DOTS = re.compile(
    r"\.\.\.\.(?<!\.\.\.\.\.)\.*+/?(?:etc|web-inf|windows|winnt|boot\.ini|oot\.ini|inetpub)"
)
# Every name there has an "e" or an "n": a value with neither (a run of dots) skips the search.
_GLUED_LETTERS: Final = ("e", "n")
# Percent signs followed by something no decoder reads (%pc, %qf, %8s) used as separators.
_JUNK_ESCAPE = re.compile(r"%(?:[g-z][0-9a-z]|[0-9a-f][g-z])")
_TARGET_NAMES: Final = ("passwd", "shadow", "hosts", "issue", "boot.ini", "win.ini", "system32")


# A segment that may go up: dots, "?" and blanks but not a lone "." (parent references,
# "..?"), or "..;" and "..%00" between blanks. Any other segment is empty, ".", blank or a name.
# Led by the literal "/" and a look-ahead for "." or "?", re skips over the names at C speed and
# the walk looks only at these few segments.
_UP_SEGMENT = re.compile(
    r"/[ \x00-\x1f]*+(?=[.?])(?!\.[ \x00-\x1f]*+(?:/|\Z))"
    r"(?:\.\.(?:;|%00)[ \x00-\x1f]*+|[.?][.? \x00-\x1f]*+)(?=/|\Z)"
)
_DOT_PAIR = re.compile(r"\.\.")


def _step(segment: str) -> int:
    """How one segment moves the walk: -1 up, 0 nowhere, 1 down."""
    seg = segment.strip(_BLANK)
    if not seg or seg == ".":
        return 0
    if seg.strip(".") == "" or seg.rstrip(".? ") == "" or seg in ("..;", "..%00"):
        return -1
    return 1


def _climbs(path: str) -> bool:
    """Whether walking *path*'s segments goes above the starting directory."""
    slash = path.find("/")
    if slash < 0:
        return _step(path) < 0
    bound = _step(path[:slash])
    if bound < 0:
        return True
    # Only a segment _UP_SEGMENT finds can go up. Between two of them the walk takes a lower
    # bound, one level down if the segment just before is a name, instead of looking at every
    # segment; a bound that never goes below zero settles it, one that does sends the value to
    # the full walk, and so do many such segments ("a/?/a/?/..."), which it takes faster.
    end = slash
    for seen, up in enumerate(_UP_SEGMENT.finditer(path, slash)):
        if seen == 32:
            return _walk(path)
        start = up.start()
        if start > end and _step(path[path.rfind("/", end, start) + 1 : start]) > 0:
            bound += 1
        bound += _step(path[start + 1 : up.end()])
        if bound < 0:
            return _walk(path)
        end = up.end()
    return False


def _walk(path: str) -> bool:
    """_climbs segment by segment."""
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


def _joint_is_junk(joint: str) -> bool:
    return (
        len(joint) <= 10 and not any(c.isspace() for c in joint) and not joint.strip(".").isalnum()
    )


def _dot_dot_chain(path: str) -> bool:
    """``..%bg%qf..%bg%qf..``: parent references joined by junk separators, no spaces."""
    # The first joints usually settle it (prose has spaces between its ellipses): splitting only
    # that far spares a list of every chunk of a long value.
    chunks = _DOT_PAIR.split(path, 8)  # str.split's search for ".." is the slower one
    if len(chunks) == 9:
        if not all(_joint_is_junk(j) for j in chunks[1:8] if j.strip(".")):
            return False
        # A dot run yields an empty chunk per ".." and a "." on the next chunk if it is odd;
        # halving long runs keeps both, so the joints, without a chunk per pair of dots.
        while "...." in path:
            path = path.replace("....", "..")
        chunks = path.split("..")
    joints = [c for c in chunks[1:-1] if c.strip(".")]
    if len(joints) < 2:
        return False
    return all(_joint_is_junk(j) for j in set(joints))  # a repeated joint is checked once


def traversal_reason(text: str) -> str | None:
    """Why *text* (decoded and lower-cased) is a path traversal or sensitive file read, or None."""
    if "/" not in text and "\\" not in text and ":" not in text and "." not in text:
        return None
    # Backslashes are separators; NUL is dropped: ".%00." is ".." to a filter. _SEPARATORS as
    # replace() calls: "in" and replace() of one character run at memchr speed, several times
    # faster on a long value than translate(), even on ASCII.
    path = text
    for old, new in _SEPARATOR_PAIRS:
        if old in path:
            path = path.replace(old, new)
    # Asked once: absent, ".." costs a scan of the whole value (re's prefix search is faster than
    # "in" at that). Replacing "..2f" below leaves the answer unchanged.
    dots = _DOT_PAIR.search(path) is not None
    if dots:
        path = _BARE_HEX_SEP.sub("../", path)
    if ("/" in path and (dots or "?" in path)) and _climbs(path):
        return "escapes the root directory"
    if dots and contains_any(path, _GLUED_LETTERS) and _GLUED_DOTS.search(path) is not None:
        return "parent references glued to a system path"
    if (
        dots
        and "%" in path
        and _JUNK_ESCAPE.search(path) is not None  # led by "%": cheaper than seven names
        and contains_any(path, _TARGET_NAMES)
    ):
        return "parent reference behind junk escapes"
    if contains_any(path, _SENSITIVE_LETTERS) and (
        _SENSITIVE_AT_START.match(path)
        or _SENSITIVE_AFTER_DOT.search(path)
        or _SENSITIVE_AFTER_SLASH.search(path)
    ):
        return "sensitive file"
    # Fewer than three ".." leave fewer than two joints, which _dot_dot_chain rejects itself.
    if dots and _dot_dot_chain(path):
        return "chain of parent references"
    if (
        (path.startswith(("/", "~")) or _DRIVE.match(path))
        and contains_any(path, _ABSOLUTE_WORDS)
        and (
            _SENSITIVE_ABSOLUTE_AT_START.match(path) or _SENSITIVE_ABSOLUTE_AFTER_SLASH.search(path)
        )
    ):
        return "sensitive file"
    if ":" in path and _file_scheme(path):  # a file URL has "file:/" or "://"
        return "file URL scheme"
    return None
