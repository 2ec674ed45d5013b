"""Events to measurements: the part both exporters share, with no metrics library in it."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Final, Protocol

from hardpoint.events import (
    BreakerStateChanged,
    CacheCorrupt,
    CacheError,
    CacheHit,
    CacheMiss,
    CacheStaleServed,
    Event,
    PoolCheckout,
    PoolTimeout,
    RequestBlocked,
    SecretRead,
    SecretReadFailed,
)
from hardpoint.metrics import _spec as m
from hardpoint.metrics._labels import OTHER, LabelPolicy, location_kind
from hardpoint.metrics._spec import MetricSpec

__all__ = ["Labels", "Recorder", "Translator"]

Labels = tuple[str, ...]
# Each handler takes its own event class; the dispatch table guarantees the match.
Handler = Callable[[Any], None]
Recorder = Callable[[float], None]
"""Adds to a counter, observes into a histogram or sets a gauge: one series of one metric."""

_MAX_FAST_ENTRIES: Final = 4096


class _LLMHit(Protocol):
    model: str
    input_tokens: int
    output_tokens: int
    dollars_saved: float


class _LLMMiss(Protocol):
    model: str
    cacheable: bool


_NEVER: Final[Handler] = lambda event: None  # noqa: E731  # events no metric uses


class Translator(ABC):
    """Turn each event into counter increments, histogram observations and gauge values.

    Subclasses implement `bind` for one metrics library. Every label
    value passes through a `LabelPolicy`, so the number of series stays bounded.
    """

    def __init__(self, policy: LabelPolicy) -> None:
        self.policy = policy
        self._versions: dict[Labels, str] = {}
        self._bound: dict[tuple[str, Labels], Recorder] = {}
        self._lookups: dict[tuple[type[Event], str, str], tuple[Recorder, Recorder]] = {}
        self._versions_lock = threading.Lock()
        self._dispatch: dict[type[Event], Handler] = {
            CacheHit: self._cache_lookup,
            CacheMiss: self._cache_lookup,
            CacheStaleServed: self._cache_stale,
            CacheError: self._cache_error,
            CacheCorrupt: self._cache_corrupt,
            BreakerStateChanged: self._breaker,
            RequestBlocked: self._blocked,
            SecretRead: self._secret_read,
            SecretReadFailed: self._secret_failed,
            PoolCheckout: self._pool_checkout,
            PoolTimeout: self._pool_timeout,
        }
        # The LLM cache's events live in hardpoint.llm_cache; matching them by name keeps
        # this module from importing that component (and hardpoint.cache with it).
        self._by_name: dict[str, Handler] = {
            "LLMCacheHit": self._llm_hit,
            "LLMCacheMiss": self._llm_miss,
        }

    def handle(self, event: Event) -> None:
        """Record *event* (the sink handler)."""
        handler = self._dispatch.get(type(event))
        if handler is None:
            handler = self._by_name.get(type(event).__name__, _NEVER)
            self._dispatch[type(event)] = handler  # one entry per event class
        handler(event)

    # -- what a metrics library provides ----------------------------------------------------

    @abstractmethod
    def bind(self, spec: MetricSpec, labels: Labels) -> Recorder:
        """Return the function that adds to, observes into or sets *spec* at *labels*."""

    def _recorder(self, spec: MetricSpec, labels: Labels) -> Recorder:
        key = (spec.name, labels)
        recorder = self._bound.get(key)
        if recorder is None:
            recorder = self._bound[key] = self.bind(spec, labels)  # bounded, like the labels
        return recorder

    def inc(self, spec: MetricSpec, labels: Labels, amount: float = 1) -> None:
        """Add *amount* to a counter."""
        self._recorder(spec, labels)(amount)

    def observe(self, spec: MetricSpec, labels: Labels, value: float) -> None:
        """Record *value* in a histogram."""
        self._recorder(spec, labels)(value)

    def set(self, spec: MetricSpec, labels: Labels, value: float) -> None:
        """Set a gauge."""
        self._recorder(spec, labels)(value)

    # -- one method per event ----------------------------------------------------------------

    def _cache_lookup(self, event: CacheHit | CacheMiss) -> None:
        # The hot path (every cached call): one dict lookup on the raw fields, two calls.
        key = (type(event), event.prefix, event.backend)
        pair = self._lookups.get(key)
        if pair is None:
            pair = self._bind_lookup(key)
        pair[0](1)
        pair[1](event.latency)

    def _bind_lookup(self, key: tuple[type[Event], str, str]) -> tuple[Recorder, Recorder]:
        kind, prefix, backend = key
        result = "hit" if kind is CacheHit else "miss"
        labels = (self.policy.prefix(prefix), self.policy.backend(backend), result)
        pair = (self._recorder(m.CACHE_REQUESTS, labels), self._recorder(m.CACHE_LOOKUP, labels))
        if len(self._lookups) < _MAX_FAST_ENTRIES:  # raw values past the caps take this path
            self._lookups[key] = pair
        return pair

    def _cache_stale(self, event: CacheStaleServed) -> None:
        labels = (self.policy.prefix(event.prefix), self.policy.backend(event.backend), "stale")
        self.inc(m.CACHE_REQUESTS, labels)

    def _cache_error(self, event: CacheError) -> None:
        p = self.policy
        self.inc(
            m.CACHE_ERRORS,
            (p.prefix(event.prefix), p.backend(event.backend), p.operation(event.operation)),
        )

    def _cache_corrupt(self, event: CacheCorrupt) -> None:
        # The reason is free text (it can quote the entry): never a label.
        self.inc(
            m.CACHE_CORRUPT, (self.policy.prefix(event.prefix), self.policy.backend(event.backend))
        )

    def _breaker(self, event: BreakerStateChanged) -> None:
        state = event.new if event.new in ("closed", "open", "half_open") else OTHER
        self.inc(m.BREAKER_TRANSITIONS, (self.policy.breaker(event.name), state))

    def _llm_hit(self, event: _LLMHit) -> None:
        model = self.policy.model(event.model)
        self.inc(m.LLM_REQUESTS, (model, "hit"))
        if event.input_tokens > 0:
            self.inc(m.LLM_TOKENS, (model, "input"), event.input_tokens)
        if event.output_tokens > 0:
            self.inc(m.LLM_TOKENS, (model, "output"), event.output_tokens)
        if event.dollars_saved > 0:
            self.inc(m.LLM_DOLLARS, (model,), event.dollars_saved)

    def _llm_miss(self, event: _LLMMiss) -> None:
        self.inc(
            m.LLM_REQUESTS,
            (self.policy.model(event.model), "miss" if event.cacheable else "bypass"),
        )

    def _blocked(self, event: RequestBlocked) -> None:
        mode = "monitor" if event.monitored else "enforce"
        self.inc(m.BLOCKED, (self.policy.rule(event.rule), location_kind(event.location), mode))
        if self.policy.per_client:
            self.inc(m.BLOCKED_BY_CLIENT, (self.policy.client(event.client),))

    def _secret_read(self, event: SecretRead) -> None:
        secret, backend = self.policy.secret(event.name), self.policy.backend(event.backend)
        result = event.result if event.result in ("hit", "miss", "stale") else OTHER
        self.inc(m.SECRET_READS, (secret, backend, result))
        if secret == OTHER:
            return  # names past the cap share a label: their versions mean nothing together
        if event.created is not None:
            self.set(m.SECRET_ROTATION, (secret, backend), event.created)
        elif event.version is not None:
            self._version_seen((secret, backend), event.version)

    def _version_seen(self, labels: Labels, version: str) -> None:
        # Without a creation time from the backend, a version change this process sees is
        # the best lower bound on the rotation time.
        with self._versions_lock:
            previous = self._versions.get(labels)
            self._versions[labels] = version
        if previous is not None and previous != version:
            self.set(m.SECRET_ROTATION, labels, time.time())

    def _secret_failed(self, event: SecretReadFailed) -> None:
        p = self.policy
        self.inc(
            m.SECRET_FAILURES,
            (p.secret(event.name), p.backend(event.backend), p.error(event.error)),
        )

    def _pool_checkout(self, event: PoolCheckout) -> None:
        labels = (self.policy.pool(event.pool),)
        self.observe(m.POOL_WAIT, labels, event.wait)
        self.set(m.POOL_IN_USE, labels, event.in_use)
        if event.size is not None:
            self.set(m.POOL_MAX, labels, event.size)

    def _pool_timeout(self, event: PoolTimeout) -> None:
        self.inc(m.POOL_TIMEOUTS, (self.policy.pool(event.pool),))
