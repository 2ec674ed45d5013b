"""InputValidationMiddleware on a Starlette app through httpx's ASGI transport (and raw ASGI)."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from hardpoint import events
from hardpoint.validation import InputValidationMiddleware, Limits, ValidationConfig
from hardpoint.validation import _middleware as middleware_module

SQLI = "' OR 1=1--"
XSS = "<script>alert(1)</script>"
TRAVERSAL = "../../etc/passwd"
CMD = "; cat /etc/passwd"
BENIGN = ["O'Brien", "Please select a size and drop me a line; thanks!"]


class Seen:
    """What the app received: one entry per request that reached it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []


async def _echo(request: Request) -> Response:
    body = await request.body()
    request.app.state.seen.bodies.append(body)
    return Response(body, media_type="application/octet-stream")


async def _ok(request: Request) -> JSONResponse:
    request.app.state.seen.bodies.append(await request.body())
    return JSONResponse({"ok": True})


def build_app(**options: Any) -> Starlette:
    app = Starlette(
        routes=[
            Route("/echo", _echo, methods=["GET", "POST", "PUT"]),
            Route("/posts/{post_id:int}", _ok, methods=["GET", "POST"]),
            Route("/webhooks/{name}", _ok, methods=["POST"]),
            Route("/files/{rest:path}", _ok, methods=["GET"]),
        ],
        middleware=[Middleware(InputValidationMiddleware, **options)],
    )
    app.state.seen = Seen()
    return app


@asynccontextmanager
async def client_for(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4242))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
def received() -> Iterator[list[events.Event]]:
    seen: list[events.Event] = []
    unsubscribe = events.subscribe(seen.append)
    yield seen
    unsubscribe()


def blocked(rule: str, title: str, field: str) -> dict[str, str]:
    return {
        "error": f"Potential {title} detected in {field}",
        "rule": rule,
        "field": field,
        "detail": "Request blocked for security reasons",
    }


# --- passing and blocking ---------------------------------------------------------------------


def realistic_body() -> dict[str, Any]:
    """A 19-field JSON request of about 1.4 KB, like a checkout form."""
    return {
        "customer": {
            "first_name": "Siobhán",
            "last_name": "O'Brien",
            "email": "siobhan.obrien@example.com",
            "phone": "+353 1 555 0199",
        },
        "shipping": {
            "street": "12 Grafton Street, Apt. 3",
            "city": "Dublin",
            "postcode": "D02 XY45",
            "country": "IE",
        },
        "items": [
            {"sku": "TSHIRT-RED-M", "quantity": 2, "note": "Gift wrap, please!"},
            {"sku": "MUG-BLUE", "quantity": 1, "note": "Please select a size and drop me a line"},
        ],
        "coupon": "WINTER-10",
        "comment": "Deliver after 5 pm; ring twice (the bell is broken). Thanks & regards! " * 12,
        "newsletter": True,
        "currency": "EUR",
        "referrer": "https://example.com/blog/how-to-choose-a-mug?utm_source=news",
    }


async def test_benign_requests_pass_and_the_app_gets_the_exact_bytes() -> None:
    app = build_app()
    body = json.dumps(realistic_body(), ensure_ascii=False).encode()
    async with client_for(app) as client:
        response = await client.post(
            "/echo", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
        assert response.content == body
        for value in BENIGN:
            response = await client.post("/echo?q=" + value, json={"name": value})
            assert response.status_code == 200, response.text
            response = await client.post("/echo", data={"comment": value})
            assert response.status_code == 200, response.text
    assert app.state.seen.bodies[0] == body


@pytest.mark.parametrize(
    ("payload", "rule", "title"),
    [
        (SQLI, "sqli", "SQL injection"),
        ("' UNION SELECT password FROM users--", "sqli", "SQL injection"),
        (XSS, "xss", "cross-site scripting"),
        (TRAVERSAL, "path_traversal", "path traversal"),
        ("$(whoami)", "command_injection", "command injection"),
    ],
)
async def test_each_detector_blocks_in_a_json_field_with_the_exact_response(
    payload: str, rule: str, title: str
) -> None:
    app = build_app()
    async with client_for(app) as client:
        response = await client.post("/echo", json={"title": payload})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == blocked(rule, title, "root.title")
    assert app.state.seen.bodies == []


async def test_the_issue_example_response_byte_for_byte() -> None:
    async with client_for(build_app()) as client:
        response = await client.post("/echo", json={"title": SQLI})
    assert response.json() == {
        "error": "Potential SQL injection detected in root.title",
        "rule": "sqli",
        "field": "root.title",
        "detail": "Request blocked for security reasons",
    }


@pytest.mark.parametrize(
    ("request_kwargs", "field"),
    [
        ({"json": {"items": [{"name": "a"}, {"name": "b"}, {"name": SQLI}]}}, "root.items[2].name"),
        ({"json": [XSS]}, "root[0]"),
        ({"json": {"a": {"b": {"c": TRAVERSAL}}}}, "root.a.b.c"),
        ({"json": {XSS: 1}}, f"root[{json.dumps(XSS)}]"),
        ({"params": {"q": SQLI}}, "query.q"),
        ({"params": {XSS: "x"}}, f"query[{json.dumps(XSS)}]"),
        ({"data": {"comment": CMD}}, "form.comment"),
        ({"data": {"a": "1", "comment": XSS}, "files": {"f": ("a.txt", b"x")}}, "form.comment"),
        (
            {
                "content": json.dumps({"t": SQLI}),
                "headers": {"content-type": "application/vnd.api+json"},
            },
            "root.t",
        ),
        (
            {
                "content": json.dumps({"t": SQLI}),
                "headers": {"content-type": "Application/JSON; charset=utf-8"},
            },
            "root.t",
        ),
    ],
)
async def test_findings_name_the_field_path(request_kwargs: dict[str, Any], field: str) -> None:
    async with client_for(build_app()) as client:
        response = await client.post("/echo", **request_kwargs)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field


async def test_the_path_is_scanned() -> None:
    app = build_app()
    async with client_for(app) as client:
        response = await client.get("/files/..%2F..%2Fetc%2Fpasswd")
        assert response.status_code == 400
        assert response.json()["field"] == "path"
        assert response.json()["rule"] == "path_traversal"
        assert (await client.get("/files/docs/readme.md")).status_code == 200


async def test_file_parts_are_not_scanned_but_text_parts_are() -> None:
    app = build_app()
    async with client_for(app) as client:
        files = {"upload": ("passwd.txt", TRAVERSAL.encode() + b"\xff\x00" + XSS.encode())}
        response = await client.post("/echo", files=files, data={"note": "hello"})
        assert response.status_code == 200
        response = await client.post("/echo", files=files, data={"note": TRAVERSAL})
        assert response.status_code == 400
        assert response.json()["field"] == "form.note"


async def test_headers_are_scanned_only_when_chosen() -> None:
    async with client_for(build_app()) as client:
        response = await client.get("/echo", headers={"user-agent": "() { :; }; " + CMD})
        assert response.status_code == 200
    async with client_for(build_app(headers=["User-Agent"])) as client:
        response = await client.get("/echo", headers={"user-agent": "() { :; }; " + CMD})
        assert response.status_code == 400
        assert response.json()["field"] == "header.user-agent"
        response = await client.get("/echo", headers={"user-agent": "Mozilla/5.0 (X11; Linux)"})
        assert response.status_code == 200


async def test_parts_left_out_of_inspect_are_not_scanned() -> None:
    async with client_for(build_app(inspect=["json"])) as client:
        assert (await client.get("/echo", params={"q": SQLI})).status_code == 200
        assert (await client.post("/echo", data={"c": SQLI})).status_code == 200
        assert (await client.post("/echo", json={"c": SQLI})).status_code == 400
    async with client_for(build_app(inspect=["query"])) as client:
        assert (await client.post("/echo", json={"c": SQLI})).status_code == 200
        assert (await client.get("/files/..%2F..%2Fetc%2Fpasswd")).status_code == 200


async def test_only_the_chosen_detectors_run() -> None:
    async with client_for(build_app(detectors=["xss"])) as client:
        assert (await client.post("/echo", json={"c": SQLI})).status_code == 200
        assert (await client.post("/echo", json={"c": XSS})).status_code == 400
    async with client_for(build_app(detectors=[])) as client:
        assert (await client.post("/echo", json={"c": XSS})).status_code == 200
        response = await client.post("/echo", json={"c": "x" * 10_001})
        assert response.status_code == 400  # limits hold without detectors


async def test_bodies_that_are_not_json_or_forms_are_only_size_limited() -> None:
    app = build_app(limits=Limits(max_body_bytes=64))
    async with client_for(app) as client:
        for content_type in ("text/plain", "application/octet-stream", "application/xml"):
            response = await client.post(
                "/echo", content=SQLI.encode(), headers={"content-type": content_type}
            )
            assert response.status_code == 200
            assert response.content == SQLI.encode()
        response = await client.post(
            "/echo", content=b"x" * 65, headers={"content-type": "text/plain"}
        )
        assert response.status_code == 413


async def test_a_lone_surrogate_in_json_is_inspected_not_an_internal_error() -> None:
    # JSON may escape a lone surrogate; percent-decoding one used to raise (a 500 at will).
    app = build_app()
    benign = b'{"name": "caf\\ud800 100%41"}'
    attack = b'{"name": "caf\\ud800 100%41", "q": "\\udfff%27 OR 1=1--"}'
    async with client_for(app) as client:
        response = await client.post(
            "/echo", content=benign, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text
        assert response.content == benign
        response = await client.post(
            "/echo", content=attack, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
        assert response.json()["field"] == "root.q"


async def test_non_utf8_and_chunked_bodies_reach_the_app_unchanged() -> None:
    app = build_app()
    raw = bytes(range(256)) * 64

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 1000):
            yield raw[start : start + 1000]

    async def json_chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        yield "Zoë".encode()
        yield b'", "n": 1}'

    async with client_for(app) as client:
        response = await client.post("/echo", content=raw)
        assert response.content == raw
        response = await client.post("/echo", content=chunks())
        assert response.content == raw
        response = await client.post(
            "/echo", content=json_chunks(), headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
        assert response.content == '{"name": "Zoë", "n": 1}'.encode()
    assert app.state.seen.bodies == [raw, raw, '{"name": "Zoë", "n": 1}'.encode()]


# --- limits -----------------------------------------------------------------------------------

SMALL = Limits(
    max_body_bytes=200, max_json_depth=3, max_string_length=10, max_array_length=3, max_fields=5
)


@pytest.mark.parametrize(
    ("request_kwargs", "rule", "status"),
    [
        ({"json": {"a": {"b": {"c": {"d": 1}}}}}, "max_json_depth", 400),
        ({"json": {"a": "x" * 11}}, "max_string_length", 400),
        ({"json": {"a": [1, 2, 3, 4]}}, "max_array_length", 400),
        ({"json": {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}}, "max_fields", 400),
        ({"params": {"a": "x" * 11}}, "max_string_length", 400),
        ({"params": [("a", "1")] * 6}, "max_fields", 400),
        ({"data": {"a": "x" * 11}}, "max_string_length", 400),
        ({"data": {"k" + str(i): "1" for i in range(6)}}, "max_fields", 400),
        (
            {"content": b"{bad json", "headers": {"content-type": "application/json"}},
            "malformed_json",
            400,
        ),
        (
            {"content": b'{"a": 1', "headers": {"content-type": "application/problem+json"}},
            "malformed_json",
            400,
        ),
        (
            {
                "content": b"--x\r\nnope",
                "headers": {"content-type": "multipart/form-data; boundary=x"},
            },
            "malformed_form",
            400,
        ),
        (
            {"content": b"a=1", "headers": {"content-type": "multipart/form-data"}},
            "malformed_form",
            400,
        ),
        ({"json": {"a": "x" * 300}}, "max_body_bytes", 413),
        ({"content": b"x" * 201}, "max_body_bytes", 413),
        (
            {
                "content": b"{}",
                "headers": {"content-type": "application/json", "content-encoding": "gzip"},
            },
            "content_encoding",
            415,
        ),
    ],
)
async def test_every_limit_refuses_naming_itself(
    request_kwargs: dict[str, Any], rule: str, status: int, received: list[events.Event]
) -> None:
    app = build_app(limits=SMALL)
    async with client_for(app) as client:
        response = await client.post("/echo", **request_kwargs)
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["rule"] == rule
    assert rule in payload["error"] or rule in {
        "malformed_json",
        "malformed_form",
        "content_encoding",
    }
    assert payload["detail"] == "Request rejected by input validation"
    assert set(payload) == {"error", "rule", "field", "detail"}
    assert app.state.seen.bodies == []
    assert [e.rule for e in received if isinstance(e, events.RequestBlocked)] == [rule]


async def test_limit_errors_name_where_they_happened() -> None:
    async with client_for(build_app(limits=SMALL)) as client:
        response = await client.post("/echo", json={"a": [{"b": [1, 2, 3, 4]}]})
        assert response.json()["field"] == "root.a[0].b"
        response = await client.post("/echo", json={"a": {"b": {"c": {"d": 1}}}})
        assert response.json()["field"] == "root.a.b.c"


async def test_a_body_just_at_the_limit_passes() -> None:
    app = build_app(limits=Limits(max_body_bytes=100))
    async with client_for(app) as client:
        response = await client.post("/echo", content=b"x" * 100)
        assert response.status_code == 200
        response = await client.post(
            "/echo", content=b'"' + b"x" * 98 + b'"', headers={"content-type": "application/json"}
        )
        assert response.status_code == 200


async def test_a_streamed_body_over_the_limit_is_refused_and_not_read_further() -> None:
    app = build_app(limits=Limits(max_body_bytes=1000))
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(100):
            sent.append(index)
            yield b"x" * 300

    async with client_for(app) as client:
        for content_type in ("application/json", "application/octet-stream"):
            sent.clear()
            response = await client.post(
                "/echo", content=chunks(), headers={"content-type": content_type}
            )
            assert response.status_code == 413
            assert response.headers["connection"] == "close"
            assert response.json()["rule"] == "max_body_bytes"
            assert len(sent) < 100
    assert app.state.seen.bodies == []


async def test_an_empty_json_body_passes() -> None:
    async with client_for(build_app()) as client:
        response = await client.post(
            "/echo", content=b"", headers={"content-type": "application/json"}
        )
        assert response.status_code == 200


async def test_large_bodies_are_inspected_off_the_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    threads: list[str] = []
    real_detect = middleware_module.detect  # type: ignore[attr-defined]  # patched below

    def recording_detect(value: str, enabled: frozenset[Any]) -> Any:
        threads.append(threading.current_thread().name)
        return real_detect(value, enabled)

    monkeypatch.setattr(middleware_module, "detect", recording_detect)
    app = build_app()
    big = {"rows": [{"note": f"Zoë O'Brien, row {i}"} for i in range(450)]}
    body = json.dumps(big).encode()
    assert len(body) > 8_000
    monkeypatch.setattr(middleware_module, "_OFFLOAD_BYTES", 8_000)
    async with client_for(app) as client:
        response = await client.post(
            "/echo", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
        assert response.content == body
        big["rows"][400]["note"] = SQLI
        response = await client.post("/echo", json=big)
        assert response.status_code == 400
        assert response.json()["field"] == "root.rows[400].note"
        response = await client.post("/echo", json={"small": "O'Brien"})
        assert response.status_code == 200
    main = threading.current_thread().name
    assert sum(name != main for name in threads) > 400  # the large bodies: a worker thread
    assert threads[-1] == main  # the small one: inline


# --- monitor mode -----------------------------------------------------------------------------


async def test_monitor_mode_logs_and_emits_but_passes(
    caplog: pytest.LogCaptureFixture, received: list[events.Event]
) -> None:
    app = build_app(mode="monitor", limits=SMALL)
    caplog.set_level(logging.WARNING, logger="hardpoint.validation")
    async with client_for(app) as client:
        response = await client.post("/echo", json={"t": XSS[:10]}, params={"q": SQLI})
        assert response.status_code == 200
        response = await client.post("/echo", json={"a": "x" * 300})
        assert response.status_code == 200
        response = await client.post(
            "/echo", content=b"{bad", headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
    assert len(app.state.seen.bodies) == 3
    assert [
        (e.rule, e.location, e.monitored) for e in received if isinstance(e, events.RequestBlocked)
    ] == [
        ("sqli", "query.q", True),
        ("max_body_bytes", "body", True),
        ("malformed_json", "body", True),
    ]
    assert len(caplog.records) == 3
    assert all(r.getMessage().startswith("monitored request") for r in caplog.records)


async def test_monitor_mode_streams_an_over_limit_body_on_and_reports_it_once(
    received: list[events.Event],
) -> None:
    app = build_app(mode="monitor", limits=SMALL)
    raw = bytes(range(256)) * 4

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 100):
            yield raw[start : start + 100]

    async with client_for(app) as client:
        response = await client.post("/echo", content=chunks())
    assert response.status_code == 200
    assert response.content == raw
    assert [(e.rule, e.monitored) for e in received if isinstance(e, events.RequestBlocked)] == [
        ("max_body_bytes", True)
    ]


# --- exemptions -------------------------------------------------------------------------------


async def test_exempt_routes_skip_inspection_but_not_the_body_limit() -> None:
    app = build_app(exempt_routes=["/webhooks/{name}"], limits=Limits(max_body_bytes=100))
    async with client_for(app) as client:
        response = await client.post("/webhooks/github", json={"body": XSS})
        assert response.status_code == 200
        response = await client.post("/webhooks/github/x", json={"body": XSS})
        assert response.status_code != 200  # not the route: no match, so inspected
        response = await client.post("/webhooks/github", json={"body": "x" * 200})
        assert response.status_code == 413


async def test_exempt_fields_apply_everywhere_or_per_route() -> None:
    app = build_app(
        exempt_fields=[
            "root.body",
            "root.items[].note",
            "root.meta",
            ("/posts/{post_id:int}", "root.markdown"),
        ]
    )
    async with client_for(app) as client:
        ok = [
            ("/echo", {"body": XSS}),
            ("/echo", {"items": [{"note": "a"}, {"note": SQLI}]}),
            ("/echo", {"meta": {"deep": [XSS]}}),
            ("/posts/7", {"markdown": XSS}),
        ]
        for url, body in ok:
            response = await client.post(url, json=body)
            assert response.status_code == 200, (url, body)
        refused = [
            ("/echo", {"title": XSS}),
            ("/echo", {"items": [{"name": SQLI}]}),
            ("/echo", {"metadata": XSS}),
            ("/echo", {"markdown": XSS}),
            ("/posts/abc", {"markdown": XSS}),
            ("/echo", {"body.x": XSS}),
        ]
        for url, body in refused:
            response = await client.post(url, json=body)
            assert response.status_code == 400, (url, body)


async def test_exempt_query_and_form_fields() -> None:
    app = build_app(exempt_fields=["query.q", "form.comment"])
    async with client_for(app) as client:
        assert (await client.get("/echo", params={"q": XSS})).status_code == 200
        assert (await client.get("/echo", params={"r": XSS})).status_code == 400
        assert (await client.post("/echo", data={"comment": XSS})).status_code == 200
        assert (await client.post("/echo", data={"other": XSS})).status_code == 400


async def test_exempt_fields_still_obey_the_limits() -> None:
    app = build_app(exempt_fields=["root.body"], limits=SMALL)
    async with client_for(app) as client:
        response = await client.post("/echo", json={"body": "x" * 11})
    assert response.json()["rule"] == "max_string_length"


# --- internal errors --------------------------------------------------------------------------


def _broken_detect(value: str, enabled: frozenset[Any]) -> None:
    raise RuntimeError("detector bug")


def _traceback_of(record: logging.LogRecord) -> str:
    """The record's traceback, raw or already rendered.

    Once `hardpoint.secrets.redact_secrets()` is installed in the process (another test does
    it), every record's traceback is rendered and scrubbed into ``exc_text`` at creation.
    """
    if record.exc_info and record.exc_info[1] is not None:
        return f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
    return record.exc_text or ""


async def test_an_internal_error_fails_closed_with_500(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(middleware_module, "detect", _broken_detect)
    app = build_app()
    async with client_for(app) as client:
        response = await client.post("/echo", json={"name": "Zoë"})
    assert response.status_code == 500
    assert response.json()["rule"] == "internal_error"
    assert "detector bug" not in response.text
    assert app.state.seen.bodies == []
    assert any("detector bug" in _traceback_of(r) for r in caplog.records)


async def test_on_error_allow_passes_the_request_unchecked(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(middleware_module, "detect", _broken_detect)
    app = build_app(on_error="allow")
    body = json.dumps({"name": "Zoë", "x": SQLI}).encode()
    async with client_for(app) as client:
        response = await client.post(
            "/echo", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200
        assert response.content == body
        response = await client.get("/echo", params={"q": "x"})
        assert response.status_code == 200
    assert app.state.seen.bodies == [body, b""]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "detector bug" in _traceback_of(errors[0])


async def test_errors_in_the_app_are_not_ours_to_handle() -> None:
    async def failing_app(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("app bug")

    middleware = InputValidationMiddleware(failing_app, on_error="allow")
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        with pytest.raises(ValueError, match="app bug"):
            await client.get("/")


# --- logging and events -----------------------------------------------------------------------


async def test_a_block_is_logged_once_escaped_truncated_and_without_the_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="hardpoint.validation")
    card = "card=4111111111111111"
    payload = "x\n\r\x1b[31m\u202e" + SQLI + "y" * 500
    app = build_app(max_sample_chars=40)
    async with client_for(app) as client:
        response = await client.post("/echo", json={"other": card, "title": payload})
    assert response.status_code == 400
    records = [r for r in caplog.records if r.name == "hardpoint.validation"]
    assert len(records) == 1
    record = records[0]
    message = record.getMessage()
    assert record.levelno == logging.WARNING
    for part in ("blocked request", "sqli", "root.title", "POST", "/echo", "203.0.113.7:4242"):
        assert part in message
    assert card not in message
    assert "y" * 100 not in message
    assert "(+" in message  # says how much was cut
    for control in ("\n", "\r", "\x1b"):
        assert control not in message
    assert "\u202e" not in message
    assert "\\n" in message
    assert "\\x1b" in message
    assert record.rule == "sqli"  # type: ignore[attr-defined]  # set through extra=
    assert record.field == "root.title"  # type: ignore[attr-defined]  # set through extra=


async def test_max_sample_chars_zero_logs_no_sample(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="hardpoint.validation")
    async with client_for(build_app(max_sample_chars=0)) as client:
        await client.post("/echo", json={"title": SQLI})
    assert "sample" not in caplog.records[0].getMessage()
    assert "1=1" not in caplog.records[0].getMessage()


async def test_a_block_emits_one_request_blocked_event(received: list[events.Event]) -> None:
    async with client_for(build_app()) as client:
        await client.post("/echo", json={"title": SQLI})
        await client.post("/echo", json={"title": "O'Brien"})
    assert received == [
        events.RequestBlocked(
            rule="sqli", location="root.title", client="203.0.113.7", monitored=False
        )
    ]


# --- raw ASGI ---------------------------------------------------------------------------------


async def test_websocket_and_lifespan_scopes_pass_straight_through() -> None:
    calls: list[tuple[str, Any, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append((scope["type"], receive, send))

    async def receive() -> dict[str, Any]:
        raise AssertionError("the middleware must not read")

    async def send(message: Any) -> None:
        raise AssertionError("the middleware must not send")

    middleware = InputValidationMiddleware(app)
    for kind in ("websocket", "lifespan"):
        await middleware({"type": kind, "path": "/../../etc/passwd", "headers": []}, receive, send)
    assert calls == [("websocket", receive, send), ("lifespan", receive, send)]


def _scope(headers: list[tuple[bytes, bytes]], path: str = "/echo") -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": headers,
        "client": ("198.51.100.1", 5000),
    }


async def test_the_app_receives_the_same_messages_then_the_servers_next_ones() -> None:
    messages = [
        {"type": "http.request", "body": b'{"a": ', "more_body": True},
        {"type": "http.request", "body": b"", "more_body": True},
        {"type": "http.request", "body": b'"b"}', "more_body": False},
        {"type": "http.disconnect"},
    ]
    queue = list(messages)
    got: list[Any] = []

    async def receive() -> Any:
        return queue.pop(0)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        got.extend([await receive() for _ in range(4)])

    async def send(message: Any) -> None:
        raise AssertionError(message)

    middleware = InputValidationMiddleware(app)
    await middleware(_scope([(b"content-type", b"application/json")]), receive, send)
    assert got == messages
    assert got[0] is messages[0]


async def test_a_client_that_leaves_mid_body_never_reaches_the_app() -> None:
    queue: list[Any] = [
        {"type": "http.request", "body": b'{"a": ', "more_body": True},
        {"type": "http.disconnect"},
    ]
    called: list[bool] = []
    sent: list[Any] = []

    async def receive() -> Any:
        return queue.pop(0)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(True)

    async def send(message: Any) -> None:
        sent.append(message)

    middleware = InputValidationMiddleware(app)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"100")]
    await middleware(_scope(headers), receive, send)
    assert called == []
    assert sent == []


async def test_an_app_that_already_answered_is_cut_off_at_the_limit() -> None:
    chunks: list[Any] = [
        {"type": "http.request", "body": b"x" * 60, "more_body": True},
        {"type": "http.request", "body": b"x" * 60, "more_body": True},
        {"type": "http.request", "body": b"never", "more_body": False},
    ]
    sent: list[Any] = []
    seen: list[Any] = []

    async def receive() -> Any:
        return chunks.pop(0)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(3):
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect":
                break
        await send({"type": "http.response.body", "body": b"done"})

    async def send(message: Any) -> None:
        sent.append(message)

    middleware = InputValidationMiddleware(app, limits=Limits(max_body_bytes=100))
    await middleware(_scope([(b"content-type", b"application/octet-stream")]), receive, send)
    assert [m["type"] for m in seen] == ["http.request", "http.disconnect"]
    assert sent[0]["status"] == 200  # too late for a 413; the app saw the client leave


async def test_config_object_and_keywords_are_equivalent() -> None:
    config = ValidationConfig(mode="monitor")
    assert InputValidationMiddleware(build_app(), config=config).config == config


# --- properties -------------------------------------------------------------------------------

# Lone surrogates too: JSON escapes them ("\ud800") and json.loads hands them over.
_any_text = st.text(st.characters(exclude_categories=()), max_size=20)
json_documents = st.recursive(
    st.none() | st.integers() | _any_text | st.sampled_from(["\ud800%41", "%c0%ae\udfff"]),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(_any_text, children, max_size=5)
    ),
    max_leaves=20,
)

content_types = st.sampled_from(
    [
        b"application/json",
        b"application/x-www-form-urlencoded",
        b"multipart/form-data; boundary=XyZ",
        b"text/plain",
    ]
)


@given(
    body=st.binary(max_size=600) | st.builds(lambda d: json.dumps(d).encode(), json_documents),
    cuts=st.lists(st.integers(min_value=0, max_value=600), max_size=5),
    content_type=content_types,
    query=st.binary(max_size=60),
)
@settings(max_examples=300, deadline=None)
@example(body=b"x" * 600, cuts=[100], content_type=b"text/plain", query=b"")
@example(body=b'{"a": "<script>"}', cuts=[3, 3, 9], content_type=b"application/json", query=b"")
@example(body=b'{"a": "\\ud800%41"}', cuts=[], content_type=b"application/json", query=b"")
async def test_any_request_is_passed_exactly_or_refused_never_a_500(
    body: bytes, cuts: list[int], content_type: bytes, query: bytes
) -> None:
    points = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    messages: list[Any] = [
        {"type": "http.request", "body": body[a:b], "more_body": True}
        for a, b in itertools.pairwise(points)
    ] or [{"type": "http.request", "body": b"", "more_body": False}]
    messages[-1]["more_body"] = False
    queue = [*messages, {"type": "http.disconnect"}]
    got: list[Any] = []
    sent: list[Any] = []

    async def receive() -> Any:
        return queue.pop(0)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        got.extend([await receive() for _ in messages])

    async def send(message: Any) -> None:
        sent.append(message)

    scope = _scope([(b"content-type", content_type)])
    scope["query_string"] = query
    await InputValidationMiddleware(app, limits=SMALL)(scope, receive, send)
    if sent:
        assert sent[0]["status"] in {400, 413}
        assert set(json.loads(sent[1]["body"])) == {"error", "rule", "field", "detail"}
        # An inspected body is refused before the app runs; a streamed one may have
        # reached it in part, but never past the limit.
        assert sum(len(m.get("body", b"")) for m in got) <= SMALL.max_body_bytes
        if content_type != b"text/plain":
            assert got == []
    else:
        assert got == messages
