"""The key corpus of ``benchmarks/llm_cases.py``: every must-hit pair shares a key, no must-not
pair does, both through ``LLMCache.key`` (with scope and API) and through the pure
``canonical_request`` + ``request_digest`` pair (for the cases whose scope is the same).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from hardpoint.llm_cache import GLOBAL, LLMCache
from hardpoint.llm_cache._request import canonical_request, request_digest

_BENCHMARKS: Final = str(Path(__file__).resolve().parents[2] / "benchmarks")
if _BENCHMARKS not in sys.path:
    sys.path.insert(0, _BENCHMARKS)

if TYPE_CHECKING:  # mypy runs from the repository root, where benchmarks/ is a namespace
    from benchmarks.llm_cases import (
        GLOBAL_SCOPE,
        KEY_ARGS,
        MUST_HIT,
        MUST_NOT,
        Case,
        KeyArgs,
        key_args,
    )
else:  # pytest finds it through the sys.path entry above
    from llm_cases import GLOBAL_SCOPE, KEY_ARGS, MUST_HIT, MUST_NOT, key_args

_CACHE: Final = LLMCache()  # keys only: no backend is touched


def _params(cases: list[Case]) -> list[Any]:
    return [pytest.param(name, a, b, id=name) for name, a, b in cases]


def _key(request: dict[str, Any], args: KeyArgs) -> str:
    scope = GLOBAL if args["scope"] == GLOBAL_SCOPE else args["scope"]
    return _CACHE.key(request, scope=scope, api=args["api"])


def _keys(name: str, a: dict[str, Any], b: dict[str, Any]) -> tuple[str, str]:
    args_a, args_b = key_args(name)
    return _key(a, args_a), _key(b, args_b)


def _digests(name: str, a: dict[str, Any], b: dict[str, Any]) -> tuple[str, str]:
    args_a, args_b = key_args(name)
    return (
        request_digest(canonical_request(a, api=args_a["api"])),
        request_digest(canonical_request(b, api=args_b["api"])),
    )


def _same_scope(name: str) -> bool:
    args_a, args_b = key_args(name)
    return args_a["scope"] == args_b["scope"]


# -- the corpus itself ---------------------------------------------------------------------


def test_corpus_has_at_least_50_cases_of_each_kind() -> None:
    assert len(MUST_HIT) >= 50
    assert len(MUST_NOT) >= 50


def test_corpus_case_names_are_unique_and_key_args_name_real_cases() -> None:
    names = [name for name, _, _ in MUST_HIT + MUST_NOT]
    assert len(names) == len(set(names))
    assert set(KEY_ARGS) <= set(names)


@pytest.mark.parametrize(("name", "a", "b"), _params(MUST_HIT + MUST_NOT))
def test_corpus_case_is_not_vacuous(name: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    # Each pair differs in its requests or in its key arguments; otherwise it tests nothing.
    same_json = json.dumps(a) == json.dumps(b)
    assert not same_json or key_args(name)[0] != key_args(name)[1]


# -- LLMCache.key ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "a", "b"), _params(MUST_HIT))
def test_must_hit_pair_shares_a_key(name: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    key_a, key_b = _keys(name, a, b)
    assert key_a == key_b


@pytest.mark.parametrize(("name", "a", "b"), _params(MUST_NOT))
def test_must_not_pair_gets_different_keys(name: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    key_a, key_b = _keys(name, a, b)
    assert key_a != key_b


# -- canonical_request + request_digest, for the pairs in one scope -------------------------


@pytest.mark.parametrize(("name", "a", "b"), _params([c for c in MUST_HIT if _same_scope(c[0])]))
def test_must_hit_pair_shares_a_digest(name: str, a: dict[str, Any], b: dict[str, Any]) -> None:
    digest_a, digest_b = _digests(name, a, b)
    assert digest_a == digest_b, (
        canonical_request(a, api=key_args(name)[0]["api"]),
        canonical_request(b, api=key_args(name)[1]["api"]),
    )


@pytest.mark.parametrize(("name", "a", "b"), _params([c for c in MUST_NOT if _same_scope(c[0])]))
def test_must_not_pair_gets_different_digests(
    name: str, a: dict[str, Any], b: dict[str, Any]
) -> None:
    digest_a, digest_b = _digests(name, a, b)
    assert digest_a != digest_b, canonical_request(a, api=key_args(name)[0]["api"])


@pytest.mark.parametrize(("name", "a", "b"), _params(MUST_HIT + MUST_NOT))
def test_key_building_leaves_the_request_unchanged(
    name: str, a: dict[str, Any], b: dict[str, Any]
) -> None:
    before = copy.deepcopy((a, b))
    _keys(name, a, b)
    _digests(name, a, b)
    assert (a, b) == before
