"""One scripted run through every component, read back exactly from Prometheus and OTel."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry
from sqlalchemy import exc as sa_exc
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardpoint import events
from hardpoint.cache import MemoryBackend, cached
from hardpoint.errors import SecretNotFoundError
from hardpoint.llm_cache import GLOBAL, LLMCache, Pricing
from hardpoint.metrics import install_opentelemetry, install_prometheus
from hardpoint.pool import create_engine
from hardpoint.secrets import EnvBackend, SecretsManager
from hardpoint.validation import InputValidationMiddleware

OtelPoints = dict[tuple[str, tuple[tuple[str, str], ...]], Any]

REQUEST: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Summarise the plot of Hamlet in one line."}],
    "temperature": 0,
}
RESPONSE: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "A prince avenges his father."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
}
SECRET_VALUE = "s3cr3t-value-that-must-never-be-a-label"  # noqa: S105 - a test value
ATTACKER = "203.0.113.7"


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


async def block_four_requests() -> None:
    """Two SQL injections in the query string and two in a JSON body, from one address."""
    app = Starlette(
        routes=[Route("/search", _ok, methods=["GET", "POST"])],
        middleware=[Middleware(InputValidationMiddleware)],
    )
    transport = httpx.ASGITransport(app=app, client=(ATTACKER, 40_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for _ in range(2):
            response = await client.get("/search", params={"q": "' OR 1=1--"})
            assert response.status_code == 400
            response = await client.post(
                "/search", json={"title": "1 UNION SELECT password FROM users"}
            )
            assert response.status_code == 400


async def drive_every_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cache: 2 misses, 3 hits. LLM: 1 miss, 2 hits. 4 blocks. Secrets: 1 miss, 2 hits,
    1 failure. Pool: 1 checkout, 1 timeout."""
    calls: list[int] = []

    @cached("metrics-e2e", ttl=60, backend=MemoryBackend())
    def double(x: int) -> int:
        calls.append(x)
        return 2 * x

    assert [double(1), double(1), double(2), double(1), double(2)] == [2, 2, 4, 2, 4]
    assert calls == [1, 2]

    llm = LLMCache(MemoryBackend(), pricing=Pricing({"gpt-4o-mini": (1.0, 10.0)}))
    assert llm.get(REQUEST, scope=GLOBAL) is None
    assert llm.set(REQUEST, RESPONSE, scope=GLOBAL)
    assert llm.get(REQUEST, scope=GLOBAL) == RESPONSE
    assert llm.get(REQUEST, scope=GLOBAL) == RESPONSE

    await block_four_requests()

    monkeypatch.setenv("HP_METRICS_DB_PASSWORD", SECRET_VALUE)
    secrets = SecretsManager(EnvBackend(prefix="HP_METRICS_"))
    for _ in range(3):
        assert secrets.get("DB_PASSWORD") == SECRET_VALUE
    with pytest.raises(SecretNotFoundError):
        secrets.get("NOT_CONFIGURED")

    engine = create_engine(
        f"sqlite:///{tmp_path}/pool.db", "web", pool_size=1, max_overflow=0, pool_timeout=0.05
    )
    try:
        with engine.connect(), pytest.raises(sa_exc.TimeoutError):
            engine.connect()
    finally:
        engine.dispose()


async def test_every_module_reaches_prometheus_and_opentelemetry(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    registry: CollectorRegistry,
    otel_provider: tuple[MeterProvider, InMemoryMetricReader],
    otel_points: Callable[[InMemoryMetricReader], OtelPoints],
) -> None:
    provider, reader = otel_provider
    prometheus = install_prometheus(registry, per_client=5)
    otel = install_opentelemetry(provider, per_client=5)
    try:
        await drive_every_module(tmp_path, monkeypatch)
        check_prometheus(registry)
        check_opentelemetry(registry, otel_points(reader))
    finally:
        prometheus.uninstall()
        otel.uninstall()
    assert not events.SINK.active
    assert list(registry.collect()) == []  # uninstall unregisters the metrics


CACHE = {"prefix": "metrics-e2e", "backend": "memory"}
ENV = {"secret": "DB_PASSWORD", "backend": "environment"}
FAILED = {"secret": "NOT_CONFIGURED", "backend": "environment", "error": "SecretNotFoundError"}
POOL = {"pool": "hardpoint-web"}
DOLLARS = 2 * (20 * 1.0 + 8 * 10.0) / 1e6  # two hits of 20 input and 8 output tokens


def check_prometheus(registry: CollectorRegistry) -> None:

    def prom(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    cache, env, pool, dollars = CACHE, ENV, POOL, DOLLARS
    assert prom("hardpoint_cache_requests_total", **cache, result="hit") == 3
    assert prom("hardpoint_cache_requests_total", **cache, result="miss") == 2
    assert prom("hardpoint_cache_lookup_duration_seconds_count", **cache, result="hit") == 3
    assert prom("hardpoint_cache_lookup_duration_seconds_count", **cache, result="miss") == 2
    assert (prom("hardpoint_cache_lookup_duration_seconds_sum", **cache, result="hit") or 0) > 0

    assert prom("hardpoint_llm_cache_requests_total", model="gpt-4o-mini", result="hit") == 2
    assert prom("hardpoint_llm_cache_requests_total", model="gpt-4o-mini", result="miss") == 1
    assert prom("hardpoint_llm_cache_saved_tokens_total", model="gpt-4o-mini", kind="input") == 40
    assert prom("hardpoint_llm_cache_saved_tokens_total", model="gpt-4o-mini", kind="output") == 16
    assert prom("hardpoint_llm_cache_saved_dollars_total", model="gpt-4o-mini") == pytest.approx(
        dollars
    )

    blocked = "hardpoint_validation_blocked_requests_total"
    assert prom(blocked, rule="sqli", location="query", mode="enforce") == 2
    assert prom(blocked, rule="sqli", location="body", mode="enforce") == 2
    client = "hardpoint_validation_client_blocked_requests_total"
    assert prom(client, client=ATTACKER) == 4

    assert prom("hardpoint_secret_reads_total", **env, result="miss") == 1
    assert prom("hardpoint_secret_reads_total", **env, result="hit") == 2
    assert prom("hardpoint_secret_read_failures_total", **FAILED) == 1

    assert prom("hardpoint_pool_checkout_wait_seconds_count", **pool) == 1
    assert prom("hardpoint_pool_connections_in_use", **pool) == 1
    assert prom("hardpoint_pool_connections_max", **pool) == 1
    assert prom("hardpoint_pool_timeouts_total", **pool) == 1


def check_opentelemetry(registry: CollectorRegistry, points: OtelPoints) -> None:
    cache, env, pool, dollars = CACHE, ENV, POOL, DOLLARS

    def otel(name: str, **labels: str) -> Any:
        return points[name, tuple(sorted(labels.items()))]

    assert otel("hardpoint.cache.requests", **cache, result="hit") == 3
    assert otel("hardpoint.cache.requests", **cache, result="miss") == 2
    assert otel("hardpoint.cache.lookup.duration", **cache, result="hit")[0] == 3
    assert otel("hardpoint.cache.lookup.duration", **cache, result="miss")[0] == 2
    assert otel("hardpoint.llm_cache.requests", model="gpt-4o-mini", result="hit") == 2
    assert otel("hardpoint.llm_cache.requests", model="gpt-4o-mini", result="miss") == 1
    assert otel("hardpoint.llm_cache.saved_tokens", model="gpt-4o-mini", kind="input") == 40
    assert otel("hardpoint.llm_cache.saved_tokens", model="gpt-4o-mini", kind="output") == 16
    assert otel("hardpoint.llm_cache.saved_cost", model="gpt-4o-mini") == pytest.approx(dollars)
    blocks = "hardpoint.validation.blocked_requests"
    assert otel(blocks, rule="sqli", location="query", mode="enforce") == 2
    assert otel(blocks, rule="sqli", location="body", mode="enforce") == 2
    assert otel("hardpoint.validation.client_blocked_requests", client=ATTACKER) == 4
    assert otel("hardpoint.secrets.reads", **env, result="miss") == 1
    assert otel("hardpoint.secrets.reads", **env, result="hit") == 2
    assert otel("hardpoint.secrets.read_failures", **FAILED) == 1
    assert otel("hardpoint.pool.checkout.wait", **pool)[0] == 1
    assert otel("hardpoint.pool.connections.in_use", **pool) == 1
    assert otel("hardpoint.pool.connections.max", **pool) == 1
    assert otel("hardpoint.pool.timeouts", **pool) == 1

    # The same series on both sides, and no label anywhere holds the secret's value.
    prom_series = {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in registry.collect()
        for sample in family.samples
    }
    assert not any(SECRET_VALUE in value for _, labels in prom_series for _, value in labels)
    assert not any(SECRET_VALUE in value for _, labels in points for _, value in labels)
    prom_keys = {
        labels
        for name, labels in prom_series
        if name.endswith(("_total", "_count")) or name.startswith("hardpoint_pool_connections")
    }
    assert prom_keys == {labels for _, labels in points}
