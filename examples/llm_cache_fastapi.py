"""A FastAPI endpoint whose LLM answers are cached per tenant; runs offline, in-process.

``FakeAsyncOpenAI`` has the shape of ``openai.AsyncOpenAI`` (``chat.completions.create``), so
the same ``cache.wrap(...)`` line works with the real client: ``cache.wrap(AsyncOpenAI(),
scope=current_tenant.get)``. Run it with ``python examples/llm_cache_fastapi.py``.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import Any

import httpx
from fastapi import FastAPI, Header

from hardpoint.llm_cache import LLMCache


class FakeCompletions:
    calls = 0

    async def create(self, **request: Any) -> dict[str, Any]:
        FakeCompletions.calls += 1
        await asyncio.sleep(0.1)  # an LLM round trip
        return {
            "object": "chat.completion",
            "model": request["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Use a wider pool."},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45},
        }


class FakeChat:
    completions = FakeCompletions()


class FakeAsyncOpenAI:
    chat = FakeChat()


current_tenant: ContextVar[str] = ContextVar("current_tenant")
cache = LLMCache()  # memory; configure_cache("redis://...") shares answers between processes
client = cache.wrap(FakeAsyncOpenAI(), scope=current_tenant.get)  # never across tenants
app = FastAPI()


@app.post("/advice")
async def advice(question: str, x_tenant: str = Header()) -> dict[str, str]:
    current_tenant.set(x_tenant)
    reply = await client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": question}],
        temperature=0,  # sampled answers (temperature > 0, no seed) are not cached
    )
    return {"answer": reply["choices"][0]["message"]["content"]}


async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as http:
        question = {"question": "Why do requests time out under load?"}
        for tenant in ("acme", "acme", "globex"):
            response = await http.post("/advice", params=question, headers={"X-Tenant": tenant})
            print(tenant, response.json())
    stats = cache.stats()
    print(f"{FakeCompletions.calls} provider calls, {stats.calls_saved} saved")
    assert (FakeCompletions.calls, stats.calls_saved) == (2, 1)  # one per tenant


if __name__ == "__main__":
    asyncio.run(main())
