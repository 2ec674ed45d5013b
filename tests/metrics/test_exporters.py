"""Install and uninstall, the /metrics app, and the events the end-to-end run does not emit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.routing import Route

from hardpoint import events
from hardpoint.metrics import Exporter, install_opentelemetry, install_prometheus, metrics_app

OtelPoints = dict[tuple[str, tuple[tuple[str, str], ...]], Any]


def hardpoint_families(registry: CollectorRegistry) -> list[str]:
    return [f.name for f in registry.collect() if f.name.startswith("hardpoint_")]


def test_uninstall_leaves_the_sink_inactive_and_the_registry_empty(
    registry: CollectorRegistry,
) -> None:
    exporter = install_prometheus(registry)
    states = [(events.SINK.active, exporter.installed, repr(exporter))]
    assert len(hardpoint_families(registry)) == 16  # the per-client metric is opt-in
    exporter.uninstall()
    states.append((events.SINK.active, exporter.installed, repr(exporter)))
    assert states == [
        (True, True, "<Exporter prometheus installed>"),
        (False, False, "<Exporter prometheus uninstalled>"),
    ]
    assert hardpoint_families(registry) == []
    exporter.uninstall()  # harmless
    exporter()  # the handle also works as an unsubscribe function
    assert not events.SINK.active


def test_reinstalling_on_the_same_registry_works(registry: CollectorRegistry) -> None:
    for _ in range(2):
        with install_prometheus(registry, per_client=1) as exporter:
            assert isinstance(exporter, Exporter)
            events.SINK.emit(events.PoolTimeout(pool="db", wait=1.0))
            assert registry.get_sample_value("hardpoint_pool_timeouts_total", {"pool": "db"}) == 1
    assert not events.SINK.active


def test_a_second_install_on_one_registry_fails_and_subscribes_nothing(
    registry: CollectorRegistry,
) -> None:
    with install_prometheus(registry):
        with pytest.raises(ValueError, match="Duplicated"):
            install_prometheus(registry)
        assert len(events.SINK._handlers) == 1
    assert not events.SINK.active


def test_rarer_events_are_counted(registry: CollectorRegistry) -> None:
    with install_prometheus(registry):
        emit = events.SINK.emit
        emit(events.CacheStaleServed(prefix="p", backend="redis"))
        emit(events.CacheError(prefix="p", backend="redis", operation="get", error="TimeoutError"))
        emit(events.CacheCorrupt(prefix="p", backend="redis", reason="bad signature: 0xdead"))
        emit(events.BreakerStateChanged(name="redis:app", old="closed", new="open"))
        emit(
            events.RequestBlocked(
                rule="xss", location="header.referer", client=None, monitored=True
            )
        )

        def value(name: str, **labels: str) -> float | None:
            return registry.get_sample_value(name, labels)

        p = {"prefix": "p", "backend": "redis"}
        assert value("hardpoint_cache_requests_total", **p, result="stale") == 1
        assert value("hardpoint_cache_errors_total", **p, operation="get") == 1
        assert value("hardpoint_cache_corrupt_entries_total", **p) == 1
        assert value("hardpoint_breaker_transitions_total", breaker="redis:app", state="open") == 1
        assert (
            value(
                "hardpoint_validation_blocked_requests_total",
                rule="xss",
                location="header",
                mode="monitor",
            )
            == 1
        )


def secret_read(version: str | None, created: float | None = None) -> events.SecretRead:
    return events.SecretRead(
        name="DB_PASSWORD",
        backend="vault",
        version=version,
        result="miss",
        caller="app",
        created=created,
    )


def test_rotation_time_comes_from_the_backend_or_a_version_change(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "hardpoint_secret_last_rotation_timestamp_seconds"
    labels = {"secret": "DB_PASSWORD", "backend": "vault"}
    monkeypatch.setattr("hardpoint.metrics._translate.time.time", lambda: 1_800_000_000.0)
    with install_prometheus(registry):
        events.SINK.emit(secret_read("3"))
        assert registry.get_sample_value(name, labels) is None  # first sight: age unknown
        events.SINK.emit(secret_read("3"))
        assert registry.get_sample_value(name, labels) is None
        events.SINK.emit(secret_read("4"))  # this process saw the rotation happen
        assert registry.get_sample_value(name, labels) == 1_800_000_000.0
        events.SINK.emit(secret_read("4", created=1_700_000_000.0))  # the backend knows better
        assert registry.get_sample_value(name, labels) == 1_700_000_000.0


def test_opentelemetry_gauges_and_uninstall(
    otel_provider: tuple[MeterProvider, InMemoryMetricReader],
    otel_points: Callable[[InMemoryMetricReader], OtelPoints],
) -> None:
    provider, reader = otel_provider
    with install_opentelemetry(provider):
        events.SINK.emit(events.PoolCheckout(pool="db", wait=0.25, in_use=3, size=5))
        events.SINK.emit(secret_read("1", created=1_700_000_000.0))
    events.SINK.emit(events.PoolTimeout(pool="db", wait=1.0))  # after uninstall: not counted
    points = otel_points(reader)
    assert points["hardpoint.pool.connections.in_use", (("pool", "db"),)] == 3
    assert points["hardpoint.pool.connections.max", (("pool", "db"),)] == 5
    assert points["hardpoint.pool.checkout.wait", (("pool", "db"),)] == (1, 0.25)
    assert points[
        "hardpoint.secrets.last_rotation", (("backend", "vault"), ("secret", "DB_PASSWORD"))
    ] == (1_700_000_000.0)
    assert not any(name == "hardpoint.pool.timeouts" for name, _ in points)


async def test_metrics_app_routed_in_starlette(registry: CollectorRegistry) -> None:
    app = Starlette(routes=[Route("/metrics", metrics_app(registry))])
    transport = httpx.ASGITransport(app=app)
    with install_prometheus(registry):
        events.SINK.emit(events.PoolTimeout(pool="db", wait=1.0))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.get("/metrics")
            refused = await client.post("/metrics")
            gzipped = await client.get("/metrics", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert 'hardpoint_pool_timeouts_total{pool="db"} 1.0' in response.text.splitlines()
    assert refused.status_code == 405
    assert refused.headers["allow"] == "GET, HEAD"
    assert gzipped.headers["content-encoding"] == "gzip"
    assert "hardpoint_pool_timeouts_total" in gzipped.text


async def test_metrics_app_runs_alone_with_a_lifespan(registry: CollectorRegistry) -> None:
    app = metrics_app(registry)
    messages = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await app({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    await app({"type": "websocket"}, receive, send)  # refused by closing: nothing sent
    assert len(sent) == 2


def test_metrics_app_defaults_to_the_global_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert callable(metrics_app())
