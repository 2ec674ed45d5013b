"""A Starlette API behind InputValidationMiddleware; runs offline, in-process.

Run it with ``python examples/validation_starlette.py``: it sends a few requests through
httpx's ASGI transport and prints what the middleware let through and what it refused.
Serve it for real with ``uvicorn examples.validation_starlette:app``.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hardpoint import events
from hardpoint.validation import InputValidationMiddleware, Limits, ValidationConfig, scan


async def create_post(request: Request) -> JSONResponse:
    post = await request.json()
    return JSONResponse({"created": post["title"]}, status_code=201)


async def search(request: Request) -> JSONResponse:
    return JSONResponse({"results": [], "q": request.query_params.get("q", "")})


config = ValidationConfig(
    limits=Limits(max_body_bytes=1024 * 1024, max_json_depth=8),
    # Markdown posts legitimately contain <script> examples and shell snippets.
    exempt_fields=[("/posts", "root.body")],
    headers=["user-agent"],
)

app = Starlette(
    routes=[Route("/posts", create_post, methods=["POST"]), Route("/search", search)],
    middleware=[Middleware(InputValidationMiddleware, config=config)],
)


async def main() -> None:
    blocked: list[events.RequestBlocked] = []

    def on_event(event: events.Event) -> None:
        if isinstance(event, events.RequestBlocked):
            blocked.append(event)

    unsubscribe = events.subscribe(on_event)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        requests = [
            client.post("/posts", json={"title": "O'Brien's guide", "body": "Use `<script>`"}),
            client.post("/posts", json={"title": "' OR 1=1--", "body": "..."}),
            client.get("/search", params={"q": "Please select a size; thanks!"}),
            client.get("/search", params={"q": "<script>alert(1)</script>"}),
            client.post("/posts", json={"title": "x" * 20_000}),
        ]
        for pending in requests:
            response = await pending
            print(response.status_code, response.json())
    unsubscribe()
    assert [event.rule for event in blocked] == ["sqli", "xss", "max_string_length"]
    print(f"{len(blocked)} RequestBlocked events")
    print("scan():", scan("../../etc/passwd"))


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main())
