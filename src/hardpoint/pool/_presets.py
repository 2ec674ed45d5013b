"""Pool presets: frozen, documented sets of engine settings for common deployments.

Nothing here imports SQLAlchemy or a driver; :mod:`hardpoint.pool._engine` turns a preset into
``create_engine`` keyword arguments for one driver.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from hardpoint.errors import ConfigurationError

__all__ = ["PRESETS", "PoolClass", "PoolPreset", "TargetSessionAttrs", "resolve_preset"]

PoolClass = Literal["queue", "null"]
TargetSessionAttrs = Literal[
    "any", "read-write", "read-only", "primary", "standby", "prefer-standby"
]

_POOL_CLASSES: Final = ("queue", "null")
_TARGET_SESSION_ATTRS: Final = (
    "any",
    "read-write",
    "read-only",
    "primary",
    "standby",
    "prefer-standby",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class PoolPreset:
    """Engine, pool and session settings for one kind of deployment.

    ``None`` always means "do not send this setting": the server's (or the driver's) own
    default applies. Timeouts in milliseconds are PostgreSQL settings, applied per session;
    timeouts in seconds are client-side.

    Attributes:
        pool_size: Connections the pool keeps open. Size it from a connection budget
            (:func:`hardpoint.pool.size_pool`, :func:`hardpoint.pool.check_connection_budget`),
            not from a guess: every process of every replica holds this many.
        max_overflow: Extra connections opened under bursts and closed when returned. Small,
            because overflow is what pushes a fleet past ``max_connections``.
        pool_timeout: Seconds to wait for a free connection before SQLAlchemy's
            ``TimeoutError``. Keep it well below the request deadline (5 s for web, where a
            deadline is 10-30 s) so overload fails fast instead of queueing requests that
            their clients have already given up on.
        pool_recycle: Seconds after which a connection is replaced at its next checkout. Below
            common infrastructure idle limits (AWS NLB 350 s, GCP 600 s, most PgBouncer and
            firewall defaults 900 s) so that the pool rarely hands out a connection that a
            middlebox has forgotten. ``-1`` disables recycling.
        pool_pre_ping: Test each connection with a cheap round trip at checkout and replace it
            when dead. This is what makes a server restart or failover invisible to requests;
            it costs one round trip per checkout.
        pool_use_lifo: Hand out the most recently returned connection first, so that idle
            connections beyond the steady load age out (recycle) instead of being kept warm.
        poolclass: ``"queue"`` (SQLAlchemy's ``QueuePool``, or ``AsyncAdaptedQueuePool``) or
            ``"null"`` (``NullPool``: a new connection per checkout, nothing kept between
            uses; for short-lived processes, serverless functions and migrations).
        statement_timeout_ms: PostgreSQL ``statement_timeout``: the server cancels any statement
            that runs longer, so one slow query cannot hold a connection for ever.
        lock_timeout_ms: PostgreSQL ``lock_timeout``: give up waiting for a lock after this
            long, so a blocked statement fails instead of piling up behind a long transaction.
        idle_in_transaction_session_timeout_ms: PostgreSQL
            ``idle_in_transaction_session_timeout``: the server ends sessions that leave a
            transaction open and idle (a forgotten ``commit``), releasing its locks.
        connect_timeout_s: Seconds to establish a connection (asyncpg ``timeout``, libpq
            ``connect_timeout``, rounded up to whole seconds, at least 2, as libpq requires).
        command_timeout_s: A client-side bound on each command (and each pre-ping), which is
            what makes a request fail on a silently dropped network path, where no
            server-side timeout can fire. asyncpg applies it as ``command_timeout``; psycopg
            has no such option, so hardpoint shuts down the socket of a statement still
            waiting at the deadline, and the pool replaces the connection. Keep it above
            ``statement_timeout_ms`` so the server's cleaner error comes first.
        keepalives_idle_s: Seconds of silence before TCP keepalive probes start (libpq
            ``keepalives_idle``). asyncpg has no client-side keepalive option; there
            ``command_timeout_s`` bounds a dead path.
        keepalives_interval_s: Seconds between keepalive probes (libpq ``keepalives_interval``).
        keepalives_count: Unanswered probes before the connection is dead (libpq
            ``keepalives_count``).
        tcp_user_timeout_ms: libpq ``tcp_user_timeout``: how long sent data may stay
            unacknowledged before the kernel drops the connection (Linux).
        application_name: PostgreSQL ``application_name``, shown in ``pg_stat_activity`` and in
            the server logs, so a DBA can tell which service holds a connection.
        read_only: Set ``default_transaction_read_only`` so that every transaction is read-only;
            a write fails at once instead of reaching a replica or the wrong server.
        target_session_attrs: Which server of a multi-host URL to use (asyncpg and libpq
            ``target_session_attrs``), such as ``"prefer-standby"`` for read replicas.
        prepared_statements: Whether the driver may keep named prepared statements on the
            server. Must be ``False`` behind PgBouncer in transaction mode, where consecutive
            statements may run on different server connections: asyncpg then gets
            ``statement_cache_size=0`` and unique statement names, psycopg
            ``prepare_threshold=None``.
        startup_settings: Whether the PostgreSQL settings above (timeouts, read-only) are sent
            at connection startup (asyncpg ``server_settings``, libpq ``options``). PgBouncer
            rejects unknown startup parameters and, in transaction mode, a ``SET`` would leak
            to other clients, so the ``pgbouncer`` preset turns this off and leaves the
            timeouts to the server: ``ALTER ROLE app SET statement_timeout = '5s'``.
            ``application_name`` is always sent; PgBouncer accepts it.
    """

    pool_size: int = 10
    max_overflow: int = 5
    pool_timeout: float = 5.0
    pool_recycle: int = 300
    pool_pre_ping: bool = True
    pool_use_lifo: bool = True
    poolclass: PoolClass = "queue"
    statement_timeout_ms: int | None = 10_000
    lock_timeout_ms: int | None = 2_000
    idle_in_transaction_session_timeout_ms: int | None = 30_000
    connect_timeout_s: float | None = 5.0
    command_timeout_s: float | None = 15.0
    keepalives_idle_s: int | None = 30
    keepalives_interval_s: int | None = 10
    keepalives_count: int | None = 3
    tcp_user_timeout_ms: int | None = 30_000
    application_name: str | None = "hardpoint"
    read_only: bool = False
    target_session_attrs: TargetSessionAttrs | None = None
    prepared_statements: bool = True
    startup_settings: bool = True

    def __post_init__(self) -> None:
        _check_non_negative(self, ("pool_size", "max_overflow", "pool_timeout"))
        _check_optional_positive(
            self,
            (
                "statement_timeout_ms",
                "lock_timeout_ms",
                "idle_in_transaction_session_timeout_ms",
                "connect_timeout_s",
                "command_timeout_s",
                "keepalives_idle_s",
                "keepalives_interval_s",
                "keepalives_count",
                "tcp_user_timeout_ms",
            ),
        )
        if self.poolclass == "queue" and self.pool_size < 1:
            msg = "pool_size must be at least 1 with poolclass='queue'"
            raise ConfigurationError(msg, field="pool_size")
        if self.pool_recycle < -1:
            msg = f"pool_recycle must be -1 (off) or seconds >= 0, not {self.pool_recycle!r}"
            raise ConfigurationError(msg, field="pool_recycle")
        if self.poolclass not in _POOL_CLASSES:
            msg = f"poolclass must be one of {_POOL_CLASSES}, not {self.poolclass!r}"
            raise ConfigurationError(msg, field="poolclass")
        tsa = self.target_session_attrs
        if tsa is not None and tsa not in _TARGET_SESSION_ATTRS:
            msg = f"target_session_attrs must be one of {_TARGET_SESSION_ATTRS}, not {tsa!r}"
            raise ConfigurationError(msg, field="target_session_attrs")


def _check_non_negative(preset: PoolPreset, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(preset, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            msg = f"{name} must be a number >= 0, not {value!r}"
            raise ConfigurationError(msg, field=name)


def _check_optional_positive(preset: PoolPreset, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(preset, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            msg = f"{name} must be a number > 0 or None, not {value!r}"
            raise ConfigurationError(msg, field=name)


_WEB: Final = PoolPreset(application_name="hardpoint-web")

PRESETS: Final[Mapping[str, PoolPreset]] = MappingProxyType(
    {
        # Request handlers: small pool, fail fast under overload, survive restarts (pre_ping).
        "web": _WEB,
        # Background workers: one connection per concurrent job, no overflow (the concurrency
        # is known), patient checkout, long statements allowed. Engines from hardpoint.pool
        # give a forked child an empty pool, so it never shares the parent's sockets.
        "worker": dataclasses.replace(
            _WEB,
            pool_size=4,
            max_overflow=0,
            pool_timeout=30.0,
            pool_recycle=1800,
            pool_use_lifo=False,
            statement_timeout_ms=300_000,
            lock_timeout_ms=10_000,
            idle_in_transaction_session_timeout_ms=60_000,
            connect_timeout_s=10.0,
            command_timeout_s=330.0,
            application_name="hardpoint-worker",
        ),
        # Serverless functions: nothing survives between invocations, so keep no pool.
        "serverless": dataclasses.replace(
            _WEB,
            poolclass="null",
            pool_pre_ping=False,  # every checkout is a fresh connection already
            idle_in_transaction_session_timeout_ms=10_000,
            application_name="hardpoint-serverless",
        ),
        # Behind PgBouncer in transaction mode: no server-side prepared statements and no
        # startup parameters besides application_name; timeouts belong on the server's role.
        "pgbouncer": dataclasses.replace(
            _WEB,
            statement_timeout_ms=None,
            lock_timeout_ms=None,
            idle_in_transaction_session_timeout_ms=None,
            prepared_statements=False,
            startup_settings=False,
            application_name="hardpoint-pgbouncer",
        ),
        # Read replicas: read-only sessions, prefer a standby of a multi-host URL, and allow
        # the longer reports that replicas usually serve.
        "read_replica": dataclasses.replace(
            _WEB,
            statement_timeout_ms=30_000,
            command_timeout_s=35.0,
            read_only=True,
            target_session_attrs="prefer-standby",
            application_name="hardpoint-read-replica",
        ),
        # Schema migrations: one short-lived connection, no statement limit (an index build may
        # take long), but a short lock_timeout so DDL waiting for a lock does not queue every
        # other query behind it; retry the migration instead.
        "migrations": dataclasses.replace(
            _WEB,
            poolclass="null",
            pool_pre_ping=False,
            statement_timeout_ms=None,
            lock_timeout_ms=3_000,
            idle_in_transaction_session_timeout_ms=None,
            connect_timeout_s=10.0,
            command_timeout_s=None,
            application_name="hardpoint-migrations",
        ),
    }
)

_FIELDS: Final = frozenset(field.name for field in dataclasses.fields(PoolPreset))


def resolve_preset(preset: str | PoolPreset, overrides: Mapping[str, object]) -> PoolPreset:
    """Return *preset* (a name or a `PoolPreset`) with *overrides* applied.

    Raises:
        ConfigurationError: Unknown preset name (field ``"preset"``) or override name, or an
            invalid value (field is the override's name).
    """
    base = preset if isinstance(preset, PoolPreset) else PRESETS.get(str(preset))
    if base is None:
        msg = f"unknown pool preset {preset!r}; choose one of {sorted(PRESETS)}"
        raise ConfigurationError(msg, field="preset")
    for name in overrides:
        if name not in _FIELDS:
            msg = f"unknown pool option {name!r}; PoolPreset has {sorted(_FIELDS)}"
            raise ConfigurationError(msg, field=name)
    if not overrides:
        return base
    return dataclasses.replace(base, **overrides)  # type: ignore[arg-type]  # names checked above
