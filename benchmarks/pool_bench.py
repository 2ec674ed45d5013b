"""Benchmark `hardpoint.pool` presets against the design's before and after pool settings.

One run measures the "Measure" section of the pool issue against a real PostgreSQL::

    .venv/bin/python benchmarks/pool_bench.py [--quick] [--markdown docs/pool-benchmarks.md]

1. throughput (transactions/s) and p50 / p99 latency at 10, 50 and 200 concurrent asyncio
   tasks (asyncpg), for wait-bound mixes (``SELECT pg_sleep(0.005)`` and ``pg_sleep(0.02)``:
   the connection is held while nothing computes; with 5 ms this one Python client is
   usually the bottleneck, so the 20 ms mix shows what the pool size alone does) and a
   CPU-bound mix (``SELECT count(*) FROM generate_series(1,
   20000)``: the server computes), comparing the design's BEFORE settings (``pool_size=5,
   max_overflow=10``, SQLAlchemy defaults otherwise), its AFTER settings (``pool_size=20,
   max_overflow=10, pool_timeout=30, pool_recycle=3600, pool_pre_ping=True``) and the
   hardpoint presets ``web`` and ``worker`` (``pool_size`` = the concurrency, capped at 30,
   the AFTER setting's most connections). Ratios are against BEFORE in the same run;
2. pre_ping cost per checkout: the same checkout loop (check out, ``SELECT 1``, return) with
   ``pool_pre_ping`` on and off, asyncpg (async) and psycopg 3 (sync), ``web`` preset, one
   connection. Targets: <= 0.4 ms (asyncpg) and <= 0.1 ms (psycopg) per checkout.

Method: each cell (mix x tasks x pool) gets a fresh engine, a warm-up that opens its
connections, then a fixed duration in which every task runs transactions back to back (a
closed loop: a task starts its next transaction when the last one ends). Latency is taken
from the start of the request (before the checkout, so the wait for a connection is
included) to the end of the COMMIT. Failures (pool timeouts and anything else) are counted
per cell by kind; p50 / p99 are over successes only, and the time a failure took is shown
separately. Throughput = successes / wall time, the in-flight transactions at the deadline
included. The pools in a cell rotate their order between cells so drift hits everyone alike.
Percentiles are nearest-rank.

Connections: the script reads ``SHOW max_connections`` and the connections already open,
uses at most half of the server's limit (checked per pool with
`hardpoint.pool.check_connection_budget`; a pool that does not fit is skipped), runs one
engine at a time, disposes of it after its cell, and checks at the end (through its
``application_name``) that it left no connection open. The exit status is 0 whether targets
pass or fail (2 when the database cannot be reached); read the PASS/FAIL lines.

``DATABASE_URL`` (any ``postgresql://`` URL; the driver part is replaced) or
``postgresql://postgres@127.0.0.1:5432/test``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import gc
import importlib.metadata
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.ext.asyncio import create_async_engine as sa_create_async_engine
from sqlalchemy.pool import NullPool

import hardpoint
from hardpoint.errors import ConfigurationError
from hardpoint.pool import PRESETS, check_connection_budget, create_async_engine, create_engine

if TYPE_CHECKING:  # mypy runs from the repository root, where benchmarks/ is a namespace
    from benchmarks._report import Report, Table
else:  # run as a script, benchmarks/ is on sys.path
    from _report import Report, Table


DEFAULT_URL: Final = "postgresql://postgres@127.0.0.1:5432/test"
APP: Final = "pool_bench"  # application_name prefix of every connection this script opens
CONCURRENCY: Final = (10, 50, 200)
WORKER_CAP: Final = 30  # worker pool_size = min(tasks, 30): AFTER's pool_size + max_overflow
MARGIN: Final = 20  # connections left free for whatever else runs against the server
MIXES: Final = {
    "wait-bound 5 ms": "SELECT pg_sleep(0.005)",
    "wait-bound 20 ms": "SELECT pg_sleep(0.02)",
    "CPU-bound": "SELECT count(*) FROM generate_series(1, 20000)",
}
SLEEP_S: Final = {"wait-bound 5 ms": 0.005, "wait-bound 20 ms": 0.02}
BEFORE: Final = "BEFORE (5+10)"
AFTER: Final = "AFTER (20+10)"
TARGET_PING_MS: Final = {"asyncpg": 0.4, "psycopg": 0.1}
ROUNDS: Final = 5
PLAIN_PSYCOPG: Final = "psycopg, plain SQLAlchemy (reference)"


# -- helpers ------------------------------------------------------------------------------------


def dist_version(name: str) -> str:
    """The installed version of distribution *name*."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def percentile(ordered: Sequence[int], q: float) -> int:
    """Nearest-rank percentile *q* (0-100] of the sorted samples *ordered*."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(ns: float) -> str:
    """Nanoseconds as milliseconds."""
    return f"{ns / 1e6:.3f}" if ns < 1e6 else f"{ns / 1e6:.2f}" if ns < 1e8 else f"{ns / 1e6:.0f}"


def ratio(value: float, base: float) -> str:
    """``value / base`` as ``12.3x``."""
    if base <= 0 or value < 0:
        return "-"
    r = value / base
    return f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    """Print how long a part took."""
    start = time.perf_counter_ns()
    yield
    print(f"  ({label} took {(time.perf_counter_ns() - start) / 1e9:.1f} s)", flush=True)


def urls(raw: str) -> tuple[URL, URL]:
    """The asyncpg and psycopg SQLAlchemy URLs for *raw*."""
    url = make_url(raw)
    if url.get_backend_name() != "postgresql":
        msg = f"DATABASE_URL must be a postgresql:// URL, not {url.drivername!r}"
        raise ConfigurationError(msg, field="url")
    return url.set(drivername="postgresql+asyncpg"), url.set(drivername="postgresql+psycopg")


# -- the server ---------------------------------------------------------------------------------


@dataclass
class Server:
    """One monitor connection: facts about the server and our own connection count."""

    engine: AsyncEngine
    conn: AsyncConnection
    version: str
    max_connections: int
    superuser_reserved: int
    others: int  # client connections open before we started (the monitor excluded)

    @classmethod
    async def open(cls, url: URL) -> Server:
        """Connect (one connection, autocommit) and read the limits."""
        engine = sa_create_async_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"server_settings": {"application_name": f"{APP}-monitor"}},
        )
        try:
            conn = await engine.connect()
        except BaseException:
            await engine.dispose()
            raise
        server = cls(engine, conn, "", 0, 0, 0)
        server.version = await server.value("SHOW server_version")
        server.max_connections = int(await server.value("SHOW max_connections"))
        server.superuser_reserved = int(await server.value("SHOW superuser_reserved_connections"))
        server.others = int(
            await server.value(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            )
        )
        return server

    async def value(self, sql: str, **params: object) -> str:
        """The single value *sql* returns, as text."""
        return str((await self.conn.execute(text(sql), params)).scalar_one())

    async def close(self) -> None:
        """Close the monitor connection."""
        try:
            await self.conn.close()
        finally:
            await self.engine.dispose()

    @property
    def reserve(self) -> int:
        """Connections we leave alone: at least half the server, more when it is busy."""
        return max(
            self.max_connections // 2, self.others + self.superuser_reserved + MARGIN + 1
        )  # + 1: the monitor connection

    @property
    def budget(self) -> int:
        """The most connections one of our pools may open."""
        return self.max_connections - self.reserve

    async def ours(self, application_name: str) -> int:
        """Connections open with *application_name* (``%`` wildcards allowed)."""
        return int(
            await self.value(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE :name "
                "AND pid <> pg_backend_pid()",
                name=application_name,
            )
        )

    async def settle(self, application_name: str, timeout: float = 3.0) -> int:
        """Wait (up to *timeout* s) for backends of closed connections to exit; their count."""
        deadline = time.monotonic() + timeout
        while True:
            left = await self.ours(application_name)
            if left == 0 or time.monotonic() > deadline:
                return left
            await asyncio.sleep(0.05)


# -- 1. throughput and latency ------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """One contender: a label, its most connections, and how to build its engine."""

    label: str
    size: int
    overflow: int
    settings: str
    make: Callable[[URL, str], AsyncEngine]  # (asyncpg URL, application_name)


def pools(tasks: int, budget: int) -> list[Pool]:
    """The four contenders for *tasks* concurrent tasks."""
    web = PRESETS["web"]
    worker = PRESETS["worker"]
    worker_size = max(1, min(tasks, WORKER_CAP, budget))

    def before(url: URL, app: str) -> AsyncEngine:
        return sa_create_async_engine(
            url,
            pool_size=5,
            max_overflow=10,
            connect_args={"server_settings": {"application_name": app}},
        )

    def after(url: URL, app: str) -> AsyncEngine:
        return sa_create_async_engine(
            url,
            pool_size=20,
            max_overflow=10,
            pool_timeout=30,
            pool_recycle=3600,
            pool_pre_ping=True,
            connect_args={"server_settings": {"application_name": app}},
        )

    def web_engine(url: URL, app: str) -> AsyncEngine:
        return create_async_engine(url, preset="web", application_name=app)

    def worker_engine(url: URL, app: str) -> AsyncEngine:
        return create_async_engine(
            url, preset="worker", pool_size=worker_size, application_name=app
        )

    return [
        Pool(BEFORE, 5, 10, "5+10, timeout 30 s, no pre_ping (SQLAlchemy defaults)", before),
        Pool(AFTER, 20, 10, "20+10, timeout 30 s, recycle 3600, pre_ping", after),
        Pool(
            "hardpoint web",
            web.pool_size,
            web.max_overflow,
            f"{web.pool_size}+{web.max_overflow}, timeout {web.pool_timeout:g} s, LIFO, "
            f"recycle {web.pool_recycle}, pre_ping, server timeouts",
            web_engine,
        ),
        Pool(
            "hardpoint worker",
            worker_size,
            worker.max_overflow,
            f"{worker_size}+{worker.max_overflow}, timeout {worker.pool_timeout:g} s, "
            f"recycle {worker.pool_recycle}, pre_ping, server timeouts",
            worker_engine,
        ),
    ]


@dataclass
class Cell:
    """The result of one pool at one concurrency for one mix."""

    pool: Pool
    tasks: int
    ok: list[int] = field(default_factory=list)  # ns per successful transaction
    failed: list[int] = field(default_factory=list)  # ns until each failure
    kinds: collections.Counter[str] = field(default_factory=collections.Counter)
    wall_ns: int = 0
    peak_connections: int = 0
    skipped: str = ""

    @property
    def rate(self) -> float:
        """Successful transactions per second."""
        return len(self.ok) / (self.wall_ns / 1e9) if self.wall_ns else 0.0

    def p(self, q: float) -> int:
        """Nearest-rank percentile of the successes, ns (-1 without successes)."""
        return percentile(sorted(self.ok), q) if self.ok else -1


async def drive(
    engine: AsyncEngine, sql: str, tasks: int, seconds: float, cell: Cell | None
) -> int:
    """Run *tasks* closed-loop tasks for *seconds*; record into *cell*; return wall ns."""
    statement = text(sql)
    clock = time.perf_counter_ns
    deadline = clock() + int(seconds * 1e9)

    async def loop() -> None:
        while clock() < deadline:
            start = clock()
            try:
                async with engine.begin() as conn:
                    await conn.execute(statement)
            except PoolTimeoutError:
                if cell is not None:
                    cell.failed.append(clock() - start)
                    cell.kinds["pool timeout"] += 1
            except Exception as exc:  # counted and reported per kind
                if cell is not None:
                    cell.failed.append(clock() - start)
                    cell.kinds[type(exc).__name__] += 1
            else:
                if cell is not None:
                    cell.ok.append(clock() - start)

    began = clock()
    # A bound on a wedged cell: the longest pool_timeout (30 s) past the deadline, and a margin.
    await asyncio.wait_for(asyncio.gather(*(loop() for _ in range(tasks))), seconds + 45)
    return clock() - began


async def run_cell(
    server: Server,
    url: URL,
    pool: Pool,
    mix: str,
    tasks: int,
    seconds: float,
    warmup: float,
) -> Cell:
    """One fresh engine: warm up, measure, sample our connection count, dispose."""
    cell = Cell(pool, tasks)
    try:
        check_connection_budget(
            (pool.size, pool.overflow),
            processes=1,
            max_connections=server.max_connections,
            reserve=server.reserve,
        )
    except ConfigurationError as exc:
        cell.skipped = f"over budget: {exc}"
        return cell
    app = f"{APP}-cell"
    engine = pool.make(url, app)
    peak = 0
    stop = asyncio.Event()

    async def sample_peak() -> None:
        # Stopped by the event, never cancelled: a cancelled query would invalidate the
        # monitor connection.
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, await server.ours(app))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)

    try:
        await drive(engine, MIXES[mix], tasks, warmup, None)
        gc.collect()
        sampler = asyncio.create_task(sample_peak())
        try:
            cell.wall_ns = await drive(engine, MIXES[mix], tasks, seconds, cell)
        finally:
            stop.set()
            await sampler
    except TimeoutError:
        cell.kinds["cell did not finish"] += 1
    finally:
        await engine.dispose()
    cell.peak_connections = peak
    left = await server.settle(app)
    if left:
        cell.kinds[f"{left} connections still open after dispose"] += 1
    return cell


async def scenario_load(
    server: Server, url: URL, report: Report, seconds: float, warmup: float
) -> dict[str, list[Cell]]:
    """Every mix x tasks x pool, one cell at a time."""
    results: dict[str, list[Cell]] = {}
    turn = 0
    for mix, sql in MIXES.items():
        cells: list[Cell] = []
        for tasks in CONCURRENCY:
            contenders = pools(tasks, server.budget)
            k = turn % len(contenders)
            turn += 1
            done = {}
            for pool in contenders[k:] + contenders[:k]:
                done[pool.label] = await run_cell(server, url, pool, mix, tasks, seconds, warmup)
            cells += [done[pool.label] for pool in contenders]
        results[mix] = cells
        report.add(load_table(mix, sql, cells, seconds))
    return results


def load_table(mix: str, sql: str, cells: list[Cell], seconds: float) -> Table:
    """The table of one mix."""
    table = Table(
        f"1. {mix}: {sql}",
        [
            "tasks",
            "pool",
            "conns",
            "tx ok",
            "tx/s",
            "tx/s vs BEFORE",
            "p50 ms",
            "p99 ms",
            "p99 vs BEFORE",
            "failed",
            "failure kinds",
            "p99 ms to fail",
            "pool ceiling tx/s",
        ],
    )
    sleep = SLEEP_S.get(mix)
    base_of = {c.tasks: c for c in cells if c.pool.label == BEFORE and not c.skipped}
    for cell in cells:
        if cell.skipped:
            table.rows.append([str(cell.tasks), cell.pool.label, *["-"] * 10, cell.skipped])
            continue
        base = base_of.get(cell.tasks)
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(cell.kinds.items())) or "-"
        table.rows.append(
            [
                str(cell.tasks),
                cell.pool.label,
                f"{cell.peak_connections}/{cell.pool.size + cell.pool.overflow}",
                f"{len(cell.ok):,}",
                f"{cell.rate:,.0f}",
                ratio(cell.rate, base.rate) if base else "-",
                ms(cell.p(50)) if cell.ok else "-",
                ms(cell.p(99)) if cell.ok else "-",
                ratio(cell.p(99), base.p(99)) if base and base.ok and cell.ok else "-",
                str(len(cell.failed)),
                kinds,
                ms(percentile(sorted(cell.failed), 99)) if cell.failed else "-",
                f"{min(cell.tasks, cell.pool.size + cell.pool.overflow) / sleep:,.0f}"
                if sleep
                else "-",
            ]
        )
    settings = {c.pool.label: c.pool.settings for c in cells}
    table.notes += [
        f"asyncpg, one engine per cell, {seconds:g} s closed loop per cell after a warm-up; "
        "latency from before the checkout to the end of COMMIT (BEGIN; statement; COMMIT), "
        "so queueing for a connection is included; p50/p99 over successes only",
        "conns = most connections seen open in pg_stat_activity during the cell / "
        "pool_size + max_overflow",
        "'vs BEFORE' = this row / BEFORE at the same tasks, same run (tx/s > 1 is better, "
        "p99 < 1 is better)",
        *(f"{label}: {text_}" for label, text_ in settings.items() if "worker" not in label),
        f"hardpoint worker: pool_size = min(tasks, {WORKER_CAP}), max_overflow 0, timeout 30 s",
    ]
    if sleep:
        table.notes.append(
            f"pool ceiling = min(tasks, pool_size + max_overflow) / {sleep * 1000:g} ms: the rate "
            "if only the number of connections limited it; where tx/s stays far below it, this "
            "one Python process (event loop, SQLAlchemy, asyncpg: BEGIN, statement, COMMIT, "
            "plus the pre-ping's BEGIN, ';', ROLLBACK where on) is the bottleneck, not the pool"
        )
    return table


def load_targets(report: Report, results: dict[str, list[Cell]]) -> None:
    """PASS/FAIL lines for the load scenario."""
    limit = PRESETS["web"].pool_timeout * 1.1
    for mix, cells in results.items():
        for cell in cells:
            if cell.pool.label != "hardpoint web" or cell.tasks != max(CONCURRENCY):
                continue
            if cell.skipped or not cell.ok:
                report.target(f"{mix}: web at {cell.tasks} tasks bounded", False, "no data")
                continue
            slowest_fail = max(cell.failed, default=0)
            report.target(
                f"{mix}: web at {cell.tasks} tasks: p99 of successes and every failure "
                f"<= pool_timeout + 10% ({limit:g} s)",
                cell.p(99) <= limit * 1e9 and slowest_fail <= limit * 1e9,
                f"p99 {ms(cell.p(99))} ms, {len(cell.failed)} failures"
                + (f", slowest failure {ms(slowest_fail)} ms" if cell.failed else ""),
            )
    everything = [c for cells in results.values() for c in cells if not c.skipped]
    unexpected = collections.Counter[str]()
    for cell in everything:
        for kind, n in cell.kinds.items():
            if kind != "pool timeout":
                unexpected[f"{kind} ({cell.pool.label}, {cell.tasks} tasks)"] += n
    report.target(
        "load cells: no failure other than pool timeouts",
        not unexpected,
        ", ".join(f"{k}: {n}" for k, n in unexpected.items()) or f"{len(everything)} cells",
    )


# -- 2. pre_ping cost ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Per-checkout time, ns."""

    n: int
    p50: int
    p99: int
    mean: float

    @classmethod
    def of(cls, samples: list[int]) -> Stats:
        """Summarise *samples*."""
        ordered = sorted(samples)
        return cls(
            len(ordered),
            percentile(ordered, 50),
            percentile(ordered, 99),
            statistics.fmean(ordered),
        )


async def ping_async(url: URL, n: int) -> dict[bool, list[int]]:
    """asyncpg: check out, ``SELECT 1``, return; pre_ping off and on, alternating rounds."""
    engines = {
        flag: create_async_engine(
            url,
            preset="web",
            pool_pre_ping=flag,
            pool_size=1,
            max_overflow=0,
            application_name=f"{APP}-ping",
        )
        for flag in (False, True)
    }
    statement = text("SELECT 1")
    clock = time.perf_counter_ns

    async def loop(engine: AsyncEngine, count: int) -> list[int]:
        out = [0] * count
        for i in range(count):
            start = clock()
            async with engine.connect() as conn:
                await conn.execute(statement)
            out[i] = clock() - start
        return out

    samples: dict[bool, list[int]] = {False: [], True: []}
    try:
        for engine in engines.values():
            await loop(engine, max(50, n // 10))  # warm-up
        per_round = max(1, n // ROUNDS)
        for r in range(ROUNDS):
            for flag in (False, True) if r % 2 == 0 else (True, False):
                gc.collect()
                samples[flag] += await loop(engines[flag], per_round)
    finally:
        for engine in engines.values():
            await engine.dispose()
    return samples


def ping_sync(url: URL, n: int, *, plain: bool = False) -> dict[bool, list[int]]:
    """psycopg 3 (sync): the same loop; *plain*: SQLAlchemy's own engine, no hardpoint."""

    def make(flag: bool) -> Engine:
        if plain:
            return sa_create_engine(
                url,
                pool_pre_ping=flag,
                pool_size=1,
                max_overflow=0,
                connect_args={"application_name": f"{APP}-ping"},
            )
        return create_engine(
            url,
            preset="web",
            pool_pre_ping=flag,
            pool_size=1,
            max_overflow=0,
            application_name=f"{APP}-ping",
        )

    engines = {flag: make(flag) for flag in (False, True)}
    statement = text("SELECT 1")
    clock = time.perf_counter_ns

    def loop(flag: bool, count: int) -> list[int]:
        engine = engines[flag]
        out = [0] * count
        for i in range(count):
            start = clock()
            with engine.connect() as conn:
                conn.execute(statement)
            out[i] = clock() - start
        return out

    samples: dict[bool, list[int]] = {False: [], True: []}
    try:
        for flag in engines:
            loop(flag, max(50, n // 10))
        per_round = max(1, n // ROUNDS)
        for r in range(ROUNDS):
            for flag in (False, True) if r % 2 == 0 else (True, False):
                gc.collect()
                samples[flag] += loop(flag, per_round)
    finally:
        for engine in engines.values():
            engine.dispose()
    return samples


async def scenario_ping(
    server: Server, async_url: URL, sync_url: URL, report: Report, n: int
) -> None:
    """pre_ping on vs off, per driver."""
    measured = {
        "asyncpg": await ping_async(async_url, n),
        # A blocking loop on the event loop's thread is fine here: nothing else runs.
        "psycopg": ping_sync(sync_url, n),
        PLAIN_PSYCOPG: ping_sync(sync_url, n, plain=True),
    }
    left = await server.settle(f"{APP}-ping")
    table = Table(
        "2. pre_ping cost per checkout "
        "(web preset unless noted; 1 connection: check out, SELECT 1, return)",
        [
            "driver",
            "pre_ping",
            "checkouts",
            "p50 ms",
            "p99 ms",
            "mean ms",
            "p50 vs off",
            "p50 +ms",
            "mean +ms",
        ],
    )
    for driver, samples in measured.items():
        off = Stats.of(samples[False])
        on = Stats.of(samples[True])
        for flag, s in ((False, off), (True, on)):
            table.rows.append(
                [
                    driver,
                    "on" if flag else "off",
                    f"{s.n:,}",
                    ms(s.p50),
                    ms(s.p99),
                    ms(s.mean),
                    ratio(s.p50, off.p50),
                    f"{(s.p50 - off.p50) / 1e6:+.3f}" if flag else "-",
                    f"{(s.mean - off.mean) / 1e6:+.3f}" if flag else "-",
                ]
            )
        target = TARGET_PING_MS.get(driver)
        if target is None:  # the reference rows
            continue
        report.target(
            f"{driver}: pre_ping costs <= {target:g} ms per checkout (p50 on - p50 off)",
            (on.p50 - off.p50) / 1e6 <= target,
            f"p50 {(on.p50 - off.p50) / 1e6:+.3f} ms, mean {(on.mean - off.mean) / 1e6:+.3f} "
            f"ms over {on.n:,} checkouts each",
        )
    table.notes += [
        "same engine settings except pool_pre_ping; on and off alternate over "
        f"{ROUNDS} rounds after a warm-up; '+ms' = on - off, the cost of the ping",
        "SQLAlchemy's asyncpg ping outside a transaction is BEGIN; ';'; ROLLBACK (three round "
        "trips, for PgBouncer's transaction mode); psycopg's is one SELECT 1 inside the "
        "transaction the checkout's statement then uses (psycopg starts that transaction "
        "with its BEGIN either way); hardpoint's psycopg engine also arms and disarms its "
        "command-timeout watchdog around the ping",
        f"{PLAIN_PSYCOPG}: the same loop on sqlalchemy.create_engine(pool_size=1, "
        "max_overflow=0, pool_pre_ping=...) without hardpoint (no watchdog, no startup "
        "settings), for reference: what the ping costs without hardpoint's additions; no target",
        f"ping connections still open afterwards: {left}",
    ]
    report.add(table)


# -- main -----------------------------------------------------------------------------------------


def collect_versions(server: Server) -> list[tuple[str, str]]:
    """Versions of everything measured, and the machine."""
    import psycopg

    return [
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("hardpoint", hardpoint.__version__),
        ("sqlalchemy", dist_version("sqlalchemy")),
        ("asyncpg", dist_version("asyncpg")),
        ("psycopg", f"{dist_version('psycopg')} ({psycopg.pq.__impl__} libpq wrapper)"),
        ("greenlet", dist_version("greenlet")),
        (
            "postgresql",
            f"{server.version}, max_connections {server.max_connections} "
            f"(superuser_reserved {server.superuser_reserved}), {server.others} other client "
            f"connections at start; this run's pools may open at most {server.budget}",
        ),
        (
            "machine",
            f"{platform.system()} {platform.release()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs (shared by client and server), load average at start "
            f"{load_average()}",
        ),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help="short cells and fewer checkouts (a smoke run)"
    )
    parser.add_argument(
        "--markdown", metavar="PATH", type=Path, help="also write the tables as Markdown"
    )
    return parser.parse_args(argv)


async def amain(args: argparse.Namespace) -> int:
    """Run both scenarios once and print the tables and targets."""
    seconds, warmup, checkouts = (0.5, 0.2, 500) if args.quick else (2.0, 0.4, 4_000)
    started = time.perf_counter_ns()
    try:
        async_url, sync_url = urls(os.environ.get("DATABASE_URL", DEFAULT_URL))
        server = await Server.open(async_url)
    except Exception as exc:  # no database: exit 2
        print(f"cannot reach the database: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    try:
        report = Report("hardpoint.pool benchmark", versions=collect_versions(server))
        report.print_versions()
        with timed("scenario 1"):
            results = await scenario_load(server, async_url, report, seconds, warmup)
        load_targets(report, results)
        with timed("scenario 2"):
            await scenario_ping(server, async_url, sync_url, report, checkouts)
        peak = max((c.peak_connections for cells in results.values() for c in cells), default=0)
        report.target(
            f"connections: at most {server.budget} open at once (max_connections "
            f"{server.max_connections})",
            peak <= server.budget,
            f"most seen at once {peak} (+1 monitor connection)",
        )
        left = await server.settle(f"{APP}-%")
        report.target(
            "connections: none left open", left == 0, f"{left} pool_bench connections open"
        )
    finally:
        await server.close()
    elapsed = (time.perf_counter_ns() - started) / 1e9
    report.print_targets()
    print(f"total time: {elapsed:.0f} s; load average at end {load_average()}")
    if args.markdown is not None:
        report.write_markdown(
            args.markdown,
            intro=f"Generated by `benchmarks/pool_bench.py`{' --quick' if args.quick else ''}"
            f" ({seconds:g} s per cell, {checkouts:,} checkouts per pre_ping variant, "
            f"{elapsed:.0f} s).",
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run."""
    return asyncio.run(amain(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
