"""Two tiers: an in-process LRU in front of a shared backend such as Redis."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from hardpoint.errors import ConfigurationError

if TYPE_CHECKING:
    from hardpoint.cache._base import CacheBackend
    from hardpoint.cache._memory import MemoryBackend

__all__ = ["TieredBackend"]


class TieredBackend:
    """Read from *l1* first, then *l2*; write to both.

    A hit in *l2* is copied into *l1* for at most *l1_ttl* seconds. Invalidation reaches
    both tiers of this process; other processes' *l1* copies live until their *l1_ttl*
    runs out, so keep it short where invalidation must be prompt. When *l2* fails, *l1*
    keeps serving what it holds (the failure still reaches the caller, which logs it).

    Args:
        l1: The near tier, usually a small `MemoryBackend`.
        l2: The shared tier, usually a `RedisBackend`.
        l1_ttl: Longest time, in seconds, a value stays in *l1*.

    Raises:
        ConfigurationError: *l1_ttl* is not positive.
    """

    name = "tiered"

    def __init__(self, *, l1: MemoryBackend, l2: CacheBackend, l1_ttl: float = 5.0) -> None:
        if not l1_ttl > 0:
            raise ConfigurationError("l1_ttl must be positive", field="l1_ttl")
        self.l1 = l1
        self.l2 = l2
        self.l1_ttl = l1_ttl

    def __repr__(self) -> str:
        return f"TieredBackend(l1={self.l1!r}, l2={self.l2!r}, l1_ttl={self.l1_ttl})"

    def get(self, key: str) -> bytes | None:
        """Return from *l1*, else from *l2* (copying it into *l1*)."""
        data = self.l1.get(key)
        if data is not None:
            return data
        data = self.l2.get(key)
        if data is not None:
            self.l1.set(key, data, ttl=self.l1_ttl)
        return data

    def set(self, key: str, value: bytes, *, ttl: float, tags: Sequence[str] = ()) -> None:
        """Store in both tiers (in *l1* for at most *l1_ttl*)."""
        self.l1.set(key, value, ttl=min(ttl, self.l1_ttl), tags=tags)
        self.l2.set(key, value, ttl=ttl, tags=tags)

    def delete(self, key: str) -> bool:
        """Remove from both tiers."""
        near = self.l1.delete(key)
        return self.l2.delete(key) or near

    def delete_prefix(self, prefix: str) -> int:
        """Remove by prefix from both tiers; return the count removed from *l2*."""
        self.l1.delete_prefix(prefix)
        return self.l2.delete_prefix(prefix)

    def delete_tags(self, tags: Iterable[str]) -> int:
        """Remove by tag from both tiers; return the count removed from *l2*."""
        tags = tuple(tags)
        self.l1.delete_tags(tags)
        return self.l2.delete_tags(tags)

    def clear(self) -> None:
        """Clear both tiers."""
        self.l1.clear()
        self.l2.clear()

    def close(self) -> None:
        """Close both tiers."""
        self.l1.close()
        self.l2.close()

    async def aget(self, key: str) -> bytes | None:
        """Async twin of `get`."""
        data = self.l1.get(key)
        if data is not None:
            return data
        data = await self.l2.aget(key)
        if data is not None:
            self.l1.set(key, data, ttl=self.l1_ttl)
        return data

    async def aset(self, key: str, value: bytes, *, ttl: float, tags: Sequence[str] = ()) -> None:
        """Async twin of `set`."""
        self.l1.set(key, value, ttl=min(ttl, self.l1_ttl), tags=tags)
        await self.l2.aset(key, value, ttl=ttl, tags=tags)

    async def adelete(self, key: str) -> bool:
        """Async twin of `delete`."""
        near = self.l1.delete(key)
        return await self.l2.adelete(key) or near

    async def adelete_prefix(self, prefix: str) -> int:
        """Async twin of `delete_prefix`."""
        self.l1.delete_prefix(prefix)
        return await self.l2.adelete_prefix(prefix)

    async def adelete_tags(self, tags: Iterable[str]) -> int:
        """Async twin of `delete_tags`."""
        tags = tuple(tags)
        self.l1.delete_tags(tags)
        return await self.l2.adelete_tags(tags)

    async def aclear(self) -> None:
        """Async twin of `clear`."""
        self.l1.clear()
        await self.l2.aclear()

    async def aclose(self) -> None:
        """Async twin of `close`."""
        self.l1.close()
        await self.l2.aclose()
