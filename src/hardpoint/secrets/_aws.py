"""Secrets from AWS Secrets Manager: one ``GetSecretValue`` per fetch, no SDK retries.

Version mapping (``fetch(key, version=...)``):

- ``None``: ``VersionStage=<version_stage_current>`` (``AWSCURRENT`` by default). The stage is
  always sent, never left for the service to default: some servers (moto 5.2) otherwise return
  a stale version after a manual ``UpdateSecretVersionStage``.
- ``"previous"``: ``VersionStage="AWSPREVIOUS"``.
- A string shorter than 32 characters (the minimum length of an AWS ``VersionId``): a staging
  label, sent as ``VersionStage`` as given, for example ``"AWSPENDING"`` or a custom label.
- Any longer string: a ``VersionId``, sent alone (``VersionStage`` must then be left out,
  since AWS rejects a stage that does not label that version).

Errors: not found, deleted, or scheduled for deletion (AWS then answers
``InvalidRequestException``) -> `SecretNotFoundError`; refused or missing credentials, and
``DecryptionFailure`` (the caller may not use the secret's KMS key, or the key is disabled:
no retry fixes that) -> `SecretAccessDeniedError`; throttling, 5xx, timeouts, connection
failures and unreadable responses -> `BackendUnavailableError`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal, Self

from hardpoint._optional import requires_extra
from hardpoint.errors import (
    BackendUnavailableError,
    ConfigurationError,
    HardpointError,
    SecretAccessDeniedError,
    SecretNotFoundError,
)
from hardpoint.secrets._base import FetchedSecret, afetch_in_thread

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient
    from types_boto3_secretsmanager.type_defs import (
        GetSecretValueRequestTypeDef,
        GetSecretValueResponseTypeDef,
    )

__all__ = ["AwsSecretsManagerBackend"]

logger = logging.getLogger(__name__)

_Outcome = Literal["not_found", "denied", "unavailable"]

STAGE_CURRENT: Final = "AWSCURRENT"
STAGE_PREVIOUS: Final = "AWSPREVIOUS"
PREVIOUS: Final = "previous"
_MIN_VERSION_ID_LENGTH: Final = 32  # AWS API: VersionId is 32 to 64 characters long

# AWS error codes (the JSON "__type", or x-amzn-ErrorType) and what they mean for a caller.
_ERROR_CODES: Final[Mapping[str, _Outcome]] = {
    "ResourceNotFoundException": "not_found",
    # GetSecretValue answers this for a secret scheduled for deletion.
    "InvalidRequestException": "not_found",
    # A malformed name or version id: no such secret can exist.
    "InvalidParameterException": "not_found",
    "AccessDeniedException": "denied",
    "AccessDenied": "denied",
    "UnrecognizedClientException": "denied",
    "InvalidClientTokenId": "denied",
    "InvalidSignatureException": "denied",
    "SignatureDoesNotMatch": "denied",
    "IncompleteSignature": "denied",
    "MissingAuthenticationToken": "denied",
    "ExpiredTokenException": "denied",
    "ExpiredToken": "denied",
    "RequestExpired": "denied",
    "NotAuthorized": "denied",
    # The secret's KMS key refused to decrypt (kms:Decrypt not allowed, or the key disabled).
    "DecryptionFailure": "denied",
    "ThrottlingException": "unavailable",
    "Throttling": "unavailable",
    "TooManyRequestsException": "unavailable",
    "RequestLimitExceeded": "unavailable",
    "InternalServiceError": "unavailable",
    "InternalFailure": "unavailable",
    "ServiceUnavailable": "unavailable",
    "ServiceUnavailableException": "unavailable",
}


def version_request(
    key: str, version: str | None, *, current_stage: str = STAGE_CURRENT
) -> GetSecretValueRequestTypeDef:
    """Build the ``GetSecretValue`` arguments for *key* and *version* (see the module doc).

    Args:
        key: Secret name or ARN.
        version: None for *current_stage*, ``"previous"``, a staging label (under 32
            characters) or a ``VersionId``.
        current_stage: Staging label that None stands for.

    Returns:
        ``SecretId`` plus exactly one of ``VersionStage`` and ``VersionId``.
    """
    if version is None:
        return {"SecretId": key, "VersionStage": current_stage}
    if version == PREVIOUS:
        return {"SecretId": key, "VersionStage": STAGE_PREVIOUS}
    if len(version) < _MIN_VERSION_ID_LENGTH:
        return {"SecretId": key, "VersionStage": version}
    return {"SecretId": key, "VersionId": version}


def classify_error(code: str, status: int | None) -> _Outcome:
    """Say what an AWS error means for the caller: not found, access denied or unavailable.

    The error code decides when it is known; else the HTTP status (401/403 refused, 404 not
    found). Anything else, 429 and 5xx included, counts as unavailable: worth retrying.

    Args:
        code: AWS error code such as ``"ThrottlingException"`` (empty when there is none).
        status: HTTP status of the response, when there was one.
    """
    known = _ERROR_CODES.get(code)
    if known is not None:
        return known
    if status in (401, 403):
        return "denied"
    if status == 404:
        return "not_found"
    return "unavailable"


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


class AwsSecretsManagerBackend:
    """Secrets from AWS Secrets Manager. Needs ``pip install 'hardpoint[aws]'``.

    Each `fetch` makes one ``GetSecretValue`` call: the client this backend builds has
    botocore's retries turned off (``total_max_attempts=1``) and *timeout* as its connect
    and read timeouts, because `SecretsManager` owns retries, backoff and the overall
    deadline. The call blocks the calling thread; `afetch` runs it in a worker thread (boto3
    has no async API). *timeout* bounds each socket operation, not DNS resolution nor a
    response that trickles in slowly: the caller's deadline bounds the whole call.

    Args:
        region: AWS region such as ``"eu-west-1"``; None lets boto3 find it
            (``AWS_REGION``, ``AWS_DEFAULT_REGION``, ``~/.aws/config``).
        client: A ``secretsmanager`` client of your own, used as is: *region*,
            *endpoint_url* and *timeout* are then ignored, its retry settings apply, and
            `close` leaves it open (its owner closes it).
        endpoint_url: Another endpoint, such as a VPC endpoint or a local test server.
        timeout: Seconds to wait to connect, and for each read of the response.
        version_stage_current: Staging label that ``version=None`` fetches.

    Raises:
        MissingDependencyError: boto3 is not installed.
        ConfigurationError: No region is known, or *timeout*, *endpoint_url* or
            *version_stage_current* is invalid.

    Example:
        >>> backend = AwsSecretsManagerBackend(region="eu-west-1")  # doctest: +SKIP
        >>> backend.fetch("db-password").version  # doctest: +SKIP
        'a1b2c3d4-...'
    """

    name = "aws"

    def __init__(
        self,
        *,
        region: str | None = None,
        client: SecretsManagerClient | None = None,
        endpoint_url: str | None = None,
        timeout: float = 1.0,
        version_stage_current: str = STAGE_CURRENT,
    ) -> None:
        if not timeout > 0:
            msg = f"timeout must be a positive number of seconds, not {timeout!r}"
            raise ConfigurationError(msg, field="timeout")
        if not version_stage_current:
            msg = "version_stage_current must be a staging label such as 'AWSCURRENT'"
            raise ConfigurationError(msg, field="version_stage_current")
        self._timeout = timeout
        self._current_stage = version_stage_current
        self._owns_client = client is None
        self._closed = False
        if client is None:
            client = _build_client(region=region, endpoint_url=endpoint_url, timeout=timeout)
        self._client: SecretsManagerClient = client
        self._region: str = client.meta.region_name
        self._endpoint_url: str = client.meta.endpoint_url

    @classmethod
    def from_env(cls, *, timeout: float = 1.0) -> Self:
        """Build a backend from the environment.

        Reads ``AWS_REGION`` (else ``AWS_DEFAULT_REGION``), required, and optionally
        ``AWS_ENDPOINT_URL_SECRETS_MANAGER`` (else ``AWS_ENDPOINT_URL``), both ignored when
        ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is ``true``. Credentials come from boto3's
        usual chain (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, an
        instance or task role...).

        Args:
            timeout: Seconds to wait to connect, and for each read of the response.

        Raises:
            ConfigurationError: Neither region variable is set (``field="AWS_REGION"``).
            MissingDependencyError: boto3 is not installed.
        """
        environ = os.environ
        region = _env(environ, "AWS_REGION") or _env(environ, "AWS_DEFAULT_REGION")
        if region is None:
            msg = "AwsSecretsManagerBackend needs AWS_REGION (or AWS_DEFAULT_REGION) to be set"
            raise ConfigurationError(msg, field="AWS_REGION")
        endpoint_url = None
        ignore = _env(environ, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") or ""
        if ignore.lower() != "true":
            endpoint_url = _env(environ, "AWS_ENDPOINT_URL_SECRETS_MANAGER") or _env(
                environ, "AWS_ENDPOINT_URL"
            )
        return cls(region=region, endpoint_url=endpoint_url, timeout=timeout)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(region={self._region!r}, "
            f"endpoint_url={self._endpoint_url!r}, timeout={self._timeout!r})"
        )

    def fetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Fetch *key* from Secrets Manager with one ``GetSecretValue`` call.

        Args:
            key: Secret name or ARN.
            version: None for the current version, ``"previous"`` for ``AWSPREVIOUS``, a
                staging label (under 32 characters) or a ``VersionId``.

        Returns:
            ``SecretString`` (or ``SecretBinary`` decoded as UTF-8) and its ``VersionId``.

        Raises:
            SecretNotFoundError: No such secret, stage or version, or the secret is deleted
                or scheduled for deletion.
            SecretAccessDeniedError: Credentials missing, invalid or expired, or permission
                (``secretsmanager:GetSecretValue``, or ``kms:Decrypt`` on its key) refused.
            BackendUnavailableError: Throttled, a 5xx, a timeout, no connection, an
                unreadable response, a binary secret that is not UTF-8, or the backend is
                closed.
        """
        if self._closed:
            msg = "the AWS Secrets Manager backend is closed"
            raise BackendUnavailableError(msg, backend=self.name)
        request = version_request(key, version, current_stage=self._current_stage)
        logger.debug("GetSecretValue %r (version %r) from %s", key, version, self._endpoint_url)
        unchained: HardpointError | None = None
        try:
            response = self._client.get_secret_value(**request)
        except Exception as exc:
            error, chain = self._translate(key, exc)
            if error is None:
                raise
            logger.debug("GetSecretValue %r failed: %s", key, error)
            if chain:
                raise error from exc
            unchained = error
        if unchained is not None:
            # Raised outside the except block, so no __context__ keeps an exception whose
            # message may quote a response body, and so the secret.
            raise unchained
        return self._to_fetched(key, response)

    async def afetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Async twin of `fetch`: the same call in a worker thread (boto3 is sync only)."""
        return await afetch_in_thread(self, key, version=version)

    def close(self) -> None:
        """Close the client's connections, if this backend built the client; idempotent.

        A client passed in stays open. Later fetches raise `BackendUnavailableError`.
        """
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            self._client.close()

    async def aclose(self) -> None:
        """Async twin of `close` (closing a connection pool does not block)."""
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _to_fetched(self, key: str, response: GetSecretValueResponseTypeDef) -> FetchedSecret:
        # The stubs call every field required; AWS sends one of SecretString and SecretBinary.
        fields: Mapping[str, object] = response
        version_id = fields.get("VersionId")
        version = version_id if isinstance(version_id, str) else None
        value = fields.get("SecretString")
        if not isinstance(value, str):
            value = self._decode_binary(key, fields.get("SecretBinary"))
        logger.debug("fetched secret %r version %s", key, version)
        return FetchedSecret(value=value, version=version)

    def _decode_binary(self, key: str, binary: object) -> str:
        if not isinstance(binary, bytes):
            msg = f"AWS answered GetSecretValue for {key!r} without SecretString or SecretBinary"
            raise BackendUnavailableError(msg, backend=self.name)
        try:
            return binary.decode("utf-8")
        except UnicodeDecodeError:
            pass  # its message quotes a byte of the secret: raise ours below, unchained
        msg = f"AWS secret {key!r} is binary and not UTF-8 text"
        raise BackendUnavailableError(msg, backend=self.name)

    def _translate(self, key: str, exc: Exception) -> tuple[HardpointError | None, bool]:
        """Map a botocore exception to ours, and say whether chaining it is safe.

        Returns:
            The error to raise (None for an exception that is not botocore's, to re-raise
            as is) and whether it may become the ``__cause__``: false when its message may
            quote a response body.
        """
        from botocore import exceptions as boto_errors
        from botocore.parsers import ResponseParserError

        backend = self.name
        if isinstance(exc, boto_errors.ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            detail = f"{code or 'error'} (HTTP {status})"
            # An AWS error carries a code and a short message, never a secret value. Without
            # one (the code is then the HTTP status), botocore quotes the raw body: not chained.
            chain = bool(code) and not code.isdigit()
            outcome = classify_error(code, status)
            if outcome == "not_found":
                return SecretNotFoundError(key, backend=backend), chain
            if outcome == "denied":
                return SecretAccessDeniedError(key, backend=backend, reason=detail), chain
            msg = f"AWS Secrets Manager did not return {key!r}: {detail}"
            return BackendUnavailableError(msg, backend=backend), chain
        if isinstance(exc, boto_errors.ParamValidationError):
            # Refused before sending: an empty name, or a version id of the wrong length.
            return SecretNotFoundError(key, backend=backend), True
        if isinstance(
            exc,
            boto_errors.NoCredentialsError
            | boto_errors.PartialCredentialsError
            | boto_errors.CredentialRetrievalError
            | boto_errors.TokenRetrievalError,
        ):
            reason = f"no usable AWS credentials ({type(exc).__name__})"
            return SecretAccessDeniedError(key, backend=backend, reason=reason), True
        if isinstance(exc, boto_errors.ConnectionError | boto_errors.HTTPClientError):
            # Timeouts, refused or dropped connections: the message names the endpoint only.
            msg = f"AWS Secrets Manager did not answer for {key!r}: {type(exc).__name__}"
            return BackendUnavailableError(msg, backend=backend), True
        if isinstance(exc, boto_errors.BotoCoreError | ResponseParserError):
            # e.g. ResponseParserError, whose message quotes the body: not chained.
            msg = f"AWS Secrets Manager call for {key!r} failed: {type(exc).__name__}"
            return BackendUnavailableError(msg, backend=backend), False
        return None, False


def _build_client(
    *, region: str | None, endpoint_url: str | None, timeout: float
) -> SecretsManagerClient:
    """Build a ``secretsmanager`` client with one attempt per call and *timeout* per read."""
    with requires_extra("aws", feature="AwsSecretsManagerBackend"):
        import boto3.session
        from botocore.config import Config
        from botocore.exceptions import InvalidRegionError, NoRegionError

    config = Config(
        # One attempt in all: SecretsManager retries, not botocore. (botocore's "max_attempts"
        # counts retries only, so max_attempts=1 would still send a second request.)
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=timeout,
        read_timeout=timeout,
    )
    # A session of our own: boto3's default session is not safe to share between threads.
    session = boto3.session.Session(region_name=region)
    try:
        return session.client("secretsmanager", endpoint_url=endpoint_url, config=config)
    except (NoRegionError, InvalidRegionError) as exc:
        msg = f"AwsSecretsManagerBackend needs a valid AWS region: {exc}"
        raise ConfigurationError(msg, field="region") from exc
    except ValueError as exc:  # botocore: "Invalid endpoint: ..."
        msg = f"AwsSecretsManagerBackend got an invalid endpoint_url: {exc}"
        raise ConfigurationError(msg, field="endpoint_url") from exc
