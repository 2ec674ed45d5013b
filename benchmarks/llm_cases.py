"""The LLM cache key corpus: request pairs that must share a key, and pairs that must not.

Plain data, importable by the tests (``tests/llm_cache/test_cases.py``) and the benchmark
(``benchmarks/llm_cache_bench.py``) alike: standard library only, no hardpoint import.

- `MUST_HIT`: ``(name, request_a, request_b)``: two spellings of the same call (JSON key order,
  ``0`` vs ``0.0``, provider defaults, stream, end-user ids and metadata, whitespace that
  cannot change an answer, Unicode forms, string vs text-part content, Anthropic hints...).
- `MUST_NOT`: ``(name, request_a, request_b)``: calls whose answers may differ (model, one word,
  a negation, a number, roles, order, tools, sampling parameters, indentation, spaces inside
  code, images, scope, API...).

Requests are the keyword arguments of ``chat.completions.create`` (OpenAI chat),
``responses.create`` (OpenAI Responses) or ``messages.create`` (Anthropic Messages). Most use
temperature 0 or a seed, so that the cache would store them.

The scope and the API are not part of a request: they are arguments of
``LLMCache.key(request, scope=..., api=...)``. `key_args` gives them per case and side:
`DEFAULT_SCOPE` and ``api=None`` (guessed from the shape) unless `KEY_ARGS` says otherwise.
`GLOBAL_SCOPE` stands for ``hardpoint.llm_cache.GLOBAL``, which users of the corpus substitute.
"""

from __future__ import annotations

from typing import Any, Final, Literal, TypedDict

__all__ = [
    "DEFAULT_SCOPE",
    "GLOBAL_SCOPE",
    "KEY_ARGS",
    "MUST_HIT",
    "MUST_NOT",
    "ApiName",
    "Case",
    "KeyArgs",
    "key_args",
]

ApiName = Literal["openai.chat", "openai.responses", "anthropic.messages"]
Request = dict[str, Any]
Case = tuple[str, Request, Request]


class KeyArgs(TypedDict):
    """The arguments of ``LLMCache.key`` besides the request, for one side of a case."""

    scope: str
    api: ApiName | None


DEFAULT_SCOPE: Final = "tenant-a"
GLOBAL_SCOPE: Final = "<GLOBAL>"  # stands for hardpoint.llm_cache.GLOBAL

GPT: Final = "gpt-4o-mini"
CLAUDE: Final = "claude-sonnet-4-20250514"

SUPPORT: Final = (
    "You are a concise support assistant for Acme Cloud. Answer in at most three sentences "
    "and link to the documentation when you can."
)
REVIEWER: Final = (
    "You are a senior Python reviewer. Point out bugs first, then style. Quote the lines you "
    "talk about."
)
TRANSLATOR: Final = "You translate English into French. Reply with the translation only."
WEATHER_TOOL: Final[Request] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Paris"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}
WEATHER_TOOL_REORDERED: Final[Request] = {
    "function": {
        "strict": True,
        "parameters": {
            "additionalProperties": False,
            "required": ["city"],
            "properties": {
                "unit": {"enum": ["celsius", "fahrenheit"], "type": "string"},
                "city": {"description": "City name, e.g. Paris", "type": "string"},
            },
            "type": "object",
        },
        "description": "Current weather for a city.",
        "name": "get_weather",
    },
    "type": "function",
}
ANTHROPIC_TOOL: Final[Request] = {
    "name": "lookup_order",
    "description": "Look up an order by its id.",
    "input_schema": {
        "type": "object",
        "properties": {"order_id": {"type": "string", "pattern": "^A[0-9]{6}$"}},
        "required": ["order_id"],
    },
}
CODE_4: Final = (
    "Why does this raise?\n\n```python\ndef total(items):\n    for item in items:\n"
    "        s = item.price\n    return s\n```"
)
CODE_8: Final = (
    "Why does this raise?\n\n```python\ndef total(items):\n    for item in items:\n"
    "        s = item.price\n        return s\n```"
)


WRITE_FILE_TOOL: Final[Request] = {
    "name": "write_file",
    "description": "Create or overwrite a file in the workspace.",
    "input_schema": {
        "type": "object",
        "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        "required": ["path", "content"],
    },
}


def _write_file(source: str) -> tuple[Request, Request, Request]:
    """An Anthropic exchange in which the model wrote *source* to a file with a tool."""
    return (
        {"role": "user", "content": "Create demo.py that splits a string, then run it."},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "toolu_07",
                    "name": "write_file",
                    "input": {"path": "demo.py", "content": source},
                }
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_07", "content": "written"}],
        },
    )


def _user(text: str) -> Request:
    return {"role": "user", "content": text}


def _system(text: str) -> Request:
    return {"role": "system", "content": text}


def _assistant(text: str) -> Request:
    return {"role": "assistant", "content": text}


def _chat(*messages: Request, **params: Any) -> Request:
    """A chat-completions request at temperature 0 (override or drop with ``temperature=None``)."""
    request: Request = {"model": GPT, "messages": list(messages), "temperature": 0}
    request.update(params)
    return {k: v for k, v in request.items() if v is not None}


def _reasoning(*messages: Request, **params: Any) -> Request:
    """A chat request to a reasoning model: no temperature (it only takes 1), a seed."""
    return _chat(*messages, model="o4-mini", temperature=None, seed=13, **params)


def _claude(*messages: Request, **params: Any) -> Request:
    """An Anthropic Messages request at temperature 0 with max_tokens 1024."""
    request: Request = {
        "model": CLAUDE,
        "max_tokens": 1024,
        "messages": list(messages),
        "temperature": 0,
    }
    request.update(params)
    return {k: v for k, v in request.items() if v is not None}


def _responses(input_: Any, **params: Any) -> Request:
    """An OpenAI Responses request at temperature 0."""
    request: Request = {"model": "gpt-4.1-mini", "input": input_, "temperature": 0}
    request.update(params)
    return {k: v for k, v in request.items() if v is not None}


_Q: Final = "How do I rotate the API key of a project without downtime?"

MUST_HIT: list[Case] = [
    # --- OpenAI chat completions: JSON spelling -------------------------------------------
    (
        "chat: top-level JSON key order",
        {"model": GPT, "messages": [_system(SUPPORT), _user(_Q)], "temperature": 0, "seed": 7},
        {"seed": 7, "temperature": 0, "messages": [_system(SUPPORT), _user(_Q)], "model": GPT},
    ),
    (
        "chat: key order inside messages",
        _chat(_system(SUPPORT), _user(_Q)),
        _chat({"content": SUPPORT, "role": "system"}, {"content": _Q, "role": "user"}),
    ),
    (
        "chat: temperature 0 vs 0.0",
        _chat(_user(_Q), temperature=0),
        _chat(_user(_Q), temperature=0.0),
    ),
    (
        "chat: temperature missing vs 1.0 (the provider default)",
        _chat(_user("Write a haiku about on-call."), temperature=None, seed=11),
        _chat(_user("Write a haiku about on-call."), temperature=1.0, seed=11),
    ),
    (
        "chat: seed 42 vs 42.0",
        _chat(_user(_Q), temperature=0.7, seed=42),
        _chat(_user(_Q), temperature=0.7, seed=42.0),
    ),
    (
        "chat: max_tokens 256 vs 256.0",
        _chat(_user(_Q), max_tokens=256),
        _chat(_user(_Q), max_tokens=256.0),
    ),
    (
        "chat: n=1 vs missing",
        _chat(_user(_Q), n=1),
        _chat(_user(_Q)),
    ),
    (
        "chat: top_p=1 vs missing",
        _chat(_user(_Q), top_p=1),
        _chat(_user(_Q)),
    ),
    (
        "chat: top_p=1.0 vs missing",
        _chat(_user(_Q), top_p=1.0),
        _chat(_user(_Q)),
    ),
    (
        "chat: frequency/presence penalty 0 vs missing",
        _chat(_user(_Q), frequency_penalty=0, presence_penalty=0.0),
        _chat(_user(_Q)),
    ),
    # --- delivery, billing and tracking parameters -------------------------------------
    (
        "chat: stream=True (with stream_options) vs stream=False",
        _chat(_user(_Q), stream=True, stream_options={"include_usage": True}),
        _chat(_user(_Q), stream=False),
    ),
    (
        "chat: stream=True vs stream missing",
        _chat(_system(SUPPORT), _user(_Q), stream=True),
        _chat(_system(SUPPORT), _user(_Q)),
    ),
    (
        "chat: end-user id present vs absent",
        _chat(_user(_Q), user="user-8841"),
        _chat(_user(_Q)),
    ),
    (
        "chat: metadata and store present vs absent",
        _chat(_user(_Q), store=True, metadata={"feature": "helpdesk", "ticket": "T-1931"}),
        _chat(_user(_Q)),
    ),
    (
        "chat: service_tier and prompt_cache_key present vs absent",
        _chat(_user(_Q), service_tier="auto", prompt_cache_key="helpdesk-v3"),
        _chat(_user(_Q)),
    ),
    (
        "chat: safety_identifier differs",
        _chat(_user(_Q), safety_identifier="a1b2c3"),
        _chat(_user(_Q), safety_identifier="ffee99"),
    ),
    (
        "chat: SDK-only options (timeout, extra_headers) present vs absent",
        _chat(_user(_Q), timeout=30, extra_headers={"X-Request-Id": "r-77"}),
        _chat(_user(_Q)),
    ),
    # --- whitespace and Unicode that cannot change an answer ---------------------------
    (
        "chat: CRLF vs LF line endings",
        _chat(_user("Summarise these notes:\r\n- deploy at 10:00\r\n- rollback plan ready")),
        _chat(_user("Summarise these notes:\n- deploy at 10:00\n- rollback plan ready")),
    ),
    (
        "chat: lone CR vs LF line endings",
        _chat(_user("Line one of the log\rLine two of the log\rWhat failed?")),
        _chat(_user("Line one of the log\nLine two of the log\nWhat failed?")),
    ),
    (
        "chat: trailing spaces at line ends",
        _chat(_user("Translate to German:   \nThe build is green.  \nShip it. ")),
        _chat(_user("Translate to German:\nThe build is green.\nShip it.")),
    ),
    (
        "chat: trailing tabs at line ends",
        _chat(_user("Name the HTTP status for 'Too Many Requests'.\t\t")),
        _chat(_user("Name the HTTP status for 'Too Many Requests'.")),
    ),
    (
        "chat: blank lines at the start and end",
        _chat(_user("\n\n\nWhat is a reverse proxy?\n\n")),
        _chat(_user("What is a reverse proxy?")),
    ),
    (
        "chat: whitespace-only edge lines",
        _chat(_user("   \n\t\nList three SQL isolation levels.\n   \n")),
        _chat(_user("List three SQL isolation levels.")),
    ),
    (
        "chat: runs of spaces in prose",
        _chat(_user("Explain  the difference   between a mutex and  a semaphore.")),
        _chat(_user("Explain the difference between a mutex and a semaphore.")),
    ),
    (
        "chat: runs of spaces in prose around a code block that is identical",
        _chat(_user("Does  this   compile?\n```c\nint  x =  1;\n```\nThanks  a lot.")),
        _chat(_user("Does this compile?\n```c\nint  x =  1;\n```\nThanks a lot.")),
    ),
    (
        "chat: trailing spaces and CRLF inside a code block",
        _chat(_user("Review:\r\n```python\r\ndef f(x):   \r\n    return x  \r\n```\r\n")),
        _chat(_user("Review:\n```python\ndef f(x):\n    return x\n```")),
    ),
    (
        "chat: NFC vs NFD (Latin accents)",
        _chat(_user("Traduis « café crème » et « naïve » pour Zürich.")),
        _chat(_user("Traduis « cafe\u0301 cre\u0300me » et « nai\u0308ve » pour Zu\u0308rich.")),
    ),
    (
        "chat: NFC vs NFD (Hangul syllables vs jamo)",
        _chat(
            _user("\ud55c\uad6d\uc5b4\ub85c \ubc88\uc5ed\ud574 \uc8fc\uc138\uc694: good morning")
        ),
        _chat(
            _user(
                "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165\u1105\u1169 "
                "\u1107\u1165\u11ab\u110b\u1167\u11a8\u1112\u1162 "
                "\u110c\u116e\u1109\u1166\u110b\u116d: good morning"
            )
        ),
    ),
    # --- content shapes --------------------------------------------------------------
    (
        "chat: string content vs one text part",
        _chat(_system(SUPPORT), _user(_Q)),
        _chat(_system(SUPPORT), {"role": "user", "content": [{"type": "text", "text": _Q}]}),
    ),
    (
        "chat: system string vs one system text part",
        _chat(_system(REVIEWER), _user("Is `x == None` fine?")),
        _chat(
            {"role": "system", "content": [{"type": "text", "text": REVIEWER}]},
            _user("Is `x == None` fine?"),
        ),
    ),
    (
        "chat: tool message string vs one text part",
        _chat(
            _user("Weather in Paris?"),
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 18}'},
            tools=[WEATHER_TOOL],
        ),
        _chat(
            _user("Weather in Paris?"),
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": "call_1",
                "content": [{"type": "text", "text": '{"temp_c": 18}'}],
            },
            tools=[WEATHER_TOOL],
        ),
    ),
    (
        "chat: assistant tool-call message content None vs absent",
        _chat(
            _user("Weather in Oslo?"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_9", "content": '{"temp_c": -3}'},
            tools=[WEATHER_TOOL],
        ),
        _chat(
            _user("Weather in Oslo?"),
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_9", "content": '{"temp_c": -3}'},
            tools=[WEATHER_TOOL],
        ),
    ),
    (
        "chat: text part with trailing spaces next to an image",
        _chat(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is wrong in this chart?  \n"},
                    {"type": "image_url", "image_url": {"url": "https://ex.com/q3.png"}},
                ],
            }
        ),
        _chat(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is wrong in this chart?"},
                    {"type": "image_url", "image_url": {"url": "https://ex.com/q3.png"}},
                ],
            }
        ),
    ),
    (
        "chat: multi-turn with CRLF in the assistant turn",
        _chat(
            _system(SUPPORT),
            _user("My deploy fails."),
            _assistant("Which region?\r\nAnd which plan?"),
            _user("eu-west, Pro plan."),
        ),
        _chat(
            _system(SUPPORT),
            _user("My deploy fails."),
            _assistant("Which region?\nAnd which plan?"),
            _user("eu-west, Pro plan."),
        ),
    ),
    (
        "chat: explicit None parameters vs absent",
        {
            "model": GPT,
            "messages": [_user(_Q)],
            "temperature": 0,
            "max_tokens": None,
            "stop": None,
            "tools": None,
            "seed": None,
        },
        _chat(_user(_Q)),
    ),
    # --- tools and structured output ---------------------------------------------------
    (
        "chat: tools with keys reordered",
        _chat(_user("Weather in Paris?"), tools=[WEATHER_TOOL], tool_choice="auto"),
        _chat(_user("Weather in Paris?"), tool_choice="auto", tools=[WEATHER_TOOL_REORDERED]),
    ),
    (
        "chat: tool_choice object with keys reordered",
        _chat(
            _user("Weather in Rome?"),
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ),
        _chat(
            _user("Weather in Rome?"),
            tools=[WEATHER_TOOL],
            tool_choice={"function": {"name": "get_weather"}, "type": "function"},
        ),
    ),
    (
        "chat: response_format json_schema with outer keys reordered",
        _chat(
            _user("Extract the invoice number and total: INV-204, 99.50 EUR"),
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "invoice",
                    "strict": True,
                    "schema": {
                        "type": "object",
                        "properties": {"number": {"type": "string"}, "total": {"type": "number"}},
                        "required": ["number", "total"],
                        "additionalProperties": False,
                    },
                },
            },
        ),
        _chat(
            _user("Extract the invoice number and total: INV-204, 99.50 EUR"),
            response_format={
                "json_schema": {
                    "schema": {
                        "additionalProperties": False,
                        "required": ["number", "total"],
                        "type": "object",
                        "properties": {"number": {"type": "string"}, "total": {"type": "number"}},
                    },
                    "strict": True,
                    "name": "invoice",
                },
                "type": "json_schema",
            },
        ),
    ),
    (
        "chat: integral float in a tool schema (maximum 10 vs 10.0)",
        _chat(
            _user("Rate this answer from 0 to 10."),
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "rate",
                        "parameters": {
                            "type": "object",
                            "properties": {"score": {"type": "number", "maximum": 10}},
                        },
                    },
                }
            ],
        ),
        _chat(
            _user("Rate this answer from 0 to 10."),
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": "rate",
                        "parameters": {
                            "type": "object",
                            "properties": {"score": {"type": "number", "maximum": 10.0}},
                        },
                    },
                }
            ],
        ),
    ),
    # --- OpenAI Responses ----------------------------------------------------------------
    (
        "responses: string input vs one user message",
        _responses("Give me three names for a caching library."),
        _responses([{"role": "user", "content": "Give me three names for a caching library."}]),
    ),
    (
        "responses: string input vs one user message with an input_text part",
        _responses("Give me three names for a caching library."),
        _responses(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "Give me three names for a caching library."}
                    ],
                }
            ]
        ),
    ),
    (
        "responses: string input vs an item with an explicit type=message",
        _responses("Give me three names for a caching library."),
        _responses(
            [
                {
                    "type": "message",
                    "role": "user",
                    "content": "Give me three names for a caching library.",
                }
            ]
        ),
    ),
    (
        "responses: top-level key order",
        {"model": "gpt-4.1-mini", "instructions": SUPPORT, "input": _Q, "temperature": 0},
        {"temperature": 0, "input": _Q, "instructions": SUPPORT, "model": "gpt-4.1-mini"},
    ),
    (
        "responses: CRLF and trailing spaces in instructions",
        _responses(_Q, instructions="You are terse.  \r\nUse bullet points.\r\n"),
        _responses(_Q, instructions="You are terse.\nUse bullet points."),
    ),
    (
        "responses: temperature missing vs 1",
        _responses("Suggest a team offsite activity.", temperature=None),
        _responses("Suggest a team offsite activity.", temperature=1),
    ),
    (
        "responses: top_p 1 vs missing",
        _responses(_Q, top_p=1),
        _responses(_Q),
    ),
    (
        "responses: stream, store, metadata and user vs none",
        _responses(_Q, stream=True, store=False, metadata={"trace": "t-1"}, user="u-5"),
        _responses(_Q),
    ),
    (
        "responses: NFD vs NFC input",
        _responses("Explique la diffe\u0301rence entre « de\u0301ja\u0300 » et « pre\u0301sent »."),
        _responses("Explique la différence entre « déjà » et « présent »."),
    ),
    (
        "responses: runs of spaces and edge blank lines in input",
        _responses("\n\nCompare  Redis   and Memcached for  session storage.\n"),
        _responses("Compare Redis and Memcached for session storage."),
    ),
    (
        "responses: text.format json_schema with keys reordered",
        _responses(
            "Classify: 'The app crashes on login.'",
            text={
                "format": {
                    "type": "json_schema",
                    "name": "triage",
                    "strict": True,
                    "schema": {
                        "type": "object",
                        "properties": {"severity": {"type": "string", "enum": ["low", "high"]}},
                        "required": ["severity"],
                        "additionalProperties": False,
                    },
                }
            },
        ),
        _responses(
            "Classify: 'The app crashes on login.'",
            text={
                "format": {
                    "schema": {
                        "additionalProperties": False,
                        "required": ["severity"],
                        "properties": {"severity": {"enum": ["low", "high"], "type": "string"}},
                        "type": "object",
                    },
                    "strict": True,
                    "name": "triage",
                    "type": "json_schema",
                }
            },
        ),
    ),
    # --- Anthropic Messages ------------------------------------------------------------
    (
        "anthropic: string system vs one text block",
        _claude(_user(_Q), system=SUPPORT),
        _claude(_user(_Q), system=[{"type": "text", "text": SUPPORT}]),
    ),
    (
        "anthropic: cache_control on the system block vs none",
        _claude(
            _user(_Q),
            system=[{"type": "text", "text": SUPPORT, "cache_control": {"type": "ephemeral"}}],
        ),
        _claude(_user(_Q), system=[{"type": "text", "text": SUPPORT}]),
    ),
    (
        "anthropic: cache_control on a message block vs none",
        _claude(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": _Q, "cache_control": {"type": "ephemeral"}},
                ],
            },
            system=SUPPORT,
        ),
        _claude({"role": "user", "content": [{"type": "text", "text": _Q}]}, system=SUPPORT),
    ),
    (
        "anthropic: cache_control on the last tool vs none",
        _claude(
            _user("Where is order A123456?"),
            tools=[{**ANTHROPIC_TOOL, "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
        ),
        _claude(_user("Where is order A123456?"), tools=[ANTHROPIC_TOOL]),
    ),
    (
        "anthropic: string content vs one text block",
        _claude(_user("Explain idempotency keys in two sentences."), system=SUPPORT),
        _claude(
            {
                "role": "user",
                "content": [{"type": "text", "text": "Explain idempotency keys in two sentences."}],
            },
            system=SUPPORT,
        ),
    ),
    (
        "anthropic: tool_result content string vs one text block",
        _claude(
            _user("Where is order A123456?"),
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "lookup_order",
                        "input": {"order_id": "A123456"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_01", "content": "shipped"},
                ],
            },
            tools=[ANTHROPIC_TOOL],
        ),
        _claude(
            _user("Where is order A123456?"),
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "lookup_order",
                        "input": {"order_id": "A123456"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01",
                        "content": [{"type": "text", "text": "shipped"}],
                    },
                ],
            },
            tools=[ANTHROPIC_TOOL],
        ),
    ),
    (
        "anthropic: temperature missing vs 1.0",
        _claude(_user("Name a colour."), temperature=None),
        _claude(_user("Name a colour."), temperature=1.0),
    ),
    (
        "anthropic: temperature 0 vs 0.0 and max_tokens 1024 vs 1024.0",
        _claude(_user(_Q), temperature=0, max_tokens=1024),
        _claude(_user(_Q), temperature=0.0, max_tokens=1024.0),
    ),
    (
        "anthropic: metadata.user_id present vs absent",
        _claude(_user(_Q), metadata={"user_id": "8c1f2e"}),
        _claude(_user(_Q)),
    ),
    (
        "anthropic: stream=True vs False",
        _claude(_user(_Q), system=SUPPORT, stream=True),
        _claude(_user(_Q), system=SUPPORT, stream=False),
    ),
    (
        "anthropic: CRLF and trailing spaces in the system prompt",
        _claude(_user(_Q), system="You are Acme's assistant.  \r\nBe brief.\r\n"),
        _claude(_user(_Q), system="You are Acme's assistant.\nBe brief."),
    ),
    (
        "anthropic: tool input_schema with keys reordered",
        _claude(_user("Where is order A123456?"), tools=[ANTHROPIC_TOOL]),
        _claude(
            _user("Where is order A123456?"),
            tools=[
                {
                    "input_schema": {
                        "required": ["order_id"],
                        "properties": {"order_id": {"pattern": "^A[0-9]{6}$", "type": "string"}},
                        "type": "object",
                    },
                    "description": "Look up an order by its id.",
                    "name": "lookup_order",
                }
            ],
        ),
    ),
    (
        "anthropic: NFD vs NFC in a user message",
        _claude(_user("Wie spät ist es in Köln?"), system=TRANSLATOR),
        _claude(_user("Wie spa\u0308t ist es in Ko\u0308ln?"), system=TRANSLATOR),
    ),
    # --- key arguments -----------------------------------------------------------------
    (
        "api: explicit openai.chat vs guessed from the shape",
        _chat(_system(SUPPORT), _user(_Q)),
        _chat(_system(SUPPORT), _user(_Q)),
    ),
    (
        "api: explicit anthropic.messages vs guessed from the shape",
        _claude(_user(_Q), system=SUPPORT),
        _claude(_user(_Q), system=SUPPORT),
    ),
    (
        "scope: the same tenant, request spelled differently",
        _chat(_user("Reset my password"), temperature=0, user="u-1"),
        _chat(_user("Reset my password  \n"), temperature=0.0),
    ),
]

_README: Final = (
    "Fix the example in my README:\n````markdown\n# Usage\n\n```python\n"
    "print({literal}.split(' '))\n```\n````"
)
_TSV_HEAD: Final = "Which rows have an empty email column?\nid\tname\temail\tphone\n"

MUST_NOT: list[Case] = [
    # --- model ---------------------------------------------------------------------------
    (
        "chat: different model",
        _chat(_user(_Q), model="gpt-4o"),
        _chat(_user(_Q), model="gpt-4o-mini"),
    ),
    (
        "chat: dated snapshot vs alias",
        _chat(_user(_Q), model="gpt-4o-2024-08-06"),
        _chat(_user(_Q), model="gpt-4o"),
    ),
    # --- the words -----------------------------------------------------------------------
    (
        "chat: one word differs",
        _chat(_user("What is the population of Paris?")),
        _chat(_user("What is the population of Lyon?")),
    ),
    (
        "chat: negation (is vs is not)",
        _chat(_user("Explain why this function is thread-safe.")),
        _chat(_user("Explain why this function is not thread-safe.")),
    ),
    (
        "chat: negation (can vs cannot)",
        _chat(_user("List the cases where a Lambda can reach the VPC.")),
        _chat(_user("List the cases where a Lambda cannot reach the VPC.")),
    ),
    (
        "chat: a number differs (3 vs 4)",
        _chat(_user("Give me 3 tips for faster CI builds.")),
        _chat(_user("Give me 4 tips for faster CI builds.")),
    ),
    (
        "chat: a decimal differs (1.0 vs 1.5)",
        _chat(_user("Scale the dose by 1.0 for a 70 kg adult.")),
        _chat(_user("Scale the dose by 1.5 for a 70 kg adult.")),
    ),
    (
        "chat: number spelling in text (1.10.0 vs 1.1.0)",
        _chat(_user("Is version 1.10.0 newer than 1.9.0?")),
        _chat(_user("Is version 1.1.0 newer than 1.9.0?")),
    ),
    (
        "chat: trailing spaces vs a different number",
        _chat(_user("Round 2.45 to one decimal.  ")),
        _chat(_user("Round 2.46 to one decimal.")),
    ),
    (
        "chat: punctuation differs",
        _chat(_user("Add commas: Let's eat, grandma")),
        _chat(_user("Add commas: Let's eat grandma")),
    ),
    (
        "chat: letter case differs",
        _chat(_system(TRANSLATOR), _user("US")),
        _chat(_system(TRANSLATOR), _user("us")),
    ),
    (
        "chat: paragraph break vs line break",
        _chat(_user("Format as Markdown:\nTitle\n\nBody text")),
        _chat(_user("Format as Markdown:\nTitle\nBody text")),
    ),
    # --- system prompt, roles, order -----------------------------------------------------
    (
        "chat: different system prompt",
        _chat(_system(SUPPORT), _user(_Q)),
        _chat(_system(REVIEWER), _user(_Q)),
    ),
    (
        "chat: system prompt present vs absent",
        _chat(_system(SUPPORT), _user(_Q)),
        _chat(_user(_Q)),
    ),
    (
        "chat: same text as user vs assistant",
        _chat(_system(SUPPORT), _user("The deploy failed.")),
        _chat(_system(SUPPORT), _assistant("The deploy failed.")),
    ),
    (
        "chat: same text as system vs user",
        _chat(_system("Answer in French."), _user("Hello!")),
        _chat(_user("Answer in French."), _user("Hello!")),
    ),
    (
        "chat: message order swapped",
        _chat(_user("Step A: build."), _user("Step B: test.")),
        _chat(_user("Step B: test."), _user("Step A: build.")),
    ),
    (
        "chat: extra user message",
        _chat(_user(_Q)),
        _chat(_user(_Q), _user("Use the CLI, not the console.")),
    ),
    (
        "chat: extra assistant turn in the history",
        _chat(_user("Pick a number."), _user("Double it.")),
        _chat(_user("Pick a number."), _assistant("7"), _user("Double it.")),
    ),
    (
        "chat: participant name differs",
        _chat({"role": "user", "name": "alice", "content": "What did I ask before?"}),
        _chat({"role": "user", "name": "bob", "content": "What did I ask before?"}),
    ),
    # --- tools and structured output -----------------------------------------------------
    (
        "chat: tools present vs absent",
        _chat(_user("Weather in Paris?"), tools=[WEATHER_TOOL]),
        _chat(_user("Weather in Paris?")),
    ),
    (
        "chat: tool description differs",
        _chat(_user("Weather in Paris?"), tools=[WEATHER_TOOL]),
        _chat(
            _user("Weather in Paris?"),
            tools=[
                {
                    **WEATHER_TOOL,
                    "function": {
                        **WEATHER_TOOL["function"],
                        "description": "Weather forecast for tomorrow.",
                    },
                }
            ],
        ),
    ),
    (
        "chat: tool parameter enum differs",
        _chat(_user("Weather in Paris?"), tools=[WEATHER_TOOL]),
        _chat(
            _user("Weather in Paris?"),
            tools=[
                {
                    "type": "function",
                    "function": {
                        **WEATHER_TOOL["function"],
                        "parameters": {
                            "type": "object",
                            "properties": {
                                "city": {"type": "string", "description": "City name, e.g. Paris"},
                                "unit": {"type": "string", "enum": ["kelvin"]},
                            },
                            "required": ["city"],
                            "additionalProperties": False,
                        },
                    },
                }
            ],
        ),
    ),
    (
        "chat: tool_choice auto vs required",
        _chat(_user("Weather in Paris?"), tools=[WEATHER_TOOL], tool_choice="auto"),
        _chat(_user("Weather in Paris?"), tools=[WEATHER_TOOL], tool_choice="required"),
    ),
    (
        "chat: tool_choice forced function vs none",
        _chat(
            _user("Weather in Paris?"),
            tools=[WEATHER_TOOL],
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
        ),
        _chat(_user("Weather in Paris?"), tools=[WEATHER_TOOL], tool_choice="none"),
    ),
    (
        "chat: tool call arguments differ in the history",
        _chat(
            _user("Weather?"),
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 18}'},
            tools=[WEATHER_TOOL],
        ),
        _chat(
            _user("Weather?"),
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Nice"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 18}'},
            tools=[WEATHER_TOOL],
        ),
    ),
    (
        "chat: tool result differs",
        _chat(
            _user("Weather in Paris?"),
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 18}'},
            tools=[WEATHER_TOOL],
        ),
        _chat(
            _user("Weather in Paris?"),
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"temp_c": 28}'},
            tools=[WEATHER_TOOL],
        ),
    ),
    (
        "chat: response_format json_object vs absent",
        _chat(_user("List two primes as JSON."), response_format={"type": "json_object"}),
        _chat(_user("List two primes as JSON.")),
    ),
    (
        "chat: json_schema strict true vs false",
        _chat(
            _user("Extract: INV-204, 99.50 EUR"),
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "inv", "strict": True, "schema": {"type": "object"}},
            },
        ),
        _chat(
            _user("Extract: INV-204, 99.50 EUR"),
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "inv", "strict": False, "schema": {"type": "object"}},
            },
        ),
    ),
    # --- sampling and length -------------------------------------------------------------
    (
        "chat: temperature 0 vs 0.7 (seeded)",
        _chat(_user(_Q), temperature=0, seed=5),
        _chat(_user(_Q), temperature=0.7, seed=5),
    ),
    (
        "chat: temperature 0 vs missing (missing is 1.0)",
        _chat(_user(_Q), temperature=0, seed=5),
        _chat(_user(_Q), temperature=None, seed=5),
    ),
    (
        "chat: seed 1 vs 2",
        _chat(_user("Invent a product name."), temperature=0.9, seed=1),
        _chat(_user("Invent a product name."), temperature=0.9, seed=2),
    ),
    (
        "chat: seed present vs absent at temperature 0",
        _chat(_user(_Q), seed=7),
        _chat(_user(_Q)),
    ),
    (
        "chat: max_tokens 100 vs 200",
        _chat(_user(_Q), max_tokens=100),
        _chat(_user(_Q), max_tokens=200),
    ),
    (
        "chat: max_tokens set vs missing",
        _chat(_user(_Q), max_tokens=64),
        _chat(_user(_Q)),
    ),
    (
        "chat: stop sequences differ",
        _chat(_user("List fruits, one per line."), stop=["\n"]),
        _chat(_user("List fruits, one per line."), stop=["\n\n"]),
    ),
    (
        "chat: stop present vs absent",
        _chat(_user("List fruits, one per line."), stop=["4."]),
        _chat(_user("List fruits, one per line.")),
    ),
    (
        "chat: n 1 vs 3",
        _chat(_user("Suggest a commit message."), seed=3, n=1),
        _chat(_user("Suggest a commit message."), seed=3, n=3),
    ),
    (
        "chat: top_p 0.1 vs missing",
        _chat(_user(_Q), top_p=0.1),
        _chat(_user(_Q)),
    ),
    (
        "chat: frequency_penalty 0 vs 0.5",
        _chat(_user(_Q), frequency_penalty=0),
        _chat(_user(_Q), frequency_penalty=0.5),
    ),
    (
        "chat: logit_bias differs",
        _chat(_user("Answer yes or no: is 7 prime?"), logit_bias={"9642": 10}),
        _chat(_user("Answer yes or no: is 7 prime?"), logit_bias={"2201": 10}),
    ),
    (
        "chat: logprobs requested vs not",
        _chat(_user("Is 7 prime?"), logprobs=True, top_logprobs=3),
        _chat(_user("Is 7 prime?")),
    ),
    (
        "chat: reasoning_effort low vs high",
        _reasoning(_user("Prove that sqrt(2) is irrational."), reasoning_effort="low"),
        _reasoning(_user("Prove that sqrt(2) is irrational."), reasoning_effort="high"),
    ),
    # --- code and indentation ------------------------------------------------------------
    (
        "chat: Python indentation in a fenced block (4 vs 8 spaces)",
        _chat(_system(REVIEWER), _user(CODE_4)),
        _chat(_system(REVIEWER), _user(CODE_8)),
    ),
    (
        "chat: spaces inside a string literal in a fenced block",
        _chat(_user("What does this print?\n```python\nprint('a  b'.split(' '))\n```")),
        _chat(_user("What does this print?\n```python\nprint('a b'.split(' '))\n```")),
    ),
    (
        "chat: alignment spaces inside a ~~~ fenced block",
        _chat(_user("Is this table aligned?\n~~~\nname   | age\nbob    | 7\n~~~")),
        _chat(_user("Is this table aligned?\n~~~\nname | age\nbob | 7\n~~~")),
    ),
    (
        "chat: Makefile recipe tab vs spaces in a fenced block",
        _chat(_user("Why does make fail?\n```make\nbuild:\n\tgo build ./...\n```")),
        _chat(_user("Why does make fail?\n```make\nbuild:\n    go build ./...\n```")),
    ),
    (
        "chat: indentation of a nested Markdown list (outside code)",
        _chat(_user("Render this outline:\n- fruit\n  - apple\n  - pear\n- veg")),
        _chat(_user("Render this outline:\n- fruit\n- apple\n- pear\n- veg")),
    ),
    (
        "chat: YAML indentation without a fence",
        _chat(_user("Is this valid?\nservices:\n  web:\n    image: nginx\n  ports: [80]")),
        _chat(_user("Is this valid?\nservices:\n  web:\n    image: nginx\n    ports: [80]")),
    ),
    (
        "chat: spaces inside an inline code span",
        _chat(_user("What does `'a  b'.split(' ')` return in Python?")),
        _chat(_user("What does `'a b'.split(' ')` return in Python?")),
    ),
    (
        "chat: TSV row with one vs two empty fields (tabs outside code)",
        _chat(_user(_TSV_HEAD + "1\tann\t\t555-0101")),
        _chat(_user(_TSV_HEAD + "1\tann\t\t\t555-0101")),
    ),
    (
        "chat: spaces in a ``` block nested inside a ```` fence",
        _chat(_user(_README.format(literal="'a  b'"))),
        _chat(_user(_README.format(literal="'a b'"))),
    ),
    (
        "chat: a line opening with an inline ```span``` shifts the fence state",
        _chat(_user("```ls  -la``` prints nothing. Then I ran:\n```sh\necho 'a  b'\n```")),
        _chat(_user("```ls  -la``` prints nothing. Then I ran:\n```sh\necho 'a b'\n```")),
    ),
    # --- images ------------------------------------------------------------------------
    (
        "chat: different image URL",
        _chat(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe the chart."},
                    {"type": "image_url", "image_url": {"url": "https://ex.com/q3.png"}},
                ],
            }
        ),
        _chat(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe the chart."},
                    {"type": "image_url", "image_url": {"url": "https://ex.com/q4.png"}},
                ],
            }
        ),
    ),
    (
        "chat: image detail low vs high",
        _chat(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Read the small print."},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://ex.com/label.png", "detail": "low"},
                    },
                ],
            }
        ),
        _chat(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Read the small print."},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://ex.com/label.png", "detail": "high"},
                    },
                ],
            }
        ),
    ),
    (
        "chat: image present vs absent",
        _chat(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in the picture?"},
                    {"type": "image_url", "image_url": {"url": "https://ex.com/cat.jpg"}},
                ],
            }
        ),
        _chat({"role": "user", "content": [{"type": "text", "text": "What is in the picture?"}]}),
    ),
    # --- OpenAI Responses ----------------------------------------------------------------
    (
        "responses: different instructions",
        _responses(_Q, instructions="Answer in English."),
        _responses(_Q, instructions="Answer in Spanish."),
    ),
    (
        "responses: a number differs in the input",
        _responses("Summarise the last 3 incidents."),
        _responses("Summarise the last 30 incidents."),
    ),
    (
        "responses: reasoning effort differs",
        _responses(
            "Plan a database migration.",
            model="o4-mini",
            temperature=None,  # reasoning models take no temperature
            reasoning={"effort": "low"},
        ),
        _responses(
            "Plan a database migration.",
            model="o4-mini",
            temperature=None,
            reasoning={"effort": "high"},
        ),
    ),
    (
        "responses: text format json_schema vs plain text",
        _responses(
            "Classify: 'The app crashes on login.'",
            text={
                "format": {
                    "type": "json_schema",
                    "name": "triage",
                    "schema": {"type": "object", "properties": {"severity": {"type": "string"}}},
                }
            },
        ),
        _responses("Classify: 'The app crashes on login.'", text={"format": {"type": "text"}}),
    ),
    (
        "responses: previous_response_id differs",
        _responses("And in Python?", previous_response_id="resp_abc123"),
        _responses("And in Python?", previous_response_id="resp_def456"),
    ),
    (
        "responses: max_output_tokens differs",
        _responses(_Q, max_output_tokens=200),
        _responses(_Q, max_output_tokens=2000),
    ),
    (
        "responses: web search tool vs none",
        _responses("Who won the match?", tools=[{"type": "web_search_preview"}]),
        _responses("Who won the match?"),
    ),
    (
        "responses: input message role user vs developer",
        _responses([{"role": "developer", "content": "Only answer in haiku."}]),
        _responses([{"role": "user", "content": "Only answer in haiku."}]),
    ),
    # --- Anthropic Messages ------------------------------------------------------------
    (
        "anthropic: different system prompt",
        _claude(_user(_Q), system=SUPPORT),
        _claude(_user(_Q), system=REVIEWER),
    ),
    (
        "anthropic: system present vs absent",
        _claude(_user("Hello!"), system=TRANSLATOR),
        _claude(_user("Hello!")),
    ),
    (
        "anthropic: top_k differs",
        _claude(_user("Name a bird."), temperature=None, top_k=1),
        _claude(_user("Name a bird."), temperature=None, top_k=40),
    ),
    (
        "anthropic: stop_sequences differ",
        _claude(_user("Count to ten."), stop_sequences=["5"]),
        _claude(_user("Count to ten."), stop_sequences=["7"]),
    ),
    (
        "anthropic: extended thinking on vs off",
        _claude(
            _user("Is 1001 prime?"),
            temperature=None,
            max_tokens=4096,
            thinking={"type": "enabled", "budget_tokens": 2048},
        ),
        _claude(_user("Is 1001 prime?"), temperature=None, max_tokens=4096),
    ),
    (
        "anthropic: tool_choice any vs auto",
        _claude(
            _user("Where is order A123456?"), tools=[ANTHROPIC_TOOL], tool_choice={"type": "any"}
        ),
        _claude(
            _user("Where is order A123456?"), tools=[ANTHROPIC_TOOL], tool_choice={"type": "auto"}
        ),
    ),
    (
        "anthropic: max_tokens differs",
        _claude(_user(_Q), max_tokens=256),
        _claude(_user(_Q), max_tokens=1024),
    ),
    (
        "anthropic: assistant prefill vs none",
        _claude(_user("Return the user as JSON."), _assistant("{")),
        _claude(_user("Return the user as JSON.")),
    ),
    (
        "anthropic: different base64 image",
        _claude(
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0K"},
                    },
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ),
        _claude(
            {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0L"},
                    },
                    {"type": "text", "text": "What is this?"},
                ],
            }
        ),
    ),
    (
        "anthropic: tool_result is_error true vs false",
        _claude(
            _user("Where is order A123456?"),
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "lookup_order",
                        "input": {"order_id": "A123456"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01",
                        "content": "timeout",
                        "is_error": True,
                    }
                ],
            },
            tools=[ANTHROPIC_TOOL],
        ),
        _claude(
            _user("Where is order A123456?"),
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_01",
                        "name": "lookup_order",
                        "input": {"order_id": "A123456"},
                    }
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_01",
                        "content": "timeout",
                        "is_error": False,
                    }
                ],
            },
            tools=[ANTHROPIC_TOOL],
        ),
    ),
    (
        "anthropic: spaces in tool_use input data (a file's content)",
        _claude(*_write_file("print('a  b'.split(' '))"), tools=[WRITE_FILE_TOOL]),
        _claude(*_write_file("print('a b'.split(' '))"), tools=[WRITE_FILE_TOOL]),
    ),
    # --- scope and API: the same request, other key arguments (see KEY_ARGS) ------------
    (
        "scope: a tenant named 'global' vs GLOBAL",
        _chat(_user("What is the capital of Australia?")),
        _chat(_user("What is the capital of Australia?")),
    ),
    (
        "scope: tenant-a vs tenant-b",
        _chat(_system(SUPPORT), _user("What is our refund policy?")),
        _chat(_system(SUPPORT), _user("What is our refund policy?")),
    ),
    (
        "scope: GLOBAL vs a tenant",
        _chat(_user("What is the capital of Australia?")),
        _chat(_user("What is the capital of Australia?")),
    ),
    (
        "scope: user 1 vs user 2 on a user-specific prompt",
        _chat(_user("Summarise my open tickets.")),
        _chat(_user("Summarise my open tickets.")),
    ),
    (
        "scope: tenant ids that differ only in case",
        _chat(_user("What is our refund policy?")),
        _chat(_user("What is our refund policy?")),
    ),
    (
        "scope: an anthropic request in two tenants",
        _claude(_user(_Q), system=SUPPORT),
        _claude(_user(_Q), system=SUPPORT),
    ),
    (
        "api: the same body sent to openai.chat vs anthropic.messages",
        _claude(_user(_Q)),
        _claude(_user(_Q)),
    ),
    (
        "api: a chat body (model guessed anthropic) vs forced openai.chat",
        _chat(_user(_Q), model="claude-3-5-haiku-latest"),
        _chat(_user(_Q), model="claude-3-5-haiku-latest"),
    ),
]

_DEFAULT_ARGS: Final[KeyArgs] = {"scope": DEFAULT_SCOPE, "api": None}

KEY_ARGS: Final[dict[str, tuple[KeyArgs, KeyArgs]]] = {
    "api: explicit openai.chat vs guessed from the shape": (
        {"scope": DEFAULT_SCOPE, "api": "openai.chat"},
        _DEFAULT_ARGS,
    ),
    "api: explicit anthropic.messages vs guessed from the shape": (
        {"scope": DEFAULT_SCOPE, "api": "anthropic.messages"},
        _DEFAULT_ARGS,
    ),
    "scope: tenant-a vs tenant-b": (
        {"scope": "tenant-a", "api": None},
        {"scope": "tenant-b", "api": None},
    ),
    "scope: GLOBAL vs a tenant": (
        {"scope": GLOBAL_SCOPE, "api": None},
        {"scope": "tenant-a", "api": None},
    ),
    "scope: a tenant named 'global' vs GLOBAL": (
        {"scope": "global", "api": None},
        {"scope": GLOBAL_SCOPE, "api": None},
    ),
    "scope: user 1 vs user 2 on a user-specific prompt": (
        {"scope": "user:1", "api": None},
        {"scope": "user:2", "api": None},
    ),
    "scope: tenant ids that differ only in case": (
        {"scope": "Tenant-A", "api": None},
        {"scope": "tenant-a", "api": None},
    ),
    "scope: an anthropic request in two tenants": (
        {"scope": "acme", "api": None},
        {"scope": "globex", "api": None},
    ),
    "api: the same body sent to openai.chat vs anthropic.messages": (
        {"scope": DEFAULT_SCOPE, "api": "openai.chat"},
        {"scope": DEFAULT_SCOPE, "api": "anthropic.messages"},
    ),
    "api: a chat body (model guessed anthropic) vs forced openai.chat": (
        _DEFAULT_ARGS,
        {"scope": DEFAULT_SCOPE, "api": "openai.chat"},
    ),
}
"""Key arguments per case name, for the cases that do not use the defaults."""


def key_args(name: str) -> tuple[KeyArgs, KeyArgs]:
    """Return the scope and API of each side of case *name* (`DEFAULT_SCOPE`, guessed API)."""
    a, b = KEY_ARGS.get(name, (_DEFAULT_ARGS, _DEFAULT_ARGS))
    return KeyArgs(scope=a["scope"], api=a["api"]), KeyArgs(scope=b["scope"], api=b["api"])
