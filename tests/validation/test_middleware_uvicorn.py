"""The middleware behind a real uvicorn on loopback: slow clients and lying Content-Lengths.

Raw sockets let a test send exactly what a misbehaving client sends and see when the server
answers: a 413 must arrive while the client is still sending, and the app must never see a
byte past the limit nor a byte the Content-Length does not frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hardpoint.validation import InputValidationMiddleware, Limits

LIMIT = 64 * 1024


@dataclass
class Server:
    host: str
    port: int
    seen: list[bytes]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


async def _echo(request: Request) -> Response:
    body = await request.body()
    request.app.state.seen.append(body)
    return Response(body, media_type="application/octet-stream")


@pytest.fixture
def server() -> Iterator[Server]:
    seen: list[bytes] = []
    app = Starlette(
        routes=[Route("/echo", _echo, methods=["POST"])],
        middleware=[Middleware(InputValidationMiddleware, limits=Limits(max_body_bytes=LIMIT))],
    )
    app.state.seen = seen
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, lifespan="off", log_level="critical", access_log=False, http="h11", ws="none"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 10 s")
        time.sleep(0.01)
    try:
        yield Server("127.0.0.1", port, seen)
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()
        assert not thread.is_alive(), "uvicorn did not stop"


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers.get("content-length", "0"))), 10)
    return status, headers, body


@contextlib.asynccontextmanager
async def connect(
    server: Server,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(server.host, server.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def head(content_type: str, *, length: int | None = None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n{framing}\r\n\r\n"
    ).encode()


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# --- an ordinary client -----------------------------------------------------------------------


async def test_real_server_passes_benign_and_blocks_attacks(server: Server) -> None:
    raw = bytes(range(256)) * 10

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 700):
            yield raw[start : start + 700]

    async with httpx.AsyncClient(base_url=server.url) as client:
        body = json.dumps({"name": "O'Brien", "note": "Zoë"}, ensure_ascii=False).encode()
        response = await client.post(
            "/echo", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
        assert response.content == body
        response = await client.post("/echo", json={"title": "' OR 1=1--"})
        assert response.status_code == 400
        assert response.json() == {
            "error": "Potential SQL injection detected in root.title",
            "rule": "sqli",
            "field": "root.title",
            "detail": "Request blocked for security reasons",
        }
        response = await client.post("/echo", content=chunks())  # chunked, not UTF-8
        assert response.status_code == 200
        assert response.content == raw
        response = await client.post("/echo", content=b"x" * (LIMIT + 1))
        assert response.status_code == 413
    assert server.seen == [body, raw]


# --- a slow client ----------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["application/json", "application/octet-stream"])
async def test_a_slow_body_gets_413_as_soon_as_it_passes_the_limit(
    server: Server, content_type: str
) -> None:
    piece = b"x" * 16 * 1024
    planned = 64  # 1 MiB, 16 times the limit
    sent = 0
    async with connect(server) as (reader, writer):
        writer.write(head(content_type))
        await writer.drain()
        response_task = asyncio.ensure_future(read_response(reader))
        with contextlib.suppress(ConnectionError):
            while sent < planned and not response_task.done():
                writer.write(chunk(piece))
                await writer.drain()
                sent += 1
                await asyncio.sleep(0.02)
        status, headers, body = await response_task
    assert status == 413
    assert json.loads(body)["rule"] == "max_body_bytes"
    assert headers.get("connection") == "close"
    # The answer came while the client was still sending, a few chunks past the limit.
    assert sent < planned // 2
    assert server.seen == []


async def test_a_slow_body_under_the_limit_arrives_whole_and_exact(server: Server) -> None:
    payload = (bytes(range(256)) * 40)[: LIMIT - 10]
    async with connect(server) as (reader, writer):
        writer.write(head("application/octet-stream"))
        for start in range(0, len(payload), 5000):
            writer.write(chunk(payload[start : start + 5000]))
            await writer.drain()
            await asyncio.sleep(0.005)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        status, _, body = await read_response(reader)
    assert status == 200
    assert body == payload
    assert server.seen == [payload]


async def test_a_slow_json_body_is_inspected_once_complete(server: Server) -> None:
    document = json.dumps({"a": "b" * 1000, "title": "<script>alert(1)</script>"}).encode()
    async with connect(server) as (reader, writer):
        writer.write(head("application/json", length=len(document)))
        for start in range(0, len(document), 100):
            writer.write(document[start : start + 100])
            await writer.drain()
            await asyncio.sleep(0.002)
        status, _, body = await read_response(reader)
    assert status == 400
    assert json.loads(body)["field"] == "root.title"
    assert server.seen == []


# --- a client that lies about Content-Length --------------------------------------------------


async def test_a_declared_length_over_the_limit_is_refused_before_any_body(server: Server) -> None:
    async with connect(server) as (reader, writer):
        writer.write(head("application/json", length=10 * 1024 * 1024))
        await writer.drain()
        status, headers, body = await read_response(reader)  # no body byte was sent
    assert status == 413
    assert headers.get("connection") == "close"
    assert json.loads(body)["field"] == "body"
    assert server.seen == []


async def test_a_client_claiming_more_than_it_sends_never_reaches_the_app(server: Server) -> None:
    async with connect(server) as (reader, writer):
        writer.write(head("application/json", length=1000) + b'{"title": "O')
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write_eof()  # gives up: the server sees the client leave mid-body
        rest = await asyncio.wait_for(reader.read(), 10)
    await asyncio.sleep(0.1)
    assert server.seen == []
    assert not rest.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("content_type", ["application/json", "application/octet-stream"])
async def test_a_client_claiming_less_than_it_sends_is_framed_by_its_length(
    server: Server, content_type: str
) -> None:
    framed = b'{"a": "b"}'
    # Small enough for the server to read at once: closing on unread bytes would reset the
    # connection and could drop the response we want to read.
    smuggled = b'{"title": "\' OR 1=1--"}'

    async with connect(server) as (reader, writer):
        writer.write(head(content_type, length=len(framed)) + framed + smuggled)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        status, _, body = await read_response(reader)
    assert status == 200
    assert body == framed
    await asyncio.sleep(0.1)
    # The extra bytes are no part of this request: the app saw exactly the framed ones.
    assert server.seen == [framed]
