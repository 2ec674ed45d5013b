"""AzureKeyVaultBackend against a real-protocol Key Vault endpoint (HTTPS, bearer challenge).

The real ``azure-keyvault-secrets`` clients, sync and aio, talk to ``_azure_server`` on loopback;
nothing of the SDK is mocked. Most tests run twice: through `fetch` and through `afetch`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import importlib.util
import json
import logging
import os
import socket
import sys
import threading
import time
import traceback
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

try:
    import azure.keyvault.secrets  # noqa: F401 - only checks that the SDK is installed
except ModuleNotFoundError as exc:  # pragma: no cover - the SDK is a dev dependency
    if os.environ.get("CI"):
        raise
    pytest.skip(f"needs hardpoint[azure]: {exc}", allow_module_level=True)

if TYPE_CHECKING:  # mypy names the helper after its directory under tests/
    from secrets._azure_server import (
        DEFAULT_TOKEN,
        KeyVaultServer,
        StaticTokenCredential,
        start_key_vault_server,
    )
else:  # pytest finds it through the sys.path entry above
    from _azure_server import (
        DEFAULT_TOKEN,
        KeyVaultServer,
        StaticTokenCredential,
        start_key_vault_server,
    )
from azure.core.credentials import AccessToken  # noqa: E402

from _servers import skip_or_fail  # noqa: E402
from hardpoint.errors import (  # noqa: E402
    BackendUnavailableError,
    ConfigurationError,
    HardpointError,
    SecretAccessDeniedError,
    SecretNotFoundError,
)
from hardpoint.secrets._azure import (  # noqa: E402
    AzureKeyVaultBackend,
    _ThreadedCredential,
    _tied_newest,
    _translate,
    _VersionInfo,
    key_vault_name,
    pick_previous,
)
from hardpoint.secrets._base import FetchedSecret, SecretBackend  # noqa: E402

Mode = Literal["sync", "async"]
CANARY = "canary-7f3a9c1e-do-not-leak"
Factory = Callable[..., AzureKeyVaultBackend]


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kv_server() -> Iterator[KeyVaultServer]:
    """One HTTPS Key Vault endpoint for the module; tests get it reset through `server`."""
    if importlib.util.find_spec("cryptography") is None:
        skip_or_fail("the Key Vault test server needs 'cryptography' for its certificate")
    with start_key_vault_server() as kv:
        yield kv


@pytest.fixture
def server(kv_server: KeyVaultServer) -> KeyVaultServer:
    kv_server.reset()
    return kv_server


def _backend(server: KeyVaultServer, *, token: str = DEFAULT_TOKEN, **kwargs: Any) -> Any:
    options: dict[str, Any] = {
        "vault_url": server.url,
        "credential": server.credential(token),
        "async_credential": server.async_credential(token),
        **server.client_options(),
        **kwargs,
    }
    return AzureKeyVaultBackend(**options)


@pytest.fixture
async def make(server: KeyVaultServer) -> AsyncIterator[Factory]:
    """Build backends for the server; every one is closed with `aclose` after the test."""
    made: list[AzureKeyVaultBackend] = []

    def factory(**kwargs: Any) -> AzureKeyVaultBackend:
        backend: AzureKeyVaultBackend = _backend(server, **kwargs)
        made.append(backend)
        return backend

    yield factory
    for backend in made:
        await backend.aclose()


@pytest.fixture
def backend(make: Factory) -> AzureKeyVaultBackend:
    return make()


@pytest.fixture(params=["sync", "async"])
def mode(request: pytest.FixtureRequest) -> Mode:
    value: Mode = request.param
    return value


async def read(
    backend: AzureKeyVaultBackend, mode: Mode, key: str, *, version: str | None = None
) -> FetchedSecret:
    if mode == "sync":
        return backend.fetch(key, version=version)
    return await backend.afetch(key, version=version)


async def failure(
    backend: AzureKeyVaultBackend, mode: Mode, key: str, *, version: str | None = None
) -> HardpointError:
    with pytest.raises(HardpointError) as info:
        await read(backend, mode, key, version=version)
    return info.value


# --- pure helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("DATABASE_PASSWORD", "DATABASE-PASSWORD"),
        ("db-password", "db-password"),
        ("a1", "a1"),
        ("x" * 127, "x" * 127),
        ("x" * 128, None),
        ("", None),
        ("db.password", None),
        ("db/password", None),
        ("db password", None),
        ("ünïcode", None),
    ],
)
def test_key_vault_name_maps_underscores_and_rejects_other_characters(
    key: str, expected: str | None
) -> None:
    assert key_vault_name(key) == expected


def _info(version: str, created: float, *, enabled: bool = True) -> _VersionInfo:
    return _VersionInfo(version=version, created=created, enabled=enabled)


def test_pick_previous_takes_the_newest_enabled_version_before_the_current_one() -> None:
    versions = [_info("a", 1), _info("c", 3), _info("b", 2)]
    assert pick_previous(versions, current="c") == "b"


def test_pick_previous_skips_disabled_versions() -> None:
    versions = [_info("a", 1), _info("b", 2, enabled=False), _info("c", 3)]
    assert pick_previous(versions, current="c") == "a"


def test_pick_previous_with_a_disabled_current_version_that_is_unknown() -> None:
    versions = [_info("a", 1), _info("b", 1), _info("c", 1, enabled=False)]
    assert pick_previous(versions, current=None) == "b"  # same second: the larger id


def test_pick_previous_is_none_without_an_older_enabled_version() -> None:
    assert pick_previous([_info("a", 1)], current="a") is None
    assert pick_previous([_info("a", 1, enabled=False), _info("b", 2)], current="b") is None
    assert pick_previous([], current=None) is None


def test_version_info_reads_listed_properties() -> None:
    from azure.keyvault.secrets import SecretProperties

    assert _VersionInfo.of(SecretProperties()) is None  # no id, no version
    info = _VersionInfo.of(SecretProperties(None, "https://v.vault.azure.net/secrets/n/abc123"))
    assert info == _VersionInfo(version="abc123", created=float("-inf"), enabled=True)
    assert _tied_newest([]) == []


def _http_error(status: int, body: dict[str, Any] | None = None) -> Exception:
    """An HttpResponseError as the SDK raises it for *status* and an error *body*."""
    from azure.core.exceptions import HttpResponseError, ODataV4Format

    exc = HttpResponseError(message=f"Operation returned an invalid status {status}")
    exc.status_code = status
    exc.error = ODataV4Format(body) if body is not None else None
    return exc


@pytest.mark.parametrize(
    ("exc", "expected", "text"),
    [
        (_http_error(503), BackendUnavailableError, "answered HTTP 503 for"),
        (
            _http_error(400, {"error": {"code": "BadParameter", "message": "m"}}),
            BackendUnavailableError,
            "unexpected HTTP 400 BadParameter",
        ),
        (_http_error(403), SecretAccessDeniedError, "HTTP 403"),
        (
            _http_error(
                403,
                {
                    "error": {
                        "code": "Forbidden",
                        "message": "Operation get is not allowed on a disabled secret.",
                    }
                },
            ),
            SecretNotFoundError,
            "",
        ),
        (_http_error(404), SecretNotFoundError, ""),
        (ValueError("Invalid challenge parameters"), SecretAccessDeniedError, "challenge"),
    ],
)
def test_translate_maps_every_sdk_error_to_one_of_ours(
    exc: Exception, expected: type[HardpointError], text: str
) -> None:
    error = _translate(exc, "the-key", "v.vault.azure.net")
    assert type(error) is expected
    assert text in str(error)
    assert "the-key" in str(error)


def test_translate_maps_other_azure_errors_to_unavailable() -> None:
    from azure.core.exceptions import AzureError

    error = _translate(AzureError("odd"), "k", "v.vault.azure.net")
    assert isinstance(error, BackendUnavailableError)
    assert "failed (AzureError)" in str(error)


async def test_threaded_credential_is_an_async_context_manager() -> None:
    credential = StaticTokenCredential()
    async with _ThreadedCredential(credential) as threaded:
        token = await threaded.get_token("https://vault.azure.net/.default")
    assert token.token == DEFAULT_TOKEN
    assert not credential.closed


# --- construction and from_env -----------------------------------------------------------------


def test_backend_satisfies_the_protocol(server: KeyVaultServer) -> None:
    with _backend(server) as backend:
        assert isinstance(backend, SecretBackend)
        assert backend.name == "azure"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"vault_url": "http://127.0.0.1:1"}, "vault_url"),
        ({"vault_url": "not a url"}, "vault_url"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"retry_total": 3}, "retry_total"),
        ({"retry_mode": "fixed"}, "retry_mode"),
    ],
)
def test_bad_configuration_is_refused_at_construction(
    server: KeyVaultServer, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        _backend(server, **kwargs)
    assert info.value.field == field


async def test_from_env_reads_the_vault_url(
    server: KeyVaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.put_secret("from-env", "value")
    monkeypatch.setenv("AZURE_KEY_VAULT_URL", server.url)
    backend = AzureKeyVaultBackend.from_env(
        credential=server.credential(),
        async_credential=server.async_credential(),
        timeout=2.0,
        **server.client_options(),
    )
    async with backend:
        assert backend.vault_url == server.url
        assert backend.timeout == 2.0
        assert backend.fetch("from_env").value == "value"
        assert (await backend.afetch("from_env")).value == "value"


def test_from_env_accepts_the_alternative_spelling(server: KeyVaultServer) -> None:
    environ = {"AZURE_KEYVAULT_URL": server.url}
    with AzureKeyVaultBackend.from_env(environ=environ, credential=server.credential()) as backend:
        assert backend.vault_url == server.url


def test_from_env_defaults_to_default_azure_credential() -> None:
    environ = {"AZURE_KEY_VAULT_URL": "https://my-vault.vault.azure.net/"}
    with AzureKeyVaultBackend.from_env(environ=environ) as backend:  # makes no request
        assert repr(backend) == (
            "AzureKeyVaultBackend(vault_url='https://my-vault.vault.azure.net', timeout=1.0)"
        )


@pytest.mark.parametrize("environ", [{}, {"AZURE_KEY_VAULT_URL": "  "}])
def test_from_env_names_the_missing_variable(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AZURE_KEY_VAULT_URL", raising=False)
    monkeypatch.delenv("AZURE_KEYVAULT_URL", raising=False)
    with pytest.raises(ConfigurationError) as info:
        AzureKeyVaultBackend.from_env(environ=environ)
    assert info.value.field == "AZURE_KEY_VAULT_URL"
    assert "AZURE_KEY_VAULT_URL" in str(info.value)
    with pytest.raises(ConfigurationError):
        AzureKeyVaultBackend.from_env()  # os.environ, without the variable


# --- reading -----------------------------------------------------------------------------------


async def test_fetch_reads_the_current_version(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    server.put_secret("db-password", "first")
    current = server.put_secret("db-password", "second")
    secret = await read(backend, mode, "db-password")
    assert secret.value == "second"
    assert secret.version == current


async def test_underscores_in_names_read_dashes(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    server.put_secret("DATABASE-PASSWORD", "hunter2")
    assert (await read(backend, mode, "DATABASE_PASSWORD")).value == "hunter2"
    assert (await read(backend, mode, "database_password")).value == "hunter2"  # any case


async def test_fetch_reads_a_version_id(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    first = server.put_secret("api-key", "one")
    server.put_secret("api-key", "two")
    secret = await read(backend, mode, "api-key", version=first)
    assert (secret.value, secret.version) == ("one", first)


async def test_json_secret_comes_back_as_its_text(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    text = json.dumps({"user": "app", "password": "p@ss", "port": 5432}, indent=1)
    server.put_secret("db-config", text, content_type="application/json")
    secret = await read(backend, mode, "db_config")
    assert secret.value == text
    assert json.loads(secret.value)["password"] == "p@ss"  # noqa: S105 - test data


async def test_previous_is_the_version_before_the_current_one(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    server.put_secret("rotated", "v1", created=1_700_000_000)
    second = server.put_secret("rotated", "v2", created=1_700_000_100)
    server.put_secret("rotated", "v3", created=1_700_000_200)
    secret = await read(backend, mode, "rotated", version="previous")
    assert (secret.value, secret.version) == ("v2", second)
    # One listing and one read: distinct timestamps need no look at the current version.
    assert (server.calls("list_versions"), server.calls("get")) == (1, 1)


async def test_previous_asks_for_the_current_version_when_timestamps_tie(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    # Key Vault timestamps are whole seconds: all three versions share one.
    server.put_secret("tied", "v1", created=1_700_000_000)
    server.put_secret("tied", "v2", created=1_700_000_000)
    current = server.put_secret("tied", "v3", created=1_700_000_000)
    secret = await read(backend, mode, "tied", version="previous")
    assert secret.value in {"v1", "v2"}
    assert secret.version != current
    assert (server.calls("list_versions"), server.calls("get")) == (1, 2)


async def test_previous_skips_disabled_versions(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    first = server.put_secret("skip", "v1")
    second = server.put_secret("skip", "v2")
    server.put_secret("skip", "v3")
    server.set_enabled("skip", second, enabled=False)
    secret = await read(backend, mode, "skip", version="previous")
    assert (secret.value, secret.version) == ("v1", first)


async def test_previous_when_the_current_version_is_disabled(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    server.put_secret("off", "v1")
    server.put_secret("off", "v2")  # same second as v1, and disabled
    server.set_enabled("off", enabled=False)
    assert (await read(backend, mode, "off", version="previous")).value == "v1"
    assert isinstance(await failure(backend, mode, "off"), SecretNotFoundError)


async def test_previous_of_a_single_version_is_not_found(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    server.put_secret("single", "only")
    error = await failure(backend, mode, "single", version="previous")
    assert isinstance(error, SecretNotFoundError)
    assert isinstance(await failure(backend, mode, "missing", version="previous"), LookupError)


async def test_previous_follows_the_next_link_across_pages(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    ids = [server.put_secret("paged", f"v{i}", created=1_700_000_000 + i) for i in range(30)]
    secret = await read(backend, mode, "paged", version="previous")
    assert (secret.value, secret.version) == ("v28", ids[28])
    assert server.calls("list_versions") == 2  # 25 a page


# --- not found ---------------------------------------------------------------------------------


async def test_missing_secret_and_missing_version_are_not_found(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    server.put_secret("present", "value")
    error = await failure(backend, mode, "absent")
    assert isinstance(error, SecretNotFoundError)
    assert (error.key, error.backend) == ("absent", "azure")
    error = await failure(backend, mode, "present", version="0" * 32)
    assert isinstance(error, SecretNotFoundError)
    assert server.calls("get") == 2


@pytest.mark.parametrize(
    ("key", "version"),
    [("db.password", None), ("", None), ("x" * 200, None), ("ok", ""), ("ok", ".."), ("ok", "a/b")],
)
async def test_impossible_names_and_versions_are_not_found_without_a_request(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode, key: str, version: str
) -> None:
    server.put_secret("ok", "value")
    error = await failure(backend, mode, key, version=version)
    assert isinstance(error, SecretNotFoundError)
    assert server.calls() == 0


async def test_disabled_current_and_disabled_version_are_not_found(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    old = server.put_secret("toggled", "old")
    server.put_secret("toggled", "new")
    server.set_enabled("toggled", old, enabled=False)
    assert isinstance(await failure(backend, mode, "toggled", version=old), SecretNotFoundError)
    assert (await read(backend, mode, "toggled")).value == "new"
    server.set_enabled("toggled", enabled=False)
    assert isinstance(await failure(backend, mode, "toggled"), SecretNotFoundError)


async def test_deleted_secret_is_not_found(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    server.put_secret("short-lived", "value")
    assert (await read(backend, mode, "short-lived")).value == "value"
    server.delete_secret("short-lived")
    assert isinstance(await failure(backend, mode, "short-lived"), SecretNotFoundError)


def test_versions_disabled_through_the_sdk_are_not_found(
    server: KeyVaultServer, backend: AzureKeyVaultBackend
) -> None:
    with server.client() as client:  # the real SDK drives PUT and PATCH too
        created = client.set_secret("via-sdk", "value", content_type="text/plain")
        assert backend.fetch("via-sdk").version == created.properties.version
        client.update_secret_properties("via-sdk", created.properties.version, enabled=False)
    with pytest.raises(SecretNotFoundError):
        backend.fetch("via-sdk")


# --- unavailable -------------------------------------------------------------------------------


async def test_throttling_fails_fast_after_one_request(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    server.put_secret("busy", "value")
    await read(backend, mode, "busy")  # warm: token and challenge in hand
    server.clear_calls()
    server.fail_next(1, "throttle", retry_after=5)
    started = time.monotonic()
    error = await failure(backend, mode, "busy")
    elapsed = time.monotonic() - started
    assert isinstance(error, BackendUnavailableError)
    assert error.backend == "azure"
    assert "429" in str(error)
    assert server.calls("get") == 1  # no SDK retry storm
    assert elapsed < 1.0  # Retry-After: 5 was not waited for


@pytest.mark.parametrize(("kind", "status"), [("outage", 503), ("outage", 500), ("disconnect", 0)])
async def test_outage_is_unavailable(
    server: KeyVaultServer,
    backend: AzureKeyVaultBackend,
    mode: Mode,
    kind: Literal["outage", "disconnect"],
    status: int,
) -> None:
    server.put_secret("down", "value")
    server.fail_next(2, kind, status=status or None)  # aiohttp may resend once on a reset
    error = await failure(backend, mode, "down")
    assert isinstance(error, BackendUnavailableError)
    if status:
        assert str(status) in str(error)
        assert server.calls("get") == 1


async def test_latency_above_timeout_is_unavailable_within_the_timeout(
    server: KeyVaultServer, make: Factory, mode: Mode
) -> None:
    backend = make(timeout=0.5)
    server.put_secret("slow", "value")
    await read(backend, mode, "slow")
    server.fail_next(1, "latency", delay=5.0)
    started = time.monotonic()
    error = await failure(backend, mode, "slow")
    elapsed = time.monotonic() - started
    assert isinstance(error, BackendUnavailableError)
    assert "timed out" in str(error)
    assert elapsed < 0.5 + 0.5
    server.clear_faults()
    assert (await read(backend, mode, "slow")).value == "value"  # a new connection


async def test_an_unexpected_status_is_unavailable(
    server: KeyVaultServer, backend: AzureKeyVaultBackend, mode: Mode
) -> None:
    server.put_secret("odd", "value")
    server.fail_next(1, "outage", status=409)
    error = await failure(backend, mode, "odd")
    assert isinstance(error, BackendUnavailableError)
    assert "unexpected HTTP 409 ServiceUnavailable" in str(error)


async def test_latency_below_timeout_is_served(
    server: KeyVaultServer, make: Factory, mode: Mode
) -> None:
    backend = make(timeout=2.0)
    server.put_secret("lagging", "value")
    server.fail_next(1, "latency", delay=0.3)
    assert (await read(backend, mode, "lagging")).value == "value"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_connection_refused_is_unavailable(
    server: KeyVaultServer, make: Factory, mode: Mode
) -> None:
    backend = make(vault_url=f"https://127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    error = await failure(backend, mode, "anything")
    assert isinstance(error, BackendUnavailableError)
    assert time.monotonic() - started < 1.5


# --- access denied -----------------------------------------------------------------------------


async def test_unknown_token_is_access_denied(
    server: KeyVaultServer, make: Factory, mode: Mode
) -> None:
    server.put_secret("guarded", "value")
    backend = make(token="not-a-valid-token")  # noqa: S106 - a test token
    error = await failure(backend, mode, "guarded")
    assert isinstance(error, SecretAccessDeniedError)
    assert isinstance(error, PermissionError)
    assert "401" in str(error)
    assert server.calls("unauthorized") >= 1


async def test_missing_permission_is_access_denied_not_not_found(
    server: KeyVaultServer, make: Factory, mode: Mode
) -> None:
    server.put_secret("guarded", "value")
    server.add_token("list-only", permissions={"list"})
    backend = make(token="list-only")  # noqa: S106 - a test token
    error = await failure(backend, mode, "guarded")
    assert isinstance(error, SecretAccessDeniedError)
    assert "403 Forbidden (AccessDenied)" in str(error)


async def test_a_challenge_for_another_resource_is_access_denied(
    server: KeyVaultServer, make: Factory, mode: Mode
) -> None:
    server.put_secret("elsewhere", "value")
    # The challenge names https://vault.azure.net, which does not match 127.0.0.1: the SDK
    # refuses to send a token there unless verify_challenge_resource is off.
    backend = make(verify_challenge_resource=True)
    error = await failure(backend, mode, "elsewhere")
    assert isinstance(error, SecretAccessDeniedError)
    assert "challenge" in str(error)


class _NoCredential:
    """Like DefaultAzureCredential on a machine with no Azure identity at all."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.identity import CredentialUnavailableError

        raise CredentialUnavailableError(message="no Azure identity here")


async def test_a_credential_without_a_token_is_access_denied(
    server: KeyVaultServer, make: Factory, mode: Mode
) -> None:
    server.put_secret("guarded", "value")
    # No async_credential: the async client uses the sync one through a worker thread.
    backend = make(credential=_NoCredential(), async_credential=None)
    error = await failure(backend, mode, "guarded")
    assert isinstance(error, SecretAccessDeniedError)
    assert "CredentialUnavailableError" in str(error)


# --- async specifics, injected clients, closing ------------------------------------------------


async def test_default_credentials_are_made_and_closed(mode: Mode) -> None:
    # A closed port: the SDK's challenge round trip fails before any token is asked for, so
    # DefaultAzureCredential never probes the network beyond loopback.
    backend = AzureKeyVaultBackend(vault_url=f"https://127.0.0.1:{_closed_port()}", timeout=0.5)
    try:
        assert isinstance(await failure(backend, mode, "db-password"), BackendUnavailableError)
    finally:
        await backend.aclose()
    assert _resource_warnings() == []


async def test_afetch_uses_a_sync_credential_through_a_thread(
    server: KeyVaultServer, make: Factory
) -> None:
    server.put_secret("shared-cred", "value")
    credential = StaticTokenCredential()
    backend = make(credential=credential, async_credential=None)
    assert (await backend.afetch("shared-cred")).value == "value"
    assert credential.requests >= 1
    await backend.aclose()
    assert not credential.closed  # the user's credential stays open


async def test_afetch_runs_in_a_thread_without_aiohttp(
    server: KeyVaultServer, make: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, package: str | None = None) -> ModuleSpec | None:
        return None if name == "aiohttp" else real_find_spec(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    server.put_secret("threaded", "value")
    backend = make()
    monkeypatch.undo()
    caller = threading.get_ident()
    assert (await backend.afetch("threaded")).value == "value"
    assert threading.get_ident() == caller


async def test_concurrent_afetch_share_one_async_client(server: KeyVaultServer) -> None:
    server.put_secret("many-readers", "value")
    # 64 TLS handshakes against a threaded test server on 2 loaded cores can take over a
    # second: this test is about sharing one client, not about the timeout.
    backend = _backend(server, timeout=10.0)
    try:
        results = await asyncio.gather(*(backend.afetch("many-readers") for _ in range(64)))
    finally:
        await backend.aclose()
    assert {secret.value for secret in results} == {"value"}
    assert server.calls("get") == 64


def test_fetch_from_many_threads_shares_one_client(
    server: KeyVaultServer, backend: AzureKeyVaultBackend
) -> None:
    server.put_secret("many-threads", "value")
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda _: backend.fetch("many-threads"), range(64)))
    assert {secret.value for secret in results} == {"value"}
    assert server.calls("get") == 64


async def test_injected_clients_are_used_and_left_open(server: KeyVaultServer) -> None:
    from azure.keyvault.secrets.aio import SecretClient as AsyncSecretClient

    server.put_secret("injected", "value")
    client = server.client()
    async_client = AsyncSecretClient(
        server.url, server.async_credential(), retry_total=0, **server.client_options()
    )
    backend = AzureKeyVaultBackend(
        vault_url=server.url, client=client, async_client=async_client, credential=None
    )
    async with backend:
        assert backend.fetch("injected").value == "value"
        assert (await backend.afetch("injected")).value == "value"
    assert client.get_secret("injected").value == "value"  # still open
    assert (await async_client.get_secret("injected")).value == "value"
    client.close()
    await async_client.close()


async def test_close_leaves_an_injected_async_client_alone(server: KeyVaultServer) -> None:
    from azure.keyvault.secrets.aio import SecretClient as AsyncSecretClient

    server.put_secret("injected", "value")
    async_client = AsyncSecretClient(
        server.url, server.async_credential(), retry_total=0, **server.client_options()
    )
    backend = AzureKeyVaultBackend(
        vault_url=server.url, async_client=async_client, **server.client_options()
    )
    assert (await backend.afetch("injected")).value == "value"
    assert (await backend.afetch("injected")).value == "value"
    backend.close()  # sync close, from inside the loop
    assert (await async_client.get_secret("injected")).value == "value"
    await async_client.close()


def _resource_warnings() -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    return [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]


async def test_aclose_releases_everything_and_is_idempotent(server: KeyVaultServer) -> None:
    server.put_secret("closing", "value")
    credential, async_credential = server.credential(), server.async_credential()
    backend = _backend(server, credential=credential, async_credential=async_credential)
    assert backend.fetch("closing").value == "value"
    assert (await backend.afetch("closing")).value == "value"
    await backend.aclose()
    await backend.aclose()
    backend.close()
    assert _resource_warnings() == []
    assert not credential.closed
    assert not async_credential.closed
    with pytest.raises(BackendUnavailableError, match="closed"):
        backend.fetch("closing")
    with pytest.raises(BackendUnavailableError, match="closed"):
        await backend.afetch("closing")


def test_close_runs_an_idle_loop_to_close_its_async_client(server: KeyVaultServer) -> None:
    server.put_secret("idle-loop", "value")
    backend = _backend(server)
    loop = asyncio.new_event_loop()
    try:
        secret = loop.run_until_complete(backend.afetch("idle-loop"))
        assert secret.value == "value"
        backend.close()
    finally:
        loop.close()
    assert _resource_warnings() == []


def test_close_closes_an_async_client_in_its_loop_thread(server: KeyVaultServer) -> None:
    server.put_secret("loop-thread", "value")
    backend = _backend(server)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        future = asyncio.run_coroutine_threadsafe(backend.afetch("loop-thread"), loop)
        assert future.result(timeout=5).value == "value"
        backend.close()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
    assert _resource_warnings() == []


async def test_close_inside_the_running_loop_closes_its_client_in_a_task(
    server: KeyVaultServer,
) -> None:
    server.put_secret("in-loop", "value")
    backend = _backend(server)
    assert (await backend.afetch("in-loop")).value == "value"
    backend.close()
    for _ in range(50):
        if not backend._closing:
            break
        await asyncio.sleep(0.01)
    assert not backend._closing
    assert _resource_warnings() == []


async def test_aclose_closes_the_client_of_a_loop_in_another_thread(
    server: KeyVaultServer,
) -> None:
    server.put_secret("other-loop", "value")
    backend = _backend(server)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever)
    thread.start()
    try:
        future = asyncio.run_coroutine_threadsafe(backend.afetch("other-loop"), loop)
        assert (await asyncio.wrap_future(future)).value == "value"
        assert (await backend.afetch("other-loop")).value == "value"  # this loop's own client
        await backend.aclose()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()
    assert _resource_warnings() == []


async def test_aclose_runs_an_idle_loop_in_a_thread_to_close_its_client(
    server: KeyVaultServer,
) -> None:
    server.put_secret("idle-other", "value")
    backend = _backend(server)
    loop = asyncio.new_event_loop()
    try:
        done = await asyncio.to_thread(loop.run_until_complete, backend.afetch("idle-other"))
        assert done.value == "value"
        await backend.aclose()
    finally:
        loop.close()
    assert _resource_warnings() == []


def test_close_after_the_loop_ended_warns(
    server: KeyVaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.put_secret("ended", "value")
    backend = _backend(server)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # aiohttp's unclosable session
        assert asyncio.run(backend.afetch("ended")).value == "value"
        with caplog.at_level(logging.WARNING, logger="hardpoint.secrets._azure"):
            backend.close()
        gc.collect()
    assert "outlived its event loop" in caplog.text


def test_each_event_loop_gets_its_own_async_client(
    server: KeyVaultServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.put_secret("two-loops", "value")
    backend = _backend(server)

    async def read_and_close() -> str:
        fetched: FetchedSecret = await backend.afetch("two-loops")
        return fetched.value

    async def last() -> None:
        assert (await backend.afetch("two-loops")).value == "value"
        await backend.aclose()

    with warnings.catch_warnings(), caplog.at_level(logging.WARNING):
        # The first loop ends without aclose(): its client is forgotten with a warning, and
        # aiohttp complains about the session nobody can close any more.
        warnings.simplefilter("ignore", ResourceWarning)
        assert asyncio.run(read_and_close()) == "value"
        asyncio.run(last())
        gc.collect()
    assert "outlived its event loop" in caplog.text


# --- nothing leaks -----------------------------------------------------------------------------


def _texts(error: BaseException) -> list[str]:
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


async def test_the_value_never_leaks_into_reprs_errors_or_logs(
    server: KeyVaultServer,
    make: Factory,
    mode: Mode,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server.put_secret("leaky", CANARY)
    server.put_secret("leaky", CANARY + "-2")  # current; the canary is "previous"
    server.put_secret("leaky-json", json.dumps({"password": CANARY}))
    server.add_token("list-only", permissions={"list"})
    backend = make(timeout=0.5)
    denied = make(token="list-only")  # noqa: S106 - a test token
    caplog.set_level(logging.DEBUG)  # the root logger: azure.core's logging included

    fetched = await read(backend, mode, "leaky", version="previous")
    assert fetched.value == CANARY
    errors: list[BaseException] = []
    for kind in ("throttle", "outage", "latency", "disconnect"):
        server.fail_next(2, kind, delay=2.0)
        errors.append(await failure(backend, mode, "leaky"))
        server.clear_faults()
    server.fail_next(1, "throttle", after=1)  # fails reading the version after the listing
    errors.append(await failure(backend, mode, "leaky", version="previous"))
    server.clear_faults()
    server.set_enabled("leaky", enabled=False)
    errors.append(await failure(backend, mode, "leaky"))
    errors.append(await failure(backend, mode, "leaky-json", version="f" * 32))
    errors.append(await failure(denied, mode, "leaky-json"))

    assert len(errors) == 8
    for text in [repr(backend), repr(fetched), str(fetched)]:
        assert CANARY not in text
    for error in errors:
        for text in _texts(error):
            assert CANARY not in text
    assert caplog.records
    for record in caplog.records:
        assert CANARY not in record.getMessage()
        assert CANARY not in logging.Formatter().format(record)
