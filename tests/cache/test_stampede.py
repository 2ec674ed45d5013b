"""Stampede protection: one execution per cold key, in-process and across processes."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import uuid
from typing import Any

import pytest
import redis

from hardpoint.cache import CacheBackend, MemoryBackend, RedisBackend, cached, configure_cache


async def test_a_thousand_async_callers_run_the_function_once(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    calls: list[int] = []

    @cached("stampede:async", ttl=60)
    async def slow(x: int) -> list[int]:
        calls.append(x)
        await asyncio.sleep(0.05)
        return [x, x]

    results = await asyncio.gather(*(slow(7) for _ in range(1000)))
    assert calls == [7]
    assert all(r == [7, 7] for r in results)
    # Waiters got their own copies, not the leader's object.
    assert len({id(r) for r in results}) == 1000


def test_sixty_four_threads_run_the_function_once(backend: CacheBackend) -> None:
    configure_cache(backend=backend)
    calls: list[int] = []
    barrier = threading.Barrier(64)
    release = threading.Event()

    @cached("stampede:threads", ttl=60)
    def slow(x: int) -> int:
        calls.append(x)
        release.wait(5)
        return x * 2

    results: list[int] = []

    def worker() -> None:
        barrier.wait()
        results.append(slow(3))

    threads = [threading.Thread(target=worker) for _ in range(64)]
    for t in threads:
        t.start()
    threading.Event().wait(0.2)
    release.set()
    for t in threads:
        t.join(10)
    assert calls == [3]
    assert results == [6] * 64


async def test_exception_reaches_every_waiter_and_nothing_is_cached(
    backend: CacheBackend,
) -> None:
    configure_cache(backend=backend)
    calls: list[int] = []

    @cached("stampede:error", ttl=60)
    async def broken(x: int) -> int:
        calls.append(x)
        await asyncio.sleep(0.02)
        raise ValueError("backend of the app is down")

    results = await asyncio.gather(*(broken(1) for _ in range(50)), return_exceptions=True)
    assert calls == [1]
    assert all(isinstance(r, ValueError) for r in results)
    with pytest.raises(ValueError, match="down"):
        await broken(1)
    assert calls == [1, 1]


async def test_cancelling_one_caller_does_not_cancel_the_others(backend: CacheBackend) -> None:
    configure_cache(backend=backend)

    @cached("stampede:cancel", ttl=60)
    async def slow() -> str:
        await asyncio.sleep(0.05)
        return "done"

    first = asyncio.create_task(slow())
    others = [asyncio.create_task(slow()) for _ in range(5)]
    await asyncio.sleep(0.01)
    first.cancel()
    assert await asyncio.gather(*others) == ["done"] * 5


WORKER = textwrap.dedent(
    """
    import asyncio, sys, time
    import redis
    from hardpoint.cache import RedisBackend, cached, configure_cache

    url, ns, go_key, counter = sys.argv[1:5]
    raw = redis.Redis.from_url(url)
    configure_cache(backend=RedisBackend.from_url(url, namespace=ns, timeout=1.0))

    @cached("stampede:proc", ttl=60, lock=True)
    async def expensive(x: int) -> int:
        raw.incr(counter)
        await asyncio.sleep(0.3)
        return x * 100

    while not raw.exists(go_key):  # start together
        time.sleep(0.001)
    print(asyncio.run(expensive(5)))
    """
)


def test_four_processes_with_lock_compute_once(redis_url: str) -> None:
    ns = f"hp-lock-{uuid.uuid4().hex[:8]}"
    go_key = f"{ns}:go"
    counter = f"{ns}:executions"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, ns, go_key, counter],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    raw = redis.Redis.from_url(redis_url)
    try:
        threading.Event().wait(1.5)  # let the interpreters start
        raw.set(go_key, 1, ex=60)
        outputs = [p.communicate(timeout=60) for p in procs]
        for p, (out, err) in zip(procs, outputs, strict=True):
            assert p.returncode == 0, err
            assert out.strip() == "500"
        assert int(raw.get(counter) or 0) == 1
    finally:
        for p in procs:
            p.kill()
        for key in raw.scan_iter(match=f"{ns}:*"):
            raw.delete(key)
        raw.close()


def test_without_lock_processes_may_each_compute(redis_url: str) -> None:
    # The control for the test above: it must be the lock that makes the difference.
    ns = f"hp-nolock-{uuid.uuid4().hex[:8]}"
    script = WORKER.replace("lock=True", "lock=False")
    go_key = f"{ns}:go"
    counter = f"{ns}:executions"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, redis_url, ns, go_key, counter],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    raw = redis.Redis.from_url(redis_url)
    try:
        threading.Event().wait(1.5)
        raw.set(go_key, 1, ex=60)
        for p in procs:
            p.communicate(timeout=60)
        assert int(raw.get(counter) or 0) > 1
    finally:
        for p in procs:
            p.kill()
        for key in raw.scan_iter(match=f"{ns}:*"):
            raw.delete(key)
        raw.close()


def test_sync_lock_across_threads_with_separate_backends(redis_url: str) -> None:
    # Separate backend objects stand for separate processes; threads start them together.
    ns = f"hp-slock-{uuid.uuid4().hex[:8]}"
    raw = redis.Redis.from_url(redis_url)
    counter = f"{ns}:n"
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def worker() -> None:
        backend = RedisBackend.from_url(redis_url, namespace=ns, timeout=1.0)

        @cached("stampede:slock", ttl=60, lock=True, backend=backend)
        def expensive() -> int:
            raw.incr(counter)
            threading.Event().wait(0.2)
            return 42

        barrier.wait()
        results.append(expensive())
        backend.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert results == [42] * 4
        assert int(raw.get(counter) or 0) == 1
    finally:
        for key in raw.scan_iter(match=f"{ns}:*"):
            raw.delete(key)
        raw.close()


def test_a_caller_whose_read_missed_before_the_store_does_not_compute_again() -> None:
    # The race a loaded CI host once hit with 64 threads: a caller's GET misses, the previous
    # flight then computes, stores and ends, and only then does the caller reach the flight.
    calls: list[int] = []

    class LateReader(MemoryBackend):
        late = True

        def get(self, key: str) -> bytes | None:
            if self.late:
                self.late = False
                assert value(3) == 6  # another caller runs a whole flight meanwhile
                return None  # ...but this read had already missed
            return super().get(key)

    configure_cache(backend=LateReader())

    @cached("stampede:late", ttl=60)
    def value(x: int) -> int:
        calls.append(x)
        return x * 2

    assert value(3) == 6
    assert calls == [3]
