"""Forked workers in prometheus_client's multiprocess mode sum up in one scrape."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from hardpoint import events
from hardpoint.metrics import install_prometheus, metrics_app

WORKERS = 3

# Python 3.12+ warns when forking a process that has threads (pytest's own, here); the
# workers only emit events and exit.
pytestmark = pytest.mark.filterwarnings("ignore:This process .* multi-threaded:DeprecationWarning")


def worker(index: int) -> None:  # pragma: no cover - runs in a forked child
    """A worker that installs its own exporter (gunicorn without preload_app)."""
    exporter = install_prometheus(CollectorRegistry(), per_client=2)
    try:
        emit_worker_events(index)
    finally:
        exporter.uninstall()


def emit_worker_events(index: int) -> None:  # pragma: no cover - runs in a forked child
    """Worker *index* (0, 1, 2) emits (index + 1) * 10 hits, 1 miss, and one checkout."""
    for _ in range((index + 1) * 10):
        events.SINK.emit(events.CacheHit(prefix="mp", backend="memory", latency=0.001))
    events.SINK.emit(events.CacheMiss(prefix="mp", backend="memory", latency=0.002))
    events.SINK.emit(events.PoolCheckout(pool="db", wait=0.0, in_use=index + 1, size=4))
    events.SINK.emit(
        events.SecretRead(
            name="API_KEY",
            backend="aws",
            version="v1",
            result="miss",
            caller="app",
            created=1_700_000_000.0 + index,
        )
    )
    events.SINK.emit(events.RequestBlocked(rule="xss", location="query.q", client="192.0.2.9"))


@pytest.fixture
def multiproc_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Multiprocess mode for this test only; both are restored afterwards."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    # prometheus_client picks its value class when it is first imported; pick again.
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue())  # type: ignore[no-untyped-call]  # unannotated upstream
    return tmp_path


def run_workers(*, preloaded: bool = False) -> list[int]:
    context = multiprocessing.get_context("fork")
    target = emit_worker_events if preloaded else worker
    processes = [context.Process(target=target, args=(i,)) for i in range(WORKERS)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
        assert process.exitcode == 0
    return [p.pid for p in processes if p.pid is not None]


@pytest.mark.parametrize("preloaded", [False, True], ids=["per-worker", "preloaded"])
def test_three_forked_workers_sum_correctly(multiproc_dir: Path, preloaded: bool) -> None:
    before = 0
    if preloaded:  # installed in the master before forking, as with gunicorn's preload_app
        exporter = install_prometheus(CollectorRegistry(), per_client=2)
        before = 5
        for _ in range(before):
            events.SINK.emit(events.CacheHit(prefix="mp", backend="memory", latency=0.001))
        try:
            pids = run_workers(preloaded=True)
        finally:
            exporter.uninstall()
    else:
        pids = run_workers()
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(multiproc_dir))  # type: ignore[no-untyped-call]

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    cache = {"prefix": "mp", "backend": "memory"}
    assert value("hardpoint_cache_requests_total", **cache, result="hit") == before + 60
    assert value("hardpoint_cache_requests_total", **cache, result="miss") == WORKERS
    hits = before + 60
    assert value("hardpoint_cache_lookup_duration_seconds_count", **cache, result="hit") == hits
    assert value("hardpoint_cache_lookup_duration_seconds_sum", **cache, result="hit") == (
        pytest.approx(hits * 0.001)
    )
    assert value(
        "hardpoint_cache_lookup_duration_seconds_bucket", **cache, result="hit", le="0.001"
    ) == (hits)
    assert value("hardpoint_validation_client_blocked_requests_total", client="192.0.2.9") == 3
    # The newest creation time any worker saw (multiprocess_mode="max").
    rotation = {"secret": "API_KEY", "backend": "aws"}
    assert value("hardpoint_secret_last_rotation_timestamp_seconds", **rotation) == 1_700_000_002
    # Pools are per worker: one in-use series per live process (multiprocess_mode="liveall").
    in_use = {
        pid: value("hardpoint_pool_connections_in_use", pool="db", pid=str(pid)) for pid in pids
    }
    assert in_use == {pid: i + 1 for i, pid in enumerate(pids)}
    assert value("hardpoint_pool_connections_max", pool="db", pid=str(pids[0])) == 4

    # gunicorn's child_exit hook: the dead workers' live gauges go, their counts stay.
    for pid in pids:
        mark_process_dead(pid, str(multiproc_dir))  # type: ignore[no-untyped-call]  # as above
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(multiproc_dir))  # type: ignore[no-untyped-call]
    assert value("hardpoint_pool_connections_in_use", pool="db", pid=str(pids[0])) is None
    assert value("hardpoint_cache_requests_total", **cache, result="hit") == hits


async def test_metrics_app_serves_the_sum_of_the_workers(multiproc_dir: Path) -> None:
    run_workers()
    app = metrics_app()  # no registry: multiprocess mode is on, so it reads the directory
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    line = 'hardpoint_cache_requests_total{backend="memory",prefix="mp",result="hit"} 60.0'
    assert line in response.text.splitlines()
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(multiproc_dir)
