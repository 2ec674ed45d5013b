"""`ChainBackend`: ask several backends in order."""

from __future__ import annotations

from hardpoint.errors import BackendUnavailableError, ConfigurationError, SecretNotFoundError
from hardpoint.secrets._base import FetchedSecret, SecretBackend

__all__ = ["ChainBackend"]


class ChainBackend:
    """Ask *backends* in order; fall back when one is unavailable.

    Falling back on "not found" too is opt-in (*fallback_on_not_found*): by default a secret
    missing from the first backend is an error, so a typo never silently reads a stale copy
    from a second source.

    Args:
        *backends: Two or more backends, most authoritative first.
        fallback_on_not_found: Also try the next backend when one does not have the secret.

    Raises:
        ConfigurationError: No backends.
    """

    def __init__(self, *backends: SecretBackend, fallback_on_not_found: bool = False) -> None:
        if not backends:
            raise ConfigurationError("ChainBackend needs at least one backend", field="backends")
        self.backends = backends
        self.fallback_on_not_found = fallback_on_not_found
        self.name = "chain(" + ",".join(b.name for b in backends) + ")"

    def __repr__(self) -> str:
        return f"ChainBackend({', '.join(repr(b) for b in self.backends)})"

    def fetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Return the first answer; raise the last error when no backend answers."""
        last: Exception | None = None
        for backend in self.backends:
            try:
                return backend.fetch(key, version=version)
            except BackendUnavailableError as exc:
                last = exc
            except SecretNotFoundError as exc:
                if not self.fallback_on_not_found:
                    raise
                last = exc
        assert last is not None  # noqa: S101 - at least one backend was asked
        raise last

    async def afetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Async twin of `fetch`."""
        last: Exception | None = None
        for backend in self.backends:
            try:
                return await backend.afetch(key, version=version)
            except BackendUnavailableError as exc:
                last = exc
            except SecretNotFoundError as exc:
                if not self.fallback_on_not_found:
                    raise
                last = exc
        assert last is not None  # noqa: S101 - at least one backend was asked
        raise last

    def close(self) -> None:
        """Close every backend."""
        for backend in self.backends:
            backend.close()

    async def aclose(self) -> None:
        """Close every backend."""
        for backend in self.backends:
            await backend.aclose()
