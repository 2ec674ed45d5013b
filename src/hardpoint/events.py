"""Typed events that hardpoint components emit, and a way to subscribe to them.

Every component reports what it does (a cache hit, a blocked request, a secret read) as a small
frozen dataclass. Nothing happens with them unless a handler is subscribed: with no
subscriber, emitting costs one attribute check. ``hardpoint.metrics`` subscribes exporters;
a host can subscribe its own handler too::

    from hardpoint import events

    def log_blocked(event: events.Event) -> None:
        if isinstance(event, events.RequestBlocked):
            ...

    unsubscribe = events.subscribe(log_blocked)

Events never carry secret values or request bodies: names, labels and numbers only.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

__all__ = [
    "BreakerStateChanged",
    "CacheCorrupt",
    "CacheError",
    "CacheHit",
    "CacheMiss",
    "CacheStaleServed",
    "Event",
    "EventHandler",
    "PoolCheckout",
    "PoolTimeout",
    "RequestBlocked",
    "SecretRead",
    "SecretReadFailed",
    "subscribe",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base class of all events. ``component`` names the emitting part."""

    component: ClassVar[str] = "core"


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerStateChanged(Event):
    """A circuit breaker moved between ``closed``, ``open`` and ``half_open``."""

    component: ClassVar[str] = "core"
    name: str
    old: Literal["closed", "open", "half_open"]
    new: Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheHit(Event):
    """A cached value was served fresh. *latency* is in seconds."""

    component: ClassVar[str] = "cache"
    prefix: str
    backend: str
    latency: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheMiss(Event):
    """No usable cached value; the function ran (or a concurrent call's result was shared)."""

    component: ClassVar[str] = "cache"
    prefix: str
    backend: str
    latency: float


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheStaleServed(Event):
    """A value past its soft expiry was served while one caller refreshes it."""

    component: ClassVar[str] = "cache"
    prefix: str
    backend: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheError(Event):
    """A backend operation failed or was skipped by an open breaker; the call went on."""

    component: ClassVar[str] = "cache"
    prefix: str
    backend: str
    operation: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheCorrupt(Event):
    """A stored entry was unsigned, tampered with or undecodable; it was deleted, not loaded."""

    component: ClassVar[str] = "cache"
    prefix: str
    backend: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestBlocked(Event):
    """The validation middleware refused a request (or would have, in monitor mode)."""

    component: ClassVar[str] = "validation"
    rule: str
    location: str
    client: str | None
    monitored: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretRead(Event):
    """A secret was read (never the value).

    *result* is ``hit`` (from the in-process cache), ``miss`` (fetched from the backend) or
    ``stale`` (the backend failed and the last good value was served). *caller* is the
    module that asked.
    """

    component: ClassVar[str] = "secrets"
    name: str
    backend: str
    version: str | None
    result: Literal["hit", "miss", "stale"]
    caller: str
    created: float | None = None
    """When the version read was created (Unix seconds), if the backend reports it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretReadFailed(Event):
    """A secret could not be read. *error* is the exception's class name."""

    component: ClassVar[str] = "secrets"
    name: str
    backend: str
    error: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolCheckout(Event):
    """A connection was taken from a pool after *wait* seconds; *in_use* counts it too.

    *size* is the most connections the pool may hold at once (pool size plus overflow), or
    None when it is unbounded or unknown.
    """

    component: ClassVar[str] = "pool"
    pool: str
    wait: float
    in_use: int
    size: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolTimeout(Event):
    """No connection became free within the pool's timeout (*wait* seconds)."""

    component: ClassVar[str] = "pool"
    pool: str
    wait: float


EventHandler = Callable[[Event], None]


class _Sink:
    """Fan-out to subscribed handlers. ``active`` is the one check emitters make first."""

    __slots__ = ("_handlers", "_lock", "active")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: tuple[EventHandler, ...] = ()
        self.active = False

    def emit(self, event: Event) -> None:
        # A tuple is replaced, never mutated, so iterating needs no lock.
        for handler in self._handlers:
            try:
                handler(event)
            except Exception:
                # A broken exporter must never break the caller's request.
                logger.exception("event handler %r failed on %s", handler, type(event).__name__)

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        with self._lock:
            self._handlers = (*self._handlers, handler)
            self.active = True

        def unsubscribe() -> None:
            with self._lock:
                handlers = list(self._handlers)
                if handler in handlers:
                    handlers.remove(handler)
                self._handlers = tuple(handlers)
                self.active = bool(self._handlers)

        return unsubscribe


SINK = _Sink()


def subscribe(handler: EventHandler) -> Callable[[], None]:
    """Call *handler* with every event any hardpoint component emits, in the emitting thread.

    Handlers must be fast and must not block: they run inline on the hot path. Exceptions
    they raise are logged and swallowed.

    Args:
        handler: A callable taking one `Event`.

    Returns:
        A function that removes the subscription; calling it twice is harmless.
    """
    return SINK.subscribe(handler)
