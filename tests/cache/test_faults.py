"""Redis refused, frozen and restarted: callers never see an exception, and it recovers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hardpoint import events
from hardpoint.cache import RedisBackend, cached, configure_cache


@pytest.fixture
def seen() -> Iterator[list[events.Event]]:
    collected: list[events.Event] = []
    unsubscribe = events.subscribe(collected.append)
    yield collected
    unsubscribe()


def errors(seen: list[events.Event]) -> list[str]:
    return [e.error for e in seen if isinstance(e, events.CacheError)]


def make_backend(url: str) -> RedisBackend:
    return RedisBackend.from_url(url, namespace="hp-fault", reset_timeout=0.3, failure_threshold=3)


def test_refused_redis_is_a_miss_and_the_breaker_stops_calling_it(
    redis_server: Any, seen: list[events.Event], caplog: pytest.LogCaptureFixture
) -> None:
    backend = make_backend(redis_server.url)
    configure_cache(backend=backend, warn_interval=60)
    calls: list[int] = []

    @cached("fault:refused", ttl=60)
    def value(x: int) -> int:
        calls.append(x)
        return x * 10

    assert value(1) == 10
    assert value(1) == 10
    assert calls == [1]
    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="hardpoint.cache"):
        results = [value(1) for _ in range(50)]
    assert results == [10] * 50  # computed each time, never an exception
    assert len(calls) == 51
    errs = errors(seen)
    assert errs[:3] == ["BackendUnavailableError"] * 3 or "BackendUnavailableError" in errs[0]
    # After the threshold the breaker answers without touching the network.
    assert errs[-1] == "CircuitOpenError"
    assert backend.breaker.state == "open"
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and r.name == "hardpoint.cache"
    ]
    assert len(warnings) == 1  # once per interval, not per call
    backend.close()


def test_frozen_redis_costs_one_timeout_then_nothing(
    redis_server: Any, seen: list[events.Event]
) -> None:
    backend = make_backend(redis_server.url)
    configure_cache(backend=backend)

    @cached("fault:frozen", ttl=60)
    def value(x: int) -> int:
        return x

    value(1)
    redis_server.freeze()
    try:
        results = [value(i) for i in range(30)]
    finally:
        redis_server.thaw()
    assert results == list(range(30))
    errs = errors(seen)
    timeouts = [e for e in errs if e == "BackendUnavailableError"]
    # get + set of the first misses time out until the breaker opens; the rest are skipped.
    assert 1 <= len(timeouts) <= 3
    assert errs.count("CircuitOpenError") >= 25
    backend.close()


def test_cache_recovers_by_itself_when_redis_returns(
    redis_server: Any, seen: list[events.Event]
) -> None:
    backend = make_backend(redis_server.url)
    configure_cache(backend=backend)
    calls: list[int] = []

    @cached("fault:recover", ttl=60)
    def value(x: int) -> int:
        calls.append(x)
        return x

    redis_server.stop()
    for _ in range(5):
        value(1)
    assert str(backend.breaker.state) == "open"
    redis_server.start()
    time.sleep(0.35)  # the breaker's reset_timeout: the next call is the probe
    value(1)  # probe succeeds, stores the value
    assert backend.breaker.state == "closed"
    before = len(calls)
    assert [value(1) for _ in range(10)] == [1] * 10
    assert len(calls) == before  # hits again
    backend.close()


async def test_async_callers_never_see_redis_failures(redis_server: Any) -> None:
    backend = make_backend(redis_server.url)
    configure_cache(backend=backend)

    @cached("fault:async", ttl=60)
    async def value(x: int) -> int:
        return x + 1

    assert await value(1) == 2
    redis_server.freeze()
    try:
        assert [await value(i) for i in range(20)] == [i + 1 for i in range(20)]
    finally:
        redis_server.thaw()
    redis_server.stop()
    assert [await value(i) for i in range(20)] == [i + 1 for i in range(20)]
    await backend.aclose()


def test_invalidate_reports_an_unreachable_backend(redis_server: Any) -> None:
    from hardpoint.errors import BackendUnavailableError

    backend = make_backend(redis_server.url)
    configure_cache(backend=backend)

    @cached("fault:inv", ttl=60)
    def value(x: int) -> int:
        return x

    redis_server.stop()
    # Reads fail open; an explicit invalidation that did not happen must not look like success.
    with pytest.raises(BackendUnavailableError):
        value.invalidate(1)
    backend.close()


def test_corrupt_entries_are_deleted_counted_and_recomputed(
    redis_backend: RedisBackend, seen: list[events.Event]
) -> None:
    configure_cache(backend=redis_backend)
    calls: list[int] = []

    @cached("fault:corrupt", ttl=60)
    def value(x: int) -> int:
        calls.append(x)
        return x

    redis_backend.set(value.key(1), b"not an entry", ttl=60)
    assert value(1) == 1
    assert calls == [1]
    assert any(isinstance(e, events.CacheCorrupt) for e in seen)
    assert value(1) == 1
    assert calls == [1]  # the recomputed value replaced the corrupt one


def test_tampered_signed_entries_are_refused(redis_backend: RedisBackend) -> None:
    configure_cache(backend=redis_backend, signing_key=b"s" * 32)
    calls: list[int] = []

    @cached("fault:signed", ttl=60)
    def value(x: int) -> int:
        calls.append(x)
        return x

    value(1)
    key = value.key(1)
    data = redis_backend.get(key)
    assert data is not None
    redis_backend.set(key, data[:-1] + bytes([data[-1] ^ 1]), ttl=60)
    assert value(1) == 1
    assert calls == [1, 1]
