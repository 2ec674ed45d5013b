"""A client-side command timeout for libpq drivers, which have none of their own.

asyncpg bounds every command with ``command_timeout``. psycopg waits for a reply for as long as
the socket stays open, so on a silently dropped network path (a NAT or firewall that forgot the
flow, while a middlebox still acknowledges packets) a statement hangs until TCP gives up, which
can take many minutes; ``statement_timeout`` cannot help because the server never sees it.

The watchdog arms a deadline before each statement, pre-ping, commit and rollback, and disarms
it after.
One daemon thread shuts down the socket of a statement still running at its deadline; the
driver then sees end-of-file, raises an ``OperationalError`` that SQLAlchemy treats as a
disconnect, and the pool replaces the connection.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine, ExceptionContext

__all__ = ["install_watchdog"]

_R = TypeVar("_R")

logger = logging.getLogger(__name__)


class _Watchdog:
    """Deadlines for sockets, served by one lazily started daemon thread."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int]] = []
        self._armed: dict[int, int] = {}  # token -> file descriptor
        self._tokens = itertools.count(1)
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, timeout: float) -> int:
        token = next(self._tokens)
        with self._condition:
            self._armed[token] = fd
            heapq.heappush(self._heap, (time.monotonic() + timeout, token))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="hardpoint-pool-watchdog", daemon=True
                )
                self._thread.start()
            self._condition.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._condition:
            self._armed.pop(token, None)

    def _run(self) -> None:
        while True:
            with self._condition:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)  # disarmed: drop lazily
                if not self._heap:
                    self._condition.wait()
                    continue
                deadline, token = self._heap[0]
                delay = deadline - time.monotonic()
                if delay > 0:
                    self._condition.wait(delay)
                    continue
                heapq.heappop(self._heap)
                fd = self._armed.pop(token)
                # Under the lock: the statement cannot finish and close this descriptor now.
                _shut_down(fd)


def _shut_down(fd: int) -> None:
    logger.warning("database command passed its timeout; closing the connection (fd %d)", fd)
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)  # acts on the shared socket, waking the driver
        finally:
            sock.close()


_WATCHDOG: Final = _Watchdog()


def _fd(dbapi_connection: Any) -> int | None:
    """File descriptor of a psycopg (or SQLAlchemy async-adapted psycopg) connection."""
    raw = getattr(dbapi_connection, "_connection", dbapi_connection)
    fileno: Callable[[], int] | None = getattr(raw, "fileno", None)
    if fileno is None:
        return None
    try:
        return fileno()
    except Exception:
        return None


def install_watchdog(engine: Engine, timeout: float) -> None:
    """Bound every statement and pre-ping on *engine* to *timeout* seconds.

    Args:
        engine: A psycopg engine (for an async engine, its ``sync_engine``).
        timeout: Seconds a statement may wait for the server before its socket is shut down.
    """
    from sqlalchemy import event

    tokens: dict[object, int] = {}  # cursor -> token; one statement per cursor at a time

    def before(conn: Connection, cursor: object, *_args: object) -> None:
        fd = _fd(conn.connection.dbapi_connection)
        if fd is not None:
            tokens[cursor] = _WATCHDOG.arm(fd, timeout)

    def after(_conn: Connection, cursor: object, *_args: object) -> None:
        token = tokens.pop(cursor, None)
        if token is not None:
            _WATCHDOG.disarm(token)

    def on_error(context: ExceptionContext) -> None:
        # ExceptionContext.cursor is declared but never set (SQLAlchemy 2.0/2.1); the
        # execution context holds the cursor that before_cursor_execute saw.
        cursor = getattr(context.execution_context, "cursor", None)
        token = tokens.pop(cursor, None) if cursor is not None else None
        if token is not None:
            _WATCHDOG.disarm(token)

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", on_error)

    # Pre-ping, commit and the rollback that resets a returned connection call the dialect
    # directly, with no event around them; the dialect instance belongs to this engine.
    dialect = engine.dialect
    for name in ("do_ping", "do_commit", "do_rollback"):
        setattr(dialect, name, _guarded(getattr(dialect, name), timeout))


def _guarded(method: Callable[[Any], _R], timeout: float) -> Callable[[Any], _R]:
    """Wrap a dialect method that takes a DBAPI connection with an armed deadline."""

    @functools.wraps(method)
    def guarded(dbapi_connection: Any) -> _R:
        fd = _fd(dbapi_connection)
        token = _WATCHDOG.arm(fd, timeout) if fd is not None else None
        try:
            return method(dbapi_connection)
        finally:
            if token is not None:
                _WATCHDOG.disarm(token)

    return guarded
