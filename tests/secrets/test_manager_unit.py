"""SecretsManager logic against an in-memory backend of our own protocol (not a client mock).

The same behaviours run against the real protocol servers in test_manager.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hardpoint import events
from hardpoint._internal.clock import ManualClock
from hardpoint.errors import (
    BackendUnavailableError,
    ConfigurationError,
    SecretNotFoundError,
)
from hardpoint.secrets import (
    ChainBackend,
    EnvBackend,
    FetchedSecret,
    FileBackend,
    SecretsManager,
    configure_secrets,
    get_secret,
    redact_secrets,
    reset_secrets,
)

CANARY = "canary-9f8e7d6c5b4a"


class ScriptedBackend:
    """Secrets in a dict; the next calls can be made to fail or to block; calls are counted."""

    name = "scripted"

    def __init__(self) -> None:
        self.values: dict[str, tuple[str, str]] = {}
        self.calls = 0
        self.failures = 0
        self.gate: threading.Event | None = None
        self.lock = threading.Lock()

    def put(self, key: str, value: str, version: str) -> None:
        self.values[key] = (value, version)

    def fetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        with self.lock:
            self.calls += 1
            failing = self.failures > 0
            if failing:
                self.failures -= 1
        if self.gate is not None:
            self.gate.wait(5)
        if failing:
            raise BackendUnavailableError("scripted outage", backend=self.name)
        if key not in self.values:
            raise SecretNotFoundError(key, backend=self.name)
        value, current = self.values[key]
        return FetchedSecret(value, current)

    async def afetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        await asyncio.sleep(0.01)
        return self.fetch(key, version=version)

    def close(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


@pytest.fixture
def backend() -> ScriptedBackend:
    b = ScriptedBackend()
    b.put("DB_PASSWORD", CANARY, "v1")
    return b


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def seen() -> Iterator[list[events.Event]]:
    collected: list[events.Event] = []
    undo = events.subscribe(collected.append)
    yield collected
    undo()


def test_cached_for_the_ttl_then_fetched_again(
    backend: ScriptedBackend, clock: ManualClock
) -> None:
    manager = SecretsManager(backend, ttl=10, jitter=0, clock=clock)
    assert manager.get("DB_PASSWORD") == CANARY
    assert manager.get("DB_PASSWORD") == CANARY
    assert backend.calls == 1
    clock.advance(9.9)
    manager.get("DB_PASSWORD")
    assert backend.calls == 1
    clock.advance(0.2)
    manager.get("DB_PASSWORD")
    assert backend.calls == 2


def test_sixty_four_readers_on_sixteen_threads_make_one_call(backend: ScriptedBackend) -> None:
    manager = SecretsManager(backend)
    backend.gate = threading.Event()
    barrier = threading.Barrier(16)
    results: list[str] = []

    def reader() -> None:
        barrier.wait()
        results.extend(manager.get("DB_PASSWORD") for _ in range(4))

    threads = [threading.Thread(target=reader) for _ in range(16)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    backend.gate.set()
    for t in threads:
        t.join(10)
    assert results == [CANARY] * 64
    assert backend.calls == 1


async def test_async_readers_make_one_call(backend: ScriptedBackend) -> None:
    manager = SecretsManager(backend)
    results = await asyncio.gather(*(manager.aget("DB_PASSWORD") for _ in range(100)))
    assert results == [CANARY] * 100
    assert backend.calls == 1


def test_outage_with_a_warm_cache_serves_the_last_good_value(
    backend: ScriptedBackend, clock: ManualClock, seen: list[events.Event]
) -> None:
    manager = SecretsManager(backend, ttl=10, jitter=0, max_stale=60, timeout=0.2, clock=clock)
    manager.get("DB_PASSWORD")
    clock.advance(30)
    backend.failures = 1000
    assert manager.get("DB_PASSWORD") == CANARY
    reads = [e for e in seen if isinstance(e, events.SecretRead)]
    assert reads[-1].result == "stale"
    clock.advance(60)  # now beyond max_stale
    with pytest.raises(BackendUnavailableError) as exc:
        manager.get("DB_PASSWORD")
    assert CANARY not in str(exc.value)


def test_cold_key_during_an_outage_fails_fast_with_our_error(backend: ScriptedBackend) -> None:
    manager = SecretsManager(backend, timeout=0.5)
    backend.failures = 1000
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        manager.get("DB_PASSWORD")
    assert time.monotonic() - start <= 0.5 + 0.5
    assert backend.calls >= 2  # retried with backoff inside the deadline


def test_transient_failures_are_retried_within_the_deadline(backend: ScriptedBackend) -> None:
    manager = SecretsManager(backend, timeout=5)
    backend.failures = 2
    assert manager.get("DB_PASSWORD") == CANARY
    assert backend.calls == 3


def test_not_found_is_not_retried_and_default_is_returned(backend: ScriptedBackend) -> None:
    manager = SecretsManager(backend)
    with pytest.raises(SecretNotFoundError) as exc:
        manager.get("NOPE")
    assert exc.value.key == "NOPE"
    assert backend.calls == 1
    assert manager.get("NOPE", default=None) is None
    assert manager.get("NOPE", default="fallback") == "fallback"


def test_a_deleted_secret_is_never_served_after_the_ttl(
    backend: ScriptedBackend, clock: ManualClock
) -> None:
    manager = SecretsManager(backend, ttl=10, jitter=0, max_stale=3600, clock=clock)
    manager.get("DB_PASSWORD")
    del backend.values["DB_PASSWORD"]
    clock.advance(11)
    with pytest.raises(SecretNotFoundError):
        manager.get("DB_PASSWORD")
    backend.failures = 1000  # even during a later outage, no stale copy comes back
    with pytest.raises(BackendUnavailableError):
        SecretsManager(backend, timeout=0.1).get("DB_PASSWORD")
    with pytest.raises(BackendUnavailableError):
        manager.get("DB_PASSWORD")


def test_rotation_calls_on_rotate_with_versions(
    backend: ScriptedBackend, clock: ManualClock
) -> None:
    manager = SecretsManager(backend, ttl=10, jitter=0, clock=clock)
    rotations: list[tuple[str, str | None, str | None]] = []
    remove = manager.on_rotate("DB_PASSWORD", lambda *a: rotations.append(a))
    manager.get("DB_PASSWORD")
    backend.put("DB_PASSWORD", "new-value-123456", "v2")
    assert manager.get("DB_PASSWORD") == CANARY  # within the TTL
    clock.advance(11)
    assert manager.get("DB_PASSWORD") == "new-value-123456"
    assert rotations == [("DB_PASSWORD", "v1", "v2")]
    backend.put("DB_PASSWORD", "third-value-7890", "v3")
    assert manager.refresh("DB_PASSWORD") == "v3"
    assert rotations[-1] == ("DB_PASSWORD", "v2", "v3")
    remove()
    backend.put("DB_PASSWORD", "fourth-value-000", "v4")
    manager.invalidate("DB_PASSWORD")
    assert manager.get("DB_PASSWORD") == "fourth-value-000"
    assert len(rotations) == 2


def test_a_failing_rotation_callback_is_logged(
    backend: ScriptedBackend, caplog: pytest.LogCaptureFixture
) -> None:
    manager = SecretsManager(backend)

    def broken(name: str, old: str | None, new: str | None) -> None:
        raise RuntimeError("callback bug")

    manager.on_rotate("DB_PASSWORD", broken)
    manager.get("DB_PASSWORD")
    backend.put("DB_PASSWORD", "rotated-value-1", "v2")
    with caplog.at_level(logging.ERROR):
        manager.refresh("DB_PASSWORD")
    assert "on_rotate callback" in caplog.text


def test_json_fields(backend: ScriptedBackend) -> None:
    backend.put("DB", json.dumps({"user": "app", "password": CANARY, "port": 5432}), "v1")
    manager = SecretsManager(backend)
    assert manager.get("DB", field="password") == CANARY
    assert manager.get("DB", field="port") == "5432"
    assert manager.get("DB", field="nope", default="x") == "x"
    with pytest.raises(SecretNotFoundError):
        manager.get("DB", field="nope")
    with pytest.raises(ConfigurationError) as exc:
        manager.get("DB_PASSWORD", field="x")
    assert CANARY not in str(exc.value)


def test_one_audit_event_and_record_per_read_without_the_value(
    backend: ScriptedBackend, seen: list[events.Event], caplog: pytest.LogCaptureFixture
) -> None:
    manager = SecretsManager(backend)
    with caplog.at_level(logging.DEBUG, logger="hardpoint.secrets.audit"):
        manager.get("DB_PASSWORD")
        manager.get("DB_PASSWORD")
        with pytest.raises(SecretNotFoundError):
            manager.get("MISSING_ONE")
    reads = [e for e in seen if isinstance(e, events.SecretRead)]
    assert [(r.name, r.result, r.version) for r in reads] == [
        ("DB_PASSWORD", "miss", "v1"),
        ("DB_PASSWORD", "hit", "v1"),
    ]
    assert all(r.caller == __name__ for r in reads)
    failed = [e for e in seen if isinstance(e, events.SecretReadFailed)]
    assert [(f.name, f.error) for f in failed] == [("MISSING_ONE", "SecretNotFoundError")]
    audit = [r for r in caplog.records if r.name == "hardpoint.secrets.audit"]
    assert [r.levelname for r in audit] == ["INFO", "DEBUG", "INFO"]  # the hit at DEBUG
    assert CANARY not in caplog.text
    assert CANARY not in repr(manager)


def test_refresh_ahead_refreshes_in_the_background(
    backend: ScriptedBackend, clock: ManualClock
) -> None:
    manager = SecretsManager(backend, ttl=10, jitter=0, refresh_ahead=2, clock=clock)
    manager.get("DB_PASSWORD")
    backend.put("DB_PASSWORD", "ahead-value-1234", "v2")
    clock.advance(8.5)
    assert manager.get("DB_PASSWORD") == CANARY  # served at once
    for _ in range(100):
        if backend.calls == 2:
            break
        time.sleep(0.01)
    time.sleep(0.05)
    assert manager.get("DB_PASSWORD") == "ahead-value-1234"
    manager.close()


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"ttl": 0}, "ttl"),
        ({"jitter": 0.9}, "jitter"),
        ({"max_stale": -1}, "max_stale"),
        ({"timeout": 0}, "timeout"),
        ({"ttl": 10, "refresh_ahead": 10}, "refresh_ahead"),
    ],
)
def test_bad_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as exc:
        SecretsManager(EnvBackend(), **options)
    assert exc.value.field == field


def test_get_secret_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SECRETS_BACKEND", raising=False)
    monkeypatch.setenv("HP_TEST_SECRET", CANARY)
    reset_secrets()
    try:
        assert get_secret("HP_TEST_SECRET") == CANARY
        with pytest.raises(SecretNotFoundError):
            get_secret("HP_TEST_SECRET_MISSING")
        assert get_secret("HP_TEST_SECRET_MISSING", default="d") == "d"
    finally:
        reset_secrets()


def test_unknown_backend_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETS_BACKEND", "etcd")
    with pytest.raises(ConfigurationError) as exc:
        configure_secrets()
    assert exc.value.field == "SECRETS_BACKEND"


def test_env_prefix_and_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_TOKEN", "abc123456")
    backend = EnvBackend(prefix="APP_")
    assert backend.fetch("TOKEN").value == "abc123456"
    with pytest.raises(SecretNotFoundError):
        backend.fetch("TOKEN", version="previous")


def test_file_backend_reads_docker_style_files(tmp_path: Path) -> None:
    (tmp_path / "db_password").write_text(CANARY + "\n")
    (tmp_path / "TLS_KEY").write_text("line1\nline2\n\n")
    backend = FileBackend(tmp_path)
    assert backend.fetch("DB_PASSWORD").value == CANARY  # lower-case twin, newline stripped
    assert backend.fetch("TLS_KEY").value == "line1\nline2\n"
    for bad in ("../etc/passwd", "a/b", ".hidden", ""):
        with pytest.raises(SecretNotFoundError):
            backend.fetch(bad)
    (tmp_path / "big").write_bytes(b"x" * (1024 * 1024 + 1))
    with pytest.raises(ConfigurationError):
        backend.fetch("big")
    assert CANARY not in repr(backend)


def test_chain_falls_back_on_outage_and_on_not_found_only_when_asked(
    backend: ScriptedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONLY_IN_ENV", "env-value-123")
    monkeypatch.setenv("DB_PASSWORD", "env-copy-xyz")
    chain = ChainBackend(backend, EnvBackend())
    with pytest.raises(SecretNotFoundError):
        chain.fetch("ONLY_IN_ENV")
    assert (
        ChainBackend(backend, EnvBackend(), fallback_on_not_found=True).fetch("ONLY_IN_ENV").value
        == "env-value-123"
    )
    backend.failures = 1
    assert chain.fetch("DB_PASSWORD").value == "env-copy-xyz"
    assert chain.name == "chain(scripted,environment)"
    with pytest.raises(ConfigurationError):
        ChainBackend()


def test_redact_secrets_scrubs_other_libraries_logs(
    backend: ScriptedBackend, caplog: pytest.LogCaptureFixture
) -> None:
    manager = SecretsManager(backend)
    value = manager.get("DB_PASSWORD")
    redact_secrets()
    other = logging.getLogger("thirdparty.client")
    with caplog.at_level(logging.DEBUG):
        other.debug("response body: %s", {"SecretString": value})
        try:
            raise RuntimeError(f"boom {value}")
        except RuntimeError:
            other.exception("failed")
    assert CANARY not in caplog.text
    assert "**********" in caplog.text
    assert all(CANARY not in (r.exc_text or "") for r in caplog.records)


def test_values_never_appear_in_reprs_or_tracebacks(backend: ScriptedBackend) -> None:
    fetched = backend.fetch("DB_PASSWORD")
    assert CANARY not in repr(fetched)
    assert CANARY not in str(fetched)
    manager = SecretsManager(backend, timeout=0.1)
    manager.get("DB_PASSWORD")
    manager.invalidate("DB_PASSWORD")
    backend.failures = 1000
    try:
        manager.get("DB_PASSWORD")
    except BackendUnavailableError as exc:
        text = "".join(traceback.format_exception(exc))
    assert CANARY not in text
