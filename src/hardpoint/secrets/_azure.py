"""Secrets from Azure Key Vault. Needs ``pip install 'hardpoint[azure]'``.

Key Vault secret names allow only letters, digits and ``-`` (1 to 127 characters), so
``get_secret("DATABASE_PASSWORD")`` reads the Key Vault secret ``DATABASE-PASSWORD``
(names are case-insensitive in Key Vault). A name that still has any other character after
that mapping cannot exist in a vault: it is reported as `SecretNotFoundError` without a request,
so a `ChainBackend` can still find it in another backend.

Versions: None reads the current version; ``"previous"`` lists the versions and reads the most
recently created *enabled* one other than the current version (see `pick_previous`); any
other string is a Key Vault version id.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import logging
import math
import os
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import urlsplit

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
    from types import TracebackType

    from azure.core.credentials import AccessToken, TokenCredential
    from azure.core.credentials_async import AsyncTokenCredential
    from azure.core.exceptions import HttpResponseError
    from azure.keyvault.secrets import SecretClient, SecretProperties
    from azure.keyvault.secrets.aio import SecretClient as AsyncSecretClient

__all__ = ["AzureKeyVaultBackend", "key_vault_name", "pick_previous"]

logger = logging.getLogger(__name__)

_BACKEND: Final = "azure"
_NAME_RE: Final = re.compile(r"^[0-9A-Za-z-]{1,127}$")
# Key Vault version ids are 32 hex digits; accept any URL-safe token so that other
# Key Vault-compatible servers work, but never "", "." or "..", which would change the path.
_VERSION_RE: Final = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_PREVIOUS: Final = "previous"
_CLOSE_WAIT: Final = 5.0  # seconds close() waits for another thread's event loop
_OUTLIVED: Final = (
    "an Azure Key Vault async client outlived its event loop and cannot be closed; "
    "call AzureKeyVaultBackend.aclose() before the loop ends"
)


def key_vault_name(key: str) -> str | None:
    """Return the Key Vault secret name for *key*, or None when no secret can have it.

    ``_`` becomes ``-`` (``DATABASE_PASSWORD`` -> ``DATABASE-PASSWORD``); what remains must be
    1 to 127 letters, digits and dashes.
    """
    name = key.replace("_", "-")
    return name if _NAME_RE.match(name) else None


@dataclass(frozen=True, slots=True)
class _VersionInfo:
    """What listing a secret's versions says about one version (never its value)."""

    version: str
    created: float  # Unix seconds; -inf when the service did not say
    enabled: bool

    @classmethod
    def of(cls, properties: SecretProperties) -> _VersionInfo | None:
        if not properties.version:
            return None
        created = properties.created_on
        return cls(
            version=properties.version,
            created=created.timestamp() if created is not None else -math.inf,
            enabled=properties.enabled is not False,
        )


def _tied_newest(versions: Iterable[_VersionInfo]) -> list[_VersionInfo]:
    """The versions created last (several when they share a creation second)."""
    items = list(versions)
    if not items:
        return []
    newest = max(item.created for item in items)
    return [item for item in items if item.created == newest]


def pick_previous(versions: Iterable[_VersionInfo], *, current: str | None) -> str | None:
    """Choose the version id that ``"previous"`` means, or None when there is none.

    The previous version is the most recently created *enabled* version other than *current*
    (the version a plain read returns: Key Vault's newest). Disabled versions are skipped, as
    reads of them fail. Key Vault timestamps are whole seconds: among versions created within
    the same second the larger version id wins, which is arbitrary but stable.

    Args:
        versions: Every version of the secret, in any order.
        current: The current version id, or None when it is unknown because it is disabled
            (then it is excluded anyway).
    """
    candidates = [item for item in versions if item.enabled and item.version != current]
    if not candidates:
        return None
    return max(candidates, key=lambda item: (item.created, item.version)).version


def _is_disabled(exc: HttpResponseError) -> bool:
    """Whether a 403 is Key Vault's "disabled secret" answer rather than a permission error.

    The service answers ``403`` with code ``Forbidden``, message ``Operation get is not allowed
    on a disabled secret.`` and inner error code ``SecretDisabled``.
    """
    error = exc.error
    if error is None:
        return False
    codes = {str(error.code or "").lower(), str(_inner_code(exc) or "").lower()}
    return "secretdisabled" in codes or "disabled secret" in str(error.message or "").lower()


def _inner_code(exc: HttpResponseError) -> str | None:
    """The ``innererror.code`` of a Key Vault error body, if any."""
    inner: object = exc.error.innererror if exc.error is not None else None
    code = inner.get("code") if isinstance(inner, Mapping) else None
    return str(code) if code else None


def _describe(exc: HttpResponseError) -> str:
    """``HTTP 403 Forbidden (AccessDenied)``: status and error codes, never a body."""
    status = f"HTTP {exc.status_code}"
    error = exc.error
    if error is None or not error.code:
        return status
    inner_code = _inner_code(exc)
    return f"{status} {error.code}" + (f" ({inner_code})" if inner_code else "")


def _translate(exc: Exception, key: str, vault: str) -> HardpointError:
    """Map an Azure SDK or transport error to one of our three error types."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceRequestTimeoutError,
        ServiceResponseError,
        ServiceResponseTimeoutError,
    )

    if isinstance(exc, ResourceNotFoundError):
        return SecretNotFoundError(key, backend=_BACKEND)
    if isinstance(exc, ClientAuthenticationError):
        if exc.status_code is None:  # the credential could not get a token
            reason = f"no token from the credential ({type(exc).__name__})"
        else:
            reason = f"authentication failed: {_describe(exc)}"
        return SecretAccessDeniedError(key, backend=_BACKEND, reason=reason)
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = exc.status_code
        if status == 404 or (status == 403 and _is_disabled(exc)):
            return SecretNotFoundError(key, backend=_BACKEND)
        if status in (401, 403):
            return SecretAccessDeniedError(key, backend=_BACKEND, reason=_describe(exc))
        what = _describe(exc)
        if status not in (408, 429) and status < 500:  # worth a retry all the same
            what = f"unexpected {what}"
        return BackendUnavailableError(
            f"Azure Key Vault {vault} answered {what} for secret {key!r}", backend=_BACKEND
        )
    if isinstance(exc, (ServiceRequestTimeoutError, ServiceResponseTimeoutError)):
        what = "timed out"
    elif isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        what = f"could not be reached ({type(exc).__name__})"
    elif isinstance(exc, ValueError):
        # The SDK's challenge policy raises ValueError when the vault's authentication
        # challenge is invalid or names another resource (verify_challenge_resource).
        reason = f"the vault's authentication challenge was rejected ({type(exc).__name__})"
        return SecretAccessDeniedError(key, backend=_BACKEND, reason=reason)
    else:
        what = f"failed ({type(exc).__name__})"
    return BackendUnavailableError(
        f"Azure Key Vault {vault} {what} for secret {key!r}", backend=_BACKEND
    )


class _ThreadedCredential:
    """An async credential that runs a sync credential's ``get_token`` in a worker thread.

    Lets a user's sync credential also serve the async client; closing it does not close the
    wrapped credential, which belongs to the user.
    """

    def __init__(self, credential: TokenCredential) -> None:
        self._credential = credential

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return await asyncio.to_thread(
            self._credential.get_token,
            *scopes,
            claims=claims,
            tenant_id=tenant_id,
            enable_cae=enable_cae,
            **kwargs,
        )

    async def close(self) -> None:
        """Nothing to release: the wrapped credential is the user's."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        """Nothing to release."""


@dataclass(slots=True)
class _AsyncHandle:
    """An async client, and the credential we made for it (None when it is not ours)."""

    client: AsyncSecretClient
    credential: AsyncTokenCredential | None
    owned: bool  # whether we built the client (an injected one stays open)

    async def aclose(self) -> None:
        await self.client.close()
        if self.credential is not None:
            await self.credential.close()


def _close_in_loop(loop: asyncio.AbstractEventLoop, handle: _AsyncHandle) -> None:
    """Close *handle* in *loop*, which is not the running loop of this thread; blocks."""
    if loop.is_closed():
        logger.warning(_OUTLIVED)
    elif loop.is_running():  # in another thread
        future = asyncio.run_coroutine_threadsafe(handle.aclose(), loop)
        try:
            future.result(timeout=_CLOSE_WAIT)
        except concurrent.futures.TimeoutError:  # pragma: no cover - a stuck foreign loop
            logger.warning("closing an Azure Key Vault async client timed out")
    else:  # idle: run it, in a helper thread in case this thread runs another loop
        thread = threading.Thread(
            target=loop.run_until_complete, args=(handle.aclose(),), name="azure-kv-close"
        )
        thread.start()
        thread.join(timeout=_CLOSE_WAIT)


class AzureKeyVaultBackend:
    """Secrets from Azure Key Vault. Needs ``pip install 'hardpoint[azure]'``.

    Each `fetch` makes one attempt: the SDK's retries are off (``retry_total=0``) and every
    HTTP request is bounded by *timeout* for connecting and for each read. Reading
    ``"previous"`` takes two or three requests (list the versions, sometimes read the current
    one, read the chosen one), each so bounded. `SecretsManager` owns retries and deadlines.

    Errors: 404 -> `SecretNotFoundError`, and so is ``403`` with inner code ``SecretDisabled``
    (a disabled version); 401, any other 403, or a credential that cannot get a token ->
    `SecretAccessDeniedError`; 408, 429, 5xx, timeouts and connection failures (and any other
    unexpected status) -> `BackendUnavailableError`.

    `afetch` is native async through ``azure.keyvault.secrets.aio.SecretClient`` (which needs
    ``aiohttp``; without it `afetch` runs `fetch` in a worker thread). One async client is made
    per event loop, on first use, unless *async_client* is given.

    Args:
        vault_url: The vault's URL, such as ``https://my-vault.vault.azure.net``.
        credential: A sync token credential; by default ``azure.identity.DefaultAzureCredential``
            (environment, workload identity, managed identity, Azure CLI...), made here and
            closed by `close`. When only this is given, the async client uses it through a
            worker thread.
        async_credential: An async token credential for the async client; by default
            ``azure.identity.aio.DefaultAzureCredential`` (or *credential*, see above).
        client: A ready ``SecretClient``, used as is (its retry settings included) and left
            open by `close`.
        async_client: A ready ``azure.keyvault.secrets.aio.SecretClient``, left open by `aclose`.
        timeout: Seconds allowed to connect, and to wait for each read, per HTTP request.
        **client_options: Passed to the ``SecretClient`` constructors that this backend calls,
            such as ``api_version``, ``connection_verify`` or ``verify_challenge_resource``.
            ``retry_*`` options are refused: `SecretsManager` does the retrying.

    Raises:
        ConfigurationError: *vault_url* is not an ``https`` URL, *timeout* is not positive,
            or *client_options* hold a retry option.
        MissingDependencyError: ``azure-keyvault-secrets`` or ``azure-identity`` is missing.
    """

    name = _BACKEND

    def __init__(
        self,
        *,
        vault_url: str,
        credential: TokenCredential | None = None,
        async_credential: AsyncTokenCredential | None = None,
        client: SecretClient | None = None,
        async_client: AsyncSecretClient | None = None,
        timeout: float = 1.0,
        **client_options: object,
    ) -> None:
        parts = urlsplit(vault_url.strip())
        if parts.scheme != "https" or not parts.hostname:
            msg = (
                f"vault_url must be an https URL (https://NAME.vault.azure.net), not {vault_url!r}"
            )
            raise ConfigurationError(msg, field="vault_url")
        if not (math.isfinite(timeout) and timeout > 0):
            msg = f"timeout must be a positive number of seconds, not {timeout!r}"
            raise ConfigurationError(msg, field="timeout")
        retry_options = sorted(option for option in client_options if option.startswith("retry_"))
        if retry_options:
            msg = (
                f"AzureKeyVaultBackend turns the SDK's retries off; drop {retry_options[0]!r} "
                "and configure retries on SecretsManager"
            )
            raise ConfigurationError(msg, field=retry_options[0])
        with requires_extra(_BACKEND, feature="AzureKeyVaultBackend"):
            import azure.identity
            from azure.keyvault.secrets import SecretClient

        self.vault_url = vault_url.strip().rstrip("/")
        self.timeout = float(timeout)
        self._host = parts.hostname
        self._client_options: dict[str, Any] = {
            "connection_timeout": self.timeout,
            "read_timeout": self.timeout,
            **client_options,
            "retry_total": 0,
        }
        self._credential = credential
        self._async_credential = async_credential
        self._owned_credential: TokenCredential | None = None
        self._owns_client = client is None
        if client is None:
            if credential is None:
                credential = self._owned_credential = azure.identity.DefaultAzureCredential()
            client = SecretClient(self.vault_url, credential, **self._client_options)
        self._client: SecretClient = client
        self._native_async = async_client is not None or (
            importlib.util.find_spec("aiohttp") is not None
        )
        # One async client per event loop; an injected one waits under None until first use.
        self._async_handles: dict[asyncio.AbstractEventLoop | None, _AsyncHandle] = {}
        self._injected_async: _AsyncHandle | None = None
        if async_client is not None:
            self._injected_async = _AsyncHandle(async_client, None, owned=False)
            self._async_handles[None] = self._injected_async
        self._lock = threading.Lock()
        self._closed = False
        self._closing: set[asyncio.Future[None]] = set()

    @classmethod
    def from_env(
        cls,
        *,
        environ: Mapping[str, str] | None = None,
        credential: TokenCredential | None = None,
        async_credential: AsyncTokenCredential | None = None,
        timeout: float = 1.0,
        **client_options: object,
    ) -> Self:
        """Build a backend from the environment.

        Reads ``AZURE_KEY_VAULT_URL`` (else ``AZURE_KEYVAULT_URL``), required. Credentials come
        from ``DefaultAzureCredential`` unless given: ``AZURE_TENANT_ID``, ``AZURE_CLIENT_ID``
        and ``AZURE_CLIENT_SECRET`` (or ``AZURE_CLIENT_CERTIFICATE_PATH``, or
        ``AZURE_FEDERATED_TOKEN_FILE`` for workload identity), a managed identity, or the
        Azure CLI login.

        Args:
            environ: Where to read the variables; ``os.environ`` by default.
            credential: See the class.
            async_credential: See the class.
            timeout: See the class.
            **client_options: See the class.

        Raises:
            ConfigurationError: ``AZURE_KEY_VAULT_URL`` is not set (``field`` names it), or the
                URL or an option is invalid.
        """
        env = os.environ if environ is None else environ
        vault_url = (
            env.get("AZURE_KEY_VAULT_URL", "").strip() or env.get("AZURE_KEYVAULT_URL", "").strip()
        )
        if not vault_url:
            msg = "AzureKeyVaultBackend needs AZURE_KEY_VAULT_URL (or AZURE_KEYVAULT_URL) to be set"
            raise ConfigurationError(msg, field="AZURE_KEY_VAULT_URL")
        options: dict[str, Any] = dict(client_options)
        return cls(
            vault_url=vault_url,
            credential=credential,
            async_credential=async_credential,
            timeout=timeout,
            **options,
        )

    def __repr__(self) -> str:
        return f"AzureKeyVaultBackend(vault_url={self.vault_url!r}, timeout={self.timeout!r})"

    # --- fetch -----------------------------------------------------------------------------

    def _target(self, key: str, version: str | None) -> tuple[str, str | None]:
        """Return ``(Key Vault name, version)`` for a read of *key*.

        Raises `SecretNotFoundError` for names and versions that no vault can hold.
        """
        name = key_vault_name(key)
        if name is None or (
            version is not None and version != _PREVIOUS and not _VERSION_RE.match(version)
        ):
            logger.debug("%r (version %r) cannot name a Key Vault secret", key, version)
            raise SecretNotFoundError(key, backend=_BACKEND)
        return name, version

    def _check_open(self, key: str) -> None:
        if self._closed:
            msg = f"AzureKeyVaultBackend for {self.vault_url} is closed (secret {key!r})"
            raise BackendUnavailableError(msg, backend=_BACKEND)

    def fetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Read *key* from the vault: the current version, ``"previous"`` or a version id.

        Blocks for at most about *timeout* per HTTP request (one, or up to three for
        ``"previous"``), plus whatever the credential needs to get a token.

        Raises:
            SecretNotFoundError: No such secret or version, or it is disabled or deleted.
            SecretAccessDeniedError: The credential or its permissions were refused.
            BackendUnavailableError: Throttled, timed out, unreachable, 5xx, or closed.
        """
        from azure.core.exceptions import AzureError

        self._check_open(key)
        name, wanted = self._target(key, version)
        try:
            if wanted == _PREVIOUS:
                wanted = self._previous_version(key, name)
            secret = self._client.get_secret(name, wanted)
        except (AzureError, ValueError) as exc:
            raise self._error(exc, key) from exc
        return self._fetched(key, secret.value, secret.properties.version)

    def _previous_version(self, key: str, name: str) -> str:
        versions = [
            info
            for properties in self._client.list_properties_of_secret_versions(name)
            if (info := _VersionInfo.of(properties)) is not None
        ]
        newest = _tied_newest(versions)
        current = newest[0].version if len(newest) == 1 else None
        if len(newest) > 1:  # created in the same second: ask which one is current
            current = self._current_version_id(name)
        return self._chosen(key, versions, current)

    def _current_version_id(self, name: str) -> str | None:
        from azure.core.exceptions import HttpResponseError

        try:
            return self._client.get_secret(name).properties.version
        except HttpResponseError as exc:
            if exc.status_code == 403 and _is_disabled(exc):
                return None
            raise

    async def afetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Async twin of `fetch`, on the async Key Vault client (no thread hop).

        Without ``aiohttp`` (and no injected *async_client*) it runs `fetch` in a thread.
        """
        if not self._native_async:
            return await afetch_in_thread(self, key, version=version)
        from azure.core.exceptions import AzureError

        name, wanted = self._target(key, version)
        client = self._async_client(key)
        try:
            if wanted == _PREVIOUS:
                wanted = await self._aprevious_version(client, key, name)
            secret = await client.get_secret(name, wanted)
        except (AzureError, ValueError) as exc:
            raise self._error(exc, key) from exc
        return self._fetched(key, secret.value, secret.properties.version)

    async def _aprevious_version(self, client: AsyncSecretClient, key: str, name: str) -> str:
        versions = [
            info
            async for properties in client.list_properties_of_secret_versions(name)
            if (info := _VersionInfo.of(properties)) is not None
        ]
        newest = _tied_newest(versions)
        current = newest[0].version if len(newest) == 1 else None
        if len(newest) > 1:
            current = await self._acurrent_version_id(client, name)
        return self._chosen(key, versions, current)

    async def _acurrent_version_id(self, client: AsyncSecretClient, name: str) -> str | None:
        from azure.core.exceptions import HttpResponseError

        try:
            return (await client.get_secret(name)).properties.version
        except HttpResponseError as exc:
            if exc.status_code == 403 and _is_disabled(exc):
                return None
            raise

    def _chosen(self, key: str, versions: list[_VersionInfo], current: str | None) -> str:
        chosen = pick_previous(versions, current=current)
        if chosen is None:
            logger.debug("secret %s has no enabled version before %s", key, current)
            raise SecretNotFoundError(key, backend=_BACKEND)
        return chosen

    def _error(self, exc: Exception, key: str) -> HardpointError:
        error = _translate(exc, key, self._host)
        logger.debug("Azure Key Vault read of secret %s failed: %s", key, type(error).__name__)
        return error

    def _fetched(self, key: str, value: str | None, version: str | None) -> FetchedSecret:
        logger.debug("read secret %s version %s from Azure Key Vault %s", key, version, self._host)
        return FetchedSecret(value=value or "", version=version)

    # --- async clients ---------------------------------------------------------------------

    def _async_client(self, key: str) -> AsyncSecretClient:
        """The async client for the running event loop, made on first use."""
        loop = asyncio.get_running_loop()
        with self._lock:
            self._check_open(key)
            if self._injected_async is not None:
                unbound = self._async_handles.pop(None, None)
                if unbound is not None:  # first use: remember its loop, for close()
                    self._async_handles[loop] = unbound
                return self._injected_async.client
            handle = self._async_handles.get(loop)
            if handle is None:
                self._forget_closed_loops()
                handle = self._async_handles[loop] = self._new_async_handle()
            return handle.client

    def _new_async_handle(self) -> _AsyncHandle:
        from azure.keyvault.secrets.aio import SecretClient as AsyncSecretClient

        credential: AsyncTokenCredential | None = self._async_credential
        owned: AsyncTokenCredential | None = None
        if credential is None and self._credential is not None:
            credential = owned = _ThreadedCredential(self._credential)
        elif credential is None:
            from azure.identity.aio import DefaultAzureCredential

            credential = owned = DefaultAzureCredential()
        client = AsyncSecretClient(self.vault_url, credential, **self._client_options)
        return _AsyncHandle(client, owned, owned=True)

    def _forget_closed_loops(self) -> None:
        """Drop async clients whose event loop has closed: nothing can close them now."""
        for loop in [loop for loop in self._async_handles if loop is not None and loop.is_closed()]:
            del self._async_handles[loop]
            logger.warning(_OUTLIVED)

    # --- closing ---------------------------------------------------------------------------

    def _take_everything(self) -> list[tuple[asyncio.AbstractEventLoop | None, _AsyncHandle]]:
        with self._lock:
            self._closed = True
            handles = list(self._async_handles.items())
            self._async_handles.clear()
            self._injected_async = None
        return handles

    def _close_sync_parts(self) -> None:
        if self._owns_client:
            self._client.close()
        self._close_owned_credential()

    def _close_owned_credential(self) -> None:
        credential, self._owned_credential = self._owned_credential, None
        close = getattr(credential, "close", None)
        if close is not None:
            close()

    def close(self) -> None:
        """Close the clients and credentials this backend made; idempotent.

        Injected clients and credentials stay open. An async client is closed in its own
        event loop: through a task when that loop runs in this thread, by that loop's thread
        when it runs elsewhere, or by running it in a helper thread when it is idle. Later
        fetches raise `BackendUnavailableError`.
        """
        handles = self._take_everything()
        self._close_sync_parts()
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop, handle in handles:
            if loop is None or not handle.owned:
                continue
            if loop is running:
                task = loop.create_task(handle.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            else:
                _close_in_loop(loop, handle)

    async def aclose(self) -> None:
        """Close everything this backend made, the async clients included; idempotent.

        Async clients of other event loops are closed in their own loop, as `close` does.
        """
        handles = self._take_everything()
        self._close_sync_parts()
        running = asyncio.get_running_loop()
        for loop, handle in handles:
            if not handle.owned:
                continue
            if loop is None or loop is running:
                await handle.aclose()
            else:
                await asyncio.to_thread(_close_in_loop, loop, handle)

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
