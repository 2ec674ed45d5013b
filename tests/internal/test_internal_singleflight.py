"""Tests of hardpoint._internal.singleflight (threads and asyncio)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import Callable
from typing import Any

import pytest

from hardpoint._internal import singleflight
from hardpoint._internal.singleflight import AsyncSingleFlight, SingleFlight

TIMEOUT = 10.0  # seconds; only reached when the code under test is broken


class Boom(Exception):
    pass


class SignallingKey:
    """A key that sets `all_seen` once *expected* distinct threads have hashed it.

    Every caller of `SingleFlight.do` hashes the key while it looks the table up under the
    lock, so once all threads have hashed it, all of them have joined the call (the leader
    cannot remove the key before the last lookup has released the lock).
    """

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.all_seen = threading.Event()
        self._lock = threading.Lock()
        self._threads: set[int] = set()

    def __hash__(self) -> int:
        with self._lock:
            self._threads.add(threading.get_ident())
            if len(self._threads) >= self.expected:
                self.all_seen.set()
        return 1


def cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    # A helper, so that no loop variable in the test keeps a cancelled task alive.
    for task in tasks:
        task.cancel()


def run_threads(n: int, target: Callable[[], object]) -> list[object]:
    """Run *target* in *n* threads that start together; return results or exceptions."""
    barrier = threading.Barrier(n)
    outcomes: list[object] = [None] * n

    def worker(i: int) -> None:
        barrier.wait(TIMEOUT)
        try:
            outcomes[i] = target()
        except BaseException as exc:  # collected for the assertions
            outcomes[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive()
    return outcomes


# -- SingleFlight (threads) ------------------------------------------------------------------


def test_threads_overlapping_calls_run_fn_once_and_share_the_result() -> None:
    flight = SingleFlight()
    key = SignallingKey(64)
    release = threading.Event()
    calls = 0
    result = object()

    def fn() -> object:
        nonlocal calls
        calls += 1
        assert release.wait(TIMEOUT)
        return result

    def release_when_all_joined() -> None:
        assert key.all_seen.wait(TIMEOUT)
        release.set()

    releaser = threading.Thread(target=release_when_all_joined)
    releaser.start()
    outcomes = run_threads(64, lambda: flight.do(key, fn))
    releaser.join(TIMEOUT)

    assert calls == 1
    assert all(outcome is result for outcome in outcomes)
    assert len(flight) == 0
    assert not flight.in_flight(key)


def test_threads_exception_reaches_every_waiter() -> None:
    flight = SingleFlight()
    key = SignallingKey(16)
    calls = 0
    error = Boom("backend down")

    def fn() -> object:
        nonlocal calls
        calls += 1
        assert key.all_seen.wait(TIMEOUT)
        raise error

    outcomes = run_threads(16, lambda: flight.do(key, fn))

    assert calls == 1
    assert all(outcome is error for outcome in outcomes)
    assert len(flight) == 0


def test_threads_distinct_keys_run_concurrently() -> None:
    flight = SingleFlight()
    both_running = threading.Barrier(2)  # breaks (times out) if the keys were serialised

    def fn() -> str:
        both_running.wait(TIMEOUT)
        return "done"

    keys = iter(["a", "b"])
    lock = threading.Lock()

    def target() -> str:
        with lock:
            key = next(keys)
        return flight.do(key, fn)

    assert run_threads(2, target) == ["done", "done"]
    assert len(flight) == 0


def test_threads_key_is_in_flight_only_while_the_call_runs() -> None:
    flight = SingleFlight()
    seen: list[tuple[bool, int]] = []

    def fn() -> int:
        seen.append((flight.in_flight("k"), len(flight)))
        return 1

    assert flight.do("k", fn) == 1
    assert seen == [(True, 1)]
    assert not flight.in_flight("k")
    assert len(flight) == 0


def test_threads_later_call_recomputes_after_success_and_after_error() -> None:
    flight = SingleFlight()
    calls = 0

    def fn() -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Boom
        return calls

    assert flight.do("k", fn) == 1
    with pytest.raises(Boom):
        flight.do("k", fn)
    assert flight.do("k", fn) == 3
    assert len(flight) == 0


def test_threads_recursive_call_raises_instead_of_deadlocking() -> None:
    flight = SingleFlight()

    def fn() -> int:
        return flight.do("k", lambda: 1)

    with pytest.raises(RuntimeError, match="recursive"):
        flight.do("k", fn)
    assert len(flight) == 0


@pytest.mark.parametrize("fails", [False, True], ids=["returns", "raises"])
def test_threads_key_is_gone_before_waiters_wake(
    monkeypatch: pytest.MonkeyPatch, fails: bool
) -> None:
    flight = SingleFlight()
    in_flight_when_woken: list[bool] = []

    class SpyEvent(threading.Event):
        def set(self) -> None:
            in_flight_when_woken.append(flight.in_flight("k"))
            super().set()

    monkeypatch.setattr(singleflight, "Event", SpyEvent)

    def fn() -> int:
        if fails:
            raise Boom
        return 1

    with contextlib.suppress(Boom):
        flight.do("k", fn)

    assert in_flight_when_woken == [False]


# -- AsyncSingleFlight -------------------------------------------------------------------------


async def test_async_1000_callers_on_a_cold_key_run_fn_once() -> None:
    flight = AsyncSingleFlight()
    release = asyncio.Event()
    all_joined = asyncio.Event()
    joined = 0
    calls = 0
    result = object()

    async def fn() -> object:
        nonlocal calls
        calls += 1
        await release.wait()
        return result

    async def caller() -> object:
        nonlocal joined
        joined += 1
        if joined == 1000:
            all_joined.set()
        # No await between here and do()'s table lookup: this caller joins before yielding.
        return await flight.do("k", fn)

    async with asyncio.timeout(TIMEOUT):
        tasks = [asyncio.create_task(caller()) for _ in range(1000)]
        await all_joined.wait()
        assert flight.in_flight("k")
        assert len(flight) == 1
        release.set()
        results = await asyncio.gather(*tasks)

    assert calls == 1
    assert len(results) == 1000
    assert all(r is result for r in results)
    assert len(flight) == 0
    assert not flight.in_flight("k")


async def test_async_exception_reaches_every_waiter() -> None:
    flight = AsyncSingleFlight()
    release = asyncio.Event()
    error = Boom("backend down")
    calls = 0

    async def fn() -> object:
        nonlocal calls
        calls += 1
        await release.wait()
        raise error

    async with asyncio.timeout(TIMEOUT):
        tasks = [asyncio.create_task(flight.do("k", fn)) for _ in range(100)]
        release.set()  # fn still waits its turn: the callers' tasks run (and join) first
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)

    assert calls == 1
    assert all(outcome is error for outcome in outcomes)
    assert len(flight) == 0


async def test_async_exception_raised_before_the_first_await_reaches_every_waiter() -> None:
    flight = AsyncSingleFlight()

    def fn() -> asyncio.Future[int]:
        raise Boom

    async with asyncio.timeout(TIMEOUT):
        outcomes = await asyncio.gather(
            *(flight.do("k", fn) for _ in range(3)), return_exceptions=True
        )

    assert all(isinstance(outcome, Boom) for outcome in outcomes)
    assert outcomes[0] is outcomes[1] is outcomes[2]
    assert len(flight) == 0


async def test_async_distinct_keys_run_concurrently() -> None:
    flight = AsyncSingleFlight()
    both_running = asyncio.Barrier(2)  # never passes if the keys were serialised

    async def fn() -> str:
        await both_running.wait()
        return "done"

    async with asyncio.timeout(TIMEOUT):
        results = await asyncio.gather(flight.do("a", fn), flight.do("b", fn))

    assert list(results) == ["done", "done"]
    assert len(flight) == 0


async def test_async_cancelling_the_leader_and_some_waiters_spares_the_others() -> None:
    flight = AsyncSingleFlight()
    started = asyncio.Event()
    release = asyncio.Event()
    calls = 0

    async def fn() -> str:
        nonlocal calls
        calls += 1
        started.set()
        await release.wait()
        return "value"

    async with asyncio.timeout(TIMEOUT):
        tasks = [asyncio.create_task(flight.do("k", fn)) for _ in range(10)]
        await started.wait()  # the computation task was created by tasks[0], the leader
        cancelled, survivors = tasks[:5], tasks[5:]
        for task in cancelled:
            task.cancel()
        await asyncio.gather(*cancelled, return_exceptions=True)
        assert flight.in_flight("k")
        release.set()
        results = await asyncio.gather(*survivors)

    assert all(task.cancelled() for task in cancelled)
    assert results == ["value"] * 5
    assert calls == 1
    assert len(flight) == 0


@pytest.mark.parametrize("fails", [False, True], ids=["returns", "raises"])
async def test_async_all_waiters_cancelled_computation_completes_silently(fails: bool) -> None:
    flight = AsyncSingleFlight()
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    started = asyncio.Event()
    release = asyncio.Event()
    finished = asyncio.Event()

    async def fn() -> str:
        started.set()
        await release.wait()
        finished.set()
        if fails:
            raise Boom("nobody is listening")
        return "stored"

    try:
        async with asyncio.timeout(TIMEOUT):
            tasks = [asyncio.create_task(flight.do("k", fn)) for _ in range(3)]
            await started.wait()
            cancel_all(tasks)
            await asyncio.gather(*tasks, return_exceptions=True)
            assert all(t.cancelled() for t in tasks)
            assert flight.in_flight("k")  # still running for nobody
            release.set()
            await finished.wait()
            # The task ended in the step that woke us, so its done-callback is already queued
            # ahead of us: one loop turn runs it.
            await asyncio.sleep(0)
            assert not flight.in_flight("k")
        # The cancelled waiters keep their CancelledError, whose traceback holds do()'s frame
        # and so the computation task. Drop them and collect: an unretrieved exception would
        # be reported to the loop's exception handler now.
        del tasks
        gc.collect()
    finally:
        loop.set_exception_handler(None)

    assert reported == []
    assert len(flight) == 0


async def test_control_an_unretrieved_task_exception_is_reported_after_gc() -> None:
    # Shows that the check above can see the failure it looks for.
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))

    async def fail() -> None:
        raise Boom

    try:
        task = asyncio.create_task(fail())
        await asyncio.wait([task])
        del task
        gc.collect()
    finally:
        loop.set_exception_handler(None)

    assert [context["message"] for context in reported] == ["Task exception was never retrieved"]


async def test_async_later_call_recomputes_after_success_and_after_error() -> None:
    flight = AsyncSingleFlight()
    calls = 0

    async def fn() -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Boom
        return calls

    assert await flight.do("k", fn) == 1
    with pytest.raises(Boom):
        await flight.do("k", fn)
    assert await flight.do("k", fn) == 3
    assert len(flight) == 0


async def test_async_key_is_gone_before_waiters_resume() -> None:
    flight = AsyncSingleFlight()
    release = asyncio.Event()
    seen_by_waiters: list[bool] = []

    async def fn() -> int:
        await release.wait()
        return 1

    async def caller() -> int:
        value = await flight.do("k", fn)
        seen_by_waiters.append(flight.in_flight("k"))
        return value

    async with asyncio.timeout(TIMEOUT):
        tasks = [asyncio.create_task(caller()) for _ in range(3)]
        release.set()  # fn still waits its turn: the callers' tasks run (and join) first
        assert await asyncio.gather(*tasks) == [1, 1, 1]
    assert seen_by_waiters == [False, False, False]


async def test_async_recursive_call_raises_instead_of_deadlocking() -> None:
    flight = AsyncSingleFlight()

    async def inner() -> int:
        return 1

    async def fn() -> int:
        return await flight.do("k", inner)

    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(RuntimeError, match="recursive"):
            await flight.do("k", fn)
    assert len(flight) == 0


def test_async_keys_are_per_event_loop() -> None:
    flight = AsyncSingleFlight()
    both_computing = threading.Barrier(2)  # times out if one loop joined the other's call
    lock = threading.Lock()
    calls = 0

    async def fn() -> int:
        nonlocal calls
        with lock:
            calls += 1
        await asyncio.to_thread(both_computing.wait, TIMEOUT)
        return threading.get_ident()

    async def main() -> int:
        async with asyncio.timeout(TIMEOUT):
            return await flight.do("same key", fn)

    outcomes = run_threads(2, lambda: asyncio.run(main()))

    assert calls == 2
    assert all(isinstance(outcome, int) for outcome in outcomes)
    assert outcomes[0] != outcomes[1]  # each loop got the value its own thread computed
    assert len(flight) == 0


def test_async_in_flight_needs_a_running_loop() -> None:
    with pytest.raises(RuntimeError):
        AsyncSingleFlight().in_flight("k")
