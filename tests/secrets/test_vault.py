"""VaultBackend against a real OpenBao dev server, through a counting, fault-injecting proxy."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import hvac
import hvac.adapters
import pytest

_HERE: Final = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

if TYPE_CHECKING:  # mypy names the helper after its directory under tests/
    from secrets._vault_server import FaultKind, VaultServer, start_vault_server
else:  # pytest finds it through the sys.path entry above
    from _vault_server import VaultServer, start_vault_server

from _servers import ServerNotFoundError, free_port, skip_or_fail  # noqa: E402
from hardpoint.errors import (  # noqa: E402
    BackendUnavailableError,
    ConfigurationError,
    HardpointError,
    SecretAccessDeniedError,
    SecretNotFoundError,
)
from hardpoint.secrets._base import FetchedSecret, SecretBackend  # noqa: E402
from hardpoint.secrets._vault import (  # noqa: E402
    KUBERNETES_JWT_PATH,
    AppRoleAuth,
    JwtAuth,
    KubernetesAuth,
    TokenAuth,
    VaultBackend,
    previous_version,
    secret_value,
)

CANARY: Final = "canary-7f3a9c1e-do-not-log"
BAD_TOKEN: Final = "not-a-token"  # noqa: S105 - a made-up credential
SEKRIT: Final = "sekrit"


@contextlib.contextmanager
def _closing(client: hvac.Client) -> Iterator[hvac.Client]:
    try:
        yield client
    finally:
        client.adapter.close()


@pytest.fixture(scope="module")
def vault_server() -> Iterator[VaultServer]:
    """OpenBao dev server plus proxy, shared by this module's tests."""
    try:
        context = start_vault_server()
        server = context.__enter__()
    except ServerNotFoundError as exc:
        reason = str(exc)
    else:
        try:
            yield server
        finally:
            context.__exit__(None, None, None)
        return
    skip_or_fail(reason)


@pytest.fixture
def vault(vault_server: VaultServer) -> VaultServer:
    """The shared server with counters zeroed and no pending faults."""
    vault_server.reset_calls()
    return vault_server


@pytest.fixture
def key() -> str:
    """A secret path no other test uses."""
    return f"tests/{uuid.uuid4().hex}"


@pytest.fixture
def backend(vault: VaultServer) -> Iterator[VaultBackend]:
    """A root-token backend through the proxy, with its token lookup already done."""
    with vault.backend() as root_backend:
        vault.put_secret("warm-up", "x")
        root_backend.fetch("warm-up")
        vault.reset_calls()
        yield root_backend


# --- values and versions -----------------------------------------------------------------------


def test_backend_satisfies_the_protocol(backend: VaultBackend) -> None:
    assert isinstance(backend, SecretBackend)
    assert backend.name == "vault"


def test_fetch_returns_the_current_version_of_a_value_secret(
    vault: VaultServer, backend: VaultBackend, key: str
) -> None:
    vault.put_secret(key, "first")
    vault.new_version(key, "second")

    fetched = backend.fetch(key)

    assert fetched == FetchedSecret("second", "2")
    assert vault.calls("read", key=key) == 1


def test_a_secret_with_several_fields_comes_back_as_sorted_json(
    vault: VaultServer, backend: VaultBackend, key: str
) -> None:
    fields = {"username": "app", "password": "pw", "port": 5432, "value": "also here"}
    vault.put_secret(key, fields)

    fetched = backend.fetch(key)

    assert json.loads(fetched.value) == fields
    assert fetched.value == json.dumps(fields, sort_keys=True)


def test_value_rules() -> None:
    assert secret_value({"value": "plain"}) == "plain"
    assert secret_value({"value": 5}) == '{"value": 5}'
    assert secret_value({}) == "{}"
    assert secret_value({"b": "2", "a": "1"}) == '{"a": "1", "b": "2"}'


def test_previous_is_the_version_before_the_current_one(
    vault: VaultServer, backend: VaultBackend, key: str
) -> None:
    vault.put_secret(key, "one")
    vault.new_version(key, "two")
    vault.new_version(key, "three")

    assert backend.fetch(key, version="previous") == FetchedSecret("two", "2")
    assert vault.calls("metadata", key=key) == 1
    assert vault.calls("read", key=key) == 1


def test_previous_skips_deleted_and_destroyed_versions(
    vault: VaultServer, backend: VaultBackend, key: str
) -> None:
    for value in ("one", "two", "three", "four"):
        vault.new_version(key, value)
    vault.delete_version(key, 3)
    vault.destroy_version(key, 2)

    assert backend.fetch(key, version="previous") == FetchedSecret("one", "1")


def test_previous_of_a_single_version_is_not_found(
    vault: VaultServer, backend: VaultBackend, key: str
) -> None:
    vault.put_secret(key, "only")

    with pytest.raises(SecretNotFoundError) as caught:
        backend.fetch(key, version="previous")
    assert caught.value.key == f"{key}@previous"


def test_previous_version_from_metadata() -> None:
    def meta(current: int, **versions: dict[str, object]) -> dict[str, object]:
        return {"current_version": current, "versions": versions}

    live = {"deletion_time": "", "destroyed": False}
    gone = {"deletion_time": "2020-01-01T00:00:00.123456789Z", "destroyed": False}
    later = {"deletion_time": "2999-01-01T00:00:00.123456789Z", "destroyed": False}
    destroyed = {"deletion_time": "", "destroyed": True}
    unparsable = {"deletion_time": "yesterday", "destroyed": False}
    assert previous_version(meta(3, **{"1": live, "2": unparsable, "3": live})) == 1
    assert previous_version(meta(3, **{"1": live, "2": live, "3": live})) == 2
    assert previous_version(meta(3, **{"1": live, "2": gone, "3": live})) == 1
    assert previous_version(meta(3, **{"1": live, "2": destroyed, "3": live})) == 1
    # A deletion scheduled in the future (delete_version_after) is still readable.
    assert previous_version(meta(2, **{"1": later, "2": live})) == 1
    assert previous_version(meta(2, **{"1": gone, "2": live})) is None
    assert previous_version(meta(1, **{"1": live})) is None
    assert previous_version({}) is None
    assert previous_version({"current_version": "x", "versions": {}}) is None


def test_fetch_a_version_by_number(vault: VaultServer, backend: VaultBackend, key: str) -> None:
    vault.put_secret(key, "one")
    vault.new_version(key, "two")

    assert backend.fetch(key, version="1") == FetchedSecret("one", "1")
    assert backend.fetch(key, version="2") == FetchedSecret("two", "2")


def test_missing_secret_is_not_found(backend: VaultBackend, key: str) -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        backend.fetch(key)
    assert caught.value.key == key
    assert caught.value.backend == "vault"


@pytest.mark.parametrize("version", ["9", "0", "-1", "abc", "1.0", "", "previous"])
def test_missing_or_malformed_version_is_not_found(
    vault: VaultServer, backend: VaultBackend, key: str, version: str
) -> None:
    vault.put_secret(key, "one")

    with pytest.raises(SecretNotFoundError) as caught:
        backend.fetch(key, version=version)
    assert caught.value.key == f"{key}@{version}"


@pytest.mark.parametrize("bad_key", ["", "/", "a/../b", "a//b", "./a"])
def test_malformed_key_is_not_found_without_a_request(
    vault: VaultServer, backend: VaultBackend, bad_key: str
) -> None:
    with pytest.raises(SecretNotFoundError):
        backend.fetch(bad_key)
    assert vault.calls() == 0


def test_deleted_and_destroyed_versions_are_not_found(
    vault: VaultServer, backend: VaultBackend, key: str
) -> None:
    for value in ("one", "two", "three"):
        vault.new_version(key, value)
    vault.delete_version(key, 1)
    vault.destroy_version(key, 2)

    for version in ("1", "2"):
        with pytest.raises(SecretNotFoundError):
            backend.fetch(key, version=version)
    assert backend.fetch(key).version == "3"

    vault.delete_version(key, 3)  # the current version itself
    with pytest.raises(SecretNotFoundError):
        backend.fetch(key)

    vault.undelete_version(key, 3)
    assert backend.fetch(key) == FetchedSecret("three", "3")


def test_deleted_secret_is_not_found(vault: VaultServer, backend: VaultBackend, key: str) -> None:
    vault.put_secret(key, "one")
    backend.fetch(key)
    vault.delete_secret(key)

    with pytest.raises(SecretNotFoundError):
        backend.fetch(key)


def test_kv_v1_reads_without_versions(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "v1-value", mount=vault.kv1_mount)
    vault.put_secret(f"{key}-json", {"a": "1", "b": "2"}, mount=vault.kv1_mount)
    with vault.backend(mount=vault.kv1_mount, kv_version=1) as kv1:
        assert kv1.fetch(key) == FetchedSecret("v1-value", None)
        assert json.loads(kv1.fetch(f"{key}-json").value) == {"a": "1", "b": "2"}
        with pytest.raises(SecretNotFoundError):
            kv1.fetch(f"{key}-missing")
        vault.reset_calls()
        for version in ("previous", "1"):
            with pytest.raises(SecretNotFoundError) as caught:
                kv1.fetch(key, version=version)
            assert caught.value.key == f"{key}@{version}"
        assert vault.calls() == 0  # answered without asking the server


def test_another_kv_v2_mount(vault: VaultServer, key: str) -> None:
    mount = f"kv-{uuid.uuid4().hex[:8]}"
    vault.add_kv_mount(mount)
    vault.admin.sys.create_or_update_policy(
        f"read-{mount}", f'path "{mount}/data/*" {{ capabilities = ["read"] }}'
    )
    vault.put_secret(key, "elsewhere", mount=mount)
    token = vault.token(policies=(f"read-{mount}",))
    with vault.backend(token=token, mount=f"/{mount}/") as other:
        assert other.fetch(key) == FetchedSecret("elsewhere", "1")
    with vault.backend(token=token) as default_mount, pytest.raises(SecretAccessDeniedError):
        default_mount.fetch(key)


def test_namespace_is_sent(vault: VaultServer, key: str) -> None:
    namespace = f"ns{uuid.uuid4().hex[:8]}"
    vault.admin.adapter.post(f"/v1/sys/namespaces/{namespace}")
    with _closing(
        hvac.Client(url=vault.bao_url, token=vault.root_token, namespace=namespace)
    ) as inside:
        inside.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        inside.secrets.kv.v2.create_or_update_secret(key, {"value": "in-namespace"})
    with vault.backend(namespace=namespace) as namespaced:
        assert namespaced.fetch(key).value == "in-namespace"
    with vault.backend() as root_namespace, pytest.raises(SecretNotFoundError):
        root_namespace.fetch(key)


# --- faults: one attempt, no SDK retries -------------------------------------------------------


def test_throttling_is_unavailable_after_exactly_one_request(
    vault: VaultServer, backend: VaultBackend, key: str
) -> None:
    vault.put_secret(key, "value")
    vault.fail_next(5, kind="throttle")

    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as caught:
        backend.fetch(key)

    assert time.monotonic() - started < 0.5
    assert vault.calls() == 1
    assert caught.value.backend == "vault"
    assert "429" in str(caught.value)


@pytest.mark.parametrize("kind", ["outage", "disconnect"])
def test_outage_is_unavailable_after_one_request(
    vault: VaultServer, backend: VaultBackend, key: str, kind: FaultKind
) -> None:
    vault.put_secret(key, "value")
    vault.fail_next(5, kind=kind)

    with pytest.raises(BackendUnavailableError):
        backend.fetch(key)
    assert vault.calls() == 1


def test_a_non_json_answer_is_unavailable(
    vault: VaultServer, backend: VaultBackend, key: str
) -> None:
    vault.put_secret(key, "value")
    vault.fail_next(1, kind="garbage")

    with pytest.raises(BackendUnavailableError, match="not JSON") as caught:
        backend.fetch(key)
    assert "guest network" not in _rendered(caught.value)  # bodies are never quoted


def test_connection_refused_is_unavailable_fast(key: str) -> None:
    with VaultBackend(url=f"http://127.0.0.1:{free_port()}", token=BAD_TOKEN) as nowhere:
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError):
            nowhere.fetch(key)
        assert time.monotonic() - started < 0.5


def test_latency_above_the_timeout_is_unavailable_in_time(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    with vault.backend(timeout=0.3) as impatient:
        impatient.fetch(key)  # the token lookup happens here, not in the timed fetch
        vault.fail_next(1, kind="latency", delay=3.0, method="read")

        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as caught:
            impatient.fetch(key)

        assert time.monotonic() - started < 0.3 + 0.5
        assert "0.3 s" in str(caught.value)
        assert impatient.fetch(key).value == "value"  # the next request is not delayed


def test_latency_below_the_timeout_is_fine(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    with vault.backend(timeout=1.0) as patient:
        vault.fail_next(1, kind="latency", delay=0.2, method="read")
        assert patient.fetch(key).value == "value"


def test_unavailable_token_lookup_is_unavailable(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    with vault.backend() as fresh:
        vault.fail_next(1, kind="outage", method="lookup")
        with pytest.raises(BackendUnavailableError):
            fresh.fetch(key)
        assert fresh.fetch(key).value == "value"


# --- credentials -------------------------------------------------------------------------------


def test_bad_token_is_access_denied(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    with vault.backend(token=BAD_TOKEN) as bad, pytest.raises(SecretAccessDeniedError) as caught:
        bad.fetch(key)
    assert caught.value.key == key
    assert caught.value.backend == "vault"


def test_token_without_the_policy_is_access_denied(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    token = vault.token(policies=("default",))
    with vault.backend(token=token) as weak, pytest.raises(SecretAccessDeniedError):
        weak.fetch(key)


def test_previous_needs_metadata_access(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "one")
    vault.new_version(key, "two")
    policy = f"data-only-{uuid.uuid4().hex[:8]}"
    vault.admin.sys.create_or_update_policy(
        policy, 'path "secret/data/*" { capabilities = ["read"] }'
    )
    with vault.backend(token=vault.token(policies=(policy,))) as data_only:
        assert data_only.fetch(key).value == "two"
        with pytest.raises(SecretAccessDeniedError, match="metadata"):
            data_only.fetch(key, version="previous")


def test_approle_login_reads(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    role_id, secret_id = vault.approle()
    with vault.backend(auth=AppRoleAuth(role_id, secret_id)) as approle:
        assert approle.fetch(key).value == "value"
        assert approle.fetch(key).value == "value"
    assert vault.calls("login") == 1
    assert vault.calls("lookup") == 0


def test_bad_approle_secret_id_is_access_denied(vault: VaultServer, key: str) -> None:
    role_id, _secret_id = vault.approle()
    with (
        vault.backend(auth=AppRoleAuth(role_id, "wrong-secret-id")) as bad,
        pytest.raises(SecretAccessDeniedError, match="AppRoleAuth login") as caught,
    ):
        bad.fetch(key)
    assert "wrong-secret-id" not in str(caught.value)
    assert vault.calls("login") == 1
    assert vault.calls("read") == 0


def test_missing_auth_mount_is_access_denied(vault: VaultServer, key: str) -> None:
    with (
        vault.backend(auth=AppRoleAuth("r", "s", mount="no-such-approle")) as bad,
        pytest.raises(SecretAccessDeniedError),
    ):
        bad.fetch(key)


def test_throttled_login_is_unavailable(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    role_id, secret_id = vault.approle()
    with vault.backend(auth=AppRoleAuth(role_id, secret_id)) as approle:
        vault.fail_next(1, kind="throttle", method="login")
        with pytest.raises(BackendUnavailableError):
            approle.fetch(key)
        assert approle.fetch(key).value == "value"


def test_jwt_login_with_a_token_and_with_a_file(
    vault: VaultServer, key: str, tmp_path: Path
) -> None:
    vault.put_secret(key, "value")
    role = vault.jwt_role()
    jwt_file = tmp_path / "token"
    jwt_file.write_text(vault.make_jwt() + "\n")
    with vault.backend(auth=JwtAuth(role, jwt=vault.make_jwt())) as inline:
        assert inline.fetch(key).value == "value"
    with vault.backend(auth=JwtAuth(role, jwt_path=str(jwt_file))) as from_file:
        assert from_file.fetch(key).value == "value"
    assert vault.calls("login") == 2


def test_kubernetes_login_shape(vault: VaultServer, key: str, tmp_path: Path) -> None:
    # No Kubernetes API server here: JWT auth takes the same {"role", "jwt"} login body.
    vault.put_secret(key, "value")
    role = vault.jwt_role()
    token_file = tmp_path / "token"
    token_file.write_text(vault.make_jwt())
    auth = KubernetesAuth(role, jwt_path=str(token_file), mount="jwt")
    with vault.backend(auth=auth) as kubernetes:
        assert kubernetes.fetch(key).value == "value"
    assert [r.path for r in vault.requests() if r.operation == "login"] == ["/v1/auth/jwt/login"]


def test_missing_jwt_file_is_access_denied(vault: VaultServer, key: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "absent")
    with (
        vault.backend(auth=KubernetesAuth("role", jwt_path=missing)) as kubernetes,
        pytest.raises(SecretAccessDeniedError, match="JWT file"),
    ):
        kubernetes.fetch(key)
    assert vault.calls() == 0


def test_unsigned_jwt_is_access_denied(vault: VaultServer, key: str) -> None:
    role = vault.jwt_role()
    forged = vault.make_jwt().rsplit(".", 1)[0] + ".AAAA"
    with (
        vault.backend(auth=JwtAuth(role, jwt=forged)) as bad,
        pytest.raises(SecretAccessDeniedError),
    ):
        bad.fetch(key)


# --- token lifecycle ---------------------------------------------------------------------------


def test_revoked_token_logs_in_again_once_and_retries(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    role_id, secret_id = vault.approle()
    with vault.backend(auth=AppRoleAuth(role_id, secret_id)) as approle:
        approle.fetch(key)
        vault.revoke(approle._client.token)
        vault.reset_calls()

        assert approle.fetch(key).value == "value"

    assert vault.calls("login") == 1
    assert vault.calls("read") == 2  # the refused read and its one retry


def test_refused_read_after_a_fresh_login_is_denied_without_a_storm(
    vault: VaultServer, key: str
) -> None:
    vault.put_secret(key, "value")
    role_id, secret_id = vault.approle(policies=("default",))
    with (
        vault.backend(auth=AppRoleAuth(role_id, secret_id)) as approle,
        pytest.raises(SecretAccessDeniedError),
    ):
        approle.fetch(key)
    assert vault.calls("login") == 2  # the first login and one more after the refusal
    assert vault.calls("read") == 2


def test_fixed_token_is_denied_without_a_retry(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    with vault.backend() as root:
        root.fetch(key)
        vault.fail_next(1, kind="denied", method="read")
        with pytest.raises(SecretAccessDeniedError):
            root.fetch(key)
    assert vault.calls("read") == 2
    assert vault.calls("login") == 0


def test_concurrent_refusals_share_one_login(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    role_id, secret_id = vault.approle()
    with vault.backend(auth=AppRoleAuth(role_id, secret_id), timeout=5.0) as approle:
        approle.fetch(key)
        vault.revoke(approle._client.token)
        vault.reset_calls()
        barrier = threading.Barrier(16)
        results: list[str] = []
        errors: list[BaseException] = []

        def read() -> None:
            barrier.wait()
            try:
                results.append(approle.fetch(key).value)
            except BaseException as exc:  # collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=read) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

    assert errors == []
    assert results == ["value"] * 16
    assert vault.calls("login") == 1


def test_token_is_renewed_in_the_last_third_of_its_ttl(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    role_id, secret_id = vault.approle(ttl="3s", max_ttl="1h")
    with vault.backend(auth=AppRoleAuth(role_id, secret_id)) as approle:
        approle.fetch(key)
        approle.fetch(key)
        assert vault.calls("renew") == 0
        time.sleep(2.2)
        assert approle.fetch(key).value == "value"
    assert vault.calls("renew") == 1
    assert vault.calls("login") == 1


@pytest.mark.parametrize("kind", ["throttle", "disconnect"])
def test_failed_renewal_keeps_using_a_token_that_has_not_expired(
    vault: VaultServer, key: str, caplog: pytest.LogCaptureFixture, kind: FaultKind
) -> None:
    vault.put_secret(key, "value")
    role_id, secret_id = vault.approle(ttl="3s", max_ttl="1h")
    with vault.backend(auth=AppRoleAuth(role_id, secret_id)) as approle:
        approle.fetch(key)
        time.sleep(2.2)  # in the last third of the TTL
        vault.fail_next(1, kind=kind, method="renew")
        with caplog.at_level(logging.WARNING, logger="hardpoint.secrets._vault"):
            assert approle.fetch(key).value == "value"
        assert "using the current token" in caplog.text
        assert vault.calls("renew") == 1
        assert approle.fetch(key).value == "value"  # renews now
    assert vault.calls("renew") == 2
    assert vault.calls("login") == 1


def test_refused_renewal_logs_in_again(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    role_id, secret_id = vault.approle(ttl="3s", max_ttl="1h")
    with vault.backend(auth=AppRoleAuth(role_id, secret_id)) as approle:
        approle.fetch(key)
        time.sleep(2.2)
        vault.fail_next(1, kind="denied", method="renew")
        assert approle.fetch(key).value == "value"
    assert vault.calls("renew") == 1
    assert vault.calls("login") == 2


def test_fixed_renewable_token_is_renewed(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    token = vault.token(ttl="3s")
    with vault.backend(token=token) as fixed:
        fixed.fetch(key)
        time.sleep(2.2)
        fixed.fetch(key)
        time.sleep(2.2)  # past the original TTL: alive only thanks to the renewal
        assert fixed.fetch(key).value == "value"
    assert vault.calls("lookup") == 1
    assert vault.calls("renew") >= 1


def test_refused_token_lookup_leaves_the_token_alone(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    with vault.backend() as fixed:
        vault.fail_next(1, kind="denied", method="lookup")
        assert fixed.fetch(key).value == "value"
        assert fixed.fetch(key).value == "value"
    assert vault.calls("lookup") == 1


def test_root_token_is_never_renewed(vault: VaultServer, backend: VaultBackend, key: str) -> None:
    vault.put_secret(key, "value")
    for _ in range(3):
        backend.fetch(key)
    assert vault.calls("renew") == 0
    assert vault.calls("lookup") == 0


@pytest.mark.slow
def test_short_lived_tokens_never_fail_a_twenty_second_read_loop(
    vault: VaultServer, key: str
) -> None:
    vault.put_secret(key, "value")
    role_id, secret_id = vault.approle(ttl="2s", max_ttl="6s")
    failures: list[str] = []
    reads = 0
    with vault.backend(auth=AppRoleAuth(role_id, secret_id)) as approle:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                assert approle.fetch(key).value == "value"
            except HardpointError as exc:
                failures.append(repr(exc))
            reads += 1
            time.sleep(0.2)

    assert failures == []
    assert reads >= 80
    assert vault.calls("login") >= 3  # a 6 s max TTL forces a new login every few seconds
    assert vault.calls("renew") >= 2
    # Refreshing ahead means reads are (almost) never refused and retried: Vault rounds TTLs
    # to whole seconds, so a token may die just before we expect it, now and then.
    assert vault.calls("read") <= reads + 4


def test_short_lived_jwt_tokens_are_replaced(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    role = vault.jwt_role(ttl="2s", max_ttl="3s")
    with vault.backend(auth=JwtAuth(role, jwt=vault.make_jwt())) as jwt:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            assert jwt.fetch(key).value == "value"
            time.sleep(0.2)
    assert vault.calls("login") >= 2


# --- async -------------------------------------------------------------------------------------


async def test_afetch_has_the_same_semantics(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "one")
    vault.new_version(key, "two")
    with vault.backend() as root:
        assert await root.afetch(key) == FetchedSecret("two", "2")
        assert await root.afetch(key, version="previous") == FetchedSecret("one", "1")
        results = await asyncio.gather(*(root.afetch(key) for _ in range(8)))
        assert {result.value for result in results} == {"two"}
        with pytest.raises(SecretNotFoundError):
            await root.afetch(f"{key}-missing")
        vault.fail_next(1, kind="throttle", method="read")
        with pytest.raises(BackendUnavailableError):
            await root.afetch(key)
        await root.aclose()


# --- configuration -----------------------------------------------------------------------------


def test_from_env_with_a_token(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    environ = {"VAULT_ADDR": vault.url, "VAULT_TOKEN": vault.root_token}
    with VaultBackend.from_env(environ=environ, timeout=2.5) as from_env:
        assert isinstance(from_env.auth, TokenAuth)
        assert from_env.timeout == 2.5
        assert (from_env.mount, from_env.kv_version, from_env.namespace) == ("secret", 2, None)
        assert from_env.fetch(key).value == "value"


def test_from_env_with_approle_and_kv_v1(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "v1", mount=vault.kv1_mount)
    role_id, secret_id = vault.approle()
    environ = {
        "VAULT_ADDR": vault.url,
        "VAULT_ROLE_ID": role_id,
        "VAULT_SECRET_ID": secret_id,
        "VAULT_MOUNT": vault.kv1_mount,
        "VAULT_KV_VERSION": "1",
    }
    with VaultBackend.from_env(environ=environ) as from_env:
        assert from_env.auth == AppRoleAuth(role_id, secret_id)
        assert from_env.fetch(key).value == "v1"


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_ADDR", "https://vault.example:8200")
    monkeypatch.setenv("VAULT_TOKEN", "t")
    monkeypatch.setenv("VAULT_NAMESPACE", "team")
    monkeypatch.setenv("VAULT_SKIP_VERIFY", "true")
    with VaultBackend.from_env() as from_env:
        assert from_env.url == "https://vault.example:8200"
        assert from_env.namespace == "team"
        assert from_env._client.session.verify is False


def test_from_env_auth_choices(tmp_path: Path) -> None:
    base = {"VAULT_ADDR": "http://127.0.0.1:1"}
    cases = [
        ({"VAULT_AUTH_ROLE": "web"}, KubernetesAuth("web")),
        (
            {"VAULT_AUTH_ROLE": "web", "VAULT_JWT_PATH": "/t", "VAULT_AUTH_MOUNT": "oidc"},
            JwtAuth("web", jwt_path="/t", mount="oidc"),
        ),
        (
            {"VAULT_AUTH_METHOD": "kubernetes", "VAULT_AUTH_ROLE": "web", "VAULT_JWT_PATH": "/t"},
            KubernetesAuth("web", jwt_path="/t"),
        ),
        (
            {"VAULT_TOKEN": "t", "VAULT_AUTH_METHOD": "approle", "VAULT_ROLE_ID": "r"}
            | {"VAULT_SECRET_ID": "s", "VAULT_AUTH_MOUNT": "ar"},
            AppRoleAuth("r", "s", mount="ar"),
        ),
    ]
    for extra, expected in cases:
        with VaultBackend.from_env(environ=base | extra) as from_env:
            assert from_env.auth == expected
    with VaultBackend.from_env(environ=base | {"VAULT_TOKEN": "t", "VAULT_SKIP_VERIFY": "0"}) as b:
        assert b._client.session.verify is True
    cacert = tmp_path / "ca.pem"
    cacert.write_text("not really a certificate")
    environ = base | {"VAULT_TOKEN": "t", "VAULT_CACERT": str(cacert)}
    with VaultBackend.from_env(environ=environ) as from_env:
        assert from_env._client.session.verify == str(cacert)


@pytest.mark.parametrize(
    ("environ", "field"),
    [
        ({}, "VAULT_ADDR"),
        ({"VAULT_ADDR": "  "}, "VAULT_ADDR"),
        ({"VAULT_ADDR": "http://v"}, "VAULT_TOKEN"),
        ({"VAULT_ADDR": "http://v", "VAULT_ROLE_ID": "r"}, "VAULT_SECRET_ID"),
        ({"VAULT_ADDR": "http://v", "VAULT_AUTH_METHOD": "jwt"}, "VAULT_AUTH_ROLE"),
        (
            {"VAULT_ADDR": "http://v", "VAULT_AUTH_METHOD": "jwt", "VAULT_AUTH_ROLE": "r"},
            "VAULT_JWT_PATH",
        ),
        ({"VAULT_ADDR": "http://v", "VAULT_AUTH_METHOD": "ldap"}, "VAULT_AUTH_METHOD"),
        (
            {"VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "VAULT_KV_VERSION": "3"},
            "VAULT_KV_VERSION",
        ),
        (
            {"VAULT_ADDR": "http://v", "VAULT_TOKEN": "t", "VAULT_SKIP_VERIFY": "maybe"},
            "VAULT_SKIP_VERIFY",
        ),
        ({"VAULT_ADDR": "vault:8200", "VAULT_TOKEN": "t"}, "VAULT_ADDR"),
    ],
)
def test_from_env_names_the_missing_or_bad_variable(environ: dict[str, str], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        VaultBackend.from_env(environ=environ)
    assert caught.value.field == field


def test_from_env_ignores_unrelated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAULT_ADDR", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        VaultBackend.from_env()
    assert caught.value.field == "VAULT_ADDR"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"url": "http://v", "token": "t", "kv_version": 3}, "kv_version"),
        ({"url": "http://v", "token": "t", "timeout": 0}, "timeout"),
        ({"url": "http://v", "token": "t", "mount": "/"}, "mount"),
        ({"url": "http://v", "token": "t", "auth": TokenAuth("u")}, "token"),
        ({"url": "http://v", "token": ""}, "token"),
        ({"url": "http://v"}, "auth"),
        ({"token": "t"}, "url"),
        ({"url": "ftp://v", "token": "t"}, "url"),
    ],
)
def test_constructor_rejects_bad_options(options: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        VaultBackend(**options)  # type: ignore[arg-type]  # deliberately wrong options
    assert caught.value.field == field


def test_jwt_auth_needs_exactly_one_source() -> None:
    with pytest.raises(ConfigurationError):
        JwtAuth("role")
    with pytest.raises(ConfigurationError):
        JwtAuth("role", jwt="a", jwt_path="/b")
    assert KubernetesAuth("role").jwt_path == KUBERNETES_JWT_PATH


def test_injected_client_is_used_and_left_open(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    with _closing(vault.client()) as client:
        with VaultBackend(client=client) as injected:
            assert injected.url == vault.url
            assert injected.fetch(key).value == "value"
        assert client.secrets.kv.v2.read_secret(key, raise_on_deleted_version=True)
        with (
            VaultBackend(client=client, token=BAD_TOKEN) as replaced,
            pytest.raises(SecretAccessDeniedError),
        ):
            replaced.fetch(key)


def test_injected_raw_adapter_client(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    with (
        _closing(
            hvac.Client(url=vault.url, token=vault.root_token, adapter=hvac.adapters.RawAdapter)
        ) as client,
        VaultBackend(client=client) as raw,
    ):
        assert raw.fetch(key) == FetchedSecret("value", "1")


def _wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_close_releases_connections(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    assert _wait_until(lambda: vault.open_connections == 0)
    opened = vault.backend()
    opened.fetch(key)
    assert vault.open_connections == 1  # kept alive for the next fetch
    opened.close()
    opened.close()  # idempotent
    assert _wait_until(lambda: vault.open_connections == 0)


async def test_aclose_releases_connections(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "value")
    assert _wait_until(lambda: vault.open_connections == 0)
    opened = vault.backend()
    await opened.afetch(key)
    assert vault.open_connections == 1
    await opened.aclose()
    assert _wait_until(lambda: vault.open_connections == 0)


# --- no value anywhere -------------------------------------------------------------------------


def _rendered(exc: BaseException) -> str:
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def test_the_value_never_leaks(
    vault: VaultServer, key: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: hvac, requests and urllib3 included
    vault.put_secret(key, CANARY)
    vault.new_version(key, {"password": CANARY, "user": "app"})
    role_id, secret_id = vault.approle()
    errors: list[BaseException] = []
    with vault.backend(auth=AppRoleAuth(role_id, secret_id), timeout=0.3) as approle:
        assert CANARY not in repr(approle)
        fetched = approle.fetch(key)
        assert CANARY in fetched.value
        assert CANARY not in repr(fetched)
        assert CANARY not in str(fetched)
        vault.delete_version(key, 2)
        cases: list[tuple[str | None, FaultKind | None]] = [
            (None, None),  # deleted current version: the 404 body carries its metadata
            ("2", None),
            ("1", "throttle"),
            ("1", "outage"),
            ("1", "latency"),
            ("1", "denied"),
            ("previous", "denied"),
        ]
        for version, fault in cases:
            if fault is not None:
                vault.fail_next(2, kind=fault, delay=1.0)
            try:
                approle.fetch(key, version=version)
            except HardpointError as exc:
                errors.append(exc)
            vault.reset_calls()
    assert len(errors) == 7
    for error in errors:
        assert CANARY not in _rendered(error)
    for record in caplog.records:
        text = record.getMessage() + (
            "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else ""
        )
        assert CANARY not in text
    assert CANARY not in caplog.text
    assert any(record.name.startswith("urllib3") for record in caplog.records)  # DEBUG was on


def test_auth_reprs_hide_credentials() -> None:
    assert SEKRIT not in repr(TokenAuth(SEKRIT))
    assert SEKRIT not in repr(AppRoleAuth(SEKRIT, SEKRIT))
    assert SEKRIT not in repr(JwtAuth("role", jwt=SEKRIT))
    with VaultBackend(url="http://127.0.0.1:1", token=SEKRIT) as fixed:
        assert SEKRIT not in repr(fixed)
    with VaultBackend(url="http://127.0.0.1:1", auth=AppRoleAuth("r", SEKRIT)) as approle:
        assert SEKRIT not in repr(approle)


# --- the test server itself --------------------------------------------------------------------


def test_server_reset_empties_the_kv_mounts(vault: VaultServer, key: str) -> None:
    vault.put_secret(key, "v2")
    vault.put_secret(key, "v1", mount=vault.kv1_mount)
    with vault.backend() as root:
        root.fetch(key)
        vault.reset()
        assert vault.calls() == 0
        with pytest.raises(SecretNotFoundError):
            root.fetch(key)
    with (
        vault.backend(mount=vault.kv1_mount, kv_version=1) as kv1,
        pytest.raises(SecretNotFoundError),
    ):
        kv1.fetch(key)
