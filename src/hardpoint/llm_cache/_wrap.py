"""`wrap_client`: put an `LLMCache` in front of an OpenAI or Anthropic SDK client.

```python
client = wrap_client(cache, OpenAI(), scope=lambda: current_tenant.get())
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[...], temperature=0)
```

No SDK is imported here: the client is recognised by its shape (``chat.completions.create``,
``responses.create``, ``messages.create``) and the SDK's classes are imported lazily, only for
a client that comes from that SDK, to rebuild a cached answer as the object the client returns.

The pure parts (turning a cached response into stream chunks, and stream chunks back into a
response) are plain functions; the proxies around them do the I/O, in sync and async twins.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
)
from types import TracebackType
from typing import Any, Final, Protocol, TypeVar, cast

from hardpoint.errors import ConfigurationError
from hardpoint.llm_cache._cache import LLMCache, Scope, response_dict
from hardpoint.llm_cache._request import Api

__all__ = ["accumulate_events", "replay_events", "wrap_client"]

logger = logging.getLogger("hardpoint.llm_cache")

T = TypeVar("T")

# Keyword arguments of the wrapped create() that are for the cache, never for the provider.
_SCOPE_KWARG: Final = "cache_scope"
_TTL_KWARG: Final = "cache_ttl"
# ConfigurationError fields that are the caller's mistake (raise), not an odd request (pass on).
_CALLER_FIELDS: Final = frozenset({"scope", "ttl", _TTL_KWARG})
# The SDKs' "argument not given" sentinels: the same call as leaving the argument out.
_SENTINELS: Final = frozenset({"NotGiven", "Omit"})
_SDKS: Final = frozenset({"openai", "anthropic"})
# Replayed text arrives a few words per chunk, like a real stream.
_WORDS_PER_CHUNK: Final = 3
_WORD_START: Final = re.compile(r"(?<=\s)(?=\S)")
_UNSET: Final = object()


class _Closable(Protocol):
    def close(self) -> Any: ...


# -- pure: a cached response as stream events, and stream events as a response -------------


def _pieces(text: str) -> list[str]:
    """Split *text* into chunks of a few words whose concatenation is exactly *text*."""
    words = _WORD_START.split(text)
    return [
        "".join(words[i : i + _WORDS_PER_CHUNK])
        for i in range(0, len(words), _WORDS_PER_CHUNK)
        if any(words[i : i + _WORDS_PER_CHUNK])
    ]


def replay_events(
    body: Mapping[str, Any], api: Api, request: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Return the stream events a provider would have sent for the complete response *body*.

    Args:
        body: A complete (non-streaming) response, as cached.
        api: ``"openai.chat"`` (chunks) or ``"anthropic.messages"`` (events).
        request: The request; OpenAI's ``stream_options.include_usage`` adds a usage chunk.

    Returns:
        The events as JSON dicts, in order. Their text concatenates to exactly the cached text.

    Raises:
        ValueError: *api* has no replay (the OpenAI Responses API).
    """
    if api == "openai.chat":
        options = request.get("stream_options")
        include_usage = isinstance(options, Mapping) and bool(options.get("include_usage"))
        return _chat_chunks(body, include_usage=include_usage)
    if api == "anthropic.messages":
        return _message_events(body)
    raise ValueError(f"no stream replay for {api!r}")


def _chat_chunks(body: Mapping[str, Any], *, include_usage: bool) -> list[dict[str, Any]]:
    head: dict[str, Any] = {
        "id": body.get("id") or "chatcmpl-cached",
        "object": "chat.completion.chunk",
        "created": body.get("created") or 0,
        "model": body.get("model") or "",
    }
    for name in ("system_fingerprint", "service_tier"):
        if body.get(name) is not None:
            head[name] = body[name]

    def chunk(
        index: int, delta: dict[str, Any], finish_reason: str | None = None
    ) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "finish_reason": finish_reason}
        return {**head, "choices": [choice]}

    chunks: list[dict[str, Any]] = []
    for choice in body.get("choices") or []:
        index = choice.get("index") or 0
        message = choice.get("message") or {}
        content = message.get("content")
        chunks.append(chunk(index, {"role": message.get("role") or "assistant", "content": ""}))
        if isinstance(content, str):
            chunks.extend(chunk(index, {"content": piece}) for piece in _pieces(content))
        refusal = message.get("refusal")
        if isinstance(refusal, str):
            chunks.extend(chunk(index, {"refusal": piece}) for piece in _pieces(refusal))
        for position, call in enumerate(message.get("tool_calls") or []):
            function = call.get("function")
            if call.get("type", "function") != "function" or not isinstance(function, Mapping):
                # Not a function call (a custom tool): one delta that carries all of it.
                chunks.append(chunk(index, {"tool_calls": [{**call, "index": position}]}))
                continue
            opening = {
                "index": position,
                "id": call.get("id"),
                "type": "function",
                "function": {"name": function.get("name"), "arguments": ""},
            }
            chunks.append(chunk(index, {"tool_calls": [opening]}))
            chunks.extend(
                chunk(index, {"tool_calls": [{"index": position, "function": {"arguments": p}}]})
                for p in _pieces(function.get("arguments") or "")
            )
        function_call = message.get("function_call")
        if isinstance(function_call, Mapping):
            opening_call = {"name": function_call.get("name"), "arguments": ""}
            chunks.append(chunk(index, {"function_call": opening_call}))
            chunks.extend(
                chunk(index, {"function_call": {"arguments": piece}})
                for piece in _pieces(function_call.get("arguments") or "")
            )
        chunks.append(chunk(index, {}, choice.get("finish_reason")))
    if include_usage and body.get("usage") is not None:
        chunks.append({**head, "choices": [], "usage": body["usage"]})
    return chunks


def _message_events(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    usage = dict(body.get("usage") or {})
    opening = {
        **body,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        # Anthropic's usage is cumulative: the output tokens arrive with message_delta.
        "usage": {**usage, "output_tokens": 0},
    }
    events: list[dict[str, Any]] = [{"type": "message_start", "message": opening}]
    for index, block in enumerate(body.get("content") or []):
        kind = block.get("type")
        deltas: list[dict[str, Any]] = []
        start: dict[str, Any]
        if kind == "text":
            start = {"type": "text", "text": ""}
            deltas.extend(
                {"type": "citations_delta", "citation": c} for c in block.get("citations") or []
            )
            deltas.extend(
                {"type": "text_delta", "text": p} for p in _pieces(block.get("text") or "")
            )
        elif kind in ("tool_use", "server_tool_use"):
            start = {**block, "input": {}}
            arguments = json.dumps(block.get("input") or {}, ensure_ascii=False)
            deltas.extend(
                {"type": "input_json_delta", "partial_json": p} for p in _pieces(arguments)
            )
        elif kind == "thinking":
            start = {**block, "thinking": "", "signature": ""}
            thinking = block.get("thinking") or ""
            deltas.extend({"type": "thinking_delta", "thinking": p} for p in _pieces(thinking))
            deltas.append({"type": "signature_delta", "signature": block.get("signature") or ""})
        else:
            start = dict(block)  # redacted thinking, tool results: sent whole, as the API does
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events.extend({"type": "content_block_delta", "index": index, "delta": d} for d in deltas)
        events.append({"type": "content_block_stop", "index": index})
    stop = {"stop_reason": body.get("stop_reason"), "stop_sequence": body.get("stop_sequence")}
    events.append({"type": "message_delta", "delta": stop, "usage": usage})
    events.append({"type": "message_stop"})
    return events


class _ChatAccumulator:
    """Rebuild a chat completion from its streamed chunks."""

    def __init__(self) -> None:
        self.head: dict[str, Any] = {}
        self.choices: dict[int, dict[str, Any]] = {}
        self.usage: Any = None

    def add(self, chunk: Mapping[str, Any]) -> bool:
        for name in ("id", "created", "model", "system_fingerprint", "service_tier"):
            if chunk.get(name) is not None:
                self.head.setdefault(name, chunk[name])
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            state = self.choices.setdefault(
                choice.get("index") or 0,
                {"role": None, "content": [], "refusal": [], "tools": {}, "function": None},
            )
            delta = choice.get("delta") or {}
            state["role"] = state["role"] or delta.get("role")
            for name in ("content", "refusal"):
                if delta.get(name):
                    state[name].append(delta[name])
            for call in delta.get("tool_calls") or []:
                self._tool_call(state["tools"], call)
            function_call = delta.get("function_call")
            if isinstance(function_call, Mapping):
                state["function"] = state["function"] or {"name": "", "arguments": []}
                state["function"]["name"] += function_call.get("name") or ""
                state["function"]["arguments"].append(function_call.get("arguments") or "")
            logprobs = choice.get("logprobs")
            if isinstance(logprobs, Mapping):
                merged = state.setdefault("logprobs", {})
                for name, items in logprobs.items():
                    if isinstance(items, list):
                        merged.setdefault(name, []).extend(items)
            if choice.get("finish_reason"):
                state["finish_reason"] = choice["finish_reason"]
        return True

    @staticmethod
    def _tool_call(tools: dict[int, dict[str, Any]], call: Mapping[str, Any]) -> None:
        state = tools.setdefault(call.get("index") or 0, {"arguments": []})
        function = call.get("function")
        for name, value in call.items():
            if name in ("index", "function") or value is None:
                continue
            state[name] = value
        if isinstance(function, Mapping):
            if function.get("name"):
                state["name"] = state.get("name", "") + function["name"]
            if function.get("arguments"):
                state["arguments"].append(function["arguments"])

    def result(self) -> dict[str, Any] | None:
        if not self.choices:
            return None
        choices = []
        for index in sorted(self.choices):
            state = self.choices[index]
            message: dict[str, Any] = {
                "role": state["role"] or "assistant",
                "content": "".join(state["content"]) if state["content"] else None,
            }
            if state["refusal"]:
                message["refusal"] = "".join(state["refusal"])
            if state["tools"]:
                message["tool_calls"] = [
                    self._finished_call(state["tools"][i]) for i in sorted(state["tools"])
                ]
            if state["function"] is not None:
                message["function_call"] = {
                    "name": state["function"]["name"],
                    "arguments": "".join(state["function"]["arguments"]),
                }
            choice: dict[str, Any] = {
                "index": index,
                "message": message,
                "finish_reason": state.get("finish_reason"),
            }
            if "logprobs" in state:
                choice["logprobs"] = state["logprobs"]
            choices.append(choice)
        body: dict[str, Any] = {
            "id": self.head.get("id", ""),
            "object": "chat.completion",
            "created": self.head.get("created", 0),
            "model": self.head.get("model", ""),
            **{k: v for k, v in self.head.items() if k in ("system_fingerprint", "service_tier")},
            "choices": choices,
        }
        if self.usage is not None:
            body["usage"] = self.usage
        return body

    @staticmethod
    def _finished_call(state: dict[str, Any]) -> dict[str, Any]:
        call = {k: v for k, v in state.items() if k not in ("name", "arguments")}
        call.setdefault("type", "function")
        if call["type"] == "function" or "name" in state:
            call["function"] = {
                "name": state.get("name", ""),
                "arguments": "".join(state["arguments"]),
            }
        return call


class _MessageAccumulator:
    """Rebuild an Anthropic message from its stream events."""

    def __init__(self) -> None:
        self.message: dict[str, Any] | None = None
        self.blocks: dict[int, dict[str, Any]] = {}
        self.partial_json: dict[int, list[str]] = {}
        self.stopped = False

    def add(self, event: Mapping[str, Any]) -> bool:
        """Take in one event; return False for one this does not understand."""
        kind = event.get("type")
        if kind == "message_start":
            self.message = dict(event.get("message") or {})
        elif kind == "content_block_start":
            self.blocks[event.get("index") or 0] = dict(event.get("content_block") or {})
        elif kind == "content_block_delta":
            return self._delta(event.get("index") or 0, event.get("delta") or {})
        elif kind == "content_block_stop":
            index = event.get("index") or 0
            parts = self.partial_json.pop(index, None)
            if parts is not None and index in self.blocks:
                try:
                    self.blocks[index]["input"] = json.loads("".join(parts) or "{}")
                except ValueError:
                    return False
        elif kind == "message_delta" and self.message is not None:
            for name, value in (event.get("delta") or {}).items():
                self.message[name] = value
            usage = dict(self.message.get("usage") or {})
            usage.update({k: v for k, v in (event.get("usage") or {}).items() if v is not None})
            self.message["usage"] = usage
        elif kind == "message_stop":
            self.stopped = True
        elif kind != "ping":
            return False
        return True

    def _delta(self, index: int, delta: Mapping[str, Any]) -> bool:
        block = self.blocks.get(index)
        if block is None:
            return False
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = (block.get("text") or "") + (delta.get("text") or "")
        elif kind == "input_json_delta":
            self.partial_json.setdefault(index, []).append(delta.get("partial_json") or "")
        elif kind == "thinking_delta":
            block["thinking"] = (block.get("thinking") or "") + (delta.get("thinking") or "")
        elif kind == "signature_delta":
            block["signature"] = delta.get("signature")
        elif kind == "citations_delta":
            block["citations"] = [*(block.get("citations") or []), delta.get("citation")]
        else:
            return False
        return True

    def result(self) -> dict[str, Any] | None:
        if self.message is None or not self.stopped:
            return None  # the stream ended before message_stop: not a whole answer
        return {**self.message, "content": [self.blocks[i] for i in sorted(self.blocks)]}


def accumulate_events(events: Iterable[Mapping[str, Any]], api: Api) -> dict[str, Any] | None:
    """Rebuild the complete response from a stream's events, as sent without streaming.

    Args:
        events: The stream's chunks or events, as JSON dicts, in order.
        api: ``"openai.chat"`` or ``"anthropic.messages"``.

    Returns:
        The response as a JSON dict, or None when the events are not a whole answer (an
        Anthropic stream without ``message_stop``), hold an event this does not understand,
        or are for another API.
    """
    accumulator = _accumulator(api)
    if accumulator is None:
        return None
    for event in events:
        if not accumulator.add(event):
            return None
    return accumulator.result()


class _Accumulator(Protocol):
    def add(self, event: Mapping[str, Any], /) -> bool: ...
    def result(self) -> dict[str, Any] | None: ...


def _accumulator(api: Api) -> _Accumulator | None:
    if api == "openai.chat":
        return _ChatAccumulator()
    if api == "anthropic.messages":
        return _MessageAccumulator()
    return None


# -- SDK classes, found lazily ---------------------------------------------------------------


def _sdk_family(client: object) -> str | None:
    """Return ``"openai"`` or ``"anthropic"`` when *client*'s class comes from that SDK."""
    for klass in type(client).__mro__:
        package = klass.__module__.partition(".")[0]
        if package in _SDKS:
            return package
    return None


def _sdk_classes(family: str | None, api: Api) -> tuple[Any, dict[str, Any]]:
    """Import the SDK's response and stream event classes for *api*, if it is installed."""
    try:
        if family == "openai" and api == "openai.chat":
            from openai.types.chat import ChatCompletion, ChatCompletionChunk

            return ChatCompletion, {"chunk": ChatCompletionChunk}
        if family == "openai" and api == "openai.responses":
            from openai.types.responses import Response

            return Response, {}
        if family == "anthropic" and api == "anthropic.messages":
            from anthropic.types import (
                Message,
                RawContentBlockDeltaEvent,
                RawContentBlockStartEvent,
                RawContentBlockStopEvent,
                RawMessageDeltaEvent,
                RawMessageStartEvent,
                RawMessageStopEvent,
            )

            return Message, {
                "message_start": RawMessageStartEvent,
                "content_block_start": RawContentBlockStartEvent,
                "content_block_delta": RawContentBlockDeltaEvent,
                "content_block_stop": RawContentBlockStopEvent,
                "message_delta": RawMessageDeltaEvent,
                "message_stop": RawMessageStopEvent,
            }
    except ImportError as exc:  # an SDK too old or too new to have these names
        logger.debug("cannot import the %s classes (%s); cached answers stay dicts", api, exc)
    return None, {}


def _build(cls: Any, data: dict[str, Any]) -> Any:
    """Return *data* as an instance of the pydantic model *cls* (the dict itself without one)."""
    if cls is None:
        return data
    try:
        return cls.model_validate(data)
    except (ValueError, TypeError):
        # Stored by another SDK version: build it as leniently as the SDK parses responses.
        return cls.model_construct(**data)


def _is_model_class(cls: type) -> bool:
    return callable(getattr(cls, "model_validate", None)) and callable(
        getattr(cls, "model_construct", None)
    )


def _event_key(api: Api, event: Mapping[str, Any]) -> str:
    return "chunk" if api == "openai.chat" else str(event.get("type"))


class _Endpoint:
    """One wrapped ``create`` method: its API, and the classes its answers are rebuilt as."""

    def __init__(
        self,
        cache: LLMCache,
        create: Callable[..., Any],
        api: Api,
        *,
        family: str | None,
        scope: Scope | Callable[[], Scope],
    ) -> None:
        self.cache = cache
        self.create = create
        self.api: Api = api
        self.family = family
        self.scope = scope
        self._classes: tuple[Any, dict[str, Any]] | None = None

    # The first real answer teaches the class; an SDK client's is imported on first need.
    def classes(self) -> tuple[Any, dict[str, Any]]:
        if self._classes is None:
            self._classes = _sdk_classes(self.family, self.api)
        return self._classes

    def learn_response(self, result: Any) -> None:
        response_cls, events = self.classes()
        if response_cls is None and _is_model_class(type(result)):
            self._classes = (type(result), events)

    def learn_event(self, key: str, event: Any) -> None:
        _response_cls, events = self.classes()
        if key not in events and _is_model_class(type(event)):
            events[key] = type(event)

    def rebuild(self, body: dict[str, Any]) -> Any:
        return _build(self.classes()[0], body)

    def rebuild_event(self, event: dict[str, Any]) -> Any:
        return _build(self.classes()[1].get(_event_key(self.api, event)), event)

    # -- per call ---------------------------------------------------------------------------

    def prepare(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], Scope, float | None] | None:
        """Pop the cache's own arguments from *kwargs*; return (request, scope, ttl).

        Returns None when the request cannot be keyed (no model, say): the call then goes to
        the provider untouched, which reports the problem in its own words.

        Raises:
            ConfigurationError: No usable scope, or a ttl that is not a positive number.
        """
        scope = kwargs.pop(_SCOPE_KWARG, _UNSET)
        ttl = kwargs.pop(_TTL_KWARG, None)
        if scope is _UNSET:
            scope = self.scope() if callable(self.scope) else self.scope
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0
        ):
            raise ConfigurationError(
                "cache_ttl must be a positive number of seconds", field=_TTL_KWARG
            )
        request = _wire_request(kwargs)
        try:
            self.cache.key(request, scope=scope, api=self.api)
        except ConfigurationError as exc:
            if exc.field in _CALLER_FIELDS:
                raise
            logger.debug("not caching an LLM request that cannot be keyed: %s", exc)
            return None
        return request, scope, None if ttl is None else float(ttl)


def _wire_request(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Return the parameters *kwargs* put on the wire: what the cache key must cover."""
    request = {
        k: v for k, v in kwargs.items() if k != "extra_body" and type(v).__name__ not in _SENTINELS
    }
    extra = kwargs.get("extra_body")
    if isinstance(extra, Mapping):
        # The SDKs merge extra_body into the JSON body, over the named arguments.
        request.update(extra)
    elif extra is not None:
        request["extra_body"] = extra
    return request


def _is_async(create: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(create):
        return True
    try:
        # The SDKs wrap create() in a plain decorator (functools.wraps) that returns the coroutine.
        return inspect.iscoroutinefunction(inspect.unwrap(create))
    except ValueError:
        return False


# -- sync I/O shells -------------------------------------------------------------------------


def _sync_create(endpoint: _Endpoint) -> Callable[..., Any]:
    real = endpoint.create

    def create(*args: Any, **kwargs: Any) -> Any:
        prepared = endpoint.prepare(kwargs)
        if prepared is None or args:
            return real(*args, **kwargs)
        request, scope, ttl = prepared
        cache, api = endpoint.cache, endpoint.api
        if kwargs.get("stream") is True:
            if api == "openai.responses":
                return real(**kwargs)  # Responses streams are not cached (see wrap_client)
            cached = cache.get(request, scope=scope, api=api)
            if cached is not None:
                return _ReplayStream(endpoint, replay_events(cached, api, request))

            def store(body: dict[str, Any]) -> None:
                cache.set(request, body, scope=scope, api=api, ttl=ttl)

            return _RecordingStream(endpoint, real(**kwargs), store)
        result = cache.call(request, lambda: real(**kwargs), scope=scope, api=api, ttl=ttl)
        if isinstance(result, dict):
            return endpoint.rebuild(result)
        endpoint.learn_response(result)
        return result

    return create


class _ReplayStream:
    """A cached answer, replayed as the stream of chunks the provider would have sent."""

    def __init__(self, endpoint: _Endpoint, events: list[dict[str, Any]]) -> None:
        self._endpoint = endpoint
        self._events = iter(events)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return self._endpoint.rebuild_event(next(self._events))

    def __enter__(self) -> _ReplayStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the replay; further iteration ends at once."""
        self._events = iter(())


class _RecordingStream:
    """The provider's stream, passed through chunk by chunk and stored once it ends well.

    Nothing is stored when the consumer stops early (break, `close`) or the stream fails.
    Every other attribute is the provider stream's.
    """

    def __init__(
        self, endpoint: _Endpoint, stream: Any, store: Callable[[dict[str, Any]], None]
    ) -> None:
        self._stream = stream
        self._iterator = self._record(endpoint, stream, store)

    @staticmethod
    def _record(
        endpoint: _Endpoint, stream: Any, store: Callable[[dict[str, Any]], None]
    ) -> Generator[Any, None, None]:
        accumulator = _accumulator(endpoint.api)
        iterator = iter(stream)
        try:
            for item in iterator:
                accumulator = _add(endpoint, accumulator, item)
                yield item
        finally:
            # Stopped early: close the SDK's own generator now, not whenever it is collected.
            close = getattr(iterator, "close", None)
            if iterator is not stream and callable(close):
                close()
        # Reached only when the provider's stream ended normally and was read to its end.
        body = None if accumulator is None else accumulator.result()
        if body is None:
            logger.debug("not caching a %s stream that was not a whole answer", endpoint.api)
        else:
            store(body)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._iterator)

    def __enter__(self) -> _RecordingStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the provider's stream; an unfinished answer is not stored."""
        self._iterator.close()
        cast(_Closable, self._stream).close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _add(endpoint: _Endpoint, accumulator: _Accumulator | None, item: Any) -> _Accumulator | None:
    """Feed one streamed *item* to *accumulator*; None from then on if it cannot be followed."""
    if accumulator is None:
        return None
    event = response_dict(item)
    if event is None or not accumulator.add(event):
        logger.debug("not caching a %s stream with an unknown event", endpoint.api)
        return None
    endpoint.learn_event(_event_key(endpoint.api, event), item)
    return accumulator


# -- async I/O shells ------------------------------------------------------------------------


def _async_create(endpoint: _Endpoint) -> Callable[..., Any]:
    real = endpoint.create

    async def create(*args: Any, **kwargs: Any) -> Any:
        prepared = endpoint.prepare(kwargs)
        if prepared is None or args:
            return await real(*args, **kwargs)
        request, scope, ttl = prepared
        cache, api = endpoint.cache, endpoint.api
        if kwargs.get("stream") is True:
            if api == "openai.responses":
                return await real(**kwargs)
            cached = await cache.aget(request, scope=scope, api=api)
            if cached is not None:
                return _AsyncReplayStream(endpoint, replay_events(cached, api, request))

            async def store(body: dict[str, Any]) -> None:
                await cache.aset(request, body, scope=scope, api=api, ttl=ttl)

            return _AsyncRecordingStream(endpoint, await real(**kwargs), store)
        result = await cache.acall(request, lambda: real(**kwargs), scope=scope, api=api, ttl=ttl)
        if isinstance(result, dict):
            return endpoint.rebuild(result)
        endpoint.learn_response(result)
        return result

    return create


class _AsyncReplayStream:
    """Async twin of `_ReplayStream`."""

    def __init__(self, endpoint: _Endpoint, events: list[dict[str, Any]]) -> None:
        self._endpoint = endpoint
        self._events = iter(events)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        try:
            event = next(self._events)
        except StopIteration:
            raise StopAsyncIteration from None
        return self._endpoint.rebuild_event(event)

    async def __aenter__(self) -> _AsyncReplayStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the replay; further iteration ends at once."""
        self._events = iter(())


class _AsyncRecordingStream:
    """Async twin of `_RecordingStream`."""

    def __init__(
        self, endpoint: _Endpoint, stream: Any, store: Callable[[dict[str, Any]], Any]
    ) -> None:
        self._stream = stream
        self._iterator = self._record(endpoint, stream, store)

    @staticmethod
    async def _record(
        endpoint: _Endpoint, stream: Any, store: Callable[[dict[str, Any]], Any]
    ) -> AsyncGenerator[Any, None]:
        accumulator = _accumulator(endpoint.api)
        iterator = aiter(stream)
        try:
            async for item in iterator:
                accumulator = _add(endpoint, accumulator, item)
                yield item
        finally:
            # An async generator left suspended is only closed by the loop's finaliser: do it.
            aclose = getattr(iterator, "aclose", None)
            if iterator is not stream and callable(aclose):
                await aclose()
        body = None if accumulator is None else accumulator.result()
        if body is None:
            logger.debug("not caching a %s stream that was not a whole answer", endpoint.api)
        else:
            await store(body)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        return await anext(self._iterator)

    async def __aenter__(self) -> _AsyncRecordingStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the provider's stream; an unfinished answer is not stored."""
        await self._iterator.aclose()
        await cast(_Closable, self._stream).close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


# -- the client proxy ------------------------------------------------------------------------


class _Proxy:
    """Stands in for *target*: *overrides* first, then every attribute of the target."""

    __slots__ = ("_hp_overrides", "_hp_target")
    _hp_overrides: dict[str, Any]
    _hp_target: Any

    def __init__(self, target: object, overrides: dict[str, Any]) -> None:
        object.__setattr__(self, "_hp_target", target)
        object.__setattr__(self, "_hp_overrides", overrides)

    def __getattr__(self, name: str) -> Any:
        overrides: dict[str, Any] = object.__getattribute__(self, "_hp_overrides")
        if name in overrides:
            return overrides[name]
        return getattr(object.__getattribute__(self, "_hp_target"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._hp_target, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._hp_target, name)

    def __repr__(self) -> str:
        return f"<cached {self._hp_target!r}>"

    def __enter__(self) -> _Proxy:
        self._hp_target.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        return self._hp_target.__exit__(exc_type, exc, tb)

    async def __aenter__(self) -> _Proxy:
        await self._hp_target.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Any:
        return await self._hp_target.__aexit__(exc_type, exc, tb)


def _resolve(root: object, path: tuple[str, ...]) -> Callable[..., Any] | None:
    """Return ``root.<path>`` when every attribute exists and the last is callable."""
    value: Any = root
    for name in path:
        value = getattr(value, name, None)
        if value is None:
            return None
    return value if callable(value) else None


_ENDPOINTS: Final[tuple[tuple[tuple[str, ...], Api], ...]] = (
    (("chat", "completions", "create"), "openai.chat"),
    (("responses", "create"), "openai.responses"),
    (("messages", "create"), "anthropic.messages"),
)


def wrap_client(cache: LLMCache, client: T, *, scope: Scope | Callable[[], Scope]) -> T:
    """Return *client* with its answers cached in *cache*.

    The client is recognised by its shape: ``chat.completions.create`` (OpenAI Chat
    Completions), ``responses.create`` (OpenAI Responses) and ``messages.create`` (Anthropic
    Messages) are cached, sync or async as the client is; every other attribute is the
    client's own. Each create call takes two more keyword arguments, which are never sent:
    ``cache_scope=`` (this call's scope) and ``cache_ttl=`` (seconds to keep this answer).

    - A hit returns the object the client would have (for the OpenAI and Anthropic SDKs, the
      same class, rebuilt from the cached JSON), without calling the provider. Concurrent
      identical misses call the provider once.
    - With ``stream=True``, a hit replays the cached answer as a stream of the SDK's chunk or
      event objects, a few words per chunk. A miss passes the provider's stream through and
      stores the answer once the stream has been read to its end; a stream that fails or is
      closed early is not stored. Streaming and non-streaming calls share entries.
    - Provider errors propagate unchanged and are never cached; nor are truncated or empty
      answers and, unless the cache opts in, sampled ones (see `LLMCache.set`).

    Not cached, passed straight through: OpenAI Responses calls with ``stream=True``, the SDKs'
    helpers (``messages.stream()``, ``chat.completions.parse()``/``stream()``), the
    ``with_raw_response`` and ``with_streaming_response`` views and beta resources. A request
    that cannot be keyed (no model, say) also goes to the provider untouched. A replayed
    stream carries no ``logprobs``, and an OpenAI usage chunk only when the request asked for
    one and the cached answer has usage.

    Args:
        cache: Where answers are kept.
        client: An ``OpenAI``, ``AsyncOpenAI``, ``Anthropic`` or ``AsyncAnthropic`` client, or
            any object of the same shape.
        scope: A tenant or user id, `GLOBAL` to share answers between all users, or a
            callable returning one, called at each request (for example a contextvar's
            ``get``).

    Returns:
        A proxy typed as *client*'s class (``isinstance`` checks against the SDK class fail).
        ``with_options()`` and ``copy()`` return wrapped clients too.

    Raises:
        ConfigurationError: *client* has none of the three create methods. At a call: no
            usable scope, or a ``cache_ttl`` that is not a positive number.
    """
    family = _sdk_family(client)
    overrides: dict[str, Any] = {}
    for path, api in _ENDPOINTS:
        create = _resolve(client, path)
        if create is None:
            continue
        endpoint = _Endpoint(cache, create, api, family=family, scope=scope)
        wrapped = _async_create(endpoint) if _is_async(create) else _sync_create(endpoint)
        _graft(client, overrides, path, wrapped)
    if not overrides:
        raise ConfigurationError(
            f"{type(client).__name__} has no chat.completions.create, responses.create or "
            "messages.create method to cache",
            field="client",
        )
    for name in ("with_options", "copy"):
        method = getattr(client, name, None)
        if callable(method):
            overrides[name] = _rewrapping(cache, method, scope)
    return cast(T, _Proxy(client, overrides))


def _graft(root: object, overrides: dict[str, Any], path: tuple[str, ...], leaf: Any) -> None:
    """Set ``overrides[path[0]]`` to a proxy chain that ends in *leaf* at ``path[-1]``."""
    head, *rest = path
    if not rest:
        overrides[head] = leaf
        return
    existing = overrides.get(head)
    child = getattr(root, head)
    if existing is None:
        existing = _Proxy(child, {})
        overrides[head] = existing
    _graft(child, object.__getattribute__(existing, "_hp_overrides"), tuple(rest), leaf)


def _rewrapping(
    cache: LLMCache, method: Callable[..., Any], scope: Scope | Callable[[], Scope]
) -> Callable[..., Any]:
    def rewrapped(*args: Any, **kwargs: Any) -> Any:
        return wrap_client(cache, method(*args, **kwargs), scope=scope)

    return rewrapped
