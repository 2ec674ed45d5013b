"""An exact cache of LLM answers, keyed on everything that changes them.

```python
from hardpoint.llm_cache import GLOBAL, LLMCache

cache = LLMCache()
client = cache.wrap(OpenAI(), scope=GLOBAL)   # or scope=tenant_id
```

Requests are canonicalised (key order, number forms, whitespace that cannot matter, provider
defaults) before hashing, so equivalent calls share an entry and different ones never do.
Entries live in a `hardpoint.cache` backend: in memory by default, Redis when configured.
"""

from hardpoint.llm_cache._cache import GLOBAL, CacheStats, LLMCache, LLMCacheHit, LLMCacheMiss
from hardpoint.llm_cache._normalize import normalize_text
from hardpoint.llm_cache._policy import Pricing, TTLPolicy
from hardpoint.llm_cache._request import canonical_request

__all__ = [
    "GLOBAL",
    "CacheStats",
    "LLMCache",
    "LLMCacheHit",
    "LLMCacheMiss",
    "Pricing",
    "TTLPolicy",
    "canonical_request",
    "normalize_text",
]
