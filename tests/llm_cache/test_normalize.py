from __future__ import annotations

import unicodedata
from collections import OrderedDict

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hardpoint.llm_cache import _normalize as _normalize_module
from hardpoint.llm_cache import normalize_text
from hardpoint.llm_cache._normalize import _normalize, canonical_json_value


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("hello\r\nworld", "hello\nworld"),
        ("hello   \nworld  ", "hello\nworld"),
        ("\n\n  \nhello\n\n", "hello"),
        ("what  is   this", "what is this"),
        (unicodedata.normalize("NFD", "café"), "café"),
        ("a\rb", "a\nb"),
    ],
)
def test_differences_that_cannot_matter_are_folded(a: str, b: str) -> None:
    assert normalize_text(a) == normalize_text(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("```python\ndef f():\n    return 1\n```", "```python\ndef f():\n        return 1\n```"),
        ("```\nx  =  1\n```", "```\nx = 1\n```"),
        ("- item\n  - nested", "- item\n- nested"),
        ("is", "is not"),
        ("3 apples", "4 apples"),
        ("para one\n\npara two", "para one\npara two"),
        ("Café", "café"),
    ],
)
def test_differences_that_can_matter_are_kept(a: str, b: str) -> None:
    assert normalize_text(a) != normalize_text(b)


@given(st.text())
@example("```\n  a  b\n")  # an unclosed fence keeps its spacing
@example("x\r\n\r\n")
def test_normalize_is_idempotent_and_total(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert "\r" not in once
    assert not once.startswith("\n")
    assert not once.endswith((" ", "\n", "\t"))


@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1))
def test_words_are_never_lost(text: str) -> None:
    assert normalize_text(text).split() == unicodedata.normalize("NFC", text).split()


def test_canonical_numbers_fold_integral_floats_only() -> None:
    assert canonical_json_value({"a": 0.0, "b": [1.0, 1.5, True]}) == {"a": 0, "b": [1, 1.5, True]}
    assert canonical_json_value(True) is True
    with pytest.raises(ValueError, match="JSON"):
        canonical_json_value(float("nan"))
    with pytest.raises(ValueError, match="JSON"):
        canonical_json_value(object())


long_texts = st.lists(
    st.sampled_from(["word ", "  ", "\r\n", "```\n", "    indented\n", "é", "e\u0301", "\t\n"]),
    min_size=200,
    max_size=400,
).map("".join)


@given(long_texts)
def test_remembered_long_texts_normalise_as_fresh_ones(text: str) -> None:
    fresh = _normalize(text)
    assert normalize_text(text) == fresh  # first time: normalised and remembered
    assert normalize_text("".join(list(text))) == fresh  # an equal, new str: from the memo


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_normalize_module, "_MEMO_MAX_CHARS", 20_000)
    monkeypatch.setattr(_normalize_module, "_memo", OrderedDict())
    monkeypatch.setattr(_normalize_module, "_memo_chars", 0)
    for i in range(100):
        text = f"{i:04d} " + "x  y " * 200  # not normal: both forms are kept
        assert normalize_text(text) == f"{i:04d} " + "x y " * 199 + "x y"
    assert _normalize_module._memo_chars <= 20_000
    assert 0 < len(_normalize_module._memo) < 100
    assert _normalize_module._memo_chars == sum(
        len(k) + len(v) for k, v in _normalize_module._memo.items()
    )
