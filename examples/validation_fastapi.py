"""A FastAPI app with InputValidationMiddleware in monitor mode; runs offline, in-process.

Monitor mode is how to roll the middleware out: it logs and emits what it would refuse
while every request still reaches the app. Run it with
``python examples/validation_fastapi.py``; serve it with
``uvicorn examples.validation_fastapi:app``.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from hardpoint import events
from hardpoint.validation import InputValidationMiddleware


class Comment(BaseModel):
    author: str
    text: str


app = FastAPI()
app.add_middleware(
    InputValidationMiddleware,
    mode="monitor",  # switch to "block" once the logs show no false positives
    exempt_routes=["/health"],
)


@app.post("/comments")
async def add_comment(comment: Comment) -> dict[str, str]:
    return {"author": comment.author}


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


async def main() -> None:
    monitored: list[events.RequestBlocked] = []

    def on_event(event: events.Event) -> None:
        if isinstance(event, events.RequestBlocked):
            monitored.append(event)

    unsubscribe = events.subscribe(on_event)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        ok = await client.post("/comments", json={"author": "O'Brien", "text": "Great post!"})
        suspicious = await client.post(
            "/comments", json={"author": "mallory", "text": "<script>alert(1)</script>"}
        )
        health = await client.get("/health", params={"probe": "../../etc/passwd"})
    unsubscribe()
    print(ok.status_code, ok.json())
    print(suspicious.status_code, suspicious.json(), "(monitor mode: logged, not blocked)")
    print(health.status_code, health.json(), "(exempt route)")
    assert [(e.rule, e.location, e.monitored) for e in monitored] == [("xss", "root.text", True)]
    print(f"{len(monitored)} monitored RequestBlocked event")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    asyncio.run(main())
