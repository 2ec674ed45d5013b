"""``hardpoint demo``: run the components on embedded defaults and print what each did.

It needs no Redis, database or cloud account. It grows with each component.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections import Counter
from dataclasses import dataclass
from typing import TextIO

from hardpoint import events

__all__ = ["run_demo"]


@dataclass
class _Row:
    component: str
    what: str
    result: str
    timing: str


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def _cache_demo(rows: list[_Row], say: TextIO | None) -> None:
    from hardpoint.cache import CacheStrategy, RedisBackend, cached, configure_cache, get_cache

    redis_url = os.environ.get("HARDPOINT_REDIS_URL")
    configure_cache(redis_url, namespace="hp-demo") if redis_url else configure_cache()
    backend = get_cache()
    await backend.aclear()
    executions = Counter[str]()

    @cached("demo:user", ttl=CacheStrategy.API_MEDIUM)
    async def get_user(user_id: int) -> dict[str, object]:
        executions["get_user"] += 1
        await asyncio.sleep(0.05)  # a slow database query
        return {"id": user_id, "name": f"user {user_id}"}

    start = time.perf_counter()
    await get_user(1)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(1000):
        await get_user(1)
    warm = (time.perf_counter() - start) / 1000
    rows.append(
        _Row(
            "cache",
            f"1 cold + 1,000 cached calls ({backend.name})",
            f"{executions['get_user']} execution",
            f"{cold * 1e3:.1f} ms cold, {warm * 1e6:.1f} µs per hit",
        )
    )
    if say:
        say.write(f"cache: cold call {cold * 1e3:.1f} ms, hit {warm * 1e6:.1f} µs\n")

    start = time.perf_counter()
    await asyncio.gather(*(get_user(2) for _ in range(100)))
    stampede = time.perf_counter() - start
    rows.append(
        _Row(
            "cache",
            "100 concurrent callers on a cold key",
            f"{executions['get_user'] - 1} execution",
            f"{stampede * 1e3:.1f} ms wall",
        )
    )
    if say:
        say.write(f"cache: stampede of 100 answered in {stampede * 1e3:.1f} ms\n")

    # Redis that refuses connections: every call still answers, the breaker keeps it cheap.
    dead = RedisBackend.from_url(f"redis://127.0.0.1:{_free_port()}/0", namespace="hp-demo")
    seen: list[events.Event] = []
    unsubscribe = events.subscribe(seen.append)
    import logging

    logging.getLogger("hardpoint.cache").setLevel(logging.ERROR)  # the demo shows the warning

    @cached("demo:dead", ttl=60, backend=dead)
    def price(sku: str) -> float:
        return 9.99

    try:
        start = time.perf_counter()
        answers = [price("sku-1") for _ in range(200)]
        elapsed = time.perf_counter() - start
    finally:
        unsubscribe()
        dead.close()
    errors = sum(isinstance(e, events.CacheError) for e in seen)
    rows.append(
        _Row(
            "cache",
            "200 calls while Redis refuses connections",
            f"{len(answers)} answers, 0 exceptions, breaker {dead.breaker.state}",
            f"{elapsed / len(answers) * 1e6:.0f} µs per call ({errors} backend errors seen)",
        )
    )
    if say:
        say.write(f"cache: Redis down, {len(answers)} calls answered in {elapsed * 1e3:.1f} ms\n")
    await backend.aclear()


async def _llm_cache_demo(rows: list[_Row], say: TextIO | None) -> None:
    from hardpoint.cache import MemoryBackend
    from hardpoint.llm_cache import GLOBAL, LLMCache

    cache = LLMCache(MemoryBackend())
    provider_calls = 0

    async def fake_provider() -> dict[str, object]:
        # Stands in for an LLM API: 200 ms and a bill per call.
        nonlocal provider_calls
        provider_calls += 1
        await asyncio.sleep(0.2)
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
            "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
        }

    request = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "temperature": 0,
    }
    # The same question, written differently: key order, trailing spaces, 0.0, stream=True.
    variant = {
        "temperature": 0.0,
        "stream": True,
        "messages": [{"content": "What is the capital of France?  \n", "role": "user"}],
        "model": "gpt-4o-mini",
    }
    start = time.perf_counter()
    await asyncio.gather(*(cache.acall(request, fake_provider, scope=GLOBAL) for _ in range(10)))
    await cache.acall(variant, fake_provider, scope=GLOBAL)
    elapsed = time.perf_counter() - start
    stats = cache.stats()
    rows.append(
        _Row(
            "llm_cache",
            "11 identical questions (10 at once, 1 reworded)",
            f"{provider_calls} provider call, {stats.calls_saved} saved "
            f"(${stats.dollars_saved:.5f})",
            f"{elapsed * 1e3:.0f} ms for all",
        )
    )
    if say:
        say.write(f"llm_cache: {provider_calls} provider call for 11 questions\n")


def _secrets_demo(rows: list[_Row], say: TextIO | None) -> None:
    from hardpoint.secrets import EnvBackend, SecretsManager

    os.environ.setdefault("HARDPOINT_DEMO_DB_PASSWORD", "demo-password-not-real")
    manager = SecretsManager(EnvBackend())
    seen: list[events.Event] = []
    unsubscribe = events.subscribe(seen.append)
    try:
        start = time.perf_counter()
        for _ in range(1000):
            manager.get("HARDPOINT_DEMO_DB_PASSWORD")
        elapsed = time.perf_counter() - start
    finally:
        unsubscribe()
    reads = [e for e in seen if isinstance(e, events.SecretRead)]
    results = Counter(e.result for e in reads)
    rows.append(
        _Row(
            "secrets",
            "1,000 reads of a secret (environment backend)",
            f"{results['miss']} fetch, {results['hit']} cached, {len(reads)} audit events",
            f"{elapsed / 1000 * 1e6:.1f} µs per read",
        )
    )
    if say:
        say.write("secrets: 1,000 reads, 1 fetch, value never logged\n")


def _print_table(rows: list[_Row], out: TextIO) -> None:
    headers = ("component", "what", "result", "timing")
    table = [headers, *((r.component, r.what, r.result, r.timing) for r in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    line = "+".join("-" * (w + 2) for w in widths)
    out.write(f"+{line}+\n")
    for n, row in enumerate(table):
        cells = " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        out.write(f"| {cells} |\n")
        if n == 0:
            out.write(f"+{line}+\n")
    out.write(f"+{line}+\n")


def run_demo(*, quiet: bool = False, out: TextIO) -> int:
    """Run the demo and write its summary table to *out*.

    Args:
        quiet: Print only the summary table.
        out: Where to write.

    Returns:
        The process exit status (0 when every component did what it should).
    """
    rows: list[_Row] = []
    say = None if quiet else out
    asyncio.run(_cache_demo(rows, say))
    asyncio.run(_llm_cache_demo(rows, say))
    _secrets_demo(rows, say)
    out.write("\nhardpoint demo summary\n")
    _print_table(rows, out)
    return 0
