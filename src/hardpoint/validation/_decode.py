"""Decoding before detection: what the application (or a browser, or a shell) will finally see.

Attackers hide payloads behind encodings the application undoes later: percent-encoding applied
twice, overlong UTF-8 (``%c0%ae`` is ``.`` to a lenient decoder), ``%u2216``, HTML character
references, full-width letters, JavaScript escapes. :func:`decode` undoes all of them until the
value stops changing, so each detector sees one canonical string. Every function here is total
(any ``str`` in, a ``str`` out) and linear in the length of its input.
"""

from __future__ import annotations

import binascii
import html
import re
import unicodedata
from collections.abc import Callable
from html.entities import html5 as _HTML5
from itertools import repeat
from typing import Final, cast

from ._text import NONE_AS_EMPTY, Fill, contains_any, replace_chars, trie_pattern

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
    ``..``). `_fold_loop` says what each sequence becomes.

    Valid UTF-8 folds to what it decodes to, so the codec decodes it at C speed, marking
    the bytes it cannot decode (``surrogateescape``), and only the runs of marked bytes are
    folded: text that is mostly other characters (10,000 of Latin-1 with one stray escape)
    no longer goes through the fold a character at a time (1 ms).
    """
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = raw.decode("utf-8", "surrogateescape")
    if len(raw) - len(text) < _BULK:
        # Few characters decoded whole (each has bytes past its first): split them out
        # with the rest, cheaper than finding the runs first when there are many.
        return _fold_sequences(raw)
    parts = _UNDECODED.split(text)  # text, run, text, ...
    runs = parts[1::2]
    if len(runs) == 1:
        parts[1] = _fold_sequences(runs[0].encode("utf-8", "surrogateescape"))
        return "".join(parts)
    # Every run folded by one call: joined by a byte that ends any sequence and is in no run
    # (DEL), which the fold keeps as text and which is marked on the way out so as not to
    # be confused with a DEL a run folds to ("\xc1\xbf").
    joined = b"\x7f".join(map(str.encode, runs, repeat("utf-8"), repeat("surrogateescape")))
    parts[1::2] = _fold_sequences(joined, _RUN_END).split(_RUN_END)
    return "".join(parts)


# A run of bytes the UTF-8 codec could not decode, marked as U+DC80-U+DCFF, where every fold
# sequence that is not valid UTF-8 lies: it starts no earlier (what comes before is whole
# characters) and ends no later (a lead takes only continuation bytes, which no character
# starts with), except that a C0 or C1 lead takes the next byte when it is a control
# character or a lead (IIS), so that character goes with the run. DEL is not one of them.
_UNDECODED = re.compile("([\udc80-\udcff]+(?:(?<=[\udcc0\udcc1])[^\x20-\x7f])?)")
# Put for the DEL that joins runs: no fold yields a surrogate.
_RUN_END: Final = "\udfff"


def _fold_sequences(raw: bytes, run_end: str = "\x7f") -> str:
    """Fold *raw* by one split and a table, at C speed; the DELs in its text become *run_end*.

    The bytes are read as Latin-1 first (a character a byte), so the text between the
    sequences needs no decoding of its own (0.5 M instructions over 1,500 sequences). A
    Python step per run of bytes cost 1.9 ms on 10,000 characters of random percent-escapes.
    """
    parts = _SEQUENCE.split(raw.decode("latin-1"))  # ASCII text, a sequence, ASCII text, ...
    if run_end != "\x7f":
        parts[0::2] = map(str.replace, parts[0::2], repeat("\x7f"), repeat(run_end))
    parts[1::2] = map(_FOLDED.__getitem__, parts[1::2])
    return "".join(parts)


# What `_fold_loop` takes in one step from a byte >= 0x80 (as the Latin-1 character of the
# same number), in its order: a lead and its continuation bytes, an overlong lead with the
# byte the IIS rule pairs it with, or a byte alone. Every byte >= 0x80 is in one, so the
# text between them is ASCII. Led by one character class (a fast scan over ASCII), the
# lead's kind checked by a look-behind, a continuation byte first (the commonest byte
# alone: one look-behind, not all six; 0.6 M instructions over 1,500 sequences): as
# alternatives of their own the engine tried each at every byte (300 us over 10,000).
_SEQUENCE = re.compile(
    "([\x80-\xff](?:(?<=[\x80-\xbf])"
    "|(?<=[\xc0-\xdf])(?:[\x80-\xbf]|(?<=[\xc0\xc1])[\x00-\x1f\xc0-\xff])"
    "|(?<=[\xe0-\xef])[\x80-\xbf]{2}|(?<=[\xf0-\xf7])[\x80-\xbf]{3}"
    "|(?<=[\xf8-\xfb])[\x80-\xbf]{4}|(?<=[\xfc\xfd])[\x80-\xbf]{5})?)"
)


def _two_byte(lead: int, follow: int) -> str:
    """What `_fold_loop` makes of a lead 0xC0-0xDF and a continuation byte."""
    low6 = follow & 0x3F
    if lead == 0xC1 and low6 in (0x2E, 0x2F):
        return chr(low6)  # %c1%af: "/" to decoders that drop the lead's low bit
    return chr(((lead & 0x1F) << 6) | low6)


class _Folded(dict[str, str]):
    """Every sequence of one or two bytes (as Latin-1), folded; longer ones when looked up."""

    def __missing__(self, sequence: str) -> str:
        return _fold_loop(sequence.encode("latin-1"))  # not stored: the table stays bounded


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
        sequence.decode("latin-1"): _fold_loop(sequence)
        for sequence in [
            *(bytes((byte,)) for byte in range(0x80, 0x100)),
            *(bytes((lead, follow)) for lead in range(0xC0, 0xE0) for follow in range(0x80, 0xC0)),
            *(bytes((lead, other)) for lead in (0xC0, 0xC1) for other in range(0x20)),
            *(bytes((lead, other)) for lead in (0xC0, 0xC1) for other in range(0xC0, 0x100)),
        ]
    }
)


# A "%" that starts no %XX escape.
_LONE_PERCENT = re.compile(rb"%(?![0-9a-fA-F]{2})")
# A run of %XX escapes, with the text around it when split.
_PERCENT_RUN_PARTS = re.compile(rb"(%[0-9a-fA-F]{2}(?:%[0-9a-fA-F]{2})*)")  # a literal first
_PERCENT_TO_SPACE: Final = bytes.maketrans(b"%", b" ")

# From this length on, a substitution is done by one split and maps at C speed rather than a
# Python call per match; on shorter text the call is cheaper than building the lists.
# (Counting the matches instead cost a whole scan of a long value for each kind.)
_BULK: Final = 256


def _unquote_to_bytes(value: str) -> bytes:
    """What ``urllib.parse.unquote_to_bytes`` returns, at C speed.

    Unlike it, a lone surrogate does not raise: it is encoded as its own three bytes.
    (The standard library raises and catches a KeyError for every "%" that starts no escape:
    4,000 of them cost milliseconds.) Mostly by `_unquote_by_marks`; when the value holds
    every byte that could mark its text, by `_unquote_by_qp` or `_unquote_by_runs`.
    """
    # A JSON string may hold a lone surrogate ("\\ud800"): it passes as its own bytes, and
    # the lenient decoding that follows drops it, as it drops every byte that forms no
    # character.
    raw = value.encode("utf-8", "surrogatepass")
    if b"%" not in raw:
        return raw
    unquoted = _unquote_by_marks(raw)
    if unquoted is not None:
        return unquoted
    percents = raw.count(b"%")
    if percents >= _MANY_PERCENTS and raw.count(b"%%") * 8 < percents:
        return _unquote_by_qp(raw)
    return _unquote_by_runs(raw)


# Below this many "%", most are often not escapes (text with a stray "%" or two): a run at a
# time costs less (random punctuation: 252 "%", 13 us that way, 31 by quoted-printable).
_MANY_PERCENTS: Final = 64


def _unquote_by_marks(raw: bytes) -> bytes | None:
    """*raw* with its %XX escapes undone by quoted-printable decoding; None if it cannot be.

    ``binascii.a2b_qp`` undoes ``=XX`` escapes in C, and leaves an "=" that starts none as
    it is, with three exceptions: two "=" in a row read as one, and an "=" before a line
    break or at the end is dropped (a soft line break). So every "%" is spelled "=" and
    each "=" left in the result is turned back into "%": it was a "%" that started no
    escape. Before that, a mark byte goes between every two "%" (twice: ``replace`` does not
    overlap), between a "%" and a CR or LF, and after a final "%", and is taken out after;
    and what decodes to "=" (an "=", ``%3D``) is spelled as another mark, read back as "=".
    Each mark is a byte that neither the value nor an escape in it holds. A few passes at
    C speed, however many "%" there are; finding the "%" that start no escape by a pattern
    cost 1.2 k instructions each, converting a run of escapes at a time 3.2 k a run.
    """
    equals = raw.find(b"=") >= 0 or raw.find(b"%3d") >= 0 or raw.find(b"%3D") >= 0
    gaps = (
        raw.find(b"%%") >= 0 or raw.find(b"%\n") >= 0 or raw.find(b"%\r") >= 0 or raw.endswith(b"%")
    )
    marks = _absent_marks(raw, equals + gaps)
    if marks is None:
        return None
    if equals:
        mark = marks.pop()
        raw = raw.replace(b"=", mark).replace(b"%3d", mark).replace(b"%3D", mark)
    if gaps:
        gap = marks.pop()
        raw = raw.replace(b"%%", b"%" + gap + b"%").replace(b"%%", b"%" + gap + b"%")
        raw = raw.replace(b"%\n", b"%" + gap + b"\n").replace(b"%\r", b"%" + gap + b"\r")
        if raw.endswith(b"%"):
            raw += gap
    decoded = binascii.a2b_qp(raw.replace(b"%", b"=")).replace(b"=", b"%")
    if gaps:
        decoded = decoded.replace(gap, b"")
    return decoded.replace(mark, b"=") if equals else decoded


# Bytes that may mark text for `_unquote_by_marks`, each with its escape: control
# characters that text rarely holds (not NUL, a favourite of attacks), with an escape of
# digits only (one search, not one for each case). Only these few are tried: in a value of
# random escapes every byte is escaped somewhere (ninety searches of 10,000 characters
# found no mark there), and the other ways take over.
_MARKS: Final = tuple((bytes((code,)), b"%%%02x" % code) for code in range(0x01, 0x07))


def _absent_marks(raw: bytes, count: int) -> list[bytes] | None:
    """*count* mark bytes of `_MARKS` that *raw* holds neither as a byte nor as an escape."""
    found: list[bytes] = []
    if not count:
        return found
    for mark, escape in _MARKS:
        if raw.find(mark) < 0 and raw.find(escape) < 0:
            found.append(mark)
            if len(found) == count:
                return found
    return None


def _unquote_by_qp(raw: bytes) -> bytes:
    """*raw* with its %XX escapes undone by quoted-printable decoding (`_unquote_to_bytes`)."""
    spelled = _LONE_PERCENT.sub(b"=25", raw.replace(b"=", b"=3D")).replace(b"%", b"=")
    return binascii.a2b_qp(spelled)


def _unquote_by_runs(raw: bytes) -> bytes:
    """*raw* with its %XX escapes undone a run at a time (`_unquote_to_bytes`)."""
    parts = _PERCENT_RUN_PARTS.split(raw)  # text, a run, text, ...
    # fromhex() skips the spaces the "%" signs become.
    runs = map(bytes.translate, parts[1::2], repeat(_PERCENT_TO_SPACE))
    parts[1::2] = map(bytes.fromhex, map(bytes.decode, runs))
    return b"".join(parts)


def _encodes(value: str) -> bool:
    """Whether *value* is valid UTF-8 text: it holds no lone surrogate."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def percent_decode(value: str) -> str:
    """Undo one layer of percent-encoding (``%XX`` and ``%uXXXX``), overlong UTF-8 folded."""
    if "%" not in value:
        return value
    if _PERCENT.search(value) is None and _encodes(value):
        # No escape, and no lone surrogate the lenient decoding would drop: the text comes
        # back as it is (a pass each way through UTF-8 cost 80 us on 10,000 characters).
        return value
    if contains_any(value, ("%u", "%U")):
        value = _wide_as_bytes(value)
    return _fold_bytes(_unquote_to_bytes(value))


_WIDE = re.compile(r"%[uU]([0-9a-fA-F]{4})")  # IIS's escape of a UTF-16 code unit


def _wide_as_bytes(value: str) -> str:
    """*value* with each ``%uXXXX`` spelled as the %XX escapes of its character's UTF-8.

    The escapes then join one byte stream, folded as a whole: a lenient decoder reads
    ``%u002e%c0%ae`` as two dots. A surrogate code unit (half of a pair) becomes bytes that
    form no character, dropped by the fold. One split and maps, at C speed.
    """
    parts = _WIDE.split(value)  # text, code unit, text, ...
    chars = map(chr, map(int, parts[1::2], repeat(16)))
    encoded = map(str.encode, chars, repeat("utf-8"), repeat("surrogatepass"))
    parts[1::2] = map(str.__add__, repeat("%"), map(bytes.hex, encoded, repeat("%")))
    return "".join(parts)


def _backslash_char(match: re.Match[str]) -> str:
    code = int(match.group(1) or match.group(2), 16)
    return "" if 0xD800 <= code < 0xE000 else chr(code)


def _backslash_decode(value: str) -> str:
    if len(value) < _BULK:
        return _BACKSLASH.sub(_backslash_char, value)
    # One split and maps at C speed: a Python call per escape cost 600 us over 2,000.
    # Each escape fills one of the two groups; the other is None, read as "".
    parts = _BACKSLASH.split(value)  # text, \\u digits, \\x digits, text, ...
    wide, byte = parts[1::3], parts[2::3]
    codes = list(
        map(
            int,
            map(str.__add__, map(NONE_AS_EMPTY, wide, wide), map(NONE_AS_EMPTY, byte, byte)),
            repeat(16),
        )
    )
    parts[1::3] = map(_NO_SURROGATE.get, codes, map(chr, codes))
    parts[2::3] = repeat("", len(codes))
    return "".join(parts)


_NO_SURROGATE: Final = dict.fromkeys(range(0xD800, 0xE000), "")


# CSS escapes (\\28, \\0075): decoded only where CSS is (a style, an expression, a url()).
_CSS_WORDS: Final = ("style", "expression", "behavio")
_CSS_URL = re.compile(r"url\s*\(")


def _css_context(value: str) -> bool:
    # Lower-cased once and searched by substrings and one literal-led pattern: one pattern
    # of all four is led by a character class, scanned a character at a time (30 us over
    # 10,000 characters); with IGNORECASE it took 0.8 ms.
    low = value.lower()
    return contains_any(low, _CSS_WORDS) or (
        contains_any(low, ("url",)) and _CSS_URL.search(low) is not None
    )


# html.unescape's own pattern, except that a named reference must start with a letter, as
# every HTML5 entity name does: the standard library calls back into Python for each "&"
# followed by anything, only to hand back what it matched. Same output, far fewer calls.
_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[a-zA-Z][^\t\n\f <&#;]{0,31};?)")
_replace_charref: Callable[[re.Match[str]], str] | None = getattr(html, "_replace_charref", None)


# _CHARREF with a group for each kind of reference, where a name is an HTML5 name: what
# html._replace_charref does with a name token (the whole token if it is a name, else its
# longest start that is a name needing no ";", else nothing) is what replacing the longest
# name at the "&" does, as no name has a ";" but at its end and a token has none inside.
# Unknown names never leave the scan: "&" and 3,000 fresh random names cost 3 ms a Python
# call each. The numeric alternatives do not overlap, so hexadecimal is tried first; the
# look-ahead fails an "&" before a non-letter in one step, not one per first letter of a name.
_CHARREF_PARTS = re.compile(
    r"&(?:#[xX]([0-9a-fA-F]+);?|#([0-9]+);?|(?=[a-zA-Z])(" + trie_pattern(_HTML5) + "))"
)
# What a numeric reference becomes when it is not chr(code), as html._replace_charref
# decides it: the windows-1252 reading of 0x80-0x9F first, then U+FFFD for surrogates and
# numbers past Unicode, then "" for the code points HTML forbids.
_CHARREF_SPECIAL: Final[dict[int, str]] = {
    **dict.fromkeys(getattr(html, "_invalid_codepoints", ()), ""),
    **dict.fromkeys(range(0xD800, 0xE000), "\ufffd"),
    0x110000: "\ufffd",
    **getattr(html, "_invalid_charrefs", {}),
}
# Numeric groups of the other kinds of reference read as 0x10FFFF, which becomes "".
_NONE_DEC: Final = cast("Fill", {None: "1114111"}.get)
_NONE_HEX: Final = cast("Fill", {None: "10ffff"}.get)


# Every HTML5 name, and "" for the empty name group (None) of a numeric reference.
_NAMED: Final[dict[str | None, str]] = dict(_HTML5.items())
_NAMED[None] = ""


def _charref_chars(codes: list[int]) -> map[str]:
    """What html._replace_charref makes of each numeric reference's value, at C speed."""
    if max(codes) > 0x10FFFF:
        codes = [min(code, 0x110000) for code in codes]
        return map(_CHARREF_SPECIAL.get, codes, map(chr, map(min, codes, repeat(0x10FFFF))))
    return map(_CHARREF_SPECIAL.get, codes, map(chr, codes))


def _html_unescape_settled(value: str) -> tuple[str, bool]:
    """``html.unescape(value)``, and whether unescaping that again is known to change nothing.

    It is known when no reference was replaced, or when every replaced one was a name whose
    text holds no "&" and starts with none of the characters a reference continues with (a
    letter, a digit, "#" or ";"): an "&" left in the text then reads the same characters as
    before, up to the first one a replacement put in, and none of those continues a name
    or a number. Numeric references are not looked at (their text varies). Then the next
    round of `decode` need not split the text again (a second pass over 3,000 unknown
    names cost 0.45 ms only to find that nothing changes).
    """
    if _replace_charref is None:  # pragma: no cover - a Python without the private helper
        return html.unescape(value), False
    if len(value) < _BULK:
        return _CHARREF.sub(_replace_charref, value), False
    # A Python call per reference cost 0.45 us (900 us over 10,000 characters of numeric
    # ones); instead one split, and every reference of a kind converted by maps at C speed.
    # A match fills one of the three kinds' groups; the others read as "".
    parts = _CHARREF_PARTS.split(value)  # text, hex digits, decimal digits, name, text, ...
    count = len(parts) // 4
    if not count:
        return value, True
    hexadecimal, decimal, names = parts[1::4], parts[2::4], parts[3::4]
    numeric = False
    if hexadecimal.count(None) != count:
        parts[1::4] = _charref_chars(
            list(map(int, map(_NONE_HEX, hexadecimal, hexadecimal), repeat(16)))
        )
        numeric = True
    else:
        parts[1::4] = repeat("", count)
    if decimal.count(None) != count:
        parts[2::4] = _charref_chars(list(map(int, map(_NONE_DEC, decimal, decimal))))
        numeric = True
    else:
        parts[2::4] = repeat("", count)
    named = names.count(None) != count
    parts[3::4] = map(_NAMED.__getitem__, names) if named else repeat("", count)
    settled = not numeric and (not named or _UNSETTLING_NAMES.isdisjoint(names))
    return "".join(parts), settled


# The HTML5 names whose text could start or continue a reference: it holds an "&", or it is
# empty or starts with a letter, a digit, "#" or ";" (see `_html_unescape_settled`).
_UNSETTLING_NAMES: Final = frozenset(
    name
    for name, text in _HTML5.items()
    if not text or "&" in text or text[0].isalnum() or text[0] in "#;"
)


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


# Characters NFKC leaves as they are wherever they stand: canonical combining class 0, their
# own normal form, and never the second of a composition (Unicode's hasBoundaryBefore, with
# NFKC_QC=Yes). Text splits before each into pieces normalised independently (UAX #15,
# "Detecting Normalization Forms"). Only assigned characters of the Unicode 14 tables,
# which later versions cannot change; runs shorter than 32 and characters past the BMP are
# left out: a class with those is checked range by range, 80 ns a character.
# tests/validation/test_decode_equivalence.py checks every one of them.
_INERT: Final = (
    "\x00-\x9f\xa1-\xa7\xa9\xab-\xae\xb0\xb1\xb6\xb7\xbb\xbf-\u0131\u0134-\u013e"
    "\u0141-\u0148\u014a-\u017e\u0180-\u01c3\u01cd-\u01f0\u01f4-\u02af\u03a3-\u03cf"
    "\u03fa-\u0482\u0488-\u052f\u0531-\u0556\u0559-\u0586\u061b-\u064a\u0679-\u06d5"
    "\u06ee-\u070d\u074d-\u07b1\u07c0-\u07ea\u08a0-\u08c9\u0900-\u093b\u0960-\u0983"
    "\u0d12-\u0d3a\u0e01-\u0e32\u1000-\u102d\u103b-\u108c\u108e-\u10c5\u10d0-\u10fb"
    "\u10fd-\u1160\u1176-\u11a7\u11c3-\u1248\u1260-\u1288\u1290-\u12b0\u12d8-\u1310"
    "\u1318-\u135a\u13a0-\u13f5\u1400-\u169c\u16a0-\u16f8\u1780-\u17d1\u1820-\u1878"
    "\u1880-\u18a8\u18b0-\u18f5\u1944-\u196d\u1980-\u19ab\u19de-\u1a16\u1a1e-\u1a5e"
    "\u1b00-\u1b33\u1b80-\u1ba9\u1bac-\u1be5\u1bfc-\u1c36\u1c4d-\u1c88\u1c90-\u1cba"
    "\u1d00-\u1d2b\u1d79-\u1d9a\u1e00-\u1e99\u1e9c-\u1f15\u1f20-\u1f45\u1f80-\u1fb4"
    "\u2190-\u222b\u2231-\u2328\u232b-\u2426\u24eb-\u2a0b\u2a0d-\u2a73\u2a77-\u2adb"
    "\u2add-\u2b73\u2b76-\u2b95\u2b97-\u2c7b\u2c7e-\u2cee\u2cf9-\u2d25\u2d30-\u2d67"
    "\u2e00-\u2e5d\u2ea0-\u2ef2\u3001-\u3029\u3041-\u3096\u30a0-\u30fe\u3105-\u312f"
    "\u31a0-\u31e3\u3400-\ua48c\ua490-\ua4c6\ua4d0-\ua62b\ua640-\ua66e\ua6a0-\ua6ef"
    "\ua700-\ua76f\ua771-\ua7ca\ua807-\ua82b\ua840-\ua877\ua880-\ua8c3\ua8f2-\ua92a"
    "\ua92e-\ua952\ua980-\ua9b2\ua9de-\ua9fe\uaa00-\uaa36\uaa5c-\uaaaf\uab30-\uab5b"
    "\uab70-\uabec\uac00-\ud7a3\ud7cb-\ud7fb\ue000-\uf8ff"
)
# The first inert character from a position: text is cut before it.
_INERT_CHAR = re.compile("[" + _INERT + "]")
_CHUNKED_NFKC: Final = 2048  # shorter text is normalised in one call
_NFKC_CHUNK: Final = 1024


def _nfkc(value: str) -> str:
    """``unicodedata.normalize("NFKC", value)``, a piece of about 1,000 characters at a time.

    One call normalises the whole string once a single character is not in NFKC: 0.9 ms over
    10,000 CJK ideographs with one full-width comma. Cut before an inert character, each
    piece normalises on its own; a piece already in NFKC passes the quick check inside
    normalize() and is returned as it is, so only the pieces with such a character pay.
    """
    size = len(value)
    if size < _CHUNKED_NFKC:
        return unicodedata.normalize("NFKC", value)
    pieces: list[str] = []
    pos = 0
    while pos < size:
        boundary = _INERT_CHAR.search(value, pos + _NFKC_CHUNK)
        end = size if boundary is None else boundary.start()
        pieces.append(unicodedata.normalize("NFKC", value[pos:end]))
        pos = end
    return "".join(pieces)


def _latin1_text(value: str) -> bool:
    """Whether *value* is Latin-1 text as far as NFKC goes.

    Its characters are Latin-1 or what NFKC makes of them, "μ" and a mark after a space (as
    it wrote them: a mark after anything else may compose or be reordered). Text a round
    left so and then changed a little (a percent escape decoded) is normalised by the
    replacements again instead of by NFKC (250 us over 10,000 such characters).
    """
    try:
        value.encode("latin-1")
    except UnicodeEncodeError as error:
        if value[error.start] not in _LATIN1_NFKC_EXTRAS:
            return False  # the usual answer for other text: found at its first character
    else:
        return True
    # Every character past Latin-1 is one of those, each mark after a space (a mark after
    # anything else is left over): counted, not removed (a copy of the text for each).
    beyond = len(value) - len(value.encode("latin-1", "ignore"))
    return beyond == sum(map(value.count, _LATIN1_NFKC_WRITES))


# What NFKC makes of each Latin-1 character it changes, U+2044 (fraction slash) as the "/"
# it is folded to below. tests/validation/test_engine.py checks every pair of characters.
_LATIN1_NFKC: Final = tuple(
    (chr(code), unicodedata.normalize("NFKC", chr(code)).translate(_CONFUSABLES))
    for code in range(0xA0, 0x100)
    if unicodedata.normalize("NFKC", chr(code)) != chr(code)
)
# The characters past Latin-1 those write ("μ" and four marks, each after a space).
_LATIN1_NFKC_WRITES: Final = tuple(
    sorted({text for _, new in _LATIN1_NFKC for text in re.findall(r" ?[^\x00-\xff]", new)})
)
_LATIN1_NFKC_EXTRAS: Final = frozenset(text[-1] for text in _LATIN1_NFKC_WRITES)


def _join_split_escapes(value: str) -> str:
    r"""*value* with each ``%X%Y`` as ``%XY``: ``_SPLIT_ESCAPE.sub(r"%\1\2", value)``.

    One split (text, digit, digit, text, ...), the first digit of each pair given back its
    "%": the template's Python call a pair cost 0.4 ms over 10,000 characters of percent soup.
    """
    parts = _SPLIT_ESCAPE.split(value)
    if len(parts) == 1:
        return value
    parts[1::3] = map("%".__add__, parts[1::3])
    return "".join(parts)


def _one_round(value: str, normal: str, settled: str = "") -> tuple[str, str, str]:
    """One round of decoding, a string known to be in NFKC and one known to be unescaped.

    *normal* is what the last round returned as known to be in NFKC: NFKC is idempotent,
    so a value equal to it is not normalised again (on 10,000 characters of some scripts
    that costs 250 us a round). *settled* is what the last round's HTML unescaping returned
    when unescaping it again is known to change nothing ("" when none is): a value equal to
    it at that step is not unescaped again.
    """
    if "%" in value:
        value = _join_split_escapes(value)  # %%32%%65 -> %2%e: IIS read it as %2e
        value = percent_decode(value)
    if "&" in value and value != settled:
        value, known = _html_unescape_settled(value)
        settled = value if known else ""
    if "\\" in value:
        value = _backslash_decode(value)
        # The escape first (led by a backslash, a fast scan): the context check lower-cases
        # the whole value, slowly when it is not ASCII.
        if "\\" in value and _CSS_ESCAPE.search(value) and _css_context(value):
            value = _CSS_ESCAPE.sub(_css_char, value)
    # Substrings by contains_any: "in" takes 5-8 us over 10,000 characters, rfind 1-2.
    if contains_any(value, ("+AD",)):
        value = _utf7_decode(value)
    if contains_any(value, ("0x", "0X")):
        value = _HEX_LITERAL_SEP.sub(
            lambda m: {"2e": ".", "2f": "/", "5c": "\\"}[m.group(1).lower()], value
        )
    if not value.isascii() and value != normal:
        # (Text equal to *normal* is in NFKC with its confusables replaced already.)
        if "\u00bc" in value and "\u00be" in value:
            value = replace_chars(value, _HIGH_BIT, _HIGH_BIT_PAIRS)
        if _latin1_text(value):
            # The 14 Latin-1 characters NFKC changes, each on its own (its marks come
            # after a space, which composes with nothing, and before a starter), with the
            # one confusable they yield ("\u2044") folded too; nothing else applies.
            for old, new in _LATIN1_NFKC:
                if old in value:
                    value = value.replace(old, new)
            return value, value, settled
        value = _nfkc(value)
        # The ASCII characters put in below compose with nothing around them but "<" and
        # ">" with a U+0338 right after them ("\u226e", "\u226f"; in normal form no other
        # mark can stand between them and compose): without that, the text stays in NFKC.
        stays_normal = "\u0338" not in value or (
            "\u2039\u0338" not in value and "\u203a\u0338" not in value
        )
        value = replace_chars(value, _CONFUSABLES, _CONFUSABLE_PAIRS)
        if _may_hold_private_use(value) and _PRIVATE_USE.search(value):
            # Best-fit mappings on Windows turn private-use code points into separators.
            value = _PRIVATE_USE.sub("/", value)
        normal = value if stays_normal else ""
    return value, normal, settled


def _may_hold_private_use(value: str) -> bool:
    """False when *value* holds no character of U+E000-U+FFFF (their UTF-8 starts EE or EF).

    Encoding and two byte searches take 10 us over 10,000 characters of other scripts; the
    class search they spare takes 27.
    """
    encoded = value.encode("utf-8", "surrogatepass")
    return encoded.find(b"\xee") >= 0 or encoded.find(b"\xef") >= 0


_ENCODED = re.compile(r"[%&\\+\x00]")  # a character class alone: a fast scan


def _needs_decoding(value: str) -> bool:
    return (
        not value.isascii()
        or _ENCODED.search(value) is not None
        or contains_any(value, ("0x", "0X"))
    )


def decode(value: str) -> str:
    """Return *value* with every encoding layer undone, repeated until stable (bounded)."""
    if not _needs_decoding(value):
        return value
    normal = settled = ""
    for _ in range(_MAX_ROUNDS):
        decoded, normal, settled = _one_round(value, normal, settled)
        if decoded == value:
            break
        value = decoded
    return value
