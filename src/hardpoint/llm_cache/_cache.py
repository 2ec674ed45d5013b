"""`LLMCache`: exact reuse of LLM answers, keyed on everything that changes them."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypeVar

from hardpoint._internal.clock import SYSTEM_CLOCK, Clock
from hardpoint._internal.singleflight import AsyncSingleFlight, SingleFlight
from hardpoint.cache._serde import CorruptEntryError, JsonCodec, Serializer
from hardpoint.cache._typecodec import TypeCodec
from hardpoint.errors import ConfigurationError, SerializationError
from hardpoint.events import SINK, Event
from hardpoint.llm_cache._policy import Category, Pricing, TTLPolicy
from hardpoint.llm_cache._request import Api, canonical_request, request_digest, request_text

if TYPE_CHECKING:
    from hardpoint.cache import CacheBackend

__all__ = ["GLOBAL", "CacheStats", "LLMCache", "LLMCacheHit", "LLMCacheMiss", "Scope"]

T = TypeVar("T")

logger = logging.getLogger("hardpoint.llm_cache")


class _Global:
    """The scope that shares entries between every user and tenant, on purpose."""

    _instance: _Global | None = None

    def __new__(cls) -> _Global:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "GLOBAL"


GLOBAL: Final = _Global()
"""Pass ``scope=GLOBAL`` to share an answer between all users (never for user-specific prompts)."""

Scope = str | _Global


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMCacheHit(Event):
    """An LLM answer was served from the cache."""

    component = "llm_cache"
    model: str
    input_tokens: int
    output_tokens: int
    dollars_saved: float


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMCacheMiss(Event):
    """No cached answer; *cacheable* says whether the answer may be stored."""

    component = "llm_cache"
    model: str
    cacheable: bool


@dataclass(frozen=True, slots=True)
class CacheStats:
    """A snapshot of an `LLMCache`'s counters since it was created (or `reset_stats`).

    Attributes:
        hits: Lookups answered from the cache (each one a provider call saved).
        misses: Lookups of cacheable requests that found nothing.
        bypassed: Lookups skipped because the request may not be cached (for example
            temperature above 0 without a seed).
        stores: Answers stored.
        rejected: Answers not stored (errors, empty or truncated output, user-specific
            prompt in the GLOBAL scope).
        errors: Backend failures (each served as a miss or a skipped store).
        coalesced: Callers of `call`/`acall` that shared a concurrent caller's provider
            call instead of making their own (each one a provider call saved).
        input_tokens_saved: Prompt tokens of the answers served from the cache or shared.
        output_tokens_saved: Completion tokens of the answers served from the cache or shared.
        dollars_saved: Estimated by the `Pricing` table.
        lookup_seconds: Total time spent in lookups.
    """

    hits: int
    misses: int
    bypassed: int
    stores: int
    rejected: int
    errors: int
    coalesced: int
    input_tokens_saved: int
    output_tokens_saved: int
    dollars_saved: float
    lookup_seconds: float

    @property
    def lookups(self) -> int:
        """Hits plus misses (bypassed lookups are not counted)."""
        return self.hits + self.misses

    @property
    def hit_rate(self) -> float:
        """Hits over hits plus misses; 0.0 before the first lookup."""
        return self.hits / self.lookups if self.lookups else 0.0

    @property
    def calls_saved(self) -> int:
        """Provider calls avoided: one per hit and one per coalesced caller."""
        return self.hits + self.coalesced

    @property
    def mean_lookup_seconds(self) -> float:
        """Mean time of a lookup (hits and misses)."""
        return self.lookup_seconds / self.lookups if self.lookups else 0.0


class _Counters:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, float] = {}

    def add(self, **deltas: float) -> None:
        with self.lock:
            for name, delta in deltas.items():
                self.values[name] = self.values.get(name, 0) + delta

    def snapshot(self) -> CacheStats:
        with self.lock:
            v = dict(self.values)
        return CacheStats(
            hits=int(v.get("hits", 0)),
            misses=int(v.get("misses", 0)),
            bypassed=int(v.get("bypassed", 0)),
            stores=int(v.get("stores", 0)),
            rejected=int(v.get("rejected", 0)),
            errors=int(v.get("errors", 0)),
            coalesced=int(v.get("coalesced", 0)),
            input_tokens_saved=int(v.get("input_tokens_saved", 0)),
            output_tokens_saved=int(v.get("output_tokens_saved", 0)),
            dollars_saved=v.get("dollars_saved", 0.0),
            lookup_seconds=v.get("lookup_seconds", 0.0),
        )


_RESPONSE_CODEC: Final = TypeCodec(dict[str, Any], owner="hardpoint.llm_cache")
_STOPPED_OK: Final = frozenset({"stop", "tool_calls", "function_call"})
_ANTHROPIC_OK: Final = frozenset({"end_turn", "stop_sequence", "tool_use"})


@dataclass(frozen=True, slots=True)
class _Prepared:
    """Everything derived from one request: its key, whether and how long to cache."""

    key: str
    model: str
    api: Api
    cacheable: bool
    category: Category
    ttl: float


class LLMCache:
    """An exact cache of LLM answers over a `hardpoint.cache` backend.

    Two requests share an entry only if every parameter that can change the answer is the
    same after canonicalisation (see `canonical_request`) *and* they are in the same scope.

    Args:
        backend: Where entries live; default: the backend of `hardpoint.cache.get_cache()`
            (memory unless Redis is configured), looked up at each call.
        namespace: Key prefix; change it to drop every entry at once.
        ttl_policy: Picks a TTL from the prompt's words when no explicit TTL is given.
        pricing: Token prices for the dollars-saved estimate.
        cache_temperature_above_zero: Also cache sampled answers (temperature above 0
            without a seed), which then repeat instead of varying.
        clock: Time source for entry timestamps.

    Raises:
        ConfigurationError: An empty namespace.
    """

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        namespace: str = "llm",
        ttl_policy: TTLPolicy | None = None,
        pricing: Pricing | None = None,
        cache_temperature_above_zero: bool = False,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if not namespace:
            raise ConfigurationError("namespace must not be empty", field="namespace")
        self._backend = backend
        self.namespace = namespace
        self.ttl_policy = ttl_policy or TTLPolicy()
        self.pricing = pricing or Pricing()
        self.cache_temperature_above_zero = cache_temperature_above_zero
        self._clock = clock
        self._serializer = Serializer(JsonCodec())
        self._counters = _Counters()
        self._flight = SingleFlight()
        self._aflight = AsyncSingleFlight()

    def __repr__(self) -> str:
        return f"LLMCache(namespace={self.namespace!r}, backend={self.backend!r})"

    @property
    def backend(self) -> CacheBackend:
        """The backend in use now."""
        if self._backend is not None:
            return self._backend
        from hardpoint.cache import get_cache

        return get_cache()

    # -- keys and policy --------------------------------------------------------------------

    def key(self, request: Mapping[str, Any], *, scope: Scope, api: Api | None = None) -> str:
        """Return the cache key of *request* in *scope*.

        Raises:
            ConfigurationError: A missing or empty scope, or a malformed request.
        """
        return self._prepare(request, scope=scope, api=api, ttl=None).key

    def _prepare(
        self,
        request: Mapping[str, Any],
        *,
        scope: Scope,
        api: Api | None,
        ttl: float | None,
        need_ttl: bool = False,
    ) -> _Prepared:
        scope_part = _scope_part(scope)
        canonical = canonical_request(request, api=api)
        digest = request_digest(canonical)
        # Only a store needs the TTL category: scanning the prompt's words costs more than
        # building the key, so lookups skip it.
        if need_ttl:
            category, auto_ttl = self.ttl_policy.classify(request_text(canonical))
        else:
            category, auto_ttl = "generic", self.ttl_policy.generic
        temperature = canonical.get("temperature", 1)
        sampled = isinstance(temperature, (int, float)) and temperature > 0
        cacheable = not sampled or "seed" in canonical or self.cache_temperature_above_zero
        if ttl is not None and not ttl > 0:
            raise ConfigurationError("ttl must be a positive number of seconds", field="ttl")
        return _Prepared(
            key=f"{self.namespace}:{scope_part}:{digest}",
            model=str(canonical["model"]),
            api=canonical["api"],
            cacheable=cacheable,
            category=category,
            ttl=auto_ttl if ttl is None else float(ttl),
        )

    # -- lookups ---------------------------------------------------------------------------

    def get(
        self, request: Mapping[str, Any], *, scope: Scope, api: Api | None = None
    ) -> dict[str, Any] | None:
        """Return the cached response for *request* in *scope*, or None.

        The response is the provider's JSON as a dict. Requests that may not be cached
        (temperature above 0 without a seed, unless opted in) always return None.

        Raises:
            ConfigurationError: A missing scope or a malformed request.
        """
        prepared = self._prepare(request, scope=scope, api=api, ttl=None)
        if not prepared.cacheable:
            self._counters.add(bypassed=1)
            return None
        start = time.perf_counter()
        backend = self.backend
        try:
            data = backend.get(prepared.key)
        except Exception as exc:
            self._failed("get", exc)
            data = None
        return self._answer(prepared, data, start)

    async def aget(
        self, request: Mapping[str, Any], *, scope: Scope, api: Api | None = None
    ) -> dict[str, Any] | None:
        """Async twin of `get`."""
        prepared = self._prepare(request, scope=scope, api=api, ttl=None)
        if not prepared.cacheable:
            self._counters.add(bypassed=1)
            return None
        start = time.perf_counter()
        backend = self.backend
        try:
            data = await backend.aget(prepared.key)
        except Exception as exc:
            self._failed("get", exc)
            data = None
        return self._answer(prepared, data, start)

    def _answer(
        self, prepared: _Prepared, data: bytes | None, start: float
    ) -> dict[str, Any] | None:
        response: dict[str, Any] | None = None
        if data is not None:
            try:
                value = self._serializer.loads(data, _RESPONSE_CODEC).value
            except CorruptEntryError as exc:
                logger.warning("discarding an unreadable LLM cache entry: %s", exc)
            else:
                response = value if isinstance(value, dict) else None
        elapsed = time.perf_counter() - start
        if response is None:
            self._counters.add(misses=1, lookup_seconds=elapsed)
            if SINK.active:
                SINK.emit(LLMCacheMiss(model=prepared.model, cacheable=True))
            return None
        input_tokens, output_tokens = usage_tokens(response, prepared.api)
        dollars = self.pricing.cost(prepared.model, input_tokens, output_tokens)
        self._counters.add(
            hits=1,
            lookup_seconds=elapsed,
            input_tokens_saved=input_tokens,
            output_tokens_saved=output_tokens,
            dollars_saved=dollars,
        )
        if SINK.active:
            SINK.emit(
                LLMCacheHit(
                    model=prepared.model,
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    dollars_saved=dollars,
                )
            )
        return response

    # -- stores ----------------------------------------------------------------------------

    def set(
        self,
        request: Mapping[str, Any],
        response: Mapping[str, Any] | Any,
        *,
        scope: Scope,
        api: Api | None = None,
        ttl: float | None = None,
    ) -> bool:
        """Store *response* for *request* in *scope*, if it may be reused.

        Args:
            request: The request parameters.
            response: The provider's response, as a dict or an SDK object (``model_dump``).
            scope: A tenant or user id, or `GLOBAL`.
            api: Which API (guessed from the request when omitted).
            ttl: Seconds to keep it; default from the `TTLPolicy`.

        Returns:
            Whether it was stored. Not stored: uncacheable requests, error responses,
            empty output, output cut short (length, content filter), user-specific prompts
            in the GLOBAL scope, and backend failures.
        """
        encoded = self._encode(request, response, scope=scope, api=api, ttl=ttl)
        if encoded is None:
            return False
        key, data, seconds = encoded
        try:
            self.backend.set(key, data, ttl=seconds)
        except Exception as exc:
            self._failed("set", exc)
            return False
        self._counters.add(stores=1)
        return True

    async def aset(
        self,
        request: Mapping[str, Any],
        response: Mapping[str, Any] | Any,
        *,
        scope: Scope,
        api: Api | None = None,
        ttl: float | None = None,
    ) -> bool:
        """Async twin of `set`."""
        encoded = self._encode(request, response, scope=scope, api=api, ttl=ttl)
        if encoded is None:
            return False
        key, data, seconds = encoded
        try:
            await self.backend.aset(key, data, ttl=seconds)
        except Exception as exc:
            self._failed("set", exc)
            return False
        self._counters.add(stores=1)
        return True

    def _encode(
        self,
        request: Mapping[str, Any],
        response: Mapping[str, Any] | Any,
        *,
        scope: Scope,
        api: Api | None,
        ttl: float | None,
    ) -> tuple[str, bytes, float] | None:
        prepared = self._prepare(request, scope=scope, api=api, ttl=ttl, need_ttl=True)
        body = response_dict(response)
        reason = None
        if not prepared.cacheable:
            reason = "sampled request (temperature above 0 without a seed)"
        elif prepared.category == "user_specific" and scope is GLOBAL:
            reason = "user-specific prompt in the GLOBAL scope"
        elif body is None:
            reason = "the response is not a JSON object"
        else:
            reason = unusable_reason(body, prepared.api)
        if reason is not None or body is None:
            logger.debug("not caching an LLM answer: %s", reason)
            self._counters.add(rejected=1)
            return None
        now = self._clock.time()
        try:
            data = self._serializer.dumps(
                body,
                _RESPONSE_CODEC,
                created_at=now,
                soft_expires_at=now + prepared.ttl,
                compute_time=0.0,
            )
        except SerializationError as exc:
            logger.warning("not caching an LLM answer that is not plain JSON: %s", exc)
            self._counters.add(rejected=1)
            return None
        return prepared.key, data, prepared.ttl

    # -- get or call -----------------------------------------------------------------------

    def call(
        self,
        request: Mapping[str, Any],
        provider: Callable[[], Any],
        *,
        scope: Scope,
        api: Api | None = None,
        ttl: float | None = None,
    ) -> dict[str, Any] | Any:
        """Return the cached answer, or call *provider* once for all concurrent callers.

        Concurrent identical calls (same key) in this process share one lookup and, on a
        miss, one provider call; the callers that shared are counted as ``coalesced``. The
        provider's result is stored when it may be reused and returned as it is. Sampled
        requests (not cacheable) always call the provider themselves.
        """
        prepared = self._prepare(request, scope=scope, api=api, ttl=None)
        if not prepared.cacheable:
            # A sampled request must vary: no sharing, not even between concurrent callers.
            self._counters.add(bypassed=1)
            result = provider()
            self.set(request, result, scope=scope, api=api, ttl=ttl)
            return result
        led = False

        def get_or_fetch() -> Any:
            # Concurrent identical callers share the lookup too, not only the provider call:
            # a burst of N callers makes one backend read, not N.
            nonlocal led
            led = True
            cached = self.get(request, scope=scope, api=api)
            if cached is not None:
                return cached
            result = provider()
            self.set(request, result, scope=scope, api=api, ttl=ttl)
            return result

        result = self._flight.do(prepared.key, get_or_fetch)
        if not led:
            self._coalesced(prepared, result)
        return result

    async def acall(
        self,
        request: Mapping[str, Any],
        provider: Callable[[], Awaitable[Any]],
        *,
        scope: Scope,
        api: Api | None = None,
        ttl: float | None = None,
    ) -> dict[str, Any] | Any:
        """Async twin of `call`."""
        prepared = self._prepare(request, scope=scope, api=api, ttl=None)
        if not prepared.cacheable:
            # A sampled request must vary: no sharing, not even between concurrent callers.
            self._counters.add(bypassed=1)
            result = await provider()
            await self.aset(request, result, scope=scope, api=api, ttl=ttl)
            return result
        led = False

        async def get_or_fetch() -> Any:
            nonlocal led
            led = True
            cached = await self.aget(request, scope=scope, api=api)
            if cached is not None:
                return cached
            result = await provider()
            await self.aset(request, result, scope=scope, api=api, ttl=ttl)
            return result

        result = await self._aflight.do(prepared.key, get_or_fetch)
        if not led:
            self._coalesced(prepared, result)
        return result

    def _coalesced(self, prepared: _Prepared, result: Any) -> None:
        """Count a caller that shared another caller's provider call: a call saved."""
        body = response_dict(result)
        tokens = usage_tokens(body, prepared.api) if body is not None else (0, 0)
        self._counters.add(
            coalesced=1,
            input_tokens_saved=tokens[0],
            output_tokens_saved=tokens[1],
            dollars_saved=self.pricing.cost(prepared.model, *tokens),
        )

    def wrap(self, client: T, *, scope: Scope | Callable[[], Scope]) -> T:
        """Return *client* (an OpenAI or Anthropic SDK client, sync or async) cached here.

        ``chat.completions.create``, ``responses.create`` and ``messages.create`` go through
        the cache (streaming too: hits replay as chunks); everything else passes through.
        A call may override the scope with ``cache_scope=`` and the TTL with
        ``cache_ttl=``; both are removed before the request is sent.

        Args:
            client: The SDK client. No SDK is imported by hardpoint: it is duck-typed.
            scope: A tenant or user id, `GLOBAL`, or a callable returning one per call
                (for example a context variable's ``get``).

        Raises:
            ConfigurationError: The client has none of the supported ``create`` methods.
        """
        from hardpoint.llm_cache._wrap import wrap_client  # _wrap imports this module

        return wrap_client(self, client, scope=scope)

    # -- the design document's helper form -------------------------------------------------

    def get_cached_response(
        self,
        *,
        prompt: str,
        model: str,
        temperature: float | None = None,
        scope: Scope,
        system: str | None = None,
    ) -> str | None:
        """Return the cached text answer to a one-message prompt, or None."""
        response = self.get(_prompt_request(prompt, model, temperature, system), scope=scope)
        return None if response is None else response_text(response, "openai.chat")

    def cache_response(
        self,
        *,
        prompt: str,
        model: str,
        response: str,
        temperature: float | None = None,
        scope: Scope,
        system: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        """Store the text answer to a one-message prompt; return whether it was stored."""
        request = _prompt_request(prompt, model, temperature, system)
        return self.set(request, _text_response(model, response), scope=scope, ttl=ttl)

    async def aget_cached_response(
        self,
        *,
        prompt: str,
        model: str,
        temperature: float | None = None,
        scope: Scope,
        system: str | None = None,
    ) -> str | None:
        """Async twin of `get_cached_response`."""
        request = _prompt_request(prompt, model, temperature, system)
        response = await self.aget(request, scope=scope)
        return None if response is None else response_text(response, "openai.chat")

    async def acache_response(
        self,
        *,
        prompt: str,
        model: str,
        response: str,
        temperature: float | None = None,
        scope: Scope,
        system: str | None = None,
        ttl: float | None = None,
    ) -> bool:
        """Async twin of `cache_response`."""
        request = _prompt_request(prompt, model, temperature, system)
        return await self.aset(request, _text_response(model, response), scope=scope, ttl=ttl)

    # -- statistics ------------------------------------------------------------------------

    def stats(self) -> CacheStats:
        """Return a snapshot of the counters."""
        return self._counters.snapshot()

    def reset_stats(self) -> None:
        """Set every counter back to zero."""
        with self._counters.lock:
            self._counters.values.clear()

    def _failed(self, operation: str, exc: Exception) -> None:
        self._counters.add(errors=1)
        logger.warning(
            "LLM cache backend failed on %s (%s); going to the provider",
            operation,
            type(exc).__name__,
        )


def _scope_part(scope: Scope) -> str:
    if scope is GLOBAL:
        return "global"
    if not isinstance(scope, str) or not scope:
        raise ConfigurationError(
            "scope is required: a tenant or user id (a non-empty str), or GLOBAL to share "
            "answers between all users on purpose",
            field="scope",
        )
    return _hashed_scope(scope)


@functools.lru_cache(maxsize=4096)
def _hashed_scope(scope: str) -> str:
    # Hashed: a scope is an identifier, not something to put verbatim into a key. The same
    # few tenants ask again and again, so the hashes are remembered.
    return (
        "s-" + hashlib.blake2b(scope.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
    )


def _prompt_request(
    prompt: str, model: str, temperature: float | None, system: str | None
) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": prompt})
    request: dict[str, Any] = {"model": model, "messages": messages}
    if temperature is not None:
        request["temperature"] = temperature
    return request


def _text_response(model: str, text: str) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
    }


def response_dict(response: Any) -> dict[str, Any] | None:
    """Return *response* as a JSON dict (SDK objects through ``model_dump``)."""
    if isinstance(response, Mapping):
        return dict(response)
    dump = getattr(response, "model_dump", None)
    if callable(dump):
        value = dump(mode="json", exclude_unset=True)
        return value if isinstance(value, dict) else None
    return None


def unusable_reason(body: Mapping[str, Any], api: Api) -> str | None:
    """Return why *body* must not be reused, or None when it may."""
    if body.get("error") or body.get("type") == "error":
        return "an error response"
    if api == "openai.chat":
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices:
            return "no choices"
        for choice in choices:
            if not isinstance(choice, Mapping):
                return "a malformed choice"
            if choice.get("finish_reason") not in _STOPPED_OK:
                return f"finish_reason {choice.get('finish_reason')!r}"
            message = choice.get("message") or {}
            if (
                not message.get("content")
                and not message.get("tool_calls")
                and not (message.get("function_call"))
            ):
                return "empty output"
        return None
    if api == "openai.responses":
        if body.get("status") not in (None, "completed") or body.get("incomplete_details"):
            return f"status {body.get('status')!r}"
        if not body.get("output"):
            return "empty output"
        return None
    if body.get("stop_reason") not in _ANTHROPIC_OK:
        return f"stop_reason {body.get('stop_reason')!r}"
    if not body.get("content"):
        return "empty output"
    return None


def usage_tokens(body: Mapping[str, Any], api: Api) -> tuple[int, int]:
    """Return (input, output) tokens from a response's usage block (0 when absent)."""
    usage = body.get("usage")
    if type(usage) is not dict and not isinstance(usage, Mapping):
        return 0, 0
    if api == "openai.chat":
        names = ("prompt_tokens", "completion_tokens")
    else:
        names = ("input_tokens", "output_tokens")
    values = [usage.get(n) for n in names]
    return tuple(v if isinstance(v, int) else 0 for v in values)  # type: ignore[return-value]  # two ints


def response_text(body: Mapping[str, Any], api: Api) -> str | None:
    """Return the text of the first answer in *body*."""
    if api == "openai.chat":
        choices = body.get("choices") or [{}]
        content = (choices[0].get("message") or {}).get("content")
        return content if isinstance(content, str) else None
    if api == "anthropic.messages":
        texts = [b.get("text", "") for b in body.get("content") or [] if b.get("type") == "text"]
        return "".join(texts) or None
    texts = []
    for item in body.get("output") or []:
        for part in item.get("content") or []:
            if part.get("type") == "output_text":
                texts.append(part.get("text", ""))
    return "".join(texts) or None
