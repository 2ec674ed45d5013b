"""Presets against the real PostgreSQL: session settings, failover errors, overload, passwords."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from _servers import PostgresProcess, start_postgres
from hardpoint.pool import PRESETS, PoolPreset, create_async_engine, create_engine

SETTINGS_SQL = text(
    "SELECT name, setting FROM pg_settings WHERE name IN ('statement_timeout', "
    "'lock_timeout', 'idle_in_transaction_session_timeout', 'application_name', "
    "'default_transaction_read_only')"
)


def _url(base: str, driver: str) -> str:
    return make_url(base).set(drivername=f"postgresql+{driver}").render_as_string(False)


def _expected(preset: PoolPreset) -> dict[str, str]:
    def ms(value: int | None) -> str:
        return "0" if value is None else str(value)  # None: the server default, 0 (off) here

    return {
        "statement_timeout": ms(preset.statement_timeout_ms),
        "lock_timeout": ms(preset.lock_timeout_ms),
        "idle_in_transaction_session_timeout": ms(preset.idle_in_transaction_session_timeout_ms),
        "application_name": preset.application_name or "",
        "default_transaction_read_only": "on" if preset.read_only else "off",
    }


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_each_preset_sets_its_session_settings_with_psycopg(postgres_url: str, name: str) -> None:
    engine = create_engine(postgres_url, name)  # plain postgresql:// means psycopg 3
    try:
        assert engine.dialect.driver == "psycopg"
        with engine.connect() as conn:
            settings = {row.name: row.setting for row in conn.execute(SETTINGS_SQL)}
            assert conn.execute(text("SHOW application_name")).scalar_one() == (
                PRESETS[name].application_name
            )
    finally:
        engine.dispose()
    assert settings == _expected(PRESETS[name])


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
@pytest.mark.parametrize("name", sorted(PRESETS))
async def test_each_preset_sets_its_session_settings_async(
    postgres_url: str, name: str, driver: str
) -> None:
    engine = create_async_engine(_url(postgres_url, driver), name)
    try:
        async with engine.connect() as conn:
            settings = {row.name: row.setting for row in await conn.execute(SETTINGS_SQL)}
            read_only = (await conn.execute(text("SHOW default_transaction_read_only"))).scalar()
    finally:
        await engine.dispose()
    assert settings == _expected(PRESETS[name])
    assert read_only == ("on" if PRESETS[name].read_only else "off")


async def test_read_replica_refuses_writes(postgres_url: str) -> None:
    engine = create_async_engine(_url(postgres_url, "asyncpg"), "read_replica")
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError, match="read-only"):
                await conn.execute(text("CREATE TEMP TABLE t (x int)"))
    finally:
        await engine.dispose()


def test_sqlite_works_with_every_preset(tmp_path: Path) -> None:
    for name in PRESETS:
        engine = create_engine(f"sqlite:///{tmp_path}/{name}.db", name)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
        finally:
            engine.dispose()


def _raise(code: str) -> sqlalchemy.TextClause:
    return text(f"DO $$ BEGIN RAISE EXCEPTION 'simulated' USING ERRCODE = '{code}'; END $$")


@pytest.mark.parametrize("code", ["25006", "57P01", "57P02", "57P03"])
def test_server_gone_errors_invalidate_the_connection_psycopg(postgres_url: str, code: str) -> None:
    engine = create_engine(postgres_url, "web")
    captured: list[bool] = []
    event.listen(engine, "handle_error", lambda ctx: captured.append(ctx.is_disconnect))
    try:
        with engine.connect() as conn:
            with pytest.raises(DBAPIError) as info:
                conn.execute(_raise(code))
            assert info.value.connection_invalidated
            assert conn.invalidated
        with engine.connect() as conn:  # the pool hands out a working connection again
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()
    assert captured == [True]


@pytest.mark.parametrize("code", ["25006", "57P01"])
async def test_server_gone_errors_invalidate_the_connection_asyncpg(
    postgres_url: str, code: str
) -> None:
    engine = create_async_engine(_url(postgres_url, "asyncpg"), "web")
    try:
        async with engine.connect() as conn:
            with pytest.raises(DBAPIError) as info:
                await conn.execute(_raise(code))
            assert info.value.connection_invalidated
            assert conn.invalidated
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


def test_ordinary_errors_keep_the_connection(postgres_url: str) -> None:
    engine = create_engine(postgres_url, "web")
    try:
        with engine.connect() as conn:
            with pytest.raises(DBAPIError) as info:
                conn.execute(_raise("22012"))
            assert not info.value.connection_invalidated
            assert not conn.invalidated
    finally:
        engine.dispose()


async def _hold(conn: AsyncConnection, seconds: float) -> None:
    await conn.execute(text(f"SELECT pg_sleep({seconds})"))


async def test_overload_fails_fast_within_pool_timeout(postgres_url: str) -> None:
    pool_timeout = 0.5
    size, overflow = 4, 2
    tasks = (size + overflow) * 3 // 2  # 1.5 x what the pool can hold
    engine = create_async_engine(
        _url(postgres_url, "asyncpg"),
        "web",
        pool_size=size,
        max_overflow=overflow,
        pool_timeout=pool_timeout,
    )
    failures: list[float] = []
    successes = 0

    async def request() -> None:
        nonlocal successes
        started = time.perf_counter()
        try:
            async with engine.connect() as conn:
                await _hold(conn, 1.5)
        except sqlalchemy.exc.TimeoutError:
            failures.append(time.perf_counter() - started)
        else:
            successes += 1

    try:
        await asyncio.gather(*(request() for _ in range(tasks)))
    finally:
        await engine.dispose()
    assert successes == size + overflow
    assert len(failures) == tasks - successes
    failures.sort()
    p99 = failures[min(len(failures) - 1, int(len(failures) * 0.99))]
    assert p99 <= pool_timeout * 1.1


# --- a private server with password authentication ----------------------------------------------


@pytest.fixture(scope="module")
def scram_server() -> Iterator[PostgresProcess]:
    """A private server where role ``app`` needs a SCRAM password over TCP."""
    try:
        server = start_postgres(database="test")
    except Exception as exc:
        pytest.skip(f"cannot start a private PostgreSQL: {exc}")
    with server:
        admin = create_engine(server.url, "migrations")
        with admin.connect() as conn:
            conn.execute(text("SET password_encryption = 'scram-sha-256'"))
            conn.execute(text("CREATE ROLE app LOGIN PASSWORD 'first'"))
            conn.execute(text("GRANT ALL ON DATABASE test TO app"))
            conn.commit()
        hba = server.data_dir / "pg_hba.conf"
        hba.write_text(
            "local all all trust\n"
            "host all postgres 127.0.0.1/32 trust\n"
            "host all app 127.0.0.1/32 scram-sha-256\n"
        )
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_reload_conf()"))
        admin.dispose()
        time.sleep(0.2)  # the postmaster re-reads pg_hba.conf asynchronously
        yield server


def _app_url(server: PostgresProcess, driver: str) -> str:
    return f"postgresql+{driver}://app@{server.host}:{server.port}/test"


def _set_app_password(server: PostgresProcess, password: str) -> None:
    admin = create_engine(server.url, "migrations")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"ALTER ROLE app PASSWORD '{password}'"))
            conn.commit()
    finally:
        admin.dispose()


def test_rotated_password_is_used_for_new_connections_psycopg(
    scram_server: PostgresProcess,
) -> None:
    current = ["first"]
    calls: list[str] = []

    def password() -> str:
        calls.append(current[0])
        return current[0]

    _set_app_password(scram_server, "first")
    engine = create_engine(_app_url(scram_server, "psycopg"), "web", password=password)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == "app"
        with engine.connect() as conn:  # pooled: no new connection, no new call
            conn.execute(text("SELECT 1"))
        assert calls == ["first"]
        _set_app_password(scram_server, "second")
        current[0] = "second"
        engine.dispose()  # as after a restart or recycle: the next checkout connects anew
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_user")).scalar_one() == "app"
        assert calls == ["first", "second"]
    finally:
        engine.dispose()
    wrong = create_engine(_app_url(scram_server, "psycopg"), "web", password="first")  # noqa: S106 - a test role
    try:
        with pytest.raises(OperationalError, match="password authentication failed"):
            wrong.connect().close()
    finally:
        wrong.dispose()


async def test_rotated_password_is_used_for_new_connections_asyncpg(
    scram_server: PostgresProcess,
) -> None:
    current = ["third"]
    _set_app_password(scram_server, "third")
    engine = create_async_engine(
        _app_url(scram_server, "asyncpg"), "web", password=lambda: current[0]
    )
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT current_user"))).scalar_one() == "app"
        _set_app_password(scram_server, "fourth")
        current[0] = "fourth"
        await engine.dispose()
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT current_user"))).scalar_one() == "app"
    finally:
        await engine.dispose()
