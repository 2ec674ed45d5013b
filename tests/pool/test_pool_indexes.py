"""Index aid against declared metadata and the real PostgreSQL catalog.

Each database test works in its own ``hp_idx_<random>`` schema, dropped afterwards. The
positive ``pg_stat_statements`` path runs on a private server started with the library
preloaded, so the shared database never gets an extension. ``hypopg`` is tested only where
absent unless the server offers it.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest
from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Table,
    UniqueConstraint,
    create_engine,
    text,
)
from sqlalchemy.engine import Connection

from _servers import PostgresProcess, start_postgres
from hardpoint.errors import ConfigurationError
from hardpoint.pool import indexes
from hardpoint.pool._indexes import _representative_cost
from hardpoint.pool.indexes import (
    IndexAdvice,
    Report,
    SlowStatement,
    check_database,
    estimate_gain,
    format_report,
    slow_statements,
    unindexed_foreign_keys,
    unindexed_foreign_keys_live,
)

LOGGER = "hardpoint.pool._indexes"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def schema(engine: Engine) -> Iterator[str]:
    """A fresh, empty schema for this test alone, dropped with everything in it afterwards."""
    name = f"hp_idx_{secrets.token_hex(4)}"
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    try:
        yield name
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))


def _extension_installed(conn: Connection, name: str) -> bool:
    found = conn.execute(
        text("SELECT 1 FROM pg_extension WHERE extname = :name"), {"name": name}
    ).first()
    return found is not None


def _parent(metadata: MetaData) -> Table:
    return Table(
        "parent",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("code", Integer, nullable=False),
        UniqueConstraint("id", "code"),
    )


def _create(engine: Engine, metadata: MetaData) -> None:
    with engine.begin() as conn:
        metadata.create_all(conn)


def _live(engine: Engine, schema: str) -> list[IndexAdvice]:
    with engine.connect() as conn:
        return unindexed_foreign_keys_live(conn, schemas=[schema])


def _keys(advice: list[IndexAdvice]) -> list[tuple[str, tuple[str, ...]]]:
    return [(item.table, item.columns) for item in advice]


# --- pure: metadata ----------------------------------------------------------------------------


def test_public_module_exports_a_sorted_all() -> None:
    assert indexes.__all__ == sorted(indexes.__all__)
    assert all(hasattr(indexes, name) for name in indexes.__all__)


def test_metadata_unindexed_foreign_key_is_suggested() -> None:
    metadata = MetaData()
    _parent(metadata)
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey("parent.id")),
    )

    [advice] = unindexed_foreign_keys(metadata)

    assert advice.table == "child"
    assert advice.schema is None
    assert advice.columns == ("parent_id",)
    assert advice.sql == "CREATE INDEX CONCURRENTLY ix_child_parent_id ON child (parent_id)"
    assert advice.estimated_gain is None
    assert "parent" in advice.reason


def _covered_and_uncovered(metadata: MetaData) -> None:
    """Children whose FK is covered in each supported way, and two that are not."""
    _parent(metadata)
    Table(  # a plain index
        "by_index",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey("parent.id"), index=True),
    )
    Table(  # a composite index with the FK first
        "by_composite",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey("parent.id")),
        Column("created", Integer),
        Index("ix_by_composite_lead", "parent_id", "created"),
    )
    Table(  # the FK is the leading column of the primary key
        "by_pk",
        metadata,
        Column("parent_id", Integer, ForeignKey("parent.id"), primary_key=True),
        Column("line", Integer, primary_key=True),
    )
    Table(  # a unique constraint starting with the FK
        "by_unique",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey("parent.id")),
        Column("slot", Integer),
        UniqueConstraint("parent_id", "slot"),
    )
    Table(  # the FK is only the second column of an index: not usable
        "second_column",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("created", Integer),
        Column("parent_id", Integer, ForeignKey("parent.id")),
        Index("ix_second_column_created", "created", "parent_id"),
    )
    Table(  # the FK is the second column of the primary key: not usable
        "pk_second",
        metadata,
        Column("line", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey("parent.id"), primary_key=True),
    )


COVERED_EXPECTED = [("pk_second", ("parent_id",)), ("second_column", ("parent_id",))]


def test_metadata_indexed_foreign_keys_are_not_suggested() -> None:
    metadata = MetaData()
    _covered_and_uncovered(metadata)

    assert _keys(unindexed_foreign_keys(metadata)) == COVERED_EXPECTED


def _multi_column(metadata: MetaData) -> None:
    _parent(metadata)
    Table(  # index on the FK columns in the other order: still usable for equality lookups
        "multi_reordered",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("pid", Integer),
        Column("pcode", Integer),
        ForeignKeyConstraint(["pid", "pcode"], ["parent.id", "parent.code"]),
        Index("ix_multi_reordered", "pcode", "pid", "id"),
    )
    Table(  # index on only one of the two FK columns: not enough
        "multi_partial",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("pid", Integer, index=True),
        Column("pcode", Integer),
        ForeignKeyConstraint(["pid", "pcode"], ["parent.id", "parent.code"]),
    )
    Table(  # index with another column between the FK columns: not enough
        "multi_gap",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("pid", Integer),
        Column("other", Integer),
        Column("pcode", Integer),
        ForeignKeyConstraint(["pid", "pcode"], ["parent.id", "parent.code"]),
        Index("ix_multi_gap", "pid", "other", "pcode"),
    )


MULTI_EXPECTED = [("multi_gap", ("pid", "pcode")), ("multi_partial", ("pid", "pcode"))]


def test_metadata_multi_column_foreign_keys() -> None:
    metadata = MetaData()
    _multi_column(metadata)

    advice = unindexed_foreign_keys(metadata)

    assert _keys(advice) == MULTI_EXPECTED
    assert advice[0].sql == (
        "CREATE INDEX CONCURRENTLY ix_multi_gap_pid_pcode ON multi_gap (pid, pcode)"
    )


def _odd(metadata: MetaData) -> None:
    Table("Parent Table", metadata, Column("select", Integer, primary_key=True))
    Table(
        'we"ird:%child',
        metadata,
        Column("id", Integer, primary_key=True),
        Column("User Id", Integer, ForeignKey("Parent Table.select")),
        Column("order", Integer, ForeignKey("Parent Table.select")),
    )


def test_metadata_quotes_odd_names() -> None:
    metadata = MetaData(schema="My Schema")
    _odd(metadata)

    advice = unindexed_foreign_keys(metadata)

    assert [item.sql for item in advice] == [
        'CREATE INDEX CONCURRENTLY "ix_we""ird:%child_User Id" '
        'ON "My Schema"."we""ird:%child" ("User Id")',
        'CREATE INDEX CONCURRENTLY "ix_we""ird:%child_order" '
        'ON "My Schema"."we""ird:%child" ("order")',
    ]


def test_long_names_give_an_index_name_postgresql_keeps_whole() -> None:
    metadata = MetaData()
    Table("p", metadata, Column("id", Integer, primary_key=True))
    for suffix in ("a", "b"):
        Table(
            "t" * 40,
            metadata,
            Column("id", Integer, primary_key=True),
            Column(f"{'c' * 40}_{suffix}", Integer, ForeignKey("p.id")),
            extend_existing=True,
        )

    advice = unindexed_foreign_keys(metadata)

    names = [item.sql.split()[3] for item in advice]
    assert len(names) == 2
    assert all(len(name.encode()) <= 63 for name in names)
    assert len(set(names)) == 2


def test_format_report_lists_everything_as_plain_text() -> None:
    report = Report(
        database="postgresql://app:***@db/app",
        unindexed_foreign_keys=(
            IndexAdvice(
                table="child",
                columns=("parent_id",),
                reason="r",
                sql="CREATE INDEX CONCURRENTLY ix_child_parent_id ON app.child (parent_id)",
                estimated_gain=12.345,
                schema="app",
            ),
        ),
        slow_statements=(
            SlowStatement(
                query="SELECT *\n  FROM big WHERE x = $1 " + "AND y = $2 " * 20,
                calls=3,
                total_ms=1500.0,
                mean_ms=500.0,
                rows=9,
                queryid=42,
            ),
        ),
        notes=("hypopg is not installed",),
    )

    out = format_report(report)

    assert out.endswith("\n")
    assert "postgresql://app:***@db/app" in out
    assert "app.child (parent_id) (estimated 12.3x)" in out
    assert "CREATE INDEX CONCURRENTLY ix_child_parent_id ON app.child (parent_id);" in out
    assert "1500.0 ms total, 3 calls, 500.00 ms mean: SELECT * FROM big WHERE x = $1" in out
    assert "..." in out
    assert "hypopg is not installed" in out


def test_without_sqlalchemy_the_module_imports_and_calls_name_the_extra() -> None:
    code = (
        "import sys\n"
        "sys.modules['sqlalchemy'] = None\n"
        "from hardpoint.pool import indexes\n"
        "from hardpoint.errors import MissingDependencyError\n"
        "try:\n"
        "    indexes.unindexed_foreign_keys(None)\n"
        "except MissingDependencyError as exc:\n"
        "    assert exc.extra == 'sqlalchemy', exc.extra\n"
        '    assert "hardpoint[sqlalchemy]" in str(exc), str(exc)\n'
        "else:\n"
        "    raise SystemExit('no MissingDependencyError')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_check_database_refuses_a_non_postgresql_url() -> None:
    with pytest.raises(ConfigurationError, match="PostgreSQL"):
        check_database("sqlite:///:memory:")


# --- live catalog ------------------------------------------------------------------------------


def test_live_unindexed_foreign_key_is_found(engine: Engine, schema: str) -> None:
    metadata = MetaData(schema=schema)
    _parent(metadata)
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey(f"{schema}.parent.id")),
    )
    _create(engine, metadata)

    [advice] = _live(engine, schema)

    assert (advice.schema, advice.table, advice.columns) == (schema, "child", ("parent_id",))
    assert advice.sql == (
        f"CREATE INDEX CONCURRENTLY ix_child_parent_id ON {schema}.child (parent_id)"
    )
    assert "child_parent_id_fkey" in advice.reason
    [declared] = unindexed_foreign_keys(metadata)
    assert dataclasses.replace(declared, reason=advice.reason) == advice


def test_live_indexed_foreign_keys_are_not_found(engine: Engine, schema: str) -> None:
    metadata = MetaData(schema=schema)
    _covered_and_uncovered(metadata)
    _create(engine, metadata)

    assert _keys(_live(engine, schema)) == COVERED_EXPECTED


def test_live_multi_column_foreign_keys(engine: Engine, schema: str) -> None:
    metadata = MetaData(schema=schema)
    _multi_column(metadata)
    _create(engine, metadata)

    live = _live(engine, schema)

    assert _keys(live) == MULTI_EXPECTED
    assert [item.sql for item in live] == [item.sql for item in unindexed_foreign_keys(metadata)]


def test_live_ignores_partial_and_invalid_indexes(engine: Engine, schema: str) -> None:
    metadata = MetaData(schema=schema)
    _parent(metadata)
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey(f"{schema}.parent.id")),
        Index("ix_child_partial", "parent_id", postgresql_where=text("parent_id > 10")),
    )
    _create(engine, metadata)

    assert _keys(_live(engine, schema)) == [("child", ("parent_id",))]


def test_live_quotes_odd_names_and_its_sql_runs(engine: Engine, schema: str) -> None:
    metadata = MetaData(schema=schema)
    _odd(metadata)
    _create(engine, metadata)

    live = _live(engine, schema)

    assert [item.sql for item in live] == [item.sql for item in unindexed_foreign_keys(metadata)]
    assert {item.columns for item in live} == {("User Id",), ("order",)}
    # The suggestions are valid SQL: run them here (this test's schema only), then none remain.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for item in live:
            conn.execute(text(item.sql.replace(":", "\\:")))
    assert _live(engine, schema) == []


def test_live_schemas_filter_and_default_skip_system_schemas(engine: Engine, schema: str) -> None:
    metadata = MetaData(schema=schema)
    _parent(metadata)
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey(f"{schema}.parent.id")),
    )
    _create(engine, metadata)

    with engine.connect() as conn:
        everywhere = unindexed_foreign_keys_live(conn)
        other = unindexed_foreign_keys_live(conn, schemas=["hp_idx_no_such_schema"])

    assert other == []
    assert (schema, "child") in {(item.schema, item.table) for item in everywhere}
    assert not {item.schema for item in everywhere} & {"pg_catalog", "information_schema"}


def test_check_database_reports_live_suggestions(
    postgres_url: str, engine: Engine, schema: str
) -> None:
    metadata = MetaData(schema=schema)
    _parent(metadata)
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey(f"{schema}.parent.id")),
    )
    _create(engine, metadata)
    async_url = postgres_url.replace("postgresql://", "postgresql+asyncpg://", 1)

    report = check_database(async_url, schemas=[schema])

    assert _keys(list(report.unindexed_foreign_keys)) == [("child", ("parent_id",))]
    out = format_report(report)
    assert f"{schema}.child (parent_id)" in out
    with engine.connect() as conn:
        hypopg = _extension_installed(conn, "hypopg")
        statements = _extension_installed(conn, "pg_stat_statements")
    if not hypopg:
        assert report.unindexed_foreign_keys[0].estimated_gain is None
        assert "hypopg is not installed: index gains are not estimated" in report.notes
    if not statements:
        assert report.slow_statements == ()
        assert "pg_stat_statements is not installed: no slow statements" in report.notes


# --- extensions --------------------------------------------------------------------------------


def test_slow_statements_without_the_extension_is_empty_and_says_why(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with engine.connect() as conn:
        if _extension_installed(conn, "pg_stat_statements"):
            pytest.skip("pg_stat_statements is installed in the shared test database")
        with caplog.at_level(logging.INFO, logger=LOGGER):
            assert slow_statements(conn) == []
        assert not _extension_installed(conn, "pg_stat_statements")  # never created

    [record] = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.INFO
    assert "pg_stat_statements is not installed" in record.getMessage()


def test_estimate_gain_without_hypopg_is_none(
    engine: Engine, schema: str, caplog: pytest.LogCaptureFixture
) -> None:
    metadata = MetaData(schema=schema)
    _parent(metadata)
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", Integer, ForeignKey(f"{schema}.parent.id")),
    )
    _create(engine, metadata)
    with engine.connect() as conn:
        if _extension_installed(conn, "hypopg"):
            pytest.skip("hypopg is installed in the shared test database")
        [advice] = unindexed_foreign_keys_live(conn, schemas=[schema])
        with caplog.at_level(logging.INFO, logger=LOGGER):
            assert estimate_gain(conn, advice) is None
        assert not _extension_installed(conn, "hypopg")
        assert (
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_indexes WHERE schemaname = :s AND tablename = 'child'"
                ),
                {"s": schema},
            ).scalar_one()
            == 1
        )

    assert any("hypopg is not installed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("shape", ["multi_column", "odd_names"])
def test_representative_cost_uses_a_generic_plan_and_leaves_no_trace(
    engine: Engine, schema: str, shape: str
) -> None:
    metadata = MetaData(schema=schema)
    (_multi_column if shape == "multi_column" else _odd)(metadata)
    _create(engine, metadata)
    with engine.connect() as conn:
        advice = unindexed_foreign_keys_live(conn, schemas=[schema])[0]
        mode = conn.execute(text("SHOW plan_cache_mode")).scalar_one()

        cost = _representative_cost(conn, advice)

        assert cost > 0  # a generic plan: "= $1" is not folded into a constant false
        assert conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one() == 0
        assert conn.execute(text("SHOW plan_cache_mode")).scalar_one() == mode


@pytest.mark.slow
def test_slow_statements_on_a_private_server_with_and_without_preload(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Installed but not preloaded: [] and INFO; then preloaded: the real slowest statements."""
    try:
        server: PostgresProcess = start_postgres(database="test")
    except Exception as exc:  # any reason to lack a private server is a skip, as elsewhere
        pytest.skip(f"cannot start a private PostgreSQL: {exc}")
    with server:
        engine = create_engine(server.url)
        try:
            with engine.connect() as conn:
                available = conn.execute(
                    text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'")
                ).first()
                if available is None:
                    pytest.skip("pg_stat_statements is not available on this PostgreSQL")
                conn.execute(text("CREATE EXTENSION pg_stat_statements"))
                conn.commit()
                with caplog.at_level(logging.INFO, logger=LOGGER):
                    assert slow_statements(conn) == []
                # the failed read was rolled back to a savepoint: the transaction still works
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
            assert any("not loaded" in r.getMessage() for r in caplog.records)
            engine.dispose()

            server.stop()
            with (server.data_dir / "postgresql.conf").open("a") as conf:
                conf.write("shared_preload_libraries = 'pg_stat_statements'\n")
            server.start()

            with engine.connect() as conn:
                conn.execute(text("SELECT pg_sleep(0.05)"))
                for _ in range(3):
                    conn.execute(text("SELECT count(*) FROM generate_series(1, 20000)"))
                statements = slow_statements(conn, limit=2)
        finally:
            engine.dispose()

    assert len(statements) == 2
    assert statements[0].total_ms >= statements[1].total_ms
    assert any("pg_sleep" in s.query or "generate_series" in s.query for s in statements)
    assert all(s.calls >= 1 and s.queryid is not None for s in statements)
