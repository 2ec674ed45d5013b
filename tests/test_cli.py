from __future__ import annotations

import subprocess
import sys

import pytest

from hardpoint import __version__
from hardpoint._cli import main


def test_version_flag_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"hardpoint {__version__}"


def test_no_command_prints_help_and_returns_usage_status(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2


def test_demo_help_describes_the_service_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["demo", "--help"])
    assert exc.value.code == 0
    help_text = capsys.readouterr().out
    assert "--serve" in help_text
    assert "--port" in help_text


def test_console_script_entry_point_runs_as_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "hardpoint", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_db_check_prints_suggestions_and_signals_them(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import uuid

    import sqlalchemy

    schema = f"hp_cli_{uuid.uuid4().hex[:8]}"
    engine = sqlalchemy.create_engine(
        postgres_url.replace("postgresql://", "postgresql+psycopg://")
    )
    with engine.begin() as conn:
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
        conn.execute(sqlalchemy.text(f"CREATE TABLE {schema}.parent (id int PRIMARY KEY)"))
        conn.execute(
            sqlalchemy.text(
                f"CREATE TABLE {schema}.child (id int PRIMARY KEY, "
                f"parent_id int REFERENCES {schema}.parent (id))"
            )
        )
    try:
        status = main(["db", "check", postgres_url, "--schema", schema])
        out = capsys.readouterr().out
    finally:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
    assert status == 1
    assert "CREATE INDEX CONCURRENTLY" in out
    assert "parent_id" in out


def test_db_check_with_a_bad_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "check", "mysql://root@127.0.0.1/x"]) == 2
    assert "hardpoint db check" in capsys.readouterr().err
