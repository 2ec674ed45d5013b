"""SecretsManager over every cloud backend, each against its real-protocol server on loopback.

One adapter per cloud hides how its test server seeds values, injects faults and counts
reads; the behaviours below are the issue's checklist, run the same way on all four.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

_HERE: Final = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

if TYPE_CHECKING:  # mypy names the helpers after their directory under tests/
    from secrets._aws_server import start_aws_secrets_server
    from secrets._azure_server import start_key_vault_server
    from secrets._gcp_server import start_gcp_server
    from secrets._vault_server import start_vault_server
else:
    from _aws_server import start_aws_secrets_server
    from _azure_server import start_key_vault_server
    from _gcp_server import start_gcp_server
    from _vault_server import start_vault_server

from _servers import ServerNotFoundError, skip_or_fail  # noqa: E402
from hardpoint.errors import BackendUnavailableError  # noqa: E402
from hardpoint.secrets import SecretBackend, SecretsManager, redact_secrets  # noqa: E402

CANARY: Final = "canary-5e1d-0f9b-never-in-logs"


@dataclass
class Cloud:
    """How to drive one cloud's test server."""

    name: str
    put: Callable[[str, str], str]  # create a secret, return its version
    new_version: Callable[[str, str], str]  # rotate to a new value, return the version
    reads: Callable[[str], int]  # backend reads of a secret so far
    outage: Callable[[int], None]  # the next n requests fail with a 5xx
    clear_faults: Callable[[], None]
    make_backend: Callable[[], SecretBackend]
    secret_name: Callable[[], str]


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", params=["aws", "vault", "gcp", "azure"])
def cloud(request: pytest.FixtureRequest) -> Iterator[Cloud]:
    with ExitStack() as stack:
        try:
            yield _start(request.param, stack)
        except ServerNotFoundError as exc:
            skip_or_fail(str(exc))


def _start(name: str, stack: ExitStack) -> Cloud:
    if name == "aws":
        from hardpoint.secrets._aws import AwsSecretsManagerBackend

        aws = stack.enter_context(start_aws_secrets_server())

        def aws_backend() -> SecretBackend:
            return AwsSecretsManagerBackend(client=aws.client(timeout=0.5))

        return Cloud(
            "aws",
            aws.put_secret,
            aws.rotate,
            lambda _name: aws.calls("get"),
            lambda n: aws.fail_next(n, "outage"),
            aws.reset_calls,
            aws_backend,
            lambda: _unique("db"),
        )
    if name == "vault":
        vault = stack.enter_context(start_vault_server())

        def vault_backend() -> SecretBackend:
            backend = vault.backend(timeout=0.5)
            backend.fetch(_warm_vault)  # the first fetch also looks the token up
            return backend

        _warm_vault = _unique("warm")
        vault.put_secret(_warm_vault, "warm-up-value")
        return Cloud(
            "vault",
            lambda key, value: str(vault.put_secret(key, value)),
            lambda key, value: vault.new_version(key, value),
            lambda key: vault.calls("read", key=key),
            lambda n: vault.fail_next(n, kind="outage", method="read"),
            vault.reset_calls,
            vault_backend,
            lambda: _unique("db"),
        )
    if name == "gcp":
        from hardpoint.secrets._gcp import GcpSecretManagerBackend

        gcp = stack.enter_context(start_gcp_server())

        def gcp_backend() -> SecretBackend:
            return GcpSecretManagerBackend(project="test-project", client=gcp.client(), timeout=0.5)

        return Cloud(
            "gcp",
            gcp.put_secret,
            gcp.new_version,
            lambda _name: gcp.calls("access"),
            lambda n: gcp.fail_next(n, kind="outage"),
            gcp.reset_calls,
            gcp_backend,
            lambda: _unique("db"),
        )
    from hardpoint.secrets._azure import AzureKeyVaultBackend

    azure = stack.enter_context(start_key_vault_server())

    def azure_backend() -> SecretBackend:
        return AzureKeyVaultBackend(
            vault_url=azure.url,
            credential=azure.credential(),
            async_credential=azure.async_credential(),
            timeout=0.5,
            **azure.client_options(),
        )

    return Cloud(
        "azure",
        lambda key, value: azure.put_secret(key, value),
        lambda key, value: azure.put_secret(key, value),
        lambda _name: azure.calls("get"),
        lambda n: azure.fail_next(n, "outage"),
        azure.clear_faults,
        azure_backend,
        lambda: _unique("db"),
    )


@pytest.fixture
def backend(cloud: Cloud) -> Iterator[SecretBackend]:
    made = cloud.make_backend()
    yield made
    made.close()


def test_json_field(cloud: Cloud, backend: SecretBackend) -> None:
    name = cloud.secret_name()
    cloud.put(name, json.dumps({"username": "app", "password": CANARY, "port": 5432}))
    manager = SecretsManager(backend)
    assert manager.get(name, field="password") == CANARY
    assert manager.get(name, field="port") == "5432"


def test_sixty_four_readers_on_sixteen_threads_make_one_backend_call(
    cloud: Cloud, backend: SecretBackend
) -> None:
    name = cloud.secret_name()
    cloud.put(name, CANARY)
    manager = SecretsManager(backend)
    before = cloud.reads(name)
    barrier = threading.Barrier(16)
    results: list[str] = []
    lock = threading.Lock()

    def reader() -> None:
        barrier.wait()
        for _ in range(4):
            value = manager.get(name)
            with lock:
                results.append(value)

    threads = [threading.Thread(target=reader) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == [CANARY] * 64
    assert cloud.reads(name) - before == 1


def test_a_server_side_change_shows_within_ttl_plus_jitter_and_not_before(
    cloud: Cloud, backend: SecretBackend
) -> None:
    name = cloud.secret_name()
    cloud.put(name, "first-value-aaaa")
    manager = SecretsManager(backend, ttl=1.0, jitter=0.2)
    assert manager.get(name) == "first-value-aaaa"
    reads = cloud.reads(name)
    cloud.new_version(name, "second-value-bbbb")
    deadline = time.monotonic() + 0.75  # inside the shortest possible TTL (1.0 * 0.8)
    while time.monotonic() < deadline:
        assert manager.get(name) == "first-value-aaaa"
        time.sleep(0.05)
    assert cloud.reads(name) == reads  # no backend call inside the TTL
    time.sleep(1.05 - 0.75 + 0.05)
    assert manager.get(name) == "second-value-bbbb"


def test_outage_with_a_warm_cache_serves_stale(cloud: Cloud, backend: SecretBackend) -> None:
    name = cloud.secret_name()
    cloud.put(name, CANARY)
    manager = SecretsManager(backend, ttl=0.2, jitter=0, max_stale=60, timeout=0.5)
    assert manager.get(name) == CANARY
    time.sleep(0.25)
    cloud.outage(1000)
    try:
        assert manager.get(name) == CANARY
    finally:
        cloud.clear_faults()


def test_cold_key_during_an_outage_fails_fast_with_our_error(
    cloud: Cloud, backend: SecretBackend
) -> None:
    name = cloud.secret_name()
    cloud.put(name, CANARY)
    manager = SecretsManager(backend, timeout=1.0)
    cloud.outage(1000)
    start = time.monotonic()
    try:
        with pytest.raises(BackendUnavailableError) as exc:
            manager.get(name)
    finally:
        cloud.clear_faults()
    assert time.monotonic() - start <= 1.0 + 0.5
    assert CANARY not in "".join(traceback.format_exception(exc.value))


def test_new_versions_reach_on_rotate(cloud: Cloud, backend: SecretBackend) -> None:
    name = cloud.secret_name()
    first = cloud.put(name, "before-rotation-1")
    manager = SecretsManager(backend)
    rotations: list[tuple[str, str | None, str | None]] = []
    manager.on_rotate(name, lambda *args: rotations.append(args))
    manager.get(name)
    second = cloud.new_version(name, "after-rotation-22")
    assert manager.refresh(name) == second
    assert manager.get(name) == "after-rotation-22"
    assert rotations == [(name, first, second)]
    assert manager.get(name, version="previous") == "before-rotation-1"


def test_the_value_never_reaches_logs_reprs_or_tracebacks(
    cloud: Cloud, backend: SecretBackend, caplog: pytest.LogCaptureFixture
) -> None:
    name = cloud.secret_name()
    cloud.put(name, CANARY)
    redact_secrets()
    with caplog.at_level(logging.DEBUG):  # botocore, urllib3, grpc, azure: everything
        manager = SecretsManager(backend, ttl=0.1, jitter=0, max_stale=0, timeout=0.3)
        assert manager.get(name) == CANARY
        time.sleep(0.15)
        cloud.outage(1000)
        try:
            with pytest.raises(BackendUnavailableError) as exc:
                manager.get(name)
        finally:
            cloud.clear_faults()
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert CANARY not in logged
    assert CANARY not in caplog.text
    assert CANARY not in repr(manager)
    assert CANARY not in repr(backend)
    assert CANARY not in "".join(traceback.format_exception(exc.value))


def test_async_reads_share_one_call(cloud: Cloud, backend: SecretBackend) -> None:
    import asyncio

    name = cloud.secret_name()
    cloud.put(name, CANARY)
    manager = SecretsManager(backend)
    before = cloud.reads(name)

    async def main() -> list[str]:
        try:
            return list(await asyncio.gather(*(manager.aget(name) for _ in range(32))))
        finally:
            await backend.aclose()

    assert asyncio.run(main()) == [CANARY] * 32
    assert cloud.reads(name) - before == 1
