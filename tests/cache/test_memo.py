"""The decoded-entry memo: hits on unchanged bytes copy a remembered value instead of parsing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import uuid
from decimal import Decimal
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardpoint.cache import CacheBackend, MemoryBackend, cached, configure_cache
from hardpoint.cache._config import current_settings
from hardpoint.cache._memo import MEMO, DecodedMemo, copy_plan
from hardpoint.cache._serde import Entry, JsonCodec, Serializer
from hardpoint.cache._typecodec import TypeCodec

json_leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_trees = st.recursive(
    json_leaves,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=40,
)


def _containers(value: object) -> list[object]:
    """Every dict and list inside *value*, itself included."""
    found: list[object] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            found.append(item)
            stack.extend(item)
    return found


def _same_shape(a: object, b: object) -> bool:
    """Equal, with the same types everywhere (so 1 and 1.0 and True differ), NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(_same_shape(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_shape(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return b != b
    return a == b


@given(json_trees)
def test_a_plan_copies_exactly_and_shares_no_container(value: object) -> None:
    plan = copy_plan(value)
    assert plan is not None
    copy = plan(value)
    assert _same_shape(copy, value)
    originals = {id(c) for c in _containers(value)}
    assert not any(id(c) in originals for c in _containers(copy))


class Colour(enum.Enum):
    RED = "red"


class Point(NamedTuple):
    x: int
    y: int


@dataclasses.dataclass(frozen=True)
class Frozen:
    name: str
    when: dt.datetime


@dataclasses.dataclass
class Mutable:
    name: str


@pytest.mark.parametrize(
    "value",
    [
        42,
        "text",
        None,
        Decimal("1.50"),
        uuid.UUID(int=7),
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        Colour.RED,
        (1, "a", (2, 3)),
        frozenset({1, 2}),
        Point(1, 2),
        Frozen("a", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
    ],
)
def test_immutable_values_are_shared(value: object) -> None:
    plan = copy_plan(value)
    assert plan is not None
    assert plan(value) is value


@pytest.mark.parametrize(
    "value",
    [
        Mutable("a"),
        {1, 2},
        (1, [2]),
        {"a": Mutable("b")},
        [bytearray(b"x")],
        Frozen("a", dt.datetime(2026, 1, 1)).__class__("a", [1]),  # type: ignore[arg-type]
        [[[]] * 3] * 200,  # more containers than a plan may hold
    ],
)
def test_values_a_plan_cannot_copy_faithfully_get_none(value: object) -> None:
    assert copy_plan(value) is None


def test_the_memo_is_bounded_by_entries_and_bytes() -> None:
    memo = DecodedMemo(max_entries=3, max_bytes=100, max_entry_bytes=60)
    serializer = Serializer(JsonCodec())
    codec = TypeCodec(Any, owner="test")
    entry = Entry([1], 0.0, 0.0, 0.0, (), False)
    for i in range(5):
        memo.remember(f"k{i}", b"x" * 10, serializer, codec, entry)
    assert len(memo) == 3
    assert memo.get("k0") is None
    assert memo.get("k4") is not None
    memo.remember("big", b"x" * 61, serializer, codec, entry)
    assert memo.get("big") is None
    for i in range(3):
        memo.remember(f"w{i}", b"y" * 45, serializer, codec, entry)
    assert len(memo) == 2  # 3 x 45 bytes > 100
    held = memo.get("w2")
    assert held is not None
    assert held[3].value is not entry.value
    memo.forget("w2")
    assert memo.get("w2") is None
    memo.clear()
    assert len(memo) == 0


def test_hits_on_every_backend_return_independent_deep_copies(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    calls: list[int] = []

    @cached("memo:user", ttl=60)
    def user(i: int) -> dict[str, Any]:
        calls.append(i)
        return {"id": i, "roles": ["a", "b"], "address": {"city": "Lyon", "lines": ["1 rue"]}}

    first = user(1)
    first["roles"].append("mutated by the first caller")
    second = user(1)  # parsed, and remembered
    second["address"]["lines"].append("mutated by the second caller")
    third = user(1)  # copied from the memo
    third["address"]["city"] = "Paris"
    fourth = user(1)
    assert calls == [1]
    expected = {"id": 1, "roles": ["a", "b"], "address": {"city": "Lyon", "lines": ["1 rue"]}}
    assert fourth == expected
    assert fourth is not third
    assert fourth["address"] is not third["address"]
    assert MEMO.get(user.key(1)) is not None


async def test_a_changed_entry_is_parsed_again_not_served_from_the_memo(
    backend: CacheBackend,
) -> None:
    configure_cache(backend=backend)

    @cached("memo:changing", ttl=60)
    async def value() -> dict[str, int]:
        return {"version": 1}

    assert await value() == {"version": 1}
    assert await value() == {"version": 1}
    key = value.key()
    assert MEMO.get(key) is not None
    # Another process rewrites the entry behind this one's back (no invalidate() here).
    rewritten = current_settings().serializer.dumps(
        {"version": 2},
        TypeCodec(dict[str, int], owner="test"),
        created_at=0.0,
        soft_expires_at=0.0,
        compute_time=0.0,
    )
    backend.set(key, rewritten, ttl=60)
    assert await value() == {"version": 2}
    assert await value() == {"version": 2}


def test_a_corrupt_entry_is_never_remembered() -> None:
    backend = MemoryBackend()
    configure_cache(backend=backend)

    @cached("memo:corrupt", ttl=60)
    def value() -> list[int]:
        return [1]

    key = value.key()
    backend.set(key, b"not an entry", ttl=60)
    assert value() == [1]  # a miss: computed again
    assert MEMO.get(key) is None or MEMO.get(key)[0] != b"not an entry"  # type: ignore[index]
    assert value() == [1]


def test_another_serializer_does_not_reuse_the_memo() -> None:
    backend = MemoryBackend()
    configure_cache(backend=backend)

    @cached("memo:signed", ttl=60)
    def value() -> list[int]:
        return [1, 2]

    assert value() == [1, 2]
    assert value() == [1, 2]
    remembered = MEMO.get(value.key())
    assert remembered is not None
    # Same backend and bytes, but now entries must be signed: the unsigned one is refused.
    configure_cache(backend=backend, signing_key=b"k" * 32)
    assert current_settings().serializer is not remembered[1]
    runs: list[int] = []

    @cached("memo:signed", ttl=60)
    def value_again() -> list[int]:
        runs.append(1)
        return [1, 2]

    assert value_again() == [1, 2]
    assert runs == [1]
