"""Four modules in one FastAPI app: cache, validation, secrets and metrics; runs offline.

The part between the snippet markers is the README's example, word for word (a test checks
it); docs/index.md includes it. Run it with ``python examples/fastapi_all.py``: it calls the
app in-process through httpx's ASGI transport and prints what each module did. Serve it for
real with ``uvicorn examples.fastapi_all:app``.
"""

from __future__ import annotations

import asyncio

# --8<-- [start:readme]
from fastapi import FastAPI
from starlette.routing import Route

from hardpoint.cache import CacheStrategy, cache_lifespan, cached
from hardpoint.metrics import install_prometheus, metrics_app
from hardpoint.secrets import aget_secret
from hardpoint.validation import InputValidationMiddleware

install_prometheus()  # every module's events become Prometheus metrics


@cached("api:weather", ttl=CacheStrategy.API_SHORT)  # memory, or Redis via HARDPOINT_REDIS_URL
async def forecast(city: str) -> dict[str, str | int]:
    api_key = await aget_secret("WEATHER_API_KEY")  # the environment, or AWS, Vault, GCP, Azure
    return {"city": city, "celsius": 21, "key_length": len(api_key)}  # your slow upstream call


app = FastAPI(lifespan=cache_lifespan(), routes=[Route("/metrics", metrics_app())])
app.add_middleware(InputValidationMiddleware)  # 400 on SQLi, XSS, traversal, shell injection


@app.get("/weather/{city}")
async def weather(city: str) -> dict[str, str | int]:
    return await forecast(city)


# --8<-- [end:readme]


def sample(name: str, labels: dict[str, str]) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def main() -> None:
    import os

    import httpx

    os.environ.setdefault("WEATHER_API_KEY", "example-key-not-real")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        for _ in range(3):
            print((await client.get("/weather/Paris")).json())
        attack = await client.get("/weather/x", params={"units": "<script>alert(1)</script>"})
        print(attack.status_code, attack.json()["rule"])
        scrape = await client.get("/metrics")
    assert attack.status_code == 400
    cache = {"prefix": "api:weather", "backend": "memory"}
    hits = sample("hardpoint_cache_requests_total", {**cache, "result": "hit"})
    misses = sample("hardpoint_cache_requests_total", {**cache, "result": "miss"})
    blocked = sample(
        "hardpoint_validation_blocked_requests_total",
        {"rule": "xss", "location": "query", "mode": "enforce"},
    )
    reads = sample(
        "hardpoint_secret_reads_total",
        {"secret": "WEATHER_API_KEY", "backend": "environment", "result": "miss"},
    )
    print(f"cache: {hits:.0f} hits, {misses:.0f} miss; validation: {blocked:.0f} blocked")
    print(f"secrets: {reads:.0f} fetch; /metrics: {scrape.text.count('hardpoint_')} lines")
    assert (hits, misses, blocked, reads) == (2, 1, 1, 1)


if __name__ == "__main__":
    asyncio.run(main())
