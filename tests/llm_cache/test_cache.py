from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from hardpoint import events
from hardpoint._internal.clock import ManualClock
from hardpoint.cache import MemoryBackend, RedisBackend
from hardpoint.errors import ConfigurationError
from hardpoint.llm_cache import GLOBAL, LLMCache, Pricing, TTLPolicy

REQUEST: dict[str, Any] = {
    "model": "gpt-4o-mini",
    "messages": [{"role": "user", "content": "Summarise the plot of Hamlet in one line."}],
    "temperature": 0,
}


def chat_response(text: str = "A prince avenges his father.", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
    }
    body.update(overrides)
    return body


def choice(content: str, finish_reason: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": content}
    return {"index": 0, "message": message, "finish_reason": finish_reason}


@pytest.fixture
def cache() -> LLMCache:
    return LLMCache(MemoryBackend())


def test_set_then_get_returns_the_response(cache: LLMCache) -> None:
    assert cache.get(REQUEST, scope=GLOBAL) is None
    assert cache.set(REQUEST, chat_response(), scope=GLOBAL) is True
    assert cache.get(REQUEST, scope=GLOBAL) == chat_response()


def test_scopes_never_share_entries(cache: LLMCache) -> None:
    cache.set(REQUEST, chat_response("for A"), scope="tenant-a")
    assert cache.get(REQUEST, scope="tenant-b") is None
    assert cache.get(REQUEST, scope=GLOBAL) is None
    assert cache.get(REQUEST, scope="tenant-a") == chat_response("for A")
    assert cache.key(REQUEST, scope="tenant-a") != cache.key(REQUEST, scope="tenant-b")


@pytest.mark.parametrize("scope", [None, "", 42])
def test_scope_is_required(cache: LLMCache, scope: Any) -> None:
    with pytest.raises(ConfigurationError) as exc:
        cache.get(REQUEST, scope=scope)
    assert exc.value.field == "scope"


def test_sampled_requests_are_not_cached_unless_opted_in(cache: LLMCache) -> None:
    sampled = {**REQUEST, "temperature": 0.7}
    assert cache.set(sampled, chat_response(), scope=GLOBAL) is False
    assert cache.get(sampled, scope=GLOBAL) is None
    seeded = {**sampled, "seed": 7}
    assert cache.set(seeded, chat_response(), scope=GLOBAL) is True
    no_temperature = {k: v for k, v in REQUEST.items() if k != "temperature"}
    assert cache.set(no_temperature, chat_response(), scope=GLOBAL) is False  # default is 1.0
    opted = LLMCache(MemoryBackend(), cache_temperature_above_zero=True)
    assert opted.set(sampled, chat_response(), scope=GLOBAL) is True
    assert opted.get(sampled, scope=GLOBAL) == chat_response()


@pytest.mark.parametrize(
    "response",
    [
        chat_response(choices=[]),
        chat_response(error={"message": "rate limited"}),
        chat_response(
            choices=[
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Half"},
                    "finish_reason": "length",
                }
            ]
        ),
        chat_response(
            choices=[
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": ""},
                    "finish_reason": "stop",
                }
            ]
        ),
        chat_response(
            choices=[
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "x"},
                    "finish_reason": "content_filter",
                }
            ]
        ),
        "not a json object",
    ],
)
def test_unusable_answers_are_never_stored(cache: LLMCache, response: Any) -> None:
    assert cache.set(REQUEST, response, scope=GLOBAL) is False
    assert cache.get(REQUEST, scope=GLOBAL) is None
    assert cache.stats().rejected == 1


def test_tool_call_answers_are_stored(cache: LLMCache) -> None:
    response = chat_response(
        choices=[
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ]
    )
    assert cache.set(REQUEST, response, scope=GLOBAL) is True


def test_user_specific_prompts_are_not_shared_globally(cache: LLMCache) -> None:
    mine = {**REQUEST, "messages": [{"role": "user", "content": "Summarise my notes."}]}
    assert cache.set(mine, chat_response(), scope=GLOBAL) is False
    assert cache.set(mine, chat_response(), scope="user-1") is True


def test_auto_ttl_shortest_match_wins_and_explicit_ttl_overrides() -> None:
    clock = ManualClock()
    backend = MemoryBackend(clock=clock)
    cache = LLMCache(backend)
    now_request = {
        **REQUEST,
        "messages": [{"role": "user", "content": "You are a bot. What is the news today?"}],
    }
    cache.set(now_request, chat_response(), scope=GLOBAL)
    assert backend.ttl(cache.key(now_request, scope=GLOBAL)) == pytest.approx(300)
    cache.set(REQUEST, chat_response(), scope=GLOBAL, ttl=42)
    assert backend.ttl(cache.key(REQUEST, scope=GLOBAL)) == pytest.approx(42)
    clock.advance(43)
    assert cache.get(REQUEST, scope=GLOBAL) is None


@pytest.mark.parametrize(
    ("text", "category", "seconds"),
    [
        ("What is the weather now?", "time_sensitive", 300),
        ("I know the answer", "generic", 86400),  # "know" is not "now"
        ("Help me write a poem", "user_specific", 1800),
        ("A myth about Zeus", "generic", 86400),  # "myth" is not "my"
        ("You are a helpful assistant", "system", 604800),
        ("You are a bot; what is my latest order?", "time_sensitive", 300),
    ],
)
def test_ttl_policy_matches_whole_words(text: str, category: str, seconds: float) -> None:
    assert TTLPolicy().classify(text) == (category, seconds)


def test_ttl_policy_validates() -> None:
    with pytest.raises(ConfigurationError) as exc:
        TTLPolicy(generic=0)
    assert exc.value.field == "generic"


def test_pricing_prefix_and_override() -> None:
    pricing = Pricing({"my-model": (1.0, 2.0)})
    assert pricing.price("gpt-4o-mini-2024-07-18") == pricing.price("gpt-4o-mini")
    assert pricing.price("gpt-4o-mini") != pricing.price("gpt-4o")
    assert pricing.cost("my-model", 1_000_000, 500_000) == pytest.approx(2.0)
    assert pricing.cost("unknown", 10, 10) == 0.0
    with pytest.raises(ConfigurationError):
        Pricing({"x": (-1.0, 0.0)})
    assert Pricing({"x": (1.0, 1.0)}, replace=True).price("gpt-4o") is None


def test_stats_are_exact_after_a_scripted_run() -> None:
    cache = LLMCache(MemoryBackend(), pricing=Pricing({"gpt-4o-mini": (1.0, 10.0)}))
    other = {**REQUEST, "messages": [{"role": "user", "content": "Another question"}]}
    cache.get(REQUEST, scope=GLOBAL)  # miss
    cache.set(REQUEST, chat_response(), scope=GLOBAL)  # store
    for _ in range(3):
        cache.get(REQUEST, scope=GLOBAL)  # 3 hits
    cache.get(other, scope=GLOBAL)  # miss
    cache.get({**REQUEST, "temperature": 0.5}, scope=GLOBAL)  # bypassed
    stats = cache.stats()
    assert (stats.hits, stats.misses, stats.bypassed, stats.stores) == (3, 2, 1, 1)
    assert stats.hit_rate == pytest.approx(3 / 5)
    assert stats.calls_saved == 3
    assert (stats.input_tokens_saved, stats.output_tokens_saved) == (60, 24)
    assert stats.dollars_saved == pytest.approx(3 * (20 * 1.0 + 8 * 10.0) / 1e6)
    assert stats.lookup_seconds > 0
    cache.reset_stats()
    assert cache.stats().hits == 0


def test_events_report_hits_with_savings(cache: LLMCache) -> None:
    seen: list[events.Event] = []
    undo = events.subscribe(seen.append)
    try:
        cache.get(REQUEST, scope=GLOBAL)
        cache.set(REQUEST, chat_response(), scope=GLOBAL)
        cache.get(REQUEST, scope=GLOBAL)
    finally:
        undo()
    names = [type(e).__name__ for e in seen]
    assert names == ["LLMCacheMiss", "LLMCacheHit"]


def test_seed_helper_form(cache: LLMCache) -> None:
    assert cache.get_cached_response(prompt="Hi", model="gpt-4o", temperature=0, scope="u") is None
    assert cache.cache_response(
        prompt="Hi", model="gpt-4o", response="Hello!", temperature=0, scope="u"
    )
    assert (
        cache.get_cached_response(prompt="Hi  \n", model="gpt-4o", temperature=0.0, scope="u")
        == "Hello!"
    )
    assert cache.get_cached_response(prompt="Hi", model="gpt-4o", temperature=0, scope="v") is None


async def test_async_twins(cache: LLMCache) -> None:
    assert await cache.aget(REQUEST, scope=GLOBAL) is None
    assert await cache.aset(REQUEST, chat_response(), scope=GLOBAL)
    assert await cache.aget(REQUEST, scope=GLOBAL) == chat_response()
    assert await cache.acache_response(
        prompt="p", model="gpt-4o", response="r", temperature=0, scope="u"
    )
    assert (
        await cache.aget_cached_response(prompt="p", model="gpt-4o", temperature=0, scope="u")
        == "r"
    )


async def test_fifty_concurrent_identical_misses_call_the_provider_once(cache: LLMCache) -> None:
    calls = 0

    async def provider() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return chat_response()

    results = await asyncio.gather(
        *(cache.acall(REQUEST, provider, scope=GLOBAL) for _ in range(50))
    )
    assert calls == 1
    assert all(r == chat_response() for r in results)
    assert await cache.acall(REQUEST, provider, scope=GLOBAL) == chat_response()
    assert calls == 1
    stats = cache.stats()
    assert (stats.coalesced, stats.hits, stats.calls_saved) == (49, 1, 50)
    assert stats.input_tokens_saved == 50 * 20


def test_threads_share_one_provider_call(cache: LLMCache) -> None:
    calls = 0
    release = threading.Event()

    def provider() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        release.wait(5)
        return chat_response()

    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.call(REQUEST, provider, scope=GLOBAL)))
        for _ in range(16)
    ]
    for t in threads:
        t.start()
    threading.Event().wait(0.2)
    release.set()
    for t in threads:
        t.join(10)
    assert calls == 1
    assert len(results) == 16


def test_backend_failure_is_a_miss(redis_server: Any) -> None:
    backend = RedisBackend.from_url(redis_server.url, namespace="llm-fault")
    cache = LLMCache(backend)
    redis_server.stop()
    assert cache.get(REQUEST, scope=GLOBAL) is None
    assert cache.set(REQUEST, chat_response(), scope=GLOBAL) is False
    assert cache.stats().errors == 2
    backend.close()


async def test_entries_are_shared_through_redis(redis_url: str) -> None:
    import uuid

    ns = f"llm-test-{uuid.uuid4().hex[:8]}"
    backend = RedisBackend.from_url(redis_url, namespace=ns, timeout=1.0)
    try:
        writer = LLMCache(backend)
        reader = LLMCache(backend)
        assert await writer.aset(REQUEST, chat_response(), scope="t1")
        assert reader.get(REQUEST, scope="t1") == chat_response()
        assert await reader.aget(REQUEST, scope="t2") is None
    finally:
        await backend.aclear()
        await backend.aclose()


def test_default_backend_is_the_configured_cache() -> None:
    from hardpoint.cache import close_cache, configure_cache

    own = MemoryBackend()
    configure_cache(backend=own)
    try:
        cache = LLMCache()
        cache.set(REQUEST, chat_response(), scope=GLOBAL)
        assert len(own) == 1
    finally:
        close_cache()


async def test_concurrent_sampled_requests_each_reach_the_provider(cache: LLMCache) -> None:
    calls = 0

    async def provider() -> dict[str, Any]:
        nonlocal calls
        calls += 1
        mine = calls
        await asyncio.sleep(0.02)
        return chat_response(f"sample {mine}")

    sampled = {**REQUEST, "temperature": 0.9}
    results = await asyncio.gather(
        *(cache.acall(sampled, provider, scope=GLOBAL) for _ in range(5))
    )
    assert calls == 5
    assert len({r["choices"][0]["message"]["content"] for r in results}) == 5
    assert cache.stats().bypassed == 5


def test_wrap_method_caches_a_duck_typed_client(cache: LLMCache) -> None:
    class Completions:
        def __init__(self) -> None:
            self.calls = 0

        def create(self, **kwargs: Any) -> dict[str, Any]:
            self.calls += 1
            return chat_response()

    class Chat:
        def __init__(self) -> None:
            self.completions = Completions()

    class Client:
        def __init__(self) -> None:
            self.chat = Chat()

    client = Client()
    wrapped = cache.wrap(client, scope="tenant-1")
    first = wrapped.chat.completions.create(**REQUEST)
    second = wrapped.chat.completions.create(**REQUEST)
    assert first == second == chat_response()
    assert client.chat.completions.calls == 1
