"""Benchmark `hardpoint.secrets` against aws-secretsmanager-caching on one moto server.

One run measures the "Measure" section of the secrets issue and checks its targets::

    .venv/bin/python benchmarks/secrets_bench.py [--reads N] [--markdown docs/secrets-benchmarks.md]

1. cached read latency (p50 / p99 / mean per call): hardpoint ``SecretsManager.get`` and
   ``get_secret()``, aws-secretsmanager-caching ``SecretCache.get_secret_string`` and plain
   ``os.environ[name]`` for context. Targets: hardpoint p50 <= 5 us, p99 <= 50 us;
2. backend calls under 64 concurrent cold readers (64 threads released together by a
   ``threading.Barrier``, a fresh secret name per run), counted by the proxy in front of moto,
   and the wall time from release to the last answer. Target: hardpoint makes 1 call;
3. hardpoint ``aget`` / ``aget_secret()`` cached latency (async, no thread hop).

Everything talks to the same moto server (``tests/secrets/_aws_server.py``: moto in server mode
on loopback behind a request-counting proxy), each contender through its own boto3 client for
the proxy, built the same way (``server.client()``).

Method: ``time.perf_counter_ns`` around every single call (the timer's own cost, shown in a
note, is included in every sample); a warm-up pass; then several rounds in which the
contenders take turns (the order rotates between rounds) so that drift on a busy machine hits
everyone alike. Percentiles are nearest-rank over all samples of a contender. The garbage
collector stays on (a library that allocates per read pays for it), after a ``gc.collect()``
before each batch. Every ratio in the tables comes from this same run. The exit status is 0
whether targets pass or fail (2 when the moto server cannot start); read the PASS/FAIL lines.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib
import importlib.metadata
import logging
import math
import os
import platform
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import hardpoint
from hardpoint.events import SINK
from hardpoint.secrets import (
    SecretsManager,
    aget_secret,
    configure_secrets,
    get_secret,
    reset_secrets,
)
from hardpoint.secrets._aws import AwsSecretsManagerBackend

if TYPE_CHECKING:  # mypy runs from the repository root, where benchmarks/ is a namespace
    from benchmarks._report import Report, Table
else:  # run as a script, benchmarks/ is on sys.path
    from _report import Report, Table


_TESTS: Final = Path(__file__).resolve().parents[1] / "tests"
for _entry in (str(_TESTS), str(_TESTS / "secrets")):
    if _entry not in sys.path:
        sys.path.insert(0, _entry)

if TYPE_CHECKING:  # mypy names the helper after its directory under tests/
    from secrets._aws_server import AwsSecretsServer, start_aws_secrets_server

    from types_boto3_secretsmanager import SecretsManagerClient
else:  # as a script, found through the sys.path entries above
    from _aws_server import AwsSecretsServer, start_aws_secrets_server

TARGET_P50_US: Final = 5.0
TARGET_P99_US: Final = 50.0
TARGET_COLD_CALLS: Final = 1
READERS: Final = 64
ROUNDS: Final = 5
WARMUP: Final = 2_000
DEFAULT_READS: Final = 50_000
DEFAULT_COLD_RUNS: Final = 5
VALUE: Final = "s3cr3t-" + "x" * 24  # a 31-character password; the same for everyone

HP_GET: Final = "hardpoint SecretsManager.get"
HP_FUNC: Final = "hardpoint get_secret()"
HP_AUDIT: Final = "(diagnostic) SecretsManager.get, audit log on"
AUDIT_LOGGER: Final = "hardpoint.secrets.audit"
AWS_CACHE: Final = "aws-secretsmanager-caching get_secret_string"
ENVIRON: Final = "os.environ[name] (context)"
HP_AGET: Final = "hardpoint SecretsManager.aget"
HP_AFUNC: Final = "hardpoint aget_secret()"

Read = Callable[[str], object]


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


@dataclass(frozen=True)
class Stats:
    """Latency of one contender, in nanoseconds."""

    n: int
    p50: int
    p99: int
    mean: float

    @classmethod
    def of(cls, samples: list[int]) -> Stats:
        """Summarise *samples* (ns per call)."""
        ordered = sorted(samples)
        return cls(
            n=len(ordered),
            p50=percentile(ordered, 50),
            p99=percentile(ordered, 99),
            mean=statistics.fmean(ordered),
        )


def us(ns: float) -> str:
    """Nanoseconds as microseconds with two decimals."""
    return f"{ns / 1000:.2f}"


def ratio(value: float, base: float) -> str:
    """``value / base`` as ``12.3x``."""
    if base <= 0:
        return "-"
    r = value / base
    return f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def sample(read: Read, name: str, n: int) -> list[int]:
    """Time *n* calls of ``read(name)``, one ``perf_counter_ns`` pair per call."""
    clock = time.perf_counter_ns
    out = [0] * n
    for i in range(n):
        start = clock()
        read(name)
        out[i] = clock() - start
    return out


def timer_overhead(n: int = 20_000) -> Stats:
    """What two back-to-back ``perf_counter_ns`` calls cost: included in every sample."""
    clock = time.perf_counter_ns
    out = [0] * n
    for i in range(n):
        start = clock()
        out[i] = clock() - start
    return Stats.of(out)


def load_aws_caching() -> tuple[Any, str]:
    """Import aws-secretsmanager-caching (no type information), or say why it is missing.

    Returns:
        The module, or None, and its version or ``"not available: <reason>"``.
    """
    try:
        module: Any = importlib.import_module("aws_secretsmanager_caching")
    except ImportError as exc:
        return None, f"not available: {type(exc).__name__}: {exc}"
    return module, dist_version("aws-secretsmanager-caching")


@contextlib.contextmanager
def audit_logging_on() -> Iterator[None]:
    """Turn the audit logger on at INFO into a `logging.NullHandler` (the cheapest sink)."""
    audit = logging.getLogger(AUDIT_LOGGER)
    saved = (audit.level, audit.propagate)
    handler = logging.NullHandler()
    audit.setLevel(logging.INFO)
    audit.propagate = False
    audit.addHandler(handler)
    try:
        yield
    finally:
        audit.removeHandler(handler)
        audit.setLevel(saved[0])
        audit.propagate = saved[1]


def audit_state() -> str:
    """Whether hardpoint's per-read audit (logger and event sink) is on in this process."""
    on = logging.getLogger(AUDIT_LOGGER).isEnabledFor(logging.INFO)
    return f"{AUDIT_LOGGER} at INFO: {'on' if on else 'off'}, event sink: " + (
        "active" if SINK.active else "inactive"
    )


@contextlib.contextmanager
def timed(label: str) -> Iterator[None]:
    """Print how long a part took."""
    start = time.perf_counter_ns()
    yield
    print(f"  ({label} took {(time.perf_counter_ns() - start) / 1e9:.1f} s)", flush=True)


# -- the report ---------------------------------------------------------------------------------


# Table, Target and Report live in _report.py, shared by every benchmark script.


# -- the contenders -----------------------------------------------------------------------------


@dataclass
class Contender:
    """One way to read a cached secret, or why it is not available."""

    label: str
    read: Read | None
    unavailable: str = ""
    context: Callable[[], AbstractContextManager[None]] = nullcontext


@dataclass
class ColdRun:
    """One burst of concurrent cold readers."""

    get_calls: int
    describe_calls: int
    all_calls: int
    wall_ns: int
    errors: list[str]


class Bench:
    """Owns the clients, caches and secrets of one run."""

    def __init__(self, server: AwsSecretsServer, report: Report, aws_caching: Any) -> None:
        self.server = server
        self.report = report
        self.run_id = uuid.uuid4().hex[:8]
        self._clients: list[SecretsManagerClient] = []
        self.manager = SecretsManager(AwsSecretsManagerBackend(client=self._client()))
        configure_secrets(AwsSecretsManagerBackend(client=self._client()))
        self.aws_cache: Any = None
        if aws_caching is not None:
            self.aws_cache = aws_caching.SecretCache(
                config=aws_caching.SecretCacheConfig(), client=self._client()
            )

    def _client(self) -> SecretsManagerClient:
        client = self.server.client(timeout=5.0)
        self._clients.append(client)
        return client

    def fresh_name(self, purpose: str) -> str:
        """A secret name no earlier run or scenario has used, holding `VALUE`."""
        name = f"hpbench-{self.run_id}-{purpose}-{uuid.uuid4().hex[:8]}"
        self.server.put_secret(name, VALUE)
        return name

    def close(self) -> None:
        """Close the managers and every client."""
        reset_secrets()
        self.manager.close()
        for client in self._clients:
            client.close()

    # -- 1. cached read latency -----------------------------------------------------------------

    def contenders(self, aws_reason: str) -> list[Contender]:
        """The sync readers of scenario 1, hardpoint first."""
        aws = (
            Contender(AWS_CACHE, self.aws_cache.get_secret_string)
            if self.aws_cache is not None
            else Contender(AWS_CACHE, None, aws_reason)
        )
        return [
            Contender(HP_GET, self.manager.get),
            Contender(HP_FUNC, get_secret),
            aws,
            Contender(ENVIRON, os.environ.__getitem__),
            Contender(HP_AUDIT, self.manager.get, context=audit_logging_on),
        ]

    def scenario_latency(self, reads: int, aws_reason: str) -> dict[str, Stats]:
        """Cached reads of one warm secret; rotate the order of the contenders every round."""
        name = self.fresh_name("cached")
        os.environ[name] = VALUE
        contenders = self.contenders(aws_reason)
        live: list[Contender] = []
        for contender in contenders:
            if contender.read is None:
                continue
            try:
                got = contender.read(name)  # the cold read: fills the cache
            except Exception as exc:  # reported in the table, not hidden
                contender.unavailable = f"failed: {type(exc).__name__}: {exc}"
                contender.read = None
                continue
            if got != VALUE:
                contender.unavailable = "failed: returned a wrong value"
                contender.read = None
                continue
            live.append(contender)
        calls_before = self.server.calls()
        for contender in live:
            assert contender.read is not None
            with contender.context():
                sample(contender.read, name, WARMUP)
        per_round = max(1, reads // ROUNDS)
        samples: dict[str, list[int]] = {c.label: [] for c in live}
        for r in range(ROUNDS):
            shift = r % len(live)
            for contender in live[shift:] + live[:shift]:
                assert contender.read is not None
                gc.collect()
                with contender.context():
                    samples[contender.label] += sample(contender.read, name, per_round)
        backend_calls = self.server.calls() - calls_before
        del os.environ[name]

        stats = {label: Stats.of(values) for label, values in samples.items()}
        base = stats.get(HP_GET)
        table = Table(
            "1. cached read latency (one warm secret, sync, single thread)",
            [
                "contender",
                "reads",
                "p50 us",
                "p99 us",
                "mean us",
                "p50 vs hardpoint",
                "p99 vs hardpoint",
                "mean vs hardpoint",
            ],
        )
        for contender in contenders:
            s = stats.get(contender.label)
            if s is None:
                table.rows.append([contender.label, contender.unavailable, *["-"] * 6])
                continue
            ratios = (
                [ratio(s.p50, base.p50), ratio(s.p99, base.p99), ratio(s.mean, base.mean)]
                if base is not None
                else ["-"] * 3
            )
            table.rows.append(
                [contender.label, f"{s.n:,}", us(s.p50), us(s.p99), us(s.mean), *ratios]
            )
        overhead = timer_overhead()
        table.notes += [
            f"{ROUNDS} rounds, contenders take turns (order rotates), {WARMUP:,} warm-up reads "
            "each; percentiles are nearest-rank over all samples",
            f"timer overhead (two perf_counter_ns calls back to back, included in every sample): "
            f"p50 {overhead.p50} ns, p99 {overhead.p99} ns",
            f"backend requests during warm-up and timed reads: {backend_calls} (all reads were "
            "cache hits)",
            f"audit during the hardpoint rows: {audit_state()} (logging left unconfigured, "
            "as in a process that never calls logging.basicConfig); the diagnostic row turns "
            f"the {AUDIT_LOGGER} logger on at INFO into a NullHandler, as a service logging at "
            "INFO would (a real handler adds formatting and I/O on top); it has no target",
            "hardpoint: SecretsManager defaults (ttl 300 s, jitter 0.1); get_secret() goes "
            "through configure_secrets(AwsSecretsManagerBackend(client=...)); "
            "aws-secretsmanager-caching: SecretCacheConfig() defaults (refresh interval 3600 s)",
            "'vs hardpoint' = this row / hardpoint SecretsManager.get (> 1 is slower)",
        ]
        if base is not None and AWS_CACHE in stats:
            aws = stats[AWS_CACHE]
            table.notes.append(
                f"aws-secretsmanager-caching / hardpoint: p50 {ratio(aws.p50, base.p50)}, "
                f"p99 {ratio(aws.p99, base.p99)}, mean {ratio(aws.mean, base.mean)}"
            )
        self.report.add(table)

        for label in (HP_GET, HP_FUNC):
            s = stats.get(label)
            if s is None:
                self.report.target(f"{label} cached p50 <= {TARGET_P50_US:g} us", False, "no data")
                self.report.target(f"{label} cached p99 <= {TARGET_P99_US:g} us", False, "no data")
                continue
            self.report.target(
                f"{label} cached p50 <= {TARGET_P50_US:g} us",
                s.p50 <= TARGET_P50_US * 1000,
                f"{us(s.p50)} us over {s.n:,} reads",
            )
            self.report.target(
                f"{label} cached p99 <= {TARGET_P99_US:g} us",
                s.p99 <= TARGET_P99_US * 1000,
                f"{us(s.p99)} us over {s.n:,} reads",
            )
        return stats

    # -- 2. concurrent cold readers --------------------------------------------------------------

    def cold_run(self, read: Read, name: str, readers: int) -> ColdRun:
        """*readers* threads released together read the cold secret *name* once each."""
        before = (self.server.calls("get"), self.server.calls("describe"), self.server.calls())
        released: list[int] = []
        ends = [0] * readers
        errors: list[str] = []
        lock = threading.Lock()
        barrier = threading.Barrier(readers, action=lambda: released.append(time.perf_counter_ns()))

        def reader(i: int) -> None:
            barrier.wait()
            try:
                got = read(name)
                if got != VALUE:
                    with lock:
                        errors.append("wrong value")
            except Exception as exc:  # counted and reported
                with lock:
                    errors.append(type(exc).__name__)
            ends[i] = time.perf_counter_ns()

        threads = [
            threading.Thread(target=reader, args=(i,), name=f"bench-reader-{i}", daemon=True)
            for i in range(readers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        if any(thread.is_alive() for thread in threads):
            errors.append("reader still running after 60 s")
        after = (self.server.calls("get"), self.server.calls("describe"), self.server.calls())
        wall = max(ends) - released[0] if released and all(ends) else 0
        return ColdRun(
            get_calls=after[0] - before[0],
            describe_calls=after[1] - before[1],
            all_calls=after[2] - before[2],
            wall_ns=wall,
            errors=errors,
        )

    def scenario_cold(self, runs: int, aws_reason: str) -> None:
        """64 concurrent cold readers per run, a fresh name per run; contenders alternate."""
        contenders: list[Contender] = [Contender(HP_GET, self.manager.get)]
        if self.aws_cache is not None:
            contenders.append(Contender(AWS_CACHE, self.aws_cache.get_secret_string))
        else:
            contenders.append(Contender(AWS_CACHE, None, aws_reason))
        live = [c for c in contenders if c.read is not None]
        results: dict[str, list[ColdRun]] = {c.label: [] for c in live}
        singles: dict[str, list[ColdRun]] = {c.label: [] for c in live}
        for r in range(runs):
            for contender in live if r % 2 == 0 else live[::-1]:
                assert contender.read is not None
                gc.collect()
                results[contender.label].append(
                    self.cold_run(contender.read, self.fresh_name("cold"), READERS)
                )
                singles[contender.label].append(
                    self.cold_run(contender.read, self.fresh_name("single"), 1)
                )

        def spread(values: list[int]) -> str:
            low, high = min(values), max(values)
            return str(low) if low == high else f"{low}-{high}"

        table = Table(
            f"2. {READERS} concurrent cold readers (Barrier release, fresh secret per run)",
            [
                "contender",
                "runs",
                "GetSecretValue/run",
                "DescribeSecret/run",
                "all requests/run",
                "wall ms (median)",
                "wall ms (max)",
                "1 cold reader ms",
                "errors",
            ],
        )
        for contender in contenders:
            done = results.get(contender.label)
            if not done:
                table.rows.append([contender.label, contender.unavailable, *["-"] * 7])
                continue
            walls = [run.wall_ns for run in done]
            single_walls = [run.wall_ns for run in singles[contender.label]]
            errors = [e for run in done + singles[contender.label] for e in run.errors]
            table.rows.append(
                [
                    contender.label,
                    str(len(done)),
                    spread([run.get_calls for run in done]),
                    spread([run.describe_calls for run in done]),
                    spread([run.all_calls for run in done]),
                    f"{statistics.median(walls) / 1e6:.1f}",
                    f"{max(walls) / 1e6:.1f}",
                    f"{statistics.median(single_walls) / 1e6:.1f}",
                    str(len(errors)) if not errors else f"{len(errors)}: {sorted(set(errors))}",
                ]
            )
        table.notes += [
            f"each run: a new secret, {READERS} threads started, released together by a "
            "threading.Barrier, each reading it once; requests counted by the proxy in front "
            "of moto (a-b = lowest-highest over the runs)",
            "wall = from the Barrier's release to the last reader's answer; '1 cold reader' = "
            "the same with a single thread on another fresh secret (one uncached read, for scale); "
            "a round trip through the proxy takes 5-50 ms here (it answers headers and body in "
            "two writes on a keep-alive connection, which can stall on Nagle + delayed ACK), so "
            "read wall times against that column, not as absolute costs",
            "aws-secretsmanager-caching reads DescribeSecret (to map AWSCURRENT to a version "
            "id), then GetSecretValue for that version id",
        ]
        self.report.add(table)

        hp = results.get(HP_GET, [])
        if hp:
            gets = [run.get_calls for run in hp]
            totals = [run.all_calls for run in hp]
            failures = sum(len(run.errors) for run in hp)
            self.report.target(
                f"hardpoint: {READERS} concurrent cold readers -> {TARGET_COLD_CALLS} backend call",
                all(g == TARGET_COLD_CALLS for g in gets)
                and all(t == TARGET_COLD_CALLS for t in totals)
                and failures == 0,
                f"GetSecretValue per run {gets}, all requests per run {totals}, "
                f"{failures} reader errors, over {len(hp)} runs",
            )
        else:
            self.report.target(
                f"hardpoint: {READERS} concurrent cold readers -> {TARGET_COLD_CALLS} backend call",
                False,
                "no data",
            )

    # -- 3. async cached reads -------------------------------------------------------------------

    def scenario_async(self, reads: int, sync_stats: dict[str, Stats]) -> None:
        """Cached ``aget`` / ``aget_secret()`` on one event loop, no thread hop."""
        name = self.fresh_name("async")
        manager = self.manager

        async def sample_async(
            aread: Callable[[str], Coroutine[Any, Any, object]], n: int
        ) -> list[int]:
            clock = time.perf_counter_ns
            out = [0] * n
            for i in range(n):
                start = clock()
                await aread(name)
                out[i] = clock() - start
            return out

        async def run() -> tuple[dict[str, list[int]], bool]:
            assert await manager.aget(name) == VALUE  # the cold read: fills the cache
            assert await aget_secret(name) == VALUE
            readers: list[tuple[str, Callable[[str], Coroutine[Any, Any, object]]]] = [
                (HP_AGET, manager.aget),
                (HP_AFUNC, aget_secret),
            ]
            for _, aread in readers:
                await sample_async(aread, WARMUP)
            per_round = max(1, reads // ROUNDS)
            out: dict[str, list[int]] = {label: [] for label, _ in readers}
            for r in range(ROUNDS):
                for label, aread in readers if r % 2 == 0 else readers[::-1]:
                    gc.collect()
                    out[label] += await sample_async(aread, per_round)
            return out, completes_without_suspending(manager, name)

        calls_before = self.server.calls()
        samples, no_suspend = asyncio.run(run())
        backend_calls = self.server.calls() - calls_before
        base = sync_stats.get(HP_GET)
        table = Table(
            "3. hardpoint async cached read latency (one event loop)",
            [
                "contender",
                "reads",
                "p50 us",
                "p99 us",
                "mean us",
                "p50 vs sync get",
                "p99 vs sync get",
            ],
        )
        for label, values in samples.items():
            s = Stats.of(values)
            table.rows.append(
                [
                    label,
                    f"{s.n:,}",
                    us(s.p50),
                    us(s.p99),
                    us(s.mean),
                    ratio(s.p50, base.p50) if base else "-",
                    ratio(s.p99, base.p99) if base else "-",
                ]
            )
        table.notes += [
            "a cached aget completes on the coroutine's first step, without suspending "
            f"(no await, no thread hop): {'yes' if no_suspend else 'NO'}",
            f"backend requests (the two cold reads included): {backend_calls}",
            "'vs sync get' = this row / scenario 1's hardpoint SecretsManager.get; no target",
        ]
        self.report.add(table)


def completes_without_suspending(manager: SecretsManager, name: str) -> bool:
    """Whether a cached ``manager.aget(name)`` returns on its first step (never yields)."""
    coro = manager.aget(name)
    try:
        coro.send(None)
    except StopIteration as done:
        return bool(done.value == VALUE)
    coro.close()
    return False


# -- main -----------------------------------------------------------------------------------------


def collect_versions(aws_version: str) -> list[tuple[str, str]]:
    """Versions of everything measured, and the machine."""
    return [
        ("python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("hardpoint", hardpoint.__version__),
        ("aws-secretsmanager-caching", aws_version),
        ("boto3", dist_version("boto3")),
        ("botocore", dist_version("botocore")),
        ("moto", dist_version("moto")),
        (
            "machine",
            f"{platform.system()} {platform.release()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs, load average at start {load_average()}",
        ),
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--reads",
        type=int,
        default=DEFAULT_READS,
        help=f"timed cached reads per contender (default {DEFAULT_READS:,})",
    )
    parser.add_argument(
        "--cold-runs",
        type=int,
        default=DEFAULT_COLD_RUNS,
        help=f"bursts of concurrent cold readers per contender (default {DEFAULT_COLD_RUNS})",
    )
    parser.add_argument(
        "--markdown", metavar="PATH", type=Path, help="also write the tables as Markdown"
    )
    args = parser.parse_args(argv)
    if args.reads < ROUNDS or args.cold_runs < 1:
        parser.error(f"--reads must be at least {ROUNDS} and --cold-runs at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run every scenario once and print the tables and targets."""
    args = parse_args(argv)
    # moto's werkzeug server prints one access-log line per request on stderr otherwise.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    started = time.perf_counter_ns()
    aws_caching, aws_version = load_aws_caching()
    report = Report("hardpoint.secrets benchmark", versions=collect_versions(aws_version))
    report.print_versions()
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(start_aws_secrets_server())
        except Exception as exc:  # moto missing or not starting: exit 2
            print(f"cannot start moto: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 2
        print(f"moto server behind the counting proxy at {server.endpoint_url}", flush=True)
        bench = Bench(server, report, aws_caching)
        stack.callback(bench.close)
        with timed("scenario 1"):
            stats = bench.scenario_latency(args.reads, aws_version)
        with timed("scenario 2"):
            bench.scenario_cold(args.cold_runs, aws_version)
        with timed("scenario 3"):
            bench.scenario_async(args.reads, stats)
    elapsed = (time.perf_counter_ns() - started) / 1e9
    report.print_targets()
    print(f"total time: {elapsed:.0f} s; load average at end {load_average()}")
    if args.markdown is not None:
        report.write_markdown(
            args.markdown,
            intro=f"Generated by `benchmarks/secrets_bench.py` ({args.reads:,} timed reads "
            f"per contender, {elapsed:.0f} s).",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
