"""An injectable clock, so TTL, staleness and breaker logic are tested without sleeping."""

from __future__ import annotations

import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["SYSTEM_CLOCK", "Clock", "ManualClock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Where time comes from.

    ``monotonic()`` measures intervals (TTLs, timeouts); ``time()`` is wall-clock seconds since
    the epoch, used only for values shared between processes (such as an entry's created-at).
    """

    def monotonic(self) -> float:
        """Return seconds from an arbitrary origin that never goes backwards."""
        ...

    def time(self) -> float:
        """Return wall-clock seconds since the Unix epoch."""
        ...


class SystemClock:
    """The real clock: `time.monotonic` and `time.time`."""

    __slots__ = ()

    # The C functions themselves: no Python frame on hot paths that read the clock.
    monotonic = staticmethod(time.monotonic)
    """Return `time.monotonic()`."""
    time = staticmethod(time.time)
    """Return `time.time()`."""

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK: SystemClock = SystemClock()


class ManualClock:
    """A clock that moves only when told to. Thread-safe.

    Args:
        start: Initial monotonic reading, in seconds.
        wall: Initial wall-clock reading, in seconds since the epoch.
    """

    __slots__ = ("_lock", "_monotonic", "_offset")

    def __init__(self, start: float = 0.0, *, wall: float = 1_700_000_000.0) -> None:
        self._lock = threading.Lock()
        self._monotonic = start
        self._offset = wall - start

    def monotonic(self) -> float:
        """Return the current manual reading."""
        return self._monotonic

    def time(self) -> float:
        """Return the wall-clock reading, which moves with `advance`."""
        return self._monotonic + self._offset

    def advance(self, seconds: float) -> None:
        """Move both readings forward by *seconds* (must not be negative)."""
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go backwards")
        with self._lock:
            self._monotonic += seconds

    def __repr__(self) -> str:
        return f"ManualClock(monotonic={self._monotonic!r})"
