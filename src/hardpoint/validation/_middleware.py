"""`InputValidationMiddleware`: a pure ASGI middleware that limits, parses and scans requests.

Only ``http`` scopes are inspected; ``websocket`` and ``lifespan`` pass straight through. The
order per request is: declared ``Content-Length`` against the body limit, then path, query
and chosen headers, then the body (read as it streams in, counted, parsed and scanned), and
only then the app, which receives the very messages the server sent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final, Unpack

from hardpoint.events import SINK, RequestBlocked
from hardpoint.validation._config import ConfigOptions, ValidationConfig
from hardpoint.validation._engine import detect
from hardpoint.validation._parsers import (
    BodyError,
    parse_content_type,
    parse_json,
    parse_multipart,
    parse_urlencoded,
)
from hardpoint.validation._types import Finding

__all__ = ["ASGIApp", "InputValidationMiddleware", "Message", "Receive", "Scope", "Send"]

# The ASGI types, spelled as Starlette spells them so that `add_middleware` accepts the class.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("hardpoint.validation")

_BLOCKED_DETAIL: Final = "Request blocked for security reasons"
_REJECTED_DETAIL: Final = "Request rejected by input validation"
_INTERNAL_BODY: Final = json.dumps(
    {
        "error": "Input validation failed internally",
        "rule": "internal_error",
        "field": "",
        "detail": "The request could not be checked",
    }
).encode()
_INDEX: Final = re.compile(r"\[[0-9]+\]")
_DISCONNECT: Final[Message] = {"type": "http.disconnect"}
_IDENTITY: Final = (b"", b"identity")
# Bodies larger than this are parsed and scanned in a worker thread (under asyncio).
_OFFLOAD_BYTES: Final = 64 * 1024


class _State:
    """Per-request bookkeeping the error path needs: what was read, whether we answered."""

    __slots__ = ("messages", "responded")

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.responded = False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """Return a receive that gives *messages* again, in order, then defers to *receive*."""
    pending = messages[::-1]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        return await receive()

    return replay


def _escape(value: str, limit: int) -> str:
    """Return *value* cut to *limit* characters and escaped as ``repr`` escapes it."""
    if len(value) <= limit:
        return repr(value)
    return f"{value[:limit]!r}...(+{len(value) - limit} chars)"


class InputValidationMiddleware:
    """Refuse requests that are too large, malformed or carry an attack, before the app runs.

    ```python
    app.add_middleware(InputValidationMiddleware, mode="monitor", exempt_fields=["root.body"])
    ```

    A refused request gets a JSON body with ``error``, ``rule``, ``field`` and ``detail``:
    413 for a body over ``max_body_bytes``, 415 for a compressed body that would be
    inspected, 400 for malformed JSON or forms, a limit, or a finding. Each refusal is logged
    once at WARNING on the ``hardpoint.validation`` logger and emitted as a
    `hardpoint.events.RequestBlocked` event.

    Args:
        app: The ASGI application to protect.
        config: The settings; `ValidationConfig()` (all defaults) when omitted.
        **fields: `ValidationConfig` fields, applied on top of *config*.

    Raises:
        ConfigurationError: An invalid setting (raised here, at start-up).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        config: ValidationConfig | None = None,
        **fields: Unpack[ConfigOptions],
    ) -> None:
        if config is None:
            config = ValidationConfig(**fields)
        elif fields:
            current = {
                f.name: getattr(config, f.name)
                for f in dataclasses.fields(config)
                if not f.name.startswith("_")
            }
            config = ValidationConfig(**{**current, **fields})
        self.app = app
        self.config = config
        plan = config._plan
        self._exempt_routes = plan.exempt_routes
        self._global_fields = plan.global_fields
        self._route_fields = plan.route_fields
        self._header_names = plan.header_names
        self._check_path = plan.path
        self._check_query = plan.query
        self._check_json = plan.json
        self._check_form = plan.form
        self._limits = config.limits
        self._max_body = config.limits.max_body_bytes
        self._detectors = config.detectors
        self._monitor = config.mode == "monitor"
        self._allow_errors = config.on_error == "allow"
        self._sample_chars = config.max_sample_chars

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = _State()
        try:
            downstream = await self._check(scope, receive, send, state)
        except Exception:
            if state.responded:
                raise
            logger.exception(
                "input validation failed internally on %s %s",
                scope.get("method"),
                _escape(scope.get("path", ""), 200),
            )
            if not self._allow_errors:
                await _send_json(send, 500, _INTERNAL_BODY, close=True)
                return
            # Fail open, as configured: the app gets everything read so far, then the rest.
            downstream = (_replay(state.messages, receive), send)
        if downstream is None:
            return
        try:
            await self.app(scope, downstream[0], downstream[1])
        except Exception:
            if not state.responded:
                raise
            # We cut the body off mid-stream and answered 413; the app then saw the client
            # leave (Starlette raises ClientDisconnect). That is the expected end, not a bug.
            logger.debug("app stopped after its request body was refused", exc_info=True)

    async def _check(
        self, scope: Scope, receive: Receive, send: Send, state: _State
    ) -> tuple[Receive, Send] | None:
        """Inspect one request; return what the app should get, or None once answered."""
        path: str = scope["path"]
        content_length: bytes | None = None
        content_type: bytes | None = None
        encoding: bytes | None = None
        header_fields: list[tuple[str, str]] | None = None
        wanted = self._header_names
        for name, value in scope["headers"]:
            if name == b"content-length":
                content_length = value
            elif name == b"content-type":
                content_type = value
            elif name == b"content-encoding":
                encoding = value
            if wanted and name in wanted:
                if header_fields is None:
                    header_fields = []
                header_fields.append((f"header.{name.decode('latin-1')}", value.decode("latin-1")))

        declared: int | None = None
        if content_length is not None and content_length.isdigit():
            declared = int(content_length)
            if declared > self._max_body:
                refusal = BodyError(
                    "max_body_bytes",
                    f"Request body larger than {self._max_body} bytes (max_body_bytes)",
                    "body",
                    413,
                )
                # Refused before a byte of the body is read; monitor mode streams it through.
                if await self._refuse(scope, send, state, refusal, close=True):
                    return None
                return receive, send

        if self._exempt_routes is not None and self._exempt_routes.fullmatch(path):
            return self._counted(scope, receive, send, state, declared)

        exempt = self._global_fields
        if self._route_fields:
            for route, paths in self._route_fields:
                if route.fullmatch(path):
                    exempt = exempt | paths

        detecting = bool(self._detectors)
        items: list[tuple[str, str]] = []
        if self._check_path and detecting:
            items.append(("path", path))
        query: bytes = scope.get("query_string", b"")
        try:
            if self._check_query and query:
                parsed = parse_urlencoded(query, self._limits, "query")
                if detecting:
                    items.extend(parsed)
        except BodyError as error:
            if await self._refuse(scope, send, state, error, close=True):
                return None
            return receive, send
        if header_fields is not None and detecting:
            items.extend(header_fields)
        if items:
            finding = self._first_finding(items, exempt)
            if finding is not None:
                if await self._block(scope, send, state, finding, items, close=True):
                    return None
                return receive, send

        kind = self._body_kind(content_type)
        if kind is None:
            if declared == 0:
                return receive, send
            return self._counted(scope, receive, send, state, declared)
        if encoding is not None and encoding.strip().lower() not in _IDENTITY:
            refusal = BodyError(
                "content_encoding",
                "Compressed request bodies cannot be inspected (Content-Encoding)",
                "body",
                415,
            )
            if await self._refuse(scope, send, state, refusal, close=True):
                return None
            return receive, send

        # Read the whole body (it is under the limit), counting as it arrives.
        messages = state.messages
        total = 0
        max_body = self._max_body
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away before sending it all: there is no one to answer.
                return None
            messages.append(message)
            total += len(message.get("body", b""))
            if total > max_body:
                refusal = BodyError(
                    "max_body_bytes",
                    f"Request body larger than {max_body} bytes (max_body_bytes)",
                    "body",
                    413,
                )
                if await self._refuse(scope, send, state, refusal, close=True):
                    return None
                return _replay(messages, receive), send
            if not message.get("more_body", False):
                break
        body: bytes = (
            messages[0].get("body", b"")
            if len(messages) == 1
            else b"".join(m.get("body", b"") for m in messages)
        )
        try:
            if len(body) > _OFFLOAD_BYTES and _in_asyncio():
                # Parsing and scanning a large body takes milliseconds of CPU: do it in a
                # worker thread so that the event loop keeps serving other requests.
                fields, finding = await asyncio.to_thread(
                    self._inspect_body, kind, body, exempt, detecting
                )
            else:
                fields, finding = self._inspect_body(kind, body, exempt, detecting)
        except BodyError as error:
            if await self._refuse(scope, send, state, error, close=False):
                return None
            return _replay(messages, receive), send
        if finding is not None and await self._block(
            scope, send, state, finding, fields, close=False
        ):
            return None
        return _replay(messages, receive), send

    def _inspect_body(
        self, kind: str, body: bytes, exempt: frozenset[str], detecting: bool
    ) -> tuple[list[tuple[str, str]], Finding | None]:
        """Parse *body* and scan its fields; raise `BodyError` for a limit or bad syntax."""
        if kind == "json":
            fields = parse_json(body, self._limits)
        elif kind == "form":
            fields = parse_urlencoded(body, self._limits, "form")
        else:
            fields = parse_multipart(body, kind, self._limits)
        if fields and detecting:
            return fields, self._first_finding(fields, exempt)
        return fields, None

    def _body_kind(self, content_type: bytes | None) -> str | None:
        """Return ``"json"``, ``"form"``, a multipart boundary, or None (not inspected)."""
        if content_type is None:
            return None
        media_type, params = parse_content_type(content_type.decode("latin-1"))
        if media_type == "application/json" or (
            media_type.startswith("application/") and media_type.endswith("+json")
        ):
            return "json" if self._check_json else None
        if media_type == "application/x-www-form-urlencoded":
            return "form" if self._check_form else None
        if media_type == "multipart/form-data" and self._check_form:
            # A missing boundary makes the multipart parser refuse the body as malformed.
            return params.get("boundary", "")
        return None

    def _first_finding(
        self, items: list[tuple[str, str]], exempt: frozenset[str]
    ) -> Finding | None:
        enabled = self._detectors
        for field, value in items:
            if exempt and _is_exempt(field, exempt):
                continue
            found = detect(value, enabled)
            if found is not None:
                return Finding(found.rule, found.reason, field)
        return None

    def _counted(
        self, scope: Scope, receive: Receive, send: Send, state: _State, declared: int | None
    ) -> tuple[Receive, Send]:
        """Stream an uninspected body to the app, refusing it once it passes the limit."""
        if declared is not None:
            # The server frames the body by its Content-Length, checked above.
            return receive, send
        max_body = self._max_body
        total = 0
        counting = True
        started = False
        cut = False

        async def counted_receive() -> Message:
            nonlocal total, counting, cut
            if cut:
                return _DISCONNECT
            message = await receive()
            if counting and message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > max_body:
                    counting = False
                    error = BodyError(
                        "max_body_bytes",
                        f"Request body larger than {max_body} bytes (max_body_bytes)",
                        "body",
                        413,
                    )
                    if self._monitor:
                        # Reported once; the rest streams on unchecked, as monitor promises.
                        await self._refuse(scope, send, state, error, close=True)
                        return message
                    cut = True
                    if not started:
                        await self._refuse(scope, send, state, error, close=True)
                    else:
                        self._report(scope, error.rule, error.field, None)
                    # The app sees the client leave and never gets the over-limit chunk.
                    return _DISCONNECT
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if state.responded:
                return  # we answered 413 already; drop what the app still sends
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        return counted_receive, guarded_send

    async def _refuse(
        self, scope: Scope, send: Send, state: _State, error: BodyError, *, close: bool
    ) -> bool:
        """Log and emit *error*; in block mode answer it. Return True if answered."""
        self._report(scope, error.rule, error.field, None)
        if self._monitor:
            return False
        body = json.dumps(
            {
                "error": error.message,
                "rule": error.rule,
                "field": error.field,
                "detail": _REJECTED_DETAIL,
            }
        ).encode()
        state.responded = True
        await _send_json(send, error.status, body, close=close)
        return True

    async def _block(
        self,
        scope: Scope,
        send: Send,
        state: _State,
        finding: Finding,
        items: list[tuple[str, str]],
        *,
        close: bool,
    ) -> bool:
        """Log and emit *finding*; in block mode answer 400. Return True if answered."""
        sample = next((value for field, value in items if field == finding.field), "")
        self._report(scope, finding.rule.value, finding.field, sample)
        if self._monitor:
            return False
        body = json.dumps(
            {
                "error": f"Potential {finding.rule.label} detected in {finding.field}",
                "rule": finding.rule.value,
                "field": finding.field,
                "detail": _BLOCKED_DETAIL,
            }
        ).encode()
        state.responded = True
        await _send_json(send, 400, body, close=close)
        return True

    def _report(self, scope: Scope, rule: str, field: str, sample: str | None) -> None:
        """Log one WARNING line and emit one `RequestBlocked` event for a refusal."""
        client = scope.get("client")
        host = str(client[0]) if client else None
        address = f"{client[0]}:{client[1]}" if client else "unknown"
        if logger.isEnabledFor(logging.WARNING):
            shown = "" if sample is None else _escape(sample, self._sample_chars)
            logger.warning(
                "%s request: %s in %s (%s %s from %s)%s",
                "monitored" if self._monitor else "blocked",
                rule,
                _escape(field, 200),
                scope.get("method"),
                _escape(scope.get("path", ""), 200),
                address,
                f", sample {shown}" if shown and self._sample_chars else "",
                extra={
                    "rule": rule,
                    "field": field,
                    "client": address,
                    "monitored": self._monitor,
                },
            )
        if SINK.active:
            SINK.emit(
                RequestBlocked(rule=rule, location=field, client=host, monitored=self._monitor)
            )


def _in_asyncio() -> bool:
    """Return True under an asyncio loop (not, for example, under trio)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _is_exempt(field: str, exempt: frozenset[str]) -> bool:
    """Return True if *field* or one of its parents matches an exempt pattern."""
    pattern = _INDEX.sub("[]", field) if "[" in field else field
    if pattern in exempt:
        return True
    for parent in exempt:
        # `root.meta` covers `root.meta.x` and `root.meta[]`, not `root.metadata`.
        if pattern.startswith(parent) and pattern[len(parent) : len(parent) + 1] in (".", "["):
            return True
    return False


async def _send_json(send: Send, status: int, body: bytes, *, close: bool) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode("ascii")),
    ]
    if close:
        # The rest of the body was not read: ask the server to close rather than reuse.
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
