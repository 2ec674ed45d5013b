from __future__ import annotations

import pytest

from hardpoint._optional import requires_extra
from hardpoint.errors import (
    BackendUnavailableError,
    CircuitOpenError,
    ConfigurationError,
    HardpointError,
    MissingDependencyError,
    SecretNotFoundError,
    SerializationError,
    UnstableKeyError,
)


def test_exception_tree_subclasses_the_builtin_users_already_catch() -> None:
    assert issubclass(ConfigurationError, ValueError)
    assert issubclass(UnstableKeyError, ConfigurationError)
    assert issubclass(MissingDependencyError, ImportError)
    assert issubclass(SecretNotFoundError, LookupError)
    assert issubclass(CircuitOpenError, BackendUnavailableError)
    for cls in (
        ConfigurationError,
        MissingDependencyError,
        BackendUnavailableError,
        SecretNotFoundError,
        SerializationError,
    ):
        assert issubclass(cls, HardpointError)


def test_errors_carry_context_attributes() -> None:
    assert ConfigurationError("bad", field="ttl").field == "ttl"
    assert BackendUnavailableError("down", backend="redis").backend == "redis"
    err = CircuitOpenError("open", backend="redis", retry_after=2.5)
    assert (err.backend, err.retry_after) == ("redis", 2.5)
    assert SerializationError("x", codec="json").codec == "json"
    missing = SecretNotFoundError("DB_PASSWORD", backend="env")
    assert missing.key == "DB_PASSWORD"
    assert "DB_PASSWORD" in str(missing)
    assert "env" in str(missing)


def test_requires_extra_names_the_pip_extra() -> None:
    with (
        pytest.raises(MissingDependencyError) as exc,
        requires_extra("vault", feature="VaultBackend"),
    ):
        import hardpoint_no_such_module  # type: ignore[import-not-found]  # the point of the test  # noqa: F401

    assert exc.value.extra == "vault"
    assert exc.value.name == "hardpoint_no_such_module"
    assert "pip install 'hardpoint[vault]'" in str(exc.value)
    assert "VaultBackend" in str(exc.value)
    assert isinstance(exc.value.__cause__, ModuleNotFoundError)


def test_requires_extra_lets_other_errors_through() -> None:
    with pytest.raises(RuntimeError), requires_extra("redis", feature="x"):
        raise RuntimeError("not an import problem")
