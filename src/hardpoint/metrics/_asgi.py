"""A plain ASGI app that serves ``/metrics``, summing worker files in multiprocess mode."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from hardpoint._optional import requires_extra
from hardpoint.metrics._prometheus import multiprocess_dir

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["ASGIApp", "metrics_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def metrics_app(registry: CollectorRegistry | None = None) -> ASGIApp:
    """Build an ASGI app that answers ``GET`` with the metrics in Prometheus text format.

    Route it in Starlette with ``Route("/metrics", metrics_app())`` (FastAPI:
    ``app.add_route("/metrics", metrics_app())``; a ``Mount`` would serve ``/metrics/``
    and redirect ``/metrics``), or serve it alone with uvicorn. It answers any path (the
    router decides), handles the ASGI lifespan, compresses with gzip when asked and
    negotiates OpenMetrics, as prometheus_client does.

    Args:
        registry: What to serve. Default: in multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``
            set) a registry that sums the files of every worker, otherwise
            prometheus_client's ``REGISTRY``.

    Returns:
        The ASGI application; methods other than GET and HEAD get 405.

    Raises:
        MissingDependencyError: prometheus-client is not installed (``hardpoint[prometheus]``).
    """
    with requires_extra("prometheus", feature="hardpoint.metrics.metrics_app"):
        import prometheus_client
        from prometheus_client import multiprocess

    if registry is None:
        path = multiprocess_dir()
        if path:
            registry = prometheus_client.CollectorRegistry()
            # prometheus_client leaves this constructor unannotated.
            multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        else:
            registry = prometheus_client.REGISTRY
    return _MetricsApp(prometheus_client.make_asgi_app(registry))


class _MetricsApp:
    """An object, not a function: Starlette's ``Route`` calls functions with a ``Request``."""

    def __init__(self, serve: ASGIApp) -> None:
        self._serve = serve

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return  # websockets: closing without accepting refuses the connection
        if scope.get("method", "GET") not in ("GET", "HEAD"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [(b"allow", b"GET, HEAD"), (b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"Method Not Allowed"})
            return
        await self._serve(scope, receive, send)
