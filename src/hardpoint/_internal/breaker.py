"""A circuit breaker: stop calling a backend that keeps failing, and probe it now and then.

```text
           failure_threshold consecutive failures
  closed ───────────────────────────────────────────▶ open
    ▲                                                │ ▲
    │ probe succeeds         reset_timeout has passed│ │ probe fails
    │                        (the next allow())      ▼ │
    └──────────────────────────────────────────── half_open
```

While open, callers fail fast instead of waiting on timeouts. Once *reset_timeout* seconds have
passed, exactly one caller is let through as a probe; its outcome closes or re-opens the
breaker. A probe that never reports back (its caller was cancelled or crashed) is replaced by a
new one after another *reset_timeout*, so the breaker cannot stay half-open forever.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Awaitable, Callable
from typing import Literal, TypeVar

from hardpoint._internal.clock import SYSTEM_CLOCK, Clock
from hardpoint.errors import CircuitOpenError, ConfigurationError

__all__ = ["BreakerState", "CircuitBreaker"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

BreakerState = Literal["closed", "open", "half_open"]

_NOT_A_PROBE = 0  # the ticket of a caller let through by a closed breaker; probes count from 1

_Transition = tuple[BreakerState, BreakerState]


class CircuitBreaker:
    """Fail fast while a backend keeps failing, and let one probe call test its recovery.

    Use `call` / `acall` around each backend call, or the three primitives: ask `allow` first,
    then report the outcome with `record_success` or `record_failure`.

    Thread-safe and task-safe: transitions happen under one `threading.Lock` that is never held
    across an ``await``. While closed, `allow` and a `record_success` with no failures to clear
    take no lock.

    Args:
        name: Backend name, used in logs, in `CircuitOpenError.backend` and in the callback.
        failure_threshold: Consecutive failures that open the breaker; at least 1.
        reset_timeout: Seconds the breaker stays open before it lets a probe through, and
            the time after which a probe that never reported back is replaced; positive.
        clock: Source of monotonic time; tests pass a `ManualClock`.
        on_state_change: Called as ``on_state_change(name, old_state, new_state)`` after each
            transition, outside the lock. Exceptions from it are logged and swallowed.

    Raises:
        ConfigurationError: *failure_threshold* or *reset_timeout* is out of range; its
            ``field`` names the argument.
    """

    __slots__ = (
        "_clock",
        "_failures",
        "_lock",
        "_name",
        "_on_state_change",
        "_opened_at",
        "_probe_at",
        "_probe_ticket",
        "_reset_timeout",
        "_state",
        "_threshold",
    )

    def __init__(
        self,
        *,
        name: str,
        failure_threshold: int = 5,
        reset_timeout: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
        on_state_change: Callable[[str, BreakerState, BreakerState], None] | None = None,
    ) -> None:
        if failure_threshold < 1:
            msg = f"failure_threshold must be at least 1, got {failure_threshold!r}"
            raise ConfigurationError(msg, field="failure_threshold")
        if not 0 < reset_timeout < math.inf:  # also rejects NaN
            msg = f"reset_timeout must be a positive number of seconds, got {reset_timeout!r}"
            raise ConfigurationError(msg, field="reset_timeout")
        self._name = name
        self._threshold = failure_threshold
        self._reset_timeout = float(reset_timeout)
        self._clock = clock
        self._on_state_change = on_state_change
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0  # consecutive failures while closed
        self._opened_at = 0.0  # monotonic time of the last transition to open
        self._probe_at: float | None = None  # when the outstanding probe was let through
        self._probe_ticket = _NOT_A_PROBE  # number of the latest probe let through

    @property
    def name(self) -> str:
        """The backend name given to the constructor."""
        return self._name

    @property
    def state(self) -> BreakerState:
        """The current state.

        The breaker stays ``"open"`` after *reset_timeout* has passed until the next `allow`
        (or `call`) moves it to ``"half_open"``.
        """
        return self._state

    def allow(self) -> bool:
        """Return whether a call may go to the backend now.

        Closed: always. Open: no, until *reset_timeout* has passed since it opened; then the
        breaker turns half-open and exactly one caller gets ``True`` (the probe). Half-open:
        no while the probe is outstanding, unless it has been outstanding for *reset_timeout*,
        in which case it counts as lost and this caller becomes the new probe.

        Report the outcome of every allowed call with `record_success` or `record_failure`;
        a probe that reports neither only holds the slot until it counts as lost.
        """
        if self._state == "closed":  # fast path, no lock: a stale read only delays a trip
            return True
        return self._admit() is not None

    def record_success(self) -> None:
        """Report that an allowed call succeeded.

        Closed: the consecutive-failure count starts again from zero. Half-open: the breaker
        closes. Open: ignored (the call started before the breaker opened).
        """
        if self._state == "closed" and self._failures == 0:  # fast path, nothing to clear
            return
        transition: _Transition | None = None
        with self._lock:
            if self._state == "closed":
                self._failures = 0
            elif self._state == "half_open":
                transition = self._set_state("closed")
        if transition is not None:
            self._notify(transition)

    def record_failure(self) -> None:
        """Report that an allowed call failed.

        Closed: counts a consecutive failure and opens the breaker at *failure_threshold*.
        Half-open: opens the breaker again and restarts the *reset_timeout* wait. Open:
        ignored (the call started before the breaker opened).
        """
        transition: _Transition | None = None
        with self._lock:
            if self._state == "closed":
                self._failures += 1
                if self._failures >= self._threshold:
                    transition = self._set_state("open")
            elif self._state == "half_open":
                transition = self._set_state("open")
        if transition is not None:
            self._notify(transition)

    def retry_after(self) -> float:
        """Return the seconds until a call may be allowed: 0 when one may go now."""
        with self._lock:
            if self._state == "open":
                since = self._opened_at
            elif self._state == "half_open" and self._probe_at is not None:
                since = self._probe_at
            else:
                return 0.0
            return max(0.0, since + self._reset_timeout - self._clock.monotonic())

    def reset(self) -> None:
        """Close the breaker and forget failures and any outstanding probe."""
        transition: _Transition | None = None
        with self._lock:
            self._failures = 0
            if self._state != "closed":
                transition = self._set_state("closed")
        if transition is not None:
            self._notify(transition)

    def call(self, fn: Callable[[], T]) -> T:
        """Return ``fn()`` through the breaker, recording its outcome.

        Args:
            fn: The backend call, with no arguments.

        Returns:
            What *fn* returned.

        Raises:
            CircuitOpenError: The breaker does not allow a call now; *fn* was not called.
            BaseException: Whatever *fn* raised. An `Exception` counts as a failure; other
                exceptions (`KeyboardInterrupt`, ...) count as nothing but free the probe slot.
        """
        ticket = self._admit_or_raise()
        try:
            result = fn()
        except Exception:
            self.record_failure()
            raise
        except BaseException:
            self._release_probe(ticket)
            raise
        self.record_success()
        return result

    async def acall(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Return ``await fn()`` through the breaker, recording its outcome.

        Args:
            fn: Returns the awaitable that calls the backend.

        Returns:
            What the awaitable returned.

        Raises:
            CircuitOpenError: The breaker does not allow a call now; *fn* was not called.
            BaseException: Whatever the call raised. An `Exception` counts as a failure;
                `asyncio.CancelledError` and other non-`Exception` errors count as nothing but
                free the probe slot, so the next caller can probe at once.
        """
        ticket = self._admit_or_raise()
        try:
            result = await fn()
        except Exception:
            self.record_failure()
            raise
        except BaseException:
            self._release_probe(ticket)
            raise
        self.record_success()
        return result

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self._name!r}, state={self._state!r})"

    # -- internals ---------------------------------------------------------------------------

    def _admit_or_raise(self) -> int:
        """Return a ticket as `_admit` does, or raise `CircuitOpenError` instead of `None`."""
        ticket = _NOT_A_PROBE if self._state == "closed" else self._admit()
        if ticket is None:
            msg = f"circuit breaker {self._name!r} is open"
            raise CircuitOpenError(msg, backend=self._name, retry_after=self.retry_after())
        return ticket

    def _admit(self) -> int | None:
        """Decide whether one caller may call the backend now, under the lock.

        Returns:
            `None` when it may not; `_NOT_A_PROBE` when the breaker is closed; otherwise this
            caller is the probe, and the number identifies it for `_release_probe`.
        """
        transition: _Transition | None = None
        with self._lock:
            if self._state == "closed":
                return _NOT_A_PROBE
            now = self._clock.monotonic()
            if self._state == "open":
                if now - self._opened_at < self._reset_timeout:
                    return None
                transition = self._set_state("half_open")
            elif self._probe_at is not None and now - self._probe_at < self._reset_timeout:
                return None  # half-open, and the probe is still out
            # Let this caller through as the probe; in half-open, the previous one is lost.
            self._probe_at = now
            self._probe_ticket += 1
            ticket = self._probe_ticket
        if transition is not None:
            self._notify(transition)
        return ticket

    def _release_probe(self, ticket: int) -> None:
        """Free the probe slot if *ticket* still holds it, so the next caller can probe."""
        if ticket == _NOT_A_PROBE:
            return
        with self._lock:
            if self._state == "half_open" and ticket == self._probe_ticket:
                self._probe_at = None

    def _set_state(self, new: BreakerState) -> _Transition:
        """Move to *new*; the caller holds the lock and calls `_notify` after releasing it."""
        old = self._state
        self._state = new
        self._probe_at = None
        if new == "open":
            self._opened_at = self._clock.monotonic()
        elif new == "closed":
            self._failures = 0
        return (old, new)

    def _notify(self, transition: _Transition) -> None:
        old, new = transition
        if new == "open" and old == "closed":
            logger.warning(
                "circuit breaker %s opened after %d consecutive failures",
                self._name,
                self._threshold,
                extra={"backend": self._name},
            )
        else:
            logger.info(
                "circuit breaker %s: %s -> %s", self._name, old, new, extra={"backend": self._name}
            )
        if self._on_state_change is None:
            return
        try:
            self._on_state_change(self._name, old, new)
        except Exception:
            logger.exception(
                "on_state_change callback of circuit breaker %s failed",
                self._name,
                extra={"backend": self._name},
            )
