"""Behaviour of @cached on every backend: keys, values, None, exceptions, TTL, stale, tags."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest

from hardpoint import events
from hardpoint._internal.clock import ManualClock
from hardpoint.cache import (
    CacheBackend,
    CacheStrategy,
    MemoryBackend,
    cached,
    configure_cache,
    get_cache,
)
from hardpoint.errors import ConfigurationError, UnstableKeyError


@dataclasses.dataclass(frozen=True)
class User:
    id: int
    name: str
    joined: dt.datetime
    balance: Decimal
    ref: uuid.UUID


def make_user(i: int) -> User:
    return User(
        i, f"u{i}", dt.datetime(2026, 1, i, tzinfo=dt.UTC), Decimal("1.50"), uuid.UUID(int=i)
    )


def test_strategy_values_are_the_documented_seconds() -> None:
    assert dict(CacheStrategy.__members__) == {
        "API_SHORT": 60,
        "API_MEDIUM": 300,
        "API_LONG": 3600,
        "DB_HOT": 30,
        "DB_WARM": 300,
        "DB_COLD": 3600,
        "LLM_SHORT": 1800,
        "LLM_LONG": 86400,
        "STATIC": 604800,
    }


def test_sync_function_runs_once_and_returns_the_typed_value(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    calls: list[int] = []

    @cached("test:user", ttl=CacheStrategy.API_MEDIUM)
    def get_user(user_id: int) -> User:
        calls.append(user_id)
        return make_user(user_id)

    first = get_user(1)
    second = get_user(user_id=1)
    assert first == second == make_user(1)
    assert type(second.balance) is Decimal
    assert second.joined.tzinfo is not None
    assert calls == [1]
    get_user(2)
    assert calls == [1, 2]


async def test_async_function_runs_once(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    calls: list[int] = []

    @cached("test:auser", ttl=60)
    async def get_user(user_id: int) -> dict[str, Any]:
        calls.append(user_id)
        return {"id": user_id, "tags": ["a", "b"]}

    assert await get_user(1) == {"id": 1, "tags": ["a", "b"]}
    assert await get_user(1) == {"id": 1, "tags": ["a", "b"]}
    assert calls == [1]


def test_hits_return_fresh_copies_not_a_shared_object(backend: CacheBackend) -> None:
    configure_cache(backend=backend)

    @cached("test:copy", ttl=60)
    def items() -> list[int]:
        return [1, 2, 3]

    items().append(99)
    hit = items()
    hit.append(100)
    assert items() == [1, 2, 3]


def test_exceptions_are_never_cached(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    attempts: list[int] = []

    @cached("test:flaky", ttl=60)
    def flaky(x: int) -> int:
        attempts.append(x)
        if len(attempts) == 1:
            raise RuntimeError("first call fails")
        return x * 2

    with pytest.raises(RuntimeError):
        flaky(3)
    assert flaky(3) == 6
    assert flaky(3) == 6
    assert attempts == [3, 3]


def test_none_is_cached_unless_disabled(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    calls: list[str] = []

    @cached("test:none", ttl=60)
    def find(name: str) -> int | None:
        calls.append(name)
        return None

    @cached("test:none-off", ttl=60, cache_none=False)
    def find_uncached(name: str) -> int | None:
        calls.append("off:" + name)
        return None

    assert find("a") is None
    assert find("a") is None
    assert find_uncached("a") is None
    assert find_uncached("a") is None
    assert calls == ["a", "off:a", "off:a"]


def test_none_ttl_applies_to_none_results(clock: ManualClock) -> None:
    configure_cache(backend=MemoryBackend(clock=clock), clock=clock, jitter=0)
    calls: list[int] = []

    @cached("test:nonettl", ttl=600, none_ttl=5)
    def lookup(x: int) -> int | None:
        calls.append(x)
        return None if x == 0 else x

    lookup(0)
    lookup(1)
    clock.advance(6)
    lookup(0)
    lookup(1)
    assert calls == [0, 1, 0]


def test_ttl_expiry_recomputes(clock: ManualClock) -> None:
    configure_cache(backend=MemoryBackend(clock=clock), clock=clock, jitter=0)
    calls: list[int] = []

    @cached("test:ttl", ttl=10)
    def value(x: int) -> int:
        calls.append(x)
        return len(calls)

    assert value(1) == 1
    clock.advance(9.9)
    assert value(1) == 1
    clock.advance(0.2)
    assert value(1) == 2


def test_jitter_only_shortens_the_ttl(clock: ManualClock) -> None:
    backend = MemoryBackend(clock=clock)
    configure_cache(backend=backend, clock=clock, jitter=0.2)

    @cached("test:jitter", ttl=100)
    def value(x: int) -> int:
        return x

    for i in range(50):
        value(i)
    ttls = [backend.ttl(value.key(i)) for i in range(50)]
    assert all(t is not None and 80 <= t <= 100 for t in ttls)
    assert len(set(ttls)) > 1


def test_stale_value_is_served_while_one_refresh_runs(clock: ManualClock) -> None:
    configure_cache(backend=MemoryBackend(clock=clock), clock=clock, jitter=0)
    release = threading.Event()
    calls: list[int] = []

    @cached("test:stale", ttl=10, stale_ttl=100)
    def slow(x: int) -> int:
        calls.append(x)
        if len(calls) > 1:
            release.wait(5)
        return len(calls)

    assert slow(1) == 1
    clock.advance(11)
    # Past the TTL but within stale_ttl: every caller gets the old value at once.
    assert [slow(1) for _ in range(20)] == [1] * 20
    release.set()
    for _ in range(200):
        if slow(1) == 2:
            break
        threading.Event().wait(0.01)
    assert slow(1) == 2
    assert calls == [1, 1]


async def test_async_stale_refresh_happens_in_the_background(clock: ManualClock) -> None:
    configure_cache(backend=MemoryBackend(clock=clock), clock=clock, jitter=0)
    calls: list[int] = []

    @cached("test:astale", ttl=10, stale_ttl=100)
    async def value() -> int:
        calls.append(1)
        await asyncio.sleep(0.01)
        return len(calls)

    assert await value() == 1
    clock.advance(11)
    assert await asyncio.gather(*(value() for _ in range(10))) == [1] * 10
    for _ in range(100):
        await asyncio.sleep(0.01)
        if await value() == 2:
            break
    assert await value() == 2
    assert len(calls) == 2


def test_early_refresh_recomputes_before_expiry(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_cache(backend=MemoryBackend(clock=clock), clock=clock, jitter=0)
    calls: list[int] = []
    decisions: list[dict[str, float]] = []

    def decide(**kw: float) -> bool:
        # The probability itself is tested in test_policy.py; here, the wiring.
        decisions.append(kw)
        return kw["now"] >= kw["expires_at"] - 1

    monkeypatch.setattr("hardpoint.cache._decorator.should_refresh_early", decide)

    @cached("test:early", ttl=10, early_refresh=True)
    def value() -> int:
        calls.append(1)
        return len(calls)

    value()
    clock.advance(5)
    assert value() == 1
    assert len(calls) == 1  # not yet
    clock.advance(4.5)
    assert value() == 1  # the caller still gets the fresh value at once
    for _ in range(200):
        if len(calls) == 2:
            break
        threading.Event().wait(0.01)
    assert len(calls) == 2
    assert decisions[0]["expires_at"] == 1_800_000_010.0
    assert decisions[0]["compute_time"] >= 0


def test_invalidate_key_and_uncached(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    calls: list[int] = []

    @cached("test:inv", ttl=60)
    def value(x: int) -> int:
        calls.append(x)
        return len(calls)

    assert value(1) == 1
    assert value.key(1) == value.key(x=1)
    assert value.key(1).startswith("test:inv:")
    assert value.invalidate(1) is True
    assert value.invalidate(1) is False
    assert value(1) == 2
    assert value.uncached(1) == 3
    assert value(1) == 2


async def test_async_invalidate_and_uncached(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    calls: list[int] = []

    @cached("test:ainv", ttl=60)
    async def value(x: int) -> int:
        calls.append(x)
        return len(calls)

    assert await value(1) == 1
    assert await value.invalidate(1) is True
    assert await value(1) == 2
    assert await value.uncached(1) == 3


def test_prefix_and_tag_invalidation(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    calls: list[str] = []

    @cached("test:tagged", ttl=60, tags=("user:{user_id}", "users"))
    def profile(user_id: int) -> str:
        calls.append(f"p{user_id}")
        return f"profile {user_id}"

    @cached("test:other", ttl=60)
    def other(x: int) -> int:
        calls.append(f"o{x}")
        return x

    profile(1)
    profile(2)
    other(1)
    assert get_cache().delete_tags(["user:1"]) == 1
    profile(1)
    profile(2)
    assert calls == ["p1", "p2", "o1", "p1"]
    assert get_cache().delete_tags(["users"]) == 2
    profile(1)
    profile(2)
    other(1)
    assert calls == ["p1", "p2", "o1", "p1", "p1", "p2"]
    assert get_cache().delete_prefix("test:tagged") == 2
    other(1)
    assert calls[-1] == "p2"


def test_methods_and_static_methods_are_cached() -> None:
    calls: list[str] = []

    class Repo:
        def __init__(self, name: str) -> None:
            self.name = name

        @cached("test:method", ttl=60)
        def get(self, user_id: int) -> str:
            calls.append(f"{self.name}:{user_id}")
            return f"{self.name}:{user_id}"

        @cached("test:static", ttl=60)
        @staticmethod
        def static(x: int) -> int:
            calls.append(f"static:{x}")
            return x

        @cached("test:cls", ttl=60)
        @classmethod
        def klass(cls, x: int) -> int:
            calls.append(f"cls:{x}")
            return x

    repo = Repo("a")
    assert repo.get(1) == "a:1"
    assert repo.get(1) == "a:1"
    # self is not part of the key: another instance shares the entry.
    assert Repo("b").get(1) == "a:1"
    assert Repo.static(3) == 3
    # mypy binds the first parameter of cached static and class methods (docs: Known limits);
    # at run time they work through the class and through instances.
    assert repo.static(3) == 3  # type: ignore[call-arg]  # see above
    assert Repo.klass(4) == 4  # type: ignore[call-arg, arg-type]  # see above
    assert repo.klass(4) == 4
    assert calls == ["a:1", "static:3", "cls:4"]


def test_unstable_argument_fails_loudly_at_first_call() -> None:
    class Opaque:
        pass

    @cached("test:unstable", ttl=60)
    def f(thing: Opaque) -> int:
        return 1

    with pytest.raises(UnstableKeyError) as exc:
        f(Opaque())
    assert exc.value.field == "thing"


def test_unserializable_result_is_returned_but_not_cached(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    @cached("test:unser", ttl=60)
    def f(x: int):  # type: ignore[no-untyped-def]  # unannotated on purpose
        calls.append(x)
        return dt.datetime(2026, 1, 1)

    assert f(1) == dt.datetime(2026, 1, 1)
    assert f(1) == dt.datetime(2026, 1, 1)
    assert calls == [1, 1]
    assert "not caching the result" in caplog.text


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"ttl": 0}, "ttl"),
        ({"ttl": -1}, "ttl"),
        ({"ttl": 10, "none_ttl": 0}, "none_ttl"),
        ({"ttl": 10, "stale_ttl": -1}, "stale_ttl"),
        ({"ttl": 10, "tags": ("user:{nope}",)}, "tags"),
        ({"ttl": 10, "exclude": ("nope",)}, "exclude"),
    ],
)
def test_bad_options_fail_at_decoration(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as exc:

        @cached("test:bad", **options)
        def f(x: int) -> int:
            return x

    assert exc.value.field == field


def test_configure_cache_validates_its_arguments() -> None:
    with pytest.raises(ConfigurationError) as exc:
        configure_cache(jitter=0.9)
    assert exc.value.field == "jitter"
    with pytest.raises(ConfigurationError) as exc:
        configure_cache(serializer="pickle")
    assert exc.value.field == "signing_key"
    with pytest.raises(ConfigurationError) as exc:
        configure_cache(serializer="yaml")
    assert exc.value.field == "serializer"
    with pytest.raises(ConfigurationError) as exc:
        configure_cache("redis://x", backend=MemoryBackend())
    assert exc.value.field == "url"


def test_events_report_hits_and_misses(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    seen: list[events.Event] = []
    unsubscribe = events.subscribe(seen.append)

    @cached("test:events", ttl=60)
    def f(x: int) -> int:
        return x

    try:
        f(1)
        f(1)
    finally:
        unsubscribe()
    kinds = [type(e).__name__ for e in seen]
    assert kinds == ["CacheMiss", "CacheHit"]
    assert all(getattr(e, "prefix", None) == "test:events" for e in seen)


def test_a_function_level_backend_overrides_the_default() -> None:
    own = MemoryBackend()

    @cached("test:own", ttl=60, backend=own)
    def f(x: int) -> int:
        return x

    f(1)
    assert len(own) == 1
    assert len(get_cache()) == 0  # type: ignore[arg-type]  # the default is a MemoryBackend here


class Opaque:
    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Opaque) and other.n == self.n

    def __hash__(self) -> int:
        return self.n


def test_unsupported_return_type_is_refused_at_first_call_with_json() -> None:
    @cached("test:opaque", ttl=60)  # decorating must not fail: pickle may be configured later
    def make(n: int) -> Opaque:
        return Opaque(n)

    with pytest.raises(ConfigurationError) as exc:
        make(1)
    assert exc.value.field == "return annotation"


def test_pickle_with_a_signing_key_caches_any_picklable_type() -> None:
    configure_cache(serializer="pickle", signing_key=b"k" * 32)
    calls: list[int] = []

    @cached("test:pickled", ttl=60)
    def make(n: int) -> Opaque:
        calls.append(n)
        return Opaque(n)

    assert make(1) == Opaque(1)
    assert make(1) == Opaque(1)
    assert calls == [1]


class GatedBackend(MemoryBackend):
    """A memory backend whose reads wait at a gate and are counted, like a slow server."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.reads = 0

    async def aget(self, key: str) -> bytes | None:
        self.reads += 1
        await self.gate.wait()
        return self.get(key)


async def test_concurrent_reads_of_one_key_share_one_round_trip() -> None:
    backend = GatedBackend()
    configure_cache(backend=backend)

    @cached("test:coalesce", ttl=60)
    async def value(x: int) -> int:
        return x

    backend.gate.set()
    await value(1)
    backend.gate.clear()
    backend.reads = 0
    tasks = [asyncio.create_task(value(1)) for _ in range(20)]
    await asyncio.sleep(0)
    backend.gate.set()
    assert await asyncio.gather(*tasks) == [1] * 20
    assert backend.reads == 1


async def test_a_cancelled_reader_hands_over_to_the_waiting_readers() -> None:
    backend = GatedBackend()
    configure_cache(backend=backend)

    @cached("test:handover", ttl=60)
    async def value(x: int) -> int:
        return x

    backend.gate.set()
    await value(1)
    backend.gate.clear()
    backend.reads = 0
    tasks = [asyncio.create_task(value(1)) for _ in range(20)]
    await asyncio.sleep(0)  # all 20 wait: the first at the gate, the rest on its read
    tasks[0].cancel()
    for _ in range(3):  # the cancelled read ends; one waiter takes over, the rest join it
        await asyncio.sleep(0)
    backend.gate.set()
    assert await asyncio.gather(*tasks[1:]) == [1] * 19
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    assert backend.reads == 2  # the cancelled read, then one shared read by the others
