"""Decoding before detection: what the application (or a browser, or a shell) will finally see.

Attackers hide payloads behind encodings the application undoes later: percent-encoding applied
twice, overlong UTF-8 (``%c0%ae`` is ``.`` to a lenient decoder), ``%u2216``, HTML character
references, full-width letters, JavaScript escapes. :func:`decode` undoes all of them until the
value stops changing, so each detector sees one canonical string. Every function here is total
(any ``str`` in, a ``str`` out) and linear in the length of its input.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from typing import Final

from ._text import replace_chars

__all__ = ["decode", "percent_decode"]

# At most this many rounds of decoding: enough for triple encoding plus an entity layer.
_MAX_ROUNDS: Final = 4

_PERCENT = re.compile(r"%(?:[uU]([0-9a-fA-F]{4})|([0-9a-fA-F]{2}))")
_BACKSLASH = re.compile(r"\\(?:[uU]\{?([0-9a-fA-F]{4})\}?|[xX]([0-9a-fA-F]{2}))")
# ``0x2e0x2e/`` spelling of dots, slashes and backslashes seen in traversal lists.
_HEX_LITERAL_SEP = re.compile(r"0x(2e|2f|5c)", re.IGNORECASE)
_SPLIT_ESCAPE = re.compile(r"%([0-9a-fA-F])%([0-9a-fA-F])")
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
_UTF7 = re.compile(r"\+(AD[wsA-Z0-9/]{1,6})-")

# Characters that look like path or markup syntax and that some decoders fold into it, but
# that Unicode normalisation (NFKC) leaves alone.
_CONFUSABLES: Final = str.maketrans(
    {
        "\u2215": "/",  # division slash
        "\u2044": "/",  # fraction slash
        "\u2216": "\\",  # set minus
        "\u29f5": "\\",  # reverse solidus operator
        "\u2039": "<",  # single left-pointing angle quotation mark
        "\u203a": ">",
        "\u02bc": "'",  # modifier letter apostrophe
        "\u2018": "'",  # typographic quotes: best-fit mappings turn them into ASCII quotes
        "\u2019": "'",
        "\u2032": "'",  # prime
        "\u201c": '"',
        "\u201d": '"',
    }
)
# The same as (old, new) pairs: translate() takes its slow path on any non-ASCII text (80 ns
# a character), and the text here is never ASCII; a replace() per character present is not.
_CONFUSABLE_PAIRS: Final = tuple((chr(code), str(new)) for code, new in _CONFUSABLES.items())
# US-ASCII with the high bit set: old IE read 0xBC 0xBE 0xA2 as < > ".
_HIGH_BIT: Final = str.maketrans({"\u00bc": "<", "\u00be": ">", "\u00a2": '"'})
_HIGH_BIT_PAIRS: Final = tuple((chr(code), str(new)) for code, new in _HIGH_BIT.items())


def _fold_bytes(raw: bytes) -> str:
    """Decode *raw* as UTF-8, folding overlong sequences to what lenient decoders read.

    ``C0 AE`` becomes ``.`` and ``E0 80 AF`` becomes ``/``; bytes that form no character are
    dropped (a lenient decoder skips them, which is exactly how ``%c0%2e%c0%2e`` reaches
    ``..``). `_fold_loop` says what each sequence becomes; here the sequences are found by
    one split and looked up in a table, at C speed: a Python step per run of bytes cost
    1.9 ms on 10,000 characters of random percent-escapes.
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    parts = _SEQUENCE.split(raw)  # ASCII text, a sequence, ASCII text, ...
    out = [""] * len(parts)
    out[0::2] = map(bytes.decode, parts[0::2])
    out[1::2] = map(_FOLDED.__getitem__, parts[1::2])
    return "".join(out)


# What `_fold_loop` takes in one step from a byte >= 0x80, in its order: a lead and its
# continuation bytes, an overlong lead with the byte the IIS rule pairs it with, or a byte
# alone. Every byte >= 0x80 is in one, so the text between them is ASCII. Led by one
# character class (a fast scan over ASCII), the lead's kind checked by a look-behind: as
# alternatives of their own the engine tried each at every byte (300 us over 10,000).
_SEQUENCE = re.compile(
    rb"([\x80-\xff](?:(?<=[\xc0-\xdf])[\x80-\xbf]|(?<=[\xc0\xc1])[\x00-\x1f\xc0-\xff]"
    rb"|(?<=[\xe0-\xef])[\x80-\xbf]{2}|(?<=[\xf0-\xf7])[\x80-\xbf]{3}"
    rb"|(?<=[\xf8-\xfb])[\x80-\xbf]{4}|(?<=[\xfc\xfd])[\x80-\xbf]{5})?)"
)


def _two_byte(lead: int, follow: int) -> str:
    """What `_fold_loop` makes of a lead 0xC0-0xDF and a continuation byte."""
    low6 = follow & 0x3F
    if lead == 0xC1 and low6 in (0x2E, 0x2F):
        return chr(low6)  # %c1%af: "/" to decoders that drop the lead's low bit
    return chr(((lead & 0x1F) << 6) | low6)


class _Folded(dict[bytes, str]):
    """Every sequence of one or two bytes, folded; longer ones are folded when looked up."""

    def __missing__(self, sequence: bytes) -> str:
        return _fold_loop(sequence)  # not stored: the table stays bounded


def _fold_loop(raw: bytes) -> str:
    """Fold *raw* one sequence at a time: the definition `_fold_bytes` follows."""
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        b = raw[i]
        if b < 0x80:
            out.append(chr(b))
            i += 1
            continue
        if 0xC0 <= b < 0xE0 and i + 1 < n and 0x80 <= raw[i + 1] < 0xC0:
            out.append(_two_byte(b, raw[i + 1]))
            i += 2
            continue
        if b in (0xC0, 0xC1) and i + 1 < n and (raw[i + 1] < 0x20 or raw[i + 1] >= 0xC0):
            # IIS-style: the second byte's top bits ignored (%c1%1c is "\\", %c0%ee is ".").
            cp = ((b & 0x1F) << 6) | (raw[i + 1] & 0x3F)
            if cp >= 0x20:
                out.append(chr(cp))
            i += 2
            continue
        if (
            0xE0 <= b < 0xF0
            and i + 2 < n
            and 0x80 <= raw[i + 1] < 0xC0
            and 0x80 <= raw[i + 2] < 0xC0
        ):
            cp = ((b & 0x0F) << 12) | ((raw[i + 1] & 0x3F) << 6) | (raw[i + 2] & 0x3F)
            if not 0xD800 <= cp < 0xE000:
                out.append(chr(cp))
            i += 3
            continue
        if 0xF0 <= b < 0xF8 and i + 3 < n and all(0x80 <= c < 0xC0 for c in raw[i + 1 : i + 4]):
            cp = (
                ((b & 0x07) << 18)
                | ((raw[i + 1] & 0x3F) << 12)
                | ((raw[i + 2] & 0x3F) << 6)
                | (raw[i + 3] & 0x3F)
            )
            if cp <= 0x10FFFF and not 0xD800 <= cp < 0xE000:
                out.append(chr(cp))
            i += 4
            continue
        width = 5 if 0xF8 <= b < 0xFC else 6 if 0xFC <= b < 0xFE else 0
        if width and i + width <= n and all(0x80 <= c < 0xC0 for c in raw[i + 1 : i + width]):
            cp = 0
            for c in raw[i + 1 : i + width]:
                cp = (cp << 6) | (c & 0x3F)
            if cp < 0x80:  # only overlong forms of ASCII exist at these lengths
                out.append(chr(cp))
            i += width
            continue
        if b == 0xA0:
            out.append(" ")  # a lone 0xA0 is Latin-1's no-break space: a separator
        i += 1  # a byte that starts no character: dropped
    return "".join(out)


_FOLDED: Final = _Folded(
    {
        sequence: _fold_loop(sequence)
        for sequence in [
            *(bytes((byte,)) for byte in range(0x80, 0x100)),
            *(bytes((lead, follow)) for lead in range(0xC0, 0xE0) for follow in range(0x80, 0xC0)),
            *(bytes((lead, other)) for lead in (0xC0, 0xC1) for other in range(0x20)),
            *(bytes((lead, other)) for lead in (0xC0, 0xC1) for other in range(0xC0, 0x100)),
        ]
    }
)


# A run of %XX escapes, turned into bytes in one call.
_PERCENT_RUN = re.compile(rb"%[0-9a-fA-F]{2}(?:%[0-9a-fA-F]{2})*")  # a literal first: a fast scan


def _run_bytes(match: re.Match[bytes]) -> bytes:
    return bytes.fromhex(match.group().replace(b"%", b"").decode("ascii"))


def _unquote_to_bytes(value: str) -> bytes:
    """What ``urllib.parse.unquote_to_bytes`` returns, a run of escapes at a time.

    Unlike it, a lone surrogate does not raise: it is encoded as its own three bytes.

    The standard library raises and catches a KeyError for every "%" that starts no escape:
    4,000 of them cost milliseconds.
    """
    # A JSON string may hold a lone surrogate ("\\ud800"): it passes as its own bytes, and
    # the lenient decoding that follows drops it, as it drops every byte that forms no
    # character.
    raw = value.encode("utf-8", "surrogatepass")
    if b"%" not in raw:
        return raw
    return _PERCENT_RUN.sub(_run_bytes, raw)


def percent_decode(value: str) -> str:
    """Undo one layer of percent-encoding (``%XX`` and ``%uXXXX``), overlong UTF-8 folded."""
    if "%" not in value:
        return value
    if "%u" not in value and "%U" not in value:
        return _fold_bytes(_unquote_to_bytes(value))
    parts: list[str] = []
    pending = bytearray()
    pos = 0
    for match in _PERCENT.finditer(value):
        start = match.start()
        if start != pos:
            if pending:
                parts.append(_fold_bytes(bytes(pending)))
                pending.clear()
            parts.append(value[pos:start])
        wide, byte = match.group(1), match.group(2)
        if byte is not None:
            pending.append(int(byte, 16))
        else:
            if pending:
                parts.append(_fold_bytes(bytes(pending)))
                pending.clear()
            cp = int(wide, 16)
            parts.append("" if 0xD800 <= cp < 0xE000 else chr(cp))
        pos = match.end()
    if pending:
        parts.append(_fold_bytes(bytes(pending)))
    parts.append(value[pos:])
    return "".join(parts)


def _backslash_decode(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return "" if 0xD800 <= code < 0xE000 else chr(code)

    return _BACKSLASH.sub(one, value)


# CSS escapes (\\28, \\0075): decoded only where CSS is (a style, an expression, a url()).
_CSS_CONTEXT = re.compile(r"style|expression|url\s*\(|behavio")
_CSS_WORDS: Final = ("style", "expression", "url", "behavio")


def _css_context(value: str) -> bool:
    # Lower-cased once and gated by plain substring checks: the same pattern with IGNORECASE
    # cannot use the fast literal search and took 0.8 ms over 10,000 characters.
    low = value.lower()
    for word in _CSS_WORDS:
        if word in low:
            return _CSS_CONTEXT.search(low) is not None
    return False


# html.unescape's own pattern, except that a named reference must start with a letter, as
# every HTML5 entity name does: the standard library calls back into Python for each "&"
# followed by anything, only to hand back what it matched. Same output, far fewer calls.
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[a-zA-Z][^\t\n\f <&#;]{0,31};?)")
_replace_charref: Callable[[re.Match[str]], str] | None = getattr(html, "_replace_charref", None)


def _html_unescape(value: str) -> str:
    if _replace_charref is None:  # pragma: no cover - a Python without the private helper
        return html.unescape(value)
    return _CHARREF.sub(_replace_charref, value)


_CSS_ESCAPE = re.compile(r"\\0{0,4}([0-9a-fA-F]{2})(?![0-9a-fA-F])\s?")


def _css_char(match: re.Match[str]) -> str:
    code = int(match.group(1), 16)
    return chr(code) if code >= 0x20 else ""


def _utf7_decode(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        try:
            return ("+" + match.group(1) + "-").encode("ascii").decode("utf-7")
        except UnicodeDecodeError:
            return match.group(0)

    return _UTF7.sub(one, value)


def _one_round(value: str, normal: str) -> tuple[str, str]:
    """One round of decoding, and a string known to be in NFKC ("" when none is).

    *normal* is what the last round returned as known to be in NFKC: NFKC is idempotent,
    so a value equal to it is not normalised again (on 10,000 characters of some scripts
    that costs 250 us a round).
    """
    if "%" in value:
        value = _SPLIT_ESCAPE.sub(r"%\1\2", value)  # %%32%%65 -> %2%e: IIS read it as %2e
        value = percent_decode(value)
    if "&" in value:
        value = _html_unescape(value)
    if "\\" in value:
        value = _backslash_decode(value)
        if "\\" in value and _css_context(value):
            value = _CSS_ESCAPE.sub(_css_char, value)
    if "+AD" in value:
        value = _utf7_decode(value)
    if "0x" in value or "0X" in value:
        value = _HEX_LITERAL_SEP.sub(
            lambda m: {"2e": ".", "2f": "/", "5c": "\\"}[m.group(1).lower()], value
        )
    if not value.isascii():
        if "\u00bc" in value and "\u00be" in value:
            value = replace_chars(value, _HIGH_BIT, _HIGH_BIT_PAIRS)
        if value != normal:
            value = unicodedata.normalize("NFKC", value)
        # The ASCII characters put in below compose with nothing around them but "<" and
        # ">" with a U+0338 after them ("\u226e", "\u226f"): unless both can occur, the
        # text stays in NFKC.
        stays_normal = "\u0338" not in value or ("\u2039" not in value and "\u203a" not in value)
        value = replace_chars(value, _CONFUSABLES, _CONFUSABLE_PAIRS)
        if _PRIVATE_USE.search(value):
            # Best-fit mappings on Windows turn private-use code points into separators.
            value = _PRIVATE_USE.sub("/", value)
        normal = value if stays_normal else ""
    return value, normal


_ENCODED = re.compile(r"[%&\\+\x00]")  # a character class alone: a fast scan


def _needs_decoding(value: str) -> bool:
    return not value.isascii() or _ENCODED.search(value) is not None or "0x" in value


def decode(value: str) -> str:
    """Return *value* with every encoding layer undone, repeated until stable (bounded)."""
    if not _needs_decoding(value):
        return value
    normal = ""
    for _ in range(_MAX_ROUNDS):
        decoded, normal = _one_round(value, normal)
        if decoded == value:
            break
        value = decoded
    return value
