"""What a cache backend is: bytes in, bytes out, sync and async twins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

__all__ = ["CacheBackend", "LockingBackend"]


@runtime_checkable
class CacheBackend(Protocol):
    """Stores envelopes (bytes) under string keys with a TTL.

    Every method has an ``a``-prefixed async twin. Backends that talk to a server raise
    `hardpoint.errors.BackendUnavailableError` (or its `CircuitOpenError` subclass) when it
    cannot answer in time; the `cached` decorator turns that into a miss.
    """

    name: str

    def get(self, key: str) -> bytes | None:
        """Return the bytes stored under *key*, or None."""
        ...

    def set(self, key: str, value: bytes, *, ttl: float, tags: Sequence[str] = ()) -> None:
        """Store *value* under *key* for *ttl* seconds, indexed under each tag."""
        ...

    def delete(self, key: str) -> bool:
        """Remove *key*; return whether it existed."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with *prefix*; return how many."""
        ...

    def delete_tags(self, tags: Iterable[str]) -> int:
        """Remove every key stored with any of *tags*; return how many."""
        ...

    def clear(self) -> None:
        """Remove everything this backend stored (only its own namespace on a shared server)."""
        ...

    def close(self) -> None:
        """Release connections; the backend may not be used afterwards."""
        ...

    async def aget(self, key: str) -> bytes | None:
        """Async twin of `get`."""
        ...

    async def aset(self, key: str, value: bytes, *, ttl: float, tags: Sequence[str] = ()) -> None:
        """Async twin of `set`."""
        ...

    async def adelete(self, key: str) -> bool:
        """Async twin of `delete`."""
        ...

    async def adelete_prefix(self, prefix: str) -> int:
        """Async twin of `delete_prefix`."""
        ...

    async def adelete_tags(self, tags: Iterable[str]) -> int:
        """Async twin of `delete_tags`."""
        ...

    async def aclear(self) -> None:
        """Async twin of `clear`."""
        ...

    async def aclose(self) -> None:
        """Async twin of `close`."""
        ...


@runtime_checkable
class LockingBackend(Protocol):
    """A backend shared between processes that can hold a lease lock (for ``lock=True``)."""

    def acquire_lock(self, key: str, token: str, *, lease: float) -> bool:
        """Take the lock on *key* for *lease* seconds unless someone holds it."""
        ...

    def release_lock(self, key: str, token: str) -> bool:
        """Release the lock if *token* still holds it, and wake waiters."""
        ...

    def wait_unlocked(self, key: str, *, timeout: float) -> None:
        """Block until the lock on *key* is released or *timeout* seconds pass."""
        ...

    async def aacquire_lock(self, key: str, token: str, *, lease: float) -> bool:
        """Async twin of `acquire_lock`."""
        ...

    async def arelease_lock(self, key: str, token: str) -> bool:
        """Async twin of `release_lock`."""
        ...

    async def await_unlocked(self, key: str, *, timeout: float) -> None:
        """Async twin of `wait_unlocked`."""
        ...
