"""The `web` preset against a restarted server and a silently dropped network path."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from _servers import PostgresProcess, start_postgres
from hardpoint.pool import create_async_engine, create_engine


class BlackholeProxy:
    """A TCP proxy on loopback that can stop forwarding while keeping every socket open.

    After :meth:`blackhole`, bytes in both directions are read and dropped: the client sees
    an open, silent connection, as when a firewall or NAT forgets the flow.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self._target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._dropping = threading.Event()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def blackhole(self) -> None:
        self._dropping.set()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._dropping.is_set():  # new connections hang too, never reaching the server
                with self._lock:
                    self._sockets.append(client)
                threading.Thread(target=self._pump, args=(client, None), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket | None) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if dst is not None and not self._dropping.is_set():
                    dst.sendall(data)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[BlackholeProxy]:
    url = make_url(postgres_url)
    server = BlackholeProxy((url.host or "127.0.0.1", url.port or 5432))
    yield server
    server.close()


def _via(postgres_url: str, port: int, driver: str) -> str:
    url = make_url(postgres_url).set(drivername=f"postgresql+{driver}", host="127.0.0.1", port=port)
    return url.render_as_string(hide_password=False)


CONNECT_TIMEOUT = 1.0
COMMAND_TIMEOUT = 1.0


async def test_dropped_path_fails_within_timeouts_asyncpg(
    postgres_url: str, proxy: BlackholeProxy
) -> None:
    engine = create_async_engine(
        _via(postgres_url, proxy.port, "asyncpg"),
        "web",
        connect_timeout_s=CONNECT_TIMEOUT,
        command_timeout_s=COMMAND_TIMEOUT,
    )
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
        proxy.blackhole()
        started = time.perf_counter()
        with pytest.raises((DBAPIError, asyncio.TimeoutError, OSError)):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    assert elapsed <= CONNECT_TIMEOUT + COMMAND_TIMEOUT + 1


async def test_dropped_path_mid_query_fails_within_command_timeout_asyncpg(
    postgres_url: str, proxy: BlackholeProxy
) -> None:
    engine = create_async_engine(
        _via(postgres_url, proxy.port, "asyncpg"),
        "web",
        connect_timeout_s=CONNECT_TIMEOUT,
        command_timeout_s=COMMAND_TIMEOUT,
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            proxy.blackhole()
            started = time.perf_counter()
            with pytest.raises((DBAPIError, asyncio.TimeoutError)):
                await conn.execute(text("SELECT 2"))
            elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    assert elapsed <= CONNECT_TIMEOUT + COMMAND_TIMEOUT + 1


# --- restart -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def private_server() -> Iterator[PostgresProcess]:
    try:
        server = start_postgres(database="test")
    except Exception as exc:
        pytest.skip(f"cannot start a private PostgreSQL: {exc}")
    with server:
        yield server


def _restart(server: PostgresProcess) -> None:
    server.stop()
    server.start()


async def test_web_survives_an_idle_restart_asyncpg(private_server: PostgresProcess) -> None:
    url = make_url(private_server.url).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(url, "web")
    failures = 0

    async def request() -> None:
        nonlocal failures
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT pg_sleep(0.01)"))
        except (DBAPIError, PoolTimeoutError):
            failures += 1

    try:
        await asyncio.gather(*(request() for _ in range(10)))  # fill the pool
        await asyncio.to_thread(_restart, private_server)
        for _ in range(3):
            await asyncio.gather(*(request() for _ in range(10)))
    finally:
        await engine.dispose()
    assert failures == 0


def test_web_survives_an_idle_restart_psycopg(private_server: PostgresProcess) -> None:
    engine = create_engine(private_server.url, "web")
    failures = 0

    def request() -> None:
        nonlocal failures
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except (DBAPIError, PoolTimeoutError):
            failures += 1

    try:
        held = [engine.connect() for _ in range(5)]  # five pooled connections
        for conn in held:
            conn.close()
        _restart(private_server)
        for _ in range(20):
            request()
    finally:
        engine.dispose()
    assert failures == 0


def test_without_pre_ping_a_restart_fails_requests(private_server: PostgresProcess) -> None:
    """The control for the two tests above: the restart really breaks pooled connections."""
    engine = create_engine(private_server.url, "web", pool_pre_ping=False)
    failures = 0
    try:
        held = [engine.connect() for _ in range(3)]
        for conn in held:
            conn.close()
        _restart(private_server)
        for _ in range(5):
            try:
                with engine.connect() as conn:
                    conn.execute(text("SELECT 1"))
            except DBAPIError:
                failures += 1
    finally:
        engine.dispose()
    assert failures >= 1


LIBPQ_CONNECT_TIMEOUT = 2.0  # libpq's smallest connect_timeout


def test_dropped_path_fails_within_timeouts_psycopg(
    postgres_url: str, proxy: BlackholeProxy
) -> None:
    engine = create_engine(
        _via(postgres_url, proxy.port, "psycopg"),
        "web",
        connect_timeout_s=LIBPQ_CONNECT_TIMEOUT,
        command_timeout_s=COMMAND_TIMEOUT,
    )
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
        proxy.blackhole()
        started = time.perf_counter()
        with pytest.raises(DBAPIError), engine.connect() as conn:  # pre-ping, then reconnect
            conn.execute(text("SELECT 1"))
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    assert elapsed <= LIBPQ_CONNECT_TIMEOUT + COMMAND_TIMEOUT + 1


def test_dropped_path_mid_query_fails_within_command_timeout_psycopg(
    postgres_url: str, proxy: BlackholeProxy
) -> None:
    engine = create_engine(
        _via(postgres_url, proxy.port, "psycopg"),
        "web",
        connect_timeout_s=LIBPQ_CONNECT_TIMEOUT,
        command_timeout_s=COMMAND_TIMEOUT,
    )
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            proxy.blackhole()
            started = time.perf_counter()
            with pytest.raises(DBAPIError) as info:
                conn.execute(text("SELECT 2"))
            elapsed = time.perf_counter() - started
            assert info.value.connection_invalidated
    finally:
        engine.dispose()
    assert elapsed <= COMMAND_TIMEOUT + 1


async def test_dropped_path_mid_query_fails_within_command_timeout_psycopg_async(
    postgres_url: str, proxy: BlackholeProxy
) -> None:
    engine = create_async_engine(
        _via(postgres_url, proxy.port, "psycopg"),
        "web",
        connect_timeout_s=LIBPQ_CONNECT_TIMEOUT,
        command_timeout_s=COMMAND_TIMEOUT,
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            proxy.blackhole()
            started = time.perf_counter()
            with pytest.raises(DBAPIError):
                await conn.execute(text("SELECT 2"))
            elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()
    assert elapsed <= COMMAND_TIMEOUT + 1


def test_slow_statements_within_the_command_timeout_still_succeed_psycopg(
    postgres_url: str,
) -> None:
    engine = create_engine(postgres_url, "web", command_timeout_s=COMMAND_TIMEOUT)
    try:
        for _ in range(3):
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_sleep(0.3)"))
        time.sleep(COMMAND_TIMEOUT + 0.2)  # a stale deadline would fire now
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            assert not conn.invalidated
    finally:
        engine.dispose()


def test_dropped_path_before_commit_fails_within_command_timeout_psycopg(
    postgres_url: str, proxy: BlackholeProxy
) -> None:
    engine = create_engine(
        _via(postgres_url, proxy.port, "psycopg"),
        "web",
        connect_timeout_s=LIBPQ_CONNECT_TIMEOUT,
        command_timeout_s=COMMAND_TIMEOUT,
    )
    try:
        conn = engine.connect()
        transaction = conn.begin()
        conn.execute(text("SELECT 1"))
        proxy.blackhole()
        started = time.perf_counter()
        with pytest.raises(DBAPIError):
            transaction.commit()
        elapsed = time.perf_counter() - started
        conn.close()
    finally:
        engine.dispose()
    assert elapsed <= COMMAND_TIMEOUT + 1


def test_dropped_path_before_return_does_not_hang_psycopg(
    postgres_url: str, proxy: BlackholeProxy
) -> None:
    engine = create_engine(
        _via(postgres_url, proxy.port, "psycopg"),
        "web",
        connect_timeout_s=LIBPQ_CONNECT_TIMEOUT,
        command_timeout_s=COMMAND_TIMEOUT,
    )
    try:
        conn = engine.connect()
        conn.execute(text("SELECT 1"))
        proxy.blackhole()
        started = time.perf_counter()
        with contextlib.suppress(DBAPIError):
            conn.close()  # rolls back the implicit transaction over the dead path
        elapsed = time.perf_counter() - started
    finally:
        engine.dispose()
    assert elapsed <= COMMAND_TIMEOUT + 1
