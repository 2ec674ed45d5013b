"""Fixtures that give the tests real services: Redis, a Redis Cluster and PostgreSQL.

Each session fixture uses the service named by an environment variable when it is set
(``REDIS_URL``, ``REDIS_CLUSTER_URL``, ``DATABASE_URL``), else starts its own server from PATH on
a free loopback port (see ``_servers.py``), else skips the test with the reason, and under
``CI`` fails it instead. Tests that use them are marked ``redis`` or ``postgres`` automatically.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final, TypeVar

import pytest

# tests/ is no package, so make its helper module importable whatever --import-mode is in use.
_TESTS_DIR: Final = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from _servers import (  # noqa: E402 - needs the sys.path entry above
    RedisClusterEndpoint,
    RedisProcess,
    ServerNotFoundError,
    cluster_endpoint_from_url,
    skip_or_fail,
    start_postgres,
    start_redis,
    start_redis_cluster,
)

_T = TypeVar("_T")

_MARKS_BY_FIXTURE: Final = {
    "redis_url": "redis",
    "redis_server": "redis",
    "redis_cluster": "redis",
    "postgres_url": "postgres",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a service fixture, even indirectly, with its service."""
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        marks = {_MARKS_BY_FIXTURE[name] for name in item.fixturenames if name in _MARKS_BY_FIXTURE}
        for name in sorted(marks):
            if item.get_closest_marker(name) is None:
                item.add_marker(name)


def _start_or_skip(start: Callable[[], _T]) -> _T:
    """Return ``start()``; when its program is not installed, skip (or under CI, fail)."""
    try:
        return start()
    except ServerNotFoundError as exc:
        reason = str(exc)
    skip_or_fail(reason)  # outside the except block, so no chained traceback is shown


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a Redis server shared by the whole session; other tests' keys may be there."""
    url = _env("REDIS_URL")
    if url is not None:
        yield url
        return
    server = _start_or_skip(start_redis)
    with server:
        yield server.url


@pytest.fixture
def redis_server() -> Iterator[RedisProcess]:
    """A private ``redis-server`` for this test alone, which it may stop, restart or freeze.

    Started even when ``REDIS_URL`` is set, so a test never breaks a shared server.
    """
    server = _start_or_skip(start_redis)
    with server:  # on exit: thaw if frozen, kill, delete the directory
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterEndpoint]:
    """A 3-node Redis Cluster on loopback, or the one at ``REDIS_CLUSTER_URL``."""
    url = _env("REDIS_CLUSTER_URL")
    if url is not None:
        yield cluster_endpoint_from_url(url)
        return
    cluster = _start_or_skip(lambda: start_redis_cluster(size=3))
    with cluster:
        yield cluster.endpoint


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL database shared by the whole session (``DATABASE_URL`` if set)."""
    url = _env("DATABASE_URL")
    if url is not None:
        yield url
        return
    server = _start_or_skip(lambda: start_postgres(database="test"))
    with server:
        yield server.url
