"""Turn a `PoolPreset` into SQLAlchemy engine options, and build engines with them.

SQLAlchemy and the drivers are imported only inside functions, so ``import hardpoint.pool``
works without the ``sqlalchemy`` extra.
"""

from __future__ import annotations

import logging
import math
import os
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypedDict

from hardpoint._optional import requires_extra
from hardpoint.errors import ConfigurationError
from hardpoint.pool._instrumented import instrumented_pool_class
from hardpoint.pool._presets import PoolPreset, resolve_preset
from hardpoint.pool._watchdog import install_watchdog

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Dialect, Engine, ExceptionContext
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlalchemy.pool import Pool

__all__ = [
    "SERVER_GONE_SQLSTATES",
    "EngineOptions",
    "create_async_engine",
    "create_engine",
    "engine_options",
]

logger = logging.getLogger(__name__)

Driver = Literal["asyncpg", "psycopg", "psycopg2", "sqlite"]

#: SQLSTATEs meaning "this server can no longer serve this session": the connection is
#: invalidated like a disconnect, so the pool replaces it (and, by SQLAlchemy's default, every
#: older pooled connection) instead of handing it out again.
SERVER_GONE_SQLSTATES: Final = frozenset(
    {
        "25006",  # read_only_sql_transaction: the primary was demoted by a failover
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: the server is starting or shutting down
    }
)


_LIBPQ_DRIVERS: Final = frozenset({"psycopg", "psycopg_async", "psycopg2"})


class EngineOptions(TypedDict, total=False):
    """Keyword arguments for ``sqlalchemy.create_engine`` / ``create_async_engine``."""

    poolclass: type[Pool]
    pool_size: int
    max_overflow: int
    pool_timeout: float
    pool_recycle: int
    pool_pre_ping: bool
    pool_use_lifo: bool
    connect_args: dict[str, Any]


def _url(url: str | URL) -> URL:
    with requires_extra("sqlalchemy", feature="hardpoint.pool"):
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        msg = f"not a database URL: {exc}"
        raise ConfigurationError(msg, field="url") from None


def _driver(url: URL) -> Driver:
    backend = url.get_backend_name()
    if backend == "sqlite":
        return "sqlite"
    if backend == "postgresql":
        driver = url.get_driver_name()
        if driver == "asyncpg":
            return "asyncpg"
        if driver == "psycopg2":
            return "psycopg2"
        if driver in ("psycopg", "psycopg_async") or "+" not in url.drivername:
            return "psycopg"
    msg = (
        f"hardpoint.pool supports postgresql+asyncpg, postgresql+psycopg, postgresql+psycopg2 "
        f"and sqlite URLs, not {url.drivername!r}"
    )
    raise ConfigurationError(msg, field="url")


def _normalize(url: URL) -> URL:
    """Pick psycopg 3 for a plain ``postgresql://`` URL (SQLAlchemy would pick psycopg2)."""
    if url.drivername == "postgresql":
        return url.set(drivername="postgresql+psycopg")
    return url


def _pg_settings(preset: PoolPreset) -> dict[str, str]:
    """PostgreSQL settings sent at connection startup, as strings."""
    settings: dict[str, str] = {}
    if preset.startup_settings:
        for name, value in (
            ("statement_timeout", preset.statement_timeout_ms),
            ("lock_timeout", preset.lock_timeout_ms),
            (
                "idle_in_transaction_session_timeout",
                preset.idle_in_transaction_session_timeout_ms,
            ),
        ):
            if value is not None:
                settings[name] = str(value)  # milliseconds, the unit of all three
        if preset.read_only:
            settings["default_transaction_read_only"] = "on"
    return settings


def _unique_statement_name() -> str:
    import uuid

    return f"__hardpoint_{uuid.uuid4().hex}__"


def _asyncpg_args(preset: PoolPreset) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if preset.connect_timeout_s is not None:
        args["timeout"] = preset.connect_timeout_s
    if preset.command_timeout_s is not None:
        args["command_timeout"] = preset.command_timeout_s
    server_settings = _pg_settings(preset)
    if preset.application_name is not None:
        server_settings["application_name"] = preset.application_name
    if server_settings:
        args["server_settings"] = server_settings
    if preset.target_session_attrs is not None:
        args["target_session_attrs"] = preset.target_session_attrs
    if not preset.prepared_statements:
        args["statement_cache_size"] = 0  # asyncpg's own cache
        args["prepared_statement_cache_size"] = 0  # SQLAlchemy's adapter cache
        args["prepared_statement_name_func"] = _unique_statement_name
    return args


def _libpq_args(preset: PoolPreset, *, psycopg3: bool) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if preset.connect_timeout_s is not None:
        # libpq takes whole seconds and treats 1 as 2.
        args["connect_timeout"] = max(2, math.ceil(preset.connect_timeout_s))
    if preset.application_name is not None:
        args["application_name"] = preset.application_name
    settings = _pg_settings(preset)
    if settings:
        args["options"] = " ".join(f"-c {name}={value}" for name, value in settings.items())
    if preset.keepalives_idle_s is not None:
        args["keepalives"] = 1
        args["keepalives_idle"] = preset.keepalives_idle_s
        if preset.keepalives_interval_s is not None:
            args["keepalives_interval"] = preset.keepalives_interval_s
        if preset.keepalives_count is not None:
            args["keepalives_count"] = preset.keepalives_count
    if preset.tcp_user_timeout_ms is not None:
        args["tcp_user_timeout"] = preset.tcp_user_timeout_ms
    if preset.target_session_attrs is not None:
        args["target_session_attrs"] = preset.target_session_attrs
    if psycopg3 and not preset.prepared_statements:
        args["prepare_threshold"] = None  # never prepare server-side
    return args


def _options(url: URL, preset: PoolPreset) -> EngineOptions:
    driver = _driver(url)
    options: EngineOptions = {}
    with requires_extra("sqlalchemy", feature="hardpoint.pool"):
        from sqlalchemy.pool import NullPool
    in_memory = driver == "sqlite" and url.database in (None, "", ":memory:")
    if preset.poolclass == "null":
        options["poolclass"] = NullPool
    elif not in_memory:  # SQLite in memory uses a single-connection pool with no sizing
        options["pool_size"] = preset.pool_size
        options["max_overflow"] = preset.max_overflow
        options["pool_timeout"] = preset.pool_timeout
        options["pool_use_lifo"] = preset.pool_use_lifo
    if not in_memory:
        options["pool_recycle"] = preset.pool_recycle
        options["pool_pre_ping"] = preset.pool_pre_ping
    if driver == "asyncpg":
        options["connect_args"] = _asyncpg_args(preset)
    elif driver in ("psycopg", "psycopg2"):
        options["connect_args"] = _libpq_args(preset, psycopg3=driver == "psycopg")
    elif preset.connect_timeout_s is not None:
        # sqlite3's timeout: seconds to wait for another connection's write lock.
        options["connect_args"] = {"timeout": preset.connect_timeout_s}
    return options


def engine_options(
    url: str | URL, preset: str | PoolPreset = "web", **overrides: object
) -> EngineOptions:
    """Return ``create_engine`` keyword arguments for *url*'s driver and a preset.

    For users who build their engines themselves. A plain ``postgresql://`` URL is treated as
    psycopg 3; pass ``postgresql+psycopg://`` to SQLAlchemy too (its default is psycopg2).
    SQLite gets only the pool settings that apply to it and no PostgreSQL settings.

    Args:
        url: Database URL, for example ``"postgresql+asyncpg://app@db/app"``.
        preset: A name from `PRESETS` or a `PoolPreset`.
        **overrides: `PoolPreset` fields to change, for example ``pool_size=20``.

    Returns:
        ``poolclass``, the ``pool_*`` options and ``connect_args`` for the driver.

    Raises:
        ConfigurationError: Unknown preset (``field="preset"``), unknown or invalid override
            (``field`` is its name), or an unsupported URL (``field="url"``).
        MissingDependencyError: SQLAlchemy is not installed.
    """
    resolved = resolve_preset(preset, overrides)
    return _options(_url(url), resolved)


def _sqlstate(exc: BaseException | None) -> str | None:
    """SQLSTATE of *exc* or of an exception it wraps (psycopg, asyncpg, SQLAlchemy's adapter)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        for attribute in ("sqlstate", "pgcode"):
            code = getattr(exc, attribute, None)
            if isinstance(code, str) and code:
                return code
        exc = exc.__cause__ or exc.__context__
    return None


def _on_error(context: ExceptionContext) -> None:
    code = _sqlstate(context.original_exception)
    if code in SERVER_GONE_SQLSTATES and not context.is_disconnect:
        logger.warning(
            "database error %s means the server can no longer serve this session; "
            "invalidating the connection",
            code,
        )
        context.is_disconnect = True


def _instrument(
    engine: Engine, preset: PoolPreset, password: str | Callable[[], str] | None
) -> None:
    from sqlalchemy import event

    event.listen(engine, "handle_error", _on_error)
    _dispose_after_fork(engine)
    if preset.command_timeout_s is not None and engine.dialect.driver in _LIBPQ_DRIVERS:
        install_watchdog(engine, preset.command_timeout_s)
    if password is None:
        return

    def set_password(
        dialect: Dialect, conn_rec: object, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> None:
        # Called for every new DBAPI connection, so a rotated password is used at once.
        cparams["password"] = password() if callable(password) else password

    event.listen(engine, "do_connect", set_password)


def _dispose_after_fork(engine: Engine) -> None:
    """In a forked child, drop the pool's inherited connections without closing them.

    A child that used the parent's sockets would interleave its protocol messages with the
    parent's. ``dispose(close=False)`` (SQLAlchemy's recipe for multiprocessing) gives the
    child a fresh, empty pool and leaves the parent's connections alone.
    """
    ref = weakref.ref(engine)

    def in_child() -> None:
        alive = ref()
        if alive is not None:
            alive.dispose(close=False)

    os.register_at_fork(after_in_child=in_child)


def _report_checkouts(options: EngineOptions, base: type[Pool], preset: PoolPreset) -> None:
    """Use a queue pool that emits checkout events, where the options ask for a sized pool."""
    if "poolclass" not in options and "pool_size" in options:
        label = preset.application_name or "pool"
        options["poolclass"] = instrumented_pool_class(base, label)


def _prepare(
    url: str | URL, preset: str | PoolPreset, overrides: Mapping[str, object]
) -> tuple[URL, PoolPreset, EngineOptions]:
    resolved = resolve_preset(preset, overrides)
    parsed = _normalize(_url(url))
    return parsed, resolved, _options(parsed, resolved)


def create_engine(
    url: str | URL,
    preset: str | PoolPreset = "web",
    *,
    password: str | Callable[[], str] | None = None,
    **overrides: object,
) -> Engine:
    """Create a SQLAlchemy `Engine` configured by a preset.

    Args:
        url: Database URL; plain ``postgresql://`` uses psycopg 3.
        preset: A name from `PRESETS` or a `PoolPreset`.
        password: The password, or a callable returning it that is called for each new
            connection (for example ``lambda: get_secret("DB_PASSWORD")``), so a rotated
            password is picked up without a restart. It overrides a password in *url*.
        **overrides: `PoolPreset` fields to change, for example ``pool_timeout=2``.

    Returns:
        The engine. Errors meaning the server can no longer serve the session (SQLSTATE
        25006 after a failover, 57P01-57P03 shutdowns) invalidate the connection.

    Raises:
        ConfigurationError: Unknown preset, unknown or invalid override, unsupported URL.
        MissingDependencyError: SQLAlchemy (or the URL's driver) is not installed.
    """
    parsed, resolved, options = _prepare(url, preset, overrides)
    with requires_extra("sqlalchemy", feature="hardpoint.pool.create_engine"):
        import sqlalchemy
        from sqlalchemy.pool import QueuePool

        _report_checkouts(options, QueuePool, resolved)
        engine = sqlalchemy.create_engine(parsed, **options)
    _instrument(engine, resolved, password)
    return engine


def create_async_engine(
    url: str | URL,
    preset: str | PoolPreset = "web",
    *,
    password: str | Callable[[], str] | None = None,
    **overrides: object,
) -> AsyncEngine:
    """Create a SQLAlchemy `AsyncEngine` configured by a preset.

    Takes the same arguments as `create_engine`; use a ``postgresql+asyncpg://`` or
    ``postgresql+psycopg://`` URL (plain ``postgresql://`` uses psycopg 3's async mode).

    Returns:
        The async engine, with the same error handling as `create_engine`.

    Raises:
        ConfigurationError: Unknown preset, unknown or invalid override, unsupported URL.
        MissingDependencyError: SQLAlchemy, greenlet or the URL's driver is not installed.
    """
    parsed, resolved, options = _prepare(url, preset, overrides)
    with requires_extra("sqlalchemy", feature="hardpoint.pool.create_async_engine"):
        from sqlalchemy.ext.asyncio import create_async_engine as sa_create_async_engine
        from sqlalchemy.pool import AsyncAdaptedQueuePool

        _report_checkouts(options, AsyncAdaptedQueuePool, resolved)
        engine = sa_create_async_engine(parsed, **options)
    _instrument(engine.sync_engine, resolved, password)
    return engine
