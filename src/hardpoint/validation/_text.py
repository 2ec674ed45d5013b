"""Small string helpers shared by the detectors, written for speed on the hot path."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, cast

__all__ = [
    "LONG_TEXT",
    "NONE_AS_EMPTY",
    "Fill",
    "contains_any",
    "longest_first",
    "lower",
    "replace_chars",
    "trie_pattern",
]

Fill = Callable[[str | None, str | None], str]
"""A dict's get over the None of a group that did not match: ``fill(group, default)``."""

NONE_AS_EMPTY: Final = cast("Fill", {None: ""}.get)
"""``NONE_AS_EMPTY(x, d)`` is "" when x is None, else d (x itself, or what stands for it):
for ``map()`` over the groups of a split, at C speed."""


def contains_any(text: str, needles: Iterable[str]) -> bool:
    """Whether any of *needles* occurs in *text* (a plain loop: faster than ``any()``)."""
    if len(text) > LONG_TEXT:
        # On long text str.rfind finds a needle of a few characters two or three times
        # faster than ``in`` does (2 vs 4-8 us over 10,000 characters), and every absent
        # needle costs a whole scan; on short text the method call costs more than it saves.
        rfind = text.rfind
        for needle in needles:  # noqa: SIM110 - as below
            if rfind(needle) >= 0:
                return True
        return False
    for needle in needles:  # noqa: SIM110 - any() with a generator is three times slower here
        if needle in text:
            return True
    return False


LONG_TEXT: Final = 512
"""Past this length a whole-text scan costs more than a call: the detectors switch from
substring tests and one combined pattern to rfind and literal-led passes."""


# Every ASCII byte: what bytes.translate deletes to leave the UTF-8 of the other characters.
_ASCII_BYTES: Final = bytes(range(0x80))
# Past this many bytes beyond one a character (a few hundred characters past ASCII), plain
# lower() costs less than finding which of them it changes.
_FEW_WIDE_BYTES: Final = 256
# Past this many distinct characters that lower() changes, plain lower() costs less than a
# replace() of each.
_FEW_CHANGED: Final = 4


def lower(text: str) -> str:
    """``text.lower()``, faster on long text with few characters past ASCII.

    One character past ASCII sends ``str.lower()`` down its slow path for the whole text
    (55 instructions a character instead of 6: 60 us over 10,000 characters of English with
    one curly quote). ``bytes.lower()`` changes only the ASCII letters of the UTF-8, at C
    speed; the few other characters that ``lower()`` changes are then replaced one by one
    (lower-casing a character is idempotent, and depends on its neighbours only for the
    capital sigma, which is left to ``lower()``).
    """
    if len(text) <= LONG_TEXT or text.isascii():
        return text.lower()
    # Text in another script mostly shows in its first characters, before a whole encoding
    # (150 k instructions over 10,000 characters).
    head = text[:LONG_TEXT]
    if len(head.encode("utf-8", "surrogatepass")) - len(head) > _FEW_WIDE_BYTES // 8:
        return text.lower()
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) - len(text) > _FEW_WIDE_BYTES:
        return text.lower()
    wide = set(encoded.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass"))
    changed = [char for char in wide if char.lower() != char]
    if len(changed) > _FEW_CHANGED or "\u03a3" in changed:  # sigma: final or not
        return text.lower()
    lowered = encoded.lower().decode("utf-8", "surrogatepass")
    for char in changed:
        lowered = lowered.replace(char, char.lower())
    return lowered


def replace_chars(
    text: str, table: Mapping[int, str | int | None], pairs: tuple[tuple[str, str], ...]
) -> str:
    """``text.translate(table)``, where *pairs* lists the same replacements ("" deletes).

    translate() is fast on ASCII text but takes a per-character slow path (about 80 ns a
    character) once a single non-ASCII character is present; a few ``str.replace`` calls
    stay fast. The replacements must not produce a character another pair replaces.
    """
    if text.isascii():
        return text.translate(table)
    for old, new in pairs:
        if old in text:
            text = text.replace(old, new)
    return text


def longest_first(names: Iterable[str]) -> str:
    """An alternation of *names* grouped by first character, longest first within a group.

    re tries each alternative in turn but skips a group led by another character in one step,
    so a match costs a few steps, not one per name; and the first alternative that matches at
    a position is the longest of the names there.
    """
    groups: dict[str, list[str]] = {}
    for name in sorted(names, key=lambda n: (-len(n), n)):
        groups.setdefault(name[0], []).append(re.escape(name[1:]))
    alternatives = (f"{re.escape(first)}(?:{'|'.join(rests)})" for first, rests in groups.items())
    return "|".join(sorted(alternatives))


def trie_pattern(keys: Iterable[str]) -> str:
    """A pattern matching the longest of *keys* at a position, as a trie of their characters.

    At each character the engine tests a branch per next character (skipping the others on
    their first literal), so a text that starts no key fails within a character or two.
    """
    root: dict[str, dict[str, Any]] = {}
    for key in keys:
        node = root
        for char in key:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + emit(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        group = (
            branches[0] if len(branches) == 1 and "" not in node else f"(?:{'|'.join(branches)})"
        )
        return group + "?" if "" in node else group  # a key may end here: longer ones first

    return emit(root)
