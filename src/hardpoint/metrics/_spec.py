"""The metrics hardpoint exports: one table that both exporters and the docs follow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["DURATION_BUCKETS", "METRICS", "MetricSpec"]

Kind = Literal["counter", "histogram", "gauge"]


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """One exported metric.

    Attributes:
        name: The Prometheus name (counters without their ``_total`` suffix, which
            prometheus_client adds).
        otel_name: The OpenTelemetry instrument name.
        kind: ``counter``, ``histogram`` or ``gauge``.
        unit: The unit: ``seconds``, ``bytes``, ``dollars``, a timestamp in seconds, or ``1``.
        labels: Label (attribute) names, in order.
        source: The event(s) and field(s) it is computed from.
        help: One sentence for the ``# HELP`` line.
    """

    name: str
    otel_name: str
    kind: Kind
    unit: str
    labels: tuple[str, ...]
    source: str
    help: str

    @property
    def exposed_name(self) -> str:
        """The name as scraped: counters carry ``_total``."""
        return self.name + "_total" if self.kind == "counter" else self.name


DURATION_BUCKETS: Final = (
    0.00001,
    0.000025,
    0.00005,
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
"""Histogram buckets in seconds, from a 10 µs memory hit to a 10 s pool wait."""

_M = MetricSpec

CACHE_REQUESTS: Final = _M(
    "hardpoint_cache_requests",
    "hardpoint.cache.requests",
    "counter",
    "1",
    ("prefix", "backend", "result"),
    "CacheHit (hit), CacheMiss (miss), CacheStaleServed (stale)",
    "Cache lookups by result (hit, miss, stale).",
)
CACHE_LOOKUP: Final = _M(
    "hardpoint_cache_lookup_duration_seconds",
    "hardpoint.cache.lookup.duration",
    "histogram",
    "seconds",
    ("prefix", "backend", "result"),
    "CacheHit.latency, CacheMiss.latency",
    "Time from the start of a lookup to the hit or miss decision.",
)
CACHE_ERRORS: Final = _M(
    "hardpoint_cache_errors",
    "hardpoint.cache.errors",
    "counter",
    "1",
    ("prefix", "backend", "operation"),
    "CacheError",
    "Backend operations that failed or were skipped by an open breaker.",
)
CACHE_CORRUPT: Final = _M(
    "hardpoint_cache_corrupt_entries",
    "hardpoint.cache.corrupt_entries",
    "counter",
    "1",
    ("prefix", "backend"),
    "CacheCorrupt",
    "Stored entries that were unsigned, tampered with or undecodable, and deleted.",
)
BREAKER_TRANSITIONS: Final = _M(
    "hardpoint_breaker_transitions",
    "hardpoint.breaker.transitions",
    "counter",
    "1",
    ("breaker", "state"),
    "BreakerStateChanged.new",
    "Circuit breaker state changes, by the state entered.",
)
LLM_REQUESTS: Final = _M(
    "hardpoint_llm_cache_requests",
    "hardpoint.llm_cache.requests",
    "counter",
    "1",
    ("model", "result"),
    "LLMCacheHit (hit: one provider call saved), LLMCacheMiss (miss, or bypass if not cacheable)",
    "LLM cache lookups by result; each hit is a provider call saved.",
)
LLM_TOKENS: Final = _M(
    "hardpoint_llm_cache_saved_tokens",
    "hardpoint.llm_cache.saved_tokens",
    "counter",
    "1",
    ("model", "kind"),
    "LLMCacheHit.input_tokens (kind=input), .output_tokens (kind=output)",
    "Provider tokens not spent thanks to LLM cache hits.",
)
LLM_DOLLARS: Final = _M(
    "hardpoint_llm_cache_saved_dollars",
    "hardpoint.llm_cache.saved_cost",
    "counter",
    "dollars",
    ("model",),
    "LLMCacheHit.dollars_saved",
    "Estimated provider cost of the answers served from the LLM cache, in US dollars.",
)
BLOCKED: Final = _M(
    "hardpoint_validation_blocked_requests",
    "hardpoint.validation.blocked_requests",
    "counter",
    "1",
    ("rule", "location", "mode"),
    "RequestBlocked (location reduced to its kind; mode=monitor if monitored)",
    "Requests the validation middleware refused (or would have, in monitor mode).",
)
BLOCKED_BY_CLIENT: Final = _M(
    "hardpoint_validation_client_blocked_requests",
    "hardpoint.validation.client_blocked_requests",
    "counter",
    "1",
    ("client",),
    "RequestBlocked.client (opt-in: per_client=N; top N addresses, the rest 'other')",
    "Blocked requests by client address, for at most per_client addresses.",
)
SECRET_READS: Final = _M(
    "hardpoint_secret_reads",
    "hardpoint.secrets.reads",
    "counter",
    "1",
    ("secret", "backend", "result"),
    "SecretRead",
    "Secret reads by result: hit (process cache), miss (backend fetch), stale.",
)
SECRET_FAILURES: Final = _M(
    "hardpoint_secret_read_failures",
    "hardpoint.secrets.read_failures",
    "counter",
    "1",
    ("secret", "backend", "error"),
    "SecretReadFailed",
    "Secret reads that failed, by error class.",
)
SECRET_ROTATION: Final = _M(
    "hardpoint_secret_last_rotation_timestamp_seconds",
    "hardpoint.secrets.last_rotation",
    "gauge",
    "seconds (Unix time)",
    ("secret", "backend"),
    "SecretRead.created; else the time this process first saw a new version",
    "When the secret's current version was created (Unix time).",
)
POOL_WAIT: Final = _M(
    "hardpoint_pool_checkout_wait_seconds",
    "hardpoint.pool.checkout.wait",
    "histogram",
    "seconds",
    ("pool",),
    "PoolCheckout.wait",
    "Time spent waiting for a pooled connection (its _count is the checkouts).",
)
POOL_IN_USE: Final = _M(
    "hardpoint_pool_connections_in_use",
    "hardpoint.pool.connections.in_use",
    "gauge",
    "1",
    ("pool",),
    "PoolCheckout.in_use (sampled at each checkout)",
    "Connections checked out, as of the latest checkout.",
)
POOL_MAX: Final = _M(
    "hardpoint_pool_connections_max",
    "hardpoint.pool.connections.max",
    "gauge",
    "1",
    ("pool",),
    "PoolCheckout.size",
    "Most connections the pool hands out at once (size plus overflow).",
)
POOL_TIMEOUTS: Final = _M(
    "hardpoint_pool_timeouts",
    "hardpoint.pool.timeouts",
    "counter",
    "1",
    ("pool",),
    "PoolTimeout",
    "Checkouts that gave up because no connection became free in time.",
)

METRICS: Final = (
    CACHE_REQUESTS,
    CACHE_LOOKUP,
    CACHE_ERRORS,
    CACHE_CORRUPT,
    BREAKER_TRANSITIONS,
    LLM_REQUESTS,
    LLM_TOKENS,
    LLM_DOLLARS,
    BLOCKED,
    BLOCKED_BY_CLIENT,
    SECRET_READS,
    SECRET_FAILURES,
    SECRET_ROTATION,
    POOL_WAIT,
    POOL_IN_USE,
    POOL_MAX,
    POOL_TIMEOUTS,
)
"""Every metric, in the order of the docs table."""
