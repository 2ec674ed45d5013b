"""Tests of hardpoint._internal.breaker, all on a ManualClock."""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from hardpoint._internal.breaker import BreakerState, CircuitBreaker
from hardpoint._internal.clock import ManualClock
from hardpoint.errors import CircuitOpenError, ConfigurationError

TIMEOUT = 10.0  # seconds; only reached when the code under test is broken

Transition = tuple[str, BreakerState, BreakerState]


class Boom(Exception):
    pass


def state(breaker: CircuitBreaker) -> BreakerState:
    # A call, not the property, so that mypy does not narrow the state across statements.
    return breaker.state


def make(
    clock: ManualClock, *, threshold: int = 3, reset_timeout: float = 10.0
) -> tuple[CircuitBreaker, list[Transition]]:
    transitions: list[Transition] = []
    breaker = CircuitBreaker(
        name="redis",
        failure_threshold=threshold,
        reset_timeout=reset_timeout,
        clock=clock,
        on_state_change=lambda *args: transitions.append(args),
    )
    return breaker, transitions


def trip(breaker: CircuitBreaker, times: int = 3) -> None:
    for _ in range(times):
        breaker.record_failure()
    assert state(breaker) == "open"


def test_opens_after_exactly_threshold_consecutive_failures() -> None:
    breaker, _ = make(ManualClock(), threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) == "closed"
    assert breaker.allow()
    breaker.record_failure()
    assert state(breaker) == "open"
    assert not breaker.allow()


def test_success_in_between_resets_the_failure_count() -> None:
    breaker, _ = make(ManualClock(), threshold=3)
    for _ in range(5):
        breaker.record_failure()
        breaker.record_failure()
        breaker.record_success()
    assert state(breaker) == "closed"
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) == "closed"
    breaker.record_failure()
    assert state(breaker) == "open"


def test_threshold_of_one_opens_on_the_first_failure() -> None:
    breaker, _ = make(ManualClock(), threshold=1)
    breaker.record_failure()
    assert state(breaker) == "open"


def test_while_open_call_raises_without_calling_fn() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, reset_timeout=10.0)
    trip(breaker)
    clock.advance(4.0)
    calls = 0

    def fn() -> int:
        nonlocal calls
        calls += 1
        return 1

    for _ in range(3):
        assert not breaker.allow()
        with pytest.raises(CircuitOpenError) as excinfo:
            breaker.call(fn)
        assert excinfo.value.backend == "redis"
        assert excinfo.value.retry_after == pytest.approx(6.0)
    assert calls == 0
    assert breaker.retry_after() == pytest.approx(6.0)


def test_exactly_one_probe_after_reset_timeout() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, reset_timeout=10.0)
    trip(breaker)
    clock.advance(9.999)
    assert not breaker.allow()
    assert state(breaker) == "open"
    clock.advance(0.001)
    assert breaker.retry_after() == 0.0
    assert breaker.allow()
    assert state(breaker) == "half_open"
    assert [breaker.allow() for _ in range(10)] == [False] * 10
    assert breaker.retry_after() == pytest.approx(10.0)


def test_exactly_one_of_32_racing_threads_gets_the_probe() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, reset_timeout=10.0)
    trip(breaker)
    clock.advance(10.0)
    barrier = threading.Barrier(32)
    granted: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait(TIMEOUT)
        allowed = breaker.allow()
        with lock:
            granted.append(allowed)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
        assert not thread.is_alive()

    assert len(granted) == 32
    assert granted.count(True) == 1
    assert state(breaker) == "half_open"


def test_probe_success_closes_and_clears_failures() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, threshold=3, reset_timeout=10.0)
    trip(breaker)
    clock.advance(10.0)
    assert breaker.allow()
    breaker.record_success()
    assert state(breaker) == "closed"
    assert breaker.retry_after() == 0.0
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) == "closed"  # the count started again from zero


def test_probe_failure_reopens_and_restarts_the_timer() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, reset_timeout=10.0)
    trip(breaker)
    clock.advance(10.0)
    assert breaker.allow()
    clock.advance(3.0)
    breaker.record_failure()  # a single failure is enough in half-open
    assert state(breaker) == "open"
    assert breaker.retry_after() == pytest.approx(10.0)
    clock.advance(9.0)
    assert not breaker.allow()
    clock.advance(1.0)
    assert breaker.allow()
    assert state(breaker) == "half_open"


def test_lost_probe_is_replaced_after_another_reset_timeout() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, reset_timeout=10.0)
    trip(breaker)
    clock.advance(10.0)
    assert breaker.allow()  # this probe never reports back
    clock.advance(9.0)
    assert not breaker.allow()
    clock.advance(1.0)
    assert breaker.allow()  # a new probe
    assert not breaker.allow()
    breaker.record_success()
    assert state(breaker) == "closed"


def test_state_change_callback_sees_transitions_in_order() -> None:
    clock = ManualClock()
    breaker, transitions = make(clock, reset_timeout=10.0)
    trip(breaker)
    clock.advance(10.0)
    assert breaker.allow()
    breaker.record_failure()
    clock.advance(10.0)
    assert breaker.allow()
    breaker.record_success()
    trip(breaker)
    breaker.reset()
    breaker.reset()  # already closed: no transition
    assert transitions == [
        ("redis", "closed", "open"),
        ("redis", "open", "half_open"),
        ("redis", "half_open", "open"),
        ("redis", "open", "half_open"),
        ("redis", "half_open", "closed"),
        ("redis", "closed", "open"),
        ("redis", "open", "closed"),
    ]


def test_failing_state_change_callback_is_logged_and_swallowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def callback(name: str, old: BreakerState, new: BreakerState) -> None:
        raise Boom

    breaker = CircuitBreaker(
        name="vault", failure_threshold=1, clock=ManualClock(), on_state_change=callback
    )
    with caplog.at_level(logging.ERROR, logger="hardpoint._internal.breaker"):
        breaker.record_failure()
    assert state(breaker) == "open"
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == "on_state_change callback of circuit breaker vault failed"
    assert record.exc_info is not None
    assert record.exc_info[0] is Boom


def test_state_change_callback_runs_outside_the_lock() -> None:
    clock = ManualClock()
    seen: list[tuple[BreakerState, float]] = []

    def callback(name: str, old: BreakerState, new: BreakerState) -> None:
        # Would deadlock if the breaker still held its (non-reentrant) lock.
        seen.append((state(breaker), breaker.retry_after()))

    breaker = CircuitBreaker(
        name="redis", failure_threshold=1, reset_timeout=5.0, clock=clock, on_state_change=callback
    )
    breaker.record_failure()
    assert seen == [("open", 5.0)]


def test_reset_closes_and_forgets_failures() -> None:
    breaker, _ = make(ManualClock(), threshold=3)
    breaker.record_failure()
    breaker.record_failure()
    breaker.reset()
    breaker.record_failure()
    breaker.record_failure()
    assert state(breaker) == "closed"
    trip(breaker, 1)
    breaker.reset()
    assert state(breaker) == "closed"
    assert breaker.allow()


def test_reports_while_open_are_ignored() -> None:
    clock = ManualClock()
    breaker, transitions = make(clock, reset_timeout=10.0)
    trip(breaker)
    clock.advance(5.0)
    breaker.record_success()  # from a call that started before the breaker opened
    breaker.record_failure()
    assert state(breaker) == "open"
    assert breaker.retry_after() == pytest.approx(5.0)
    assert len(transitions) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"failure_threshold": 0}, "failure_threshold"),
        ({"failure_threshold": -3}, "failure_threshold"),
        ({"reset_timeout": 0.0}, "reset_timeout"),
        ({"reset_timeout": -1.0}, "reset_timeout"),
        ({"reset_timeout": float("nan")}, "reset_timeout"),
        ({"reset_timeout": float("inf")}, "reset_timeout"),
    ],
)
def test_bad_arguments_raise_configuration_error_naming_the_field(
    kwargs: dict[str, float], field: str
) -> None:
    with pytest.raises(ConfigurationError) as excinfo:
        CircuitBreaker(name="redis", **kwargs)  # type: ignore[arg-type]  # float for an int
    assert excinfo.value.field == field
    assert isinstance(excinfo.value, ValueError)


def test_repr_shows_name_and_state() -> None:
    breaker, _ = make(ManualClock(), threshold=1)
    assert repr(breaker) == "CircuitBreaker(name='redis', state='closed')"
    breaker.record_failure()
    assert repr(breaker) == "CircuitBreaker(name='redis', state='open')"
    assert breaker.name == "redis"


def test_call_records_success_and_failure() -> None:
    breaker, _ = make(ManualClock(), threshold=2)

    def fail() -> int:
        raise Boom

    assert breaker.call(lambda: 7) == 7
    with pytest.raises(Boom):
        breaker.call(fail)
    assert breaker.call(lambda: 8) == 8  # resets the count
    with pytest.raises(Boom):
        breaker.call(fail)
    assert state(breaker) == "closed"
    with pytest.raises(Boom):
        breaker.call(fail)
    assert state(breaker) == "open"


def test_call_base_exception_in_probe_frees_the_slot_and_counts_nothing() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, reset_timeout=10.0)
    trip(breaker)
    clock.advance(10.0)

    def interrupted() -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        breaker.call(interrupted)
    assert state(breaker) == "half_open"  # neither a failure nor a success
    assert breaker.call(lambda: 1) == 1  # the slot is free at once: this call probes
    assert state(breaker) == "closed"


def test_call_base_exception_while_closed_counts_nothing() -> None:
    breaker, _ = make(ManualClock(), threshold=1)

    def interrupted() -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        breaker.call(interrupted)
    assert state(breaker) == "closed"


def test_stale_probe_release_does_not_free_the_new_probes_slot() -> None:
    clock = ManualClock()
    breaker, _ = make(clock, reset_timeout=10.0)
    trip(breaker)
    clock.advance(10.0)
    release_old_probe = threading.Event()
    old_probe_running = threading.Event()

    def slow_interrupted() -> int:
        old_probe_running.set()
        assert release_old_probe.wait(TIMEOUT)
        raise KeyboardInterrupt

    def run_old_probe() -> None:
        with pytest.raises(KeyboardInterrupt):
            breaker.call(slow_interrupted)

    thread = threading.Thread(target=run_old_probe)
    thread.start()
    assert old_probe_running.wait(TIMEOUT)
    clock.advance(10.0)
    assert breaker.allow()  # the old probe counts as lost: a new probe
    release_old_probe.set()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert not breaker.allow()  # the old probe's release left the new probe's slot alone


async def test_acall_records_success_and_failure() -> None:
    breaker, _ = make(ManualClock(), threshold=1)

    async def ok() -> str:
        return "ok"

    async def fail() -> str:
        raise Boom

    assert await breaker.acall(ok) == "ok"
    with pytest.raises(Boom):
        await breaker.acall(fail)
    assert state(breaker) == "open"
    calls = 0

    async def counted() -> str:
        nonlocal calls
        calls += 1
        return "no"

    with pytest.raises(CircuitOpenError):
        await breaker.acall(counted)
    assert calls == 0


async def test_acall_cancelled_probe_frees_the_slot() -> None:
    clock = ManualClock()
    breaker, transitions = make(clock, reset_timeout=10.0)
    trip(breaker)
    clock.advance(10.0)
    started = asyncio.Event()

    async def hang() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    async def ok() -> str:
        return "ok"

    async with asyncio.timeout(TIMEOUT):
        probe = asyncio.create_task(breaker.acall(hang))
        await started.wait()
        assert state(breaker) == "half_open"
        with pytest.raises(CircuitOpenError):
            await breaker.acall(ok)  # the probe is out
        probe.cancel()
        with pytest.raises(asyncio.CancelledError):
            await probe

    assert state(breaker) == "half_open"  # cancellation is neither failure nor success
    assert breaker.retry_after() == 0.0
    assert await breaker.acall(ok) == "ok"  # no need to wait another reset_timeout
    assert state(breaker) == "closed"
    assert [new for _, _, new in transitions] == ["open", "half_open", "closed"]


# -- model-based test --------------------------------------------------------------------------


@dataclass
class ModelBreaker:
    """The documented behaviour, written as plainly as possible."""

    threshold: int
    timeout: float
    now: float = 0.0
    state: BreakerState = "closed"
    failures: int = 0
    opened_at: float = 0.0
    probe_at: float | None = None

    def allow(self) -> bool:
        if self.state == "closed":
            return True
        if self.state == "open":
            if self.now >= self.opened_at + self.timeout:
                self.state = "half_open"
                self.probe_at = self.now
                return True
            return False
        if self.probe_at is None or self.now >= self.probe_at + self.timeout:
            self.probe_at = self.now  # the previous probe is lost
            return True
        return False

    def success(self) -> None:
        if self.state in ("closed", "half_open"):
            self.state = "closed"
            self.failures = 0

    def failure(self) -> None:
        if self.state == "closed":
            self.failures += 1
            if self.failures == self.threshold:
                self.open()
        elif self.state == "half_open":
            self.open()

    def open(self) -> None:
        self.state = "open"
        self.opened_at = self.now
        self.failures = 0

    def retry_after(self) -> float:
        if self.state == "open":
            return max(0.0, self.opened_at + self.timeout - self.now)
        if self.state == "half_open" and self.probe_at is not None:
            return max(0.0, self.probe_at + self.timeout - self.now)
        return 0.0


# Multiples of 1/8 add and subtract exactly in binary floating point, so the model and the
# breaker agree on the boundary (elapsed == reset_timeout) instead of on rounding.
eighths = st.integers(min_value=0, max_value=160).map(lambda n: n / 8)


class BreakerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.transitions: list[Transition] = []
        self.breaker = CircuitBreaker(name="model", clock=self.clock)
        self.model = ModelBreaker(threshold=5, timeout=5.0)

    @initialize(
        threshold=st.integers(min_value=1, max_value=3),
        timeout=st.integers(min_value=1, max_value=80).map(lambda n: n / 8),
    )
    def configure(self, threshold: int, timeout: float) -> None:
        self.breaker = CircuitBreaker(
            name="model",
            failure_threshold=threshold,
            reset_timeout=timeout,
            clock=self.clock,
            on_state_change=lambda *args: self.transitions.append(args),
        )
        self.model = ModelBreaker(threshold=threshold, timeout=timeout, now=self.clock.monotonic())

    @rule()
    def success(self) -> None:
        self.breaker.record_success()
        self.model.success()

    @rule()
    def failure(self) -> None:
        self.breaker.record_failure()
        self.model.failure()

    @rule(dt=eighths)
    def advance(self, dt: float) -> None:
        self.clock.advance(dt)
        self.model.now += dt

    @rule()
    def allow(self) -> None:
        assert self.breaker.allow() == self.model.allow()

    @rule()
    def reset(self) -> None:
        self.breaker.reset()
        self.model.state = "closed"
        self.model.failures = 0
        self.model.probe_at = None

    @invariant()
    def same_state(self) -> None:
        assert state(self.breaker) == self.model.state
        assert self.breaker.retry_after() == self.model.retry_after()

    @invariant()
    def callback_tracks_the_state(self) -> None:
        for _, old, new in self.transitions:
            assert old != new
        for before, after in zip(self.transitions, self.transitions[1:], strict=False):
            assert before[2] == after[1]  # each transition starts where the last one ended
        if self.transitions:
            assert self.transitions[-1][2] == state(self.breaker)


# Lost probes need a trip, a probe and two long waits in a row: give the search room to find them.
BreakerMachine.TestCase.settings = settings(max_examples=500, stateful_step_count=40)
TestBreakerMatchesModel = BreakerMachine.TestCase
