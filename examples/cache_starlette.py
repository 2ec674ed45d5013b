"""A Starlette service whose slow lookup is cached; runs offline (memory backend).

Run it with ``python examples/cache_starlette.py``: it calls the app in-process through
httpx's ASGI transport and prints what the cache did. Serve it for real with
``uvicorn examples.cache_starlette:app``.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardpoint.cache import CacheStrategy, cache_lifespan, cached

queries = 0


@dataclass
class Product:
    sku: str
    price_cents: int


@cached("example:product", ttl=CacheStrategy.API_MEDIUM, stale_ttl=60)
async def load_product(sku: str) -> Product:
    global queries
    queries += 1
    await asyncio.sleep(0.05)  # a slow database query
    return Product(sku, 1999)


async def product(request: Request) -> JSONResponse:
    return JSONResponse(asdict(await load_product(request.path_params["sku"])))


app = Starlette(routes=[Route("/products/{sku}", product)], lifespan=cache_lifespan())


async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        for _ in range(5):
            response = await client.get("/products/abc")
            assert response.json() == {"sku": "abc", "price_cents": 1999}
    print(f"5 requests, {queries} database query")


if __name__ == "__main__":
    asyncio.run(main())
