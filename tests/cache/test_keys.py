from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from enum import Enum
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardpoint.cache._keys import KeyBuilder, canonical, digest
from hardpoint.errors import ConfigurationError, UnstableKeyError


def f(x: int, y: str = "d", *, z: float = 1.0) -> None: ...


def variadic(a: int, *args: int, **kwargs: Any) -> None: ...


class Color(Enum):
    RED = "red"
    BLUE = "blue"


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


class Opaque:
    pass


class WithKey:
    def __init__(self, ident: int) -> None:
        self.ident = ident

    def __cache_key__(self) -> int:
        return self.ident


def test_defaults_and_keywords_share_one_key() -> None:
    kb = KeyBuilder(f, prefix="p")
    keys = {
        kb.build((1,), {}),
        kb.build((), {"x": 1}),
        kb.build((1, "d"), {}),
        kb.build((1,), {"y": "d", "z": 1.0}),
        kb.build((), {"z": 1.0, "y": "d", "x": 1}),
    }
    assert len(keys) == 1
    assert next(iter(keys)).startswith("p:")


def test_different_values_give_different_keys() -> None:
    kb = KeyBuilder(f, prefix="p")
    assert kb.build((1,), {}) != kb.build((2,), {})
    assert kb.build((1,), {}) != kb.build((1, "e"), {})
    # 1, 1.0 and True are equal in Python but may behave differently: keep them apart.
    assert len({kb.build((1,), {}), kb.build((1.0,), {}), kb.build((True,), {})}) == 3


def test_self_is_skipped_unless_it_defines_cache_key() -> None:
    class Repo:
        def get(self, user_id: int) -> None: ...

    kb = KeyBuilder(Repo.get, prefix="repo")
    assert kb.build((Repo(), 5), {}) == kb.build((Repo(), 5), {})

    class Tenant:
        def __init__(self, tenant: str) -> None:
            self.tenant = tenant

        def __cache_key__(self) -> str:
            return self.tenant

        def get(self, user_id: int) -> None: ...

    kb2 = KeyBuilder(Tenant.get, prefix="t")
    assert kb2.build((Tenant("a"), 5), {}) != kb2.build((Tenant("b"), 5), {})
    assert kb2.build((Tenant("a"), 5), {}) == kb2.build((Tenant("a"), 5), {})


def test_exclude_drops_arguments_and_rejects_unknown_names() -> None:
    def g(user_id: int, session: object) -> None: ...

    kb = KeyBuilder(g, prefix="g", exclude=["session"])
    assert kb.build((1, Opaque()), {}) == kb.build((1, Opaque()), {})
    with pytest.raises(ConfigurationError) as exc:
        KeyBuilder(g, prefix="g", exclude=["sesion"])
    assert exc.value.field == "exclude"


def test_template_and_callable_keys() -> None:
    kb = KeyBuilder(f, prefix="user", key="{x}:{y}")
    assert kb.build((7,), {}) == "user:7:d"
    kb2 = KeyBuilder(f, prefix="user", key=lambda x, y="d", z=1.0: f"id-{x}")
    assert kb2.build((7,), {"y": "q"}) == "user:id-7"
    with pytest.raises(ConfigurationError) as exc:
        KeyBuilder(f, prefix="user", key="{nope}")
    assert exc.value.field == "key"


def test_empty_prefix_is_refused() -> None:
    with pytest.raises(ConfigurationError) as exc:
        KeyBuilder(f, prefix="")
    assert exc.value.field == "prefix"


def test_unstable_argument_raises_naming_the_argument() -> None:
    kb = KeyBuilder(f, prefix="p")
    with pytest.raises(UnstableKeyError) as exc:
        kb.build((Opaque(),), {})
    assert exc.value.field == "x"
    assert "Opaque" in str(exc.value)
    with pytest.raises(UnstableKeyError):
        kb.build(([1, Opaque()],), {})
    with pytest.raises(UnstableKeyError):
        kb.build((lambda: 1,), {})


def test_rich_values_have_stable_keys() -> None:
    kb = KeyBuilder(f, prefix="p")
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    for value in (
        when,
        dt.date(2026, 1, 2),
        uuid.UUID(int=5),
        Decimal("1.10"),
        Color.RED,
        Point(1, 2),
        WithKey(3),
        {"b": [1, 2], "a": {3, 4}},
        frozenset({"x", "y"}),
        (1, (2, 3)),
    ):
        assert kb.build((value,), {}) == kb.build((value,), {})
    assert kb.build((Point(1, 2),), {}) != kb.build((Point(2, 1),), {})
    assert kb.build((WithKey(3),), {}) != kb.build((WithKey(4),), {})
    assert kb.build(([1, 2],), {}) != kb.build(((1, 2),), {})


def test_variadic_arguments_are_keyed_in_order_and_by_name() -> None:
    kb = KeyBuilder(variadic, prefix="v")
    assert kb.build((1, 2, 3), {"q": 1, "p": 2}) == kb.build((1, 2, 3), {"p": 2, "q": 1})
    assert kb.build((1, 2, 3), {}) != kb.build((1, 3, 2), {})


def test_key_is_stable_across_processes() -> None:
    # Pinned: a change of the key scheme silently empties every user's cache.
    kb = KeyBuilder(f, prefix="p")
    assert kb.build((1,), {}) == "p:" + digest((1, "d", 1.0))
    assert digest((1, "d", 1.0)) == "9bb5753f7225f37298d836a6cd38e2df"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(),
    st.binary(max_size=20),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=5), inner, max_size=4),
        st.frozensets(st.integers(), max_size=4),
    ),
    max_leaves=12,
)


@given(values, values)
def test_equal_bindings_give_equal_keys_and_different_values_differ(a: Any, b: Any) -> None:
    kb = KeyBuilder(f, prefix="p")
    assert kb.build((a,), {}) == kb.build((), {"x": a})
    same = repr(canonical(a)) == repr(canonical(b))  # the hashed material, exactly
    assert (kb.build((a,), {}) == kb.build((b,), {})) == same


@given(st.dictionaries(st.text(max_size=4), st.integers(), max_size=6))
def test_mapping_key_order_never_matters(d: dict[str, int]) -> None:
    reversed_d = dict(reversed(list(d.items())))
    assert digest(canonical(d)) == digest(canonical(reversed_d))


def two(a: object, b: object) -> None: ...


scalar_args = (
    st.integers(-3, 3) | st.booleans() | st.sampled_from([0.0, 1.0, -1.0]) | st.text(max_size=2)
)


@given(st.lists(st.tuples(scalar_args, scalar_args), min_size=1, max_size=30))
def test_remembered_keys_of_int_and_str_calls_match_fresh_keys(
    calls: list[tuple[Any, Any]],
) -> None:
    # Warm builder: remembers keys of int/str calls by the argument tuple. It must agree with a
    # cold builder on every call, and must not confuse 1, 1.0 and True (equal as dict keys).
    warm = KeyBuilder(two, prefix="p")
    for a, b in calls:
        assert warm.build((a, b), {}) == KeyBuilder(two, prefix="p").build((a, b), {})
    keys = {warm.build((v, "x"), {}) for v in (1, 1.0, True, "1")}
    assert len(keys) == 4
