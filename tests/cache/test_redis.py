"""RedisBackend against real servers: standalone, Cluster, locks, prefix scans."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import pytest
import redis

from hardpoint import events
from hardpoint.cache import MemoryBackend, RedisBackend, TieredBackend, cached, configure_cache
from hardpoint.errors import ConfigurationError


def test_set_get_delete_sync_and_async_share_entries(redis_backend: RedisBackend) -> None:
    redis_backend.set("k", b"v", ttl=60)
    assert redis_backend.get("k") == b"v"
    assert redis_backend.delete("k") is True
    assert redis_backend.get("k") is None


async def test_async_twins(redis_backend: RedisBackend) -> None:
    await redis_backend.aset("k", b"v", ttl=60, tags=["t"])
    assert redis_backend.get("k") == b"v"  # written async, read sync
    assert await redis_backend.aget("k") == b"v"
    assert await redis_backend.adelete_tags(["t"]) == 1
    assert await redis_backend.aget("k") is None
    await redis_backend.aset("p:1", b"1", ttl=60)
    await redis_backend.aset("p:2", b"2", ttl=60)
    assert await redis_backend.adelete_prefix("p:") == 2
    assert await redis_backend.adelete("p:1") is False


def test_keys_live_under_the_namespace_with_a_ttl(
    redis_backend: RedisBackend, redis_url: str
) -> None:
    redis_backend.set("k", b"v", ttl=30)
    raw = redis.Redis.from_url(redis_url)
    try:
        full = f"{redis_backend.namespace}:k"
        assert raw.get(full) == b"v"
        assert 0 < raw.pttl(full) <= 30_000
    finally:
        raw.close()


def test_prefix_delete_escapes_glob_characters_and_spares_other_namespaces(
    redis_url: str, namespace: str
) -> None:
    with (
        RedisBackend.from_url(redis_url, namespace=namespace) as mine,
        RedisBackend.from_url(redis_url, namespace=namespace + "-other") as other,
    ):
        mine.set("a*[x]:1", b"1", ttl=60)
        mine.set("a*[x]:2", b"2", ttl=60)
        mine.set("ab:1", b"3", ttl=60)  # would match an unescaped "a*"
        other.set("a*[x]:1", b"4", ttl=60)
        assert mine.delete_prefix("a*[x]:") == 2
        assert mine.get("ab:1") == b"3"
        assert other.get("a*[x]:1") == b"4"
        mine.clear()
        assert mine.get("ab:1") is None
        assert other.get("a*[x]:1") == b"4"
        other.clear()


def test_prefix_delete_handles_more_keys_than_one_batch(redis_backend: RedisBackend) -> None:
    for i in range(1200):
        redis_backend.set(f"bulk:{i}", b"x", ttl=60)
    assert redis_backend.delete_prefix("bulk:") == 1200


def test_version_namespaces_flush_on_deploy(redis_url: str, namespace: str) -> None:
    with RedisBackend.from_url(redis_url, namespace=namespace, version="1") as v1:
        v1.set("k", b"old", ttl=60)
        with RedisBackend.from_url(redis_url, namespace=namespace, version="2") as v2:
            assert v2.get("k") is None
            assert v2.namespace == f"{namespace}:2"
        v1.clear()


def test_lock_is_exclusive_and_released_only_by_its_owner(redis_backend: RedisBackend) -> None:
    assert redis_backend.acquire_lock("L", "t1", lease=5) is True
    assert redis_backend.acquire_lock("L", "t2", lease=5) is False
    assert redis_backend.release_lock("L", "t2") is False  # not the owner
    assert redis_backend.release_lock("L", "t1") is True
    assert redis_backend.acquire_lock("L", "t2", lease=5) is True
    redis_backend.release_lock("L", "t2")


def test_lock_lease_expires(redis_backend: RedisBackend) -> None:
    assert redis_backend.acquire_lock("L2", "t1", lease=0.05) is True
    time.sleep(0.1)
    assert redis_backend.acquire_lock("L2", "t2", lease=5) is True
    redis_backend.release_lock("L2", "t2")


def test_waiters_wake_promptly_on_release(redis_backend: RedisBackend) -> None:
    redis_backend.acquire_lock("W", "t1", lease=10)
    woke: list[float] = []

    def waiter() -> None:
        redis_backend.wait_unlocked("W", timeout=5)
        woke.append(time.monotonic())

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.2)
    released = time.monotonic()
    redis_backend.release_lock("W", "t1")
    thread.join(5)
    assert woke
    assert woke[0] - released < 0.09  # woken by pub/sub, not by a 100 ms re-check


async def test_async_waiters_wake_on_release(redis_backend: RedisBackend) -> None:
    import asyncio

    await redis_backend.aacquire_lock("AW", "t1", lease=10)
    waiter = asyncio.create_task(redis_backend.await_unlocked("AW", timeout=5))
    await asyncio.sleep(0.1)
    assert not waiter.done()
    assert await redis_backend.arelease_lock("AW", "t1") is True
    await asyncio.wait_for(waiter, 1)


def test_from_url_validates_scheme_and_redacts_password() -> None:
    with pytest.raises(ConfigurationError) as exc:
        RedisBackend.from_url("http://localhost")
    assert exc.value.field == "url"
    backend = RedisBackend.from_url("redis://user:s3cret@127.0.0.1:1/0")
    assert "s3cret" not in repr(backend)
    assert backend.topology == "standalone"
    assert RedisBackend.from_url("redis+cluster://127.0.0.1:1").topology == "cluster"
    assert RedisBackend.from_url("redis+sentinel://127.0.0.1:1/mymaster").topology == "sentinel"
    with pytest.raises(ConfigurationError):
        RedisBackend()
    with pytest.raises(ConfigurationError):
        RedisBackend.from_url("redis://127.0.0.1:1", timeout=0)


def test_backend_from_a_client_instance(redis_url: str, namespace: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_timeout=1)
    backend = RedisBackend(client=client, namespace=namespace)
    try:
        backend.set("k", b"v", ttl=60)
        assert backend.get("k") == b"v"
    finally:
        backend.clear()
        client.close()


def test_cached_functions_share_entries_between_sync_and_async_processes(
    redis_backend: RedisBackend,
) -> None:
    configure_cache(backend=redis_backend)
    calls: list[int] = []

    @cached("shared:v", ttl=60)
    def value(x: int) -> dict[str, Any]:
        calls.append(x)
        return {"x": x}

    assert value(1) == {"x": 1}
    # A second "process": another backend object on the same Redis and namespace.
    with RedisBackend.from_url(
        redis_backend._factory.url if redis_backend._factory else "",
        namespace=redis_backend.namespace,
    ) as again:
        configure_cache(backend=again)
        assert value(1) == {"x": 1}
    assert calls == [1]


def test_tiered_backend_serves_from_l1_and_fills_it_from_l2(redis_backend: RedisBackend) -> None:
    l1 = MemoryBackend()
    tiered = TieredBackend(l1=l1, l2=redis_backend, l1_ttl=1.0)
    tiered.set("k", b"v", ttl=60)
    assert l1.get("k") == b"v"
    l1.clear()
    assert tiered.get("k") == b"v"
    assert l1.get("k") == b"v"
    assert tiered.delete("k") is True
    assert redis_backend.get("k") is None
    with pytest.raises(ConfigurationError):
        TieredBackend(l1=l1, l2=redis_backend, l1_ttl=0)


def test_cluster_backend_spreads_keys_and_deletes_by_prefix_and_tag(redis_cluster: Any) -> None:
    ns = f"hp-cl-{uuid.uuid4().hex[:6]}"
    url = redis_cluster.url.replace("redis://", "redis+cluster://", 1)
    with RedisBackend.from_url(url, namespace=ns, timeout=1.0) as backend:
        for i in range(200):
            backend.set(f"c:{i}", str(i).encode(), ttl=60, tags=["even"] if i % 2 == 0 else [])
        assert backend.get("c:7") == b"7"
        assert backend.delete_tags(["even"]) == 100
        assert backend.get("c:8") is None
        assert backend.delete_prefix("c:") == 100
        assert backend.acquire_lock("L", "t", lease=5)
        assert not backend.acquire_lock("L", "u", lease=5)
        assert backend.release_lock("L", "t")
        backend.clear()


async def test_cluster_backend_async(redis_cluster: Any) -> None:
    ns = f"hp-acl-{uuid.uuid4().hex[:6]}"
    url = redis_cluster.url.replace("redis://", "redis+cluster://", 1)
    backend = RedisBackend.from_url(url, namespace=ns, timeout=1.0)
    try:
        for i in range(50):
            await backend.aset(f"c:{i}", b"x", ttl=60)
        assert await backend.aget("c:3") == b"x"
        assert await backend.adelete_prefix("c:") == 50
    finally:
        await backend.aclear()
        await backend.aclose()


@pytest.fixture
def sentinel_url(redis_server: Any, tmp_path: Any) -> Any:
    """A Redis Sentinel watching the private redis_server as master ``mymaster``."""
    import shutil
    import socket
    import subprocess

    from _servers import skip_or_fail

    exe = shutil.which("redis-server")
    if exe is None:
        skip_or_fail("redis-server is not on PATH (needed for Redis Sentinel)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor mymaster 127.0.0.1 {redis_server.port} 1\n"
    )
    proc = subprocess.Popen(
        [exe, str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.sentinel_get_master_addr_by_name("mymaster"):
                    break
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("redis sentinel did not start within 20 s")
            time.sleep(0.05)
        client.close()
        yield f"redis+sentinel://127.0.0.1:{port}/mymaster/0"
    finally:
        proc.kill()
        proc.wait(10)


async def test_sentinel_url_reaches_the_master_sync_and_async(sentinel_url: str) -> None:
    backend = RedisBackend.from_url(sentinel_url, namespace="hp-sentinel", timeout=1.0)
    try:
        assert backend.topology == "sentinel"
        backend.set("k", b"v", ttl=60)
        assert backend.get("k") == b"v"
        assert await backend.aget("k") == b"v"
        assert await backend.adelete("k") is True
    finally:
        await backend.aclose()


async def test_hardpoint_redis_url_selects_redis_without_configuration(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hardpoint.cache import aclose_cache, get_cache

    monkeypatch.setenv("HARDPOINT_REDIS_URL", redis_url)
    try:
        backend = get_cache()
        assert isinstance(backend, RedisBackend)
        assert backend.topology == "standalone"
    finally:
        await aclose_cache()


async def test_cache_lifespan_configures_and_closes(redis_url: str) -> None:
    from hardpoint.cache import cache_lifespan, get_cache

    lifespan = cache_lifespan(redis_url, namespace="hp-lifespan")
    async with lifespan(object()):
        backend = get_cache()
        assert isinstance(backend, RedisBackend)
        await backend.aset("k", b"v", ttl=5)
        assert await backend.aget("k") == b"v"
        await backend.aclear()
    assert get_cache() is not backend  # closed and forgotten on shutdown


async def test_a_cold_burst_of_callers_does_not_open_the_breaker(
    redis_url: str, namespace: str
) -> None:
    # 50 tasks at once on a cold pool open 50 connections together; on a busy 2-core host that
    # took over 50 ms (the command timeout), which used to open the breaker on a healthy Redis
    # and turn every call into a miss for reset_timeout.
    # A 200 ms command timeout keeps slow reads on a loaded CI host from opening the breaker;
    # the connect timeout left to its default (now 250 ms) is what this test is about.
    backend = RedisBackend.from_url(redis_url, namespace=namespace, timeout=0.2)
    configure_cache(backend=backend)
    errors: list[events.Event] = []
    unsubscribe = events.subscribe(
        lambda e: errors.append(e) if isinstance(e, events.CacheError) else None
    )
    runs: list[int] = []

    @cached("burst", ttl=60)
    async def user(i: int) -> dict[str, int]:
        runs.append(i)
        return {"id": i}

    try:
        for i in range(50):
            await user(i)
        for _ in range(3):
            await backend._async().connection_pool.disconnect()
            runs.clear()
            results = await asyncio.gather(*(user(i) for i in range(50)))
            assert results == [{"id": i} for i in range(50)]
            assert runs == []
        assert backend.breaker.state == "closed"
        assert errors == []
    finally:
        unsubscribe()
        await backend.aclear()
        await backend.aclose()


async def test_the_connect_timeout_defaults_to_at_least_250_ms(redis_url: str) -> None:
    for timeout, expected in ((0.05, 0.25), (0.5, 0.5)):
        backend = RedisBackend.from_url(redis_url, timeout=timeout)
        try:
            kwargs = backend._async().connection_pool.connection_kwargs
            assert kwargs["socket_connect_timeout"] == expected
            assert kwargs["socket_timeout"] == timeout
        finally:
            await backend.aclose()
    backend = RedisBackend.from_url(redis_url, connect_timeout=0.1)
    try:
        assert backend._async().connection_pool.connection_kwargs["socket_connect_timeout"] == 0.1
    finally:
        await backend.aclose()
