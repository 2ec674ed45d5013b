"""A real PgBouncer (transaction pooling) in front of the test database, and why it matters.

The ``pgbouncer_url`` fixture starts ``pgbouncer`` from ``_pgbouncer.py`` in front of the
session's PostgreSQL (``DATABASE_URL`` or the server ``conftest.py`` starts). The workload tests
reproduce the known failure with plain SQLAlchemy engines: in transaction mode, consecutive
transactions of one client connection run on different server connections, so a named prepared
statement cached from one transaction is missing (or already taken) in the next. Measured here:
asyncpg's defaults, and also asyncpg with ``statement_cache_size=0`` plus unique statement names
(SQLAlchemy's own statement cache still reuses them), and psycopg's defaults all fail; asyncpg
with both caches off, asyncpg with only its own cache off (unnamed statements), and psycopg with
``prepare_threshold=None`` run every transaction cleanly, with and without pre-ping.
PgBouncer 1.18 predates protocol-level prepared statement support.
"""

from __future__ import annotations

import asyncio
import collections
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final
from uuid import uuid4

import psycopg
import pytest
from _pgbouncer import (
    PgBouncerProcess,
    Upstream,
    start_pgbouncer,
    start_pgbouncer_for_url,
    upstream_from_url,
)
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from _servers import ServerNotFoundError, ServerStartError, free_port, skip_or_fail

TRANSACTIONS: Final = 600
CONCURRENCY: Final = 20
TRANSACTION_TIMEOUT: Final = 10.0  # seconds; a hung transaction counts as a failure


def _start_or_skip(url: str | None) -> PgBouncerProcess:
    try:
        return start_pgbouncer_for_url(url, pool_mode="transaction", default_pool_size=10)
    except ServerNotFoundError as exc:
        reason = str(exc)
    skip_or_fail(reason)  # outside the except block, so no chained traceback is shown


@pytest.fixture(scope="module")
def pgbouncer(postgres_url: str) -> Iterator[PgBouncerProcess]:
    """PgBouncer in transaction mode in front of the session's PostgreSQL."""
    with _start_or_skip(postgres_url) as server:
        yield server


@pytest.fixture(scope="module")
def pgbouncer_url(pgbouncer: PgBouncerProcess) -> str:
    """``postgresql://postgres@127.0.0.1:PORT/test``: PgBouncer, transaction pooling, trust."""
    return pgbouncer.url


# --- the helper and the fixture ----------------------------------------------------------------


def test_upstream_from_url() -> None:
    assert upstream_from_url(None) == Upstream("127.0.0.1", 5432, "test", "postgres", None)
    assert upstream_from_url("postgresql+asyncpg://app:s%40cret@db.local:6543/prod") == Upstream(
        "db.local", 6543, "prod", "app", "s@cret"
    )
    assert upstream_from_url("postgresql:///other?host=/run/postgresql") == Upstream(
        "/run/postgresql", 5432, "other", "postgres", None
    )


def test_fixture_serves_queries_through_pgbouncer(
    pgbouncer: PgBouncerProcess, pgbouncer_url: str, postgres_url: str
) -> None:
    upstream = upstream_from_url(postgres_url)
    assert pgbouncer_url == f"postgresql://{upstream.user}@127.0.0.1:{pgbouncer.port}/test"
    assert pgbouncer.port != upstream.port
    assert pgbouncer.running
    assert "pool_mode = transaction" in pgbouncer.ini_path.read_text()
    with psycopg.connect(pgbouncer_url, connect_timeout=5) as conn:
        row = conn.execute("SELECT current_database(), current_user, 1 + 1").fetchone()
        # PgBouncer forwards to the upstream server, which reports its own port.
        server_port = conn.execute("SHOW port").fetchone()
    assert row == (upstream.database, upstream.user, 2)
    assert server_port == (str(upstream.port),)


def test_start_failure_raises_with_the_log_tail(postgres_url: str) -> None:
    upstream = upstream_from_url(postgres_url)
    try:
        start_pgbouncer(
            upstream_host="127.0.0.1",
            upstream_port=free_port(),  # nothing listens there
            database=upstream.database,
            user=upstream.user,
            timeout=1.5,
        ).close()
    except ServerNotFoundError as exc:
        skip_or_fail(str(exc))
    except ServerStartError as exc:
        message = str(exc)
        assert "no SELECT 1 went through pgbouncer" in message
        assert "pgbouncer.log" in message
        assert "PgBouncer 1." in message  # the log's tail is in the message
    else:
        pytest.fail("start_pgbouncer returned although the upstream is down")


def test_stop_ends_the_process(postgres_url: str) -> None:
    server = _start_or_skip(postgres_url)
    with server:
        pid = server.pid
    assert not server.running
    assert not server.directory.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2).close()
    assert pid > 0


# --- the prepared-statement failure mode -------------------------------------------------------


@dataclass
class WorkloadResult:
    transactions: int = 0
    failures: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    seconds: float = 0.0

    def summary(self) -> str:
        top = "; ".join(f"{count}x {error}" for error, count in self.errors.most_common(4))
        return f"{self.failures}/{self.transactions} failed in {self.seconds:.1f} s" + (
            f": {top}" if top else ""
        )


_STATEMENT_NAME: Final = re.compile(r'prepared statement "[^"]*"')


def _error_key(exc: BaseException) -> str:
    """The kind of error: type and first line, without the statement name (which varies)."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    first_line = _STATEMENT_NAME.sub('prepared statement "..."', first_line)
    return f"{type(exc).__name__}: {first_line[:160]}"


async def _run_workload(
    url: str,
    *,
    driver: str,
    connect_args: dict[str, object],
    pre_ping: bool,
) -> WorkloadResult:
    """Run TRANSACTIONS short transactions from CONCURRENCY tasks; count the failed ones."""
    engine = create_async_engine(
        make_url(url).set(drivername=f"postgresql+{driver}"),
        connect_args=connect_args,
        pool_pre_ping=pre_ping,
    )
    result = WorkloadResult()
    per_task = TRANSACTIONS // CONCURRENCY

    async def one_transaction(n: int) -> None:
        async with asyncio.timeout(TRANSACTION_TIMEOUT), engine.begin() as conn:
            # Bound parameters make both drivers use the extended protocol (and asyncpg a
            # named prepared statement); two statements make it a real transaction.
            total = await conn.scalar(text("SELECT CAST(:n AS integer) + 1"), {"n": n})
            label = await conn.scalar(text("SELECT CAST(:label AS text)"), {"label": f"tx-{n}"})
        if (total, label) != (n + 1, f"tx-{n}"):
            msg = f"transaction {n} read {(total, label)!r}"
            raise AssertionError(msg)

    async def worker(task: int) -> None:
        for i in range(per_task):
            n = task * per_task + i
            result.transactions += 1
            try:
                await one_transaction(n)
            except Exception as exc:  # counting every failure is the point
                result.failures += 1
                result.errors[_error_key(exc)] += 1

    started = time.monotonic()
    try:
        async with asyncio.TaskGroup() as group:
            for task in range(CONCURRENCY):
                group.create_task(worker(task))
    finally:
        await engine.dispose()
    result.seconds = time.monotonic() - started
    return result


def _unique_statement_name() -> str:
    return f"__asyncpg_{uuid4()}__"


# Each connect_args dict goes as is to SQLAlchemy, which hands the driver what it does not use.
# asyncpg has two statement caches per connection: its own (``statement_cache_size``, which also
# serves the pre-ping's ``fetchrow(";")``) and SQLAlchemy's (``prepared_statement_cache_size``,
# default 100). A cached *named* statement lives on one server connection only.
BREAKING: Final[list[tuple[str, str, dict[str, object]]]] = [
    ("asyncpg-defaults", "asyncpg", {}),
    # The recipe of the issue and of SQLAlchemy's docs: unique names stop "already exists",
    # but SQLAlchemy's own cache still reuses the named statements in later transactions,
    # which PgBouncer may run on another server connection: "... does not exist".
    (
        "asyncpg-no-statement-cache-unique-names",
        "asyncpg",
        {"statement_cache_size": 0, "prepared_statement_name_func": _unique_statement_name},
    ),
    ("psycopg-defaults", "psycopg", {}),  # prepares a query on its 5th run on a connection
]
SAFE: Final[list[tuple[str, str, dict[str, object]]]] = [
    # No cache at all, and unique names: every statement is prepared and used in one
    # transaction, so on one server connection.
    (
        "asyncpg-no-caches-unique-names",
        "asyncpg",
        {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _unique_statement_name,
        },
    ),
    # Without a name function and without asyncpg's cache, asyncpg uses the unnamed statement
    # and parses it again with every execution, so SQLAlchemy's cache does no harm.
    ("asyncpg-no-asyncpg-cache", "asyncpg", {"statement_cache_size": 0}),
    ("psycopg-prepare-threshold-none", "psycopg", {"prepare_threshold": None}),
]

PRE_PING = pytest.mark.parametrize("pre_ping", [False, True], ids=["no-pre-ping", "pre-ping"])


def _cases(configs: list[tuple[str, str, dict[str, object]]]) -> list[object]:
    return [pytest.param(driver, args, id=name) for name, driver, args in configs]


@pytest.mark.slow
@PRE_PING
@pytest.mark.parametrize(("driver", "connect_args"), _cases(BREAKING))
async def test_prepared_statements_break_under_transaction_pooling(
    pgbouncer_url: str, driver: str, connect_args: dict[str, object], pre_ping: bool
) -> None:
    result = await _run_workload(
        pgbouncer_url, driver=driver, connect_args=connect_args, pre_ping=pre_ping
    )
    print(f"{driver} {sorted(connect_args)} pre_ping={pre_ping}: {result.summary()}")  # noqa: T201
    assert result.transactions == TRANSACTIONS
    # The known failure: if this reaches 0, the test no longer shows the problem.
    assert result.failures > 0, result.summary()
    # Mostly "prepared statement ... does not exist / already exists". psycopg's names
    # (_pg3_0, ...) repeat across connections, so a Bind may even run another client's statement
    # with our parameters ("invalid input syntax for type smallint: 'tx-561'").
    assert any("prepared statement" in error for error in result.errors), result.summary()


@pytest.mark.slow
@PRE_PING
@pytest.mark.parametrize(("driver", "connect_args"), _cases(SAFE))
async def test_safe_settings_survive_transaction_pooling(
    pgbouncer_url: str, driver: str, connect_args: dict[str, object], pre_ping: bool
) -> None:
    result = await _run_workload(
        pgbouncer_url, driver=driver, connect_args=connect_args, pre_ping=pre_ping
    )
    print(f"{driver} {sorted(connect_args)} pre_ping={pre_ping}: {result.summary()}")  # noqa: T201
    assert result.transactions == TRANSACTIONS
    assert result.failures == 0, result.summary()
