"""`wrap_client` driven through the real ``openai`` and ``anthropic`` clients.

The clients talk HTTP to `FakeProvider` on loopback, so every hit is proved by the server's
request count, and every answer goes through the SDK's own parsing and streaming code.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import anthropic
import openai
import pytest
from anthropic.types import (
    InputJSONDelta,
    Message,
    MessageParam,
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    TextBlock,
    TextDelta,
    ToolUseBlock,
)
from hypothesis import given
from hypothesis import strategies as st
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessageParam
from openai.types.responses import Response
from pydantic import BaseModel

from hardpoint.cache import MemoryBackend
from hardpoint.errors import ConfigurationError
from hardpoint.llm_cache import GLOBAL, LLMCache
from hardpoint.llm_cache._wrap import _build, accumulate_events, replay_events, wrap_client

_HERE: Final = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

if TYPE_CHECKING:  # mypy names the helper after its directory under tests/
    from llm_cache._fake_providers import FakeProvider, Reply
else:  # pytest finds it through the sys.path entry above
    from _fake_providers import FakeProvider, Reply

GPT: Final = "gpt-4o-mini"
CLAUDE: Final = "claude-fake-1"  # a name the SDK has no deprecation warning for
# anthropic 2.x has no temperature argument; the body still takes one, and the key sees it.
GREEDY: Final = {"temperature": 0}


def ask(text: str = "What is the capital of France?") -> list[ChatCompletionMessageParam]:
    return [{"role": "user", "content": text}]


def ask_claude(text: str = "What is the capital of France?") -> list[MessageParam]:
    return [{"role": "user", "content": text}]


def chunk_text(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def event_text(events: list[Any]) -> str:
    return "".join(
        e.delta.text
        for e in events
        if isinstance(e, RawContentBlockDeltaEvent) and isinstance(e.delta, TextDelta)
    )


def claude_text(message: Message) -> str:
    return "".join(b.text for b in message.content if isinstance(b, TextBlock))


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with FakeProvider() as server:
        yield server


@pytest.fixture
def cache() -> LLMCache:
    return LLMCache(MemoryBackend())


@pytest.fixture
def openai_client(provider: FakeProvider) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=provider.openai_url, api_key="test", max_retries=0) as client:
        yield client


@pytest.fixture
async def async_openai_client(provider: FakeProvider) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(base_url=provider.openai_url, api_key="test", max_retries=0)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def anthropic_client(provider: FakeProvider) -> Iterator[anthropic.Anthropic]:
    url = provider.anthropic_url
    with anthropic.Anthropic(base_url=url, api_key="test", max_retries=0) as client:
        yield client


@pytest.fixture
async def async_anthropic_client(
    provider: FakeProvider,
) -> AsyncIterator[anthropic.AsyncAnthropic]:
    url = provider.anthropic_url
    client = anthropic.AsyncAnthropic(base_url=url, api_key="test", max_retries=0)
    try:
        yield client
    finally:
        await client.close()


# -- hits ------------------------------------------------------------------------------------


def test_openai_hit_returns_the_sdk_type_without_a_second_http_call(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    first = client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    second = client.chat.completions.create(model=GPT, messages=ask(), temperature=0)

    assert provider.calls == 1
    assert type(second) is ChatCompletion
    assert second.choices[0].message.content == first.choices[0].message.content
    assert second.model_dump(exclude_unset=True) == first.model_dump(exclude_unset=True)


async def test_async_openai_hit_returns_the_sdk_type_without_a_second_http_call(
    cache: LLMCache, provider: FakeProvider, async_openai_client: openai.AsyncOpenAI
) -> None:
    client = wrap_client(cache, async_openai_client, scope="tenant-a")
    first = await client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    second = await client.chat.completions.create(model=GPT, messages=ask(), temperature=0)

    assert provider.calls == 1
    assert type(second) is ChatCompletion
    assert second.model_dump(exclude_unset=True) == first.model_dump(exclude_unset=True)


def test_anthropic_hit_returns_the_sdk_type_without_a_second_http_call(
    cache: LLMCache, provider: FakeProvider, anthropic_client: anthropic.Anthropic
) -> None:
    client = wrap_client(cache, anthropic_client, scope="tenant-a")
    first = client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
    )
    second = client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
    )

    assert provider.calls == 1
    assert type(second) is Message
    assert second.model_dump(exclude_unset=True) == first.model_dump(exclude_unset=True)


async def test_async_anthropic_hit_returns_the_sdk_type_without_a_second_http_call(
    cache: LLMCache, provider: FakeProvider, async_anthropic_client: anthropic.AsyncAnthropic
) -> None:
    client = wrap_client(cache, async_anthropic_client, scope="tenant-a")
    first = await client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
    )
    second = await client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
    )

    assert provider.calls == 1
    assert type(second) is Message
    assert claude_text(second) == claude_text(first)


def test_openai_responses_api_is_cached_but_its_streams_pass_straight_through(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    first = client.responses.create(model=GPT, input="Name a colour.", temperature=0)
    second = client.responses.create(model=GPT, input="Name a colour.", temperature=0)
    assert provider.calls == 1
    assert type(second) is Response
    assert second.output_text == first.output_text
    before = cache.stats()

    # The fake server has no Responses streaming: the 404 proves the call reached it uncached.
    with pytest.raises(openai.NotFoundError):
        client.responses.create(model=GPT, input="Name a colour.", temperature=0, stream=True)
    assert provider.calls == 2
    assert cache.stats() == before


# -- streaming ---------------------------------------------------------------------------------


def test_openai_stream_hit_replays_a_non_stream_answer_as_sdk_chunks(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    answer = client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    with client.chat.completions.create(
        model=GPT, messages=ask(), temperature=0, stream=True
    ) as stream:
        chunks = list(stream)

    assert provider.calls == 1
    assert all(type(c) is ChatCompletionChunk for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) > 2
    assert chunk_text(chunks) == answer.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.choices for c in chunks)  # no usage chunk: the request did not ask for one
    assert {c.id for c in chunks} == {answer.id}


def test_openai_replay_adds_a_usage_chunk_only_when_the_request_asks(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    answer = client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    with client.chat.completions.create(
        model=GPT,
        messages=ask(),
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        chunks = list(stream)

    assert provider.calls == 1
    assert chunks[-1].choices == []
    assert chunks[-1].usage == answer.usage


def test_openai_non_stream_hit_after_a_stream_miss(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    with client.chat.completions.create(
        model=GPT,
        messages=ask(),
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        chunks = list(stream)
    answer = client.chat.completions.create(model=GPT, messages=ask(), temperature=0)

    assert provider.calls == 1
    assert type(answer) is ChatCompletion
    assert answer.choices[0].message.content == chunk_text(chunks)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage == chunks[-1].usage
    assert answer.id == chunks[0].id


async def test_async_openai_stream_and_non_stream_share_an_entry(
    cache: LLMCache, provider: FakeProvider, async_openai_client: openai.AsyncOpenAI
) -> None:
    client = wrap_client(cache, async_openai_client, scope="tenant-a")
    answer = await client.chat.completions.create(model=GPT, messages=ask("one"), temperature=0)
    stream = await client.chat.completions.create(
        model=GPT, messages=ask("one"), temperature=0, stream=True
    )
    async with stream:
        replayed = [chunk async for chunk in stream]
    assert chunk_text(replayed) == answer.choices[0].message.content
    assert all(type(c) is ChatCompletionChunk for c in replayed)

    stream = await client.chat.completions.create(
        model=GPT, messages=ask("two"), temperature=0, stream=True
    )
    async with stream:
        streamed = [chunk async for chunk in stream]
    again = await client.chat.completions.create(model=GPT, messages=ask("two"), temperature=0)

    assert provider.calls == 2
    assert again.choices[0].message.content == chunk_text(streamed)


@pytest.mark.parametrize(
    "text",
    [
        "  two leading spaces, and two trailing  ",
        "line one\n\n  indented line\ttab\r\nwindows line",
        "one",
        "中文 ünïcödé  ✓ — ok",
        "```python\ndef f():\n    return 1\n```",
        " ",
    ],
)
def test_replayed_chunks_reassemble_to_the_exact_cached_text(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI, text: str
) -> None:
    provider.push(Reply(text=text))
    client = wrap_client(cache, openai_client, scope="tenant-a")
    answer = client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    assert answer.choices[0].message.content == text
    with client.chat.completions.create(
        model=GPT, messages=ask(), temperature=0, stream=True
    ) as stream:
        chunks = list(stream)

    assert provider.calls == 1
    assert chunk_text(chunks) == text


def test_openai_tool_calls_survive_both_directions(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    arguments = '{"city": "Paris", "unit": "celsius", "days": 3}'
    tool = Reply(text="", tool_call=("get_weather", arguments), finish_reason="tool_calls")
    provider.push(tool, tool)
    client = wrap_client(cache, openai_client, scope="tenant-a")

    # A non-stream miss, replayed as a stream: the tool call arrives in deltas.
    answer = client.chat.completions.create(model=GPT, messages=ask("weather?"), temperature=0)
    with client.chat.completions.create(
        model=GPT, messages=ask("weather?"), temperature=0, stream=True
    ) as stream:
        chunks = list(stream)
    deltas = [tc for c in chunks if c.choices for tc in c.choices[0].delta.tool_calls or []]
    assert len(deltas) > 2
    assert deltas[0].id == "call_1"
    assert deltas[0].function is not None
    assert deltas[0].function.name == "get_weather"
    assert "".join(d.function.arguments or "" for d in deltas if d.function) == arguments
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    # A stream miss, served later without streaming: the deltas become one tool call.
    with client.chat.completions.create(
        model=GPT, messages=ask("forecast?"), temperature=0, stream=True
    ) as stream:
        list(stream)
    again = client.chat.completions.create(model=GPT, messages=ask("forecast?"), temperature=0)

    assert provider.calls == 2
    calls = again.choices[0].message.tool_calls
    assert calls is not None
    assert calls[0].model_dump() == {
        "id": "call_2",
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }
    assert answer.choices[0].message.tool_calls is not None
    assert again.choices[0].finish_reason == "tool_calls"


def test_anthropic_stream_hit_replays_the_sdk_event_sequence(
    cache: LLMCache, provider: FakeProvider, anthropic_client: anthropic.Anthropic
) -> None:
    client = wrap_client(cache, anthropic_client, scope="tenant-a")
    answer = client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
    )
    with client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY, stream=True
    ) as stream:
        events = list(stream)

    assert provider.calls == 1
    kinds = [e.type for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert kinds.count("content_block_delta") > 2
    assert type(events[0]) is RawMessageStartEvent
    assert event_text(events) == claude_text(answer)
    delta = events[-2]
    assert isinstance(delta, RawMessageDeltaEvent)
    assert delta.delta.stop_reason == "end_turn"
    assert delta.usage.output_tokens == answer.usage.output_tokens


async def test_async_anthropic_stream_miss_then_non_stream_hit(
    cache: LLMCache, provider: FakeProvider, async_anthropic_client: anthropic.AsyncAnthropic
) -> None:
    client = wrap_client(cache, async_anthropic_client, scope="tenant-a")
    stream = await client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY, stream=True
    )
    async with stream:
        events = [event async for event in stream]
    answer = await client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
    )

    assert provider.calls == 1
    assert type(answer) is Message
    assert claude_text(answer) == event_text(events)
    assert answer.stop_reason == "end_turn"
    assert answer.usage.output_tokens == 11
    assert answer.usage.input_tokens > 0


def test_anthropic_tool_use_survives_both_directions(
    cache: LLMCache, provider: FakeProvider, anthropic_client: anthropic.Anthropic
) -> None:
    arguments = '{"city": "Paris", "days": 3}'
    tool = Reply(
        text="Let me check.", tool_call=("get_weather", arguments), finish_reason="tool_calls"
    )
    provider.push(tool, tool)
    client = wrap_client(cache, anthropic_client, scope="tenant-a")

    answer = client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude("weather?"), extra_body=GREEDY
    )
    with client.messages.create(
        model=CLAUDE,
        max_tokens=256,
        messages=ask_claude("weather?"),
        extra_body=GREEDY,
        stream=True,
    ) as stream:
        events = list(stream)
    starts = [e for e in events if isinstance(e, RawContentBlockStartEvent)]
    assert [s.content_block.type for s in starts] == ["text", "tool_use"]
    partial = "".join(
        e.delta.partial_json
        for e in events
        if isinstance(e, RawContentBlockDeltaEvent) and isinstance(e.delta, InputJSONDelta)
    )
    assert json.loads(partial) == json.loads(arguments)

    with client.messages.create(
        model=CLAUDE,
        max_tokens=256,
        messages=ask_claude("forecast?"),
        extra_body=GREEDY,
        stream=True,
    ) as stream:
        list(stream)
    again = client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude("forecast?"), extra_body=GREEDY
    )

    assert provider.calls == 2
    assert again.stop_reason == "tool_use"
    block = again.content[1]
    assert isinstance(block, ToolUseBlock)
    assert block.input == json.loads(arguments)
    assert [b.type for b in again.content] == [b.type for b in answer.content]


# -- what is never stored ----------------------------------------------------------------------


def test_early_break_of_a_streaming_miss_stores_nothing(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    with client.chat.completions.create(
        model=GPT, messages=ask(), temperature=0, stream=True
    ) as stream:
        for _chunk in stream:
            break
    answer = client.chat.completions.create(model=GPT, messages=ask(), temperature=0)

    assert provider.calls == 2
    assert answer.choices[0].message.content is not None
    assert answer.choices[0].message.content.startswith("Reply 2:")
    assert cache.stats().stores == 1  # only the second, whole answer


async def test_async_early_close_of_a_streaming_miss_stores_nothing(
    cache: LLMCache, provider: FakeProvider, async_anthropic_client: anthropic.AsyncAnthropic
) -> None:
    client = wrap_client(cache, async_anthropic_client, scope="tenant-a")
    stream = await client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY, stream=True
    )
    async with stream:
        async for event in stream:
            if event.type == "content_block_delta":
                break

    assert cache.stats().stores == 0
    await client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
    )
    assert provider.calls == 2


def test_a_stream_that_dies_raises_and_stores_nothing(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    provider.push(Reply(die_after=4))
    client = wrap_client(cache, openai_client, scope="tenant-a")
    received: list[ChatCompletionChunk] = []
    with (
        pytest.raises(openai.APIConnectionError),
        client.chat.completions.create(
            model=GPT, messages=ask(), temperature=0, stream=True
        ) as stream,
    ):
        received.extend(stream)

    assert received  # some chunks arrived before the connection dropped
    assert cache.stats().stores == 0
    assert cache.stats().rejected == 0  # nothing was even offered to the cache
    client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    assert provider.calls == 2


async def test_an_async_anthropic_stream_that_dies_raises_and_stores_nothing(
    cache: LLMCache, provider: FakeProvider, async_anthropic_client: anthropic.AsyncAnthropic
) -> None:
    provider.push(Reply(die_after=5))
    client = wrap_client(cache, async_anthropic_client, scope="tenant-a")
    stream = await client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY, stream=True
    )

    async def drain() -> None:
        async with stream:
            async for _event in stream:
                pass

    # anthropic lets the transport's own error through (openai wraps it): either way, unchanged.
    with pytest.raises(Exception, match="peer closed connection"):
        await drain()

    assert cache.stats().stores == 0
    await client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
    )
    assert provider.calls == 2


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, openai.InternalServerError),
        (429, openai.RateLimitError),
        (400, openai.BadRequestError),
    ],
)
def test_provider_errors_propagate_unchanged_and_are_not_cached(
    cache: LLMCache,
    provider: FakeProvider,
    openai_client: openai.OpenAI,
    status: int,
    error: type[openai.APIStatusError],
) -> None:
    provider.push(Reply(status=status))
    client = wrap_client(cache, openai_client, scope="tenant-a")
    with pytest.raises(error) as raised:
        client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    assert raised.value.status_code == status

    client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    assert provider.calls == 2
    assert cache.stats().stores == 1


async def test_async_anthropic_errors_propagate_unchanged_and_are_not_cached(
    cache: LLMCache, provider: FakeProvider, async_anthropic_client: anthropic.AsyncAnthropic
) -> None:
    provider.push(Reply(status=500), Reply(status=429))
    client = wrap_client(cache, async_anthropic_client, scope="tenant-a")
    with pytest.raises(anthropic.InternalServerError):
        await client.messages.create(
            model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
        )
    with pytest.raises(anthropic.RateLimitError):
        await client.messages.create(
            model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY, stream=True
        )
    await client.messages.create(
        model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
    )
    assert provider.calls == 3
    assert cache.stats().stores == 1


@pytest.mark.parametrize(
    "reply",
    [Reply(finish_reason="length"), Reply(text="")],
    ids=["finish-reason-length", "empty-output"],
)
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_truncated_or_empty_answers_are_not_cached(
    cache: LLMCache,
    provider: FakeProvider,
    openai_client: openai.OpenAI,
    reply: Reply,
    stream: bool,
) -> None:
    provider.default = reply
    client = wrap_client(cache, openai_client, scope="tenant-a")
    for _ in range(2):
        if stream:
            with client.chat.completions.create(
                model=GPT, messages=ask(), temperature=0, stream=True
            ) as chunks:
                list(chunks)
        else:
            client.chat.completions.create(model=GPT, messages=ask(), temperature=0)

    assert provider.calls == 2
    stats = cache.stats()
    assert (stats.stores, stats.rejected, stats.hits) == (0, 2, 0)


def test_anthropic_max_tokens_answers_are_not_cached(
    cache: LLMCache, provider: FakeProvider, anthropic_client: anthropic.Anthropic
) -> None:
    provider.default = Reply(finish_reason="length")
    client = wrap_client(cache, anthropic_client, scope="tenant-a")
    for _ in range(2):
        answer = client.messages.create(
            model=CLAUDE, max_tokens=5, messages=ask_claude(), extra_body=GREEDY
        )
        assert answer.stop_reason == "max_tokens"
    assert provider.calls == 2


def test_sampled_requests_are_not_cached_unless_seeded(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    first = client.chat.completions.create(model=GPT, messages=ask(), temperature=0.7)
    second = client.chat.completions.create(model=GPT, messages=ask(), temperature=0.7)
    assert provider.calls == 2
    assert first.choices[0].message.content != second.choices[0].message.content
    assert cache.stats().bypassed == 2

    client.chat.completions.create(model=GPT, messages=ask(), temperature=0.7, seed=42)
    client.chat.completions.create(model=GPT, messages=ask(), temperature=0.7, seed=42)
    assert provider.calls == 3


# -- scopes and the cache's own arguments ------------------------------------------------------


def test_scopes_isolate_tenants(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    tenant: contextvars.ContextVar[str] = contextvars.ContextVar("tenant")
    client = wrap_client(cache, openai_client, scope=tenant.get)

    def answer_for(name: str) -> str | None:
        token = tenant.set(name)
        try:
            reply = client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
        finally:
            tenant.reset(token)
        return reply.choices[0].message.content

    a = answer_for("tenant-a")
    b = answer_for("tenant-b")
    assert provider.calls == 2
    assert a is not None
    assert b is not None
    assert a.startswith("Reply 1:")
    assert b.startswith("Reply 2:")
    assert answer_for("tenant-a") == a
    assert answer_for("tenant-b") == b
    assert provider.calls == 2

    # A per-call scope wins over the wrapper's.
    token = tenant.set("tenant-a")
    try:
        override = client.chat.completions.create(  # type: ignore[call-overload]  # the wrapper's argument
            model=GPT, messages=ask(), temperature=0, cache_scope="tenant-b"
        )
    finally:
        tenant.reset(token)
    assert override.choices[0].message.content == b
    assert provider.calls == 2


def test_the_global_scope_is_shared_between_wrappers(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    one = wrap_client(cache, openai_client, scope=GLOBAL)
    two = wrap_client(cache, openai_client, scope=GLOBAL)
    one.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    two.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    assert provider.calls == 1


def test_cache_arguments_are_never_sent_to_the_provider(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    client.chat.completions.create(  # type: ignore[call-overload]  # the wrapper's arguments
        model=GPT, messages=ask("one"), temperature=0, cache_scope="tenant-b", cache_ttl=60
    )
    with client.chat.completions.create(  # type: ignore[call-overload]  # the wrapper's arguments
        model=GPT,
        messages=ask("two"),
        temperature=0,
        stream=True,
        cache_scope="tenant-b",
        cache_ttl=60,
    ) as stream:
        list(stream)

    bodies = [r.body for r in provider.requests]
    assert len(bodies) == 2
    for body in bodies:
        assert "cache_scope" not in body
        assert "cache_ttl" not in body
    assert set(bodies[0]) == {"model", "messages", "temperature"}


def test_scope_and_ttl_errors_are_raised_before_any_http_call(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope=lambda: "")
    with pytest.raises(ConfigurationError) as raised:
        client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    assert raised.value.field == "scope"

    client = wrap_client(cache, openai_client, scope="tenant-a")
    with pytest.raises(ConfigurationError) as raised:
        client.chat.completions.create(  # type: ignore[call-overload]  # the wrapper's argument
            model=GPT, messages=ask(), temperature=0, cache_ttl=0
        )
    assert raised.value.field == "cache_ttl"
    assert provider.calls == 0


def test_sdk_sentinels_and_extra_body_are_keyed_as_sent(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    # NOT_GIVEN / omit are "leave it out": the same request.
    client.chat.completions.create(
        model=GPT, messages=ask(), temperature=0, top_p=openai.omit, timeout=openai.NOT_GIVEN
    )
    # extra_body is merged into the body: temperature 0 there is temperature 0.
    client.chat.completions.create(model=GPT, messages=ask(), extra_body={"temperature": 0})
    assert provider.calls == 1
    # ... and a parameter only in extra_body still changes the key.
    client.chat.completions.create(
        model=GPT, messages=ask(), temperature=0, extra_body={"top_k": 5}
    )
    assert provider.calls == 2


# -- concurrency -------------------------------------------------------------------------------


async def test_fifty_concurrent_identical_async_misses_make_one_http_call(
    cache: LLMCache, provider: FakeProvider, async_openai_client: openai.AsyncOpenAI
) -> None:
    provider.default = Reply(delay=0.2)
    client = wrap_client(cache, async_openai_client, scope="tenant-a")
    answers = await asyncio.gather(
        *(
            client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
            for _ in range(50)
        )
    )

    assert provider.calls == 1
    assert {a.choices[0].message.content for a in answers} == {
        answers[0].choices[0].message.content
    }
    assert cache.stats().stores == 1


def test_concurrent_identical_sync_misses_make_one_http_call(
    cache: LLMCache, provider: FakeProvider, anthropic_client: anthropic.Anthropic
) -> None:
    provider.default = Reply(delay=0.2)
    client = wrap_client(cache, anthropic_client, scope="tenant-a")
    answers: list[Message] = []
    start = threading.Barrier(8)

    def ask_once() -> None:
        start.wait()
        answers.append(
            client.messages.create(
                model=CLAUDE, max_tokens=256, messages=ask_claude(), extra_body=GREEDY
            )
        )

    threads = [threading.Thread(target=ask_once) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(answers) == 8
    assert provider.calls == 1
    assert {claude_text(a) for a in answers} == {claude_text(answers[0])}


# -- statistics --------------------------------------------------------------------------------


def test_stats_are_exact_after_a_scripted_run(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    create = client.chat.completions.create

    first = create(model=GPT, messages=ask("q1"), temperature=0)  # miss, store
    create(model=GPT, messages=ask("q1"), temperature=0)  # hit
    with create(model=GPT, messages=ask("q1"), temperature=0, stream=True) as stream:
        list(stream)  # hit, replayed
    with create(
        model=GPT,
        messages=ask("q2"),
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    ) as stream:
        streamed = list(stream)  # miss, stored from the stream
    create(model=GPT, messages=ask("q2"), temperature=0)  # hit
    create(model=GPT, messages=ask("q3"), temperature=0.9)  # bypassed, then not stored
    provider.push(Reply(finish_reason="length"))
    create(model=GPT, messages=ask("q4"), temperature=0)  # miss, not stored
    provider.push(Reply(status=500))
    with pytest.raises(openai.InternalServerError):
        create(model=GPT, messages=ask("q5"), temperature=0)  # miss, error

    assert first.usage is not None
    second_usage = streamed[-1].usage
    assert second_usage is not None
    input_saved = 2 * first.usage.prompt_tokens + second_usage.prompt_tokens
    output_saved = 2 * first.usage.completion_tokens + second_usage.completion_tokens
    stats = cache.stats()
    assert provider.calls == 5
    assert (stats.hits, stats.misses, stats.bypassed) == (3, 4, 1)
    assert (stats.stores, stats.rejected, stats.errors) == (2, 2, 0)
    assert (stats.input_tokens_saved, stats.output_tokens_saved) == (input_saved, output_saved)
    assert stats.calls_saved == 3
    assert stats.hit_rate == pytest.approx(3 / 7)
    assert stats.dollars_saved == pytest.approx(cache.pricing.cost(GPT, input_saved, output_saved))


# -- the proxy -------------------------------------------------------------------------------


def test_the_proxy_forwards_everything_else(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    assert client.base_url == openai_client.base_url
    assert client.api_key == "test"
    assert client.models is openai_client.models
    assert client.chat.completions.with_raw_response is not None

    # with_options() keeps the cache.
    client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    slower = client.with_options(timeout=30)
    slower.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    assert provider.calls == 1


def test_the_proxy_is_a_context_manager_that_closes_the_client(
    cache: LLMCache, provider: FakeProvider
) -> None:
    raw = openai.OpenAI(base_url=provider.openai_url, api_key="test", max_retries=0)
    with wrap_client(cache, raw, scope="tenant-a") as client:
        client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
        client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    assert raw.is_closed()
    assert provider.calls == 1


class _DuckCompletions:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def create(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {
            "id": f"duck-{len(self.calls)}",
            "object": "chat.completion",
            "model": kwargs.get("model", ""),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"quack {len(self.calls)}"},
                    "finish_reason": "stop",
                }
            ],
        }


class _DuckChat:
    def __init__(self) -> None:
        self.completions = _DuckCompletions()


class _DuckClient:
    def __init__(self) -> None:
        self.chat = _DuckChat()


def test_a_duck_typed_client_is_cached_and_gets_its_own_dicts_back(cache: LLMCache) -> None:
    duck = _DuckClient()
    client = wrap_client(cache, duck, scope="tenant-a")
    first = client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    second = client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
    assert len(duck.chat.completions.calls) == 1
    assert second == first

    # A request the cache cannot key goes to the provider as it is.
    client.chat.completions.create(messages=ask())
    assert duck.chat.completions.calls[-1] == {"messages": ask()}
    assert cache.stats().lookups == 2


class _Completion(BaseModel):
    id: str
    object: str
    model: str
    choices: list[dict[str, Any]]


class _Chunk(BaseModel):
    id: str
    object: str
    model: str
    choices: list[dict[str, Any]]


class _AsyncDuckStream:
    def __init__(self, chunks: list[_Chunk]) -> None:
        self._chunks = iter(chunks)
        self.closed = False
        self.status = "open"

    def __aiter__(self) -> _AsyncDuckStream:
        return self

    async def __anext__(self) -> _Chunk:
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        self.closed = True


class _AsyncDuckCompletions:
    def __init__(self) -> None:
        self.calls = 0

    async def create(self, **kwargs: Any) -> Any:  # a completion, or a stream of chunks
        self.calls += 1
        head = {"id": f"duck-{self.calls}", "model": kwargs["model"]}
        if not kwargs.get("stream"):
            message = {"role": "assistant", "content": f"quack {self.calls}"}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return _Completion(**head, object="chat.completion", choices=[choice])
        deltas = [{"role": "assistant", "content": ""}, {"content": f"quack {self.calls}"}, {}]
        return _AsyncDuckStream(
            [
                _Chunk(
                    **head,
                    object="chat.completion.chunk",
                    choices=[{"index": 0, "delta": d, "finish_reason": None if d else "stop"}],
                )
                for d in deltas
            ]
        )


class _AsyncDuckClient:
    def __init__(self) -> None:
        self.chat = _AsyncDuckChat()


class _AsyncDuckChat:
    def __init__(self) -> None:
        self.completions = _AsyncDuckCompletions()


async def test_a_duck_typed_async_client_gets_its_own_classes_back(cache: LLMCache) -> None:
    duck = _AsyncDuckClient()
    client = wrap_client(cache, duck, scope="tenant-a")
    first = await client.chat.completions.create(model=GPT, messages=ask("a"), temperature=0)
    again = await client.chat.completions.create(model=GPT, messages=ask("a"), temperature=0)
    assert type(again) is _Completion
    assert again == first

    stream = await client.chat.completions.create(
        model=GPT, messages=ask("b"), temperature=0, stream=True
    )
    assert stream.status == "open"  # other attributes are the provider stream's
    async with stream:
        streamed = [chunk async for chunk in stream]
    replay = await client.chat.completions.create(
        model=GPT, messages=ask("b"), temperature=0, stream=True
    )
    async with replay:
        replayed = [chunk async for chunk in replay]
    assert duck.chat.completions.calls == 2
    assert all(type(c) is _Chunk for c in replayed)
    text = "".join(c.choices[0]["delta"].get("content") or "" for c in replayed)
    assert text == "quack 2"
    assert len(streamed) == 3


async def test_the_proxy_is_an_async_context_manager(
    cache: LLMCache, provider: FakeProvider
) -> None:
    raw = openai.AsyncOpenAI(base_url=provider.openai_url, api_key="test", max_retries=0)
    async with wrap_client(cache, raw, scope="tenant-a") as client:
        await client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
        await client.chat.completions.create(model=GPT, messages=ask(), temperature=0)
        assert repr(client).startswith("<cached <openai.AsyncOpenAI")
    assert raw.is_closed()
    assert provider.calls == 1


def test_a_recording_stream_exposes_the_provider_stream(
    cache: LLMCache, provider: FakeProvider, openai_client: openai.OpenAI
) -> None:
    client = wrap_client(cache, openai_client, scope="tenant-a")
    with client.chat.completions.create(
        model=GPT, messages=ask(), temperature=0, stream=True
    ) as stream:
        assert stream.response.status_code == 200
        list(stream)
    assert cache.stats().stores == 1


def test_an_entry_from_another_sdk_version_is_rebuilt_leniently() -> None:
    odd = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": GPT,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hi"},
                "finish_reason": "a-reason-from-the-future",
            }
        ],
    }
    rebuilt = _build(ChatCompletion, odd)
    assert type(rebuilt) is ChatCompletion
    assert rebuilt.choices[0].message.content == "hi"
    assert _build(None, odd) is odd


def test_a_client_without_a_known_create_method_is_refused(cache: LLMCache) -> None:
    with pytest.raises(ConfigurationError):
        wrap_client(cache, object(), scope="tenant-a")


# -- the pure replay and reassembly ------------------------------------------------------------


@given(st.text())
def test_chat_replay_then_reassembly_is_the_identity(text: str) -> None:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": GPT,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            },
            {
                "index": 1,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": json.dumps({"q": text})},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            },
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
    }
    request = {"stream_options": {"include_usage": True}}
    events = replay_events(body, "openai.chat", request)
    rebuilt = accumulate_events(list(events), "openai.chat")
    expected_first = body["choices"][0]["message"]["content"] or None
    assert rebuilt is not None
    assert rebuilt["choices"][0]["message"]["content"] == expected_first
    assert (
        rebuilt["choices"][1]["message"]["tool_calls"]
        == body["choices"][1]["message"]["tool_calls"]
    )
    assert rebuilt["usage"] == body["usage"]


@given(st.text(min_size=1))
def test_anthropic_replay_then_reassembly_is_the_identity(text: str) -> None:
    body: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": CLAUDE,
        "content": [
            {"type": "thinking", "thinking": text, "signature": "sig"},
            {"type": "text", "text": text},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"q": text}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    events = replay_events(body, "anthropic.messages", {})
    assert accumulate_events(list(events), "anthropic.messages") == body


def test_chat_replay_keeps_refusals_logprobs_functions_and_custom_tools() -> None:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": GPT,
        "system_fingerprint": "fp",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "I can't help."},
                "finish_reason": "stop",
            },
            {
                "index": 1,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "function_call": {"name": "f", "arguments": '{"a": 1}'},
                },
                "finish_reason": "function_call",
            },
            {
                "index": 2,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "type": "custom", "custom": {"name": "g", "input": "x"}}
                    ],
                },
                "finish_reason": "tool_calls",
            },
        ],
    }
    rebuilt = accumulate_events(replay_events(body, "openai.chat", {}), "openai.chat")
    assert rebuilt == body

    with_logprobs = [
        {"choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [{"t": 1}]}}]},
        {"choices": [{"index": 0, "delta": {"content": "b"}, "logprobs": {"content": [{"t": 2}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    rebuilt = accumulate_events(with_logprobs, "openai.chat")
    assert rebuilt is not None
    assert rebuilt["choices"][0]["logprobs"] == {"content": [{"t": 1}, {"t": 2}]}
    assert accumulate_events([], "openai.chat") is None


def test_anthropic_replay_keeps_citations_and_blocks_sent_whole() -> None:
    citation = {"type": "char_location", "cited_text": "x", "document_index": 0}
    body: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": CLAUDE,
        "content": [
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "As cited.", "citations": [citation]},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    events = replay_events(body, "anthropic.messages", {})
    assert accumulate_events(events, "anthropic.messages") == body


def test_an_anthropic_stream_without_message_stop_is_not_a_whole_answer() -> None:
    body: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": CLAUDE,
        "content": [{"type": "text", "text": "hello"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 3, "output_tokens": 4},
    }
    events = replay_events(body, "anthropic.messages", {})
    assert accumulate_events(list(events[:-1]), "anthropic.messages") is None
    unknown = {"type": "content_block_delta", "index": 0, "delta": {"type": "new_delta"}}
    assert accumulate_events([*events[:3], unknown, *events[3:]], "anthropic.messages") is None


def test_responses_streams_have_no_replay() -> None:
    with pytest.raises(ValueError, match="no stream replay"):
        replay_events({}, "openai.responses", {})
    assert accumulate_events([], "openai.responses") is None
