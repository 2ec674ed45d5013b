"""Pin each component's public names: a change here is a change users see."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "hardpoint": ["__version__"],
    "hardpoint.errors": [
        "BackendUnavailableError",
        "CircuitOpenError",
        "ConfigurationError",
        "HardpointError",
        "MissingDependencyError",
        "SecretAccessDeniedError",
        "SecretNotFoundError",
        "SerializationError",
        "UnstableKeyError",
    ],
    "hardpoint.events": [
        "BreakerStateChanged",
        "CacheCorrupt",
        "CacheError",
        "CacheHit",
        "CacheMiss",
        "CacheStaleServed",
        "Event",
        "EventHandler",
        "PoolCheckout",
        "PoolTimeout",
        "RequestBlocked",
        "SecretRead",
        "SecretReadFailed",
        "subscribe",
    ],
    "hardpoint.cache": [
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
    ],
    "hardpoint.metrics": [
        "DURATION_BUCKETS",
        "GAUGE_MULTIPROCESS_MODES",
        "LOCATION_KINDS",
        "METRICS",
        "OTHER",
        "ASGIApp",
        "Exporter",
        "MetricSpec",
        "install_opentelemetry",
        "install_prometheus",
        "location_kind",
        "metrics_app",
    ],
    "hardpoint.secrets": [
        "MISSING",
        "AppRoleAuth",
        "AwsSecretsManagerBackend",
        "AzureKeyVaultBackend",
        "ChainBackend",
        "EnvBackend",
        "FetchedSecret",
        "FileBackend",
        "GcpSecretManagerBackend",
        "JwtAuth",
        "KubernetesAuth",
        "RedactingFilter",
        "SecretBackend",
        "SecretsManager",
        "TokenAuth",
        "VaultAuth",
        "VaultBackend",
        "aget_secret",
        "configure_secrets",
        "get_secret",
        "redact_secrets",
        "reset_secrets",
    ],
    "hardpoint.pool": [
        "PRESETS",
        "ConnectionBudget",
        "PoolPreset",
        "check_connection_budget",
        "create_async_engine",
        "create_engine",
        "engine_options",
        "size_pool",
    ],
    "hardpoint.pool.indexes": [
        "IndexAdvice",
        "Report",
        "SlowStatement",
        "check_database",
        "estimate_gain",
        "format_report",
        "slow_statements",
        "unindexed_foreign_keys",
        "unindexed_foreign_keys_live",
    ],
    "hardpoint.llm_cache": [
        "GLOBAL",
        "CacheStats",
        "LLMCache",
        "LLMCacheHit",
        "LLMCacheMiss",
        "Pricing",
        "TTLPolicy",
        "canonical_request",
        "normalize_text",
    ],
    "hardpoint.audit": [
        "CHECKS",
        "AuditOptions",
        "AuditResult",
        "CheckResult",
        "Finding",
        "Severity",
        "run_audit",
    ],
    "hardpoint.validation": [
        "Detector",
        "Finding",
        "InputValidationMiddleware",
        "Limits",
        "ValidationConfig",
        "scan",
    ],
}


def isort_style(name: str) -> tuple[int, str]:
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_pinned_sorted_and_importable(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = list(module.__all__)
    assert exported == PUBLIC[module_name]
    # Sorted as ruff's RUF022 sorts: CONSTANTS, then Classes, then functions.
    assert exported == sorted(exported, key=isort_style)
    for name in exported:
        assert getattr(module, name) is not None


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_public_names_have_docstrings(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert module.__doc__
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj) and not isinstance(obj, type(lambda: None).__class__):
            continue
        if isinstance(obj, type) or callable(obj):
            assert obj.__doc__, f"{module_name}.{name} has no docstring"
