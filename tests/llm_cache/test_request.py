from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hardpoint.errors import ConfigurationError
from hardpoint.llm_cache import canonical_request
from hardpoint.llm_cache._request import (
    _material,
    _std_material,
    detect_api,
    request_digest,
    request_text,
)

BASE: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": [{"type": "text", "text": "Name three primes."}]},
    ],
    "temperature": 0,
}


def key(request: dict[str, Any]) -> str:
    return request_digest(canonical_request(request))


def shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


GEN_PARAMS = st.sampled_from(
    [
        ("max_tokens", st.integers(1, 4000)),
        ("max_completion_tokens", st.integers(1, 4000)),
        ("seed", st.integers(0, 2**31)),
        ("top_p", st.floats(0.01, 0.99)),
        ("frequency_penalty", st.floats(-2, 2).filter(lambda x: x != 0)),
        ("presence_penalty", st.floats(-2, 2).filter(lambda x: x != 0)),
        ("stop", st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3)),
        ("n", st.integers(2, 5)),
        ("logprobs", st.just(True)),
        ("response_format", st.just({"type": "json_object"})),
        ("tool_choice", st.sampled_from(["none", "required"])),
        ("reasoning_effort", st.sampled_from(["low", "high"])),
        ("temperature", st.floats(0.01, 2)),
    ]
)


@given(GEN_PARAMS.flatmap(lambda p: st.tuples(st.just(p[0]), p[1])))
def test_adding_any_generation_parameter_changes_the_key(param: tuple[str, Any]) -> None:
    name, value = param
    assert key({**BASE, name: value}) != key(BASE)


@settings(max_examples=50)
@given(st.randoms(use_true_random=False))
def test_reordering_json_keys_never_changes_the_key(rng: random.Random) -> None:
    request = {
        **BASE,
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "lookup",
                    "description": "Look a word up.",
                    "parameters": {
                        "type": "object",
                        "properties": {"word": {"type": "string"}, "lang": {"type": "string"}},
                        "required": ["word"],
                    },
                },
            }
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
    }
    assert key(shuffled(copy.deepcopy(request), rng)) == key(request)


def test_dropped_parameters_and_defaults_share_a_key() -> None:
    variant = {
        **BASE,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "end-user-42",
        "metadata": {"trace": "abc"},
        "n": 1,
        "top_p": 1.0,
        "temperature": 0.0,
    }
    assert key(variant) == key(BASE)
    no_temperature = {k: v for k, v in BASE.items() if k != "temperature"}
    assert key(no_temperature) == key({**BASE, "temperature": 1})
    assert key(no_temperature) != key(BASE)  # missing means 1.0, not 0


def test_string_content_equals_one_text_part() -> None:
    as_string = copy.deepcopy(BASE)
    as_string["messages"][1]["content"] = "Name three primes."
    assert key(as_string) == key(BASE)


def test_anthropic_shapes() -> None:
    a = {
        "model": "claude-sonnet-4-20250514",
        "max_tokens": 256,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0,
    }
    b = {
        **a,
        "system": [
            {"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "metadata": {"user_id": "u1"},
    }
    assert detect_api(a) == "anthropic.messages"
    assert key(a) == key(b)
    assert key(a) != key({**a, "max_tokens": 257})


def test_responses_string_input_is_one_user_message() -> None:
    a = {"model": "gpt-4.1", "input": "Say hi", "temperature": 0}
    b = {"model": "gpt-4.1", "input": [{"role": "user", "content": "Say hi"}], "temperature": 0}
    assert detect_api(a) == "openai.responses"
    assert key(a) == key(b)
    assert key(a) != key({**a, "instructions": "Be brief."})


def test_same_body_for_different_apis_never_collides() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0}
    chat = request_digest(canonical_request(body, api="openai.chat"))
    anthropic = request_digest(canonical_request(body, api="anthropic.messages"))
    assert chat != anthropic


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        ({"messages": []}, "model"),
        ({"model": "gpt-4o"}, "messages"),
        ({"model": "gpt-4o", "messages": [1]}, "request"),
        ({"model": "gpt-4o", "messages": [], "temperature": float("nan")}, "request"),
    ],
)
def test_malformed_requests_name_the_field(request_: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        canonical_request(request_)
    assert exc.value.field == field


def test_unknown_api_is_refused() -> None:
    with pytest.raises(ConfigurationError) as exc:
        canonical_request(BASE, api="cohere.chat")  # type: ignore[arg-type]  # testing the check
    assert exc.value.field == "api"


def test_request_text_collects_the_prose() -> None:
    text = request_text(canonical_request(BASE))
    assert "You are terse." in text
    assert "Name three primes." in text
    assert "gpt-4o-mini" not in text


def test_digest_is_pinned() -> None:
    # A change here silently empties every user's LLM cache: bump it only on purpose.
    # Bumped once on purpose: BLAKE2b-128 -> SHA-256/128 (2x faster with SHA extensions).
    assert key(BASE) == "4ebdf4c566fb7eff99d4424843ba59e2"


class _Float(float):
    pass


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses those
    | st.floats()  # NaN, infinities, subnormals, exponents
    | st.sampled_from([1e-7, 2.5e-05, 1e16, 1e22, 0.0001, -0.0, 5e-324, 1.5e300])
    | st.floats().map(_Float)  # a subclass: the stdlib writes its repr too
    | st.text(),  # any code point, lone surrogates included
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=30,
)


@given(st.dictionaries(st.text(max_size=6), json_values, max_size=6))
def test_the_fast_material_is_the_stdlib_bytes_exactly(canonical: dict[str, Any]) -> None:
    # A process with orjson and one without must hash the same bytes, or they never share.
    assert _material(canonical) == _std_material(canonical)


def test_the_fast_material_uses_orjson_for_ordinary_requests() -> None:
    import orjson

    canonical = canonical_request(BASE)
    assert _material(canonical) == orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)
