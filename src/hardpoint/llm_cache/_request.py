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
        provider defaults filled in, numbers in one form, string contents turned into text
        parts, and the prose that people wrote (system prompts, instructions, message text)
        normalised with `normalize_text`. Data stays exact: tool definitions, tool call
        arguments, tool results and structured inputs are never whitespace-folded.

    Raises:
        ConfigurationError: No model, no messages/input, an unknown *api*, or a value with
            no JSON form.
    """
    if type(request) is not dict and not isinstance(request, Mapping):
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
                convert = _anthropic_message if api == "anthropic.messages" else _chat_message
                out[name] = [convert(_as_mapping(m)) for m in value]
            elif name == "system" and api == "anthropic.messages":
                out[name] = _anthropic_blocks(value)
            elif name == "instructions" and isinstance(value, str):
                out[name] = normalize_text(value)
            elif name == "input" and api == "openai.responses":
                out[name] = _responses_input(value)
            else:
                out[name] = canonical_json_value(_strip_hints(value, api))
    except (TypeError, ValueError) as exc:
        msg = f"the request cannot be canonicalised: {exc}"
        raise ConfigurationError(msg, field="request") from exc
    out["api"] = api
    return out


def _as_mapping(item: Any) -> Mapping[str, Any]:
    if type(item) is dict or isinstance(item, Mapping):  # the exact check is much cheaper
        return item
    dump = getattr(item, "model_dump", None)  # SDK message objects
    if callable(dump):
        value = dump(mode="json", exclude_none=True)
        if isinstance(value, Mapping):
            return value
    raise TypeError(f"a message is a {type(item).__name__}, not a mapping")


def _text_part(kind: str, text: str, *, prose: bool) -> dict[str, Any]:
    return {"type": kind, "text": normalize_text(text) if prose else text}


def _chat_message(message: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI chat: user/system/assistant text is prose; a tool message's content is data."""
    prose = message.get("role") != "tool"
    out: dict[str, Any] = {}
    for key, value in message.items():
        if value is None:
            continue  # {"content": None} and no content key are the same message
        if key == "content":
            if isinstance(value, str):
                # A plain string is one text part: both reach the model the same way.
                out[key] = [_text_part("text", value, prose=prose)]
            else:
                out[key] = [_chat_part(_as_mapping(p), prose=prose) for p in value]
        else:
            out[key] = canonical_json_value(value)
    return out


def _chat_part(part: Mapping[str, Any], *, prose: bool) -> dict[str, Any]:
    if part.get("type") == "text" and isinstance(part.get("text"), str):
        rest = {k: canonical_json_value(v) for k, v in part.items() if k != "text"}
        return {**rest, "text": normalize_text(part["text"]) if prose else part["text"]}
    return dict(canonical_json_value(part))


def _anthropic_message(message: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in message.items():
        if value is None:
            continue
        out[key] = _anthropic_blocks(value) if key == "content" else canonical_json_value(value)
    return out


def _anthropic_blocks(value: Any, *, prose: bool = True) -> list[Any]:
    """Anthropic content or system: a string is one text block; hints are dropped."""
    if isinstance(value, str):
        return [_text_part("text", value, prose=prose)]
    blocks: list[Any] = []
    for raw in value:
        block = {k: v for k, v in _as_mapping(raw).items() if k != "cache_control"}
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            rest = {k: canonical_json_value(v) for k, v in block.items() if k != "text"}
            text = block["text"]
            blocks.append({**rest, "text": normalize_text(text) if prose else text})
        elif kind == "tool_result" and block.get("content") is not None:
            # A tool's output is data: the string and one-block forms are equal, but the
            # text itself is kept exactly.
            rest = {k: canonical_json_value(v) for k, v in block.items() if k != "content"}
            blocks.append({**rest, "content": _anthropic_blocks(block["content"], prose=False)})
        else:
            blocks.append(canonical_json_value(_strip_hints(block, "anthropic.messages")))
    return blocks


def _responses_input(value: Any) -> list[Any]:
    """Responses API input: a string is one user message; message text parts are prose."""
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    items: list[Any] = []
    for raw in value:
        item = _as_mapping(raw)
        if item.get("type", "message") != "message":
            items.append(canonical_json_value(item))  # function_call_output etc.: data
            continue
        role = item.get("role", "user")
        kind = "output_text" if role == "assistant" else "input_text"
        out: dict[str, Any] = {"type": "message"}
        for key, val in item.items():
            if val is None:
                continue
            if key == "content":
                if isinstance(val, str):
                    out[key] = [_text_part(kind, val, prose=True)]
                else:
                    out[key] = [_responses_part(_as_mapping(p)) for p in val]
            else:
                out[key] = canonical_json_value(val)
        items.append(out)
    return items


def _responses_part(part: Mapping[str, Any]) -> dict[str, Any]:
    if part.get("type") in ("input_text", "output_text") and isinstance(part.get("text"), str):
        rest = {k: canonical_json_value(v) for k, v in part.items() if k != "text"}
        return {**rest, "text": normalize_text(part["text"])}
    return dict(canonical_json_value(part))


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
    """Hash a canonical request (sorted-key JSON) into 32 hex characters (SHA-256, truncated).

    The hashed bytes are those of the standard library's encoder (sorted keys, no spaces, no
    ASCII escaping), so the key is the same in every process whatever JSON library it has
    installed. orjson, when installed, writes them 10-15x faster; it is used only where its
    output is the same bytes (see `_material`). SHA-256 runs in hardware on current x86 and
    ARM CPUs: 2x faster than BLAKE2b there.
    """
    return hashlib.sha256(_material(canonical)).hexdigest()[:32]


def _std_material(canonical: Mapping[str, Any]) -> bytes:
    material = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return material.encode("utf-8", "surrogatepass")


def _exotic_float(value: Any) -> bool:
    """Whether *value* holds a float whose text differs between orjson and the stdlib.

    They agree on every float that `repr` writes without an exponent; orjson writes 1e-7
    where the stdlib writes 1e-07, and small numbers in full. Walks containers only: strings,
    however long, cost one type check, and leaves are checked without a call.
    """
    kind = type(value)
    if kind is dict:
        items: Any = value.values()
    elif kind is list:
        items = value
    elif isinstance(value, float):  # a float subclass too: the stdlib writes its repr
        return value != 0 and not 1e-4 <= abs(value) < 1e16
    else:
        return False
    for item in items:
        kind = type(item)
        if kind is str or kind is int or kind is bool or item is None:
            continue
        if kind is float:
            if item != 0 and not 1e-4 <= abs(item) < 1e16:
                return True
        elif _exotic_float(item):
            return True
    return False


try:
    import orjson
except ModuleNotFoundError:  # pragma: no cover - the tests install it; _std_material is tested
    _material = _std_material
else:
    _orjson_dumps = orjson.dumps
    _SORT_KEYS: Final = orjson.OPT_SORT_KEYS

    def _material(canonical: Mapping[str, Any]) -> bytes:
        """The stdlib's bytes for *canonical*, written by orjson where it writes the same.

        orjson refuses what it cannot write the same way (integers beyond 64 bits, lone
        surrogates); those requests, and any with an exotic float, take the stdlib path.
        """
        if _exotic_float(canonical):
            return _std_material(canonical)
        try:
            data: bytes = _orjson_dumps(canonical, option=_SORT_KEYS)
        except TypeError:
            return _std_material(canonical)
        return data


def request_text(canonical: Mapping[str, Any]) -> str:
    """Return the prose of a canonical request (system, instructions, message text parts)."""
    parts: list[str] = []
    for name in ("system", "instructions"):
        value = canonical.get(name)
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, list):
            parts.extend(b["text"] for b in value if isinstance(b, dict) and "text" in b)
    for message in canonical.get("messages") or canonical.get("input") or ():
        if not isinstance(message, dict):
            continue
        parts.extend(
            part["text"]
            for part in message.get("content") or ()
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return "\n".join(parts)
