"""Benchmark the cost of `hardpoint.events` and `hardpoint.metrics` on the hot path.

    .venv/bin/python benchmarks/metrics_bench.py [--quick] [--markdown PATH]

1. the no-op sink: what an emit site costs when nothing is subscribed
   (``if SINK.active: SINK.emit(...)``), against the same loop without it;
2. a memory cache hit (``@cached`` over ``MemoryBackend``) with no exporter, with Prometheus
   installed and with OpenTelemetry (SDK, in-memory reader) installed;
3. the exporters' own cost per event, by event type (handler only, no emit site).

Method: ``time.perf_counter_ns`` over loops of N calls; a warm-up pass; then several
repetitions in which the contenders take turns (the order alternates between repetitions)
in one process, so drift on a busy machine hits every contender alike. Tables show the
median over repetitions; ratios are medians of the per-repetition ratios. The exit status is
0 whether the targets pass or fail; read the PASS/FAIL lines.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry

from hardpoint import events
from hardpoint.cache import MemoryBackend, cached
from hardpoint.events import SINK
from hardpoint.llm_cache import LLMCacheHit
from hardpoint.metrics import install_opentelemetry, install_prometheus

if TYPE_CHECKING:  # mypy runs from the repository root, where benchmarks/ is a namespace
    from benchmarks._report import Report, Table
else:  # run as a script, benchmarks/ is on sys.path
    from _report import Report, Table

TARGET_NOOP_US: Final = 0.2  # per event with no subscriber
TARGET_HIT_EXTRA_US: Final = 3.0  # extra per memory cache hit with Prometheus installed

Setup = Callable[[], AbstractContextManager[object]]


def per_call_us(loop: Callable[[int], None], n: int) -> float:
    """Run ``loop(n)`` once with the collector off; return microseconds per call."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        loop(n)
        return (time.perf_counter_ns() - start) / n / 1000
    finally:
        gc.enable()


def alternate(
    contenders: dict[str, tuple[Setup, Callable[[int], None]]], n: int, repetitions: int
) -> dict[str, list[float]]:
    """Time each contender *repetitions* times, alternating their order; µs per call."""
    results: dict[str, list[float]] = {name: [] for name in contenders}
    names = list(contenders)
    for setup, loop in contenders.values():  # warm-up
        with setup():
            loop(max(n // 10, 1000))
    for rep in range(repetitions):
        for name in names if rep % 2 == 0 else reversed(names):
            setup, loop = contenders[name]
            with setup():
                results[name].append(per_call_us(loop, n))
    return results


def ratio(results: dict[str, list[float]], name: str, base: str) -> float:
    return statistics.median(a / b for a, b in zip(results[name], results[base], strict=True))


def extra(results: dict[str, list[float]], name: str, base: str) -> float:
    return statistics.median(a - b for a, b in zip(results[name], results[base], strict=True))


@contextmanager
def prometheus() -> Iterator[object]:
    with install_prometheus(CollectorRegistry()) as exporter:
        yield exporter


@contextmanager
def opentelemetry() -> Iterator[object]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    try:
        with install_opentelemetry(provider) as exporter:
            yield exporter
    finally:
        provider.shutdown()


def has_otel_sdk() -> bool:
    try:
        importlib.metadata.version("opentelemetry-sdk")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


# -- scenario 1: the no-op sink ------------------------------------------------------------


def empty_loop(n: int) -> None:
    for _ in range(n):
        pass


def guarded_emit_loop(n: int) -> None:
    # Exactly what every emit site does.
    for _ in range(n):
        if SINK.active:
            SINK.emit(events.CacheHit(prefix="p", backend="memory", latency=0.0))


def unguarded_emit_loop(n: int) -> None:
    event = events.CacheHit(prefix="p", backend="memory", latency=0.0)
    for _ in range(n):
        SINK.emit(event)


def scenario_noop(report: Report, n: int, repetitions: int) -> None:
    assert not SINK.active, "something is subscribed already"
    results = alternate(
        {
            "empty loop (floor)": (nullcontext, empty_loop),
            "if SINK.active: SINK.emit(...)": (nullcontext, guarded_emit_loop),
            "SINK.emit(event), no guard": (nullcontext, unguarded_emit_loop),
        },
        n,
        repetitions,
    )
    floor = "empty loop (floor)"
    table = Table(
        f"1. no subscriber: cost of one emit site ({n:,} calls x {repetitions})",
        ["emit site", "us/call", "extra over floor (us)"],
    )
    for name, times in results.items():
        table.rows.append(
            [name, f"{statistics.median(times):.3f}", f"{extra(results, name, floor):.3f}"]
        )
    cost = extra(results, "if SINK.active: SINK.emit(...)", floor)
    table.notes.append("emit sites in hardpoint always use the guard; the event is never built")
    report.add(table)
    report.target(
        f"no-op sink <= {TARGET_NOOP_US} us per event", cost <= TARGET_NOOP_US, f"{cost:.3f} us"
    )


# -- scenario 2: a memory cache hit ----------------------------------------------------------


def scenario_cache_hit(report: Report, n: int, repetitions: int) -> None:
    @cached("bench", ttl=3600, backend=MemoryBackend())
    def price(sku: int) -> float:
        return sku * 1.5

    price(1)  # the one miss

    def hits(count: int) -> None:
        for _ in range(count):
            price(1)

    contenders: dict[str, tuple[Setup, Callable[[int], None]]] = {
        "no exporter": (nullcontext, hits),
        "Prometheus installed": (prometheus, hits),
    }
    if has_otel_sdk():
        contenders["OpenTelemetry SDK installed"] = (opentelemetry, hits)
    results = alternate(contenders, n, repetitions)
    base = "no exporter"
    table = Table(
        f"2. @cached hit over MemoryBackend ({n:,} hits x {repetitions})",
        ["exporter", "us/hit", "extra (us)", "ratio"],
    )
    for name, times in results.items():
        table.rows.append(
            [
                name,
                f"{statistics.median(times):.3f}",
                f"{extra(results, name, base):.3f}",
                f"{ratio(results, name, base):.2f}x",
            ]
        )
    table.notes.append(
        "the extra includes building the CacheHit event and two perf_counter calls in the"
        " cache, which happen only when something is subscribed"
    )
    report.add(table)
    cost = extra(results, "Prometheus installed", base)
    report.target(
        f"cache hit with Prometheus <= {TARGET_HIT_EXTRA_US} us more",
        cost <= TARGET_HIT_EXTRA_US,
        f"{cost:.3f} us more ({ratio(results, 'Prometheus installed', base):.2f}x)",
    )


# -- scenario 3: per event type ----------------------------------------------------------------

EVENTS: Final[dict[str, events.Event]] = {
    "CacheHit": events.CacheHit(prefix="p", backend="memory", latency=1e-6),
    "LLMCacheHit": LLMCacheHit(
        model="gpt-4o-mini", input_tokens=20, output_tokens=8, dollars_saved=1e-4
    ),
    "RequestBlocked": events.RequestBlocked(rule="sqli", location="query.q", client="192.0.2.1"),
    "SecretRead": events.SecretRead(
        name="DB_PASSWORD", backend="env", version=None, result="hit", caller="app"
    ),
    "PoolCheckout": events.PoolCheckout(pool="db", wait=1e-4, in_use=3, size=10),
}


def scenario_per_event(report: Report, n: int, repetitions: int) -> None:
    setups: dict[str, Setup] = {"Prometheus": prometheus}
    if has_otel_sdk():
        setups["OpenTelemetry SDK"] = opentelemetry
    table = Table(
        f"3. exporter cost per event, emit included ({n:,} events x {repetitions})",
        ["event", *(f"{name} (us)" for name in setups)],
    )
    for event_name, event in EVENTS.items():

        def loop(count: int, event: events.Event = event) -> None:
            emit = SINK.emit
            for _ in range(count):
                emit(event)

        results = alternate({name: (setup, loop) for name, setup in setups.items()}, n, repetitions)
        table.rows.append(
            [event_name, *(f"{statistics.median(results[name]):.3f}" for name in setups)]
        )
    report.add(table)


def collect_versions() -> list[tuple[str, str]]:
    versions = [("python", platform.python_version()), ("machine", platform.machine())]
    for package in ("hardpoint", "prometheus-client", "opentelemetry-api", "opentelemetry-sdk"):
        try:
            versions.append((package, importlib.metadata.version(package)))
        except importlib.metadata.PackageNotFoundError:
            versions.append((package, "not installed"))
    return versions


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer calls, for a smoke run")
    parser.add_argument("--repetitions", type=int, default=7)
    parser.add_argument(
        "--markdown", metavar="PATH", type=Path, help="also write the tables as Markdown"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every scenario and print the tables and targets."""
    args = parse_args(argv)
    n = 20_000 if args.quick else 200_000
    repetitions = 3 if args.quick else args.repetitions
    started = time.perf_counter()
    report = Report("hardpoint.metrics overhead", versions=collect_versions())
    report.print_versions()
    scenario_noop(report, n * 5, repetitions)
    scenario_cache_hit(report, n, repetitions)
    scenario_per_event(report, n // 2, repetitions)
    elapsed = time.perf_counter() - started
    report.print_targets()
    print(f"total time: {elapsed:.0f} s")
    if args.markdown is not None:
        report.write_markdown(
            args.markdown,
            intro=f"Generated by `benchmarks/metrics_bench.py` ({elapsed:.0f} s, "
            f"{repetitions} alternated repetitions).",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
