"""The service fixtures in conftest.py work with the real client libraries."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry

import _servers
from _servers import (
    LOOPBACK,
    RedisClusterEndpoint,
    RedisProcess,
    ServerNotFoundError,
    ServerStartError,
    free_port,
    redis_command,
    skip_or_fail,
    start_postgres,
    start_redis,
)


def _unique_key(label: str) -> str:
    # The shared Redis of a developer machine may hold other data: never flush it.
    return f"hardpoint-test:{label}:{uuid.uuid4().hex}"


def _impatient_client(server: RedisProcess) -> redis.Redis:
    """A client that gives up after 0.2 s and never retries, to observe faults directly."""
    return redis.Redis(
        host=server.host,
        port=server.port,
        socket_timeout=0.2,
        socket_connect_timeout=0.2,
        retry=Retry(NoBackoff(), 0),
    )


@pytest.fixture
def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        skip_or_fail("redis-server not found on PATH; install it (apt-get install redis-server)")
    return path


# --- redis_url -----------------------------------------------------------------------------------


def test_redis_url_answers_ping_set_and_get(redis_url: str) -> None:
    key = _unique_key("redis-url")
    with redis.Redis.from_url(redis_url) as client:
        assert client.ping() is True
        assert client.set(key, b"value", ex=60) is True
        assert client.get(key) == b"value"
        assert client.delete(key) == 1


def test_redis_url_is_redis_url_env_or_a_server_started_for_the_session(redis_url: str) -> None:
    expected = os.environ.get("REDIS_URL", "").strip()
    if expected:
        assert redis_url == expected
        return
    with redis.Redis.from_url(redis_url) as client:
        config = client.config_get("dir")
    assert "hardpoint-redis-" in config["dir"]


# --- postgres_url --------------------------------------------------------------------------------


def test_postgres_url_runs_queries(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, connect_timeout=5) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        row = conn.execute("SHOW server_version").fetchone()
        assert row is not None
        assert str(row[0])[:1].isdigit()
        assert conn.info.dbname == "test"


def test_postgres_url_is_database_url_env_or_a_server_started_for_the_session(
    postgres_url: str,
) -> None:
    expected = os.environ.get("DATABASE_URL", "").strip()
    if expected:
        assert postgres_url == expected
        return
    with psycopg.connect(postgres_url, connect_timeout=5) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
        listen = conn.execute("SHOW listen_addresses").fetchone()
    assert row is not None
    assert "hardpoint-postgres-" in str(row[0])
    assert listen == (LOOPBACK,)


# --- redis_server --------------------------------------------------------------------------------


def test_redis_server_is_private_even_when_redis_url_is_set(redis_server: RedisProcess) -> None:
    assert redis_server.url != os.environ.get("REDIS_URL")
    assert redis_command(redis_server.host, redis_server.port, "PING") == "PONG"
    info = redis_command(redis_server.host, redis_server.port, "INFO", "server")
    assert f"process_id:{redis_server.pid}" in info.splitlines()


def test_redis_server_freeze_times_out_and_thaw_recovers(redis_server: RedisProcess) -> None:
    with _impatient_client(redis_server) as client:
        assert client.set("key", b"value") is True
        redis_server.freeze()
        with pytest.raises(redis.exceptions.TimeoutError):
            client.get("key")
        redis_server.thaw()
        assert client.get("key") == b"value"


def test_redis_server_stop_refuses_connections_and_start_reuses_the_port(
    redis_server: RedisProcess,
) -> None:
    port, pid = redis_server.port, redis_server.pid
    with _impatient_client(redis_server) as client:
        assert client.set("key", b"value") is True
        redis_server.stop()
        with pytest.raises(redis.exceptions.ConnectionError):
            client.ping()
        redis_server.start()
        assert client.ping() is True
        assert client.get("key") is None  # a new process, and nothing was persisted
    assert (redis_server.port, redis_server.url) == (port, f"redis://{LOOPBACK}:{port}/0")
    assert redis_server.pid != pid


def test_redis_server_restart_gives_a_new_process_on_the_same_port(
    redis_server: RedisProcess,
) -> None:
    port, pid = redis_server.port, redis_server.pid
    redis_server.restart()
    assert redis_server.port == port
    assert redis_server.pid != pid
    with _impatient_client(redis_server) as client:
        assert client.ping() is True


@pytest.mark.redis
def test_redis_server_cleanup_kills_a_frozen_server(redis_server_binary: str) -> None:
    with start_redis(executable=redis_server_binary) as server:
        pid, directory = server.pid, server.directory
        server.freeze()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not directory.exists()


# --- redis_cluster -------------------------------------------------------------------------------


def test_redis_cluster_spreads_keys_over_several_nodes(redis_cluster: RedisClusterEndpoint) -> None:
    keys = [_unique_key(f"cluster-{i}") for i in range(100)]
    with RedisCluster.from_url(redis_cluster.url) as cluster:
        for key in keys:
            assert cluster.set(key, key.encode(), ex=60) is True
        assert [cluster.get(key) for key in keys] == [key.encode() for key in keys]
        owners = {key: cluster.get_node_from_key(key) for key in keys}
        try:
            for key, node in owners.items():
                # Asking the owning node directly proves the key lives there (else: MOVED).
                assert redis_command(node.host, node.port, "GET", key) == key
        finally:
            assert cluster.delete(*keys) == len(keys)
    used = {(node.host, node.port) for node in owners.values()}
    assert len(used) > 1
    assert used <= set(redis_cluster.nodes)


def test_redis_cluster_is_redis_cluster_url_env_or_three_local_nodes(
    redis_cluster: RedisClusterEndpoint,
) -> None:
    if os.environ.get("REDIS_CLUSTER_URL", "").strip():
        assert redis_cluster.url == os.environ["REDIS_CLUSTER_URL"].strip()
        return
    assert redis_cluster.url == f"redis://{LOOPBACK}:{redis_cluster.nodes[0][1]}"
    assert len(set(redis_cluster.nodes)) == 3
    for host, port in redis_cluster.nodes:
        info = redis_command(host, port, "CLUSTER", "INFO")
        assert "cluster_state:ok" in info.splitlines()


# --- the skip-or-fail rule -----------------------------------------------------------------------


def test_missing_service_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server not found"):
        skip_or_fail("redis-server not found")


def test_missing_service_skips_when_ci_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="redis-server not found"):
        skip_or_fail("redis-server not found")


@pytest.mark.parametrize("ci", ["true", "1", "yes"])
def test_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="redis-server not found"):
        skip_or_fail("redis-server not found")


def test_start_redis_without_redis_server_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerNotFoundError, match="redis-server not found on PATH"):
        start_redis()


def test_start_postgres_without_postgresql_says_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerNotFoundError, match=r"PostgreSQL .* not found"):
        start_postgres(search_dirs=[str(tmp_path / "*" / "bin")])


# --- the helpers ---------------------------------------------------------------------------------


def test_free_port_can_be_bound() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, free_port()))


def test_free_port_for_a_cluster_node_leaves_room_for_the_bus_port() -> None:
    port = free_port(cluster_bus=True)
    assert port + 10_000 <= 65_535


@pytest.mark.redis
def test_start_redis_failure_shows_the_end_of_the_log(redis_server_binary: str) -> None:
    with pytest.raises(ServerStartError, match=r"exited with code 1(.|\n)*Bad directive"):
        start_redis(executable=redis_server_binary, extra_args=["--no-such-directive", "1"])


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.redis
def test_start_redis_picks_another_port_when_its_port_is_taken(
    monkeypatch: pytest.MonkeyPatch, redis_server_binary: str, busy_port: int
) -> None:
    offered = [busy_port]
    real_free_port = _servers.free_port

    def free_port_losing_one_race(*, host: str = LOOPBACK, cluster_bus: bool = False) -> int:
        return offered.pop() if offered else real_free_port(host=host, cluster_bus=cluster_bus)

    monkeypatch.setattr(_servers, "free_port", free_port_losing_one_race)
    with start_redis(executable=redis_server_binary) as server:
        assert server.port != busy_port
        assert redis_command(server.host, server.port, "PING") == "PONG"
        assert (
            "Address already in use"
            in server.directory.joinpath(f"redis-{busy_port}.log").read_text()
        )


@pytest.mark.redis
def test_start_redis_on_a_taken_port_fails_with_the_reason(
    redis_server_binary: str, busy_port: int
) -> None:
    with pytest.raises(ServerStartError, match="Address already in use"):
        start_redis(executable=redis_server_binary, port=busy_port)
