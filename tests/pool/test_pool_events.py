"""Pool checkouts and checkout timeouts reach the event sink (for hardpoint.metrics)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import exc, text

from hardpoint import events
from hardpoint.pool import create_async_engine, create_engine


@pytest.fixture
def seen() -> Iterator[list[events.Event]]:
    collected: list[events.Event] = []
    undo = events.subscribe(collected.append)
    yield collected
    undo()


def psycopg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def asyncpg_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+asyncpg://", 1)


def test_checkouts_report_wait_and_connections_in_use(
    postgres_url: str, seen: list[events.Event]
) -> None:
    engine = create_engine(psycopg_url(postgres_url), preset="web", pool_size=2, max_overflow=0)
    try:
        with engine.connect() as first, engine.connect() as second:
            first.execute(text("SELECT 1"))
            second.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    checkouts = [e for e in seen if isinstance(e, events.PoolCheckout)]
    assert [c.in_use for c in checkouts] == [1, 2]
    assert all(c.pool == "hardpoint-web" and c.wait >= 0 for c in checkouts)


def test_a_checkout_timeout_is_reported(postgres_url: str, seen: list[events.Event]) -> None:
    engine = create_engine(
        psycopg_url(postgres_url), preset="web", pool_size=1, max_overflow=0, pool_timeout=0.2
    )
    release = threading.Event()
    try:
        with engine.connect():
            with pytest.raises(exc.TimeoutError):
                engine.connect()
            release.set()
    finally:
        engine.dispose()
    timeouts = [e for e in seen if isinstance(e, events.PoolTimeout)]
    assert len(timeouts) == 1
    assert timeouts[0].wait >= 0.2


async def test_async_engines_report_too(postgres_url: str, seen: list[events.Event]) -> None:
    engine = create_async_engine(
        asyncpg_url(postgres_url), preset="worker", pool_size=1, pool_timeout=0.2
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            with pytest.raises(exc.TimeoutError):
                await asyncio.wait_for(engine.connect().__aenter__(), 5)
    finally:
        await engine.dispose()
    kinds = [type(e).__name__ for e in seen if e.component == "pool"]
    assert kinds == ["PoolCheckout", "PoolTimeout"]
    assert all(
        getattr(e, "pool", None) == "hardpoint-worker" for e in seen if e.component == "pool"
    )


def test_no_subscriber_means_no_events_and_a_plain_checkout(postgres_url: str) -> None:
    engine = create_engine(psycopg_url(postgres_url), preset="web")
    try:
        assert type(engine.pool).__name__ == "InstrumentedQueuePool"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_a_forked_child_gets_its_own_connections(postgres_url: str) -> None:
    import os

    engine = create_engine(psycopg_url(postgres_url), preset="worker", pool_size=2)
    try:
        with engine.connect() as conn:
            parent_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child process
            status = 1
            try:
                with engine.connect() as conn:
                    child_pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
                os.write(write, str(child_pid).encode())
                status = 0
            finally:
                os._exit(status)
        os.close(write)
        _, code = os.waitpid(child, 0)
        child_pid = int(os.read(read, 64) or b"0")
        os.close(read)
        assert os.waitstatus_to_exitcode(code) == 0
        assert child_pid not in (0, parent_pid)  # a new server session, not the parent's
        with engine.connect() as conn:  # the parent's pooled connection still works
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == parent_pid
    finally:
        engine.dispose()
