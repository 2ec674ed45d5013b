"""Each component imports with every optional package blocked; backends then name their extra."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

OPTIONAL = [
    "redis",
    "orjson",
    "msgpack",
    "msgspec",
    "pydantic",
    "boto3",
    "botocore",
    "hvac",
    "google",
    "azure",
    "sqlalchemy",
    "asyncpg",
    "psycopg",
    "starlette",
    "prometheus_client",
    "opentelemetry",
    "bandit",
    "pip_audit",
    "packaging",
    "openai",
    "anthropic",
    "hvac",
    "grpc",
    "requests",
    "greenlet",
]

BLOCK = textwrap.dedent(
    f"""
    import sys
    for name in {OPTIONAL!r}:
        sys.modules[name] = None  # makes "import name" raise ModuleNotFoundError
    """
)


def run_blocked(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "module",
    [
        "hardpoint",
        "hardpoint.errors",
        "hardpoint.events",
        "hardpoint.cache",
        "hardpoint.llm_cache",
        "hardpoint.secrets",
        "hardpoint.pool",
        "hardpoint.metrics",
        "hardpoint._cli",
        "hardpoint.audit",
    ],
)
def test_component_imports_without_optional_packages(module: str) -> None:
    result = run_blocked(f"import {module}")
    assert result.returncode == 0, result.stderr


def test_import_hardpoint_imports_no_component() -> None:
    result = run_blocked(
        """
        import sys, hardpoint
        loaded = sorted(m for m in sys.modules if m.startswith("hardpoint."))
        print(loaded)
        assert loaded == [], loaded
        assert hardpoint.__version__
        """
    )
    assert result.returncode == 0, result.stderr + result.stdout


def test_redis_backend_without_redis_names_the_extra() -> None:
    result = run_blocked(
        """
        from hardpoint.cache import RedisBackend
        from hardpoint.errors import MissingDependencyError
        try:
            RedisBackend.from_url("redis://127.0.0.1:6379/0")
        except MissingDependencyError as exc:
            assert exc.extra == "redis", exc.extra
            assert "pip install 'hardpoint[redis]'" in str(exc), str(exc)
            assert isinstance(exc, ImportError)
            print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_msgpack_serializer_without_msgpack_names_the_extra() -> None:
    result = run_blocked(
        """
        from hardpoint.cache import configure_cache
        from hardpoint.errors import MissingDependencyError
        try:
            configure_cache(serializer="msgpack")
        except MissingDependencyError as exc:
            assert exc.extra == "msgpack"
            print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_memory_cache_works_without_optional_packages() -> None:
    result = run_blocked(
        """
        import datetime as dt
        from dataclasses import dataclass
        from hardpoint.cache import cached

        calls = []

        @dataclass
        class Row:
            id: int
            at: dt.datetime

        @cached("x", ttl=60)
        def row(i: int) -> Row:
            calls.append(i)
            return Row(i, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))

        assert row(1) == row(1) == Row(1, dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
        assert calls == [1]
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_llm_cache_works_without_optional_packages() -> None:
    result = run_blocked(
        """
        from hardpoint.llm_cache import GLOBAL, LLMCache
        cache = LLMCache()
        request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
                   "temperature": 0}
        response = {"choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": "hello"}}]}
        assert cache.set(request, response, scope=GLOBAL)
        assert cache.get(request, scope=GLOBAL) == response
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("construct", "extra"),
    [
        ("AwsSecretsManagerBackend(region='us-east-1')", "aws"),
        ("VaultBackend(url='http://127.0.0.1:8200', token='t')", "vault"),
        ("GcpSecretManagerBackend(project='p')", "gcp"),
        ("AzureKeyVaultBackend(vault_url='https://v.vault.azure.net')", "azure"),
    ],
)
def test_secret_backends_without_their_sdk_name_the_extra(construct: str, extra: str) -> None:
    result = run_blocked(
        f"""
        from hardpoint.secrets import *
        from hardpoint.errors import MissingDependencyError
        try:
            {construct}
        except MissingDependencyError as exc:
            assert exc.extra == {extra!r}, exc.extra
            assert "pip install 'hardpoint[{extra}]'" in str(exc)
            print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_secrets_from_the_environment_work_without_optional_packages() -> None:
    result = run_blocked(
        """
        import os
        os.environ["HP_IMPORT_TEST"] = "value-123456"
        from hardpoint.secrets import get_secret
        assert get_secret("HP_IMPORT_TEST") == "value-123456"
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_pool_engine_without_sqlalchemy_names_the_extra() -> None:
    result = run_blocked(
        """
        from hardpoint.pool import create_engine
        from hardpoint.errors import MissingDependencyError
        try:
            create_engine("postgresql+psycopg://app@127.0.0.1/app")
        except MissingDependencyError as exc:
            assert exc.extra == "sqlalchemy", exc.extra
            print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("construct", "extra"),
    [
        ("install_prometheus()", "prometheus"),
        ("metrics_app()", "prometheus"),
        ("install_opentelemetry()", "otel"),
    ],
)
def test_metrics_exporters_without_their_library_name_the_extra(construct: str, extra: str) -> None:
    result = run_blocked(
        f"""
        from hardpoint import events
        from hardpoint.metrics import *
        from hardpoint.errors import MissingDependencyError
        try:
            {construct}
        except MissingDependencyError as exc:
            assert exc.extra == {extra!r}, exc.extra
            assert "pip install 'hardpoint[{extra}]'" in str(exc)
            assert not events.SINK.active  # nothing half-installed
            print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
