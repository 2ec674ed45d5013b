"""TTL presets, jitter and probabilistic early refresh: pure functions, no I/O."""

from __future__ import annotations

import math
import random
from enum import IntEnum

__all__ = ["CacheStrategy", "jittered_ttl", "should_refresh_early"]


class CacheStrategy(IntEnum):
    """Named TTLs in seconds. Members are ints, so ``ttl=CacheStrategy.API_MEDIUM`` is 300."""

    API_SHORT = 60
    """Frequently changing API responses (1 minute)."""
    API_MEDIUM = 300
    """Typical API responses (5 minutes)."""
    API_LONG = 3600
    """Rarely changing API responses (1 hour)."""
    DB_HOT = 30
    """Hot database rows (30 seconds)."""
    DB_WARM = 300
    """Warm database rows (5 minutes)."""
    DB_COLD = 3600
    """Cold database rows (1 hour)."""
    LLM_SHORT = 1800
    """User-specific LLM answers (30 minutes)."""
    LLM_LONG = 86400
    """Generic LLM answers (24 hours)."""
    STATIC = 604800
    """Static content (7 days)."""


def jittered_ttl(ttl: float, jitter: float, rand: float | None = None) -> float:
    """Shorten *ttl* by a random fraction of at most *jitter*, to spread expiries.

    Jitter only ever shortens the TTL, so a value is never served longer than promised.

    Args:
        ttl: Seconds, positive.
        jitter: Largest fraction to take off, in ``[0, 1)``; 0 disables jitter.
        rand: A number in ``[0, 1)`` to use instead of `random.random` (for tests).

    Returns:
        Seconds in ``(ttl * (1 - jitter), ttl]``.
    """
    if jitter <= 0:
        return ttl
    r = random.random() if rand is None else rand  # noqa: S311 - spreading expiries, not crypto
    return ttl * (1.0 - jitter * r)


def should_refresh_early(
    *,
    now: float,
    expires_at: float,
    compute_time: float,
    beta: float = 1.0,
    rand: float | None = None,
) -> bool:
    """Decide whether to recompute a still-fresh value before it expires.

    This is the "XFetch" rule of Vattani et al., *Optimal Probabilistic Cache Stampede
    Prevention* (VLDB 2015): refresh when ``now - compute_time * beta * ln(U) >= expires_at``
    with ``U`` uniform in ``(0, 1]``. Values that take longer to compute are refreshed earlier,
    and the chance grows as expiry nears, so one caller refreshes before everyone misses.

    Args:
        now: Current time, on the same clock as *expires_at*.
        expires_at: When the value goes stale.
        compute_time: Seconds the last computation took.
        beta: Larger refreshes earlier; 1.0 is the paper's recommended value.
        rand: A number in ``(0, 1]`` to use instead of `random.random` (for tests).

    Returns:
        True when this caller should refresh now.
    """
    if compute_time <= 0:
        return now >= expires_at
    u = (1.0 - random.random()) if rand is None else rand  # noqa: S311 - not crypto
    if u <= 0:
        return True
    return now - compute_time * beta * math.log(u) >= expires_at
