from __future__ import annotations

import pytest

from hardpoint._internal.clock import ManualClock
from hardpoint.cache import MemoryBackend
from hardpoint.errors import ConfigurationError


def test_lru_evicts_least_recently_used_beyond_max_entries() -> None:
    backend = MemoryBackend(max_entries=3)
    for key in "abc":
        backend.set(key, b"v", ttl=60)
    assert backend.get("a") == b"v"  # a is now the most recent
    backend.set("d", b"v", ttl=60)
    assert backend.get("b") is None
    assert {k for k in "acd" if backend.get(k)} == {"a", "c", "d"}
    assert len(backend) == 3


def test_byte_bound_evicts_and_refuses_oversized_values() -> None:
    backend = MemoryBackend(max_bytes=1000)
    backend.set("big", b"x" * 2000, ttl=60)
    assert backend.get("big") is None
    for i in range(10):
        backend.set(f"k{i}", b"x" * 200, ttl=60)
    assert backend.size_bytes <= 1000
    assert backend.get("k9") is not None
    assert backend.get("k0") is None


def test_ttl_expiry_uses_the_clock() -> None:
    clock = ManualClock()
    backend = MemoryBackend(clock=clock)
    backend.set("k", b"v", ttl=5)
    clock.advance(4.9)
    assert backend.get("k") == b"v"
    clock.advance(0.2)
    assert backend.get("k") is None
    assert len(backend) == 0


def test_prefix_and_tags_and_clear() -> None:
    backend = MemoryBackend()
    backend.set("user:1", b"1", ttl=60, tags=["t1", "all"])
    backend.set("user:2", b"2", ttl=60, tags=["all"])
    backend.set("order:1", b"3", ttl=60)
    assert backend.delete_tags(["t1"]) == 1
    assert backend.get("user:1") is None
    assert backend.delete_prefix("user:") == 1
    assert backend.delete_tags(["all"]) == 0
    assert backend.delete("order:1") is True
    assert backend.delete("order:1") is False
    backend.set("x", b"1", ttl=60)
    backend.clear()
    assert len(backend) == 0
    assert backend.size_bytes == 0


def test_overwrite_keeps_byte_accounting_exact() -> None:
    backend = MemoryBackend()
    backend.set("k", b"x" * 100, ttl=60)
    size = backend.size_bytes
    backend.set("k", b"x" * 100, ttl=60)
    assert backend.size_bytes == size
    backend.delete("k")
    assert backend.size_bytes == 0


@pytest.mark.parametrize(("field", "value"), [("max_entries", 0), ("max_bytes", 0)])
def test_bounds_must_be_positive(field: str, value: int) -> None:
    with pytest.raises(ConfigurationError) as exc:
        MemoryBackend(**{field: value})  # type: ignore[arg-type]  # both are ints
    assert exc.value.field == field


def test_concurrent_readers_and_writers_keep_the_books_exact() -> None:
    import threading

    backend = MemoryBackend(max_entries=50, max_bytes=20_000)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(seed: int) -> None:
        try:
            barrier.wait()
            for i in range(3000):
                key = f"k{(i * seed) % 120}"
                if i % 3 == 0:
                    backend.set(key, b"x" * (i % 300), ttl=60, tags=[f"t{i % 5}"])
                elif i % 7 == 0:
                    backend.delete(key)
                elif i % 101 == 0:
                    backend.delete_tags([f"t{i % 5}"])
                else:
                    backend.get(key)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(backend) <= 50
    assert backend.size_bytes <= 20_000
    # The byte count matches what is actually held.
    held = sum(len(k) + len(v[0]) + 120 for k, v in backend._data.items())
    assert backend.size_bytes == held
