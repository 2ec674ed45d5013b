"""Collapse concurrent calls for the same key into one call (request coalescing).

A cold cache entry requested by a thousand callers at once should reach the backend once, not a
thousand times (a "cache stampede"). `SingleFlight` does this for threads and
`AsyncSingleFlight` for asyncio tasks, after Go's ``golang.org/x/sync/singleflight``:

```python
flight = AsyncSingleFlight()
value = await flight.do(key, lambda: load_from_backend(key))
```

Only calls that *overlap* are merged. A key leaves the table as soon as its call finishes, so
the next call after that runs the function again; caching the result is the caller's job.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Hashable
from threading import Event, Lock, get_ident
from typing import Any, Generic, TypeVar

__all__ = ["AsyncSingleFlight", "SingleFlight"]

T = TypeVar("T")


class _Call(Generic[T]):
    """One in-flight call of `SingleFlight`: its outcome, and an event set when it is known."""

    __slots__ = ("done", "error", "owner", "result")

    result: T
    error: BaseException | None

    def __init__(self, owner: int) -> None:
        self.done = Event()
        self.owner = owner  # thread ident of the leader, to turn recursion into an error
        self.error = None


class SingleFlight:
    """Run at most one call per key at a time across threads; overlapping callers share it.

    The first caller for a key (the leader) runs the function in its own thread. Callers that
    arrive with the same key while it runs block until it finishes and then return the same
    object, or re-raise the same exception instance (whatever it is, `KeyboardInterrupt`
    included). The key is removed before the waiters wake, so a call that starts after that
    runs the function again.

    An instance holds one lock and a dict; each call allocates one small record and an event.
    Nothing is global: share an instance between the callers that should be merged.

    Example:
        >>> flight = SingleFlight()
        >>> flight.do("answer", lambda: 42)
        42
    """

    __slots__ = ("_calls", "_lock")

    def __init__(self) -> None:
        self._lock = Lock()
        self._calls: dict[Hashable, _Call[Any]] = {}

    def do(self, key: Hashable, fn: Callable[[], T]) -> T:
        """Return ``fn()``, or the result of the call already running for *key*.

        Args:
            key: What identifies the work; calls with equal keys are merged.
            fn: The work, called with no arguments, at most once per overlapping group.

        Returns:
            What *fn* returned, the same object for every caller of the group.

        Raises:
            RuntimeError: *fn* called `do` with its own key from the leader thread, which
                would wait for itself forever.
            BaseException: Whatever *fn* raised, re-raised in every caller of the group.
        """
        with self._lock:
            call: _Call[T] | None = self._calls.get(key)
            if call is None:
                call = _Call(get_ident())
                self._calls[key] = call
                leader = True
            else:
                leader = False
        if not leader:
            if call.owner == get_ident():
                msg = f"recursive SingleFlight.do() for key {key!r} would deadlock"
                raise RuntimeError(msg)
            call.done.wait()
            if call.error is not None:
                raise call.error
            return call.result
        try:
            call.result = fn()
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            # Forget the key before waking the waiters: anyone arriving from now on recomputes.
            with self._lock:
                del self._calls[key]
            call.done.set()
        return call.result

    def in_flight(self, key: Hashable) -> bool:
        """Return whether a call for *key* is running now."""
        with self._lock:
            return key in self._calls

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)

    def __repr__(self) -> str:
        return f"SingleFlight(in_flight={len(self)})"


async def _run(fn: Callable[[], Awaitable[T]]) -> T:
    # Call fn inside the task, so that an exception raised before its first await also reaches
    # every waiter and goes through the done-callback that forgets the key.
    return await fn()


class AsyncSingleFlight:
    """Run at most one call per key at a time in each event loop; overlapping tasks share it.

    The first caller for a key starts the work in a task of its own, and every caller, the first
    included, awaits that task through `asyncio.shield`. Cancelling a caller therefore cancels
    only its own wait: the others still get the result, and when every caller has gone the task
    still runs to completion (it may be storing a value), its exception marked as retrieved so
    that asyncio logs no "exception was never retrieved". All callers get the same object or the
    same exception instance. The task's done-callback forgets the key before the waiters
    resume, so a call that starts after that runs the function again.

    Keys are kept per event loop: tasks of two loops (in two threads) never share a call. The
    instance holds one dict; each call allocates a task and a table entry, nothing else.

    Example:
        >>> async def main() -> int:
        ...     async def answer() -> int:
        ...         return 42
        ...     return await AsyncSingleFlight().do("answer", answer)
        >>> asyncio.run(main())
        42
    """

    __slots__ = ("_tasks",)

    def __init__(self) -> None:
        # Entries of one loop are only touched from that loop's thread, and two loops never
        # share an entry, so a plain dict needs no lock (its single operations are atomic).
        self._tasks: dict[tuple[asyncio.AbstractEventLoop, Hashable], asyncio.Task[Any]] = {}

    async def do(self, key: Hashable, fn: Callable[[], Awaitable[T]]) -> T:
        """Return ``await fn()``, or the result of the call already running for *key*.

        Args:
            key: What identifies the work; calls with equal keys in the same loop are merged.
            fn: Returns the awaitable that does the work; called at most once per group.

        Returns:
            What the awaitable returned, the same object for every caller of the group.

        Raises:
            asyncio.CancelledError: This caller was cancelled (the work goes on for the others),
                or the work itself was cancelled.
            RuntimeError: The work called `do` with its own key, which would wait for itself
                forever.
            BaseException: Whatever the work raised, re-raised in every caller of the group.
        """
        loop = asyncio.get_running_loop()
        table_key = (loop, key)
        task: asyncio.Task[T] | None = self._tasks.get(table_key)
        if task is None:
            task = loop.create_task(_run(fn))
            self._tasks[table_key] = task
            # Added before any waiter's shield callback, so it runs first: the key is gone
            # by the time the waiters resume.
            task.add_done_callback(functools.partial(self._forget, table_key))
        elif task is asyncio.current_task():
            msg = f"recursive AsyncSingleFlight.do() for key {key!r} would deadlock"
            raise RuntimeError(msg)
        return await asyncio.shield(task)

    def _forget(
        self, table_key: tuple[asyncio.AbstractEventLoop, Hashable], task: asyncio.Task[Any]
    ) -> None:
        if self._tasks.get(table_key) is task:
            del self._tasks[table_key]
        if not task.cancelled():
            # Mark the exception as retrieved: when every waiter was cancelled, nobody else
            # will, and asyncio would log "Task exception was never retrieved".
            task.exception()

    def in_flight(self, key: Hashable) -> bool:
        """Return whether a call for *key* is running in the running event loop.

        Raises:
            RuntimeError: No event loop is running in this thread.
        """
        return (asyncio.get_running_loop(), key) in self._tasks

    def __len__(self) -> int:
        """Return the number of calls in flight, across all event loops."""
        return len(self._tasks)

    def __repr__(self) -> str:
        return f"AsyncSingleFlight(in_flight={len(self)})"
