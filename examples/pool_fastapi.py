"""A FastAPI app on a pool preset, with checkout waits read from the events; runs offline.

SQLite stands in for PostgreSQL so the example needs no server: the same ``create_engine``
call with a ``postgresql+psycopg://`` URL gets the preset's session settings too. FastAPI runs
plain ``def`` endpoints in its thread pool, which is where a sync engine belongs. Run it with
``python examples/pool_fastapi.py``.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import text

from hardpoint import events
from hardpoint.pool import create_engine

DATABASE = Path(tempfile.mkdtemp()) / "shop.db"
engine = create_engine(f"sqlite:///{DATABASE}", preset="web")
app = FastAPI()


@app.get("/products/{sku}")
def product(sku: str) -> dict[str, str | int]:
    with engine.connect() as connection:
        stock = connection.execute(
            text("select stock from products where sku = :sku"), {"sku": sku}
        ).scalar_one()
    return {"sku": sku, "stock": stock}


def create_schema() -> None:
    with engine.begin() as connection:
        connection.execute(text("create table products (sku text primary key, stock integer)"))
        connection.execute(text("insert into products values ('sku-1', 7), ('sku-2', 0)"))


async def main() -> None:
    create_schema()
    waits: list[float] = []

    def on_event(event: events.Event) -> None:
        if isinstance(event, events.PoolCheckout):
            waits.append(event.wait)

    unsubscribe = events.subscribe(on_event)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
            for sku in ("sku-1", "sku-2", "sku-1"):
                response = await client.get(f"/products/{sku}")
                print(response.status_code, response.json())
    finally:
        unsubscribe()
        engine.dispose()
        DATABASE.unlink()
        DATABASE.parent.rmdir()
    assert len(waits) >= 3
    print(f"{len(waits)} checkouts, longest wait {max(waits) * 1e6:.0f} us")


if __name__ == "__main__":
    asyncio.run(main())
