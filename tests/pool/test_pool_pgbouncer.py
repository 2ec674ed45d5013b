"""The ``pgbouncer`` preset behind a real PgBouncer in transaction mode: 0 of 600 fail."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator

import pytest
from _pgbouncer import PgBouncerProcess, start_pgbouncer_for_url
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from _servers import ServerNotFoundError, skip_or_fail
from hardpoint.pool import create_async_engine, create_engine

TASKS = 20
TRANSACTIONS_PER_TASK = 30  # 600 in all
QUERY = text("SELECT CAST(:x AS integer) + 1")


@pytest.fixture(scope="module")
def bouncer(postgres_url: str) -> Iterator[PgBouncerProcess]:
    try:
        server = start_pgbouncer_for_url(postgres_url, pool_mode="transaction")
    except ServerNotFoundError as exc:
        skip_or_fail(str(exc))
    with server:
        yield server


def _url(bouncer: PgBouncerProcess, driver: str) -> str:
    return make_url(bouncer.url).set(drivername=f"postgresql+{driver}").render_as_string(False)


@pytest.mark.parametrize(
    ("pre_ping", "prepared_statements"),
    [
        (True, False),
        (False, False),
        # The control: with prepared statements the same workload must fail.
        pytest.param(True, True, marks=pytest.mark.xfail(raises=AssertionError, strict=True)),
    ],
    ids=["pre-ping", "no-pre-ping", "control-prepared-statements"],
)
@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
async def test_600_transactions_behind_pgbouncer_async(
    bouncer: PgBouncerProcess, driver: str, pre_ping: bool, prepared_statements: bool
) -> None:
    engine = create_async_engine(
        _url(bouncer, driver),
        "pgbouncer",
        pool_pre_ping=pre_ping,
        prepared_statements=prepared_statements,
    )
    errors: collections.Counter[str] = collections.Counter()

    async def worker(seed: int) -> None:
        for i in range(TRANSACTIONS_PER_TASK):
            try:
                async with engine.begin() as conn:
                    for j in range(3):
                        value = (await conn.execute(QUERY, {"x": seed + i + j})).scalar_one()
                        assert value == seed + i + j + 1
            except DBAPIError as exc:
                errors[type(exc.orig).__name__] += 1

    try:
        await asyncio.gather(*(worker(n * 1000) for n in range(TASKS)))
    finally:
        await engine.dispose()
    assert not errors, dict(errors)


@pytest.mark.parametrize("pre_ping", [True, False], ids=["pre-ping", "no-pre-ping"])
def test_600_transactions_behind_pgbouncer_psycopg_sync(
    bouncer: PgBouncerProcess, pre_ping: bool
) -> None:
    engine = create_engine(_url(bouncer, "psycopg"), "pgbouncer", pool_pre_ping=pre_ping)
    errors: collections.Counter[str] = collections.Counter()
    try:
        # One client connection at a time, but each transaction may land on another server
        # connection: exactly what breaks cached prepared statements.
        for i in range(TASKS * TRANSACTIONS_PER_TASK):
            try:
                with engine.begin() as conn:
                    for j in range(3):
                        assert conn.execute(QUERY, {"x": i + j}).scalar_one() == i + j + 1
            except DBAPIError as exc:
                errors[type(exc.orig).__name__] += 1
    finally:
        engine.dispose()
    assert not errors, dict(errors)


async def test_web_preset_startup_settings_are_refused_by_pgbouncer(
    bouncer: PgBouncerProcess,
) -> None:
    """The control: why ``pgbouncer`` sends no timeouts at startup."""
    engine = create_async_engine(_url(bouncer, "asyncpg"), "web")
    try:
        with pytest.raises((DBAPIError, OSError), match=r"(?i)unsupported startup parameter"):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
