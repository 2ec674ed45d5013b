"""A fake LLM provider on loopback, speaking the OpenAI and Anthropic HTTP shapes.

`FakeProvider` serves ``POST /v1/chat/completions`` (OpenAI Chat Completions),
``POST /v1/responses`` (OpenAI Responses, without streaming) and ``POST /v1/messages``
(Anthropic Messages), as JSON or as server-sent events when the request says ``"stream": true``,
so that the real ``openai`` and ``anthropic`` clients can be pointed at it. It records each
request body, and `push` scripts the next replies: an error status, a finish reason, the text,
a tool call, a delay, or a stream that dies part-way.

Each answer names its call number ("Reply 3: ..."), so a test can tell a fresh answer from a
cached one.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final

__all__ = ["FakeProvider", "Recorded", "Reply"]

_ANTHROPIC_STOP: Final = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_ERROR_TYPES: Final = {400: "invalid_request_error", 429: "rate_limit_error", 500: "api_error"}


@dataclass(frozen=True)
class Reply:
    """How to answer one request.

    Attributes:
        status: HTTP status; anything but 200 sends the provider's error JSON.
        finish_reason: OpenAI's finish reason (mapped to Anthropic's stop reason).
        text: The answer's text; None for the default "Reply <n>: ..." text, "" for none.
        tool_call: (name, arguments JSON) of one tool call to answer with.
        delay: Seconds to wait before answering.
        die_after: For a stream: events to send before dropping the connection mid-body.
    """

    status: int = 200
    finish_reason: str = "stop"
    text: str | None = None
    tool_call: tuple[str, str] | None = None
    delay: float = 0.0
    die_after: int | None = None


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it."""

    path: str
    body: dict[str, Any]


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    queue: deque[Reply] = field(default_factory=deque)
    default: Reply = field(default_factory=Reply)
    requests: list[Recorded] = field(default_factory=list)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: _State


class FakeProvider:
    """An OpenAI- and Anthropic-shaped HTTP server on a free loopback port, in a thread.

    Use as a context manager, or call `close`.
    """

    def __init__(self) -> None:
        self._state = _State()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self._state
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push(self, *replies: Reply) -> None:
        """Answer the next requests with *replies*, in order, then with `default` again."""
        with self._state.lock:
            self._state.queue.extend(replies)

    @property
    def default(self) -> Reply:
        return self._state.default

    @default.setter
    def default(self, reply: Reply) -> None:
        with self._state.lock:
            self._state.default = reply

    @property
    def requests(self) -> list[Recorded]:
        with self._state.lock:
            return list(self._state.requests)

    @property
    def calls(self) -> int:
        """Requests received so far."""
        with self._state.lock:
            return len(self._state.requests)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        state = self.server.state
        with state.lock:
            state.requests.append(Recorded(self.path, body))
            number = len(state.requests)
            reply = state.queue.popleft() if state.queue else state.default
        if reply.delay:
            time.sleep(reply.delay)
        path = self.path.rstrip("/")
        if path == "/v1/chat/completions":
            answer: _Answer = _OpenAIChat(body, reply, number)
        elif path == "/v1/messages":
            answer = _AnthropicMessages(body, reply, number)
        elif path == "/v1/responses" and not body.get("stream"):
            answer = _OpenAIResponses(body, reply, number)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        if reply.status != 200:
            self._json(reply.status, answer.error(reply.status))
        elif body.get("stream"):
            self._stream(answer.events(), die_after=reply.die_after)
        else:
            self._json(200, answer.response())

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, events: Iterator[bytes], *, die_after: int | None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for sent, event in enumerate(events):
            if die_after is not None and sent >= die_after:
                # Drop the connection without the chunked body's last chunk: the client sees
                # a broken stream, as when a provider or a proxy dies mid-answer.
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


def _words(value: Any) -> int:
    return len(json.dumps(value).split())


class _Answer:
    def __init__(self, request: dict[str, Any], reply: Reply, number: int) -> None:
        self.request = request
        self.reply = reply
        self.number = number
        self.model = str(request.get("model", "unknown"))
        default = f"Reply {number}: the quick brown fox jumps over the lazy dog."
        self.text = default if reply.text is None else reply.text
        prompt = request.get("messages", request.get("input"))
        self.input_tokens = _words(prompt) + _words(request.get("system", ""))
        self.output_tokens = len(self.text.split()) + (5 if reply.tool_call else 0)

    def error(self, status: int) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "api_error")
        return {"error": {"message": f"scripted {status}", "type": kind, "code": None}}

    def response(self) -> dict[str, Any]:
        raise NotImplementedError

    def events(self) -> Iterator[bytes]:
        raise NotImplementedError


def _pieces(text: str) -> list[str]:
    words = text.split(" ")
    return [w + ("" if i == len(words) - 1 else " ") for i, w in enumerate(words)]


class _OpenAIChat(_Answer):
    def _usage(self) -> dict[str, int]:
        total = self.input_tokens + self.output_tokens
        return {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": total,
        }

    def _head(self, kind: str) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{self.number}",
            "object": kind,
            "created": 1_700_000_000 + self.number,
            "model": self.model,
            "system_fingerprint": "fp_fake",
        }

    def response(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.text, "refusal": None}
        if self.reply.tool_call is not None:
            name, arguments = self.reply.tool_call
            message["content"] = self.text or None
            message["tool_calls"] = [
                {
                    "id": f"call_{self.number}",
                    "type": "function",
                    "function": {"name": name, "arguments": arguments},
                }
            ]
        choice = {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": self.reply.finish_reason,
        }
        return {**self._head("chat.completion"), "choices": [choice], "usage": self._usage()}

    def events(self) -> Iterator[bytes]:
        head = self._head("chat.completion.chunk")

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return b"data: %s\n\n" % json.dumps({**head, "choices": [choice]}).encode()

        yield chunk({"role": "assistant", "content": "", "refusal": None})
        for piece in _pieces(self.text) if self.text else []:
            yield chunk({"content": piece})
        if self.reply.tool_call is not None:
            name, arguments = self.reply.tool_call
            call = {"index": 0, "id": f"call_{self.number}", "type": "function"}
            yield chunk({"tool_calls": [{**call, "function": {"name": name, "arguments": ""}}]})
            half = len(arguments) // 2
            for part in (arguments[:half], arguments[half:]):
                yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
        yield chunk({}, self.reply.finish_reason)
        options = self.request.get("stream_options") or {}
        if options.get("include_usage"):
            usage = {**head, "choices": [], "usage": self._usage()}
            yield b"data: %s\n\n" % json.dumps(usage).encode()
        yield b"data: [DONE]\n\n"


class _OpenAIResponses(_Answer):
    def response(self) -> dict[str, Any]:
        return {
            "id": f"resp_{self.number}",
            "object": "response",
            "created_at": 1_700_000_000 + self.number,
            "model": self.model,
            "status": "completed",
            "output": [
                {
                    "type": "message",
                    "id": f"msg_{self.number}",
                    "status": "completed",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": self.text, "annotations": []}],
                }
            ],
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "total_tokens": self.input_tokens + self.output_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }


class _AnthropicMessages(_Answer):
    def error(self, status: int) -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": f"scripted {status}"}}

    def _content(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if self.text:
            blocks.append({"type": "text", "text": self.text})
        if self.reply.tool_call is not None:
            name, arguments = self.reply.tool_call
            blocks.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{self.number}",
                    "name": name,
                    "input": json.loads(arguments),
                }
            )
        return blocks

    def _message(
        self, content: list[dict[str, Any]], *, output_tokens: int, final: bool
    ) -> dict[str, Any]:
        stop = _ANTHROPIC_STOP.get(self.reply.finish_reason, self.reply.finish_reason)
        return {
            "id": f"msg_{self.number}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": content,
            "stop_reason": stop if final else None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens, "output_tokens": output_tokens},
        }

    def response(self) -> dict[str, Any]:
        return self._message(self._content(), output_tokens=self.output_tokens, final=True)

    def events(self) -> Iterator[bytes]:
        def event(data: dict[str, Any]) -> bytes:
            return b"event: %s\ndata: %s\n\n" % (data["type"].encode(), json.dumps(data).encode())

        yield event(
            {"type": "message_start", "message": self._message([], output_tokens=0, final=False)}
        )
        yield event({"type": "ping"})
        for index, block in enumerate(self._content()):
            if block["type"] == "text":
                start: dict[str, Any] = {"type": "text", "text": ""}
                deltas = [{"type": "text_delta", "text": p} for p in _pieces(block["text"])]
            else:
                start = {**block, "input": {}}
                arguments = json.dumps(block["input"])
                half = len(arguments) // 2
                deltas = [
                    {"type": "input_json_delta", "partial_json": part}
                    for part in (arguments[:half], arguments[half:])
                ]
            yield event({"type": "content_block_start", "index": index, "content_block": start})
            for delta in deltas:
                yield event({"type": "content_block_delta", "index": index, "delta": delta})
            yield event({"type": "content_block_stop", "index": index})
        stop = _ANTHROPIC_STOP.get(self.reply.finish_reason, self.reply.finish_reason)
        yield event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": self.output_tokens},
            }
        )
        yield event({"type": "message_stop"})
