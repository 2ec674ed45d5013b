"""Benchmark `hardpoint.cache` against raw redis-py + orjson and against its peers.

One run measures every scenario of the cache performance issue and checks its targets::

    .venv/bin/python benchmarks/cache_bench.py [--quick] [--markdown docs/cache-benchmarks.md]

1. async hit, one task, sequential: hardpoint vs raw ``redis.asyncio`` GET + ``orjson.loads``
   (the floor), cashews and aiocache;
2. async hits, 50 tasks on 50 keys: throughput vs the floor;
3. async hits, 50 tasks on one key: throughput vs the floor;
4. sync hit: hardpoint vs raw ``redis.Redis`` GET + ``orjson.loads`` and dogpile.cache;
5. memory hit (default ``MemoryBackend``) vs ``functools.lru_cache`` and cashews ``mem://``;
6. stampede: 100 tasks on a cold key of a 50 ms coroutine (hardpoint, cashews, aiocache);
7. across processes: 4 processes, ``lock=True``, a cold key of a 200 ms function;
8. faults on a private ``redis-server``: refused, frozen (SIGSTOP), recovery.

Redis comes from ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). The server may be shared:
every key lives under a namespace unique to this run (``hpbench:<pid>:<random>``), only those
keys are deleted at the end, and nothing is flushed. Scenario 8 starts its own ``redis-server``
(from PATH) with ``tests/_servers.py``.

Method: ``time.perf_counter_ns``; a warm-up pass; then several repetitions in which the
contenders take turns (the order alternates between repetitions), so that drift on a busy
machine hits floor and contender alike. Tables show the median over repetitions, and each
ratio is the median of the per-repetition ratios. The exit status is 0 whether targets pass
or fail (2 when Redis cannot be reached); read the PASS/FAIL lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import importlib
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

import orjson
import redis
import redis.asyncio

import hardpoint
from hardpoint import events
from hardpoint.cache import RedisBackend, cached, close_cache, configure_cache

if TYPE_CHECKING:  # mypy runs from the repository root, where benchmarks/ is a namespace
    from benchmarks._report import Report, Table
else:  # run as a script, benchmarks/ is on sys.path
    from _report import Report, Table


DEFAULT_URL: Final = "redis://127.0.0.1:6379/0"
KEYS: Final = 50  # distinct user ids in the Redis hit scenarios
TASKS: Final = 50
MEMORY_KEYS: Final = 64

TARGET_SEQUENTIAL: Final = 1.15  # hardpoint per-op time <= 1.15 x floor (scenarios 1 and 4)
TARGET_CONCURRENT: Final = 0.90  # hardpoint throughput >= 0.9 x floor (scenario 2)
TARGET_ONE_KEY: Final = 1.00  # hardpoint throughput >= floor (scenario 3)
TARGET_MEMORY_US: Final = 2.0  # per memory hit (scenario 5)
STAMPEDE_CALLERS: Final = 100
STAMPEDE_SLEEP: Final = 0.050
TARGET_STAMPEDE_WALL: Final = 1.3  # x the function's 50 ms
XPROC_PROCESSES: Final = 4
XPROC_SLEEP: Final = 0.200
FAULT_CALLS: Final = 1000
FAULT_RESET_TIMEOUT: Final = 1.0  # RedisBackend.from_url(reset_timeout=...) in scenario 8
TARGET_ADDED_MS: Final = 1.0
RECOVERY_POLL: Final = 0.002  # seconds between two calls while waiting for a hit

OWN_CLIENT: Final = "(diagnostic) same GET + loads on hardpoint's own client"
OWN_CLIENT_NOTE: Final = (
    "diagnostic row: the floor's GET + orjson.loads issued on the RedisBackend's own client "
    "(its pool, timeouts and retry settings), without hardpoint's key, envelope or breaker: "
    "hardpoint - diagnostic = hardpoint's own code; diagnostic - floor = client settings"
)
RATIO_NOTE: Final = (
    "x floor = median of the per-repetition ratios (robust to drift), so it can differ "
    "slightly from the ratio of the medians shown"
)


@dataclass(frozen=True)
class Params:
    """How much work each scenario does."""

    reps: int
    sequential_ops: int  # per contender and repetition, scenarios 1 and 4
    ops_per_task: int  # scenarios 2 and 3 (x 50 tasks)
    memory_ops: int
    stampede_reps: int
    xproc_reps: int


FULL: Final = Params(
    reps=7,
    sequential_ops=2000,
    ops_per_task=100,
    memory_ops=100_000,
    stampede_reps=5,
    xproc_reps=3,
)
QUICK: Final = Params(
    reps=3,
    sequential_ops=500,
    ops_per_task=30,
    memory_ops=20_000,
    stampede_reps=3,
    xproc_reps=1,
)

# -- the workload -------------------------------------------------------------------------------

RUNS: Counter[str] = Counter()  # how often each contender's function body ran


def make_user(user_id: int) -> dict[str, Any]:
    """Return a small user record (10 fields), the value every contender caches."""
    return {
        "id": user_id,
        "name": f"user {user_id}",
        "email": f"user{user_id}@example.org",
        "active": user_id % 7 != 0,
        "score": 10.0 + user_id / 4,
        "age": 20 + user_id % 50,
        "city": "Lyon",
        "roles": ["reader", "writer"],
        "plan": "pro",
        "created_at": "2024-05-01T12:00:00+00:00",
    }


AsyncUserFn = Callable[[int], Awaitable[object]]
SyncUserFn = Callable[[int], object]


def async_user_body(name: str) -> Callable[[int], Coroutine[Any, Any, dict[str, Any]]]:
    """Return an ``async def get_user(user_id)`` that counts its runs under *name*."""

    async def get_user(user_id: int) -> dict[str, Any]:
        RUNS[name] += 1
        return make_user(user_id)

    get_user.__qualname__ = get_user.__name__ = f"get_user_{name.replace('-', '_')}"
    return get_user


PLAIN_BODY: Final = "plain def, no cache (body: build the dict)"


def misses_note(missed: int) -> str:
    """Explain a failed target whose hardpoint row was not all hits."""
    if not missed:
        return ""
    return f"; INVALID: hardpoint's function ran {missed} times while timed (misses, not hits)"


def sync_user_body(name: str) -> Callable[[int], dict[str, Any]]:
    """Return a ``def get_user(user_id)`` that counts its runs under *name*."""

    def get_user(user_id: int) -> dict[str, Any]:
        RUNS[name] += 1
        return make_user(user_id)

    get_user.__qualname__ = get_user.__name__ = f"get_user_{name.replace('-', '_')}"
    return get_user


def slow_body(name: str) -> Callable[[int], Coroutine[Any, Any, dict[str, Any]]]:
    """Return an ``async def`` that sleeps 50 ms, for the stampede scenario."""

    async def load_report(report_id: int) -> dict[str, Any]:
        RUNS[name] += 1
        await asyncio.sleep(STAMPEDE_SLEEP)
        return make_user(report_id)

    load_report.__qualname__ = load_report.__name__ = f"load_report_{name.replace('-', '_')}"
    return load_report


def trivial(x: int) -> int:
    """The body of the fault scenario's sync function."""
    return x + 1


async def atrivial(x: int) -> int:
    """The body of the fault scenario's async function."""
    return x + 1


# -- timing helpers -----------------------------------------------------------------------------


async def run_sequential_async(fn: AsyncUserFn, ops: int, keys: int) -> int:
    """Await *ops* calls one after the other; return the elapsed nanoseconds."""
    gc.collect()
    start = time.perf_counter_ns()
    for i in range(ops):
        await fn(i % keys)
    return time.perf_counter_ns() - start


def run_sequential_sync(fn: SyncUserFn, ops: int, keys: int) -> int:
    """Make *ops* calls one after the other; return the elapsed nanoseconds."""
    gc.collect()
    start = time.perf_counter_ns()
    for i in range(ops):
        fn(i % keys)
    return time.perf_counter_ns() - start


async def run_concurrent(fn: AsyncUserFn, *, ops_per_task: int, one_key: bool) -> int:
    """Run 50 tasks of *ops_per_task* sequential calls each; return the elapsed nanoseconds."""
    go = asyncio.Event()

    async def worker(user_id: int) -> None:
        await go.wait()
        for _ in range(ops_per_task):
            await fn(user_id)

    workers = [asyncio.create_task(worker(0 if one_key else t)) for t in range(TASKS)]
    await asyncio.sleep(0)  # every worker is now parked on go.wait()
    gc.collect()
    start = time.perf_counter_ns()
    go.set()
    await asyncio.gather(*workers)
    return time.perf_counter_ns() - start


def turn_order(names: Sequence[str], rep: int) -> list[str]:
    """Alternate the order of the contenders between repetitions."""
    return list(names) if rep % 2 == 0 else list(reversed(names))


def median_ratio(samples: dict[str, list[int]], name: str, base: str) -> float:
    """Median over repetitions of samples[name][r] / samples[base][r]."""
    return statistics.median(
        a / b for a, b in zip(samples[name], samples[base], strict=True) if b > 0
    )


def fmt_us(ns: float) -> str:
    """Nanoseconds as microseconds, with enough digits."""
    us = ns / 1000
    return f"{us:,.2f}" if us < 10 else f"{us:,.1f}"


def fmt_ms(ns: float) -> str:
    """Nanoseconds as milliseconds."""
    return f"{ns / 1e6:,.1f}"


def fmt_rate(per_second: float) -> str:
    """Operations per second."""
    return f"{per_second:,.0f}"


def dist_version(name: str) -> str:
    """The installed version of distribution *name*."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def redact(url: str) -> str:
    """Hide a password in a Redis URL."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


# -- the report ---------------------------------------------------------------------------------


# Table, Target and Report live in _report.py, shared by every benchmark script.


# -- the private Redis of scenario 8 ------------------------------------------------------------


class PrivateRedis(Protocol):
    """What scenario 8 uses of ``tests/_servers.py``'s ``RedisProcess``."""

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        ...

    def start(self) -> None:
        """Start again on the same port (empty dataset)."""
        ...

    def stop(self) -> None:
        """Kill the server."""
        ...

    def freeze(self) -> None:
        """SIGSTOP the server."""
        ...

    def thaw(self) -> None:
        """SIGCONT the server."""
        ...

    def close(self) -> None:
        """Stop the server and delete its directory."""
        ...


def start_private_redis() -> PrivateRedis:
    """Start a throwaway ``redis-server`` with the test suite's helper."""
    tests_dir = str(Path(__file__).resolve().parents[1] / "tests")
    if tests_dir not in sys.path:
        sys.path.append(tests_dir)
    servers = importlib.import_module("_servers")
    server: PrivateRedis = servers.start_redis()
    return server


class EventLog:
    """Counts hardpoint events by prefix and timestamps breaker transitions."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.breaker: list[tuple[int, str, str, str]] = []

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.CacheHit):
            self.hits[event.prefix] += 1
        elif isinstance(event, events.CacheError):
            self.errors[event.prefix] += 1
        elif isinstance(event, events.BreakerStateChanged):
            self.breaker.append((time.perf_counter_ns(), event.name, event.old, event.new))

    def opened_before(self, breaker: str, moment: int) -> int | None:
        """When *breaker* last opened before *moment* (perf_counter_ns), if it did."""
        opened = [t for t, name, _old, new in self.breaker if name == breaker and new == "open"]
        before = [t for t in opened if t <= moment]
        return before[-1] if before else None


def time_calls_sync(fn: Callable[[int], object], calls: int) -> tuple[list[int], int]:
    """Time each of *calls* calls; return the durations (ns) and the number of exceptions."""
    durations: list[int] = []
    errors = 0
    for i in range(calls):
        start = time.perf_counter_ns()
        try:
            fn(i % 10)
        except Exception:
            errors += 1
        durations.append(time.perf_counter_ns() - start)
    return durations, errors


async def time_calls_async(
    fn: Callable[[int], Awaitable[object]], calls: int
) -> tuple[list[int], int]:
    """Async twin of `time_calls_sync`."""
    durations: list[int] = []
    errors = 0
    for i in range(calls):
        start = time.perf_counter_ns()
        try:
            await fn(i % 10)
        except Exception:
            errors += 1
        durations.append(time.perf_counter_ns() - start)
    return durations, errors


@dataclass
class FaultResult:
    """What one API (sync or async) went through in one outage."""

    api: str
    errors: int
    durations: list[int]
    baseline: list[int]
    breaker_opened_ms: float | None = None  # after this API's first failing call began
    recovered_ms: float | None = None  # first hit, after the server was back
    recovered_since_open_ms: float | None = None
    recovery_errors: int = 0

    @property
    def added_ns(self) -> float:
        """Mean time per call after the first, minus the uncached call's mean."""
        return statistics.fmean(self.durations[1:]) - statistics.fmean(self.baseline)


# -- the benchmark ------------------------------------------------------------------------------

CHILD_SCRIPT: Final = r"""
import json, sys, time
import redis
from hardpoint.cache import RedisBackend, cached, configure_cache


url, ns, run_id, lock_flag, sleep_s = sys.argv[1:6]
raw = redis.Redis.from_url(url)
backend = RedisBackend.from_url(url, namespace=ns + ":hp")
configure_cache(backend=backend)
base = ns + ":xproc:" + run_id

@cached("xproc:" + run_id, ttl=300, lock=lock_flag == "1")
def build_report(report_id: int) -> dict[str, int]:
    raw.incr(base + ":execs")
    time.sleep(float(sleep_s))
    return {"id": report_id}

backend.get("warm-up")  # connect before the start signal
raw.incr(base + ":ready")
deadline = time.monotonic() + 60
while not raw.exists(base + ":go"):
    if time.monotonic() > deadline:
        sys.exit("no start signal")
    time.sleep(0.0005)
seen = time.perf_counter_ns()
value = build_report(7)
done = time.perf_counter_ns()
print(json.dumps({"seen": seen, "done": done, "ok": value == {"id": 7}}))
"""


class Bench:
    """State shared by the scenarios: clients, decorated functions, the event loop."""

    def __init__(
        self,
        *,
        url: str,
        ns: str,
        params: Params,
        runner: asyncio.Runner,
        report: Report,
        raw: redis.Redis,
    ) -> None:
        self.url = url
        self.ns = ns
        self.params = params
        self.runner = runner
        self.report = report
        self.raw = raw
        self.araw = redis.asyncio.Redis.from_url(url)  # the floor: default settings
        self.raw_keys = [f"{ns}:raw:user:{i}" for i in range(KEYS)]
        self.backend = RedisBackend.from_url(url, namespace=f"{ns}:hp")
        self._closers: list[Callable[[], Awaitable[object]]] = []

    # -- setup -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close every client this benchmark opened."""
        close_cache()

        async def close_all() -> None:
            for closer in self._closers:
                with contextlib.suppress(Exception):
                    await closer()
            await self.backend.aclose()
            await self.araw.aclose()

        self.runner.run(close_all())

    def use_redis(self) -> None:
        """Make the shared-Redis backend the configured default."""
        configure_cache(backend=self.backend)

    def store_floor_payloads(self) -> None:
        """Write the floor's payloads: the same user records, as plain orjson bytes."""
        pipe = self.raw.pipeline(transaction=False)
        for i, key in enumerate(self.raw_keys):
            pipe.set(key, orjson.dumps(make_user(i)), ex=600)
        pipe.execute()

    async def floor_async(self, user_id: int) -> object:
        """Raw ``redis.asyncio`` GET + ``orjson.loads``."""
        data: Any = await self.araw.get(self.raw_keys[user_id])
        return orjson.loads(data)

    def floor_sync(self, user_id: int) -> object:
        """Raw ``redis.Redis`` GET + ``orjson.loads``."""
        data: Any = self.raw.get(self.raw_keys[user_id])
        return orjson.loads(data)

    async def own_client_async(self, user_id: int) -> object:
        """Raw GET + ``orjson.loads`` on the RedisBackend's own asyncio client (diagnostic)."""
        client: Any = self.backend._async()  # private on purpose: isolates the client's cost
        data: Any = await client.get(self.raw_keys[user_id])
        return orjson.loads(data)

    def own_client_sync(self, user_id: int) -> object:
        """Raw GET + ``orjson.loads`` on the RedisBackend's own sync client (diagnostic)."""
        client: Any = self.backend._sync()  # private on purpose: isolates the client's cost
        data: Any = client.get(self.raw_keys[user_id])
        return orjson.loads(data)

    def async_contenders(self) -> tuple[dict[str, AsyncUserFn], dict[str, str]]:
        """The async hit contenders of scenarios 1-3 by display name, and their RUNS keys."""
        from aiocache import Cache as AioCache
        from aiocache import cached as aio_cached
        from aiocache.serializers import JsonSerializer
        from cashews import Cache as CashewsCache

        hp_user = cached("user", ttl=300)(async_user_body("hardpoint"))

        cw = CashewsCache()
        cw.setup(self.url)
        self._closers.append(cw.close)
        cw_user = cw(ttl=300, prefix=f"{self.ns}:cashews")(async_user_body("cashews"))

        parts = urlsplit(self.url)
        aio_user: AsyncUserFn = aio_cached(
            ttl=300,
            cache=AioCache.REDIS,
            endpoint=parts.hostname or "127.0.0.1",
            port=parts.port or 6379,
            db=int(parts.path.strip("/") or 0),
            password=parts.password,
            namespace=f"{self.ns}:aiocache",
            serializer=JsonSerializer(),
        )(async_user_body("aiocache"))
        self._closers.append(aio_user.cache.close)  # type: ignore[attr-defined]  # set by aiocache

        contenders: dict[str, AsyncUserFn] = {
            "floor: redis.asyncio GET + orjson.loads": self.floor_async,
            "hardpoint @cached": hp_user,
            OWN_CLIENT: self.own_client_async,
            "cashews @cache": cw_user,
            "aiocache @cached": aio_user,
        }
        runs_key = {
            "hardpoint @cached": "hardpoint",
            "cashews @cache": "cashews",
            "aiocache @cached": "aiocache",
        }
        return contenders, runs_key

    # -- scenarios 1-3 ---------------------------------------------------------------------

    async def _prime(self, contenders: dict[str, AsyncUserFn]) -> None:
        for fn in contenders.values():
            for user_id in range(KEYS):
                await fn(user_id)

    async def _async_hits(self) -> None:
        contenders, runs_key = self.async_contenders()
        names = list(contenders)
        floor, hp = names[0], names[1]
        await self._prime(contenders)
        p = self.params

        # 1. one task, sequential
        for fn in contenders.values():
            await run_sequential_async(fn, max(p.sequential_ops // 5, 100), KEYS)
        before = {name: RUNS[key] for name, key in runs_key.items()}
        samples: dict[str, list[int]] = {name: [] for name in names}
        for rep in range(p.reps):
            for name in turn_order(names, rep):
                samples[name].append(
                    await run_sequential_async(contenders[name], p.sequential_ops, KEYS)
                )
        table = Table(
            f"1. async hit, 1 task, sequential ({p.sequential_ops} ops x {p.reps} reps, "
            f"{KEYS} keys)",
            ["contender", "per op (us)", "ops/s", "x floor", "body runs while timed"],
        )
        for name in names:
            per_op = statistics.median(samples[name]) / p.sequential_ops
            runs = str(RUNS[runs_key[name]] - before[name]) if name in runs_key else "-"
            shown = "1.000" if name == floor else f"{median_ratio(samples, name, floor):.3f}"
            table.rows.append([name, fmt_us(per_op), fmt_rate(1e9 / per_op), shown, runs])
        table.notes += [
            "value: a 10-field dict[str, Any]; hardpoint: RedisBackend.from_url(url, "
            "namespace=...) via configure_cache(backend=...), defaults otherwise",
            OWN_CLIENT_NOTE,
            RATIO_NOTE,
        ]
        self.report.add(table)
        ratio = median_ratio(samples, hp, floor)
        missed = RUNS[runs_key[hp]] - before[hp]
        self.report.target(
            "1. async hit per op <= 1.15 x floor",
            ratio <= TARGET_SEQUENTIAL and missed == 0,
            f"{ratio:.3f} x floor ({fmt_us(statistics.median(samples[hp]) / p.sequential_ops)} "
            f"us vs {fmt_us(statistics.median(samples[floor]) / p.sequential_ops)} us)"
            + misses_note(missed),
        )

        # 2. and 3. fifty tasks
        for one_key in (False, True):
            for fn in contenders.values():
                await run_concurrent(fn, ops_per_task=max(p.ops_per_task // 5, 5), one_key=one_key)
            before = {name: RUNS[key] for name, key in runs_key.items()}
            samples = {name: [] for name in names}
            for rep in range(p.reps):
                for name in turn_order(names, rep):
                    samples[name].append(
                        await run_concurrent(
                            contenders[name], ops_per_task=p.ops_per_task, one_key=one_key
                        )
                    )
            total = TASKS * p.ops_per_task
            number, what = ("3", "ONE key") if one_key else ("2", f"{TASKS} distinct keys")
            table = Table(
                f"{number}. async hits, {TASKS} tasks on {what} ({total} ops x {p.reps} reps)",
                ["contender", "ops/s", "x floor", "mean latency (us)", "body runs while timed"],
            )
            for name in names:
                elapsed = statistics.median(samples[name])
                # throughput ratio = floor time / contender time, per repetition
                speed = 1.0 if name == floor else 1 / median_ratio(samples, name, floor)
                runs = str(RUNS[runs_key[name]] - before[name]) if name in runs_key else "-"
                table.rows.append(
                    [
                        name,
                        fmt_rate(total / elapsed * 1e9),
                        f"{speed:.3f}",
                        fmt_us(elapsed / p.ops_per_task),
                        runs,
                    ]
                )
            table.notes += [
                "floor: one redis.asyncio client (default pool); cashews runs with its default "
                "BlockingConnectionPool of 10 connections and in-process coalescing of "
                "concurrent calls (protected=True)",
                OWN_CLIENT_NOTE,
                RATIO_NOTE,
            ]
            self.report.add(table)
            ratio = 1 / median_ratio(samples, hp, floor)
            floor_rate = total / statistics.median(samples[floor]) * 1e9
            hp_rate = total / statistics.median(samples[hp]) * 1e9
            goal = TARGET_ONE_KEY if one_key else TARGET_CONCURRENT
            missed = RUNS[runs_key[hp]] - before[hp]
            self.report.target(
                f"{number}. async {TASKS} tasks on {what}: throughput >= {goal:.1f} x floor",
                ratio >= goal and missed == 0,
                f"{ratio:.3f} x floor ({fmt_rate(hp_rate)} vs {fmt_rate(floor_rate)} ops/s)"
                + misses_note(missed),
            )

    def scenario_async_hits(self) -> None:
        """Scenarios 1, 2 and 3."""
        self.use_redis()
        self.store_floor_payloads()
        self.runner.run(self._async_hits())

    # -- scenario 4 ------------------------------------------------------------------------

    def scenario_sync_hit(self) -> None:
        """Scenario 4: sync hit vs raw redis.Redis and dogpile.cache."""
        from dogpile.cache import make_region

        self.use_redis()
        hp_user = cached("user-sync", ttl=300)(sync_user_body("hardpoint-sync"))
        ns = self.ns
        region = make_region(key_mangler=lambda key: f"{ns}:dogpile:{key}").configure(
            "dogpile.cache.redis",
            expiration_time=300,
            arguments={"url": self.url, "redis_expiration_time": 600},
        )
        dp_user: SyncUserFn = region.cache_on_arguments()(sync_user_body("dogpile"))
        contenders: dict[str, SyncUserFn] = {
            "floor: redis.Redis GET + orjson.loads": self.floor_sync,
            "hardpoint @cached (def)": hp_user,
            OWN_CLIENT: self.own_client_sync,
            "dogpile.cache cache_on_arguments": dp_user,
        }
        runs_key = {
            "hardpoint @cached (def)": "hardpoint-sync",
            "dogpile.cache cache_on_arguments": "dogpile",
        }
        names = list(contenders)
        floor, hp = names[0], names[1]
        p = self.params
        for fn in contenders.values():
            for user_id in range(KEYS):
                fn(user_id)
            run_sequential_sync(fn, max(p.sequential_ops // 5, 100), KEYS)
        before = {name: RUNS[key] for name, key in runs_key.items()}
        samples: dict[str, list[int]] = {name: [] for name in names}
        for rep in range(p.reps):
            for name in turn_order(names, rep):
                samples[name].append(run_sequential_sync(contenders[name], p.sequential_ops, KEYS))
        table = Table(
            f"4. sync hit, sequential ({p.sequential_ops} ops x {p.reps} reps, {KEYS} keys)",
            ["contender", "per op (us)", "ops/s", "x floor", "body runs while timed"],
        )
        for name in names:
            per_op = statistics.median(samples[name]) / p.sequential_ops
            runs = str(RUNS[runs_key[name]] - before[name]) if name in runs_key else "-"
            shown = "1.000" if name == floor else f"{median_ratio(samples, name, floor):.3f}"
            table.rows.append([name, fmt_us(per_op), fmt_rate(1e9 / per_op), shown, runs])
        table.notes += [
            "dogpile.cache stores pickled CachedValue objects (its default)",
            OWN_CLIENT_NOTE,
            RATIO_NOTE,
        ]
        self.report.add(table)
        ratio = median_ratio(samples, hp, floor)
        missed = RUNS[runs_key[hp]] - before[hp]
        self.report.target(
            "4. sync hit per op <= 1.15 x floor",
            ratio <= TARGET_SEQUENTIAL and missed == 0,
            f"{ratio:.3f} x floor ({fmt_us(statistics.median(samples[hp]) / p.sequential_ops)} "
            f"us vs {fmt_us(statistics.median(samples[floor]) / p.sequential_ops)} us)"
            + misses_note(missed),
        )
        with contextlib.suppress(Exception):
            region.backend.writer_client.close()

    # -- scenario 5 ------------------------------------------------------------------------

    def scenario_memory(self) -> None:
        """Scenario 5: hits on the default MemoryBackend, with lru_cache and cashews mem://."""
        from cashews import Cache as CashewsCache

        configure_cache()  # no arguments: the default in-process MemoryBackend
        hp_user = cached("mem-user", ttl=300)(sync_user_body("hardpoint-memory"))
        plain = sync_user_body("plain")
        lru_user = functools.lru_cache(maxsize=None)(sync_user_body("lru_cache"))
        cwm = CashewsCache()
        cwm.setup("mem://")
        cw_user = cwm(ttl=300)(async_user_body("cashews-mem"))
        plain_async = async_user_body("plain-async")

        sync_fns: dict[str, SyncUserFn] = {
            PLAIN_BODY: plain,
            "functools.lru_cache (shared object)": lru_user,
            "hardpoint @cached, MemoryBackend": hp_user,
        }
        async_fns: dict[str, AsyncUserFn] = {
            "plain async def, no cache, awaited": plain_async,
            "cashews mem:// (async)": cw_user,
        }
        p = self.params
        ops = p.memory_ops
        async_ops = ops // 5  # cashews mem:// is slow; its per-op time needs fewer calls

        async def prime_async() -> None:
            for fn in async_fns.values():
                for i in range(MEMORY_KEYS):
                    await fn(i)
                await run_sequential_async(fn, async_ops // 5, MEMORY_KEYS)

        for fn in sync_fns.values():
            for i in range(MEMORY_KEYS):
                fn(i)
            run_sequential_sync(fn, ops // 5, MEMORY_KEYS)
        self.runner.run(prime_async())
        hp_runs = RUNS["hardpoint-memory"]
        names = [*sync_fns, *async_fns]
        samples: dict[str, list[int]] = {name: [] for name in names}

        async def one_async(name: str) -> int:
            return await run_sequential_async(async_fns[name], async_ops, MEMORY_KEYS)

        for rep in range(p.reps):
            for name in turn_order(names, rep):
                if name in sync_fns:
                    samples[name].append(run_sequential_sync(sync_fns[name], ops, MEMORY_KEYS))
                else:
                    samples[name].append(self.runner.run(one_async(name)))
        table = Table(
            f"5. memory hit, sync def with an int arg ({ops} ops, async rows {async_ops}, "
            f"x {p.reps} reps, {MEMORY_KEYS} keys)",
            ["contender", "per op (us)", "ops/s"],
        )
        for name in names:
            per_op = statistics.median(samples[name]) / (ops if name in sync_fns else async_ops)
            table.rows.append([name, fmt_us(per_op), fmt_rate(1e9 / per_op)])
        table.notes.append(
            "per op includes the benchmark loop (for i in range(n): f(i % 64)); "
            f"hardpoint body runs while timed: {RUNS['hardpoint-memory'] - hp_runs}"
        )
        self.report.add(table)
        hp_ns = statistics.median(samples["hardpoint @cached, MemoryBackend"]) / ops
        body_ns = statistics.median(samples[PLAIN_BODY]) / ops
        missed = RUNS["hardpoint-memory"] - hp_runs
        self.report.target(
            "5. memory hit <= 2 us",
            hp_ns / 1000 <= TARGET_MEMORY_US and missed == 0,
            f"{fmt_us(hp_ns)} us per hit = {hp_ns / body_ns:.2f} x running the plain body "
            f"({fmt_us(body_ns)} us on this machine)" + misses_note(missed),
        )
        self.runner.run(cwm.close())
        close_cache()

    # -- scenario 6 ------------------------------------------------------------------------

    async def _stampedes(self) -> None:
        from aiocache import Cache as AioCache
        from aiocache import cached as aio_cached
        from aiocache import cached_stampede as aio_cached_stampede
        from cashews import Cache as CashewsCache

        cw = CashewsCache()
        cw.setup(self.url)
        self._closers.append(cw.close)
        parts = urlsplit(self.url)
        aio_options: dict[str, Any] = {
            "ttl": 300,
            "cache": AioCache.REDIS,
            "endpoint": parts.hostname or "127.0.0.1",
            "port": parts.port or 6379,
            "db": int(parts.path.strip("/") or 0),
            "password": parts.password,
        }
        aio_plain: AsyncUserFn = aio_cached(namespace=f"{self.ns}:aio-st", **aio_options)(
            slow_body("aiocache-stampede")
        )
        aio_lock: AsyncUserFn = aio_cached_stampede(
            lease=2, namespace=f"{self.ns}:aio-st2", **aio_options
        )(slow_body("aiocache-cached_stampede"))
        for fn in (aio_plain, aio_lock):
            self._closers.append(fn.cache.close)  # type: ignore[attr-defined]  # set by aiocache
        contenders: dict[str, tuple[str, AsyncUserFn]] = {
            "hardpoint @cached (Redis)": (
                "hardpoint-stampede",
                cached("report", ttl=300)(slow_body("hardpoint-stampede")),
            ),
            "cashews @cache (protected=True default)": (
                "cashews-stampede",
                cw(ttl=300, prefix=f"{self.ns}:cashews-st")(slow_body("cashews-stampede")),
            ),
            "aiocache @cached": ("aiocache-stampede", aio_plain),
            "aiocache @cached_stampede(lease=2)": ("aiocache-cached_stampede", aio_lock),
        }
        names = list(contenders)
        p = self.params
        executions: dict[str, list[int]] = {name: [] for name in names}
        walls: dict[str, list[int]] = {name: [] for name in names}
        wrong: Counter[str] = Counter()
        for rep in range(-1, p.stampede_reps):  # rep -1 warms up the connection pools
            report_id = 1_000_000 + rep + 1
            for name in turn_order(names, rep):
                runs_key, fn = contenders[name]
                before = RUNS[runs_key]
                gc.collect()
                start = time.perf_counter_ns()
                values = await asyncio.gather(*(fn(report_id) for _ in range(STAMPEDE_CALLERS)))
                wall = time.perf_counter_ns() - start
                wrong[name] += sum(v != make_user(report_id) for v in values)
                if rep >= 0:
                    executions[name].append(RUNS[runs_key] - before)
                    walls[name].append(wall)
        table = Table(
            f"6. stampede: {STAMPEDE_CALLERS} tasks on a cold key, the function sleeps "
            f"{STAMPEDE_SLEEP * 1000:.0f} ms ({p.stampede_reps} reps)",
            [
                "contender",
                "executions (per rep)",
                "wall median (ms)",
                "wall max (ms)",
                "x 50 ms",
                "wrong values",
            ],
        )
        for name in names:
            wall = int(statistics.median(walls[name]))
            table.rows.append(
                [
                    name,
                    " ".join(str(n) for n in executions[name]),
                    fmt_ms(wall),
                    fmt_ms(max(walls[name])),
                    f"{wall / 1e9 / STAMPEDE_SLEEP:.2f}",
                    str(wrong[name]),
                ]
            )
        table.notes.append(
            "each repetition uses a new cold key; a first, untimed round warms pools"
        )
        self.report.add(table)
        hp = names[0]
        wall = int(statistics.median(walls[hp]))
        most = max(executions[hp])
        self.report.target(
            "6. stampede: 1 execution, wall <= 1.3 x 50 ms",
            most == 1 and wall <= TARGET_STAMPEDE_WALL * STAMPEDE_SLEEP * 1e9,
            f"executions per rep {executions[hp]}, wall median {fmt_ms(wall)} ms "
            f"(limit {TARGET_STAMPEDE_WALL * STAMPEDE_SLEEP * 1000:.0f} ms)",
        )

    def scenario_stampede(self) -> None:
        """Scenario 6."""
        self.use_redis()
        self.runner.run(self._stampedes())

    # -- scenario 7 ------------------------------------------------------------------------

    def _cross_process_round(self, *, lock: bool) -> tuple[int, int, list[int]]:
        """Run 4 processes on one cold key; return (executions, wall ns, per-process ns)."""
        run_id = uuid.uuid4().hex[:8]
        base = f"{self.ns}:xproc:{run_id}"
        args = [self.url, self.ns, run_id, "1" if lock else "0", str(XPROC_SLEEP)]
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD_SCRIPT, *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(XPROC_PROCESSES)
        ]
        try:
            deadline = time.monotonic() + 60
            while int(self.raw.get(f"{base}:ready") or 0) < XPROC_PROCESSES:
                failed = [p for p in procs if p.poll() is not None]
                if failed or time.monotonic() > deadline:
                    _out, err = (failed or procs)[0].communicate(timeout=5)
                    raise RuntimeError(f"a child process failed: {err.decode()[-2000:]}")
                time.sleep(0.005)
            go = time.perf_counter_ns()
            self.raw.set(f"{base}:go", b"1", ex=600)
            outputs = [p.communicate(timeout=60) for p in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        results: list[dict[str, Any]] = []
        for proc, (out, err) in zip(procs, outputs, strict=True):
            if proc.returncode != 0:
                raise RuntimeError(f"a child process failed: {err.decode()[-2000:]}")
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
        if not all(r["ok"] for r in results):
            raise RuntimeError("a child process got a wrong value")
        execs = int(self.raw.get(f"{base}:execs") or 0)
        wall = max(r["done"] for r in results) - go
        return execs, wall, [r["done"] - r["seen"] for r in results]

    def scenario_cross_process(self) -> None:
        """Scenario 7: four processes, lock=True, one cold key of a 200 ms function."""
        p = self.params
        table = Table(
            f"7. across processes: {XPROC_PROCESSES} processes, one cold key, the function "
            f"sleeps {XPROC_SLEEP * 1000:.0f} ms",
            [
                "variant",
                "runs",
                "executions (per run)",
                "wall median (ms)",
                "per process median (ms)",
                "per process max (ms)",
            ],
        )
        lock_execs: list[int] = []
        lock_walls: list[int] = []
        for lock, reps in ((True, p.xproc_reps), (False, 1)):
            execs: list[int] = []
            walls: list[int] = []
            latencies: list[int] = []
            for _ in range(reps):
                n, wall, each = self._cross_process_round(lock=lock)
                execs.append(n)
                walls.append(wall)
                latencies += each
            table.rows.append(
                [
                    "hardpoint lock=True" if lock else "hardpoint lock=False (for contrast)",
                    str(reps),
                    " ".join(map(str, execs)),
                    fmt_ms(statistics.median(walls)),
                    fmt_ms(statistics.median(latencies)),
                    fmt_ms(max(latencies)),
                ]
            )
            if lock:
                lock_execs, lock_walls = execs, walls
        table.notes += [
            "each process is `python -c SCRIPT` and waits for a Redis 'go' key; executions are "
            "counted with INCR; wall = last process done - go key set (CLOCK_MONOTONIC)",
        ]
        self.report.add(table)
        self.report.target(
            "7. across processes with lock=True: 1 execution",
            all(n == 1 for n in lock_execs),
            f"executions per run {lock_execs}, wall median "
            f"{fmt_ms(statistics.median(lock_walls))} ms (function: "
            f"{XPROC_SLEEP * 1000:.0f} ms)",
        )

    # -- scenario 8 ------------------------------------------------------------------------

    def _fault_round(self, server: PrivateRedis, mode: str, log: EventLog) -> list[FaultResult]:
        """One outage (``refused`` or ``frozen``) and the recovery after it."""
        namespaces = {api: f"{self.ns}:fault:{mode}:{api}" for api in ("sync", "async")}
        prefixes = {api: f"fault-{mode}-{api}" for api in ("sync", "async")}
        sync_backend = RedisBackend.from_url(
            server.url, namespace=namespaces["sync"], reset_timeout=FAULT_RESET_TIMEOUT
        )
        async_backend = RedisBackend.from_url(
            server.url, namespace=namespaces["async"], reset_timeout=FAULT_RESET_TIMEOUT
        )
        f_sync = cached(prefixes["sync"], ttl=300, backend=sync_backend)(trivial)
        f_async = cached(prefixes["async"], ttl=300, backend=async_backend)(atrivial)
        try:
            # Healthy first: connections open, entry 0 stored.
            f_sync(0)
            self.runner.run(f_async(0))
            base_sync, _ = time_calls_sync(trivial, FAULT_CALLS)
            base_async, _ = self.runner.run(time_calls_async(atrivial, FAULT_CALLS))
            if mode == "refused":
                server.stop()
            else:
                server.freeze()
            phase_start = {"sync": time.perf_counter_ns()}
            sync_times, sync_errors = time_calls_sync(f_sync, FAULT_CALLS)
            phase_start["async"] = time.perf_counter_ns()
            async_times, async_errors = self.runner.run(time_calls_async(f_async, FAULT_CALLS))
            if mode == "refused":
                server.start()
            else:
                server.thaw()
            restored = time.perf_counter_ns()
            results = {
                "sync": FaultResult("sync def", sync_errors, sync_times, base_sync),
                "async": FaultResult("async def", async_errors, async_times, base_async),
            }
            self.runner.run(self._recover(f_sync, f_async, prefixes, results, log, restored))
            for api, result in results.items():
                opened = log.opened_before(f"redis:{namespaces[api]}", restored)
                if opened is not None:
                    result.breaker_opened_ms = (opened - phase_start[api]) / 1e6
                    if result.recovered_ms is not None:
                        result.recovered_since_open_ms = (
                            result.recovered_ms + (restored - opened) / 1e6
                        )
            return list(results.values())
        finally:
            sync_backend.close()
            self.runner.run(async_backend.aclose())

    async def _recover(
        self,
        f_sync: Callable[[int], object],
        f_async: Callable[[int], Awaitable[object]],
        prefixes: dict[str, str],
        results: dict[str, FaultResult],
        log: EventLog,
        restored: int,
    ) -> None:
        """Call both functions every 2 ms until each one gets a hit (or 3 s past the reset)."""
        deadline = restored + int((FAULT_RESET_TIMEOUT + 3) * 1e9)
        while time.perf_counter_ns() < deadline:
            pending = [api for api, r in results.items() if r.recovered_ms is None]
            if not pending:
                return
            for api in pending:
                before = log.hits[prefixes[api]]
                try:
                    if api == "sync":
                        f_sync(0)
                    else:
                        await f_async(0)
                except Exception:
                    results[api].recovery_errors += 1
                if log.hits[prefixes[api]] > before:
                    results[api].recovered_ms = (time.perf_counter_ns() - restored) / 1e6
            await asyncio.sleep(RECOVERY_POLL)

    def scenario_faults(self) -> None:
        """Scenario 8: a private redis-server refused, frozen, then back."""
        log = EventLog()
        unsubscribe = events.subscribe(log)
        outcomes: dict[str, list[FaultResult]] = {}
        try:
            with contextlib.closing(start_private_redis()) as server:
                probe = redis.Redis.from_url(server.url)
                server_version = str(probe.info("server")["redis_version"])
                probe.close()
                for mode in ("refused", "frozen"):
                    outcomes[mode] = self._fault_round(server, mode, log)
        finally:
            unsubscribe()
        table = Table(
            f"8a/8b. faults: {FAULT_CALLS} calls of a cached trivial function per API "
            "while Redis is down",
            [
                "outage / API",
                "exceptions",
                "first call (ms)",
                "mean after first (us)",
                "uncached (us)",
                "added per call (us)",
                "slowest after first (ms)",
                "calls > 1 ms",
                "breaker opened after (ms)",
            ],
        )
        recovery = Table(
            f"8c. recovery: time until a call is a hit again "
            f"(reset_timeout={FAULT_RESET_TIMEOUT:g} s)",
            [
                "outage / API",
                "hit after restore (ms)",
                "hit after breaker opened (ms)",
                "exceptions while recovering",
            ],
        )
        for mode, results in outcomes.items():
            for r in results:
                label = f"{mode} / {r.api}"
                after_first = r.durations[1:]
                table.rows.append(
                    [
                        label,
                        str(r.errors),
                        fmt_ms(r.durations[0]),
                        fmt_us(statistics.fmean(after_first)),
                        fmt_us(statistics.fmean(r.baseline)),
                        fmt_us(r.added_ns),
                        fmt_ms(max(after_first)),
                        str(sum(d > 1_000_000 for d in after_first)),
                        "-" if r.breaker_opened_ms is None else f"{r.breaker_opened_ms:,.1f}",
                    ]
                )
                recovery.rows.append(
                    [
                        label,
                        "never" if r.recovered_ms is None else f"{r.recovered_ms:,.1f}",
                        "-"
                        if r.recovered_since_open_ms is None
                        else f"{r.recovered_since_open_ms:,.1f}",
                        str(r.recovery_errors),
                    ]
                )
        table.notes += [
            f"private redis-server {server_version}; RedisBackend.from_url(url, "
            f"reset_timeout={FAULT_RESET_TIMEOUT:g}), default timeout (50 ms) and "
            "failure_threshold (3); separate backends (and breakers) for sync and async",
            "refused = server killed; frozen = SIGSTOP; every call is a miss that also tries "
            "to store; an event subscriber (as a metrics exporter would be) is active",
        ]
        recovery.notes.append(
            "after a restart the dataset is empty, so the first successful call is a miss that "
            f"stores and the next is the hit; calls every {RECOVERY_POLL * 1000:g} ms"
        )
        self.report.add(table)
        self.report.add(recovery)
        for mode, label in (("refused", "8a. Redis refused"), ("frozen", "8b. Redis frozen")):
            results = outcomes[mode]
            errors = sum(r.errors for r in results)
            worst = max(r.added_ns for r in results)
            firsts = ", ".join(f"{r.api} {fmt_ms(r.durations[0])} ms" for r in results)
            self.report.target(
                f"{label}: 0 exceptions, added <= 1 ms per call after the first",
                errors == 0 and worst <= TARGET_ADDED_MS * 1e6,
                f"{errors} exceptions, worst added {fmt_us(worst)} us/call; first call: {firsts}",
            )
        recovered = [r.recovered_ms for rs in outcomes.values() for r in rs]
        limit_ms = FAULT_RESET_TIMEOUT * 1000
        self.report.target(
            f"8c. recovery: a hit within reset_timeout ({limit_ms:.0f} ms)",
            all(ms is not None and ms <= limit_ms for ms in recovered),
            ", ".join(
                f"{mode}/{r.api.split()[0]} "
                + ("never" if r.recovered_ms is None else f"{r.recovered_ms:,.0f} ms")
                for mode, rs in outcomes.items()
                for r in rs
            ),
        )


# -- main ---------------------------------------------------------------------------------------


def delete_namespace(client: redis.Redis, ns: str) -> int:
    """Delete this run's keys (SCAN + UNLINK on ``ns:*``); return how many."""
    removed = 0
    batch: list[Any] = []
    for key in client.scan_iter(match=f"{ns}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            removed += int(client.unlink(*batch))
            batch.clear()
    if batch:
        removed += int(client.unlink(*batch))
    return removed


def count_namespace(client: redis.Redis, ns: str) -> int:
    """Count this run's keys left on the server."""
    return sum(1 for _ in client.scan_iter(match=f"{ns}:*", count=1000))


def collect_versions(raw: redis.Redis, url: str) -> list[tuple[str, str]]:
    """Versions of everything measured, and the machine."""
    info: Any = raw.info("server")
    return [
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("hardpoint", hardpoint.__version__),
        ("redis-py", redis.__version__),
        ("redis-server", f"{info['redis_version']} at {redact(url)}"),
        ("orjson", orjson.__version__),
        ("cashews", dist_version("cashews")),
        ("aiocache", dist_version("aiocache")),
        ("dogpile.cache", dist_version("dogpile.cache")),
        (
            "machine",
            f"{platform.system()} {platform.release()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average at start {load_average()}",
        ),
    ]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews timings)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    """Print how long a scenario took."""
    start = time.perf_counter_ns()
    yield
    print(f"  ({label} took {(time.perf_counter_ns() - start) / 1e9:.1f} s)", flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer and shorter repetitions")
    parser.add_argument(
        "--markdown", metavar="PATH", type=Path, help="also write the tables as Markdown"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every scenario once and print the tables and targets."""
    args = parse_args(argv)
    params = QUICK if args.quick else FULL
    url = os.environ.get("REDIS_URL") or DEFAULT_URL
    ns = f"hpbench:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    raw = redis.Redis.from_url(url)
    try:
        raw.ping()
    except redis.RedisError as exc:
        print(f"cannot reach Redis at {redact(url)}: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter_ns()
    report = Report("hardpoint.cache benchmark", versions=collect_versions(raw, url))
    report.print_versions()
    print(f"mode: {'quick' if args.quick else 'full'}; key namespace: {ns}:*", flush=True)
    try:
        with asyncio.Runner() as runner:
            bench = Bench(url=url, ns=ns, params=params, runner=runner, report=report, raw=raw)
            try:
                with timed("scenarios 1-3"):
                    bench.scenario_async_hits()
                with timed("scenario 4"):
                    bench.scenario_sync_hit()
                with timed("scenario 5"):
                    bench.scenario_memory()
                with timed("scenario 6"):
                    bench.scenario_stampede()
                with timed("scenario 7"):
                    bench.scenario_cross_process()
                with timed("scenario 8"):
                    bench.scenario_faults()
            finally:
                bench.close()
    finally:
        removed = delete_namespace(raw, ns)
        print(f"\ncleanup: deleted {removed} keys under {ns}:*, {count_namespace(raw, ns)} left")
        raw.close()
    elapsed = (time.perf_counter_ns() - started) / 1e9
    report.print_targets()
    print(f"total time: {elapsed:.0f} s; load average at end {load_average()}")
    if args.markdown is not None:
        mode = "quick" if args.quick else "full"
        report.write_markdown(
            args.markdown,
            intro=f"Generated by `benchmarks/cache_bench.py` ({mode} run, {elapsed:.0f} s).",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
