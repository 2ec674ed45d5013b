"""Read secrets in a Starlette app; runs offline with the environment backend.

Run it with ``python examples/secrets_starlette.py``. In production set
``SECRETS_BACKEND=aws`` (or vault, gcp, azure) and the backend's variables instead.
"""

from __future__ import annotations

import asyncio
import logging
import os

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardpoint.secrets import aget_secret, get_secret, redact_secrets

os.environ.setdefault("PAYMENT_API_KEY", "sk-example-not-real-123456")
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
redact_secrets()  # any log line that would contain a fetched value shows ********** instead


async def status(request: Request) -> JSONResponse:
    key = await aget_secret("PAYMENT_API_KEY")  # cached after the first read
    logging.getLogger("app").info("calling the payment API with key %s", key)  # redacted
    return JSONResponse({"configured": bool(key), "key_length": len(key)})


app = Starlette(routes=[Route("/status", status)])


async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        for _ in range(3):
            print((await client.get("/status")).json())
    print("optional:", get_secret("OPTIONAL_FEATURE_FLAG", default="off"))


if __name__ == "__main__":
    asyncio.run(main())
