"""Secrets from HashiCorp Vault (or OpenBao) KV v2 and KV v1, through hvac.

The backend logs in with a token, AppRole, JWT or Kubernetes auth, keeps the token alive
(renewing it, or logging in again before it expires) and reads one secret per `fetch`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, Self, TypeAlias

from hardpoint._optional import requires_extra
from hardpoint.errors import (
    BackendUnavailableError,
    ConfigurationError,
    SecretAccessDeniedError,
    SecretNotFoundError,
)
from hardpoint.secrets._base import FetchedSecret, afetch_in_thread

if TYPE_CHECKING:
    import hvac

__all__ = [
    "AppRoleAuth",
    "JwtAuth",
    "KubernetesAuth",
    "TokenAuth",
    "VaultAuth",
    "VaultBackend",
]

logger = logging.getLogger(__name__)

KUBERNETES_JWT_PATH: Final = "/var/run/secrets/kubernetes.io/serviceaccount/token"
_REFRESH_FRACTION: Final = 1 / 3  # refresh a token in the last third of its TTL
_WARN_INTERVAL: Final = 60.0  # seconds between two warnings about failed token refreshes
_POOL_SIZE: Final = 32  # connections kept per host; more concurrent readers open extra ones
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


# --- auth methods ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """A fixed Vault token (``VAULT_TOKEN``).

    The token is looked up once, at the first fetch, to learn its TTL; a renewable token is
    then renewed in the last third of its TTL. It cannot be replaced when it expires.

    Attributes:
        token: The token; never shown in ``repr``.
    """

    token: str = field(repr=False)

    def __repr__(self) -> str:
        return "TokenAuth(token=<redacted>)"


@dataclass(frozen=True, slots=True)
class AppRoleAuth:
    """AppRole login (``POST /v1/auth/<mount>/login`` with a role id and a secret id).

    Attributes:
        role_id: The role id; not shown in ``repr``.
        secret_id: The secret id; never shown in ``repr``.
        mount: Where the AppRole auth method is mounted.
    """

    role_id: str = field(repr=False)
    secret_id: str = field(repr=False)
    mount: str = "approle"

    def __repr__(self) -> str:
        return f"AppRoleAuth(mount={self.mount!r})"


@dataclass(frozen=True, slots=True)
class JwtAuth:
    """JWT login (``POST /v1/auth/<mount>/login`` with a role and a signed JWT).

    Give the JWT itself (*jwt*) or a file holding it (*jwt_path*, read again at every login,
    so a rotated token is picked up).

    Attributes:
        role: The Vault role to log in as.
        jwt: The token; never shown in ``repr``.
        jwt_path: A file holding the token.
        mount: Where the JWT auth method is mounted.

    Raises:
        ConfigurationError: Neither or both of *jwt* and *jwt_path*.
    """

    role: str
    jwt: str | None = field(default=None, repr=False)
    jwt_path: str | None = None
    mount: str = "jwt"

    def __post_init__(self) -> None:
        if (self.jwt is None) == (self.jwt_path is None):
            raise ConfigurationError("JwtAuth needs exactly one of jwt and jwt_path", field="jwt")

    def __repr__(self) -> str:
        source = f"jwt_path={self.jwt_path!r}" if self.jwt_path is not None else "jwt=<redacted>"
        return f"JwtAuth(role={self.role!r}, {source}, mount={self.mount!r})"


@dataclass(frozen=True, slots=True)
class KubernetesAuth:
    """Kubernetes login with the pod's service account token (the same request shape as JWT).

    Attributes:
        role: The Vault role to log in as.
        jwt_path: The service account token, read again at every login.
        mount: Where the Kubernetes auth method is mounted.
    """

    role: str
    jwt_path: str = KUBERNETES_JWT_PATH
    mount: str = "kubernetes"


VaultAuth: TypeAlias = TokenAuth | AppRoleAuth | JwtAuth | KubernetesAuth
"""How `VaultBackend` authenticates."""


# --- token lease -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Lease:
    """What we know about the current token's lifetime (monotonic seconds)."""

    period: float  # TTL granted at login (or the token's creation TTL); 0: never expires
    expires_at: float
    renewable: bool
    capped: bool = False  # a renewal came back short: the token's max TTL is near

    def due(self, now: float) -> bool:
        """Whether the token is in the last third of its TTL (time to renew or log in)."""
        return self.period > 0 and now >= self.expires_at - self.period * _REFRESH_FRACTION


_NEVER: Final = _Lease(period=0.0, expires_at=float("inf"), renewable=False)


# --- pure helpers ------------------------------------------------------------------------------


def secret_value(data: Mapping[str, Any]) -> str:
    """Turn the fields of a KV secret into the string `fetch` returns.

    A secret with exactly one field named ``value`` holding a string is that string; any other
    secret is its fields as JSON with sorted keys, so ``get_secret(name, field="password")``
    reads one field.

    Example:
        >>> secret_value({"value": "s3cret"})
        's3cret'
        >>> secret_value({"user": "app", "password": "pw"})
        '{"password": "pw", "user": "app"}'
    """
    if len(data) == 1 and isinstance(data.get("value"), str):
        return str(data["value"])
    return json.dumps(data, sort_keys=True)


def _version_number(key: str, version: str) -> int:
    """Parse an explicit version id (``"3"``); anything else names no version."""
    text = version.strip()
    if text.isascii() and text.isdigit() and int(text) > 0:
        return int(text)
    raise SecretNotFoundError(f"{key}@{version}", backend=VaultBackend.name)


def _parse_time(text: str) -> dt.datetime | None:
    """Parse Vault's RFC 3339 times (nanoseconds and ``Z`` included); None when unparsable."""
    stamp = text.strip()
    if stamp.endswith(("Z", "z")):
        stamp = stamp[:-1] + "+00:00"
    head, dot, rest = stamp.partition(".")
    if dot:  # Python parses at most microseconds: cut the fraction to 6 digits
        digits = len(rest) - len(rest.lstrip("0123456789"))
        stamp = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def _readable(version_meta: Mapping[str, Any], now: dt.datetime) -> bool:
    """Whether a KV v2 version's metadata says it can be read (neither destroyed nor deleted)."""
    if version_meta.get("destroyed"):
        return False
    deletion_time = version_meta.get("deletion_time") or ""
    if not deletion_time:
        return True
    deleted_at = _parse_time(str(deletion_time))
    # A deletion time in the future is a scheduled deletion (delete_version_after).
    return deleted_at is not None and deleted_at > now


def previous_version(metadata: Mapping[str, Any]) -> int | None:
    """Pick the version before the current one from KV v2 metadata, skipping unreadable ones.

    Args:
        metadata: The ``data`` of ``GET /v1/<mount>/metadata/<key>``.

    Returns:
        The highest version below ``current_version`` that is neither deleted nor destroyed,
        or None when there is none.
    """
    try:
        current = int(metadata.get("current_version") or 0)
    except (TypeError, ValueError):
        return None
    versions = metadata.get("versions")
    if not isinstance(versions, Mapping):
        return None
    now = dt.datetime.now(dt.UTC)
    for number in range(current - 1, 0, -1):
        meta = versions.get(str(number))
        if isinstance(meta, Mapping) and _readable(meta, now):
            return number
    return None


def _env_flag(environ: Mapping[str, str], name: str) -> bool | None:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return None
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}", field=name)


def _env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _require_env(environ: Mapping[str, str], name: str, why: str) -> str:
    value = _env(environ, name)
    if value is None:
        raise ConfigurationError(f"{name} is not set ({why})", field=name)
    return value


# --- the backend -------------------------------------------------------------------------------


class VaultBackend:
    """Secrets from a Vault or OpenBao KV engine. Needs ``pip install 'hardpoint[vault]'``.

    **Values.** A KV secret is a set of fields. `fetch` returns the one field's string when the
    secret has exactly one field named ``value`` (``vault kv put secret/db value=s3cret``);
    otherwise all fields as JSON text with sorted keys, so ``get_secret("db", field="password")``
    reads one of them.

    **Versions (KV v2).** ``None`` reads the current version; ``"previous"`` the highest version
    below the current one that is neither deleted nor destroyed (found in the secret's metadata,
    so it costs two requests and needs ``read`` on ``<mount>/metadata/<key>``); a number such as
    ``"3"`` that version. A deleted or destroyed version, or one that does not exist, raises
    `SecretNotFoundError`. `FetchedSecret.version` is the version number as a string. KV v1 has
    no versions: any *version* raises `SecretNotFoundError` (without a request), and
    `FetchedSecret.version` is None.

    **Tokens.** After a login (AppRole, JWT, Kubernetes) the backend remembers the token's TTL.
    Before each fetch, a token in the last third of its TTL is renewed (``renew-self``) while it
    is renewable and its max TTL allows, otherwise replaced by a new login. A fixed token is
    looked up once (``lookup-self``) and renewed the same way when renewable. When a read is
    refused (403/401) and the backend can log in, it logs in again once and repeats that read:
    the token may have expired or been revoked. Logins and renewals are serialised by a lock;
    concurrent fetches share one re-login. When a renewal or login fails while the current
    token has not expired yet, the fetch goes on with that token (and warns, at most once a
    minute); the next fetch tries again.

    **One attempt.** Each request has *timeout* seconds (connect, and between bytes read) and
    is never retried by hvac or requests; a fetch makes one read, plus a metadata read for
    ``"previous"`` and the login or renewal it needs. `SecretsManager` does the retrying.
    Errors: throttling (429), 5xx, a sealed server, timeouts and connection errors raise
    `BackendUnavailableError`; a missing path or version `SecretNotFoundError`; a refused token
    or login `SecretAccessDeniedError`.

    Args:
        url: The server, such as ``"https://vault.example.com:8200"``. Optional with *client*.
        mount: Where the KV secrets engine is mounted.
        kv_version: The KV engine's version, 1 or 2.
        auth: How to log in (`TokenAuth`, `AppRoleAuth`, `JwtAuth`, `KubernetesAuth`).
        token: A fixed token; short for ``auth=TokenAuth(token)``.
        client: A configured ``hvac.Client`` to use instead of building one (its URL, TLS
            settings, namespace and retries are then its own; its token is replaced when
            *token* or *auth* is given, and otherwise used as a fixed token). The backend
            does not close a client it was given.
        timeout: Seconds each HTTP request may take (connect, and wait for each read).
        namespace: Vault Enterprise / OpenBao namespace (``X-Vault-Namespace``).
        verify: Verify the server's TLS certificate (True), not at all (False), or against
            this CA bundle file.

    Raises:
        ConfigurationError: A bad option, no way to authenticate, or both *token* and *auth*.
        MissingDependencyError: hvac is not installed.
    """

    name = "vault"

    def __init__(
        self,
        *,
        url: str | None = None,
        mount: str = "secret",
        kv_version: Literal[1, 2] = 2,
        auth: VaultAuth | None = None,
        token: str | None = None,
        client: hvac.Client | None = None,
        timeout: float = 1.0,
        namespace: str | None = None,
        verify: bool | str = True,
    ) -> None:
        if kv_version not in (1, 2):
            raise ConfigurationError("kv_version must be 1 or 2", field="kv_version")
        if not timeout > 0:
            raise ConfigurationError("timeout must be positive", field="timeout")
        mount = mount.strip("/")
        if not mount:
            raise ConfigurationError("mount must name the KV secrets engine", field="mount")
        if token is not None and auth is not None:
            raise ConfigurationError("give token or auth, not both", field="token")
        if token is not None:
            if not token:
                raise ConfigurationError("token is empty", field="token")
            auth = TokenAuth(token)
        if client is None:
            if url is None:
                raise ConfigurationError("url is required without a client", field="url")
            if not url.startswith(("http://", "https://")):
                raise ConfigurationError("url must start with http:// or https://", field="url")
            if auth is None:
                raise ConfigurationError(
                    "VaultBackend needs token= or auth= (or a client holding a token)",
                    field="auth",
                )
        with requires_extra("vault", feature="VaultBackend"):
            import hvac
            import requests
            from requests.adapters import HTTPAdapter
        self.url = url if url is not None else str(client.url) if client is not None else ""
        self.mount = mount
        self.kv_version: Literal[1, 2] = kv_version
        self.auth = auth
        self.namespace = namespace
        self.timeout = timeout
        self._owns_client = client is None
        if client is None:
            session = requests.Session()
            # One attempt per request: SecretsManager owns retries and the overall deadline.
            for prefix in ("http://", "https://"):
                session.mount(
                    prefix,
                    HTTPAdapter(max_retries=0, pool_connections=1, pool_maxsize=_POOL_SIZE),
                )
            session.verify = verify  # hvac prefers a given session's own verify setting
            client = hvac.Client(
                url=url,
                token="",  # "" (not None) stops hvac from reading VAULT_TOKEN or ~/.vault-token
                verify=verify,
                timeout=timeout,  # type: ignore[arg-type]  # requests takes float seconds
                session=session,
                namespace=namespace,
            )
        if isinstance(auth, TokenAuth):
            client.token = auth.token
        self._client = client
        self._lock = threading.Lock()
        self._lease: _Lease | None = None  # None: not logged in (or fixed token not looked up)
        self._generation = 0  # bumped by every login, so concurrent re-logins collapse
        self._closed = False
        self._last_refresh_warning = -_WARN_INTERVAL

    def __repr__(self) -> str:
        return (
            f"VaultBackend(url={self.url!r}, mount={self.mount!r}, kv_version={self.kv_version}, "
            f"auth={self.auth!r}, namespace={self.namespace!r})"
        )

    @classmethod
    def from_env(
        cls, *, environ: Mapping[str, str] | None = None, timeout: float = 1.0
    ) -> VaultBackend:
        """Build a backend from ``VAULT_*`` environment variables.

        - ``VAULT_ADDR`` (required): the server URL.
        - Authentication, the first that is set: ``VAULT_TOKEN``; ``VAULT_ROLE_ID`` with
          ``VAULT_SECRET_ID`` (AppRole); ``VAULT_AUTH_ROLE`` with ``VAULT_JWT_PATH`` (JWT
          login with the token in that file) or without it (Kubernetes login with the pod's
          service account token). ``VAULT_AUTH_METHOD`` (``token``, ``approle``, ``jwt``,
          ``kubernetes``) picks one explicitly; ``VAULT_AUTH_MOUNT`` sets where the auth
          method is mounted (default: the method's name).
        - ``VAULT_NAMESPACE``, ``VAULT_MOUNT`` (default ``secret``), ``VAULT_KV_VERSION``
          (``1`` or ``2``, default ``2``).
        - TLS: ``VAULT_CACERT`` (a CA bundle file) or ``VAULT_SKIP_VERIFY=true``.

        Args:
            environ: Variables to read instead of ``os.environ``.
            timeout: Seconds each HTTP request may take.

        Raises:
            ConfigurationError: A required variable is missing or one has a bad value; its
                *field* names the variable.
            MissingDependencyError: hvac is not installed.
        """
        if environ is None:
            environ = os.environ
        url = _require_env(environ, "VAULT_ADDR", "the Vault server URL")
        if not url.startswith(("http://", "https://")):
            raise ConfigurationError(
                "VAULT_ADDR must start with http:// or https://", field="VAULT_ADDR"
            )
        auth = _auth_from_env(environ)
        raw_kv = _env(environ, "VAULT_KV_VERSION") or "2"
        if raw_kv not in ("1", "2"):
            raise ConfigurationError(
                f"VAULT_KV_VERSION must be 1 or 2, not {raw_kv!r}", field="VAULT_KV_VERSION"
            )
        verify: bool | str = True
        cacert = _env(environ, "VAULT_CACERT")
        if cacert is not None:
            verify = cacert
        if _env_flag(environ, "VAULT_SKIP_VERIFY"):
            verify = False
        return cls(
            url=url,
            mount=_env(environ, "VAULT_MOUNT") or "secret",
            kv_version=1 if raw_kv == "1" else 2,
            auth=auth,
            timeout=timeout,
            namespace=_env(environ, "VAULT_NAMESPACE"),
            verify=verify,
        )

    # --- reads ---------------------------------------------------------------------------

    def fetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Read *key* (a path under the mount, such as ``"app/db"``) in one attempt.

        Args:
            key: The secret's path inside the KV mount.
            version: None (current), ``"previous"``, or a version number (KV v2 only).

        Raises:
            SecretNotFoundError: No such secret or version, or it is deleted or destroyed.
            SecretAccessDeniedError: The token or the login was refused.
            BackendUnavailableError: Throttled, 5xx, sealed, timed out or unreachable.
        """
        path = key.strip("/")
        if not path or any(part in ("", ".", "..") for part in path.split("/")):
            raise SecretNotFoundError(key, backend=self.name)
        if version is not None and self.kv_version == 1:
            raise SecretNotFoundError(f"{key}@{version}", backend=self.name)
        number = None if version in (None, "previous") else _version_number(key, str(version))
        generation = self._ensure_token(key)
        try:
            return self._read(key, path, version, number)
        except SecretAccessDeniedError:
            if not self._can_login:
                raise
        logger.info("vault refused the token reading secret %s; logging in again", key)
        self._login_after_refusal(key, generation)
        return self._read(key, path, version, number)

    async def afetch(self, key: str, *, version: str | None = None) -> FetchedSecret:
        """Async twin of `fetch`: hvac has no async API, so it runs in a worker thread."""
        return await afetch_in_thread(self, key, version=version)

    def _read(self, key: str, path: str, version: str | None, number: int | None) -> FetchedSecret:
        kv = self._client.secrets.kv
        if self.kv_version == 1:
            response = self._call(key, lambda: kv.v1.read_secret(path=path, mount_point=self.mount))
            return FetchedSecret(secret_value(self._fields(key, response.get("data"))))
        if version == "previous":
            metadata = self._call(
                key,
                lambda: kv.v2.read_secret_metadata(path=path, mount_point=self.mount),
                what="metadata",
            )
            listing = metadata.get("data")
            number = previous_version(listing) if isinstance(listing, Mapping) else None
            if number is None:
                raise SecretNotFoundError(f"{key}@{version}", backend=self.name)
        name = key if version is None else f"{key}@{version}"
        response = self._call(
            name,
            lambda: kv.v2.read_secret_version(
                path=path,
                version=number,
                mount_point=self.mount,
                raise_on_deleted_version=True,
            ),
        )
        data = response.get("data")
        if not isinstance(data, Mapping):
            raise SecretNotFoundError(name, backend=self.name)
        meta = data.get("metadata")
        found = meta.get("version") if isinstance(meta, Mapping) else None
        value = secret_value(self._fields(name, data.get("data")))
        return FetchedSecret(value, None if found is None else str(found))

    def _fields(self, name: str, data: object) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):  # a deleted KV v2 version has "data": null
            raise SecretNotFoundError(name, backend=self.name)
        return data

    def _call(
        self, key: str, request: Callable[[], object], *, what: str = "secret"
    ) -> Mapping[str, Any]:
        """Run one hvac request and translate its failures; return the JSON body."""
        import requests

        try:
            response = request()
        except Exception as exc:
            self._raise_translated(exc, key, what)
        body: object = response
        if isinstance(response, requests.Response):  # a client with hvac's RawAdapter
            if response.status_code != 200:
                self._unexpected(key, f"HTTP {response.status_code}")
            try:
                body = response.json()
            except ValueError:
                self._unexpected(key, "a body that is not JSON")
        if not isinstance(body, Mapping):
            self._unexpected(key, "a body that is not a JSON object")
        return body

    def _unexpected(self, key: str, what: str) -> NoReturn:
        # Never quote the body: it may hold the secret.
        raise BackendUnavailableError(
            f"vault answered the read of secret {key!r} with {what}", backend=self.name
        )

    def _raise_translated(self, exc: Exception, key: str, what: str) -> NoReturn:
        """Re-raise an hvac or requests failure as one of our three errors."""
        import hvac.exceptions as hvac_errors
        import requests

        if isinstance(exc, hvac_errors.InvalidPath):
            raise SecretNotFoundError(key, backend=self.name) from exc
        if isinstance(exc, hvac_errors.Forbidden | hvac_errors.Unauthorized):
            reason = "permission denied" + (" (reading metadata)" if what == "metadata" else "")
            raise SecretAccessDeniedError(key, backend=self.name, reason=reason) from exc
        if isinstance(exc, hvac_errors.InvalidRequest):
            # 400 on a read: Vault does not understand the path or version we asked for.
            raise SecretNotFoundError(key, backend=self.name) from exc
        if isinstance(exc, hvac_errors.VaultError):
            status = _status(exc)
            raise BackendUnavailableError(
                f"vault failed to read secret {key!r}: {status}", backend=self.name
            ) from exc
        if isinstance(exc, requests.RequestException):
            raise BackendUnavailableError(
                f"vault did not answer the read of secret {key!r} within {self.timeout} s or "
                f"could not be reached ({type(exc).__name__})",
                backend=self.name,
            ) from exc
        raise BackendUnavailableError(
            f"vault read of secret {key!r} failed unexpectedly ({type(exc).__name__})",
            backend=self.name,
        ) from exc

    # --- tokens --------------------------------------------------------------------------

    @property
    def _can_login(self) -> bool:
        return self.auth is not None and not isinstance(self.auth, TokenAuth)

    def _ensure_token(self, key: str) -> int:
        """Log in, renew or look the token up when needed; return the token's generation."""
        lease = self._lease
        if lease is not None and not lease.due(time.monotonic()):
            return self._generation
        with self._lock:
            lease = self._lease
            if lease is None:
                if self._can_login:
                    self._login(key)
                else:
                    self._lookup(key)
            elif lease.due(time.monotonic()):
                try:
                    self._refresh(key, lease)
                except (BackendUnavailableError, SecretAccessDeniedError) as exc:
                    if time.monotonic() >= lease.expires_at:
                        raise
                    # The token still works: read with it, and try again at the next fetch.
                    self._warn_refresh_failed(exc)
            return self._generation

    def _warn_refresh_failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_refresh_warning >= _WARN_INTERVAL:
            self._last_refresh_warning = now
            logger.warning(
                "vault token renewal or login failed (%s); using the current token until it "
                "expires",
                type(exc).__name__,
            )

    def _refresh(self, key: str, lease: _Lease) -> None:
        """Renew the token while it is renewable and its max TTL allows, else log in again."""
        if lease.renewable and not lease.capped:
            renewed = self._renew(key, lease)
            if renewed is not None:
                self._lease = renewed
                if not renewed.due(time.monotonic()):
                    return
        if self._can_login:
            self._login(key)
        else:
            # A fixed token that cannot be renewed any more: use it until Vault refuses it.
            self._lease = _NEVER

    def _renew(self, key: str, lease: _Lease) -> _Lease | None:
        """Renew the token; None when Vault refuses (past its max TTL, expired, revoked)."""
        import hvac.exceptions as hvac_errors

        started = time.monotonic()
        try:
            response = self._client.auth.token.renew_self()
        except hvac_errors.VaultError as exc:
            if isinstance(exc, hvac_errors.RateLimitExceeded):
                self._raise_translated(exc, key, "renew")
            # OpenBao answers 500 past the max TTL, 403 once the token is gone.
            logger.debug("vault token renewal refused (%s)", _status(exc))
            return None
        except Exception as exc:
            self._raise_translated(exc, key, "renew")
        auth = response.get("auth") if isinstance(response, Mapping) else None
        if not isinstance(auth, Mapping):
            return None
        duration = float(auth.get("lease_duration") or 0)
        logger.debug("vault token renewed for %s s", duration)
        return _Lease(
            period=lease.period,
            expires_at=started + duration,
            renewable=bool(auth.get("renewable")),
            capped=duration < lease.period,  # Vault shortened it: the max TTL is near
        )

    def _lookup(self, key: str) -> None:
        """Learn a fixed token's TTL (once); a refused lookup leaves the token unmanaged."""
        import hvac.exceptions as hvac_errors

        started = time.monotonic()
        try:
            response = self._client.auth.token.lookup_self()
        except (hvac_errors.Forbidden, hvac_errors.Unauthorized, hvac_errors.InvalidPath):
            # The read will say whether the token works at all.
            self._lease = _NEVER
            return
        except Exception as exc:
            self._raise_translated(exc, key, "lookup")
        data = response.get("data") if isinstance(response, Mapping) else None
        if not isinstance(data, Mapping):
            self._lease = _NEVER
            return
        ttl = float(data.get("ttl") or 0)
        period = float(data.get("creation_ttl") or ttl)
        if ttl <= 0:
            self._lease = _NEVER
            return
        self._lease = _Lease(
            period=period, expires_at=started + ttl, renewable=bool(data.get("renewable"))
        )
        logger.debug("vault token has %s s left (renewable: %s)", ttl, self._lease.renewable)

    def _login_after_refusal(self, key: str, generation: int) -> None:
        with self._lock:
            if self._generation == generation:  # nobody logged in since our read began
                self._login(key)

    def _login(self, key: str) -> None:
        """Log in with the configured method and remember the new token's lease."""
        import hvac.exceptions as hvac_errors
        import requests

        auth = self.auth
        if not isinstance(auth, AppRoleAuth | JwtAuth | KubernetesAuth):  # pragma: no cover
            return  # _can_login excludes fixed tokens
        started = time.monotonic()
        try:
            if isinstance(auth, AppRoleAuth):
                response = self._client.auth.approle.login(
                    role_id=auth.role_id, secret_id=auth.secret_id, mount_point=auth.mount
                )
            else:
                jwt = auth.jwt if isinstance(auth, JwtAuth) else None
                if jwt is None:
                    jwt = self._read_jwt(key, auth.jwt_path or KUBERNETES_JWT_PATH)
                if isinstance(auth, KubernetesAuth):
                    response = self._client.auth.kubernetes.login(
                        role=auth.role, jwt=jwt, mount_point=auth.mount
                    )
                else:
                    response = self._client.auth.jwt.jwt_login(
                        role=auth.role, jwt=jwt, path=auth.mount
                    )
        except (
            hvac_errors.Forbidden,
            hvac_errors.Unauthorized,
            hvac_errors.InvalidRequest,
            hvac_errors.InvalidPath,
        ) as exc:
            method = type(auth).__name__
            raise SecretAccessDeniedError(
                key,
                backend=self.name,
                reason=f"{method} login at auth/{auth.mount} refused ({_status(exc)})",
            ) from exc
        except (hvac_errors.VaultError, requests.RequestException) as exc:
            self._raise_translated(exc, key, "login")
        login = response.get("auth") if isinstance(response, Mapping) else None
        if not isinstance(login, Mapping) or not login.get("client_token"):
            self._unexpected(key, "a login response without a token")
        self._client.token = str(login["client_token"])
        ttl = float(login.get("lease_duration") or 0)
        self._lease = (
            _Lease(period=ttl, expires_at=started + ttl, renewable=bool(login.get("renewable")))
            if ttl > 0
            else _NEVER
        )
        self._generation += 1
        logger.debug(
            "vault login with %s at auth/%s: token for %s s", type(auth).__name__, auth.mount, ttl
        )

    def _read_jwt(self, key: str, path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretAccessDeniedError(
                key,
                backend=self.name,
                reason=f"cannot read the JWT file {path!r} ({type(exc).__name__})",
            ) from None

    # --- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Close the HTTP connections of the client this backend created (not a given one).

        The token is not revoked: it expires at the end of its TTL.
        """
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            self._client.adapter.close()

    async def aclose(self) -> None:
        """Async twin of `close` (closing never blocks)."""
        self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _status(exc: Exception) -> str:
    """``"HTTP 429"`` and the like, from an hvac exception's class (never its body)."""
    import hvac.exceptions as hvac_errors

    statuses: dict[type[Exception], str] = {
        hvac_errors.InvalidRequest: "HTTP 400",
        hvac_errors.Unauthorized: "HTTP 401",
        hvac_errors.Forbidden: "HTTP 403",
        hvac_errors.InvalidPath: "HTTP 404",
        hvac_errors.RateLimitExceeded: "HTTP 429, throttled",
        hvac_errors.InternalServerError: "HTTP 500",
        hvac_errors.VaultNotInitialized: "HTTP 501, not initialized",
        hvac_errors.BadGateway: "HTTP 502",
        hvac_errors.VaultDown: "HTTP 503, sealed or unavailable",
    }
    return statuses.get(type(exc), type(exc).__name__)


def _auth_from_env(environ: Mapping[str, str]) -> VaultAuth:
    method = (_env(environ, "VAULT_AUTH_METHOD") or "").lower()
    if not method:
        if _env(environ, "VAULT_TOKEN"):
            method = "token"
        elif _env(environ, "VAULT_ROLE_ID"):
            method = "approle"
        elif _env(environ, "VAULT_AUTH_ROLE"):
            method = "jwt" if _env(environ, "VAULT_JWT_PATH") else "kubernetes"
        else:
            raise ConfigurationError(
                "VAULT_TOKEN is not set (nor VAULT_ROLE_ID/VAULT_SECRET_ID for AppRole, nor "
                "VAULT_AUTH_ROLE for JWT or Kubernetes login)",
                field="VAULT_TOKEN",
            )
    mount = _env(environ, "VAULT_AUTH_MOUNT")
    if method == "token":
        return TokenAuth(_require_env(environ, "VAULT_TOKEN", "token authentication"))
    if method == "approle":
        return AppRoleAuth(
            role_id=_require_env(environ, "VAULT_ROLE_ID", "AppRole login"),
            secret_id=_require_env(environ, "VAULT_SECRET_ID", "AppRole login"),
            mount=mount or "approle",
        )
    if method == "jwt":
        return JwtAuth(
            role=_require_env(environ, "VAULT_AUTH_ROLE", "JWT login"),
            jwt_path=_require_env(environ, "VAULT_JWT_PATH", "JWT login"),
            mount=mount or "jwt",
        )
    if method == "kubernetes":
        return KubernetesAuth(
            role=_require_env(environ, "VAULT_AUTH_ROLE", "Kubernetes login"),
            jwt_path=_env(environ, "VAULT_JWT_PATH") or KUBERNETES_JWT_PATH,
            mount=mount or "kubernetes",
        )
    raise ConfigurationError(
        f"VAULT_AUTH_METHOD must be token, approle, jwt or kubernetes, not {method!r}",
        field="VAULT_AUTH_METHOD",
    )
