"""The fast paths of hardpoint.validation._decode against the plain versions they replaced.

Each ``_old_*`` function is the code as it was before the bulk (split and map) paths and the
chunked NFKC: the new code must return exactly what it returned, on short text and on long
text (the bulk paths start at 16 escapes, the chunked NFKC at 512 characters).
"""

from __future__ import annotations

import html
import re
import unicodedata
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hardpoint.validation import _decode

# --- the replaced code, as it was -----------------------------------------------------------

_OLD_PERCENT_RUN = re.compile(rb"%[0-9a-fA-F]{2}(?:%[0-9a-fA-F]{2})*")


def _old_run_bytes(match: re.Match[bytes]) -> bytes:
    return bytes.fromhex(match.group().replace(b"%", b"").decode("ascii"))


def _old_unquote_to_bytes(value: str) -> bytes:
    raw = value.encode("utf-8", "surrogatepass")
    if b"%" not in raw:
        return raw
    return _OLD_PERCENT_RUN.sub(_old_run_bytes, raw)


_OLD_BACKSLASH = re.compile(r"\\(?:[uU]\{?([0-9a-fA-F]{4})\}?|[xX]([0-9a-fA-F]{2}))")


def _old_backslash_decode(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return "" if 0xD800 <= code < 0xE000 else chr(code)

    return _OLD_BACKSLASH.sub(one, value)


_OLD_CHARREF = re.compile(r"&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[a-zA-Z][^\t\n\f <&#;]{0,31};?)")


def _old_html_unescape(value: str) -> str:
    return _OLD_CHARREF.sub(html._replace_charref, value)  # type: ignore[attr-defined,unused-ignore]


def _old_nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value)


def _new_html_unescape(value: str) -> str:
    """The decoder's HTML unescaping, without its settled flag."""
    return _decode._html_unescape_settled(value)[0]


@contextmanager
def _old_decoding() -> Iterator[None]:
    """decode() with every replaced function swapped back for its old version."""
    with (
        mock.patch.object(_decode, "_unquote_to_bytes", _old_unquote_to_bytes),
        mock.patch.object(_decode, "_backslash_decode", _old_backslash_decode),
        mock.patch.object(
            _decode, "_html_unescape_settled", lambda value: (_old_html_unescape(value), False)
        ),
        mock.patch.object(_decode, "_nfkc", _old_nfkc),
    ):
        yield


# --- strategies -------------------------------------------------------------------------------

_ENTITY_FRAGMENTS = [
    "&", "#", "x", "X", "&#", "&#x", "&#X", "0", "1", "3c", "3C", "60", "0060", "128", "150",
    "159", "13", "0", "00", "55296", "d800", "DFFF", "1114111", "1114112", "10ffff", "110000",
    "fffe", "65535", "99999999999", "ffffffffff", "a", "f", "F", ";", "amp", "lt", "gt", "ampx",
    "notin", "not", "notit", "AElig", "frac12", "sup1", "CounterClockwiseContourIntegral",
    "abcdefghijklmnopqrstuvwxyzabcdefghij", "Tab", "NewLine", " ", "\t", "\n", "<", "é", "中",
    "\ud800", "&amp;", "&lt;", "&#60;", "&#x3c;", "&#0;", "&#128;", "&#x9f;",
]  # fmt: skip
_PERCENT_FRAGMENTS = [
    "%", "%%", "%u", "%U", "2", "5", "e", "E", "c0", "ae", "ff", "%25", "%2e", "%c0%ae", "%e0",
    "%80", "%af", "%ff", "%a0", "%c1%1c", "%u2216", "%41", "%4", "a", " ", "é", "中", "\ud800",
    "\\", "&#37;",
    # What quoted-printable decoding (the fast path) would read: "=", line breaks, spaces.
    "=", "=4", "=41", "=3D", "=\n", "\n", "\r\n", "\r", " \n", "\t\n", "_", "%0a", "%0d",
    "%3d", "%3D", "%20", "%09", "\x00", "=%41", "%=41",
    # The marks of the quoted-printable path, as bytes and as escapes.
    "\x01", "\x02", "%01", "%03", "\x06", "%06", "%%%",
]  # fmt: skip
_BACKSLASH_FRAGMENTS = [
    "\\", "\\\\", "u", "U", "x", "X", "{", "}", "0", "3c", "0027", "d800", "DFFF", "ffff",
    "\\x3c", "\\u0027", "\\u{0041}", "\\ud800", "0x", "0x2e", "a", " ", "é", "%", "style",
    "\\28 ", "\\0075",
]  # fmt: skip
_NORMAL_FRAGMENTS = [
    "a", " ", "<", ">", "e", "\u0301", "\u0338", "\u0327", "\u0308",
    "\uff53", "\uff0c", "\uff08", "\uff09",
    "中", "文", "\u4e00", "\u9fff", "\uac00", "\ud7a3", "\u1100", "\u1161", "\u11a8", "か",
    "\u3099", "\u309a", "ª", "½", "\u00a0", "\u2039", "\u203a", "\u2215", "ﬁ", "Å", "\u212b",
    "\ud800", "\udfff", "\ue000", "\U0001d400", "\U00020000", "\u0f73", "\u0e33", "ǅ", "é",
    "\u0345", "\u05b0", "\u0915\u093c", "\u1e9b\u0323", "\ufb2c", "\u0cbf\u0cd5",
]  # fmt: skip


def _texts(fragments: list[str], max_size: int) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(fragments), max_size=max_size).map("".join)


def _long_texts(fragments: list[str]) -> st.SearchStrategy[str]:
    # Long enough for every bulk path (16 escapes) and the chunked NFKC (512 characters).
    return st.lists(st.sampled_from(fragments), min_size=300, max_size=1500).map("".join)


# --- the equivalences -------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(_texts(_ENTITY_FRAGMENTS, 60) | _long_texts(_ENTITY_FRAGMENTS))
def test_html_unescape_matches_old(value: str) -> None:
    try:
        expected = _old_html_unescape(value)
    except ValueError:  # a decimal reference past int()'s digit limit: both raise
        return
    assert _new_html_unescape(value) == expected


def test_html_unescape_bulk_path_on_every_name() -> None:
    # Every HTML5 name, each with ";", without it, and followed by letters, in one long text.
    names = list(html.entities.html5)
    variants = [f"&{name}" for name in names]
    variants += [f"&{name.rstrip(';')}x;" for name in names]
    variants += [f"&{name.rstrip(';')}" for name in names]
    value = " ".join(variants) + "&#60;" * 20
    assert len(value) >= _decode._BULK
    assert _new_html_unescape(value) == _old_html_unescape(value)
    cut = ("a", "ab", "amp", "ampx", "notit", "notin", "lt", "frac1", "frac12", "x" * 40)
    for name in (*cut, "notin;x", "ltimes;", "ltimesx", "AElig", "AEligx;", "y" * 31 + ";"):
        value = ("&" + name + " ") * 60  # long: the bulk path
        assert _new_html_unescape(value) == _old_html_unescape(value), name


def test_every_name_variant_unescapes_as_the_standard_library_on_the_bulk_path() -> None:
    """Each name, cut, extended and doubled, alone between spaces in a long value."""
    for name in html.entities.html5:
        stem = name.rstrip(";")
        for variant in (name, stem, stem + "x", stem[:-1], stem * 2, name + "x", stem + ";x"):
            value = f"&{variant} " * 40
            assert _new_html_unescape(value) == _old_html_unescape(value), variant


def test_html_unescape_numeric_specials() -> None:
    codes = [*range(0, 0x200), *range(0xD7F0, 0xE010), *range(0xFDC0, 0xFE00), 0x10FFFF]
    codes += [0x110000, 0x1FFFF, 0xFFFFFFFF, 10**30]
    for code in codes:
        value = f"&#{code};&#x{code:x}&#X{code:X};x" * 20
        assert _new_html_unescape(value) == _old_html_unescape(value), code


@settings(max_examples=400, deadline=None)
@given(_texts(_PERCENT_FRAGMENTS, 60) | _long_texts(_PERCENT_FRAGMENTS))
def test_unquote_to_bytes_matches_old(value: str) -> None:
    expected = _old_unquote_to_bytes(value)
    assert _decode._unquote_to_bytes(value) == expected
    raw = value.encode("utf-8", "surrogatepass")
    # Every way, whichever is picked: by marks unless the value holds them all.
    assert _decode._unquote_by_marks(raw) in (None, expected)
    assert _decode._unquote_by_qp(raw) == expected
    assert _decode._unquote_by_runs(raw) == expected


@pytest.mark.parametrize(
    "value",
    [
        "%%%41", "%%%%41%", "%41=%3d%3D=", "a%\r\n%\n%", "a%\rb%41", "%", "%%", "=%", "%c0%ae%%2e%",
        "\x01\x02%03%3d%%", "%%\x01%02%41=",  # marks taken: the next ones serve
    ],
)  # fmt: skip
def test_the_marks_read_back_as_what_they_stood_for(value: str) -> None:
    raw = value.encode()
    assert _decode._unquote_by_marks(raw) == urllib.parse.unquote_to_bytes(value)


def test_a_value_that_holds_every_mark_is_unquoted_another_way() -> None:
    value = "".join(mark.decode() for mark, _ in _decode._MARKS) + "%%41%3d"
    assert _decode._unquote_by_marks(value.encode()) is None
    assert _decode._unquote_to_bytes(value) == urllib.parse.unquote_to_bytes(value)


@settings(max_examples=400, deadline=None)
@given(_texts(_BACKSLASH_FRAGMENTS, 60) | _long_texts(_BACKSLASH_FRAGMENTS))
def test_backslash_decode_matches_old(value: str) -> None:
    assert _decode._backslash_decode(value) == _old_backslash_decode(value)


@settings(max_examples=400, deadline=None)
@given(_texts(_NORMAL_FRAGMENTS, 60) | _long_texts(_NORMAL_FRAGMENTS))
def test_nfkc_matches_old(value: str) -> None:
    assert _decode._nfkc(value) == _old_nfkc(value)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=2048, max_size=5000))
def test_nfkc_matches_old_on_any_text(value: str) -> None:
    assert _decode._nfkc(value) == _old_nfkc(value)


@settings(max_examples=100, deadline=None)
@given(
    _texts(_NORMAL_FRAGMENTS, 40).filter(bool),
    _texts(_NORMAL_FRAGMENTS, 20),
    st.integers(0, 4000),
    st.sampled_from(["a", "中", "\u0301", "가", "\uff0c"]),
)
def test_nfkc_in_pieces_matches_old_on_long_text(
    base: str, insert: str, at: int, filler: str
) -> None:
    """Long text (the piecewise path) with what changes anywhere, at a piece's edge too."""
    value = filler * 2100 + base * (2100 // len(base) + 1)
    value = value[:at] + insert + value[at:]
    assert _decode._nfkc(value) == _old_nfkc(value)


def test_nfkc_long_text_with_few_pieces() -> None:
    # Long inert text with a few pieces that change: the chunked path, not the fallback.
    value = ("中文" * 40 + "\uff0ce\u0301\u0327" + "가" * 30 + "\u1100\u1161\u11a8<\u0338") * 20
    assert len(value) >= _decode._CHUNKED_NFKC
    assert _decode._nfkc(value) == _old_nfkc(value)
    assert _decode._nfkc("\u3099" + value) == _old_nfkc("\u3099" + value)


def _composition_seconds() -> set[int]:
    """Every code point that is the second of a canonical composition (combines backwards)."""
    seconds = set(range(0x1161, 0x1176)) | set(range(0x11A8, 0x11C3))  # Hangul V and T jamo
    for code in range(0x110000):
        parts = unicodedata.decomposition(chr(code)).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            pair = chr(int(parts[0], 16)) + chr(int(parts[1], 16))
            if unicodedata.normalize("NFC", pair) == chr(code):
                seconds.add(int(parts[1], 16))
    return seconds


def test_inert_class_holds_for_every_code_point() -> None:
    inert = re.compile("[" + _decode._INERT + "]")
    seconds = _composition_seconds()
    befores = ["", "a", "e\u0301", "\u1100", "\uac00", "<", "\u0338", "\uff53", "か", "\u0f71", "ǅ"]
    count = 0
    for code in range(0x110000):
        char = chr(code)
        if inert.fullmatch(char) is None:
            continue
        count += 1
        assert unicodedata.category(char) not in ("Cn", "Cs"), hex(code)
        assert unicodedata.combining(char) == 0, hex(code)
        assert unicodedata.normalize("NFKC", char) == char, hex(code)
        assert code not in seconds, hex(code)
        for before in befores:
            text = before + char + "\u0301"
            whole = unicodedata.normalize("NFKC", text)
            pieces = unicodedata.normalize("NFKC", before) + unicodedata.normalize(
                "NFKC", char + "\u0301"
            )
            assert whole == pieces, (hex(code), before)
    assert count > 50_000


_DECODE_FRAGMENTS = sorted(
    {*_ENTITY_FRAGMENTS, *_PERCENT_FRAGMENTS, *_BACKSLASH_FRAGMENTS, *_NORMAL_FRAGMENTS}
    | {"+AD", "+ADw-", "-", "0x", "0X2F", "url(", "\\28", "'", '"', "/", ".", "..", "%%32%%65"}
)


@settings(max_examples=300, deadline=None)
@given(
    _texts(_DECODE_FRAGMENTS, 80)
    | _long_texts(_DECODE_FRAGMENTS)
    | st.text(max_size=200)
    | st.text(min_size=600, max_size=2000)
)
def test_decode_matches_old(value: str) -> None:
    try:
        with _old_decoding():
            expected = _decode.decode(value)
    except ValueError:  # a decimal reference past int()'s digit limit: both raise
        return
    assert _decode.decode(value) == expected


@settings(max_examples=400, deadline=None)
@given(_texts(_PERCENT_FRAGMENTS, 60) | st.text(alphabet="%41g\ud800é中zZ", max_size=30))
def test_percent_decode_returns_text_without_escapes_as_the_full_path_does(value: str) -> None:
    """The shortcut for text without escapes gives what the bytes round trip gives."""
    if "%" in value and "%u" not in value and "%U" not in value:
        expected = _decode._fold_bytes(_decode._unquote_to_bytes(value))
        assert _decode.percent_decode(value) == expected


@settings(max_examples=400, deadline=None)
@given(
    st.text(alphabet="%1aGe2", max_size=40)
    | st.lists(st.sampled_from(["%", "%%", "%2", "%e", "1", "x", "%%3", "é"]), min_size=200).map(
        "".join
    )
)
def test_split_escapes_join_as_the_template_joins_them(value: str) -> None:
    """IIS's %%32%%65: each %X%Y, read left to right without overlap, becomes %XY."""
    assert _decode._join_split_escapes(value) == _decode._SPLIT_ESCAPE.sub(r"%\1\2", value)


_SETTLING_PIECES = [
    "&", "&&", "&#", "&#x", "#", ";", "a", "b", "l", "t", "lt", "gt", "amp", "not", "no", "in",
    "&lt", "&gt;", "&amp", "&amp;", "&not", "&noti", "&#60;", "&#x3c;", "&#38;", "&#35;",
    "&#97;", "&#0;", "&#59;", "&copy", "&eth", "&ETH;", "&reg", " ", "<", ">", "1", "x", "é",
    "&NotEqualTilde;", "&nbsp", "&shy;", "&#x26;", "&l", "&n", "&fjlig;", "&#x", "&b", "lig;",
]  # fmt: skip
# A few pieces, padded past the bulk path's threshold: few references, so that the result is
# often settled (a long draw nearly always replaces some name that unsettles it).
_SETTLING_TEXTS = st.tuples(
    st.lists(st.sampled_from(_SETTLING_PIECES), max_size=12).map("".join),
    st.sampled_from([" ", "x", ".", "&x "]),
    st.booleans(),
).map(lambda draw: draw[0] + draw[1] * 300 if draw[2] else draw[1] * 300 + draw[0])


@settings(max_examples=500, deadline=None)
@given(
    _SETTLING_TEXTS
    | st.lists(st.sampled_from(_SETTLING_PIECES), min_size=60, max_size=400).map("".join)
)
def test_settled_unescaping_is_a_fixpoint(value: str) -> None:
    """When the bulk path says so, unescaping its result again changes nothing."""
    unescaped, settled = _decode._html_unescape_settled(value)
    assert unescaped == _old_html_unescape(value)
    if settled:
        assert _new_html_unescape(unescaped) == unescaped


@settings(max_examples=500, deadline=None)
@given(
    _SETTLING_TEXTS
    | st.lists(st.sampled_from(_SETTLING_PIECES), min_size=60, max_size=400).map("".join)
)
@example("&&fjlig;lig;" + " " * 300)  # "fj" after an "&" spells a name: "&fjlig;"
@example("&n&#111;t;" + " " * 300)  # a digit's letter continues a name: "&not;"
@example("&#38;lt;" + " " * 300)  # "&" itself starts one
@example("&amp;#60;" + " " * 300)
def test_decode_skips_only_the_unescaping_that_changes_nothing(value: str) -> None:
    """decode() with the settled skip gives what unescaping every round gives."""
    with mock.patch.object(
        _decode, "_html_unescape_settled", lambda text: (_old_html_unescape(text), False)
    ):
        expected = _decode.decode(value)
    assert _decode.decode(value) == expected
