"""AwsSecretsManagerBackend against moto in server mode, behind a fault-injecting proxy.

The real boto3 client talks HTTP to the proxy on loopback; nothing of the client is mocked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

import pytest

from _servers import ServerNotFoundError, free_port, skip_or_fail
from hardpoint.errors import (
    BackendUnavailableError,
    ConfigurationError,
    HardpointError,
    SecretAccessDeniedError,
    SecretNotFoundError,
)
from hardpoint.secrets._aws import AwsSecretsManagerBackend, classify_error, version_request
from hardpoint.secrets._base import FetchedSecret, SecretBackend

_HERE: Final = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

if TYPE_CHECKING:  # mypy names the helper after its directory under tests/
    from secrets._aws_server import (
        ACCESS_KEY,
        REGION,
        SECRET_KEY,
        AwsSecretsServer,
        FaultKind,
    )
else:  # pytest finds it through the sys.path entry above
    from _aws_server import (
        ACCESS_KEY,
        REGION,
        SECRET_KEY,
        AwsSecretsServer,
        FaultKind,
    )

CANARY: Final = "canary-7f3a9c1e-do-not-log"
TIMEOUT: Final = 0.5  # per-attempt timeout of the backends under test, in seconds
# Injected clients in tests that are not about timeouts: moto, a Python server, answered in
# over 0.5 s once on a loaded CI host and failed a test about something else.
CLIENT_TIMEOUT: Final = 5.0
SLACK: Final = 0.5  # what a failing call may take beyond its timeout


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_aws_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials only: no profile, config file, instance metadata or env overrides."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)


@pytest.fixture(scope="session")
def aws_secrets_server_session() -> Iterator[AwsSecretsServer]:
    """One moto server and proxy for the whole session (moto's state is per process anyway)."""
    try:
        server = AwsSecretsServer()
    except ServerNotFoundError as exc:
        reason = str(exc)
    else:
        with server:
            yield server
        return
    skip_or_fail(reason)


@pytest.fixture
def aws_server(aws_secrets_server_session: AwsSecretsServer) -> Iterator[AwsSecretsServer]:
    """The session's server, reset: no secrets, faults, counts or authentication."""
    aws_secrets_server_session.reset()
    yield aws_secrets_server_session
    aws_secrets_server_session.reset()  # IAM authentication is global to moto: switch it off


@pytest.fixture
def name() -> str:
    """A fresh secret name (moto's state is shared by the whole process)."""
    return f"hp-test/{uuid.uuid4().hex[:12]}"


@pytest.fixture
def backend(aws_server: AwsSecretsServer) -> Iterator[AwsSecretsManagerBackend]:
    """A backend that builds its own client (retries off, TIMEOUT) for the proxy."""
    with AwsSecretsManagerBackend(
        region=REGION, endpoint_url=aws_server.endpoint_url, timeout=TIMEOUT
    ) as built:
        yield built


def all_text(exc: BaseException) -> str:
    """Everything an exception could show: str, repr, and the formatted traceback and chain."""
    parts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def log_text(records: list[logging.LogRecord]) -> str:
    lines = []
    for record in records:
        lines.append(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            lines.append(all_text(record.exc_info[1]))
    return "\n".join(lines)


# --- pure mapping ---------------------------------------------------------------------------------

VERSION_ID: Final = "0a1b2c3d-0000-4000-8000-123456789abc"  # 36 characters


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        (None, {"SecretId": "k", "VersionStage": "AWSCURRENT"}),
        ("previous", {"SecretId": "k", "VersionStage": "AWSPREVIOUS"}),
        ("AWSPENDING", {"SecretId": "k", "VersionStage": "AWSPENDING"}),
        ("my-label", {"SecretId": "k", "VersionStage": "my-label"}),
        ("x" * 31, {"SecretId": "k", "VersionStage": "x" * 31}),
        ("x" * 32, {"SecretId": "k", "VersionId": "x" * 32}),
        (VERSION_ID, {"SecretId": "k", "VersionId": VERSION_ID}),
    ],
)
def test_version_maps_to_exactly_one_of_stage_and_version_id(
    version: str | None, expected: dict[str, str]
) -> None:
    assert version_request("k", version) == expected


def test_current_stage_can_be_another_label() -> None:
    request = version_request("k", None, current_stage="AWSPENDING")
    assert request == {"SecretId": "k", "VersionStage": "AWSPENDING"}


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ResourceNotFoundException", 400, "not_found"),
        ("InvalidRequestException", 400, "not_found"),
        ("InvalidParameterException", 400, "not_found"),
        ("AccessDeniedException", 400, "denied"),
        ("UnrecognizedClientException", 400, "denied"),
        ("InvalidSignatureException", 400, "denied"),
        ("ExpiredTokenException", 400, "denied"),
        ("DecryptionFailure", 400, "denied"),
        ("ThrottlingException", 400, "unavailable"),
        ("TooManyRequestsException", 400, "unavailable"),
        ("InternalServiceError", 500, "unavailable"),
        ("403", 403, "denied"),
        ("401", 401, "denied"),
        ("404", 404, "not_found"),
        ("503", 503, "unavailable"),
        ("", 429, "unavailable"),
        ("SomethingNew", 400, "unavailable"),
    ],
)
def test_error_codes_are_classified(code: str, status: int, expected: str) -> None:
    assert classify_error(code, status) == expected


# --- reading --------------------------------------------------------------------------------------


def test_backend_satisfies_the_protocol(backend: AwsSecretsManagerBackend) -> None:
    assert isinstance(backend, SecretBackend)
    assert backend.name == "aws"


def test_fetch_returns_the_current_value_and_its_version_id(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    version_id = aws_server.put_secret(name, "s3cret")
    fetched = backend.fetch(name)
    assert fetched == FetchedSecret(value="s3cret", version=version_id)
    assert aws_server.calls("get") == 1


def test_every_request_names_a_stage_or_a_version(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    first = aws_server.put_secret(name, "one")
    aws_server.new_version(name, "two")
    backend.fetch(name)
    backend.fetch(name, version="previous")
    backend.fetch(name, version=first)
    assert aws_server.requests("get") == [
        {"SecretId": name, "VersionStage": "AWSCURRENT"},
        {"SecretId": name, "VersionStage": "AWSPREVIOUS"},
        {"SecretId": name, "VersionId": first},
    ]


def test_previous_returns_the_version_before_the_current_one(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    first = aws_server.put_secret(name, "one")
    second = aws_server.new_version(name, "two")
    assert backend.fetch(name) == FetchedSecret(value="two", version=second)
    assert backend.fetch(name, version="previous") == FetchedSecret(value="one", version=first)


def test_a_version_id_returns_that_version(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    first = aws_server.put_secret(name, "one")
    aws_server.new_version(name, "two")
    aws_server.new_version(name, "three")  # "one" now has no stage left
    assert backend.fetch(name, version=first) == FetchedSecret(value="one", version=first)


def test_a_staging_label_returns_that_stage(aws_server: AwsSecretsServer, name: str) -> None:
    aws_server.put_secret(name, "live")
    pending = aws_server.admin.put_secret_value(
        SecretId=name, SecretString="next", VersionStages=["AWSPENDING"]
    )["VersionId"]
    with AwsSecretsManagerBackend(
        region=REGION, endpoint_url=aws_server.endpoint_url, version_stage_current="AWSPENDING"
    ) as pending_backend:
        assert pending_backend.fetch(name) == FetchedSecret(value="next", version=pending)
        assert pending_backend.fetch(name, version="AWSCURRENT").value == "live"
        assert pending_backend.fetch(name, version="AWSPENDING").version == pending


def test_json_secret_comes_back_as_its_json_text(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    document = {"username": "app", "password": "p@ss", "port": 5432}
    text = json.dumps(document, indent=1)
    aws_server.put_secret(name, text)
    fetched = backend.fetch(name)
    assert fetched.value == text
    assert json.loads(fetched.value) == document


def test_binary_secret_is_decoded_as_utf8(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, "clé-🔑".encode())
    assert backend.fetch(name).value == "clé-🔑"


def test_binary_secret_that_is_not_utf8_is_refused_without_quoting_it(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, b"\xff\xfe" + CANARY.encode())
    with pytest.raises(BackendUnavailableError, match="not UTF-8") as caught:
        backend.fetch(name)
    text = all_text(caught.value)
    assert CANARY not in text
    assert "0xff" not in text
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_four_step_rotation_moves_current_and_previous(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    old = aws_server.put_secret(name, "old-password")
    # createSecret: the new value, staged AWSPENDING; the current one is still served.
    pending = aws_server.admin.put_secret_value(
        SecretId=name, SecretString="new-password", VersionStages=["AWSPENDING"]
    )["VersionId"]
    assert backend.fetch(name) == FetchedSecret(value="old-password", version=old)
    assert backend.fetch(name, version="AWSPENDING").value == "new-password"
    # setSecret and testSecret happen in the database; finishSecret moves AWSCURRENT.
    aws_server.admin.update_secret_version_stage(
        SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=pending, RemoveFromVersionId=old
    )
    assert "AWSPREVIOUS" in aws_server.stages(name)[old]
    assert backend.fetch(name) == FetchedSecret(value="new-password", version=pending)
    assert backend.fetch(name, version="previous") == FetchedSecret(
        value="old-password", version=old
    )


def test_rotate_helper_does_the_same(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    old = aws_server.put_secret(name, "v1")
    new = aws_server.rotate(name, "v2")
    assert backend.fetch(name) == FetchedSecret(value="v2", version=new)
    assert backend.fetch(name, version="previous") == FetchedSecret(value="v1", version=old)


def test_concurrent_fetches_share_one_client(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, "shared")
    results: list[str] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            results.append(backend.fetch(name).value)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert results == ["shared"] * 8
    assert aws_server.calls("get") == 8


# --- not found ------------------------------------------------------------------------------------


def test_missing_secret_is_not_found(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    with pytest.raises(SecretNotFoundError) as caught:
        backend.fetch(name)
    assert caught.value.key == name
    assert caught.value.backend == "aws"
    assert aws_server.calls("get") == 1


@pytest.mark.parametrize(
    "version",
    [
        "previous",  # a secret with one version has no AWSPREVIOUS
        "AWSPENDING",
        "no-such-label",
        "00000000-0000-4000-8000-000000000000",
        "x" * 65,  # longer than any VersionId: refused by botocore before sending
        "",
    ],
)
def test_missing_version_is_not_found(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str, version: str
) -> None:
    aws_server.put_secret(name, "only")
    with pytest.raises(SecretNotFoundError):
        backend.fetch(name, version=version)


def test_empty_name_is_not_found(backend: AwsSecretsManagerBackend) -> None:
    with pytest.raises(SecretNotFoundError):
        backend.fetch("")


def test_secret_scheduled_for_deletion_is_not_found(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, "doomed")
    aws_server.delete_secret(name)  # AWS answers InvalidRequestException during the window
    with pytest.raises(SecretNotFoundError):
        backend.fetch(name)


def test_deleted_secret_is_not_found(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, "gone")
    aws_server.delete_secret(name, force=True)
    with pytest.raises(SecretNotFoundError):
        backend.fetch(name)


# --- unavailable ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["throttle", "outage", "internal", "disconnect"])
def test_fault_is_unavailable_after_exactly_one_request(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str, kind: FaultKind
) -> None:
    aws_server.put_secret(name, "value")
    aws_server.fail_next(5, kind=kind)
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as caught:
        backend.fetch(name)
    elapsed = time.monotonic() - started
    assert caught.value.backend == "aws"
    assert aws_server.calls("get") == 1  # no retry storm: botocore's retries are off
    assert aws_server.pending_faults() == 4
    assert elapsed < TIMEOUT


def test_throttled_error_names_the_code(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.fail_next(1, kind="throttle")
    with pytest.raises(BackendUnavailableError, match=r"ThrottlingException \(HTTP 400\)"):
        backend.fetch(name)


@pytest.mark.parametrize(
    ("code", "status"),
    [("TooManyRequestsException", 400), ("InternalServiceError", 500), ("Mystery", 502)],
)
def test_other_transient_errors_are_unavailable(
    aws_server: AwsSecretsServer,
    backend: AwsSecretsManagerBackend,
    name: str,
    code: str,
    status: int,
) -> None:
    aws_server.fail_next(1, kind="error", code=code, status=status)
    with pytest.raises(BackendUnavailableError):
        backend.fetch(name)
    assert aws_server.calls("get") == 1


def test_next_fetch_after_a_fault_succeeds(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, "value")
    aws_server.fail_next(1, kind="disconnect")
    with pytest.raises(BackendUnavailableError):
        backend.fetch(name)
    assert backend.fetch(name).value == "value"
    assert aws_server.calls("get") == 2


def test_connection_refused_is_unavailable_fast(aws_server: AwsSecretsServer) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with AwsSecretsManagerBackend(region=REGION, endpoint_url=dead, timeout=TIMEOUT) as refused:
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="EndpointConnectionError"):
            refused.fetch("anything")
        assert time.monotonic() - started < TIMEOUT + SLACK


def test_refused_connections_are_unavailable_until_the_server_is_back(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, "value")
    assert backend.fetch(name).value == "value"  # leaves a keep-alive connection open
    with aws_server.refusing():
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError):
            backend.fetch(name)
        assert time.monotonic() - started < TIMEOUT + SLACK
    assert backend.fetch(name).value == "value"
    assert aws_server.calls("get") == 2


def test_latency_above_the_timeout_is_unavailable_within_timeout_plus_slack(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, "slow")
    aws_server.fail_next(1, kind="latency", delay=5.0)
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError, match="ReadTimeoutError"):
        backend.fetch(name)
    elapsed = time.monotonic() - started
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + SLACK
    assert aws_server.calls("get") == 1


def test_latency_below_the_timeout_still_answers(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, "slow but fine")
    aws_server.fail_next(1, kind="latency", delay=TIMEOUT / 5)
    assert backend.fetch(name).value == "slow but fine"


def test_unreadable_answer_is_unavailable_and_not_quoted(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    truncated = json.dumps({"SecretString": CANARY, "VersionId": "x" * 36})[:-10].encode()
    aws_server.fail_next(1, kind="error", status=200, code="", body=truncated)
    with pytest.raises(BackendUnavailableError) as caught:
        backend.fetch(name)
    assert CANARY not in all_text(caught.value)


def test_error_page_quoting_the_secret_is_not_chained(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    # botocore puts a body that is not AWS JSON into the ClientError message verbatim.
    aws_server.fail_next(1, kind="outage", status=502, body=f"<h1>{CANARY}</h1>".encode())
    with pytest.raises(BackendUnavailableError, match=r"502 \(HTTP 502\)") as caught:
        backend.fetch(name)
    assert CANARY not in all_text(caught.value)


def test_parser_error_quoting_the_body_is_not_chained(
    aws_server: AwsSecretsServer, name: str
) -> None:
    """botocore's ResponseParserError messages quote the body: it must not ride along."""
    from botocore.parsers import ResponseParserError

    def fail_to_parse(response_dict: dict[str, object], **_: object) -> None:
        # What botocore's parsers say on a body they cannot read, with the real body.
        raise ResponseParserError(f"Unable to parse response: {response_dict['body']!r}")

    aws_server.put_secret(name, CANARY)
    client = aws_server.client(timeout=CLIENT_TIMEOUT)
    client.meta.events.register("before-parse.secrets-manager.GetSecretValue", fail_to_parse)
    try:
        backend = AwsSecretsManagerBackend(client=client)
        with pytest.raises(BackendUnavailableError, match="ResponseParserError") as caught:
            backend.fetch(name)
    finally:
        client.close()
    assert CANARY not in all_text(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_errors_that_are_not_botocore_s_propagate_unchanged(
    aws_server: AwsSecretsServer, name: str
) -> None:
    def bug(**_: object) -> None:
        raise RuntimeError("a bug in a user's event hook")

    client = aws_server.client(timeout=CLIENT_TIMEOUT)
    client.meta.events.register("before-call.secrets-manager.GetSecretValue", bug)
    try:
        with pytest.raises(RuntimeError, match="a bug"):
            AwsSecretsManagerBackend(client=client).fetch(name)
    finally:
        client.close()


# --- access denied --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "DecryptionFailure",
    ],
)
def test_refused_credentials_are_access_denied(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str, code: str
) -> None:
    aws_server.put_secret(name, "guarded")
    aws_server.fail_next(3, kind="denied", code=code)
    with pytest.raises(SecretAccessDeniedError, match=code) as caught:
        backend.fetch(name)
    assert caught.value.key == name
    assert caught.value.backend == "aws"
    assert aws_server.calls("get") == 1


def test_unknown_access_key_is_access_denied_by_moto_iam(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, "guarded")
    aws_server.enable_iam_auth()  # "testing" is no IAM user's key
    with pytest.raises(SecretAccessDeniedError, match="403"):
        backend.fetch(name)


def test_user_without_permission_is_access_denied_by_moto_iam(
    aws_server: AwsSecretsServer, name: str
) -> None:
    aws_server.put_secret(name, "guarded")
    access_key, secret_key = aws_server.enable_iam_auth()
    client = aws_server.client(access_key=access_key, secret_key=secret_key, timeout=CLIENT_TIMEOUT)
    try:
        backend = AwsSecretsManagerBackend(client=client)
        with pytest.raises(SecretAccessDeniedError, match=r"403 \(HTTP 403\)") as caught:
            backend.fetch(name)
        # moto answers in XML, not AWS JSON: botocore would quote that body, so not chained.
        assert caught.value.__cause__ is None
    finally:
        client.close()


def test_no_credentials_is_access_denied_without_a_request(
    aws_server: AwsSecretsServer, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with (
        AwsSecretsManagerBackend(region=REGION, endpoint_url=aws_server.endpoint_url) as backend,
        pytest.raises(SecretAccessDeniedError, match="NoCredentialsError"),
    ):
        backend.fetch(name)
    assert aws_server.calls() == 0


# --- async ----------------------------------------------------------------------------------------


async def test_afetch_has_the_same_semantics(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    first = aws_server.put_secret(name, "one")
    second = aws_server.new_version(name, "two")
    assert await backend.afetch(name) == FetchedSecret(value="two", version=second)
    assert await backend.afetch(name, version="previous") == FetchedSecret("one", first)
    assert await backend.afetch(name, version=first) == FetchedSecret("one", first)
    with pytest.raises(SecretNotFoundError):
        await backend.afetch(f"{name}-missing")
    aws_server.fail_next(1, kind="throttle")
    with pytest.raises(BackendUnavailableError):
        await backend.afetch(name)


async def test_afetch_does_not_block_the_event_loop(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> None:
    aws_server.put_secret(name, "value")
    aws_server.fail_next(1, kind="latency", delay=TIMEOUT / 2)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        assert (await backend.afetch(name)).value == "value"
    finally:
        ticker.cancel()
    assert ticks >= 5


async def test_aclose_and_async_context_manager(aws_server: AwsSecretsServer, name: str) -> None:
    aws_server.put_secret(name, "value")
    async with AwsSecretsManagerBackend(
        region=REGION, endpoint_url=aws_server.endpoint_url
    ) as backend:
        assert (await backend.afetch(name)).value == "value"
    with pytest.raises(BackendUnavailableError, match="closed"):
        await backend.afetch(name)
    await backend.aclose()  # idempotent


# --- configuration --------------------------------------------------------------------------------


def test_from_env_reads_region_and_endpoint(
    aws_server: AwsSecretsServer, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    for variable, value in aws_server.env().items():
        monkeypatch.setenv(variable, value)
    aws_server.put_secret(name, "from env")
    with AwsSecretsManagerBackend.from_env() as backend:
        assert backend.fetch(name).value == "from env"
        assert repr(backend) == (
            f"AwsSecretsManagerBackend(region='{REGION}', "
            f"endpoint_url='{aws_server.endpoint_url}', timeout=1.0)"
        )
    assert aws_server.calls("get") == 1


def test_from_env_falls_back_to_default_region_and_generic_endpoint(
    aws_server: AwsSecretsServer, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-3")
    monkeypatch.setenv("AWS_ENDPOINT_URL", aws_server.endpoint_url)
    with AwsSecretsManagerBackend.from_env(timeout=0.25) as backend:
        assert "region='eu-west-3'" in repr(backend)
        assert "timeout=0.25" in repr(backend)
        with pytest.raises(SecretNotFoundError):
            backend.fetch(name)  # moto keeps each region apart
    assert aws_server.calls("get") == 1


def test_from_env_can_ignore_configured_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")
    with AwsSecretsManagerBackend.from_env() as backend:
        assert "secretsmanager.eu-west-1.amazonaws.com" in repr(backend)


def test_from_env_names_the_missing_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "  ")  # blank counts as missing
    with pytest.raises(ConfigurationError, match="AWS_REGION") as caught:
        AwsSecretsManagerBackend.from_env()
    assert caught.value.field == "AWS_REGION"


def test_no_region_anywhere_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        AwsSecretsManagerBackend()
    assert caught.value.field == "region"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"region": REGION, "timeout": 0}, "timeout"),
        ({"region": REGION, "timeout": -1.0}, "timeout"),
        ({"region": REGION, "version_stage_current": ""}, "version_stage_current"),
        ({"region": "not a region!"}, "region"),
        ({"region": REGION, "endpoint_url": "not a url"}, "endpoint_url"),
    ],
)
def test_invalid_options_are_configuration_errors(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AwsSecretsManagerBackend(**kwargs)  # type: ignore[arg-type]  # each case sets a few
    assert caught.value.field == field


def test_built_client_makes_one_attempt_with_the_timeout(
    backend: AwsSecretsManagerBackend,
) -> None:
    config = vars(backend._client.meta.config)  # the stubs do not list Config's attributes
    assert config["retries"] == {"total_max_attempts": 1, "mode": "standard"}
    assert config["connect_timeout"] == TIMEOUT
    assert config["read_timeout"] == TIMEOUT


def test_missing_boto3_names_the_extra() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["boto3"] = None
        sys.modules["botocore"] = None
        import hardpoint.secrets._aws as aws
        try:
            aws.AwsSecretsManagerBackend(region="eu-west-1")
        except ImportError as exc:
            print(exc)
        else:
            raise SystemExit("no error")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'hardpoint[aws]'" in result.stdout


# --- injected clients and closing -----------------------------------------------------------------


def test_injected_client_is_used_and_left_open(aws_server: AwsSecretsServer, name: str) -> None:
    aws_server.put_secret(name, "injected")
    client = aws_server.client(timeout=CLIENT_TIMEOUT)
    try:
        backend = AwsSecretsManagerBackend(client=client)
        assert backend.fetch(name).value == "injected"
        assert f"endpoint_url='{aws_server.endpoint_url}'" in repr(backend)
        backend.close()
        with pytest.raises(BackendUnavailableError, match="closed"):
            backend.fetch(name)
        # The owner's client still works: close() left it alone.
        assert client.get_secret_value(SecretId=name)["SecretString"] == "injected"
    finally:
        client.close()


def wait_until(condition: object, *, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.02)
    return False


def test_close_releases_the_connections(aws_server: AwsSecretsServer, name: str) -> None:
    aws_server.put_secret(name, "value")
    # Requests held by an earlier test's "latency" fault end just after its reset.
    assert wait_until(lambda: aws_server.open_connections() == 0)
    backend = AwsSecretsManagerBackend(
        region=REGION, endpoint_url=aws_server.endpoint_url, timeout=TIMEOUT
    )
    backend.fetch(name)
    assert aws_server.open_connections() == 1  # botocore keeps the connection alive
    backend.close()
    assert wait_until(lambda: aws_server.open_connections() == 0)
    backend.close()  # idempotent
    with pytest.raises(BackendUnavailableError, match="closed"):
        backend.fetch(name)


# --- leaks ----------------------------------------------------------------------------------------


def failures(
    aws_server: AwsSecretsServer, backend: AwsSecretsManagerBackend, name: str
) -> list[HardpointError]:
    """Fail a fetch of the canary secret in every way we can; return the errors."""
    caught: list[HardpointError] = []
    faults: list[tuple[FaultKind, dict[str, object]]] = [
        ("throttle", {}),
        ("outage", {}),
        ("internal", {}),
        ("disconnect", {}),
        ("denied", {}),
        ("latency", {"delay": 5.0}),
    ]
    for kind, options in faults:
        aws_server.fail_next(1, kind, **options)  # type: ignore[arg-type]  # delay only
        with pytest.raises(HardpointError) as error:
            backend.fetch(name)
        caught.append(error.value)
    for version in ("00000000-0000-4000-8000-000000000000", "previous", "x" * 65):
        with pytest.raises(SecretNotFoundError) as missing:
            backend.fetch(name, version=version)
        caught.append(missing.value)
    return caught


def test_canary_never_appears_in_errors_reprs_or_logs_of_failing_fetches(
    aws_server: AwsSecretsServer,
    backend: AwsSecretsManagerBackend,
    name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    aws_server.put_secret(name, CANARY)
    assert backend.fetch(name).value == CANARY
    caplog.set_level(logging.DEBUG)  # the root logger: botocore's DEBUG output included
    caplog.clear()
    errors = failures(aws_server, backend, name)
    assert len(errors) == 9
    for error in errors:
        assert CANARY not in all_text(error)
    assert caplog.records, "botocore logs at DEBUG: the capture must have seen something"
    assert CANARY not in log_text(caplog.records)
    assert CANARY not in repr(backend)
    assert CANARY not in str(backend)
    assert CANARY not in repr(backend.fetch(name))


def test_botocore_debug_logs_the_value_but_hardpoint_does_not(
    aws_server: AwsSecretsServer,
    backend: AwsSecretsManagerBackend,
    name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A known fact: botocore logs response bodies at DEBUG, so redact_secrets() must scrub.

    This pins today's botocore behaviour; if it ever stops logging bodies, this test says so.
    """
    aws_server.put_secret(name, CANARY)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="botocore")
    caplog.clear()
    assert backend.fetch(name).value == CANARY
    botocore_records = [r for r in caplog.records if r.name.startswith("botocore")]
    ours = [r for r in caplog.records if r.name.startswith("hardpoint")]
    assert CANARY in log_text(botocore_records)  # "Response body: b'{...SecretString...}'"
    assert ours, "the backend logs its calls at DEBUG"
    assert name in log_text(ours)
    assert CANARY not in log_text(ours)


def test_botocore_logs_the_value_json_escaped_inside_a_bytes_repr(
    aws_server: AwsSecretsServer,
    backend: AwsSecretsManagerBackend,
    name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What redact_secrets() must match: botocore.parsers logs ``Response body:\\n%r``.

    The argument is the raw bytes body, so a value with quotes, backslashes or non-ASCII
    text appears JSON-escaped and then bytes-repr-escaped, never verbatim.
    """
    value = f'{CANARY}-"quoted"-back\\slash-clé'
    aws_server.put_secret(name, value)
    caplog.set_level(logging.DEBUG, logger="botocore")
    caplog.clear()
    assert backend.fetch(name).value == value
    body_records = [r for r in caplog.records if r.name == "botocore.parsers"]
    text = log_text(body_records)
    escaped = repr(json.dumps(value)[1:-1].encode())[2:-1]
    assert value not in text
    assert escaped in text
    assert any(isinstance(arg, bytes) for r in body_records for arg in (r.args or ()))
