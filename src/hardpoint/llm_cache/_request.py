"""The canonical form of an LLM request, and its key. Pure functions, no I/O.

Everything that can change a model's answer is kept; what cannot (``stream``, the end-user
id sent for abuse monitoring, metadata, Anthropic's ``cache_control`` hints) is dropped, so a
streaming and a non-streaming call share an entry. Unknown parameters are kept: an extra
miss is cheap, a wrong hit is not.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final, Literal

from hardpoint.errors import ConfigurationError
from hardpoint.llm_cache._normalize import canonical_json_value, normalize_text

__all__ = ["Api", "canonical_request", "detect_api", "request_digest", "request_text"]

Api = Literal["openai.chat", "openai.responses", "anthropic.messages"]
APIS: Final[tuple[Api, ...]] = ("openai.chat", "openai.responses", "anthropic.messages")

# Parameters that change how or where an answer is delivered or billed, not what it says.
_DROPPED: Final = frozenset(
    {
        "stream",
        "stream_options",
        "user",  # OpenAI: the end user's id, for abuse monitoring
        "metadata",
        "store",
        "service_tier",
        "timeout",
        "extra_headers",
        "extra_query",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
    }
)
# Documented provider defaults: sending the default and leaving it out mean the same call.
_DEFAULTS: Final[dict[Api, dict[str, Any]]] = {
    "openai.chat": {
        "temperature": 1,
        "top_p": 1,
        "n": 1,
        "frequency_penalty": 0,
        "presence_penalty": 0,
    },
    "openai.responses": {"temperature": 1, "top_p": 1},
    "anthropic.messages": {"temperature": 1},
}
# Keys whose string values are prose to normalise, wherever they appear in messages.
_TEXT_KEYS: Final = frozenset({"text", "content", "instructions", "system", "input"})


def detect_api(request: Mapping[str, Any]) -> Api:
    """Guess which API *request* is for, from its shape.

    ``input`` means the OpenAI Responses API; a top-level ``system`` or a ``claude`` model
    means Anthropic Messages; otherwise OpenAI Chat Completions.
    """
    if "input" in request and "messages" not in request:
        return "openai.responses"
    model = request.get("model")
    if "system" in request or (isinstance(model, str) and model.startswith("claude")):
        return "anthropic.messages"
    return "openai.chat"


def canonical_request(request: Mapping[str, Any], *, api: Api | None = None) -> dict[str, Any]:
    """Return the canonical form of a provider request: what the cache key hashes.

    Args:
        request: The keyword arguments of ``chat.completions.create``,
            ``responses.create`` or ``messages.create``.
        api: Which of those; guessed from the shape when omitted (see `detect_api`).

    Returns:
        A JSON-ready dict: the API name, every parameter that can change the answer with
        provider defaults filled in, message text normalised (see `normalize_text`), string
        contents turned into text parts, numbers in one form.

    Raises:
        ConfigurationError: No model, no messages/input, an unknown *api*, or a value with
            no JSON form.
    """
    if not isinstance(request, Mapping):
        raise ConfigurationError("request must be a mapping of request parameters", field="request")
    api = api or detect_api(request)
    if api not in APIS:
        raise ConfigurationError(f"unknown api {api!r}; one of {', '.join(APIS)}", field="api")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        raise ConfigurationError("the request has no model", field="model")
    body_key = "input" if api == "openai.responses" else "messages"
    if request.get(body_key) is None:
        raise ConfigurationError(f"the request has no {body_key}", field=body_key)
    out: dict[str, Any] = dict(_DEFAULTS[api])
    try:
        for name, value in request.items():
            if name in _DROPPED or value is None:
                continue
            if name == "messages":
                out[name] = [_message(m, api) for m in value]
            elif name == "input" and isinstance(value, str):
                # Responses API: a string input is one user message with that text.
                out[name] = [{"role": "user", "content": normalize_text(value)}]
            elif name == "system" and isinstance(value, str):
                # Anthropic: a string system prompt is one text block.
                out[name] = [{"type": "text", "text": normalize_text(value)}]
            elif name in ("system", "instructions", "input"):
                out[name] = _prose(value, api)
            else:
                out[name] = canonical_json_value(_strip_hints(value, api))
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"the request cannot be canonicalised: {exc}", field="request"
        ) from exc
    out["api"] = api
    return out


def _message(message: Any, api: Api) -> Any:
    if not isinstance(message, Mapping):
        dump = getattr(message, "model_dump", None)
        if not callable(dump):
            raise TypeError(f"a message is a {type(message).__name__}, not a mapping")
        message = dump(mode="json", exclude_none=True)
    out: dict[str, Any] = {}
    for key, value in message.items():
        if value is None:
            continue  # {"content": None} and no content key are the same message
        if key == "content":
            out[key] = _content(value, api)
        else:
            out[key] = canonical_json_value(_strip_hints(value, api))
    return out


def _content(value: Any, api: Api) -> Any:
    if isinstance(value, str):
        # A plain string is one text part: both forms reach the model the same way.
        return [{"type": "text", "text": normalize_text(value)}]
    return _prose(value, api)


def _prose(value: Any, api: Api) -> Any:
    """Normalise the prose inside *value* (a string, or parts and items holding strings)."""
    if isinstance(value, str):
        return normalize_text(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None or (api == "anthropic.messages" and key == "cache_control"):
                continue
            if isinstance(item, str) and key in _TEXT_KEYS:
                out[str(key)] = normalize_text(item)
            elif key == "content" and isinstance(item, list):
                out[str(key)] = [_prose(part, api) for part in item]
            else:
                out[str(key)] = (
                    _prose(item, api)
                    if isinstance(item, (list, Mapping))
                    else (canonical_json_value(item))
                )
        return out
    if isinstance(value, (list, tuple)):
        return [_prose(v, api) for v in value]
    return canonical_json_value(value)


def _strip_hints(value: Any, api: Api) -> Any:
    """Drop Anthropic's ``cache_control`` hints: they change billing, not the answer."""
    if api != "anthropic.messages":
        return value
    if isinstance(value, Mapping):
        return {k: _strip_hints(v, api) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_hints(v, api) for v in value]
    return value


def request_digest(canonical: Mapping[str, Any]) -> str:
    """Hash a canonical request (sorted-key JSON) into 32 hex characters (BLAKE2b-128).

    The standard library's encoder is used on purpose: the bytes, and so the keys, are the
    same in every process whatever optional JSON library it has installed.
    """
    material = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(material.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def request_text(canonical: Mapping[str, Any]) -> str:
    """Return the prose of a canonical request (system, instructions, messages), for TTL rules."""
    parts: list[str] = []

    def walk(value: Any, key: str | None) -> None:
        if isinstance(value, str):
            if key in _TEXT_KEYS:
                parts.append(value)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, str(k))
        elif isinstance(value, list):
            for v in value:
                walk(v, key)

    for name in ("system", "instructions", "input", "messages"):
        if name in canonical:
            walk(canonical[name], name)
    return "\n".join(parts)
