"""Answer repeated LLM questions from the cache; runs offline with a stand-in provider.

Run it with ``python examples/llm_cache_plain.py``. With a real client, replace
``fake_provider`` by ``client.chat.completions.create(**request)`` or wrap the client:
``client = cache.wrap(OpenAI(), scope=tenant_id)``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hardpoint.llm_cache import LLMCache

provider_calls = 0


async def fake_provider() -> dict[str, Any]:
    global provider_calls
    provider_calls += 1
    await asyncio.sleep(0.1)  # an LLM round trip
    return {
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris."},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 25, "completion_tokens": 2, "total_tokens": 27},
    }


async def main() -> None:
    cache = LLMCache()  # in memory; configure_cache("redis://...") shares it between processes
    question = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Capital of France?"}],
        "temperature": 0,
    }
    same_question = {**question, "temperature": 0.0, "stream": False, "user": "u-42"}
    for request in (question, same_question, question):
        answer = await cache.acall(request, fake_provider, scope="tenant-1")
        print(answer["choices"][0]["message"]["content"])
    stats = cache.stats()
    print(
        f"{provider_calls} provider call, {stats.calls_saved} saved, hit rate {stats.hit_rate:.0%}"
    )


if __name__ == "__main__":
    asyncio.run(main())
