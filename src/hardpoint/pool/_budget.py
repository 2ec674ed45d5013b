"""Size a pool, and check a fleet of pools against the server's ``max_connections``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from hardpoint.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["ConnectionBudget", "check_connection_budget", "size_pool"]


def size_pool(
    *,
    kind: Literal["cpu", "wait"],
    db_cores: int | None = None,
    rate_per_s: float | None = None,
    hold_time_s: float | None = None,
    headroom: float = 1.2,
) -> int:
    """Return a pool size for one process.

    CPU-bound work (the database is busy computing) gains nothing from more connections than
    the server can run at once: about 2 x *db_cores*. Wait-bound work (connections mostly sit in
    network round trips or application code while held) needs Little's law: requests per second
    x seconds each holds a connection, x *headroom* for bursts.

    Args:
        kind: ``"cpu"`` or ``"wait"``.
        db_cores: Database server cores, for ``kind="cpu"``.
        rate_per_s: Checkouts per second in this process, for ``kind="wait"``.
        hold_time_s: Mean seconds a connection is held per checkout, for ``kind="wait"``.
        headroom: Factor above the mean for ``kind="wait"``, at least 1.

    Returns:
        The pool size, at least 1.

    Raises:
        ConfigurationError: A needed argument is missing or not positive.
    """
    if str(kind) not in ("cpu", "wait"):
        msg = f"kind must be 'cpu' or 'wait', not {kind!r}"
        raise ConfigurationError(msg, field="kind")
    if kind == "cpu":
        cores = _positive("db_cores", db_cores)
        return max(1, 2 * math.ceil(cores))
    rate = _positive("rate_per_s", rate_per_s)
    hold = _positive("hold_time_s", hold_time_s)
    if headroom < 1:
        msg = f"headroom must be at least 1, not {headroom!r}"
        raise ConfigurationError(msg, field="headroom")
    return max(1, math.ceil(rate * hold * headroom))


def _positive(name: str, value: float | None) -> float:
    if value is None or isinstance(value, bool) or value <= 0:
        msg = f"{name} must be a positive number, not {value!r}"
        raise ConfigurationError(msg, field=name)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionBudget:
    """A plan of per-process pools that fits the server.

    Attributes:
        per_process: ``pool_size + max_overflow``: the most connections one process opens.
        processes: Processes (workers x replicas) that each hold such a pool.
        total: ``per_process x processes``: the fleet's worst case.
        available: ``max_connections - reserve``: what the application may use.
        spare: ``available - total``, at least 0.
    """

    per_process: int
    processes: int
    total: int
    available: int
    spare: int


def _pool_numbers(engine_or_numbers: Engine | AsyncEngine | tuple[int, int]) -> tuple[int, int]:
    if isinstance(engine_or_numbers, tuple):
        size, overflow = engine_or_numbers
        return int(size), int(overflow)
    engine = getattr(engine_or_numbers, "sync_engine", engine_or_numbers)
    pool = engine.pool
    size_of = getattr(pool, "size", None)
    overflow = getattr(pool, "_max_overflow", 0)
    if size_of is None:  # NullPool and friends: one connection per concurrent checkout
        msg = (
            f"{type(pool).__name__} has no size limit; pass (pool_size, max_overflow) with "
            f"the concurrency you expect instead"
        )
        raise ConfigurationError(msg, field="engine_or_numbers")
    return int(size_of()), max(0, int(overflow))


def check_connection_budget(
    engine_or_numbers: Engine | AsyncEngine | tuple[int, int],
    *,
    processes: int,
    max_connections: int = 100,
    reserve: int = 10,
) -> ConnectionBudget:
    """Check that *processes* pools fit under the server's ``max_connections``.

    Args:
        engine_or_numbers: An engine (its pool's size and overflow are read) or a
            ``(pool_size, max_overflow)`` tuple.
        processes: How many processes each hold such a pool (workers per host x hosts).
        max_connections: The server's ``max_connections`` (PgBouncer: its pool size).
        reserve: Connections kept free for admins, migrations and superuser slots.

    Returns:
        The budget, when it fits.

    Raises:
        ConfigurationError: The plan does not fit (``field="processes"``), or an argument is
            invalid.
    """
    size, overflow = _pool_numbers(engine_or_numbers)
    if size < 0 or overflow < 0:
        msg = f"pool_size and max_overflow must be >= 0, not {size} and {overflow}"
        raise ConfigurationError(msg, field="engine_or_numbers")
    if processes < 1:
        msg = f"processes must be at least 1, not {processes}"
        raise ConfigurationError(msg, field="processes")
    if reserve < 0 or max_connections <= reserve:
        msg = f"need 0 <= reserve < max_connections, not reserve={reserve}, max={max_connections}"
        raise ConfigurationError(msg, field="reserve")
    per_process = size + overflow
    total = per_process * processes
    available = max_connections - reserve
    if total > available:
        fitting = available // per_process if per_process else processes
        msg = (
            f"{processes} processes x (pool_size {size} + max_overflow {overflow}) = {total} "
            f"connections, but the server allows {available} "
            f"(max_connections {max_connections} - reserve {reserve}); use at most {fitting} "
            f"processes, a pool of at most {available // processes} per process, or PgBouncer"
        )
        raise ConfigurationError(msg, field="processes")
    return ConnectionBudget(
        per_process=per_process,
        processes=processes,
        total=total,
        available=available,
        spare=available - total,
    )
