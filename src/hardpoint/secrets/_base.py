"""What a secret backend is. Backends fetch; `SecretsManager` caches, retries and audits."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["FetchedSecret", "SecretBackend", "afetch_in_thread"]


@dataclass(frozen=True, slots=True)
class FetchedSecret:
    """A value as one backend returned it, with the version it came from.

    The value never appears in ``repr`` or ``str``.

    Attributes:
        value: The secret text (binary secrets decoded as UTF-8).
        version: The backend's version id (AWS VersionId, Vault and GCP version numbers,
            Azure version id), or None when the backend has no versions (env, file).
    """

    value: str = field(repr=False)
    version: str | None = None

    def __str__(self) -> str:
        return f"FetchedSecret(version={self.version!r}, value=<redacted>)"

    def __repr__(self) -> str:
        return self.__str__()


@runtime_checkable
class SecretBackend(Protocol):
    """A source of secrets: environment, files, or a cloud secret manager.

    Contract for implementations:

    - ``fetch(name, version=None)`` makes ONE attempt within the backend's own per-attempt
      timeout and with the client library's retries turned off: `SecretsManager` owns
      retries, backoff and the overall deadline.
    - ``version`` is None for the current version, ``"previous"`` for the one before it, or
      a backend version id. Disabled or destroyed versions count as not found.
    - Errors: `SecretNotFoundError` (no such secret or version), `SecretAccessDeniedError`
      (credentials or permissions refused), `BackendUnavailableError` (throttled, timed out,
      unreachable, 5xx: worth retrying). Nothing else, and never the value in a message.
    - ``afetch`` is the async twin: native where the client library is async, else the sync
      call in a worker thread (`afetch_in_thread`).
    """

    name: str

    def fetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Fetch *key* (optionally a given *version*) from the backend."""
        ...

    async def afetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Async twin of `fetch`."""
        ...

    def close(self) -> None:
        """Release clients and connections."""
        ...

    async def aclose(self) -> None:
        """Async twin of `close`."""
        ...


async def afetch_in_thread(
    backend: SecretBackend, key: str, *, version: str | None = None
) -> FetchedSecret:
    """Run a sync backend's `fetch` in a worker thread (for clients with no async API)."""
    return await asyncio.to_thread(backend.fetch, key, version=version)
