"""The in-process backend: an LRU bounded by entries and by bytes, with TTLs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

from hardpoint._internal.clock import SYSTEM_CLOCK, Clock
from hardpoint.errors import ConfigurationError

__all__ = ["MemoryBackend"]

# Rough per-entry bookkeeping (dict slot, tuple, key str) so that many tiny entries also count.
_OVERHEAD = 120


class MemoryBackend:
    """An in-process LRU cache: the default backend, and the first tier of `TieredBackend`.

    It stores the same encoded envelopes as Redis, so a value that cannot be serialized fails
    in development as it would in production, and callers never share a mutable object.

    Args:
        max_entries: Evict least recently used entries beyond this count.
        max_bytes: Evict least recently used entries beyond this many bytes of keys and values
            (plus a fixed overhead per entry).
        clock: Time source for TTLs (tests pass a `ManualClock`).

    Raises:
        ConfigurationError: A bound is not positive.
    """

    name = "memory"

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if max_entries < 1:
            raise ConfigurationError("max_entries must be at least 1", field="max_entries")
        if max_bytes < 1:
            raise ConfigurationError("max_bytes must be at least 1", field="max_bytes")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._now = clock.monotonic
        self._lock = threading.Lock()
        # key -> (value, expires_at on the monotonic clock, tags)
        self._data: OrderedDict[str, tuple[bytes, float, tuple[str, ...]]] = OrderedDict()
        self._tags: dict[str, set[str]] = {}
        self._bytes = 0

    def __repr__(self) -> str:
        return (
            f"MemoryBackend(entries={len(self._data)}, bytes={self._bytes}, "
            f"max_entries={self.max_entries}, max_bytes={self.max_bytes})"
        )

    def __len__(self) -> int:
        return len(self._data)

    @property
    def size_bytes(self) -> int:
        """Bytes held, counted as for *max_bytes*."""
        return self._bytes

    def get(self, key: str) -> bytes | None:
        """Return the bytes under *key*, or None when absent or expired."""
        # No lock on the hit path: OrderedDict.get and move_to_end are single C calls, atomic
        # under the GIL; only removal, which updates the byte and tag books, takes the lock.
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= self._now():
            with self._lock:
                if self._data.get(key) is item:
                    self._remove(key)
            return None
        try:  # noqa: SIM105 - contextlib.suppress costs more than the rest of this method
            self._data.move_to_end(key)
        except KeyError:  # evicted by another thread just now; the value we read is still good
            pass
        return item[0]

    def ttl(self, key: str) -> float | None:
        """Return the seconds *key* has left, or None when absent."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            left = item[1] - self._clock.monotonic()
            return left if left > 0 else None

    def set(self, key: str, value: bytes, *, ttl: float, tags: Sequence[str] = ()) -> None:
        """Store *value* for *ttl* seconds; a value larger than *max_bytes* is not stored."""
        size = len(key) + len(value) + _OVERHEAD
        with self._lock:
            if key in self._data:
                self._remove(key)
            if ttl <= 0 or size > self.max_bytes:
                return
            tag_tuple = tuple(tags)
            self._data[key] = (value, self._clock.monotonic() + ttl, tag_tuple)
            self._bytes += size
            for tag in tag_tuple:
                self._tags.setdefault(tag, set()).add(key)
            while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
                self._remove(next(iter(self._data)))

    def _remove(self, key: str) -> bool:
        item = self._data.pop(key, None)
        if item is None:
            return False
        self._bytes -= len(key) + len(item[0]) + _OVERHEAD
        for tag in item[2]:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[tag]
        return True

    def delete(self, key: str) -> bool:
        """Remove *key*; return whether it was there."""
        with self._lock:
            return self._remove(key)

    def delete_prefix(self, prefix: str) -> int:
        """Remove every key starting with *prefix*."""
        with self._lock:
            doomed = [k for k in self._data if k.startswith(prefix)]
            for k in doomed:
                self._remove(k)
            return len(doomed)

    def delete_tags(self, tags: Iterable[str]) -> int:
        """Remove every key stored with any of *tags*."""
        with self._lock:
            doomed: set[str] = set()
            for tag in tags:
                doomed |= self._tags.get(tag, set())
            for k in doomed:
                self._remove(k)
            return len(doomed)

    def clear(self) -> None:
        """Remove everything."""
        with self._lock:
            self._data.clear()
            self._tags.clear()
            self._bytes = 0

    def close(self) -> None:
        """Remove everything (there are no connections to release)."""
        self.clear()

    # The async twins do no I/O, so they call the sync methods directly.
    async def aget(self, key: str) -> bytes | None:
        """Async twin of `get`."""
        return self.get(key)

    async def aset(self, key: str, value: bytes, *, ttl: float, tags: Sequence[str] = ()) -> None:
        """Async twin of `set`."""
        self.set(key, value, ttl=ttl, tags=tags)

    async def adelete(self, key: str) -> bool:
        """Async twin of `delete`."""
        return self.delete(key)

    async def adelete_prefix(self, prefix: str) -> int:
        """Async twin of `delete_prefix`."""
        return self.delete_prefix(prefix)

    async def adelete_tags(self, tags: Iterable[str]) -> int:
        """Async twin of `delete_tags`."""
        return self.delete_tags(tags)

    async def aclear(self) -> None:
        """Async twin of `clear`."""
        self.clear()

    async def aclose(self) -> None:
        """Async twin of `close`."""
        self.close()
