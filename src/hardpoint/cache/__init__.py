"""Caching for ``def`` and ``async def`` functions: typed, safe, stampede-proof, fail-open.

```python
from hardpoint.cache import CacheStrategy, cached

@cached("api:user", ttl=CacheStrategy.API_MEDIUM)
async def get_user(user_id: int) -> User: ...
```

Without configuration, values live in an in-process `MemoryBackend`; ``HARDPOINT_REDIS_URL``
or `configure_cache` selects Redis. A Redis outage turns into cache misses, never errors.
"""

from hardpoint.cache._base import CacheBackend, LockingBackend
from hardpoint.cache._config import (
    CacheSettings,
    aclose_cache,
    cache_lifespan,
    close_cache,
    configure_cache,
    get_cache,
)
from hardpoint.cache._decorator import AsyncCachedFunction, CachedFunction, cached
from hardpoint.cache._memory import MemoryBackend
from hardpoint.cache._policy import CacheStrategy
from hardpoint.cache._redis import RedisBackend
from hardpoint.cache._tiered import TieredBackend

__all__ = [
    "AsyncCachedFunction",
    "CacheBackend",
    "CacheSettings",
    "CacheStrategy",
    "CachedFunction",
    "LockingBackend",
    "MemoryBackend",
    "RedisBackend",
    "TieredBackend",
    "aclose_cache",
    "cache_lifespan",
    "cached",
    "close_cache",
    "configure_cache",
    "get_cache",
]
