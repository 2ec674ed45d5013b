"""`GcpSecretManagerBackend` driven through the real google-cloud-secret-manager clients.

The clients talk gRPC to our own Secret Manager server on loopback (``_gcp_server.py``), which
answers with the real status codes, injects faults and counts requests per operation.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import subprocess
import sys
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pytest

from _servers import skip_or_fail
from hardpoint.errors import (
    BackendUnavailableError,
    ConfigurationError,
    HardpointError,
    SecretAccessDeniedError,
    SecretNotFoundError,
    SerializationError,
)

_HERE: Final = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

_MISSING: str | None = None
if TYPE_CHECKING:  # mypy names the helper after its directory under tests/
    from secrets._gcp_server import FaultKind, GcpSecretManagerServer, start_gcp_server

    from google.cloud import secretmanager_v1
    from google.cloud.secretmanager_v1 import (
        SecretManagerServiceAsyncClient,
        SecretManagerServiceClient,
    )

    from hardpoint.secrets import _gcp
    from hardpoint.secrets._gcp import GcpSecretManagerBackend
else:  # pytest finds it through the sys.path entry above
    try:
        from _gcp_server import GcpSecretManagerServer, start_gcp_server
        from google.cloud import secretmanager_v1

        from hardpoint.secrets import _gcp
        from hardpoint.secrets._gcp import GcpSecretManagerBackend
    except ImportError as exc:  # pragma: no cover - only without the gcp extra or grpcio
        _MISSING = f"the GCP tests need google-cloud-secret-manager and grpcio ({exc})"

PROJECT: Final = "hardpoint-test"
TOKEN: Final = "test-token"  # noqa: S105 - the fake server's bearer token
CANARY: Final = "canary-7c1d9e44-b0a2-4f5e-8d21-secret-value"


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gcp_server() -> Iterator[GcpSecretManagerServer]:
    """One Secret Manager server for the module; `server` resets it for each test."""
    if _MISSING is not None:
        skip_or_fail(_MISSING)
    with start_gcp_server(project=PROJECT, token=TOKEN) as server:
        yield server


@pytest.fixture
def server(gcp_server: GcpSecretManagerServer) -> GcpSecretManagerServer:
    gcp_server.reset()
    return gcp_server


@pytest.fixture
def client(server: GcpSecretManagerServer) -> Iterator[SecretManagerServiceClient]:
    sync_client = server.client()
    yield sync_client
    sync_client.transport.close()  # type: ignore[no-untyped-call]  # GAPIC: no annotations


@pytest.fixture
async def async_client(
    server: GcpSecretManagerServer,
) -> AsyncIterator[SecretManagerServiceAsyncClient]:
    aio_client = server.async_client()  # inside this test's event loop
    yield aio_client
    await aio_client.transport.close()  # type: ignore[no-untyped-call]  # GAPIC: no annotations


@pytest.fixture
def backend(client: SecretManagerServiceClient) -> Iterator[GcpSecretManagerBackend]:
    """A backend on the injected sync client (its afetch runs fetch in a thread)."""
    with GcpSecretManagerBackend(project=PROJECT, client=client, timeout=1.0) as gcp:
        yield gcp


@pytest.fixture
async def abackend(
    client: SecretManagerServiceClient, async_client: SecretManagerServiceAsyncClient
) -> AsyncIterator[GcpSecretManagerBackend]:
    """A backend with both clients injected: afetch is native asyncio."""
    async with GcpSecretManagerBackend(
        project=PROJECT, client=client, async_client=async_client, timeout=1.0
    ) as gcp:
        yield gcp


def _rotated(server: GcpSecretManagerServer, name: str, count: int) -> None:
    server.put_secret(name, "value-1")
    for number in range(2, count + 1):
        server.new_version(name, f"value-{number}")


# --- reading values and versions -----------------------------------------------------------------


def test_fetch_returns_the_latest_value_and_its_version_number(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    _rotated(server, "db-password", 3)

    secret = backend.fetch("db-password")

    assert (secret.value, secret.version) == ("value-3", "3")
    assert backend.fetch("db-password", version="latest").version == "3"
    assert server.calls("access") == 2
    assert server.calls("list") == 0


def test_fetch_a_version_number(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    _rotated(server, "api-key", 3)

    secret = backend.fetch("api-key", version="1")

    assert (secret.value, secret.version) == ("value-1", "1")


def test_previous_is_the_highest_enabled_version_below_the_current_one(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    _rotated(server, "token", 4)
    assert backend.fetch("token", version="previous").version == "3"

    server.disable_version("token", 3)
    server.destroy_version("token", 2)
    previous = backend.fetch("token", version="previous")

    assert (previous.value, previous.version) == ("value-1", "1")
    # "latest" is the highest enabled version: with 4 disabled it is 3, and 1 comes before it.
    server.disable_version("token", 4)
    server.enable_version("token", 3)
    assert backend.fetch("token").version == "3"
    assert backend.fetch("token", version="previous").version == "1"


def test_previous_reads_every_page_of_versions(
    server: GcpSecretManagerServer,
    backend: GcpSecretManagerBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_gcp, "_LIST_PAGE_SIZE", 2)
    _rotated(server, "paged", 5)

    previous = backend.fetch("paged", version="previous")

    assert previous.version == "4"
    assert server.calls("list") == 3  # 5 enabled versions, 2 a page
    assert server.calls("access") == 1


@pytest.mark.parametrize("versions", [1, 0])
def test_previous_without_an_older_enabled_version_is_not_found(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend, versions: int
) -> None:
    _rotated(server, "young", 2)
    if versions == 1:
        server.disable_version("young", 1)
    else:
        server.destroy_version("young", 1)
        server.disable_version("young", 2)

    with pytest.raises(SecretNotFoundError):
        backend.fetch("young", version="previous")
    assert server.calls("access") == 0


def test_a_json_secret_comes_back_as_its_json_text(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    text = '{"username": "app", "password": "p@ss\\"word", "port": 5432, "ünïcode": "✓"}'
    server.put_secret("db-json", text)

    assert backend.fetch("db-json").value == text


def test_a_binary_secret_that_is_not_utf8_raises_without_its_bytes(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    server.put_secret("binary", b"\xff\xfe\x00secret")

    with pytest.raises(SerializationError) as caught:
        backend.fetch("binary")

    assert "xff" not in str(caught.value)
    assert caught.value.__cause__ is None


# --- not found ---------------------------------------------------------------------------------


def test_a_missing_secret_is_not_found(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        backend.fetch("no-such-secret")

    assert caught.value.key == "no-such-secret"
    assert caught.value.backend == "gcp"
    assert server.calls("access") == 1


@pytest.mark.parametrize("version", ["9", "previous"])
def test_a_missing_version_is_not_found(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend, version: str
) -> None:
    server.put_secret("one-version", "only")

    with pytest.raises(SecretNotFoundError):
        backend.fetch("one-version", version=version)


@pytest.mark.parametrize("state", ["DISABLED", "DESTROYED"])
def test_disabled_or_destroyed_versions_are_not_found(
    server: GcpSecretManagerServer,
    backend: GcpSecretManagerBackend,
    state: Any,
) -> None:
    _rotated(server, "retired", 2)
    server.set_state("retired", 1, state)

    with pytest.raises(SecretNotFoundError):
        backend.fetch("retired", version="1")  # FAILED_PRECONDITION from the server
    assert backend.fetch("retired").version == "2"

    server.set_state("retired", 2, state)
    with pytest.raises(SecretNotFoundError):
        backend.fetch("retired")  # no enabled version left: latest is NOT_FOUND


def test_a_deleted_secret_is_not_found(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    server.put_secret("gone", "soon")
    assert backend.fetch("gone").value == "soon"

    server.delete_secret("gone")

    with pytest.raises(SecretNotFoundError):
        backend.fetch("gone")


def test_latest_as_the_newest_created_version_fails_when_that_version_is_disabled(
    backend: GcpSecretManagerBackend,
) -> None:
    """The API reference's meaning of ``latest``, which the server can also play."""
    with start_gcp_server(project=PROJECT, latest="created") as strict:
        _rotated(strict, "newest", 2)
        strict.disable_version("newest", 2)
        client = strict.client()
        try:
            gcp = GcpSecretManagerBackend(project=PROJECT, client=client)
            with pytest.raises(SecretNotFoundError):
                gcp.fetch("newest")
            assert gcp.fetch("newest", version="1").value == "value-1"
        finally:
            client.transport.close()  # type: ignore[no-untyped-call]  # GAPIC: no annotations


@pytest.mark.parametrize(
    ("key", "version"),
    [("a/b", None), ("", None), ("x y", None), ("ok", "1/../2"), ("ok", "")],
)
def test_names_that_cannot_be_ids_are_not_found_without_a_request(
    server: GcpSecretManagerServer,
    backend: GcpSecretManagerBackend,
    key: str,
    version: str | None,
) -> None:
    with pytest.raises(SecretNotFoundError):
        backend.fetch(key, version=version)
    assert server.calls() == 0


# --- faults ------------------------------------------------------------------------------------


def test_throttling_fails_fast_after_exactly_one_request(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    server.put_secret("hot", "value")
    server.fail_next(5, kind="throttle")

    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as caught:
        backend.fetch("hot")

    assert time.monotonic() - started < 0.5
    assert server.calls("access") == 1  # no retry storm from the client library
    assert "ResourceExhausted" in str(caught.value)
    assert caught.value.backend == "gcp"


@pytest.mark.parametrize("kind", ["outage", "internal"])
def test_an_outage_is_unavailable_after_one_request(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend, kind: FaultKind
) -> None:
    server.put_secret("svc", "value")
    server.fail_next(1, kind=kind)

    with pytest.raises(BackendUnavailableError):
        backend.fetch("svc")
    assert server.calls("access") == 1
    assert backend.fetch("svc").value == "value"  # the fault is gone


def test_a_refused_connection_is_unavailable_and_recovers_on_restart() -> None:
    with start_gcp_server(project=PROJECT) as own:
        own.put_secret("svc", "value")
        client = own.client()
        try:
            gcp = GcpSecretManagerBackend(project=PROJECT, client=client, timeout=1.0)
            own.stop()
            started = time.monotonic()
            with pytest.raises(BackendUnavailableError):
                gcp.fetch("svc")
            assert time.monotonic() - started < 1.5

            own.start()  # same port, same secrets
            # gRPC reconnects after a backoff (1 s at first): until then calls fail fast.
            deadline = time.monotonic() + 10
            while True:
                try:
                    assert gcp.fetch("svc").value == "value"
                    break
                except BackendUnavailableError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)
        finally:
            client.transport.close()  # type: ignore[no-untyped-call]  # GAPIC: no annotations


def test_latency_above_the_timeout_fails_within_timeout_plus_half_a_second(
    server: GcpSecretManagerServer, client: SecretManagerServiceClient
) -> None:
    server.put_secret("slow", "value")
    server.fail_next(1, kind="latency", delay=3.0)
    gcp = GcpSecretManagerBackend(project=PROJECT, client=client, timeout=0.5)

    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="DeadlineExceeded"):
        gcp.fetch("slow")

    assert time.monotonic() - started < 0.5 + 0.5
    assert server.calls("access") == 1


def test_latency_below_the_timeout_still_answers(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    server.put_secret("slowish", "value")
    server.fail_next(1, kind="latency", delay=0.2)

    assert backend.fetch("slowish").value == "value"


def test_previous_keeps_list_and_access_together_within_the_timeout(
    server: GcpSecretManagerServer, client: SecretManagerServiceClient
) -> None:
    _rotated(server, "slow-rotation", 3)
    server.fail_next(1, kind="latency", delay=0.4, method="list")
    server.fail_next(1, kind="latency", delay=0.4, method="access")
    gcp = GcpSecretManagerBackend(project=PROJECT, client=client, timeout=0.6)

    started = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        gcp.fetch("slow-rotation", version="previous")

    assert time.monotonic() - started < 0.6 + 0.5


# --- credentials and permissions -----------------------------------------------------------------


def test_bad_credentials_are_access_denied(server: GcpSecretManagerServer) -> None:
    server.put_secret("locked", "value")
    bad_client = server.client(token="not-the-token")  # noqa: S106 - a wrong fake token
    try:
        gcp = GcpSecretManagerBackend(project=PROJECT, client=bad_client)
        with pytest.raises(SecretAccessDeniedError) as caught:
            gcp.fetch("locked")
    finally:
        bad_client.transport.close()  # type: ignore[no-untyped-call]  # GAPIC: no annotations

    assert caught.value.key == "locked"
    assert "Unauthenticated" in str(caught.value)
    assert server.calls("access") == 1


def test_a_missing_permission_is_access_denied(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    server.put_secret("locked", "value")
    server.fail_next(1, kind="deny")

    with pytest.raises(SecretAccessDeniedError, match="PermissionDenied"):
        backend.fetch("locked")
    assert server.calls("access") == 1


def test_a_project_we_cannot_see_is_access_denied(
    server: GcpSecretManagerServer, client: SecretManagerServiceClient
) -> None:
    server.put_secret("elsewhere", "value")
    gcp = GcpSecretManagerBackend(project="someone-elses-project", client=client)

    with pytest.raises(SecretAccessDeniedError):
        gcp.fetch("elsewhere")


# --- async -------------------------------------------------------------------------------------


async def test_afetch_is_native_asyncio_with_the_same_results(
    server: GcpSecretManagerServer,
    abackend: GcpSecretManagerBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_threads(*args: object, **kwargs: object) -> None:
        raise AssertionError("afetch must not hop to a thread")

    monkeypatch.setattr(asyncio, "to_thread", no_threads)
    monkeypatch.setattr(abackend, "fetch", no_threads)
    _rotated(server, "async-secret", 3)

    current = await abackend.afetch("async-secret")
    numbered = await abackend.afetch("async-secret", version="1")
    previous = await abackend.afetch("async-secret", version="previous")

    assert (current.value, current.version) == ("value-3", "3")
    assert (numbered.value, numbered.version) == ("value-1", "1")
    assert (previous.value, previous.version) == ("value-2", "2")


async def test_afetch_previous_reads_every_page(
    server: GcpSecretManagerServer,
    abackend: GcpSecretManagerBackend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_gcp, "_LIST_PAGE_SIZE", 2)
    _rotated(server, "async-paged", 5)
    server.disable_version("async-paged", 4)

    assert (await abackend.afetch("async-paged", version="previous")).version == "3"
    assert server.calls("list") == 2  # 4 enabled versions, 2 a page


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("throttle", BackendUnavailableError),
        ("outage", BackendUnavailableError),
        ("internal", BackendUnavailableError),
        ("deny", SecretAccessDeniedError),
        ("unauthenticated", SecretAccessDeniedError),
    ],
)
async def test_afetch_maps_faults_after_one_request(
    server: GcpSecretManagerServer,
    abackend: GcpSecretManagerBackend,
    kind: FaultKind,
    error: type[HardpointError],
) -> None:
    server.put_secret("async-faulty", "value")
    server.fail_next(1, kind=kind)

    with pytest.raises(error):
        await abackend.afetch("async-faulty")
    assert server.calls("access") == 1


async def test_afetch_not_found_cases(
    server: GcpSecretManagerServer, abackend: GcpSecretManagerBackend
) -> None:
    _rotated(server, "async-retired", 2)
    server.disable_version("async-retired", 1)

    for key, version in [
        ("async-missing", None),
        ("async-retired", "1"),
        ("async-retired", "7"),
        ("async-retired", "previous"),
        ("bad/key", None),
    ]:
        with pytest.raises(SecretNotFoundError):
            await abackend.afetch(key, version=version)


async def test_afetch_latency_fails_within_timeout_plus_half_a_second(
    server: GcpSecretManagerServer,
    client: SecretManagerServiceClient,
    async_client: SecretManagerServiceAsyncClient,
) -> None:
    server.put_secret("async-slow", "value")
    server.fail_next(1, kind="latency", delay=3.0)
    gcp = GcpSecretManagerBackend(
        project=PROJECT, client=client, async_client=async_client, timeout=0.5
    )

    started = time.monotonic()
    with pytest.raises(BackendUnavailableError):
        await gcp.afetch("async-slow")

    assert time.monotonic() - started < 0.5 + 0.5


async def test_afetch_with_only_a_sync_client_runs_fetch_in_a_thread(
    server: GcpSecretManagerServer, backend: GcpSecretManagerBackend
) -> None:
    server.put_secret("threaded", "value")
    server.fail_next(1, kind="throttle")

    with pytest.raises(BackendUnavailableError):
        await backend.afetch("threaded")
    assert (await backend.afetch("threaded")).value == "value"
    assert server.calls("access") == 2


async def test_fetch_with_only_an_async_client_is_a_configuration_error(
    server: GcpSecretManagerServer, async_client: SecretManagerServiceAsyncClient
) -> None:
    server.put_secret("async-only", "value")
    gcp = GcpSecretManagerBackend(project=PROJECT, async_client=async_client)

    assert (await gcp.afetch("async-only")).value == "value"
    with pytest.raises(ConfigurationError) as caught:
        gcp.fetch("async-only")
    assert caught.value.field == "client"
    await gcp.aclose()


# --- clients the backend makes itself ------------------------------------------------------------


@pytest.fixture
def made_clients(
    server: GcpSecretManagerServer, monkeypatch: pytest.MonkeyPatch
) -> dict[str, list[Any]]:
    """Make the backend's own clients point at the test server, and record them.

    The backend makes ``SecretManagerServiceClient(credentials=...)`` and, per event loop,
    ``SecretManagerServiceAsyncClient(credentials=...)``: these stand-ins return the real
    clients on channels to the test server instead of Google's endpoint.
    """
    made: dict[str, list[Any]] = {"sync": [], "async": [], "credentials": []}

    def sync_client(*, credentials: object) -> SecretManagerServiceClient:
        made["credentials"].append(credentials)
        made["sync"].append(server.client())
        return made["sync"][-1]  # type: ignore[no-any-return]

    def async_client(*, credentials: object) -> SecretManagerServiceAsyncClient:
        made["credentials"].append(credentials)
        made["async"].append(server.async_client())
        return made["async"][-1]  # type: ignore[no-any-return]

    monkeypatch.setattr(secretmanager_v1, "SecretManagerServiceClient", sync_client)
    monkeypatch.setattr(secretmanager_v1, "SecretManagerServiceAsyncClient", async_client)
    return made


def _anonymous() -> Any:
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()  # type: ignore[no-untyped-call]  # google-auth: no annotations


def test_the_backend_makes_and_closes_its_own_clients(
    server: GcpSecretManagerServer, made_clients: dict[str, list[Any]]
) -> None:
    server.put_secret("owned", "value")
    credentials = _anonymous()
    gcp = GcpSecretManagerBackend(project=PROJECT, credentials=credentials)

    async def read() -> str:
        try:
            return (await gcp.afetch("owned")).value
        finally:
            await gcp.aclose()

    assert gcp.fetch("owned").value == "value"
    assert asyncio.run(read()) == "value"

    assert len(made_clients["sync"]) == 1
    assert len(made_clients["async"]) == 1
    assert made_clients["credentials"] == [credentials, credentials]
    with pytest.raises(ValueError, match="closed channel"):  # closed by aclose() -> close()
        made_clients["sync"][0].access_secret_version(name="x", retry=None, timeout=1)
    with pytest.raises(BackendUnavailableError, match="closed"):
        gcp.fetch("owned")


def test_each_event_loop_gets_its_own_async_client(
    server: GcpSecretManagerServer, made_clients: dict[str, list[Any]]
) -> None:
    server.put_secret("owned", "value")
    gcp = GcpSecretManagerBackend(project=PROJECT, credentials=_anonymous())

    async def read(close: bool) -> str:
        value = (await gcp.afetch("owned")).value
        assert (await gcp.afetch("owned")).value == value  # the same client, reused
        if close:
            await gcp.aclose()
        else:  # close this loop's client ourselves, as an application's shutdown would
            await made_clients["async"][-1].transport.close()
        return value

    assert asyncio.run(read(close=False)) == "value"
    assert asyncio.run(read(close=True)) == "value"
    assert len(made_clients["async"]) == 2


def test_injected_clients_stay_open_after_close(
    server: GcpSecretManagerServer, client: SecretManagerServiceClient
) -> None:
    server.put_secret("shared", "value")
    gcp = GcpSecretManagerBackend(project=PROJECT, client=client)
    gcp.close()

    with pytest.raises(BackendUnavailableError, match="closed"):
        gcp.fetch("shared")
    assert GcpSecretManagerBackend(project=PROJECT, client=client).fetch("shared").value == "value"


# --- configuration -----------------------------------------------------------------------------


@pytest.fixture
def no_gcp_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No project variables, and credentials that cannot be found without any network."""
    for name in ("GOOGLE_CLOUD_PROJECT", "GCP_PROJECT", "GCLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # never ask a metadata server
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud"))
    return monkeypatch


def test_from_env_reads_google_cloud_project(
    no_gcp_env: pytest.MonkeyPatch, client: SecretManagerServiceClient
) -> None:
    no_gcp_env.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    no_gcp_env.setenv("GCP_PROJECT", "ignored")

    gcp = GcpSecretManagerBackend.from_env(client=client, timeout=2.5)

    assert (gcp.project, gcp.timeout) == ("from-env", 2.5)


def test_from_env_falls_back_to_gcp_project(
    no_gcp_env: pytest.MonkeyPatch, client: SecretManagerServiceClient
) -> None:
    no_gcp_env.setenv("GCP_PROJECT", "legacy-var")

    assert GcpSecretManagerBackend.from_env(client=client).project == "legacy-var"


def test_from_env_names_the_missing_project_variable(no_gcp_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigurationError, match="GOOGLE_CLOUD_PROJECT") as caught:
        GcpSecretManagerBackend.from_env()

    assert caught.value.field == "GOOGLE_CLOUD_PROJECT"


def test_from_env_without_credentials_names_the_credentials_variable(
    no_gcp_env: pytest.MonkeyPatch,
) -> None:
    no_gcp_env.setenv("GOOGLE_CLOUD_PROJECT", "from-env")

    with pytest.raises(ConfigurationError) as caught:
        GcpSecretManagerBackend.from_env()

    assert caught.value.field == "GOOGLE_APPLICATION_CREDENTIALS"


def test_from_env_with_credentials_makes_a_client_without_any_request(
    no_gcp_env: pytest.MonkeyPatch,
) -> None:
    no_gcp_env.setenv("GOOGLE_CLOUD_PROJECT", "from-env")

    with GcpSecretManagerBackend.from_env(credentials=_anonymous()) as gcp:
        assert gcp.project == "from-env"


@pytest.mark.parametrize(
    ("options", "field"),
    [({"project": ""}, "project"), ({"project": "a/b"}, "project"), ({"timeout": 0}, "timeout")],
)
def test_bad_arguments_are_configuration_errors(
    client: SecretManagerServiceClient, options: dict[str, Any], field: str
) -> None:
    arguments: dict[str, Any] = {"project": PROJECT, "client": client, **options}
    with pytest.raises(ConfigurationError) as caught:
        GcpSecretManagerBackend(**arguments)
    assert caught.value.field == field


def test_without_the_gcp_extra_the_error_names_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['google.cloud.secretmanager_v1'] = None\n"
        "from hardpoint.secrets._gcp import GcpSecretManagerBackend\n"
        "from hardpoint.errors import MissingDependencyError\n"
        "try:\n"
        "    GcpSecretManagerBackend(project='p')\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc.extra, exc)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert "gcp" in result.stdout
    assert "hardpoint[gcp]" in result.stdout


# --- keeping the value out of reprs, errors and logs ---------------------------------------------


def _leaks(text: str) -> bool:
    encoded = base64.b64encode(CANARY.encode()).decode()
    return CANARY in text or encoded in text or encoded[:24] in text


@pytest.fixture
def google_logs_to_root(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the client library's DEBUG records reach caplog, as a host's logging set-up can."""
    monkeypatch.setattr(logging.getLogger("google"), "propagate", True)


def test_the_value_never_appears_in_reprs_errors_tracebacks_or_logs(
    server: GcpSecretManagerServer,
    backend: GcpSecretManagerBackend,
    caplog: pytest.LogCaptureFixture,
    google_logs_to_root: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    _rotated(server, "canary", 2)
    server.new_version("canary", CANARY)  # version 3
    server.new_version("canary", "after")  # version 4
    errors: list[BaseException] = []

    fetched = backend.fetch("canary", version="3")
    assert fetched.value == CANARY
    assert not _leaks(repr(fetched))
    assert not _leaks(str(fetched))

    faults: list[tuple[FaultKind | None, str | None]] = [
        ("throttle", "3"),
        ("outage", "3"),
        ("internal", "3"),
        ("deny", "3"),
        ("unauthenticated", "3"),
        ("latency", "3"),
        (None, "99"),
    ]
    for kind, version in faults:
        if kind is not None:
            server.fail_next(1, kind=kind, delay=3.0)
        with pytest.raises(HardpointError) as caught:
            backend.fetch("canary", version=version)
        errors.append(caught.value)
    server.disable_version("canary", 3)
    with pytest.raises(SecretNotFoundError) as not_found:
        backend.fetch("canary", version="3")
    errors.append(not_found.value)

    assert not _leaks(repr(backend))
    assert not _leaks(str(backend))
    for error in errors:
        assert not _leaks(str(error))
        assert not _leaks(repr(error))
        assert not _leaks("".join(traceback.format_exception(error)))
        assert error.__cause__ is None or not _leaks(repr(error.__cause__))
    records = caplog.records
    assert any(record.name.startswith("google.") for record in records)  # the test can see them
    for record in records:
        assert not _leaks(record.getMessage())
        assert not _leaks(repr(record.__dict__))


def test_the_client_librarys_debug_log_of_the_payload_is_redacted(
    server: GcpSecretManagerServer,
    backend: GcpSecretManagerBackend,
    caplog: pytest.LogCaptureFixture,
    google_logs_to_root: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    server.put_secret("logged", CANARY)

    assert backend.fetch("logged").value == CANARY

    responses = [r for r in caplog.records if getattr(r, "rpcName", "").endswith("Version")]
    responses = [r for r in responses if hasattr(r, "response")]
    assert responses, "the client library logged no response at DEBUG"
    for record in caplog.records:
        assert not _leaks(repr(record.__dict__))


async def test_afetch_keeps_the_value_out_of_errors_and_logs(
    server: GcpSecretManagerServer,
    abackend: GcpSecretManagerBackend,
    caplog: pytest.LogCaptureFixture,
    google_logs_to_root: None,
) -> None:
    caplog.set_level(logging.DEBUG)
    server.put_secret("async-canary", CANARY)
    assert (await abackend.afetch("async-canary")).value == CANARY

    server.fail_next(1, kind="throttle")
    with pytest.raises(BackendUnavailableError) as caught:
        await abackend.afetch("async-canary")

    assert not _leaks("".join(traceback.format_exception(caught.value)))
    for record in caplog.records:
        assert not _leaks(repr(record.__dict__))


# --- the server's own RPCs, through the real client --------------------------------------------


def test_the_server_implements_the_admin_rpcs(
    server: GcpSecretManagerServer, client: SecretManagerServiceClient
) -> None:
    from google.api_core import exceptions as api

    parent = f"projects/{PROJECT}"
    created = client.create_secret(
        parent=parent,
        secret_id="managed",  # noqa: S106 - a secret's name
        secret=secretmanager_v1.Secret(replication={"automatic": {}}, labels={"team": "a"}),
        retry=None,
    )
    assert created.name == f"projects/{server.project_number}/secrets/managed"
    with pytest.raises(api.AlreadyExists):
        client.create_secret(parent=parent, secret_id="managed", secret=None, retry=None)  # noqa: S106

    secret_name = f"{parent}/secrets/managed"
    first = client.add_secret_version(
        parent=secret_name, payload=secretmanager_v1.SecretPayload(data=b"v1"), retry=None
    )
    client.add_secret_version(
        parent=secret_name, payload=secretmanager_v1.SecretPayload(data=b"v2"), retry=None
    )
    assert first.name.endswith("/versions/1")

    disabled = client.disable_secret_version(name=f"{secret_name}/versions/1", retry=None)
    assert disabled.state.name == "DISABLED"
    assert client.enable_secret_version(name=f"{secret_name}/versions/1", retry=None).state == 1
    destroyed = client.destroy_secret_version(name=f"{secret_name}/versions/2", retry=None)
    assert destroyed.state.name == "DESTROYED"
    with pytest.raises(api.FailedPrecondition):
        client.access_secret_version(name=f"{secret_name}/versions/2", retry=None)
    with pytest.raises(api.FailedPrecondition):
        client.enable_secret_version(name=f"{secret_name}/versions/2", retry=None)

    version = client.get_secret_version(name=f"{secret_name}/versions/latest", retry=None)
    assert version.name.endswith("/versions/1")
    listed = list(client.list_secret_versions(parent=secret_name, retry=None))
    assert [v.name.rsplit("/", 1)[-1] for v in listed] == ["2", "1"]  # newest first
    assert client.get_secret(name=secret_name, retry=None).labels == {"team": "a"}
    client.delete_secret(name=secret_name, retry=None)
    with pytest.raises(api.NotFound):
        client.get_secret(name=secret_name, retry=None)

    assert server.calls("create") == 2
    assert server.calls("add") == 2
    assert server.calls("AccessSecretVersion") == 1
