"""Presets, engine options, pool sizing and the connection budget, without a database."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from sqlalchemy.pool import NullPool, QueuePool

from hardpoint.errors import ConfigurationError
from hardpoint.pool import (
    PRESETS,
    ConnectionBudget,
    PoolPreset,
    check_connection_budget,
    create_engine,
    engine_options,
    size_pool,
)

PG = "postgresql://app@db.example/app"


def test_presets_are_frozen_and_complete() -> None:
    assert set(PRESETS) == {
        "web",
        "worker",
        "serverless",
        "pgbouncer",
        "read_replica",
        "migrations",
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        PRESETS["web"].pool_size = 99  # type: ignore[misc]  # checking the runtime guard


def test_web_preset_fails_fast_and_recycles_below_idle_limits() -> None:
    web = PRESETS["web"]
    assert web.pool_timeout <= 5
    assert 0 < web.pool_recycle <= 900
    assert web.pool_pre_ping
    assert web.pool_use_lifo
    assert web.command_timeout_s is not None
    assert web.statement_timeout_ms is not None
    assert web.command_timeout_s * 1000 > web.statement_timeout_ms


@pytest.mark.parametrize("name", ["serverless", "migrations"])
def test_short_lived_presets_keep_no_pool(name: str) -> None:
    assert engine_options(PG, name)["poolclass"] is NullPool


def test_unknown_preset_names_the_field() -> None:
    with pytest.raises(ConfigurationError) as info:
        engine_options(PG, "turbo")
    assert info.value.field == "preset"


def test_unknown_override_names_the_field() -> None:
    with pytest.raises(ConfigurationError) as info:
        engine_options(PG, "web", pool_sise=3)
    assert info.value.field == "pool_sise"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pool_size", 0),
        ("pool_size", -1),
        ("pool_timeout", -0.5),
        ("statement_timeout_ms", 0),
        ("pool_recycle", -5),
        ("poolclass", "static"),
        ("target_session_attrs", "master"),
    ],
)
def test_invalid_override_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        engine_options(PG, "web", **{field: value})
    assert info.value.field == field


def test_a_preset_object_is_accepted() -> None:
    preset = PoolPreset(pool_size=3, max_overflow=0, application_name="mine")
    options = engine_options(PG, preset)
    assert options["pool_size"] == 3
    assert options["connect_args"]["application_name"] == "mine"


def test_asyncpg_options() -> None:
    options = engine_options("postgresql+asyncpg://app@db/app", "web")
    args = options["connect_args"]
    assert "poolclass" not in options  # SQLAlchemy picks the async-adapted queue pool
    assert options["pool_pre_ping"] is True
    assert args["timeout"] == 5.0
    assert args["command_timeout"] == 15.0
    assert args["server_settings"] == {
        "statement_timeout": "10000",
        "lock_timeout": "2000",
        "idle_in_transaction_session_timeout": "30000",
        "application_name": "hardpoint-web",
    }
    assert "statement_cache_size" not in args


def test_psycopg_options_for_plain_and_explicit_urls() -> None:
    for url in (PG, "postgresql+psycopg://app@db/app"):
        args = engine_options(url, "web", connect_timeout_s=0.5)["connect_args"]
        assert args["connect_timeout"] == 2  # libpq: whole seconds, at least 2
        assert args["options"] == (
            "-c statement_timeout=10000 -c lock_timeout=2000 "
            "-c idle_in_transaction_session_timeout=30000"
        )
        assert args["keepalives"] == 1
        assert args["keepalives_idle"] == 30
        assert "prepare_threshold" not in args


def test_pgbouncer_preset_sends_no_startup_settings_and_no_prepared_statements() -> None:
    asyncpg_args = engine_options("postgresql+asyncpg://app@bouncer/app", "pgbouncer")[
        "connect_args"
    ]
    assert asyncpg_args["server_settings"] == {"application_name": "hardpoint-pgbouncer"}
    assert asyncpg_args["statement_cache_size"] == 0
    assert asyncpg_args["prepared_statement_cache_size"] == 0
    name_func = asyncpg_args["prepared_statement_name_func"]
    assert name_func() != name_func()
    psycopg_args = engine_options("postgresql+psycopg://app@bouncer/app", "pgbouncer")[
        "connect_args"
    ]
    assert "options" not in psycopg_args
    assert psycopg_args["prepare_threshold"] is None


def test_read_replica_preset_is_read_only_and_prefers_a_standby() -> None:
    args = engine_options("postgresql+asyncpg://app@db/app", "read_replica")["connect_args"]
    assert args["server_settings"]["default_transaction_read_only"] == "on"
    assert args["target_session_attrs"] == "prefer-standby"
    libpq = engine_options(PG, "read_replica")["connect_args"]
    assert "-c default_transaction_read_only=on" in libpq["options"]
    assert libpq["target_session_attrs"] == "prefer-standby"


def test_sqlite_gets_pool_settings_only() -> None:
    file_options = engine_options("sqlite:///app.db", "web")
    assert file_options["pool_size"] == 10
    assert file_options["connect_args"] == {"timeout": 5.0}
    memory_options = engine_options("sqlite://", "web")
    assert "pool_size" not in memory_options
    assert memory_options["connect_args"] == {"timeout": 5.0}


def test_unsupported_url_names_the_field() -> None:
    for url in ("mysql+pymysql://app@db/app", "not a url"):
        with pytest.raises(ConfigurationError) as info:
            engine_options(url)
        assert info.value.field == "url"


def test_size_pool_cpu_bound_is_twice_the_cores() -> None:
    assert size_pool(kind="cpu", db_cores=4) == 8


def test_size_pool_wait_bound_follows_littles_law() -> None:
    assert size_pool(kind="wait", rate_per_s=200, hold_time_s=0.05) == 12  # 200 x 0.05 x 1.2
    assert size_pool(kind="wait", rate_per_s=1, hold_time_s=0.001) == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "cpu"}, "db_cores"),
        ({"kind": "wait", "rate_per_s": 10}, "hold_time_s"),
        ({"kind": "wait", "rate_per_s": 10, "hold_time_s": 1, "headroom": 0.5}, "headroom"),
        ({"kind": "gpu"}, "kind"),
    ],
)
def test_size_pool_rejects_missing_inputs(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        size_pool(**kwargs)  # type: ignore[arg-type]  # deliberately incomplete arguments
    assert info.value.field == field


def test_budget_refuses_30_times_4_against_100() -> None:
    with pytest.raises(ConfigurationError, match=r"120 connections.*allows 90") as info:
        check_connection_budget((20, 10), processes=4, max_connections=100)
    assert info.value.field == "processes"


def test_budget_accepts_a_fitting_plan() -> None:
    budget = check_connection_budget((15, 5), processes=4, max_connections=100)
    assert budget == ConnectionBudget(per_process=20, processes=4, total=80, available=90, spare=10)


def test_budget_reads_an_engine_pool() -> None:
    engine = create_engine("postgresql+psycopg://app@db/app", "web", pool_size=30, max_overflow=0)
    try:
        assert isinstance(engine.pool, QueuePool)
        with pytest.raises(ConfigurationError):
            check_connection_budget(engine, processes=4)
        assert check_connection_budget(engine, processes=3).total == 90
    finally:
        engine.dispose()


def test_budget_refuses_an_unbounded_pool() -> None:
    engine = create_engine("postgresql+psycopg://app@db/app", "serverless")
    try:
        with pytest.raises(ConfigurationError):
            check_connection_budget(engine, processes=1)
    finally:
        engine.dispose()


def test_package_imports_without_sqlalchemy() -> None:
    code = (
        "import sys\n"
        "for name in ('sqlalchemy', 'asyncpg', 'psycopg'):\n"
        "    sys.modules[name] = None\n"
        "import hardpoint.pool as pool\n"
        "from hardpoint.errors import MissingDependencyError\n"
        "assert pool.PRESETS['web'].pool_size > 0\n"
        "try:\n"
        "    pool.create_engine('postgresql://x@y/z')\n"
        "except MissingDependencyError as exc:\n"
        "    assert exc.extra == 'sqlalchemy', exc\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
