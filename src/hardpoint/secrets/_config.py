"""The process-wide `SecretsManager` behind `get_secret()`, configured in code or from env."""

from __future__ import annotations

import os
import threading
from typing import Any, Final, TypeVar, overload

from hardpoint.errors import ConfigurationError
from hardpoint.secrets._base import SecretBackend
from hardpoint.secrets._manager import MISSING, SecretsManager

__all__ = ["BACKEND_NAMES", "aget_secret", "backend_from_env", "configure_secrets", "get_secret"]

T = TypeVar("T")

BACKEND_NAMES: Final = ("environment", "file", "aws", "vault", "gcp", "azure")


def backend_from_env(name: str | None = None) -> SecretBackend:
    """Build the backend named by *name*, or by ``$SECRETS_BACKEND`` (default ``environment``).

    Each backend reads its own variables: ``SECRETS_PREFIX`` (environment), ``SECRETS_DIR``
    (file, default ``/run/secrets``), ``AWS_REGION``; ``VAULT_ADDR`` and ``VAULT_TOKEN`` or
    ``VAULT_ROLE_ID``/``VAULT_SECRET_ID``; ``GOOGLE_CLOUD_PROJECT``; ``AZURE_KEY_VAULT_URL``.

    Raises:
        ConfigurationError: An unknown backend name, or a required variable missing (the
            error's *field* names the variable).
        MissingDependencyError: The backend's extra is not installed.
    """
    chosen = (name or os.environ.get("SECRETS_BACKEND") or "environment").strip().lower()
    if chosen in ("environment", "env"):
        from hardpoint.secrets._env import EnvBackend

        return EnvBackend(prefix=os.environ.get("SECRETS_PREFIX", ""))
    if chosen == "file":
        from hardpoint.secrets._env import FileBackend

        return FileBackend(os.environ.get("SECRETS_DIR", "/run/secrets"))
    if chosen == "aws":
        from hardpoint.secrets._aws import AwsSecretsManagerBackend

        return AwsSecretsManagerBackend.from_env()
    if chosen == "vault":
        from hardpoint.secrets._vault import VaultBackend

        return VaultBackend.from_env()
    if chosen == "gcp":
        from hardpoint.secrets._gcp import GcpSecretManagerBackend

        return GcpSecretManagerBackend.from_env()
    if chosen == "azure":
        from hardpoint.secrets._azure import AzureKeyVaultBackend

        return AzureKeyVaultBackend.from_env()
    raise ConfigurationError(
        f"unknown secrets backend {chosen!r}; SECRETS_BACKEND is one of {', '.join(BACKEND_NAMES)}",
        field="SECRETS_BACKEND",
    )


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.manager: SecretsManager | None = None


_STATE = _State()


def configure_secrets(backend: SecretBackend | str | None = None, **options: Any) -> SecretsManager:
    """Set the backend and options behind `get_secret` / `aget_secret`.

    Call it once at start-up. Without a call, the first read configures the backend named by
    ``$SECRETS_BACKEND`` (default ``environment``).

    Args:
        backend: A backend instance, a backend name (see `backend_from_env`), or None for
            ``$SECRETS_BACKEND``.
        **options: `SecretsManager` options (*ttl*, *jitter*, *max_stale*, *timeout*,
            *refresh_ahead*).

    Returns:
        The new manager. The previous one, if any, is closed.

    Raises:
        ConfigurationError: Unknown backend, a missing variable, or a bad option.
    """
    chosen = backend if isinstance(backend, SecretBackend) else backend_from_env(backend)
    manager = SecretsManager(chosen, **options)
    with _STATE.lock:
        old, _STATE.manager = _STATE.manager, manager
    if old is not None and old is not manager:
        old.close()
    return manager


def get_manager() -> SecretsManager:
    """Return the manager behind `get_secret`, configuring it from the environment first."""
    manager = _STATE.manager
    if manager is None:
        with _STATE.lock:
            manager = _STATE.manager
        if manager is None:
            manager = configure_secrets()
    return manager


@overload
def get_secret(name: str, *, field: str | None = None, version: str | None = None) -> str: ...
@overload
def get_secret(
    name: str, *, field: str | None = None, version: str | None = None, default: T
) -> str | T: ...
def get_secret(
    name: str, *, field: str | None = None, version: str | None = None, default: Any = MISSING
) -> Any:
    """Return the secret *name*: a drop-in for ``os.environ[name]``.

    Args:
        name: The secret's name, such as ``"DATABASE_PASSWORD"``.
        field: One key of a JSON object secret.
        version: A backend version id or ``"previous"``.
        default: Returned when the secret does not exist (outages still raise).

    Raises:
        SecretNotFoundError: No such secret and no *default*.
        SecretAccessDeniedError: The backend refused our credentials.
        BackendUnavailableError: The backend is failing and no recent value is cached.
    """
    return get_manager().get(name, field=field, version=version, default=default)


@overload
async def aget_secret(
    name: str, *, field: str | None = None, version: str | None = None
) -> str: ...
@overload
async def aget_secret(
    name: str, *, field: str | None = None, version: str | None = None, default: T
) -> str | T: ...
async def aget_secret(
    name: str, *, field: str | None = None, version: str | None = None, default: Any = MISSING
) -> Any:
    """Async twin of `get_secret` (no thread hop for cached values or async clients)."""
    return await get_manager().aget(name, field=field, version=version, default=default)


def reset_secrets() -> None:
    """Close and forget the configured manager (for tests)."""
    with _STATE.lock:
        old, _STATE.manager = _STATE.manager, None
    if old is not None:
        old.close()
