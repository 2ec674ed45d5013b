"""Safe text and JSON normalisation for LLM request keys. Pure functions, no I/O.

Only differences that cannot change a model's answer are folded away:

- Unicode NFC (the same characters in composed or decomposed form);
- CRLF and CR line endings to LF;
- spaces and tabs at the end of each line;
- blank lines at the start and end of the text;
- runs of two or more spaces *inside* a line of prose ("a  b" -> "a b"), but never the
  indentation at the start of a line, never tabs, never inside an inline code span
  (```` `a  b` ````) and never inside a fenced code block (CommonMark rules: a fence closes
  only with the same character, at least as long), where spacing can matter.

Numbers: ``0`` and ``0.0`` are the same JSON value and get one canonical form.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["canonical_json_value", "normalize_text"]

# A non-space then a run of 2+ spaces before a non-space: indentation (after a newline or at
# the start) never matches. Written without a look-behind, which is several times slower.
_BACKTICK_FENCE: Final = re.compile(r"```+")
_TILDE_FENCE: Final = re.compile(r"~~~+")
_INNER_SPACES: Final = re.compile(r"(\S) {2,}(?=\S)")
# An inline code span (kept as it is) or a run of inner spaces (folded), in one scan.
_SPANS_OR_SPACES: Final = re.compile(r"(`+)[^`]*?\1|(\S) {2,}(?=\S)")
_TRAILING: Final = re.compile(r"[ \t]+$", re.MULTILINE)


# Texts this long are remembered with their normal form: a cache hit is by definition a
# request seen before, and a conversation resends its whole history every turn, so the same
# long texts come back again and again. Looking one up costs a hash and a compare of the
# text, a fraction of normalising it again.
_MEMO_MIN_CHARS: Final = 512
_MEMO_MAX_CHARS: Final = 8 * 1024 * 1024  # all remembered texts and their normal forms
# An OrderedDict: forgetting the oldest of a plain dict again and again makes next(iter())
# crawl over the holes left at its front.
_memo: OrderedDict[str, str] = OrderedDict()
_memo_chars = 0
_memo_lock = threading.Lock()


def normalize_text(text: str) -> str:
    """Return *text* with only the differences folded away that cannot change an answer.

    The function is idempotent: ``normalize_text(normalize_text(t)) == normalize_text(t)``.
    Texts of 512 characters or more that needed folding are remembered with their normal
    form (8 Mi characters in all, the oldest forgotten first), so normalising one again costs
    a hash lookup.
    """
    if len(text) < _MEMO_MIN_CHARS or type(text) is not str:
        return _normalize(text)
    known = _memo.get(text)
    if known is not None:
        return known
    normal = _normalize(text)
    if normal is not text:  # the fast path (nothing to fold) is cheaper than remembering
        _remember(text, normal)
    return normal


def _remember(text: str, normal: str) -> None:
    global _memo_chars
    size = len(text) + len(normal)
    if size > _MEMO_MAX_CHARS // 8:
        return
    with _memo_lock:
        if text in _memo:
            return
        while _memo and _memo_chars + size > _MEMO_MAX_CHARS:
            old, old_normal = _memo.popitem(last=False)
            _memo_chars -= len(old) + len(old_normal)
        _memo[text] = normal
        _memo_chars += size


def _normalize(text: str) -> str:
    if (
        text.isascii()
        and "\r" not in text
        and "  " not in text
        and " \n" not in text
        and ("\t" not in text or "\t\n" not in text)  # a memchr first: tabs are rare
        and not text.startswith("\n")
        and not text.endswith((" ", "\t", "\n"))
    ):
        return text  # the common case: nothing to fold
    text = unicodedata.normalize("NFC", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if " \n" in text or ("\t" in text and "\t\n" in text) or text.endswith((" ", "\t")):
        text = _TRAILING.sub("", text)
    text = text.strip("\n")
    if "`" not in text and "~" not in text:
        return _fold_prose(text)
    # Fenced code blocks are copied verbatim; only the prose between them is folded.
    # CommonMark fences: up to 3 spaces of indent, then 3+ backticks or 3+ tildes; a backtick
    # fence's info string has no backtick; a closing fence has the same character, at least
    # as long, and nothing after it.
    out: list[str] = []
    pos = 0
    fence: tuple[str, int] | None = None  # (character, length) of the open fence
    for start, marks in _fence_marks(text):
        line_start = text.rfind("\n", 0, start) + 1
        if start - line_start > 3 or text[line_start:start].strip(" "):
            continue  # not at the start of a line (after at most 3 spaces)
        line_end = text.find("\n", start)
        line_end = len(text) if line_end < 0 else line_end
        rest = text[start + len(marks) : line_end]
        if fence is None:
            if marks[0] == "`" and "`" in rest:
                continue  # an inline span at the start of a line, not a fence
            out.append(_fold_prose(text[pos:line_start]))
            pos = line_start
            fence = (marks[0], len(marks))
        elif marks[0] == fence[0] and len(marks) >= fence[1] and not rest.strip():
            out.append(text[pos:line_end])
            pos = line_end
            fence = None
    out.append(text[pos:] if fence is not None else _fold_prose(text[pos:]))
    return "".join(out)


def _fence_marks(text: str) -> list[tuple[int, str]]:
    """Every run of 3+ backticks or tildes, in order, with its position."""
    # Patterns that start with a literal let the regex engine use its fast literal search;
    # the single-character `in` test is a memchr, so texts without tildes skip that scan.
    found = [(m.start(), m.group()) for m in _BACKTICK_FENCE.finditer(text)]
    if "~" in text:
        found += [(m.start(), m.group()) for m in _TILDE_FENCE.finditer(text)]
        found.sort()
    return found


def _fold_prose(text: str) -> str:
    """Collapse inner space runs, except inside inline code spans."""
    if "  " not in text:
        return text
    if "`" not in text:
        return _INNER_SPACES.sub(r"\1 ", text)
    return _SPANS_OR_SPACES.sub(_keep_spans, text)


def _keep_spans(match: re.Match[str]) -> str:
    return match.group(0) if match.group(1) else match.group(2) + " "


def canonical_json_value(value: Any) -> Any:
    """Return *value* with numbers in one form and mapping keys as strings.

    Integral floats become ints (``0.0`` -> ``0``, ``1e3`` -> ``1000``) so that JSON numbers
    that are equal compare and serialise equal. Booleans stay booleans. Strings are not
    touched here (message text is normalised by the request canonicaliser, which knows what
    is prose and what is data).

    Raises:
        ValueError: A float is NaN or infinite (no JSON form).
    """
    kind = type(value)
    # Exact types first: the ABC checks below cost far more than these.
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): canonical_json_value(v) for k, v in value.items()}
    if kind is list:
        return [canonical_json_value(v) for v in value]
    if isinstance(value, str):  # a str subclass
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no JSON form")
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if isinstance(value, Mapping):
        return {str(k): canonical_json_value(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [canonical_json_value(v) for v in value]
    dump = getattr(value, "model_dump", None)  # pydantic models, e.g. SDK tool objects
    if callable(dump):
        return canonical_json_value(dump(mode="json", exclude_none=True))
    raise ValueError(f"{type(value).__name__} has no JSON form")
