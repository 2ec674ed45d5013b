"""Process-wide cache configuration: which backend, serializer and policies `cached` uses."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hardpoint._internal.clock import SYSTEM_CLOCK, Clock
from hardpoint.cache._memo import MEMO
from hardpoint.cache._memory import MemoryBackend
from hardpoint.cache._serde import Serializer, make_codec
from hardpoint.errors import ConfigurationError

if TYPE_CHECKING:
    from hardpoint.cache._base import CacheBackend

__all__ = [
    "CacheSettings",
    "aclose_cache",
    "cache_lifespan",
    "close_cache",
    "configure_cache",
    "current_settings",
    "get_cache",
]

logger = logging.getLogger("hardpoint.cache")

ENV_REDIS_URL = "HARDPOINT_REDIS_URL"


@dataclass(frozen=True, slots=True)
class CacheSettings:
    """Validated settings shared by every `cached` function that has no backend of its own."""

    backend: CacheBackend
    serializer: Serializer
    jitter: float = 0.1
    lock_lease: float = 30.0
    lock_wait: float = 30.0
    warn_interval: float = 60.0
    clock: Clock = field(default=SYSTEM_CLOCK)
    generation: int = 0


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings: CacheSettings | None = None
        self.generation = 0


_STATE = _State()


def configure_cache(
    url: str | None = None,
    *,
    backend: CacheBackend | None = None,
    serializer: str = "json",
    signing_key: bytes | str | None = None,
    jitter: float = 0.1,
    lock_lease: float = 30.0,
    lock_wait: float = 30.0,
    warn_interval: float = 60.0,
    clock: Clock = SYSTEM_CLOCK,
    **redis_options: object,
) -> CacheBackend:
    """Choose the backend and policies that `cached` functions use by default.

    Call it once at start-up (or use `cache_lifespan`). Functions decorated before the call
    pick the new settings up at their next call. Without any call, the first cached call
    uses Redis when ``HARDPOINT_REDIS_URL`` is set, else an in-process `MemoryBackend`.

    Args:
        url: A Redis URL (``redis://``, ``rediss://``, ``redis+sentinel://``,
            ``redis+cluster://``); builds a `RedisBackend` with *redis_options*.
        backend: A ready backend instead of *url*.
        serializer: ``"json"`` (default), ``"msgpack"`` or ``"pickle"`` (needs *signing_key*).
        signing_key: HMAC key (32+ bytes, or a str of 32+ characters) to sign every entry;
            unsigned and tampered entries are then refused.
        jitter: Largest fraction taken off each TTL at random, to spread expiries (0-0.5).
        lock_lease: Seconds a ``lock=True`` computation may hold the Redis lock.
        lock_wait: Seconds a caller waits for another process's computation before
            computing itself.
        warn_interval: Seconds between two warnings about the same failing backend.
        clock: Time source (tests pass a `ManualClock`).
        **redis_options: Passed to `RedisBackend.from_url` with *url*.

    Returns:
        The backend now in use.

    Raises:
        ConfigurationError: Both or invalid arguments.
        MissingDependencyError: *url* given without ``hardpoint[redis]`` installed.
    """
    if url is not None and backend is not None:
        raise ConfigurationError("pass url or backend, not both", field="url")
    if not 0 <= jitter <= 0.5:
        raise ConfigurationError("jitter must be between 0 and 0.5", field="jitter")
    for name, value in (
        ("lock_lease", lock_lease),
        ("lock_wait", lock_wait),
        ("warn_interval", warn_interval),
    ):
        if value <= 0:
            raise ConfigurationError(f"{name} must be positive", field=name)
    key = signing_key.encode() if isinstance(signing_key, str) else signing_key
    codec = make_codec(serializer)
    serde = Serializer(codec, signing_key=key)
    if backend is None:
        if url is not None:
            from hardpoint.cache._redis import RedisBackend

            backend = RedisBackend.from_url(url, **redis_options)  # type: ignore[arg-type]  # options are checked by RedisBackend
        else:
            if redis_options:
                raise ConfigurationError(
                    f"options {sorted(redis_options)} need a Redis url", field="url"
                )
            backend = MemoryBackend(clock=clock)
    with _STATE.lock:
        _STATE.generation += 1
        _STATE.settings = CacheSettings(
            backend=backend,
            serializer=serde,
            jitter=jitter,
            lock_lease=lock_lease,
            lock_wait=lock_wait,
            warn_interval=warn_interval,
            clock=clock,
            generation=_STATE.generation,
        )
    return backend


def current_settings() -> CacheSettings:
    """Return the settings in force, configuring the defaults on first use."""
    settings = _STATE.settings
    if settings is None:
        url = os.environ.get(ENV_REDIS_URL) or None
        configure_cache(url)
        settings = _STATE.settings
        assert settings is not None  # noqa: S101 - configure_cache always sets it
    return settings


def get_cache() -> CacheBackend:
    """Return the default backend (configuring it from the environment on first use).

    Use it to invalidate by prefix or tag: ``get_cache().delete_prefix("api:user")``.
    """
    return current_settings().backend


def close_cache() -> None:
    """Close the default backend and forget it; the next cached call configures anew."""
    with _STATE.lock:
        settings, _STATE.settings = _STATE.settings, None
        _STATE.generation += 1
    MEMO.clear()
    if settings is not None:
        settings.backend.close()


async def aclose_cache() -> None:
    """Async twin of `close_cache`."""
    with _STATE.lock:
        settings, _STATE.settings = _STATE.settings, None
        _STATE.generation += 1
    MEMO.clear()
    if settings is not None:
        await settings.backend.aclose()


def cache_lifespan(
    url: str | None = None, **options: object
) -> Callable[[object], AbstractAsyncContextManager[None]]:
    """Return a Starlette/FastAPI ``lifespan`` that configures the cache and closes it.

    Example:
        ``app = Starlette(lifespan=cache_lifespan(os.environ["REDIS_URL"]))``

    Args:
        url: As for `configure_cache`.
        **options: Any other `configure_cache` argument.
    """

    @asynccontextmanager
    async def lifespan(app: object) -> AsyncIterator[None]:
        configure_cache(url, **options)  # type: ignore[arg-type]  # forwarded as given; configure_cache validates
        try:
            yield
        finally:
            await aclose_cache()

    return lifespan
