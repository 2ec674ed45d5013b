"""Safe text and JSON normalisation for LLM request keys. Pure functions, no I/O.

Only differences that cannot change a model's answer are folded away:

- Unicode NFC (the same characters in composed or decomposed form);
- CRLF and CR line endings to LF;
- spaces and tabs at the end of each line;
- blank lines at the start and end of the text;
- runs of spaces *inside* a line of prose ("a  b" -> "a b"), but never the indentation at
  the start of a line and never anything inside a fenced code block (```), where spacing
  can matter (Python, YAML, diff output).

Numbers: ``0`` and ``0.0`` are the same JSON value and get one canonical form.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["canonical_json_value", "normalize_text"]

_FENCE: Final = re.compile(r"^\s*(```|~~~)")
_INNER_SPACES: Final = re.compile(r"(?<=\S)[ \t]{2,}(?=\S)")
_TRAILING: Final = re.compile(r"[ \t]+$", re.MULTILINE)


def normalize_text(text: str) -> str:
    """Return *text* with only the differences folded away that cannot change an answer.

    The function is idempotent: ``normalize_text(normalize_text(t)) == normalize_text(t)``.
    """
    if (
        text.isascii()
        and "\r" not in text
        and "  " not in text
        and "\t" not in text
        and " \n" not in text
        and not text.startswith("\n")
        and not text.endswith((" ", "\n"))
    ):
        return text  # the common case: nothing to fold
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING.sub("", text)
    lines = text.split("\n")
    # Edge blank lines carry no meaning; inner ones (paragraphs) do.
    start, end = 0, len(lines)
    while start < end and not lines[start]:
        start += 1
    while end > start and not lines[end - 1]:
        end -= 1
    out: list[str] = []
    in_code = False
    for line in lines[start:end]:
        if _FENCE.match(line):
            in_code = not in_code
            out.append(line)
            continue
        if in_code:
            out.append(line)
            continue
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)]
        out.append(indent + _INNER_SPACES.sub(" ", body))
    return "\n".join(out)


def canonical_json_value(value: Any) -> Any:
    """Return *value* with numbers in one form and mapping keys as strings.

    Integral floats become ints (``0.0`` -> ``0``, ``1e3`` -> ``1000``) so that JSON numbers
    that are equal compare and serialise equal. Booleans stay booleans. Strings are not
    touched here (message text is normalised by the request canonicaliser, which knows what
    is prose and what is data).

    Raises:
        ValueError: A float is NaN or infinite (no JSON form).
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
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
