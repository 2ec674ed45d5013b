"""Export hardpoint's metrics from a Starlette app at /metrics; runs offline, in-process.

Run it with ``python examples/metrics_starlette.py``: it sends a few requests through httpx's
ASGI transport and prints the hardpoint lines of the scrape. Serve it for real with
``uvicorn examples.metrics_starlette:app`` and point Prometheus at ``/metrics``.
"""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardpoint.cache import CacheStrategy, cached
from hardpoint.metrics import install_prometheus, metrics_app
from hardpoint.validation import InputValidationMiddleware

# A private registry keeps this example's series apart; most apps use the default one:
# install_prometheus() and metrics_app() with no argument.
registry = CollectorRegistry()
exporter = install_prometheus(registry)


@cached("example:rate", ttl=CacheStrategy.API_SHORT)
async def exchange_rate(currency: str) -> float:
    await asyncio.sleep(0.02)  # a slow upstream API
    return 1.08


async def rate(request: Request) -> JSONResponse:
    currency = request.query_params.get("currency", "EUR")
    return JSONResponse({"currency": currency, "rate": await exchange_rate(currency)})


app = Starlette(
    routes=[Route("/rate", rate), Route("/metrics", metrics_app(registry))],
    middleware=[Middleware(InputValidationMiddleware)],
)


async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        for _ in range(4):
            await client.get("/rate", params={"currency": "EUR"})
        blocked = await client.get("/rate", params={"currency": "EUR' OR '1'='1"})
        scrape = await client.get("/metrics")
    assert blocked.status_code == 400
    lines = [
        line
        for line in scrape.text.splitlines()
        if line.startswith(
            ("hardpoint_cache_requests_total", "hardpoint_validation_blocked_requests_total")
        )
    ]
    print("\n".join(lines))
    hits = registry.get_sample_value(
        "hardpoint_cache_requests_total",
        {"prefix": "example:rate", "backend": "memory", "result": "hit"},
    )
    assert hits == 3, hits
    exporter.uninstall()  # unsubscribes and unregisters: for tests and clean shutdowns


if __name__ == "__main__":
    asyncio.run(main())
