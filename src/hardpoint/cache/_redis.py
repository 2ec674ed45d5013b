"""Redis backend: standalone, Sentinel or Cluster; sync and asyncio; bounded and fail-fast.

Needs ``pip install 'hardpoint[redis]'``. Every operation runs behind a circuit breaker
with short socket timeouts and no client-side retries, so while Redis is refused or frozen
a call costs one timeout per breaker interval and microseconds otherwise.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from hardpoint._internal.breaker import CircuitBreaker
from hardpoint._internal.clock import SYSTEM_CLOCK, Clock
from hardpoint._optional import requires_extra
from hardpoint.errors import BackendUnavailableError, CircuitOpenError, ConfigurationError
from hardpoint.events import SINK, BreakerStateChanged

if TYPE_CHECKING:
    import redis
    import redis.asyncio

__all__ = ["RedisBackend"]

T = TypeVar("T")

_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")
_SCAN_COUNT: Final = 1000
_DELETE_BATCH: Final = 500
_MIN_CONNECT: Final = 0.25  # default floor of connect_timeout, in seconds

# Release the lock only if we still own it, and wake the processes waiting for it.
_RELEASE_LUA: Final = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    redis.call('del', KEYS[1])
    redis.call('publish', KEYS[1], 'released')
    return 1
end
return 0
"""

Topology = Literal["standalone", "sentinel", "cluster"]


def _glob_escape(text: str) -> str:
    return _GLOB_SPECIAL.sub(r"\\\1", text)


class RedisBackend:
    """A cache backend on Redis, shared by every process that uses the same namespace.

    Build it with `from_url` (recommended: hardpoint then sets timeouts and turns off the
    client's retries) or pass ready clients. The sync client serves ``def`` functions, the
    asyncio client ``async def`` ones; `from_url` creates each on first use, and a new
    asyncio client per event loop.

    Args:
        client: A ``redis.Redis`` / ``redis.cluster.RedisCluster`` for sync calls.
        async_client: A ``redis.asyncio.Redis`` / ``redis.asyncio.cluster.RedisCluster``.
        namespace: Prepended to every key (``"hp:"`` + key), so `clear` and prefix deletes
            touch only this cache's keys on a shared server. Change it to flush on deploy.
        failure_threshold: Consecutive failures that open the breaker.
        reset_timeout: Seconds the breaker stays open before one probe call.
        clock: Time source for the breaker.

    Raises:
        ConfigurationError: No client at all, or an empty namespace.
    """

    name = "redis"

    def __init__(
        self,
        *,
        client: redis.Redis | Any | None = None,
        async_client: redis.asyncio.Redis | Any | None = None,
        namespace: str = "hp",
        failure_threshold: int = 3,
        reset_timeout: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
        _factory: _ClientFactory | None = None,
    ) -> None:
        if client is None and async_client is None and _factory is None:
            raise ConfigurationError(
                "RedisBackend needs a client, an async_client, or RedisBackend.from_url(...)",
                field="client",
            )
        if not namespace:
            raise ConfigurationError("namespace must not be empty", field="namespace")
        self._client = client
        self._async_client = async_client
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._factory = _factory
        self._lock = threading.Lock()
        self.namespace = namespace
        self._ns = namespace + ":"
        self._release_script: Any = None
        self._arelease_scripts: dict[int, Any] = {}
        self.breaker = CircuitBreaker(
            name=f"redis:{namespace}",
            failure_threshold=failure_threshold,
            reset_timeout=reset_timeout,
            clock=clock,
            on_state_change=_report_breaker,
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        namespace: str = "hp",
        version: str | None = None,
        timeout: float = 0.05,
        connect_timeout: float | None = None,
        max_connections: int = 100,
        pool_timeout: float = 1.0,
        failure_threshold: int = 3,
        reset_timeout: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
        **client_options: Any,
    ) -> RedisBackend:
        """Connect lazily to the Redis at *url*.

        URL forms: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS),
        ``unix:///path/redis.sock``, ``redis+cluster://host:port`` (any node of a cluster),
        ``redis+sentinel://host:port[,host:port...]/service_name[/db]``.

        Args:
            url: Where Redis is.
            namespace: Key namespace (see the class).
            version: Appended to the namespace (``hp:v2:``): bump it to flush on deploy.
            timeout: Seconds a command may take before it counts as failed (default 50 ms).
            connect_timeout: Seconds to open a connection; default *timeout*, but at least
                0.25 s: a burst of callers opens many connections at once, and on a busy
                host that takes longer than a command (the breaker would open on a healthy
                Redis). It only costs time when Redis is unreachable without refusing, once
                per breaker probe.
            max_connections: Connections per pool (one pool for sync, one per event loop).
                Beyond it, sync calls wait up to *pool_timeout* for a free connection and
                async calls are misses (neither counts against Redis in the breaker).
            pool_timeout: Seconds a sync command waits for a free connection.
            failure_threshold: Consecutive failures that open the breaker.
            reset_timeout: Seconds before the breaker lets one probe through.
            clock: Time source for the breaker.
            **client_options: Passed on to redis-py (``ssl_ca_certs``, ``username``...).

        Raises:
            ConfigurationError: An unsupported scheme or a bad timeout.
            MissingDependencyError: ``hardpoint[redis]`` is not installed.
        """
        if not timeout > 0:
            raise ConfigurationError("timeout must be positive", field="timeout")
        with requires_extra("redis", feature="RedisBackend"):
            import redis  # noqa: F401 - fail here, not at the first call
        factory = _ClientFactory(
            url,
            timeout=timeout,
            connect_timeout=(
                connect_timeout if connect_timeout is not None else max(timeout, _MIN_CONNECT)
            ),
            max_connections=max_connections,
            pool_timeout=pool_timeout,
            options=client_options,
        )
        full_ns = f"{namespace}:{version}" if version else namespace
        return cls(
            namespace=full_ns,
            failure_threshold=failure_threshold,
            reset_timeout=reset_timeout,
            clock=clock,
            _factory=factory,
        )

    def __repr__(self) -> str:
        where = self._factory.safe_url if self._factory else "client"
        return f"RedisBackend({where}, namespace={self.namespace!r}, breaker={self.breaker.state})"

    def __enter__(self) -> RedisBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> RedisBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def topology(self) -> Topology:
        """``standalone``, ``sentinel`` or ``cluster``."""
        if self._factory is not None:
            return self._factory.topology
        client = self._client if self._client is not None else self._async_client
        return "cluster" if "cluster" in type(client).__module__ else "standalone"

    # -- clients ---------------------------------------------------------------------------

    def _sync(self) -> Any:
        client = self._client
        if client is None:
            if self._factory is None:
                raise ConfigurationError(
                    "this RedisBackend has only an asyncio client; pass client= for def functions",
                    field="client",
                )
            with self._lock:
                if self._client is None:
                    self._client = self._factory.sync_client()
                client = self._client
        return client

    def _async(self) -> Any:
        client = self._async_client
        loop = asyncio.get_running_loop()
        if self._factory is None:
            if client is None:
                raise ConfigurationError(
                    "this RedisBackend has only a sync client; pass async_client= for async def",
                    field="async_client",
                )
            return client
        # asyncio connections belong to the loop that opened them.
        if client is None or self._async_loop is not loop:
            client = self._async_client = self._factory.async_client()
            self._async_loop = loop
        return client

    def _key(self, key: str) -> str:
        return self._ns + key

    # -- the breaker around every command --------------------------------------------------

    def _open_error(self, operation: str) -> CircuitOpenError:
        return CircuitOpenError(
            f"redis breaker open; skipping {operation}",
            backend="redis",
            retry_after=self.breaker.retry_after(),
        )

    def _failed(self, operation: str, exc: BaseException) -> BackendUnavailableError:
        """Count a failure against Redis (unless it is our own pool running dry)."""
        if not _is_pool_exhausted(exc):
            self.breaker.record_failure()
        return BackendUnavailableError(
            f"redis {operation} failed: {type(exc).__name__}: {exc}", backend="redis"
        )

    def _run(self, operation: str, fn: Callable[[], T]) -> T:
        breaker = self.breaker
        if not breaker.allow():
            raise self._open_error(operation)
        try:
            result = fn()
        except _redis_errors() as exc:
            raise self._failed(operation, exc) from exc
        except BaseException:
            breaker.record_success()  # not Redis's fault (a bug, a KeyboardInterrupt)
            raise
        breaker.record_success()
        return result

    async def _arun(self, operation: str, fn: Callable[[], Awaitable[T]]) -> T:
        breaker = self.breaker
        if not breaker.allow():
            raise self._open_error(operation)
        try:
            result = await fn()
        except _redis_errors() as exc:
            raise self._failed(operation, exc) from exc
        except BaseException:
            breaker.record_success()
            raise
        breaker.record_success()
        return result

    # -- sync API --------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        """Return the bytes under *key*, or None."""
        # The hit path: `_run` inlined, no closure.
        client: Any = self._client if self._client is not None else self._sync()
        breaker = self.breaker
        if not breaker.allow():
            raise self._open_error("get")
        try:
            result: bytes | None = client.get(self._ns + key)
        except _redis_errors() as exc:
            raise self._failed("get", exc) from exc
        breaker.record_success()
        return result

    def set(self, key: str, value: bytes, *, ttl: float, tags: Sequence[str] = ()) -> None:
        """Store *value* for *ttl* seconds and index it under *tags*."""
        client = self._sync()
        full = self._key(key)
        ms = max(1, int(ttl * 1000))
        if not tags:
            self._run("set", lambda: client.set(full, value, px=ms))
            return

        def pipeline() -> None:
            pipe = client.pipeline(transaction=False)
            pipe.set(full, value, px=ms)
            self._index_tags(pipe, full, tags, ms)
            pipe.execute()

        self._run("set", pipeline)

    def _index_tags(self, pipe: Any, full: str, tags: Sequence[str], ms: int) -> None:
        for tag in tags:
            tag_key = self._tag_key(tag)
            pipe.sadd(tag_key, full)
            # The tag set lives as long as its longest-lived member.
            pipe.pexpire(tag_key, ms, nx=True)
            pipe.pexpire(tag_key, ms, gt=True)

    def _tag_key(self, tag: str) -> str:
        return f"{self._ns}__tag__:{tag}"

    def delete(self, key: str) -> bool:
        """Remove *key*; return whether it existed."""
        client = self._sync()
        full = self._key(key)
        return bool(self._run("delete", lambda: client.unlink(full)))

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key under *prefix* with SCAN + UNLINK (never KEYS)."""
        client = self._sync()
        pattern = _glob_escape(self._key(prefix)) + "*"

        def scan_and_unlink() -> int:
            removed = 0
            batch: list[Any] = []
            for found in client.scan_iter(match=pattern, count=_SCAN_COUNT):
                batch.append(found)
                if len(batch) >= _DELETE_BATCH:
                    removed += client.unlink(*batch)
                    batch.clear()
            if batch:
                removed += client.unlink(*batch)
            return removed

        return self._run("delete_prefix", scan_and_unlink)

    def delete_tags(self, tags: Iterable[str]) -> int:
        """Remove every key stored under any of *tags*."""
        client = self._sync()
        tag_keys = [self._tag_key(t) for t in tags]

        def unlink_members() -> int:
            removed = 0
            for tag_key in tag_keys:
                members = list(client.smembers(tag_key))
                for start in range(0, len(members), _DELETE_BATCH):
                    removed += client.unlink(*members[start : start + _DELETE_BATCH])
                client.unlink(tag_key)
            return removed

        return self._run("delete_tags", unlink_members)

    def clear(self) -> None:
        """Remove every key in this backend's namespace (other keys are left alone)."""
        self.delete_prefix("")

    def close(self) -> None:
        """Close the sync client's connections."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
            if self._factory is not None and self._factory.topology != "cluster":
                client.connection_pool.disconnect()  # our own pool: the client does not own it
                for sentinel in _sentinel_clients(client):
                    sentinel.close()

    def acquire_lock(self, key: str, token: str, *, lease: float) -> bool:
        """Take the lock on *key* for *lease* seconds unless it is held."""
        client = self._sync()
        full = self._key(key)
        ms = max(1, int(lease * 1000))
        return bool(self._run("lock", lambda: client.set(full, token, nx=True, px=ms)))

    def release_lock(self, key: str, token: str) -> bool:
        """Release the lock if *token* holds it (checked atomically in Lua)."""
        client = self._sync()
        if self._release_script is None:
            self._release_script = client.register_script(_RELEASE_LUA)
        script = self._release_script
        full = self._key(key)
        return bool(self._run("unlock", lambda: script(keys=[full], args=[token])))

    def wait_unlocked(self, key: str, *, timeout: float) -> None:
        """Block until the lock on *key* is released (woken by pub/sub) or *timeout* passes."""
        client = self._sync()
        full = self._key(key)
        deadline = time.monotonic() + timeout
        if self.topology == "cluster":
            self._poll_unlocked(client, full, deadline)
            return

        def wait() -> None:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(full)
                while client.exists(full):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    # Wake on the release message, or re-check every 100 ms in case the
                    # holder died and its lease ran out (expiry publishes nothing).
                    if pubsub.get_message(timeout=min(remaining, 0.1)) is not None:
                        return
            finally:
                pubsub.close()

        self._run("lock_wait", wait)

    def _poll_unlocked(self, client: Any, full: str, deadline: float) -> None:
        delay = 0.002
        while self._run("lock_wait", lambda: client.exists(full)):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(delay, remaining))
            delay = min(delay * 1.5, 0.05)

    # -- async API -------------------------------------------------------------------------

    async def aget(self, key: str) -> bytes | None:
        """Async twin of `get`."""
        client: Any = self._async_client
        if client is None or self._async_loop is not asyncio.get_running_loop():
            client = self._async()
        breaker = self.breaker
        if not breaker.allow():
            raise self._open_error("get")
        try:
            result: bytes | None = await client.get(self._ns + key)
        except _redis_errors() as exc:
            raise self._failed("get", exc) from exc
        breaker.record_success()
        return result

    async def aset(self, key: str, value: bytes, *, ttl: float, tags: Sequence[str] = ()) -> None:
        """Async twin of `set`."""
        client = self._async()
        full = self._key(key)
        ms = max(1, int(ttl * 1000))
        if not tags:
            await self._arun("set", lambda: client.set(full, value, px=ms))
            return

        async def pipeline() -> None:
            pipe = client.pipeline(transaction=False)
            pipe.set(full, value, px=ms)
            self._index_tags(pipe, full, tags, ms)
            await pipe.execute()

        await self._arun("set", pipeline)

    async def adelete(self, key: str) -> bool:
        """Async twin of `delete`."""
        client = self._async()
        full = self._key(key)
        return bool(await self._arun("delete", lambda: client.unlink(full)))

    async def adelete_prefix(self, prefix: str) -> int:
        """Async twin of `delete_prefix`."""
        client = self._async()
        pattern = _glob_escape(self._key(prefix)) + "*"

        async def scan_and_unlink() -> int:
            removed = 0
            batch: list[Any] = []
            async for found in client.scan_iter(match=pattern, count=_SCAN_COUNT):
                batch.append(found)
                if len(batch) >= _DELETE_BATCH:
                    removed += await client.unlink(*batch)
                    batch.clear()
            if batch:
                removed += await client.unlink(*batch)
            return removed

        return await self._arun("delete_prefix", scan_and_unlink)

    async def adelete_tags(self, tags: Iterable[str]) -> int:
        """Async twin of `delete_tags`."""
        client = self._async()
        tag_keys = [self._tag_key(t) for t in tags]

        async def unlink_members() -> int:
            removed = 0
            for tag_key in tag_keys:
                members = list(await client.smembers(tag_key))
                for start in range(0, len(members), _DELETE_BATCH):
                    removed += await client.unlink(*members[start : start + _DELETE_BATCH])
                await client.unlink(tag_key)
            return removed

        return await self._arun("delete_tags", unlink_members)

    async def aclear(self) -> None:
        """Async twin of `clear`."""
        await self.adelete_prefix("")

    async def aclose(self) -> None:
        """Close the asyncio client (and the sync one)."""
        client, self._async_client = self._async_client, None
        loop, self._async_loop = self._async_loop, None
        if client is not None and (self._factory is None or loop is asyncio.get_running_loop()):
            if self._factory is not None and self._factory.topology != "cluster":
                # Our own pool is not owned by the client: close it explicitly.
                await client.aclose(close_connection_pool=True)
                for sentinel in _sentinel_clients(client):
                    await sentinel.aclose()
            else:
                await client.aclose()
        self.close()

    async def aacquire_lock(self, key: str, token: str, *, lease: float) -> bool:
        """Async twin of `acquire_lock`."""
        client = self._async()
        full = self._key(key)
        ms = max(1, int(lease * 1000))
        return bool(await self._arun("lock", lambda: client.set(full, token, nx=True, px=ms)))

    async def arelease_lock(self, key: str, token: str) -> bool:
        """Async twin of `release_lock`."""
        client = self._async()
        full = self._key(key)
        return bool(await self._arun("unlock", lambda: client.eval(_RELEASE_LUA, 1, full, token)))

    async def await_unlocked(self, key: str, *, timeout: float) -> None:
        """Async twin of `wait_unlocked`."""
        client = self._async()
        full = self._key(key)
        deadline = time.monotonic() + timeout
        if self.topology == "cluster":
            delay = 0.002
            while await self._arun("lock_wait", lambda: client.exists(full)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                await asyncio.sleep(min(delay, remaining))
                delay = min(delay * 1.5, 0.05)
            return

        async def wait() -> None:
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(full)
                while await client.exists(full):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return
                    message = await pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=min(remaining, 0.1)
                    )
                    if message is not None:
                        return
            finally:
                await pubsub.aclose()

        await self._arun("lock_wait", wait)


def _sentinel_clients(client: Any) -> list[Any]:
    """The clients a Sentinel-managed pool keeps to the sentinels themselves."""
    manager = getattr(client.connection_pool, "sentinel_manager", None)
    return list(getattr(manager, "sentinels", ()))


def _report_breaker(name: str, old: Any, new: Any) -> None:
    if SINK.active:
        SINK.emit(BreakerStateChanged(name=name, old=old, new=new))


_ERRORS: tuple[type[BaseException], ...] | None = None


def _is_pool_exhausted(exc: BaseException) -> bool:
    # Too many concurrent commands for the pool is our saturation, not Redis failing.
    return type(exc).__name__ == "MaxConnectionsError"


def _redis_errors() -> tuple[type[BaseException], ...]:
    global _ERRORS
    if _ERRORS is None:
        import redis.exceptions

        _ERRORS = (redis.exceptions.RedisError, OSError, asyncio.TimeoutError)
    return _ERRORS


class _ClientFactory:
    """Builds sync and asyncio clients for one URL with hardpoint's safety settings."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        connect_timeout: float,
        max_connections: int,
        pool_timeout: float,
        options: dict[str, Any],
    ) -> None:
        self.url = url
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("redis", "rediss", "unix"):
            self.topology: Topology = "standalone"
        elif scheme in ("redis+cluster", "rediss+cluster"):
            self.topology = "cluster"
        elif scheme in ("redis+sentinel", "rediss+sentinel"):
            self.topology = "sentinel"
        else:
            raise ConfigurationError(
                f"unsupported Redis URL scheme {scheme!r}; use redis://, rediss://, unix://, "
                "redis+cluster:// or redis+sentinel://",
                field="url",
            )
        self.safe_url = _redact_url(url)
        self.options: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": connect_timeout,
            **options,
        }
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout

    def sync_client(self) -> Any:
        import redis
        import redis.cluster
        import redis.sentinel
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        # No client-side retries: our breaker decides, and a retry doubles every timeout.
        options = {"retry": Retry(NoBackoff(), 0), **self.options}
        if self.topology == "cluster":
            url = self.url.replace("+cluster", "", 1)
            return redis.cluster.RedisCluster.from_url(url, **options)
        if self.topology == "sentinel":
            hosts, service, db, password = _parse_sentinel(self.url)
            sentinel = redis.sentinel.Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                hosts,
                socket_timeout=self.options["socket_timeout"],
                socket_connect_timeout=self.options["socket_connect_timeout"],
            )
            return sentinel.master_for(  # type: ignore[no-untyped-call]  # unannotated upstream
                service, db=db, password=password, **options
            )
        # A blocking pool makes a burst beyond max_connections wait (up to pool_timeout)
        # instead of failing at once, which would count against Redis in the breaker.
        pool = redis.BlockingConnectionPool.from_url(
            self.url, max_connections=self.max_connections, timeout=self.pool_timeout, **options
        )
        return redis.Redis(connection_pool=pool)

    def async_client(self) -> Any:
        import redis.asyncio
        import redis.asyncio.cluster
        import redis.asyncio.sentinel
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        options = {"retry": Retry(NoBackoff(), 0), **self.options}
        if self.topology == "cluster":
            url = self.url.replace("+cluster", "", 1)
            return redis.asyncio.cluster.RedisCluster.from_url(url, **options)
        if self.topology == "sentinel":
            hosts, service, db, password = _parse_sentinel(self.url)
            sentinel = redis.asyncio.sentinel.Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
                hosts,
                socket_timeout=self.options["socket_timeout"],
                socket_connect_timeout=self.options["socket_connect_timeout"],
            )
            return sentinel.master_for(service, db=db, password=password, **options)
        # Not the blocking pool here: in redis-py's asyncio client it takes a condition and a
        # timer per command (about 15 us). Concurrent reads of one key are coalesced before
        # they get here, and running out of connections is a miss that does not trip the breaker.
        pool = redis.asyncio.ConnectionPool.from_url(
            self.url, max_connections=self.max_connections, **options
        )
        return redis.asyncio.Redis(connection_pool=pool)


def _redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def _parse_sentinel(url: str) -> tuple[list[tuple[str, int]], str, int, str | None]:
    """Split ``redis+sentinel://[:pw@]h1:p1,h2:p2/service[/db]`` into its parts."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    password = unquote(parts.password) if parts.password else None
    hosts: list[tuple[str, int]] = []
    for item in netloc.split(","):
        host, _, port = item.rpartition(":")
        if not host:
            host, port = port, "26379"
        try:
            hosts.append((host, int(port)))
        except ValueError as exc:
            raise ConfigurationError(f"bad sentinel address {item!r}", field="url") from exc
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ConfigurationError("a sentinel URL needs /service_name", field="url")
    service = path[0]
    db = int(path[1]) if len(path) > 1 and path[1].isdigit() else 0
    query = dict(parse_qsl(parts.query))
    if "db" in query and query["db"].isdigit():
        db = int(query["db"])
    return hosts, service, db, password
