"""Index aid: unindexed foreign keys, slow statements and hypothetical index gains.

Everything here *suggests*; nothing creates an index or an extension. SQLAlchemy is imported
lazily, inside the functions, so importing this module needs no extra.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from hardpoint._optional import requires_extra
from hardpoint.errors import ConfigurationError

if TYPE_CHECKING:
    from sqlalchemy import MetaData, Table
    from sqlalchemy.engine import Connection
    from sqlalchemy.sql.compiler import IdentifierPreparer

__all__ = [
    "IndexAdvice",
    "Report",
    "SlowStatement",
    "check_database",
    "estimate_gain",
    "format_report",
    "slow_statements",
    "unindexed_foreign_keys",
    "unindexed_foreign_keys_live",
]

logger = logging.getLogger(__name__)

# PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; keep suggested names below that.
_MAX_IDENTIFIER_BYTES: Final = 63
_SYSTEM_SCHEMAS: Final = ("pg_catalog", "information_schema")
_OBJECT_NOT_IN_PREREQUISITE_STATE: Final = "55000"  # pg_stat_statements not preloaded


@dataclass(frozen=True, slots=True)
class IndexAdvice:
    """A suggested index, never created by hardpoint.

    Attributes:
        table: Table name, unquoted and without its schema.
        columns: Column names of the foreign key, in constraint order, unquoted.
        reason: Why the index is suggested, for people.
        sql: The ``CREATE INDEX CONCURRENTLY`` statement to review and run yourself.
        estimated_gain: Planner cost without the index divided by the cost with it (``4.0``:
            about four times cheaper), from `estimate_gain`; ``None`` when not estimated.
        schema: The table's schema; ``None`` for the default search path.
    """

    table: str
    columns: tuple[str, ...]
    reason: str
    sql: str
    estimated_gain: float | None = None
    schema: str | None = None


@dataclass(frozen=True, slots=True)
class SlowStatement:
    """One normalised statement from ``pg_stat_statements``.

    Attributes:
        query: Statement text with constants replaced by ``$n`` placeholders.
        calls: Number of executions.
        total_ms: Total execution time, in milliseconds.
        mean_ms: Mean execution time, in milliseconds.
        rows: Rows retrieved or affected, summed over all calls.
        queryid: PostgreSQL's hash of the normalised statement.
    """

    query: str
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    queryid: int | None = None


@dataclass(frozen=True, slots=True)
class Report:
    """What `check_database` found.

    Attributes:
        database: The database URL, password hidden.
        unindexed_foreign_keys: Index suggestions, with gains when ``hypopg`` was present.
        slow_statements: The slowest statements by total time; empty without
            ``pg_stat_statements``.
        notes: Why a section is empty or partial, for example a missing extension.
    """

    database: str
    unindexed_foreign_keys: tuple[IndexAdvice, ...] = ()
    slow_statements: tuple[SlowStatement, ...] = ()
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------------------------
# Pure helpers: names and SQL text
# --------------------------------------------------------------------------------------------


@functools.cache
def _preparer() -> IdentifierPreparer:
    with requires_extra("sqlalchemy", feature="hardpoint.pool.indexes"):
        from sqlalchemy.dialects.postgresql.base import PGDialect

    # The base dialect imports no driver. A "named" paramstyle keeps "%" single in quoted
    # names: the SQL is shown to people, and text() doubles "%" itself for pyformat drivers.
    dialect = PGDialect(paramstyle="named")  # type: ignore[no-untyped-call] # unannotated upstream
    return dialect.identifier_preparer


def _quote(name: str) -> str:
    """Quote *name* for PostgreSQL when it needs it (case, odd characters, reserved words)."""
    return _preparer().quote(name)


def _qualified(schema: str | None, table: str) -> str:
    return f"{_quote(schema)}.{_quote(table)}" if schema else _quote(table)


def _index_name(table: str, columns: Sequence[str]) -> str:
    name = "_".join(["ix", table, *columns])
    if len(name.encode()) <= _MAX_IDENTIFIER_BYTES:
        return name
    # Too long: PostgreSQL would silently truncate, and two suggestions could collide.
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8]
    head = name.encode()[: _MAX_IDENTIFIER_BYTES - len(digest) - 1].decode(errors="ignore")
    return f"{head}_{digest}"


def _create_index_sql(schema: str | None, table: str, columns: Sequence[str]) -> str:
    cols = ", ".join(_quote(column) for column in columns)
    index = _quote(_index_name(table, columns))
    return f"CREATE INDEX CONCURRENTLY {index} ON {_qualified(schema, table)} ({cols})"


def _covered(fk_columns: Sequence[str], index_columns: Iterable[Sequence[str]]) -> bool:
    """Whether some index starts with exactly the FK's columns, in any order among them."""
    wanted = set(fk_columns)
    return any(set(columns[: len(wanted)]) == wanted for columns in index_columns)


def _advice(
    schema: str | None, table: str, columns: Sequence[str], referred: str, constraint: str | None
) -> IndexAdvice:
    named = f" {constraint!r}" if constraint else ""
    reason = (
        f"foreign key{named} ({', '.join(columns)}) -> {referred} has no index starting with "
        "its columns: deletes and key updates on the referenced table scan this table, and "
        "joins on the key cannot use an index"
    )
    return IndexAdvice(
        table=table,
        columns=tuple(columns),
        reason=reason,
        sql=_create_index_sql(schema, table, columns),
        schema=schema,
    )


def _table_index_columns(table: Table) -> list[tuple[str, ...]]:
    with requires_extra("sqlalchemy", feature="unindexed_foreign_keys"):
        from sqlalchemy import Column, UniqueConstraint

    found: list[tuple[str, ...]] = [tuple(column.name for column in table.primary_key.columns)]
    for index in table.indexes:
        names: list[str] = []
        for expression in index.expressions:
            if not isinstance(expression, Column):
                break  # an expression column ends the usable prefix
            names.append(expression.name)
        found.append(tuple(names))
    found.extend(
        tuple(column.name for column in constraint.columns)
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
    )
    return found


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def unindexed_foreign_keys(metadata: MetaData) -> list[IndexAdvice]:
    """Suggest an index for each foreign key of *metadata* that no index starts with.

    Needs no database. A foreign key counts as indexed when its columns, in any order, are the
    leading columns of an index, a unique constraint or the primary key of its table.

    Args:
        metadata: Tables as declared, for example ``Base.metadata``.

    Returns:
        One `IndexAdvice` per unindexed foreign key, sorted by schema, table and columns.

    Raises:
        MissingDependencyError: SQLAlchemy is not installed.
    """
    with requires_extra("sqlalchemy", feature="unindexed_foreign_keys"):
        from sqlalchemy import ForeignKeyConstraint

    advice: list[IndexAdvice] = []
    for table in metadata.sorted_tables:
        indexed = _table_index_columns(table)
        for constraint in table.constraints:
            if not isinstance(constraint, ForeignKeyConstraint):
                continue
            columns = [column.name for column in constraint.columns]
            if not columns or _covered(columns, indexed):
                continue
            target = constraint.referred_table
            referred = _qualified(target.schema, target.name)
            name = constraint.name if isinstance(constraint.name, str) else None
            advice.append(_advice(table.schema, table.name, columns, referred, name))
    return sorted(advice, key=lambda item: (item.schema or "", item.table, item.columns))


_LIVE_FOREIGN_KEYS_SQL: Final = """
SELECT n.nspname AS schema_name,
       cl.relname AS table_name,
       c.conname AS constraint_name,
       ARRAY(SELECT a.attname::text
               FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
               JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
              ORDER BY k.ord) AS columns,
       c.confrelid::regclass::text AS referred
  FROM pg_constraint AS c
  JOIN pg_class AS cl ON cl.oid = c.conrelid
  JOIN pg_namespace AS n ON n.oid = cl.relnamespace
 WHERE c.contype = 'f'
   AND n.nspname <> ALL (:system_schemas)
   AND n.nspname NOT LIKE 'pg\\_toast%'
   AND (CAST(:schemas AS text[]) IS NULL OR n.nspname = ANY (CAST(:schemas AS text[])))
   AND NOT EXISTS (
       -- a valid, non-partial index whose leading columns are exactly the FK's (any order);
       -- primary keys and unique constraints have such an index too
       SELECT 1
         FROM pg_index AS i
        WHERE i.indrelid = c.conrelid
          AND i.indisvalid
          AND i.indpred IS NULL
          AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
          AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
 ORDER BY n.nspname, cl.relname, c.conname
"""


def unindexed_foreign_keys_live(
    connection: Connection, *, schemas: Sequence[str] | None = None
) -> list[IndexAdvice]:
    """Suggest an index for each foreign key in the live PostgreSQL catalog that has none.

    Compares ``pg_constraint`` (``contype = 'f'``) with the leading ``indkey`` columns of every
    valid, non-partial index in ``pg_index``; ``pg_catalog`` and ``information_schema`` are
    skipped. Only reads the catalog, inside the connection's current transaction.

    Args:
        connection: A sync SQLAlchemy connection to PostgreSQL.
        schemas: Only look at these schemas; by default every non-system schema.

    Returns:
        One `IndexAdvice` per unindexed foreign key, sorted by schema, table and constraint.

    Raises:
        MissingDependencyError: SQLAlchemy is not installed.
    """
    with requires_extra("sqlalchemy", feature="unindexed_foreign_keys_live"):
        from sqlalchemy import text

    rows = connection.execute(
        text(_LIVE_FOREIGN_KEYS_SQL),
        {
            "system_schemas": list(_SYSTEM_SCHEMAS),
            "schemas": list(schemas) if schemas is not None else None,
        },
    )
    return [
        _advice(
            row.schema_name, row.table_name, list(row.columns), row.referred, row.constraint_name
        )
        for row in rows
    ]


def _extension_schema(connection: Connection, name: str) -> str | None:
    """Return the schema *name* is installed in, or ``None`` when it is not installed."""
    with requires_extra("sqlalchemy", feature="hardpoint.pool.indexes"):
        from sqlalchemy import text

    schema = connection.execute(
        text(
            "SELECT n.nspname FROM pg_extension AS e "
            "JOIN pg_namespace AS n ON n.oid = e.extnamespace WHERE e.extname = :name"
        ),
        {"name": name},
    ).scalar_one_or_none()
    return None if schema is None else str(schema)


def _sqlstate(exc: BaseException) -> str | None:
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return state if isinstance(state, str) else None


def slow_statements(connection: Connection, *, limit: int = 10) -> list[SlowStatement]:
    """Return the statements of this database with the most total time in ``pg_stat_statements``.

    Never creates the extension. Without it (not installed in this database, or installed but
    missing from ``shared_preload_libraries``) this logs why at INFO and returns ``[]``.

    Args:
        connection: A sync SQLAlchemy connection to PostgreSQL.
        limit: How many statements to return, at most.

    Returns:
        Up to *limit* statements, the largest total execution time first.

    Raises:
        MissingDependencyError: SQLAlchemy is not installed.
    """
    with requires_extra("sqlalchemy", feature="slow_statements"):
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

    schema = _extension_schema(connection, "pg_stat_statements")
    if schema is None:
        logger.info(
            "pg_stat_statements is not installed in this database, so no slow statements are "
            "reported; a superuser can add it to shared_preload_libraries and run "
            "CREATE EXTENSION pg_stat_statements"
        )
        return []
    version = int(connection.execute(text("SHOW server_version_num")).scalar_one())
    total, mean = (
        ("total_exec_time", "mean_exec_time") if version >= 130000 else ("total_time", "mean_time")
    )
    view = f"{_quote(schema)}.pg_stat_statements"
    sql = text(
        f"SELECT queryid, query, calls, {total} AS total_ms, {mean} AS mean_ms, rows "  # noqa: S608 - identifiers are quoted or fixed
        f"FROM {view} WHERE dbid = (SELECT oid FROM pg_database "
        "WHERE datname = current_database()) AND query IS NOT NULL "
        f"ORDER BY {total} DESC LIMIT :limit"
    )
    try:
        with connection.begin_nested():  # a failure must not abort the caller's transaction
            rows = connection.execute(sql, {"limit": limit}).all()
    except DBAPIError as exc:
        if _sqlstate(exc) != _OBJECT_NOT_IN_PREREQUISITE_STATE:
            raise
        logger.info(
            "pg_stat_statements is installed but not loaded (it must be in "
            "shared_preload_libraries), so no slow statements are reported"
        )
        return []
    return [
        SlowStatement(
            query=str(row.query),
            calls=int(row.calls),
            total_ms=float(row.total_ms),
            mean_ms=float(row.mean_ms),
            rows=int(row.rows),
            queryid=None if row.queryid is None else int(row.queryid),
        )
        for row in rows
    ]


def _escape_colons(sql: str) -> str:
    # text() reads ":name" as a bind parameter; identifiers may contain colons.
    return sql.replace(":", "\\:")


def _representative_cost(connection: Connection, advice: IndexAdvice) -> float:
    """Planner cost of ``SELECT * FROM t WHERE fk = $1 ...`` with a generic plan."""
    with requires_extra("sqlalchemy", feature="estimate_gain"):
        from sqlalchemy import text

    table = _qualified(advice.schema, advice.table)
    where = " AND ".join(f"{_quote(column)} = ${n}" for n, column in enumerate(advice.columns, 1))
    name = f"hp_idx_probe_{secrets.token_hex(6)}"
    nulls = ", ".join("NULL" for _ in advice.columns)
    prepared = False
    try:
        with connection.begin_nested():
            # A generic plan knows no parameter value, as for a typical lookup by key; a custom
            # plan would fold "= NULL" into a constant false.
            previous = connection.execute(text("SELECT current_setting('plan_cache_mode')"))
            old_mode = str(previous.scalar_one())
            connection.execute(
                text("SELECT set_config('plan_cache_mode', 'force_generic_plan', true)")
            )
            connection.execute(
                # S608: every identifier is quoted by SQLAlchemy's PostgreSQL preparer.
                text(_escape_colons(f"PREPARE {name} AS SELECT * FROM {table} WHERE {where}"))  # noqa: S608
            )
            prepared = True
            plan = connection.execute(text(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({nulls})"))
            cost = float(plan.scalar_one()[0]["Plan"]["Total Cost"])
            connection.execute(
                text("SELECT set_config('plan_cache_mode', :mode, true)"), {"mode": old_mode}
            )
    finally:
        if prepared:  # prepared statements outlive a rolled-back savepoint
            connection.execute(text(f"DEALLOCATE {name}"))
    return cost


def estimate_gain(connection: Connection, advice: IndexAdvice) -> float | None:
    """Estimate how much cheaper *advice*'s index makes a lookup by its columns, with ``hypopg``.

    Plans ``SELECT * FROM table WHERE col = $1 ...`` (a generic plan, so no parameter value
    skews it) without and then with a hypothetical index from ``hypopg_create_index``, and drops
    that hypothetical index again; no real index is ever built.

    Args:
        connection: A sync SQLAlchemy connection to PostgreSQL.
        advice: A suggestion from `unindexed_foreign_keys_live` (or from the metadata, when the
            tables exist in this database).

    Returns:
        Planner cost without the index divided by the cost with it (``1.0``: no gain), or
        ``None`` when ``hypopg`` is not installed in this database or the estimate failed
        (logged at INFO or WARNING).

    Raises:
        MissingDependencyError: SQLAlchemy is not installed.
    """
    with requires_extra("sqlalchemy", feature="estimate_gain"):
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

    schema = _extension_schema(connection, "hypopg")
    if schema is None:
        logger.info("hypopg is not installed in this database, so no index gain is estimated")
        return None
    hypopg = _quote(schema)
    table = _qualified(advice.schema, advice.table)
    columns = ", ".join(_quote(column) for column in advice.columns)
    index_oid: int | None = None
    try:
        before = _representative_cost(connection, advice)
        with connection.begin_nested():
            created = connection.execute(
                text(f"SELECT indexrelid FROM {hypopg}.hypopg_create_index(:ddl)"),  # noqa: S608
                {"ddl": f"CREATE INDEX ON {table} ({columns})"},
            )
            index_oid = int(created.scalar_one())
        after = _representative_cost(connection, advice)
    except DBAPIError as exc:
        logger.warning(
            "could not estimate the gain of an index on %s (%s): %s",
            advice.table,
            ", ".join(advice.columns),
            exc.orig,
        )
        return None
    finally:
        if index_oid is not None:
            # Hypothetical indexes live in backend memory, outside any transaction; drop ours
            # (and only ours, unlike hypopg_reset()) so the session is left as we found it.
            connection.execute(text(f"SELECT {hypopg}.hypopg_drop_index(:oid)"), {"oid": index_oid})
    if after <= 0:
        return None
    return before / after


def _sync_url(url: str) -> str:
    with requires_extra("sqlalchemy", feature="check_database"):
        from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        msg = f"check_database needs a PostgreSQL URL, not {parsed.get_backend_name()!r}"
        raise ConfigurationError(msg, field="url")
    if parsed.get_driver_name() in {"asyncpg", "psycopg_async"}:
        parsed = parsed.set(drivername="postgresql+psycopg")  # the checks are sync
    return parsed.render_as_string(hide_password=False)


def check_database(url: str, *, schemas: Sequence[str] | None = None, limit: int = 10) -> Report:
    """Run every live check against the PostgreSQL database at *url*.

    Opens one connection (no pool), reads the catalog and statistics, rolls back and closes.
    Creates nothing: no index, no extension.

    Args:
        url: SQLAlchemy URL of the database; async drivers are swapped for psycopg 3.
        schemas: Only look at these schemas for foreign keys; by default every user schema.
        limit: How many slow statements to report, at most.

    Returns:
        The suggestions, each with its estimated gain when ``hypopg`` is installed, the slowest
        statements, and notes on what could not be checked.

    Raises:
        ConfigurationError: *url* is not a PostgreSQL URL.
        MissingDependencyError: SQLAlchemy or the database driver is not installed.
    """
    with requires_extra("sqlalchemy", feature="check_database"):
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url
        from sqlalchemy.pool import NullPool

    engine = create_engine(_sync_url(url), poolclass=NullPool)
    notes: list[str] = []
    try:
        with engine.connect() as connection:
            advice = unindexed_foreign_keys_live(connection, schemas=schemas)
            if _extension_schema(connection, "hypopg") is None:
                notes.append("hypopg is not installed: index gains are not estimated")
            else:
                advice = [
                    dataclasses.replace(item, estimated_gain=estimate_gain(connection, item))
                    for item in advice
                ]
            if _extension_schema(connection, "pg_stat_statements") is None:
                notes.append("pg_stat_statements is not installed: no slow statements")
            statements = slow_statements(connection, limit=limit)
            connection.rollback()
    finally:
        engine.dispose()
    return Report(
        database=make_url(url).render_as_string(hide_password=True),
        unindexed_foreign_keys=tuple(advice),
        slow_statements=tuple(statements),
        notes=tuple(notes),
    )


def format_report(report: Report) -> str:
    """Render *report* as plain text for a terminal, ending with a newline."""
    lines = [f"Database: {report.database}", ""]
    lines.append(f"Unindexed foreign keys: {len(report.unindexed_foreign_keys)}")
    for item in report.unindexed_foreign_keys:
        where = f"{item.schema}.{item.table}" if item.schema else item.table
        gain = "" if item.estimated_gain is None else f" (estimated {item.estimated_gain:.1f}x)"
        lines.append(f"  - {where} ({', '.join(item.columns)}){gain}")
        lines.append(f"    {item.sql};")
    lines.append("")
    lines.append(f"Slowest statements: {len(report.slow_statements)}")
    for statement in report.slow_statements:
        query = " ".join(statement.query.split())
        if len(query) > 100:
            query = query[:97] + "..."
        lines.append(
            f"  - {statement.total_ms:.1f} ms total, {statement.calls} calls, "
            f"{statement.mean_ms:.2f} ms mean: {query}"
        )
    if report.notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  - {note}" for note in report.notes)
    return "\n".join(lines) + "\n"
