"""The fast path-traversal detector gives exactly the verdicts of the version it replaced.

The rewrite of ``_path`` (literal-led patterns, a segment walk that looks only at the odd
segments, fewer scans of long values) must not change any verdict or reason. The replaced
patterns and functions are kept here verbatim and compared with the new ones on strings drawn
from the fragments they care about; long draws take the long-value paths (the lower bound that
sends the value to the full walk, the chain split that goes past eight joints).
"""

from __future__ import annotations

import re
from typing import Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardpoint.validation import _path
from hardpoint.validation._path import traversal_reason
from hardpoint.validation._text import contains_any, replace_chars

# --- The replaced code, verbatim ----------------------------------------------------------

_OLD_SENSITIVE_ANYWHERE = re.compile(
    r"(?:^|[/.])(?:etc/passwd|etc/shadow|boot\.ini|win\.ini|web-inf/|\.ssh/|id_rsa\b|\.htaccess"
    r"|\.htpasswd|global\.asa|proc/self/|wp-config\.php)"
)
_OLD_BARE_HEX_SEP = re.compile(r"(?<=\.\.)(?:2f|5c)")
_OLD_SENSITIVE = re.compile(
    r"(?:^|/)(?:etc/(?:passwd|shadow|group|hosts|issue|master\.passwd|sudoers|security/)"
    r"|proc/(?:self|\d+)/|boot\.ini|win\.ini|system\.ini|windows/(?:win\.ini|repair/)"
    r"|system32/(?:config/|drivers/etc/)"
    r"|winnt/|\.ssh/|\.htpasswd|\.htaccess|\.aws/credentials|\.git/config|\.env$"
    r"|var/log/|wp-config\.php"
    # Since added (session 8, in both): server configuration and logs.
    r"|(?:httpd|httpd-ssl|apache2?|nginx|lighttpd|vhosts|pure-ftpd|proftpd|vsftpd|my)\.c(?:onf|nf)\b"
    r"|php\.ini|pure-?ftpd\.pdb|logs/(?:access|error)[._]log)"
)
_OLD_SENSITIVE_WORDS: Final = (
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
_OLD_SCHEME_BEFORE = re.compile(r"[a-z.]+\Z")
_OLD_GLUED_DOTS = re.compile(
    r"(?<!\.)\.{4,}/?(?:etc|web-inf|windows|winnt|boot\.ini|oot\.ini|inetpub)"
)


def _old_file_scheme(path: str) -> bool:
    if path.startswith("file:/"):
        return True
    start = path.find("://")
    while start > 0:
        name = _OLD_SCHEME_BEFORE.search(path, max(0, start - 16), start)
        if name is not None:
            scheme, at = name.group(), name.start()
            if at == 0 and scheme in _path._START_SCHEMES:
                return True
            if scheme in _path._INNER_SCHEMES and (at == 0 or path[at - 1] in " \t'\"("):
                return True
        start = path.find("://", start + 3)
    return False


def _old_climbs(path: str) -> bool:
    depth = 0
    for segment in path.split("/"):
        seg = segment.strip(_path._BLANK)
        if not seg or seg == ".":
            continue
        if seg.strip(".") == "" or seg.rstrip(".? ") == "" or seg in ("..;", "..%00"):
            depth -= 1
            if depth < 0:
                return True
        else:
            depth += 1
    return False


def _old_dot_dot_chain(path: str) -> bool:
    chunks = path.split("..")
    joints = [c for c in chunks[1:-1] if c.strip(".")]
    if len(joints) < 2:
        return False
    return all(
        len(j) <= 10 and not any(c.isspace() for c in j) and not j.strip(".").isalnum()
        for j in joints
    )


def _old_traversal_reason(text: str) -> str | None:
    if "/" not in text and "\\" not in text and ":" not in text and "." not in text:
        return None
    path = replace_chars(text, _path._SEPARATORS, _path._SEPARATOR_PAIRS)
    if ".." in path and ("2f" in path or "5c" in path):
        path = _OLD_BARE_HEX_SEP.sub("/", path)
    if ("/" in path and (".." in path or "?" in path)) and _old_climbs(path):
        return "escapes the root directory"
    if "...." in path and _OLD_GLUED_DOTS.search(path) is not None:
        return "parent references glued to a system path"
    if (
        ".." in path
        and "%" in path
        and contains_any(path, _path._TARGET_NAMES)
        and _path._JUNK_ESCAPE.search(path) is not None
    ):
        return "parent reference behind junk escapes"
    if contains_any(path, _OLD_SENSITIVE_WORDS) and _OLD_SENSITIVE_ANYWHERE.search(path):
        return "sensitive file"
    if path.count("..") >= 3 and _old_dot_dot_chain(path):
        return "chain of parent references"
    if (
        (path.startswith(("/", "~")) or _path._DRIVE.match(path))
        and contains_any(path, _path._ABSOLUTE_WORDS)
        and _OLD_SENSITIVE.search(path)
    ):
        return "sensitive file"
    if ":/" in path and _old_file_scheme(path):
        return "file URL scheme"
    return None


# --- The new pieces, as traversal_reason uses them ------------------------------------------


def _new_sensitive_anywhere(path: str) -> bool:
    return contains_any(path, _path._SENSITIVE_LETTERS) and bool(
        _path._SENSITIVE_AT_START.match(path)
        or _path._SENSITIVE_AFTER_DOT.search(path)
        or _path._SENSITIVE_AFTER_SLASH.search(path)
    )


def _new_sensitive_absolute(path: str) -> bool:
    return bool(
        _path._SENSITIVE_ABSOLUTE_AT_START.match(path)
        or _path._SENSITIVE_ABSOLUTE_AFTER_SLASH.search(path)
    )


def _new_glued(path: str) -> bool:
    dots = _path._DOT_PAIR.search(path) is not None
    return (
        dots
        and contains_any(path, _path._GLUED_LETTERS)
        and _path._GLUED_DOTS.search(path) is not None
    )


# --- Strategies -------------------------------------------------------------------------------

_FRAGMENTS = [
    "..", "...", "/", "//", "\\", ".", "%", "%00", "\x00", "\x01", "\x1f", ";", "..;",
    "etc", "etc/", "passwd", "shadow", "group", "hosts", "issue", "win.ini", "boot.ini",
    "oot.ini", "system.ini", "windows", "system32", "winnt", "inetpub", "web-inf", ".ssh",
    "id_rsa", "_", ".ht", "access", "passwd", ".aws", "credentials", ".git", "config", ".env",
    "var/log", "proc/", "self", "global.asa", "wp-config", ".php", "file:", ":/", "://",
    "php", "phar", "expect", "zip", "data", "gopher", "~", "c:", "2f", "5c", "%bg", "%qf",
    "%2f", "a", "b", "e", "i", "n", "s", "x", "z", "0", "1", "9", " ", "\t", "\n", "?", "#",
    "'", '"', "(", "-", "é", "中", "\u2028", "php.ini", "httpd.conf", ".conf", "my.cnf", "logs/",
    "error_log", "access.log", "nginx", ".cnf", "ftpd.pdb",
]  # fmt: skip
_SHORT = st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join)
_LONG = st.lists(st.sampled_from(_FRAGMENTS), min_size=60, max_size=250).map("".join)
_ANY = st.one_of(_SHORT, _LONG)
# Paths made of segments the walk treats differently: names, odd segments, empty ones.
_SEGMENTS = st.lists(
    st.sampled_from(
        ["", ".", "..", "...", ". .", "?", "..?", " .. ", "..;", "..%00", "\x01..", ".\x01.",
         "a", "etc", "0", "%", ";", " ", "\t", "..%0", "x.", "?a"]
    ),
    max_size=60,
).map("/".join)  # fmt: skip

# Chains of parent references: junk and not-junk joints between dot runs of every parity, long
# enough to go past the eight joints the first split looks at.
_CHAINS = st.lists(
    st.tuples(
        st.sampled_from(["..", "...", "....", ".....", "......", ".......", "." * 12]),
        st.sampled_from(["%bg", "%qf", "/", "x%", "%2", ".%bg", "%bg.", "a", "a b", "%bg%qf%bg"]),
    ),
    min_size=1,
    max_size=30,
).map(lambda pairs: "".join(dots + joint for dots, joint in pairs) + "..")  # fmt: skip


@settings(max_examples=1000)
@given(_ANY)
def test_sensitive_anywhere_matches_the_old_pattern(path: str) -> None:
    old = contains_any(path, _OLD_SENSITIVE_WORDS) and bool(_OLD_SENSITIVE_ANYWHERE.search(path))
    assert _new_sensitive_anywhere(path) == old


@settings(max_examples=1000)
@given(_ANY)
def test_sensitive_absolute_matches_the_old_pattern(path: str) -> None:
    assert _new_sensitive_absolute(path) == bool(_OLD_SENSITIVE.search(path))


@settings(max_examples=1000)
@given(_ANY)
def test_bare_hex_separator_matches_the_look_behind(path: str) -> None:
    assert _path._BARE_HEX_SEP.sub("../", path) == _OLD_BARE_HEX_SEP.sub("/", path)


@settings(max_examples=1000)
@given(_ANY)
def test_glued_dots_match_the_look_behind_pattern(path: str) -> None:
    old = "...." in path and _OLD_GLUED_DOTS.search(path) is not None
    assert _new_glued(path) == old


@settings(max_examples=1000)
@given(st.one_of(_ANY, _SEGMENTS))
def test_climbs_matches_the_full_segment_walk(path: str) -> None:
    assert _path._climbs(path) == _old_climbs(path)


@settings(max_examples=1000)
@given(st.one_of(_ANY, _SEGMENTS, _CHAINS))
def test_dot_dot_chain_matches_the_full_split(path: str) -> None:
    assert _path._dot_dot_chain(path) == _old_dot_dot_chain(path)


@settings(max_examples=1000)
@given(_ANY)
def test_file_scheme_matches_the_loop_over_every_url(path: str) -> None:
    assert _path._file_scheme(path) == _old_file_scheme(path)


@settings(max_examples=2000)
@given(st.one_of(_ANY, _SEGMENTS, _CHAINS))
def test_traversal_reason_matches_the_old_detector(text: str) -> None:
    assert traversal_reason(text) == _old_traversal_reason(text)


@settings(max_examples=1000)
@given(st.text(max_size=300))
def test_traversal_reason_matches_on_any_text(text: str) -> None:
    assert traversal_reason(text) == _old_traversal_reason(text)


@pytest.mark.parametrize(
    "text",
    [
        "../../etc/passwd",
        "a/b/../../..",
        "a//..//..",
        "a///../..",
        "a////b/../../..",
        "x/. ./..",
        "/?",
        "a/ ? /b/../..",
        "..;/x",
        "a/..%00/..%00",
        "://php://x",
        ":// php://filter",
        "://\tphar://x",
        "a php://filter",
        "x://y phar://z",
        "file:/etc/hosts",
        "see https://example.com/a/b?x=1",
        "..%bg%qf" * 40 + "..",
        "../" * 3000,
        "." * 2000,
        "." * 2001 + "etc",
        "...." + "." * 50 + "/windows",
        "a.....etc",
        "....windows",
        "....winnt",
        "...../boot.ini",
        ".....oot.ini",
        "/boot.ini",
        "a.win.ini",
        "/*" * 3000,
        "..2f..2f..5cetc/passwd",
        "...2f",
        "..2f2f",
        "c:/windows/win.ini",
        "~/.ssh/id_rsa",
        "/proc/12/environ",
        "/app/.env",
        "a/.htpasswd",
        "x.htaccess",
        "..ssh/",
        "id_rsa_backup",
        "id_rsa",
        "%2e%2e/..%c0%af",
        "a.. b.. c.. d..",
        "..a..b..c..d..e..f..g..h..i..j..",
        "..%qf..%qf.." + "x" * 20 + "..%qf..",
    ],
)
def test_traversal_reason_matches_on_edge_cases(text: str) -> None:
    assert traversal_reason(text) == _old_traversal_reason(text)
