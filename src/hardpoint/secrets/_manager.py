"""`SecretsManager`: a TTL cache with single-flight, bounded retries, stale-if-error and audit."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from types import FrameType
from typing import Any, Final, TypeVar, overload

from hardpoint._internal.clock import SYSTEM_CLOCK, Clock
from hardpoint._internal.singleflight import AsyncSingleFlight, SingleFlight
from hardpoint.errors import (
    BackendUnavailableError,
    ConfigurationError,
    SecretNotFoundError,
)
from hardpoint.events import SINK, SecretRead, SecretReadFailed
from hardpoint.secrets._base import FetchedSecret, SecretBackend
from hardpoint.secrets._redact import register_value

__all__ = ["MISSING", "RotationCallback", "SecretsManager"]

T = TypeVar("T")

logger = logging.getLogger("hardpoint.secrets")
audit = logging.getLogger("hardpoint.secrets.audit")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()
"""The default of *default*: raise `SecretNotFoundError` instead of returning a fallback."""

RotationCallback = Callable[[str, "str | None", "str | None"], None]
"""Called as ``callback(name, old_version, new_version)`` when a refresh sees a new version."""


class _Entry:
    """One cached secret. The value is only ever returned, never logged or shown."""

    __slots__ = ("expires_at", "fetched", "fields", "stale_until")

    def __init__(self, fetched: FetchedSecret, expires_at: float, stale_until: float) -> None:
        self.fetched = fetched
        self.expires_at = expires_at
        self.stale_until = stale_until
        self.fields: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"_Entry(version={self.fetched.version!r}, expires_at={self.expires_at})"


class SecretsManager:
    """Reads secrets from one backend through a short in-process cache.

    - A value is reused for *ttl* seconds (shortened by up to *jitter* at random, so many
      processes do not refresh at once); concurrent readers of a missing or expired name
      cause one backend call.
    - A failing backend (throttled, unreachable, timing out) is retried with backoff and
      jitter until *timeout* seconds have passed; then the last good value is served while
      it is at most *max_stale* seconds past its TTL, else `BackendUnavailableError` is
      raised. "Not found" is never retried and never answered with a stale value, so a
      deleted or disabled secret stops being served after the TTL.
    - A fetch that sees a new version calls the `on_rotate` callbacks for that name.
    - Every read emits one `SecretRead` event and one record on the
      ``hardpoint.secrets.audit`` logger (INFO for fetches and stale serves, DEBUG for cache
      hits): name, backend, version, hit/miss/stale, and the calling module. Never the value.

    Args:
        backend: Where secrets come from.
        ttl: Seconds a value is reused.
        jitter: Largest fraction taken off each TTL at random (0 to 0.5).
        max_stale: Seconds past its TTL that a value may still be served while the backend
            is failing; 0 never serves stale values.
        timeout: Seconds one read may spend on backend attempts before giving up.
        refresh_ahead: Seconds before expiry at which a read triggers a background refresh
            (callers keep getting the current value meanwhile); 0 disables it.
        clock: Time source (tests pass a `ManualClock`).

    Raises:
        ConfigurationError: A negative or out-of-range option.
    """

    def __init__(
        self,
        backend: SecretBackend,
        *,
        ttl: float = 300.0,
        jitter: float = 0.1,
        max_stale: float = 3600.0,
        timeout: float = 2.0,
        refresh_ahead: float = 0.0,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not ttl > 0:
            raise ConfigurationError("ttl must be positive", field="ttl")
        if not 0 <= jitter <= 0.5:
            raise ConfigurationError("jitter must be between 0 and 0.5", field="jitter")
        if not max_stale >= 0:
            raise ConfigurationError("max_stale must not be negative", field="max_stale")
        if not timeout > 0:
            raise ConfigurationError("timeout must be positive", field="timeout")
        if not 0 <= refresh_ahead < ttl:
            raise ConfigurationError("refresh_ahead must be in [0, ttl)", field="refresh_ahead")
        self.backend = backend
        self.ttl = ttl
        self.jitter = jitter
        self.max_stale = max_stale
        self.timeout = timeout
        self.refresh_ahead = refresh_ahead
        self._clock = clock
        self._now = clock.monotonic
        self._cache: dict[tuple[str, str | None], _Entry] = {}
        self._flight = SingleFlight()
        self._aflight = AsyncSingleFlight()
        self._rotate: dict[str, list[RotationCallback]] = {}
        self._lock = threading.Lock()
        self._refresher: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    def __repr__(self) -> str:
        return (
            f"SecretsManager(backend={self.backend!r}, ttl={self.ttl}, "
            f"cached={len(self._cache)}, timeout={self.timeout})"
        )

    # -- reads -----------------------------------------------------------------------------

    @overload
    def get(self, name: str, *, field: str | None = None, version: str | None = None) -> str: ...
    @overload
    def get(
        self, name: str, *, field: str | None = None, version: str | None = None, default: T
    ) -> str | T: ...
    def get(
        self,
        name: str,
        *,
        field: str | None = None,
        version: str | None = None,
        default: Any = MISSING,
    ) -> Any:
        """Return the secret *name* (a plain ``str``, like ``os.environ[name]``).

        Args:
            name: The secret's name in the backend.
            field: Read this key of a JSON object secret (a JSON string, number or bool
                value is returned as its text; objects and arrays as JSON).
            version: A backend version id, or ``"previous"``; default the current one.
            default: Returned when the secret (or *field*) does not exist, instead of
                raising. Backend outages still raise.

        Raises:
            SecretNotFoundError: No such secret, version or field, and no *default*.
            SecretAccessDeniedError: The backend refused our credentials.
            BackendUnavailableError: The backend failed for *timeout* seconds and no value
                within *max_stale* is cached.
        """
        key = (name, version)
        entry = self._cache.get(key)
        now = self._now()
        if entry is not None and now < entry.expires_at:
            if self.refresh_ahead and entry.expires_at - now < self.refresh_ahead:
                self._refresh_later(name, version)
            self._audit(name, entry.fetched.version, "hit")
            return self._value(entry, name, field, default)
        try:
            entry, result = self._flight.do(key, lambda: self._load(name, version))
        except SecretNotFoundError:
            self._failed(name, "SecretNotFoundError")
            if default is MISSING:
                raise
            return default
        except Exception as exc:
            self._failed(name, type(exc).__name__)
            raise
        self._audit(name, entry.fetched.version, result)
        return self._value(entry, name, field, default)

    @overload
    async def aget(
        self, name: str, *, field: str | None = None, version: str | None = None
    ) -> str: ...
    @overload
    async def aget(
        self, name: str, *, field: str | None = None, version: str | None = None, default: T
    ) -> str | T: ...
    async def aget(
        self,
        name: str,
        *,
        field: str | None = None,
        version: str | None = None,
        default: Any = MISSING,
    ) -> Any:
        """Async twin of `get`: a cached read does not await at all."""
        key = (name, version)
        entry = self._cache.get(key)
        now = self._now()
        if entry is not None and now < entry.expires_at:
            if self.refresh_ahead and entry.expires_at - now < self.refresh_ahead:
                self._arefresh_later(name, version)
            self._audit(name, entry.fetched.version, "hit")
            return self._value(entry, name, field, default)
        try:
            loaded, result = await self._aflight.do(key, lambda: self._aload(name, version))
        except SecretNotFoundError:
            self._failed(name, "SecretNotFoundError")
            if default is MISSING:
                raise
            return default
        except Exception as exc:
            self._failed(name, type(exc).__name__)
            raise
        self._audit(name, loaded.fetched.version, result)
        return self._value(loaded, name, field, default)

    def _value(self, entry: _Entry, name: str, field: str | None, default: Any) -> Any:
        if field is None:
            return entry.fetched.value
        fields = entry.fields
        if fields is None:
            try:
                parsed = json.loads(entry.fetched.value)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                # Say what is wrong without quoting the value.
                raise ConfigurationError(
                    f"secret {name!r} is not a JSON object, so it has no field {field!r}",
                    field="field",
                )
            fields = entry.fields = parsed
        if field not in fields:
            if default is not MISSING:
                return default
            raise SecretNotFoundError(f"{name}#{field}", backend=self.backend.name)
        item = fields[field]
        text = item if isinstance(item, str) else json.dumps(item)
        register_value(text)
        return text

    # -- loading ---------------------------------------------------------------------------

    def _deadline(self) -> float:
        return time.monotonic() + self.timeout

    def _load(self, name: str, version: str | None) -> tuple[_Entry, str]:
        deadline = self._deadline()
        attempt = 0
        while True:
            try:
                fetched = self.backend.fetch(name, version=version)
            except BackendUnavailableError as exc:
                pause = self._pause(attempt, deadline)
                if pause is None:
                    return self._stale_or_raise(name, version, exc)
                time.sleep(pause)
                attempt += 1
                continue
            except SecretNotFoundError:
                self._drop(name, version)  # deleted or disabled: never serve it again
                raise
            return self._store(name, version, fetched), "miss"

    async def _aload(self, name: str, version: str | None) -> tuple[_Entry, str]:
        deadline = self._deadline()
        attempt = 0
        while True:
            try:
                remaining = deadline - time.monotonic()
                fetched = await asyncio.wait_for(
                    self.backend.afetch(name, version=version), timeout=max(remaining, 0.001)
                )
            except (BackendUnavailableError, TimeoutError) as exc:
                pause = self._pause(attempt, deadline)
                if pause is None:
                    error = (
                        exc
                        if isinstance(exc, BackendUnavailableError)
                        else BackendUnavailableError(
                            f"{self.backend.name} did not answer within {self.timeout} s",
                            backend=self.backend.name,
                        )
                    )
                    return self._stale_or_raise(name, version, error)
                await asyncio.sleep(pause)
                attempt += 1
                continue
            except SecretNotFoundError:
                self._drop(name, version)
                raise
            return self._store(name, version, fetched), "miss"

    def _pause(self, attempt: int, deadline: float) -> float | None:
        """Full-jitter exponential backoff (50 ms base, 1 s cap) that fits before *deadline*."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        pause = random.uniform(0, min(1.0, 0.05 * 2**attempt))  # noqa: S311 - not crypto
        return pause if pause < remaining else None

    def _stale_or_raise(
        self, name: str, version: str | None, error: BackendUnavailableError
    ) -> tuple[_Entry, str]:
        entry = self._cache.get((name, version))
        if entry is not None and self._now() <= entry.stale_until:
            logger.warning(
                "secret %s: %s is failing (%s); serving the last good value",
                name,
                self.backend.name,
                type(error).__name__,
            )
            return entry, "stale"
        raise BackendUnavailableError(
            f"secret {name!r}: {self.backend.name} failed for {self.timeout} s and no recent "
            "value is cached",
            backend=self.backend.name,
        ) from error

    def _store(self, name: str, version: str | None, fetched: FetchedSecret) -> _Entry:
        register_value(fetched.value)
        now = self._now()
        ttl = self.ttl * (1.0 - self.jitter * random.random())  # noqa: S311 - not crypto
        entry = _Entry(fetched, now + ttl, now + ttl + self.max_stale)
        key = (name, version)
        with self._lock:
            old = self._cache.get(key)
            self._cache[key] = entry
        if version is None and old is not None and _rotated(old.fetched, fetched):
            self._rotated(name, old.fetched.version, fetched.version)
        return entry

    def _drop(self, name: str, version: str | None) -> None:
        with self._lock:
            self._cache.pop((name, version), None)

    # -- rotation, invalidation, background refresh ----------------------------------------

    def on_rotate(self, name: str, callback: RotationCallback) -> Callable[[], None]:
        """Call *callback(name, old_version, new_version)* when *name* gets a new version.

        The new version is seen when the cached value is refreshed (after its TTL, on
        `refresh`, or ahead of expiry with *refresh_ahead*). Exceptions from callbacks are
        logged and swallowed.

        Returns:
            A function that removes the callback.
        """
        with self._lock:
            self._rotate.setdefault(name, []).append(callback)

        def remove() -> None:
            with self._lock:
                callbacks = self._rotate.get(name, [])
                if callback in callbacks:
                    callbacks.remove(callback)

        return remove

    def _rotated(self, name: str, old: str | None, new: str | None) -> None:
        logger.info("secret %s rotated (version %s -> %s)", name, old, new)
        with self._lock:
            callbacks = list(self._rotate.get(name, ()))
        for callback in callbacks:
            try:
                callback(name, old, new)
            except Exception:
                logger.exception("on_rotate callback for secret %s failed", name)

    def invalidate(self, name: str) -> None:
        """Forget every cached version of *name*: the next read fetches it."""
        with self._lock:
            for key in [k for k in self._cache if k[0] == name]:
                del self._cache[key]

    def refresh(self, name: str) -> str | None:
        """Fetch *name* now (running `on_rotate` callbacks if its version changed).

        Returns:
            The version now cached.

        Raises:
            SecretNotFoundError: No such secret.
            SecretAccessDeniedError: The backend refused our credentials.
            BackendUnavailableError: The backend failed for *timeout* seconds.
        """
        entry, _result = self._flight.do((name, None), lambda: self._load(name, None))
        return entry.fetched.version

    async def arefresh(self, name: str) -> str | None:
        """Async twin of `refresh`."""
        entry, _result = await self._aflight.do((name, None), lambda: self._aload(name, None))
        return entry.fetched.version

    def _refresh_later(self, name: str, version: str | None) -> None:
        key = (name, version)
        if self._flight.in_flight(key):
            return
        with self._lock:
            if self._refresher is None:
                self._refresher = ThreadPoolExecutor(2, thread_name_prefix="hardpoint-secrets")
            pool = self._refresher

        def run() -> None:
            try:
                self._flight.do(key, lambda: self._load(name, version))
            except Exception as exc:
                logger.warning(
                    "background refresh of secret %s failed: %s", name, type(exc).__name__
                )

        pool.submit(run)

    def _arefresh_later(self, name: str, version: str | None) -> None:
        key = (name, version)
        if self._aflight.in_flight(key):
            return

        async def run() -> None:
            try:
                await self._aflight.do(key, lambda: self._aload(name, version))
            except Exception as exc:
                logger.warning(
                    "background refresh of secret %s failed: %s", name, type(exc).__name__
                )

        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- audit -----------------------------------------------------------------------------

    def _audit(self, name: str, version: str | None, result: str) -> None:
        # Cache hits are logged at DEBUG, fetches and stale serves at INFO: a service logging
        # at INFO keeps one line per backend fetch, not one per read.
        level = logging.DEBUG if result == "hit" else logging.INFO
        if not SINK.active and not audit.isEnabledFor(level):
            return
        caller = _caller()
        if SINK.active:
            SINK.emit(
                SecretRead(
                    name=name,
                    backend=self.backend.name,
                    version=version,
                    result=result,  # type: ignore[arg-type]  # one of hit/miss/stale
                    caller=caller,
                )
            )
        audit.log(
            level,
            "secret read: name=%s backend=%s version=%s result=%s caller=%s",
            name,
            self.backend.name,
            version,
            result,
            caller,
        )

    def _failed(self, name: str, error: str) -> None:
        if SINK.active:
            SINK.emit(SecretReadFailed(name=name, backend=self.backend.name, error=error))
        audit.info(
            "secret read failed: name=%s backend=%s error=%s caller=%s",
            name,
            self.backend.name,
            error,
            _caller(),
        )

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Forget cached values and close the backend."""
        with self._lock:
            self._cache.clear()
            pool, self._refresher = self._refresher, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self.backend.close()

    async def aclose(self) -> None:
        """Async twin of `close`."""
        for task in list(self._tasks):
            task.cancel()
        with self._lock:
            self._cache.clear()
            pool, self._refresher = self._refresher, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        await self.backend.aclose()


def _rotated(old: FetchedSecret, new: FetchedSecret) -> bool:
    if old.version is not None or new.version is not None:
        return old.version != new.version
    return old.value != new.value


def _caller() -> str:
    """The first module outside hardpoint.secrets on the stack."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None:
        module = str(frame.f_globals.get("__name__", "?"))
        if not module.startswith(("hardpoint.secrets", "hardpoint._internal", "asyncio")):
            return module
        frame = frame.f_back
    return "?"
