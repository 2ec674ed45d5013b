"""Secrets from GCP Secret Manager (``pip install 'hardpoint[gcp]'``)."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import AsyncGenerator, Iterable
from typing import TYPE_CHECKING, Final, Self

from hardpoint._optional import requires_extra
from hardpoint.errors import (
    BackendUnavailableError,
    ConfigurationError,
    HardpointError,
    SecretAccessDeniedError,
    SecretNotFoundError,
    SerializationError,
)
from hardpoint.secrets._base import FetchedSecret

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.cloud.secretmanager_v1 import (
        AccessSecretVersionResponse,
        SecretManagerServiceAsyncClient,
        SecretManagerServiceClient,
        SecretVersion,
    )

__all__ = ["GcpSecretManagerBackend"]

logger = logging.getLogger(__name__)

_SCOPES: Final = ("https://www.googleapis.com/auth/cloud-platform",)
# Secret ids are [A-Za-z0-9_-]{1,255}; version ids are numbers, "latest" or an alias.
_SECRET_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")
_VERSION_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,255}")
_LIST_PAGE_SIZE: Final = 100
# The client library logs request and response payloads at DEBUG (base64, but the value all
# the same) on these loggers: _PayloadRedactor removes them.
_TRANSPORT_LOGGERS: Final = tuple(
    f"google.cloud.secretmanager_v1.services.secret_manager_service.transports.{name}"
    for name in ("grpc", "grpc_asyncio", "rest")
)
_PAYLOAD_RPCS: Final = ("AccessSecretVersion", "AddSecretVersion")
_REDACTED: Final = "<redacted by hardpoint>"


class _PayloadRedactor(logging.Filter):
    """Blank the secret payload in the client library's DEBUG request/response records."""

    def filter(self, record: logging.LogRecord) -> bool:
        rpc = str(getattr(record, "rpcName", ""))
        if any(name in rpc for name in _PAYLOAD_RPCS):  # grpc_asyncio logs "b'/.../Name'"
            for attribute in ("request", "response", "httpRequest", "httpResponse"):
                details = getattr(record, attribute, None)
                if isinstance(details, dict) and "payload" in details:
                    details["payload"] = _REDACTED
        return True


_REDACTOR: Final = _PayloadRedactor()


def _install_redactor() -> None:
    for name in _TRANSPORT_LOGGERS:
        transport_logger = logging.getLogger(name)
        if _REDACTOR not in transport_logger.filters:
            transport_logger.addFilter(_REDACTOR)


class GcpSecretManagerBackend:
    """Secrets from GCP Secret Manager, over gRPC. Needs ``pip install 'hardpoint[gcp]'``.

    A key names a secret of *project*; ``fetch(key)`` reads
    ``projects/PROJECT/secrets/KEY/versions/latest``. Versions:

    - ``None`` (or ``"latest"``): the ``latest`` alias, the secret's current version.
    - ``"previous"``: the highest-numbered ENABLED version below the highest ENABLED one,
      found with ``ListSecretVersions`` (filtered on ``state:ENABLED``) and then read by
      number. A secret with fewer than two enabled versions has no previous version.
    - Any other string: that version number (``"3"``), or a version alias.

    Disabled and destroyed versions, and keys that cannot be secret ids, are not found.
    Every call is one attempt: the client library's retries are off (``retry=None``) and each
    `fetch` finishes within *timeout* seconds, the list-then-read of ``"previous"`` included.

    Args:
        project: Project id (or number) that owns the secrets.
        client: A ready ``SecretManagerServiceClient`` (a custom endpoint, transport or
            credentials; tests pass one on an insecure channel). It is not closed by `close`.
        async_client: A ready ``SecretManagerServiceAsyncClient`` for `afetch`; it belongs to
            the event loop it was made in and is not closed by `aclose`.
        timeout: Seconds allowed for one `fetch` or `afetch`.
        credentials: Google credentials for the clients this backend makes; by default the
            application default credentials (``google.auth.default()``). Unused when both
            clients are given.

    Which client `fetch` and `afetch` use:

    - Neither client given: the backend makes a sync client now and, in each event loop that
      calls `afetch`, an async client (native asyncio, no thread).
    - Both given: those two.
    - Only *client*: `afetch` runs `fetch` in a worker thread (so it reaches the same server).
    - Only *async_client*: `afetch` only; `fetch` raises `ConfigurationError`.

    Raises:
        ConfigurationError: *project* is empty, *timeout* is not positive, or no client is
            given and there are no application default credentials
            (``field="GOOGLE_APPLICATION_CREDENTIALS"``).
        MissingDependencyError: google-cloud-secret-manager is not installed.
    """

    name = "gcp"

    def __init__(
        self,
        *,
        project: str,
        client: SecretManagerServiceClient | None = None,
        async_client: SecretManagerServiceAsyncClient | None = None,
        timeout: float = 1.0,
        credentials: Credentials | None = None,
    ) -> None:
        if not project or "/" in project:
            msg = f"a GCP project id is required, got {project!r}"
            raise ConfigurationError(msg, field="project")
        if not timeout > 0:
            msg = f"timeout must be a positive number of seconds, got {timeout!r}"
            raise ConfigurationError(msg, field="timeout")
        with requires_extra("gcp", feature="GcpSecretManagerBackend"):
            from google.cloud import secretmanager_v1
        _install_redactor()
        self.project = project
        self.timeout = timeout
        self._credentials = credentials
        self._owns_client = client is None and async_client is None
        if self._owns_client:
            if self._credentials is None:
                self._credentials = _default_credentials()
            client = secretmanager_v1.SecretManagerServiceClient(credentials=self._credentials)
        self._client = client
        self._async_client = async_client
        self._async_clients: dict[asyncio.AbstractEventLoop, SecretManagerServiceAsyncClient] = {}
        self._async_clients_lock = threading.Lock()  # event loops in several threads
        self._closed = False

    @classmethod
    def from_env(
        cls,
        *,
        client: SecretManagerServiceClient | None = None,
        async_client: SecretManagerServiceAsyncClient | None = None,
        timeout: float = 1.0,
        credentials: Credentials | None = None,
    ) -> Self:
        """Make a backend for the project in ``GOOGLE_CLOUD_PROJECT`` (or ``GCP_PROJECT``).

        Credentials come from the application default chain (``GOOGLE_APPLICATION_CREDENTIALS``,
        gcloud's login, the metadata server), unless *credentials* or clients are given.

        Args:
            client: See the class.
            async_client: See the class.
            timeout: See the class.
            credentials: See the class.

        Raises:
            ConfigurationError: Neither variable is set (``field="GOOGLE_CLOUD_PROJECT"``), or
                there are no credentials (``field="GOOGLE_APPLICATION_CREDENTIALS"``).
        """
        project = (
            os.environ.get("GOOGLE_CLOUD_PROJECT", "").strip()
            or os.environ.get("GCP_PROJECT", "").strip()
        )
        if not project:
            msg = "GcpSecretManagerBackend needs GOOGLE_CLOUD_PROJECT (or GCP_PROJECT) to be set"
            raise ConfigurationError(msg, field="GOOGLE_CLOUD_PROJECT")
        return cls(
            project=project,
            client=client,
            async_client=async_client,
            timeout=timeout,
            credentials=credentials,
        )

    def __repr__(self) -> str:
        return f"GcpSecretManagerBackend(project={self.project!r}, timeout={self.timeout!r})"

    # --- fetch -----------------------------------------------------------------------------

    def fetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Read *key* (optionally a *version*: a number, an alias or ``"previous"``).

        Makes one ``AccessSecretVersion`` call, or for ``"previous"`` one or more
        ``ListSecretVersions`` calls and then one ``AccessSecretVersion``, all within *timeout*.
        Blocks the calling thread.

        Raises:
            SecretNotFoundError: No such secret or version, or the version is disabled or
                destroyed.
            SecretAccessDeniedError: The credentials were refused (401) or lack permission (403).
            BackendUnavailableError: Throttled, timed out, unreachable or a server error.
            SerializationError: The version's data is not UTF-8 text.
            ConfigurationError: The backend has only an async client.
        """
        client = self._sync_client()
        deadline = time.monotonic() + self.timeout
        try:
            if version == "previous":
                _check_names(key, None)
                version_id = _previous(key, self._list_enabled(client, key, deadline))
            else:
                version_id = _version_id(key, version)
            response = client.access_secret_version(
                name=self._version_name(key, version_id),
                retry=None,
                timeout=_remaining(deadline),
            )
        except HardpointError:
            raise
        except Exception as exc:
            raise _translate(exc, key) from exc
        return _fetched(key, response)

    async def afetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Async twin of `fetch`.

        Runs on the asyncio client without blocking the loop, except when only *client* was
        given: then `fetch` runs in a worker thread.
        """
        if self._async_client is None and not self._owns_client:
            self._check_open()
            return await asyncio.to_thread(self.fetch, key, version=version)
        client = self._loop_client()
        deadline = time.monotonic() + self.timeout
        try:
            if version == "previous":
                _check_names(key, None)
                version_id = _previous(key, await self._alist_enabled(client, key, deadline))
            else:
                version_id = _version_id(key, version)
            response = await client.access_secret_version(
                name=self._version_name(key, version_id),
                retry=None,
                timeout=_remaining(deadline),
            )
        except HardpointError:
            raise
        except Exception as exc:
            raise _translate(exc, key) from exc
        return _fetched(key, response)

    # --- version resolution ----------------------------------------------------------------

    def _version_name(self, key: str, version_id: str) -> str:
        return f"projects/{self.project}/secrets/{key}/versions/{version_id}"

    def _list_enabled(
        self, client: SecretManagerServiceClient, key: str, deadline: float
    ) -> list[int]:
        """Numbers of the ENABLED versions of *key*, one ``ListSecretVersions`` call a page."""
        from google.cloud.secretmanager_v1 import ListSecretVersionsRequest

        numbers: list[int] = []
        token = ""
        while True:
            request = ListSecretVersionsRequest(
                parent=f"projects/{self.project}/secrets/{key}",
                filter="state:ENABLED",
                page_size=_LIST_PAGE_SIZE,
                page_token=token,
            )
            pager = client.list_secret_versions(
                request=request, retry=None, timeout=_remaining(deadline)
            )
            page = next(iter(pager.pages))  # the response already received: no second call
            numbers += _enabled_numbers(page.versions)
            token = page.next_page_token
            if not token:
                return numbers

    async def _alist_enabled(
        self, client: SecretManagerServiceAsyncClient, key: str, deadline: float
    ) -> list[int]:
        """Async twin of `_list_enabled`."""
        from google.cloud.secretmanager_v1 import ListSecretVersionsRequest

        numbers: list[int] = []
        token = ""
        while True:
            request = ListSecretVersionsRequest(
                parent=f"projects/{self.project}/secrets/{key}",
                filter="state:ENABLED",
                page_size=_LIST_PAGE_SIZE,
                page_token=token,
            )
            pager = await client.list_secret_versions(
                request=request, retry=None, timeout=_remaining(deadline)
            )
            pages = pager.pages
            try:
                page = await anext(pages)  # the response already received: no second call
            finally:
                if isinstance(pages, AsyncGenerator):
                    await pages.aclose()
            numbers += _enabled_numbers(page.versions)
            token = page.next_page_token
            if not token:
                return numbers

    # --- clients ---------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            msg = "the GCP Secret Manager backend is closed"
            raise BackendUnavailableError(msg, backend=self.name)

    def _sync_client(self) -> SecretManagerServiceClient:
        self._check_open()
        if self._client is None:
            msg = (
                "GcpSecretManagerBackend was given only an async_client: use afetch(), "
                "or pass client= as well"
            )
            raise ConfigurationError(msg, field="client")
        return self._client

    def _loop_client(self) -> SecretManagerServiceAsyncClient:
        """The injected async client, or this event loop's own (made on first use)."""
        self._check_open()
        if self._async_client is not None:
            return self._async_client
        loop = asyncio.get_running_loop()
        with self._async_clients_lock:
            client = self._async_clients.get(loop)
            if client is None:
                from google.cloud.secretmanager_v1 import SecretManagerServiceAsyncClient

                # Clients of loops that have closed hold nothing any more: forget them.
                for old_loop in [old for old in self._async_clients if old.is_closed()]:
                    del self._async_clients[old_loop]
                client = SecretManagerServiceAsyncClient(credentials=self._credentials)
                self._async_clients[loop] = client
        return client

    def close(self) -> None:
        """Close the clients this backend made (injected clients stay open).

        Async clients made by `afetch` belong to their event loops: close them with `aclose`
        in that loop; `close` only forgets them.
        """
        self._closed = True
        if self._owns_client and self._client is not None:
            self._client.transport.close()  # type: ignore[no-untyped-call]  # GAPIC: no annotations
        with self._async_clients_lock:
            self._async_clients.clear()

    async def aclose(self) -> None:
        """Close the clients this backend made, including this event loop's async client."""
        self._closed = True
        try:
            with self._async_clients_lock:
                client = self._async_clients.pop(asyncio.get_running_loop(), None)
            if client is not None:
                await client.transport.close()  # type: ignore[no-untyped-call]  # GAPIC: no annotations
        finally:
            self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


# --- helpers without I/O -----------------------------------------------------------------------


def _check_names(key: str, version: str | None) -> None:
    """Refuse keys and versions that cannot be ids: they would change the resource path."""
    if not _SECRET_ID.fullmatch(key) or (
        version is not None and not _VERSION_ID.fullmatch(version)
    ):
        raise SecretNotFoundError(key, backend=GcpSecretManagerBackend.name)


def _version_id(key: str, version: str | None) -> str:
    """The version id to access for *version* (not ``"previous"``): ``latest`` for None."""
    _check_names(key, version)
    return "latest" if version is None else version


def _remaining(deadline: float) -> float:
    """Seconds left before *deadline*; raise when none are left (a timeout, so retryable)."""
    left = deadline - time.monotonic()
    if left <= 0:
        msg = "GCP Secret Manager did not answer within the backend timeout"
        raise BackendUnavailableError(msg, backend=GcpSecretManagerBackend.name)
    return left


def _enabled_numbers(versions: Iterable[SecretVersion]) -> list[int]:
    """Version numbers of the ENABLED versions (checked here too, whatever the filter did)."""
    from google.cloud.secretmanager_v1 import SecretVersion

    numbers = []
    for version in versions:
        number = version.name.rsplit("/", 1)[-1]
        if version.state == SecretVersion.State.ENABLED and number.isdigit():
            numbers.append(int(number))
    return numbers


def _previous(key: str, numbers: list[int]) -> str:
    """The second-highest enabled version number: the one before the current one."""
    ordered = sorted(set(numbers), reverse=True)
    if len(ordered) < 2:
        raise SecretNotFoundError(key, backend=GcpSecretManagerBackend.name)
    return str(ordered[1])


def _fetched(key: str, response: AccessSecretVersionResponse) -> FetchedSecret:
    version = response.name.rsplit("/", 1)[-1] or None
    try:
        value = response.payload.data.decode("utf-8")
    except UnicodeDecodeError:
        # The exception's message quotes a byte of the value: do not chain it.
        msg = f"version {version} of secret {key!r} is not UTF-8 text"
        raise SerializationError(msg, codec="utf-8") from None
    logger.debug("read secret %s version %s from gcp", key, version)
    return FetchedSecret(value=value, version=version)


def _translate(exc: Exception, key: str) -> HardpointError:
    """Map a client-library, auth or transport exception to our error types.

    Exceptions that are no I/O failure (programming errors such as `TypeError`) become
    `BackendUnavailableError` too, so that callers only ever see our three types; the original
    stays as ``__cause__``.
    """
    from google.api_core import exceptions as api
    from google.auth import exceptions as auth

    backend = GcpSecretManagerBackend.name
    # gRPC's FAILED_PRECONDITION is a disabled or destroyed version; REST says 400 for it.
    if isinstance(exc, api.NotFound | api.BadRequest):
        return SecretNotFoundError(key, backend=backend)
    if isinstance(exc, api.Forbidden | api.Unauthorized):
        reason = f"{exc.__class__.__name__}: {exc.message}"
        return SecretAccessDeniedError(key, backend=backend, reason=reason)
    if isinstance(exc, auth.DefaultCredentialsError) or (
        isinstance(exc, auth.RefreshError) and not exc.retryable
    ):
        reason = f"credentials refused: {exc.__class__.__name__}"
        return SecretAccessDeniedError(key, backend=backend, reason=reason)
    if isinstance(exc, api.GoogleAPICallError):
        # RESOURCE_EXHAUSTED (429), UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, CANCELLED, ...
        what = f"{exc.__class__.__name__}: {exc.message}"
    elif isinstance(exc, ValueError) and "closed channel" in str(exc):
        what = "the client's channel is closed"
    else:
        # RetryError, auth transport errors, OSError, and anything unexpected.
        what = exc.__class__.__name__
    logger.debug("gcp secret manager failed to read %s: %s", key, exc.__class__.__name__)
    message = f"GCP Secret Manager failed to read secret {key!r}: {what}"
    return BackendUnavailableError(message, backend=backend)


def _default_credentials() -> Credentials:
    """Application default credentials, or `ConfigurationError` when there are none."""
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _project = google.auth.default(scopes=list(_SCOPES))
    except DefaultCredentialsError as exc:
        msg = (
            "no Google application default credentials: set GOOGLE_APPLICATION_CREDENTIALS, "
            f"run 'gcloud auth application-default login', or pass credentials= ({exc})"
        )
        raise ConfigurationError(msg, field="GOOGLE_APPLICATION_CREDENTIALS") from exc
    return credentials
