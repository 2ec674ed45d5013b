from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from hardpoint._internal.clock import ManualClock
from hardpoint.cache import CacheBackend, MemoryBackend, RedisBackend, close_cache


@pytest.fixture(autouse=True)
def _fresh_cache_configuration(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("HARDPOINT_REDIS_URL", raising=False)
    close_cache()
    yield
    close_cache()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1000.0, wall=1_800_000_000.0)


@pytest.fixture
def namespace() -> str:
    return f"hp-test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def redis_backend(redis_url: str, namespace: str) -> AsyncIterator[RedisBackend]:
    # An async fixture runs in the test's event loop, so it can close the asyncio client too.
    backend = RedisBackend.from_url(redis_url, namespace=namespace, timeout=1.0)
    try:
        yield backend
    finally:
        await backend.aclear()
        await backend.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request: pytest.FixtureRequest) -> Iterator[CacheBackend]:
    if request.param == "memory":
        yield MemoryBackend()
    else:
        yield request.getfixturevalue("redis_backend")
