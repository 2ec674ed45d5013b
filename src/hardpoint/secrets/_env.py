"""Secrets from environment variables and from files (Docker and Kubernetes secrets)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Final

from hardpoint.errors import BackendUnavailableError, ConfigurationError, SecretNotFoundError
from hardpoint.secrets._base import FetchedSecret

__all__ = ["EnvBackend", "FileBackend"]

_SAFE_FILE_NAME: Final = re.compile(r"^[A-Za-z0-9_.@-]+$")
_MAX_FILE_BYTES: Final = 1024 * 1024


class EnvBackend:
    """Secrets from environment variables: ``get_secret("DB_PASSWORD")`` reads ``$DB_PASSWORD``.

    Args:
        prefix: Prepended to every name (``prefix="APP_"`` reads ``$APP_DB_PASSWORD``).

    The environment has no versions: asking for one is a `SecretNotFoundError`.
    """

    name = "environment"

    def __init__(self, *, prefix: str = "") -> None:
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"EnvBackend(prefix={self.prefix!r})"

    def fetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Read ``$<prefix><key>``."""
        if version is not None:
            raise SecretNotFoundError(f"{key}@{version}", backend=self.name)
        value = os.environ.get(self.prefix + key)
        if value is None:
            raise SecretNotFoundError(key, backend=self.name)
        return FetchedSecret(value)

    async def afetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Async twin of `fetch` (no I/O, no thread)."""
        return self.fetch(key, version=version)

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""


class FileBackend:
    """Secrets from files in a directory, one file per secret (``/run/secrets/db_password``).

    This is how Docker secrets and Kubernetes secret volumes present secrets. One trailing
    newline is removed (most tools write one); other whitespace is kept.

    Args:
        directory: Where the files are.
        lowercase: Also look for the lower-case file name (``DB_PASSWORD`` ->
            ``db_password``), the Docker convention.

    Names are single file names: a name with a path separator or ``..`` is not found (it can
    never read outside *directory*). Files larger than 1 MiB are refused.
    """

    name = "file"

    def __init__(
        self, directory: str | os.PathLike[str] = "/run/secrets", *, lowercase: bool = True
    ) -> None:
        self.directory = Path(directory)
        self.lowercase = lowercase

    def __repr__(self) -> str:
        return f"FileBackend(directory={str(self.directory)!r})"

    def fetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Read the file named *key* (or its lower-case twin)."""
        if version is not None or not _SAFE_FILE_NAME.match(key) or key.startswith("."):
            raise SecretNotFoundError(
                key if version is None else f"{key}@{version}", backend=self.name
            )
        candidates = [key, key.lower()] if self.lowercase and key.lower() != key else [key]
        for candidate in candidates:
            path = self.directory / candidate
            try:
                with path.open("rb") as handle:
                    data = handle.read(_MAX_FILE_BYTES + 1)
            except FileNotFoundError:
                continue
            except IsADirectoryError:
                continue
            except PermissionError as exc:
                raise ConfigurationError(
                    f"secret file {str(path)!r} is not readable by this process", field="directory"
                ) from exc
            except OSError as exc:
                raise BackendUnavailableError(
                    f"cannot read secret file {str(path)!r}: {type(exc).__name__}",
                    backend=self.name,
                ) from None
            if len(data) > _MAX_FILE_BYTES:
                raise ConfigurationError(
                    f"secret file {str(path)!r} is larger than 1 MiB", field="directory"
                )
            text = data.decode("utf-8", "surrogateescape")
            return FetchedSecret(text[:-1] if text.endswith("\n") else text)
        raise SecretNotFoundError(key, backend=self.name)

    async def afetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Async twin of `fetch` (a small local read, done inline)."""
        return self.fetch(key, version=version)

    def close(self) -> None:
        """Nothing to release."""

    async def aclose(self) -> None:
        """Nothing to release."""
