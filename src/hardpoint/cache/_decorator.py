"""``@cached``: one decorator for ``def`` and ``async def``, dispatched once at decoration."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import string
import threading
import typing
import uuid
from asyncio import get_running_loop
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from time import perf_counter
from typing import Any, Concatenate, Final, Generic, ParamSpec, Protocol, Self, TypeVar, overload

from hardpoint._internal.singleflight import AsyncSingleFlight, SingleFlight
from hardpoint.cache._base import CacheBackend, LockingBackend
from hardpoint.cache._config import _STATE as _CONFIG
from hardpoint.cache._config import CacheSettings, current_settings
from hardpoint.cache._keys import KeyBuilder, KeyFunc
from hardpoint.cache._memo import MEMO
from hardpoint.cache._memory import MemoryBackend
from hardpoint.cache._policy import jittered_ttl, should_refresh_early
from hardpoint.cache._serde import CorruptEntryError, Entry
from hardpoint.cache._typecodec import TypeCodec
from hardpoint.errors import ConfigurationError, SerializationError
from hardpoint.events import SINK, CacheCorrupt, CacheError, CacheHit, CacheMiss, CacheStaleServed

__all__ = ["AsyncCachedFunction", "CachedFunction", "cached"]

logger = logging.getLogger("hardpoint.cache")

P = ParamSpec("P")
P2 = ParamSpec("P2")
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)
S = TypeVar("S")

_RETRY: Final = object()  # a shared read was cancelled: read again yourself
_FAILED: Final[Any] = object()  # a shared read failed: a miss, and do not try to store
_FRESH: Final = 0
_STALE: Final = 1
_MISS: Final = 2


class CachedFunction(Protocol[P, R_co]):
    """What ``@cached`` makes of a ``def``: the same call signature, plus helpers."""

    @property
    def __wrapped__(self) -> Callable[P, R_co]:
        """The undecorated function."""
        ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        """Return the cached value for these arguments, computing it on a miss."""
        ...

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """Return the cache key these arguments map to (without the backend's namespace)."""
        ...

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Delete the entry for these arguments; return whether there was one."""
        ...

    def uncached(self, *args: P.args, **kwargs: P.kwargs) -> R_co:
        """Call the function itself, bypassing the cache."""
        ...

    @overload
    def __get__(self, instance: None, owner: type[Any], /) -> Self: ...
    @overload
    def __get__(
        self: CachedFunction[Concatenate[S, P2], R_co], instance: S, owner: type[Any], /
    ) -> CachedFunction[P2, R_co]: ...
    def __get__(self, instance: Any, owner: Any, /) -> Any:
        """Bind like a function, so methods keep their signature minus ``self``."""
        ...


class AsyncCachedFunction(Protocol[P, R_co]):
    """What ``@cached`` makes of an ``async def``: awaitable, with async helpers."""

    @property
    def __wrapped__(self) -> Callable[P, Awaitable[R_co]]:
        """The undecorated function."""
        ...

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R_co]:
        """Return the cached value for these arguments, computing it on a miss."""
        ...

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """Return the cache key these arguments map to (without the backend's namespace)."""
        ...

    def invalidate(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, bool]:
        """Delete the entry for these arguments; return whether there was one."""
        ...

    def uncached(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R_co]:
        """Call the function itself, bypassing the cache."""
        ...

    @overload
    def __get__(self, instance: None, owner: type[Any], /) -> Self: ...
    @overload
    def __get__(
        self: AsyncCachedFunction[Concatenate[S, P2], R_co], instance: S, owner: type[Any], /
    ) -> AsyncCachedFunction[P2, R_co]: ...
    def __get__(self, instance: Any, owner: Any, /) -> Any:
        """Bind like a function, so methods keep their signature minus ``self``."""
        ...


@dataclass(frozen=True, slots=True)
class _Result:
    """What one computation hands to every caller waiting on it."""

    value: object
    data: bytes | None
    owner: object


class _Warner:
    """Warn about a failing backend at most once per interval."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def warn(
        self, settings: CacheSettings, backend: str, operation: str, exc: BaseException
    ) -> None:
        now = settings.clock.monotonic()
        with self._lock:
            last = self._last.get(backend)
            if last is not None and now - last < settings.warn_interval:
                return
            self._last[backend] = now
        logger.warning(
            "cache backend %s failed on %s (%s: %s); serving without the cache",
            backend,
            operation,
            type(exc).__name__,
            exc,
            extra={"backend": backend, "operation": operation},
        )


_WARNER = _Warner()
_REFRESHER: ThreadPoolExecutor | None = None
_REFRESHER_LOCK = threading.Lock()


def _refresher() -> ThreadPoolExecutor:
    global _REFRESHER
    with _REFRESHER_LOCK:
        if _REFRESHER is None:
            _REFRESHER = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hardpoint-refresh")
        return _REFRESHER


class _Core(Generic[R]):
    """Everything a cached function does that is the same for sync and async."""

    def __init__(
        self,
        func: Callable[..., Any],
        *,
        prefix: str,
        ttl: float,
        key: str | KeyFunc | None,
        exclude: Iterable[str],
        backend: CacheBackend | None,
        cache_none: bool,
        none_ttl: float | None,
        stale_ttl: float,
        early_refresh: bool,
        lock: bool,
        tags: Iterable[str],
    ) -> None:
        if not ttl > 0:
            raise ConfigurationError("ttl must be a positive number of seconds", field="ttl")
        if none_ttl is not None and not none_ttl > 0:
            raise ConfigurationError("none_ttl must be positive or None", field="none_ttl")
        if not stale_ttl >= 0:
            raise ConfigurationError("stale_ttl must not be negative", field="stale_ttl")
        self.func = func
        self.owner = f"{func.__module__}.{func.__qualname__}"
        self.builder = KeyBuilder(func, prefix=prefix, key=key, exclude=exclude)
        self.prefix = prefix
        self.ttl = float(ttl)
        self.fixed_backend = backend
        self.cache_none = cache_none
        self.none_ttl = none_ttl
        self.stale_ttl = float(stale_ttl)
        self.early_refresh = early_refresh
        self.lock = lock
        self.tags = tuple(tags)
        self._tag_templates = any(self._template_fields(t) for t in self.tags)
        for tag in self.tags:
            for name in self._template_fields(tag):
                if name not in inspect.signature(func).parameters:
                    raise ConfigurationError(
                        f"tag {tag!r} names {name!r}, not an argument of {func.__qualname__}",
                        field="tags",
                    )
        self.check_soft_expiry = self.stale_ttl > 0 or early_refresh
        self._typecodec: TypeCodec | None = None
        # Resolved now when possible; a forward reference defined later, or a return type
        # only pickle can store (the serializer may be configured after decoration), is
        # resolved at the first call instead, and a real problem raised there.
        with contextlib.suppress(NameError, ConfigurationError):
            self._typecodec = self._make_typecodec()

    @staticmethod
    def _template_fields(template: str) -> list[str]:
        return [f for _t, f, _s, _c in string.Formatter().parse(template) if f]

    def _make_typecodec(self) -> TypeCodec:
        hints = typing.get_type_hints(self.func)
        annotation: object = hints.get("return", inspect.Signature.empty)
        return TypeCodec(annotation, owner=self.owner)

    @property
    def typecodec(self) -> TypeCodec:
        codec = self._typecodec
        if codec is None:
            try:
                codec = self._typecodec = self._make_typecodec()
            except NameError as exc:
                raise ConfigurationError(
                    f"cannot resolve the return annotation of {self.owner}: {exc}",
                    field="return annotation",
                ) from exc
            except ConfigurationError:
                settings = _CONFIG.settings or current_settings()
                if settings.serializer.codec.name != "pickle":
                    raise
                # Pickle stores any picklable value; the annotation plays no part.
                codec = self._typecodec = TypeCodec(Any, owner=self.owner)
        return codec

    def settings(self) -> tuple[CacheSettings, CacheBackend]:
        settings = _CONFIG.settings or current_settings()
        backend = self.fixed_backend
        # Not `or`: an empty MemoryBackend has len() 0 and is falsy.
        return settings, settings.backend if backend is None else backend

    def tags_for(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, ...]:
        if not self._tag_templates:
            return self.tags
        bound = self.builder.bind(args, kwargs)
        return tuple(t.format_map(bound) for t in self.tags)

    # -- events and failures -------------------------------------------------------------

    def backend_failed(
        self, settings: CacheSettings, backend: CacheBackend, operation: str, exc: Exception
    ) -> None:
        _WARNER.warn(settings, backend.name, operation, exc)
        if SINK.active:
            SINK.emit(
                CacheError(
                    prefix=self.prefix,
                    backend=backend.name,
                    operation=operation,
                    error=type(exc).__name__,
                )
            )

    def hit(self, backend: CacheBackend, start: float) -> None:
        SINK.emit(
            CacheHit(prefix=self.prefix, backend=backend.name, latency=perf_counter() - start)
        )

    def miss(self, backend: CacheBackend, start: float) -> None:
        SINK.emit(
            CacheMiss(prefix=self.prefix, backend=backend.name, latency=perf_counter() - start)
        )

    def stale(self, backend: CacheBackend) -> None:
        SINK.emit(CacheStaleServed(prefix=self.prefix, backend=backend.name))

    # -- encoding --------------------------------------------------------------------------

    def decode(self, settings: CacheSettings, backend: CacheBackend, data: bytes) -> Entry | None:
        """Decode stored bytes; a corrupt entry is reported and treated as a miss."""
        try:
            return settings.serializer.loads(data, self._typecodec or self.typecodec)
        except CorruptEntryError as exc:
            self.corrupt(backend, exc)
            return None

    def load(
        self, settings: CacheSettings, backend: CacheBackend, key: str, data: bytes
    ) -> Entry | None:
        """`decode` a hit's bytes and remember them for the next hit on the same bytes."""
        entry = self.decode(settings, backend, data)
        if entry is not None:
            MEMO.remember(key, data, settings.serializer, self.typecodec, entry)
        return entry

    def corrupt(self, backend: CacheBackend, exc: CorruptEntryError) -> None:
        """Report an entry that could not be decoded (the caller deletes it)."""
        logger.warning(
            "discarding an unreadable cache entry for %s: %s",
            self.prefix,
            exc,
            extra={"backend": backend.name},
        )
        if SINK.active:
            SINK.emit(CacheCorrupt(prefix=self.prefix, backend=backend.name, reason=str(exc)))

    def freshness(self, settings: CacheSettings, entry: Entry) -> int:
        if not self.check_soft_expiry or entry.soft_expires_at == 0:
            return _FRESH
        now = settings.clock.time()
        if now < entry.soft_expires_at:
            return _FRESH
        return _STALE if self.stale_ttl > 0 else _MISS

    def wants_early_refresh(self, settings: CacheSettings, entry: Entry) -> bool:
        return (
            self.early_refresh
            and entry.soft_expires_at > 0
            and should_refresh_early(
                now=settings.clock.time(),
                expires_at=entry.soft_expires_at,
                compute_time=entry.compute_time,
            )
        )

    def encode(
        self,
        settings: CacheSettings,
        value: object,
        compute_time: float,
        tags: tuple[str, ...],
    ) -> tuple[bytes, float] | None:
        """Return (bytes, backend TTL) for a fresh result, or None when it is not cached."""
        if value is None:
            if not self.cache_none:
                return None
            ttl = self.none_ttl or self.ttl
        else:
            ttl = self.ttl
        ttl = jittered_ttl(ttl, settings.jitter)
        now = settings.clock.time()
        try:
            data = settings.serializer.dumps(
                value,
                self.typecodec,
                created_at=now,
                soft_expires_at=now + ttl,
                compute_time=compute_time,
                tags=tags,
            )
        except SerializationError as exc:
            logger.warning(
                "not caching the result of %s: %s", self.owner, exc, extra={"prefix": self.prefix}
            )
            return None
        return data, ttl + self.stale_ttl

    def share(self, settings: CacheSettings, result: _Result, owner: object) -> Any:
        """Give the computing caller its own object and every waiter a decoded copy."""
        if result.owner is owner or result.data is None:
            return result.value
        try:
            return settings.serializer.loads(result.data, self.typecodec).value
        except CorruptEntryError:  # pragma: no cover - we just encoded it ourselves
            return result.value


class _SyncCached(Generic[P, R]):
    """The sync shell around `_Core`."""

    def __init__(self, core: _Core[R]) -> None:
        self._core = core
        self._flight = SingleFlight()

    def make_call(self) -> Callable[..., Any]:
        """Build the wrapper's body as a closure: on a hit every attribute lookup counts."""
        core = self._core
        build = core.builder.build
        fixed = core.fixed_backend
        check_soft = core.check_soft_expiry
        early = core.early_refresh
        config = _CONFIG
        memo_get = MEMO.get

        def call(*args: Any, **kwargs: Any) -> Any:
            # The hit path is written out inline: each helper call here costs ~0.1 us per hit.
            settings = config.settings or current_settings()
            backend = settings.backend if fixed is None else fixed
            key = build(args, kwargs)
            start = perf_counter() if SINK.active else 0.0
            store = True
            try:
                data = backend.get(key)
            except Exception as exc:
                core.backend_failed(settings, backend, "get", exc)
                # Do not also try to store: against a hung server that would double the wait.
                data, store = None, False
            if data is not None:
                memo = memo_get(key)
                if (
                    memo is not None
                    and memo[0] == data
                    and memo[1] is settings.serializer
                    and memo[2] is core._typecodec
                    and memo[4] is not None
                ):
                    # Bytes seen before: copy the remembered value instead of parsing them.
                    entry: Entry | None = memo[3]
                    value = memo[4](memo[3].value)
                else:
                    entry = core.load(settings, backend, key, data)
                    value = None if entry is None else entry.value
                if entry is None:
                    self._delete_quietly(settings, backend, key)
                else:
                    state = (
                        core.freshness(settings, entry)
                        if check_soft and entry.soft_expires_at
                        else _FRESH
                    )
                    if state == _FRESH:
                        if early and core.wants_early_refresh(settings, entry):
                            self._refresh_later(settings, backend, key, args, kwargs)
                        if SINK.active:
                            core.hit(backend, start)
                        return value
                    if state == _STALE:
                        self._refresh_later(settings, backend, key, args, kwargs)
                        if SINK.active:
                            core.stale(backend)
                        return value
            if SINK.active:
                core.miss(backend, start)
            owner = object()
            result = self._flight.do(
                key, lambda: self._compute(settings, backend, key, args, kwargs, owner, store=store)
            )
            return core.share(settings, result, owner)

        return call

    def _delete_quietly(self, settings: CacheSettings, backend: CacheBackend, key: str) -> None:
        try:
            backend.delete(key)
        except Exception as exc:
            self._core.backend_failed(settings, backend, "delete", exc)

    def _compute(
        self,
        settings: CacheSettings,
        backend: CacheBackend,
        key: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: object,
        *,
        store: bool = True,
        recheck: bool = True,
    ) -> _Result:
        core = self._core
        if not store:
            return self._compute_and_store(settings, None, key, args, kwargs, owner)
        if core.lock and isinstance(backend, LockingBackend):
            return self._compute_locked(settings, backend, key, args, kwargs, owner)
        # A caller whose read missed just before the previous flight stored the value can
        # reach this flight after that one ended: read once more before computing again.
        # (Not for a refresh: it recomputes a value that is still there on purpose.)
        data = self._read_fresh(settings, backend, key) if recheck else None
        if data is not None:
            return _Result(None, data, object())
        return self._compute_and_store(settings, backend, key, args, kwargs, owner)

    def _compute_and_store(
        self,
        settings: CacheSettings,
        backend: CacheBackend | None,
        key: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: object,
    ) -> _Result:
        core = self._core
        start = perf_counter()
        value = core.func(*args, **kwargs)
        tags = core.tags_for(args, kwargs)
        encoded = core.encode(settings, value, perf_counter() - start, tags)
        if encoded is None:
            return _Result(value, None, owner)
        data, ttl = encoded
        if backend is not None:
            try:
                backend.set(key, data, ttl=ttl, tags=tags)
            except Exception as exc:
                core.backend_failed(settings, backend, "set", exc)
        return _Result(value, data, owner)

    def _read_fresh(self, settings: CacheSettings, backend: CacheBackend, key: str) -> bytes | None:
        try:
            data = backend.get(key)
        except Exception as exc:
            self._core.backend_failed(settings, backend, "get", exc)
            return None
        if data is None:
            return None
        entry = self._core.decode(settings, backend, data)
        if entry is None or self._core.freshness(settings, entry) != _FRESH:
            return None
        return data

    def _compute_locked(
        self,
        settings: CacheSettings,
        backend: Any,
        key: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: object,
    ) -> _Result:
        lock_key = f"{key}:lock"
        token = uuid.uuid4().hex
        deadline = settings.clock.monotonic() + settings.lock_wait
        while True:
            try:
                acquired = backend.acquire_lock(lock_key, token, lease=settings.lock_lease)
            except Exception as exc:
                self._core.backend_failed(settings, backend, "lock", exc)
                return self._compute_and_store(settings, backend, key, args, kwargs, owner)
            if acquired:
                try:
                    # Another process may have stored the value while we waited for the lock.
                    data = self._read_fresh(settings, backend, key)
                    if data is not None:
                        return _Result(None, data, object())
                    return self._compute_and_store(settings, backend, key, args, kwargs, owner)
                finally:
                    try:
                        backend.release_lock(lock_key, token)
                    except Exception as exc:
                        self._core.backend_failed(settings, backend, "unlock", exc)
            remaining = deadline - settings.clock.monotonic()
            if remaining <= 0:
                # The holder is too slow or gone: compute ourselves rather than fail.
                return self._compute_and_store(settings, backend, key, args, kwargs, owner)
            try:
                backend.wait_unlocked(lock_key, timeout=remaining)
            except Exception as exc:
                self._core.backend_failed(settings, backend, "lock", exc)
                return self._compute_and_store(settings, backend, key, args, kwargs, owner)
            data = self._read_fresh(settings, backend, key)
            if data is not None:
                return _Result(None, data, object())

    def _refresh_later(
        self,
        settings: CacheSettings,
        backend: CacheBackend,
        key: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        if self._flight.in_flight(key):
            return

        def refresh() -> None:
            try:
                self._flight.do(
                    key,
                    lambda: self._compute(
                        settings, backend, key, args, kwargs, None, recheck=False
                    ),
                )
            except Exception:
                logger.warning(
                    "background refresh of %s failed; the stale value stays",
                    self._core.owner,
                    exc_info=True,
                )

        _refresher().submit(refresh)

    def invalidate(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        _settings, backend = self._core.settings()
        key = self._core.builder.build(args, kwargs)
        MEMO.forget(key)
        return backend.delete(key)


class _AsyncCached(Generic[P, R]):
    """The async shell around `_Core`."""

    def __init__(self, core: _Core[R]) -> None:
        self._core = core
        self._flight = AsyncSingleFlight()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reads: dict[tuple[asyncio.AbstractEventLoop, str], asyncio.Future[object] | None] = {}

    def make_call(self) -> Callable[..., Coroutine[Any, Any, Any]]:
        """Build the wrapper's body as a closure: on a hit every attribute lookup counts."""
        core = self._core
        build = core.builder.build
        fixed = core.fixed_backend
        check_soft = core.check_soft_expiry
        early = core.early_refresh
        config = _CONFIG
        memo_get = MEMO.get

        async def call(*args: Any, **kwargs: Any) -> Any:
            # The hit path is written out inline: each helper call here costs ~0.1 us per hit.
            settings = config.settings or current_settings()
            backend = settings.backend if fixed is None else fixed
            key = build(args, kwargs)
            start = perf_counter() if SINK.active else 0.0
            store = True
            data: Any
            if type(backend) is MemoryBackend:
                data = backend.get(key)  # no I/O: nothing to coalesce
            else:
                # One GET per key at a time, shared by every task that asks meanwhile (inline, not
                # a helper coroutine: this is the hit path). Without it a burst of N callers on
                # one key needs N connections before the single-flight even starts.
                loop = get_running_loop()
                slot = (loop, key)
                reads = self._reads
                data = _RETRY
                while slot in reads:
                    # The future is made only when a second reader shows up, so a lone reader
                    # pays just two dict operations.
                    pending = reads[slot]
                    if pending is None:
                        pending = reads[slot] = loop.create_future()
                    data = await asyncio.shield(pending)
                    if data is not _RETRY:
                        break
                    # That reader was cancelled: the first of us to get here reads for the rest.
                if data is _RETRY:
                    reads[slot] = None
                    try:
                        data = await backend.aget(key)
                    except Exception as exc:
                        core.backend_failed(settings, backend, "get", exc)
                        data = _FAILED  # reported once; every waiter treats it as a miss
                    finally:
                        # A cancelled reader hands _RETRY to the others, which then read themselves.
                        waiters = reads.pop(slot, None)
                        if waiters is not None:
                            waiters.set_result(data)
                if data is _FAILED:
                    # Do not also try to store: against a hung server that would double the wait.
                    data, store = None, False
            if data is not None:
                memo = memo_get(key)
                if (
                    memo is not None
                    and memo[0] == data
                    and memo[1] is settings.serializer
                    and memo[2] is core._typecodec
                    and memo[4] is not None
                ):
                    # Bytes seen before: copy the remembered value instead of parsing them.
                    entry: Entry | None = memo[3]
                    value = memo[4](memo[3].value)
                else:
                    entry = core.load(settings, backend, key, data)
                    value = None if entry is None else entry.value
                if entry is None:
                    await self._delete_quietly(settings, backend, key)
                else:
                    state = (
                        core.freshness(settings, entry)
                        if check_soft and entry.soft_expires_at
                        else _FRESH
                    )
                    if state == _FRESH:
                        if early and core.wants_early_refresh(settings, entry):
                            self._refresh_later(settings, backend, key, args, kwargs)
                        if SINK.active:
                            core.hit(backend, start)
                        return value
                    if state == _STALE:
                        self._refresh_later(settings, backend, key, args, kwargs)
                        if SINK.active:
                            core.stale(backend)
                        return value
            if SINK.active:
                core.miss(backend, start)
            owner = object()
            result = await self._flight.do(
                key, lambda: self._compute(settings, backend, key, args, kwargs, owner, store=store)
            )
            return core.share(settings, result, owner)

        return call

    async def _delete_quietly(
        self, settings: CacheSettings, backend: CacheBackend, key: str
    ) -> None:
        try:
            await backend.adelete(key)
        except Exception as exc:
            self._core.backend_failed(settings, backend, "delete", exc)

    async def _compute(
        self,
        settings: CacheSettings,
        backend: CacheBackend,
        key: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: object,
        *,
        store: bool = True,
        recheck: bool = True,
    ) -> _Result:
        if not store:
            return await self._compute_and_store(settings, None, key, args, kwargs, owner)
        if self._core.lock and isinstance(backend, LockingBackend):
            return await self._compute_locked(settings, backend, key, args, kwargs, owner)
        # As in the sync shell: a late reader may arrive after the previous flight ended.
        data = await self._read_fresh(settings, backend, key) if recheck else None
        if data is not None:
            return _Result(None, data, object())
        return await self._compute_and_store(settings, backend, key, args, kwargs, owner)

    async def _compute_and_store(
        self,
        settings: CacheSettings,
        backend: CacheBackend | None,
        key: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: object,
    ) -> _Result:
        core = self._core
        start = perf_counter()
        value = await core.func(*args, **kwargs)
        tags = core.tags_for(args, kwargs)
        encoded = core.encode(settings, value, perf_counter() - start, tags)
        if encoded is None:
            return _Result(value, None, owner)
        data, ttl = encoded
        if backend is not None:
            try:
                await backend.aset(key, data, ttl=ttl, tags=tags)
            except Exception as exc:
                core.backend_failed(settings, backend, "set", exc)
        return _Result(value, data, owner)

    async def _read_fresh(
        self, settings: CacheSettings, backend: CacheBackend, key: str
    ) -> bytes | None:
        try:
            data = await backend.aget(key)
        except Exception as exc:
            self._core.backend_failed(settings, backend, "get", exc)
            return None
        if data is None:
            return None
        entry = self._core.decode(settings, backend, data)
        if entry is None or self._core.freshness(settings, entry) != _FRESH:
            return None
        return data

    async def _compute_locked(
        self,
        settings: CacheSettings,
        backend: Any,
        key: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        owner: object,
    ) -> _Result:
        lock_key = f"{key}:lock"
        token = uuid.uuid4().hex
        deadline = settings.clock.monotonic() + settings.lock_wait
        while True:
            try:
                acquired = await backend.aacquire_lock(lock_key, token, lease=settings.lock_lease)
            except Exception as exc:
                self._core.backend_failed(settings, backend, "lock", exc)
                return await self._compute_and_store(settings, backend, key, args, kwargs, owner)
            if acquired:
                try:
                    data = await self._read_fresh(settings, backend, key)
                    if data is not None:
                        return _Result(None, data, object())
                    return await self._compute_and_store(
                        settings, backend, key, args, kwargs, owner
                    )
                finally:
                    try:
                        await backend.arelease_lock(lock_key, token)
                    except Exception as exc:
                        self._core.backend_failed(settings, backend, "unlock", exc)
            remaining = deadline - settings.clock.monotonic()
            if remaining <= 0:
                return await self._compute_and_store(settings, backend, key, args, kwargs, owner)
            try:
                await backend.await_unlocked(lock_key, timeout=remaining)
            except Exception as exc:
                self._core.backend_failed(settings, backend, "lock", exc)
                return await self._compute_and_store(settings, backend, key, args, kwargs, owner)
            data = await self._read_fresh(settings, backend, key)
            if data is not None:
                return _Result(None, data, object())

    def _refresh_later(
        self,
        settings: CacheSettings,
        backend: CacheBackend,
        key: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        if self._flight.in_flight(key):
            return

        async def refresh() -> None:
            try:
                await self._flight.do(
                    key,
                    lambda: self._compute(
                        settings, backend, key, args, kwargs, None, recheck=False
                    ),
                )
            except Exception:
                logger.warning(
                    "background refresh of %s failed; the stale value stays",
                    self._core.owner,
                    exc_info=True,
                )

        task = asyncio.get_running_loop().create_task(refresh())
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def invalidate(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        _settings, backend = self._core.settings()
        key = self._core.builder.build(args, kwargs)
        MEMO.forget(key)
        return await backend.adelete(key)


class _Cached:
    """What ``cached(...)`` returns: applied to a function, it returns the cached twin."""

    def __init__(self, options: dict[str, Any]) -> None:
        self._options = options

    @overload
    def __call__(self, func: classmethod[S, P, R], /) -> classmethod[S, P, R]: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]  # a staticmethod is callable too; this must win
        self, func: staticmethod[P, R], /
    ) -> staticmethod[P, R]: ...
    @overload
    def __call__(  # type: ignore[overload-overlap]  # an async def is also a Callable[P, R]; this overload must win
        self, func: Callable[P, Coroutine[Any, Any, R]], /
    ) -> AsyncCachedFunction[P, R]: ...
    @overload
    def __call__(self, func: Callable[P, R], /) -> CachedFunction[P, R]: ...
    def __call__(self, func: Any, /) -> Any:
        if isinstance(func, (staticmethod, classmethod)):
            return type(func)(self(func.__func__))
        core: _Core[Any] = _Core(func, **self._options)
        if inspect.iscoroutinefunction(func):
            shell_a: _AsyncCached[Any, Any] = _AsyncCached(core)

            async_wrapper = functools.wraps(func)(shell_a.make_call())

            async def ainvalidate(*args: Any, **kwargs: Any) -> bool:
                return await shell_a.invalidate(args, kwargs)

            async def auncached(*args: Any, **kwargs: Any) -> Any:
                return await func(*args, **kwargs)

            wrapper: Any = async_wrapper
            wrapper.invalidate = ainvalidate
            wrapper.uncached = auncached
        else:
            shell_s: _SyncCached[Any, Any] = _SyncCached(core)

            sync_wrapper = functools.wraps(func)(shell_s.make_call())

            def invalidate(*args: Any, **kwargs: Any) -> bool:
                return shell_s.invalidate(args, kwargs)

            wrapper = sync_wrapper
            wrapper.invalidate = invalidate
            wrapper.uncached = func

        def key(*args: Any, **kwargs: Any) -> str:
            return core.builder.build(args, kwargs)

        wrapper.key = key
        wrapper.cache_prefix = core.prefix
        return wrapper


def cached(
    prefix: str,
    *,
    ttl: float,
    key: str | Callable[..., str] | None = None,
    exclude: Iterable[str] = (),
    backend: CacheBackend | None = None,
    cache_none: bool = True,
    none_ttl: float | None = None,
    stale_ttl: float = 0,
    early_refresh: bool = False,
    lock: bool = False,
    tags: Iterable[str] = (),
) -> _Cached:
    """Cache a function's results, for ``def`` and ``async def`` alike.

    Example:
        >>> @cached("api:user", ttl=CacheStrategy.API_MEDIUM)  # doctest: +SKIP
        ... async def get_user(user_id: int) -> User: ...

    Args:
        prefix: Key prefix, such as ``"api:user"``; invalidate all entries with
            ``get_cache().delete_prefix(prefix)``.
        ttl: Seconds a value stays fresh (`CacheStrategy` has named values). Each stored TTL
            is shortened by a random jitter (see `configure_cache`) to spread expiries.
        key: A ``str.format`` template over argument names (``"{user_id}"``) or a callable
            with the function's parameters returning the key part; default: a hash of all
            arguments, bound to the signature with defaults applied.
        exclude: Argument names that do not change the result (a logger, a session).
        backend: A backend for this function only; default: the `configure_cache` one.
        cache_none: Cache a ``None`` result too.
        none_ttl: TTL for ``None`` results; default *ttl*.
        stale_ttl: Seconds past *ttl* during which the old value is served while one
            caller recomputes it in the background.
        early_refresh: Recompute in the background shortly before expiry, with a
            probability that rises as expiry nears (XFetch), so hot keys never miss.
        lock: Across processes, let one caller compute a missing value while the others
            wait for it (needs a `RedisBackend`; in-process callers are always coalesced).
        tags: Tags to invalidate by (``get_cache().delete_tags(["user:1"])``); a tag may be
            a template over argument names, like ``"user:{user_id}"``.

    Returns:
        A decorator. The decorated function keeps its signature and gains
        ``.key(...)``, ``.invalidate(...)`` and ``.uncached(...)`` (async for ``async def``).

    Raises:
        ConfigurationError: Invalid options (raised at decoration time).
    """
    return _Cached(
        {
            "prefix": prefix,
            "ttl": ttl,
            "key": key,
            "exclude": exclude,
            "backend": backend,
            "cache_none": cache_none,
            "none_ttl": none_ttl,
            "stale_ttl": stale_ttl,
            "early_refresh": early_refresh,
            "lock": lock,
            "tags": tags,
        }
    )
