"""An HTTPS Azure Key Vault endpoint on loopback, for testing the Azure secret backend.

No Key Vault emulator is installable here (Lowkey Vault is not on the reachable registries), so
this module implements the part of the Key Vault REST API that the secrets SDK uses, with the
real service's wire format, and drives it with the real ``azure-keyvault-secrets`` clients:

- TLS with a throwaway CA and a leaf certificate for ``127.0.0.1`` (made with ``cryptography``);
  clients pass ``connection_verify=server.ca_path``.
- The bearer challenge: a request without ``Authorization`` gets ``401`` with
  ``WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/TENANT",
  resource="https://vault.azure.net"``; an unknown token gets ``401`` too, and a known token
  without the needed permission gets ``403 Forbidden`` (inner code ``AccessDenied``).
- ``PUT /secrets/{name}`` (new version), ``GET /secrets/{name}[/{version}]``,
  ``GET /secrets/{name}/versions`` (paged, 25 a page, ``nextLink``), ``PATCH
  /secrets/{name}[/{version}]`` (attributes, content type, tags); ``api-version`` is required.
- Key Vault's error bodies: ``404 SecretNotFound``; a disabled version answers ``403`` with code
  ``Forbidden``, message ``Operation get is not allowed on a disabled secret.`` and inner code
  ``SecretDisabled``, as the real service does; throttling is ``429 Throttled`` with
  ``Retry-After``.
- Faults and counters: :meth:`KeyVaultServer.fail_next` makes the next *n* authenticated
  requests fail (``throttle``, ``outage``, ``latency``, ``disconnect``), and
  :meth:`KeyVaultServer.calls` counts requests per operation.

The module imports neither pytest nor the Azure SDK at module level, so another test module can
import it and skip when something is missing::

    with start_key_vault_server() as server:
        server.put_secret("db-password", "s3cr3t")
        backend = AzureKeyVaultBackend(
            vault_url=server.url, credential=server.credential(), **server.client_options()
        )
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import logging
import re
import select
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Self
from urllib.parse import parse_qs, unquote, urlsplit

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken
    from azure.keyvault.secrets import SecretClient

__all__ = [
    "ALL_PERMISSIONS",
    "DEFAULT_TOKEN",
    "TENANT_ID",
    "AsyncStaticTokenCredential",
    "FaultKind",
    "KeyVaultServer",
    "StaticTokenCredential",
    "make_certificates",
    "start_key_vault_server",
]

logger = logging.getLogger(__name__)

LOOPBACK: Final = "127.0.0.1"
DEFAULT_TOKEN: Final = "tok"  # noqa: S105 - a test token
TENANT_ID: Final = "00000000-0000-0000-0000-00000000abcd"
ALL_PERMISSIONS: Final = frozenset({"get", "list", "set"})
PAGE_SIZE: Final = 25  # Key Vault's default and largest page of a list operation
SERVICE_VERSION: Final = "1.9.1234.1"
_NAME_RE: Final = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_CHALLENGE: Final = (
    f'Bearer authorization="https://login.microsoftonline.com/{TENANT_ID}", '
    'resource="https://vault.azure.net"'
)

FaultKind = Literal["throttle", "outage", "latency", "disconnect"]

# Which permission each operation needs, as in a Key Vault access policy.
_PERMISSION_BY_OP: Final = {"get": "get", "list_versions": "list", "set": "set", "update": "set"}


# --- TLS ---------------------------------------------------------------------------------------


def make_certificates(directory: Path, *, host: str = LOOPBACK) -> tuple[Path, Path, Path]:
    """Write a throwaway CA and a server certificate for *host* into *directory*.

    Returns:
        ``(ca_path, cert_path, key_path)``: the CA certificate (what clients verify against),
        the server certificate and its private key, all PEM.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    not_before, not_after = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=1)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hardpoint test Key Vault CA")])
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server-key.pem",
    )
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


# --- credentials -------------------------------------------------------------------------------


class StaticTokenCredential:
    """A ``TokenCredential`` that always hands out the same bearer token.

    Attributes:
        token: The token it returns.
        requests: How many times the SDK asked for a token.
        closed: Whether :meth:`close` was called.
    """

    def __init__(self, token: str = DEFAULT_TOKEN, *, lifetime: int = 3600) -> None:
        self.token = token
        self.lifetime = lifetime
        self.requests = 0
        self.closed = False

    def __repr__(self) -> str:
        return f"<StaticTokenCredential requests={self.requests}>"

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """Return the token, valid for ``lifetime`` seconds from now."""
        from azure.core.credentials import AccessToken

        self.requests += 1
        return AccessToken(self.token, int(time.time()) + self.lifetime)

    def close(self) -> None:
        """Record that the owner closed the credential."""
        self.closed = True


class AsyncStaticTokenCredential:
    """The ``AsyncTokenCredential`` twin of :class:`StaticTokenCredential`."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, lifetime: int = 3600) -> None:
        self.token = token
        self.lifetime = lifetime
        self.requests = 0
        self.closed = False

    def __repr__(self) -> str:
        return f"<AsyncStaticTokenCredential requests={self.requests}>"

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """Return the token, valid for ``lifetime`` seconds from now."""
        from azure.core.credentials import AccessToken

        self.requests += 1
        return AccessToken(self.token, int(time.time()) + self.lifetime)

    async def close(self) -> None:
        """Record that the owner closed the credential."""
        self.closed = True

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.close()


# --- the vault ---------------------------------------------------------------------------------


@dataclass
class _Version:
    version: str
    value: str
    enabled: bool
    created: int
    updated: int
    content_type: str | None = None
    tags: dict[str, str] | None = None


@dataclass
class _Secret:
    name: str  # as first created: Key Vault names are case-insensitive but keep their case
    versions: list[_Version] = field(default_factory=list)  # in creation order

    @property
    def current(self) -> _Version:
        return self.versions[-1]

    def find(self, version: str) -> _Version | None:
        return next((item for item in self.versions if item.version == version.lower()), None)


@dataclass(frozen=True)
class _Fault:
    kind: FaultKind
    delay: float
    status: int
    retry_after: int


@dataclass
class _Reply:
    status: int
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    disconnect: bool = False


def _error(status: int, code: str, message: str, *, inner: str | None = None) -> _Reply:
    error: dict[str, object] = {"code": code, "message": message}
    if inner is not None:
        error["innererror"] = {"code": inner}
    return _Reply(status, {"error": error})


def _not_found(name: str, version: str | None = None) -> _Reply:
    what = f"{name}/{version}" if version else name
    return _error(
        404,
        "SecretNotFound",
        f"A secret with (name/id) {what} was not found in this key vault. If you recently "
        "deleted this secret you may be able to recover it using the correct recovery command. "
        "For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182",
    )


def _disabled() -> _Reply:
    return _error(
        403,
        "Forbidden",
        "Operation get is not allowed on a disabled secret.",
        inner="SecretDisabled",
    )


class KeyVaultServer:
    """A Key Vault secrets endpoint over HTTPS on loopback; a context manager.

    Start it with :func:`start_key_vault_server`. Everything is in memory and thread-safe.

    Attributes:
        url: ``https://127.0.0.1:PORT``, the vault URL to give the clients.
        ca_path: PEM file of the CA that signed the server certificate, for
            ``connection_verify``.
    """

    def __init__(self, *, directory: Path, host: str = LOOPBACK) -> None:
        self._directory = directory
        self.ca_path, cert_path, key_path = make_certificates(directory, host=host)
        self._ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ssl_context.load_cert_chain(cert_path, key_path)
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._secrets: dict[str, _Secret] = {}
        self._tokens: dict[str, frozenset[str]] = {}
        self._faults: deque[_Fault | None] = deque()  # None lets one request through
        self._calls: Counter[str] = Counter()
        self._reset_tokens()
        self._httpd = _HTTPSServer((host, 0), _Handler, vault=self, ssl_context=self._ssl_context)
        self.host = host
        self.port = self._httpd.server_address[1]
        self.url = f"https://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<KeyVaultServer {self.url}>"

    # --- lifecycle ---

    def start(self) -> None:
        """Serve requests in a background thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"key-vault-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving, drop open connections, wait for handler threads, delete the files."""
        self.stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.drop_connections()
        self._httpd.server_close()  # joins the handler threads
        for path in self._directory.iterdir():
            path.unlink()
        self._directory.rmdir()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- the Python API for tests ---

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments every ``SecretClient`` (sync or aio) needs for this server."""
        return {"verify_challenge_resource": False, "connection_verify": str(self.ca_path)}

    def credential(self, token: str = DEFAULT_TOKEN) -> StaticTokenCredential:
        """A sync credential that presents *token* (the default one is allowed everything)."""
        return StaticTokenCredential(token)

    def async_credential(self, token: str = DEFAULT_TOKEN) -> AsyncStaticTokenCredential:
        """An async credential that presents *token*."""
        return AsyncStaticTokenCredential(token)

    def client(self, *, token: str = DEFAULT_TOKEN, **kwargs: Any) -> SecretClient:
        """A real sync ``SecretClient`` for this server, with the SDK's retries off."""
        from azure.keyvault.secrets import SecretClient

        options: dict[str, Any] = {"retry_total": 0, **self.client_options(), **kwargs}
        return SecretClient(vault_url=self.url, credential=self.credential(token), **options)

    def put_secret(
        self,
        name: str,
        value: str,
        *,
        enabled: bool = True,
        content_type: str | None = None,
        tags: Mapping[str, str] | None = None,
        created: int | None = None,
    ) -> str:
        """Add a version to *name* (creating the secret) and return its version id.

        Args:
            name: Key Vault secret name (letters, digits and ``-``).
            value: The new value; it becomes the current version.
            enabled: Create the version disabled when False.
            content_type: Optional content type, such as ``"application/json"``.
            tags: Optional tags.
            created: Creation time in Unix seconds; by default now (Key Vault's timestamps are
                whole seconds, so versions made within one second tie).
        """
        if not _NAME_RE.match(name):
            msg = f"invalid Key Vault secret name {name!r}"
            raise ValueError(msg)
        with self._lock:
            return self._add_version(name, value, enabled, content_type, tags, created).version

    new_version = put_secret

    def set_enabled(self, name: str, version: str | None = None, *, enabled: bool) -> None:
        """Enable or disable a version of *name* (by default the current one)."""
        with self._lock:
            secret = self._secrets[name.lower()]
            item = secret.current if version is None else secret.find(version)
            if item is None:
                raise KeyError(version)
            item.enabled = enabled
            item.updated = int(time.time())

    def delete_secret(self, name: str) -> None:
        """Delete *name* and all its versions, as a soft delete looks to ``GET``: 404."""
        with self._lock:
            del self._secrets[name.lower()]

    def version_ids(self, name: str) -> list[str]:
        """Version ids of *name*, oldest first."""
        with self._lock:
            return [item.version for item in self._secrets[name.lower()].versions]

    def current_version(self, name: str) -> str:
        """The current (newest) version id of *name*."""
        with self._lock:
            return self._secrets[name.lower()].current.version

    def add_token(self, token: str, *, permissions: Iterable[str] = ALL_PERMISSIONS) -> None:
        """Accept *token*, granting *permissions* (``get``, ``list``, ``set``)."""
        with self._lock:
            self._tokens[token] = frozenset(permissions)

    def revoke_token(self, token: str) -> None:
        """Stop accepting *token*: requests with it get ``401``."""
        with self._lock:
            self._tokens.pop(token, None)

    def fail_next(
        self,
        n: int = 1,
        kind: FaultKind = "outage",
        *,
        delay: float = 2.0,
        status: int | None = None,
        retry_after: int = 1,
        after: int = 0,
    ) -> None:
        """Make the next *n* authenticated requests fail.

        The challenge round trip of a new client (a request without ``Authorization``) is
        never faulted, so a fault always hits a real operation.

        Args:
            n: How many requests to fail; faults queue up behind earlier ones.
            kind: ``"throttle"``: ``429`` with code ``Throttled`` and ``Retry-After``;
                ``"outage"``: ``503 ServiceUnavailable`` (or *status*); ``"latency"``: wait
                *delay* seconds, then answer normally; ``"disconnect"``: close the connection
                without answering.
            delay: Seconds of added latency for ``"latency"``.
            status: HTTP status for ``"outage"`` (default 503).
            retry_after: ``Retry-After`` seconds for ``"throttle"``.
            after: How many authenticated requests to let through first.
        """
        if kind not in ("throttle", "outage", "latency", "disconnect"):
            msg = f"unknown fault kind {kind!r}"
            raise ValueError(msg)
        fault = _Fault(kind, delay, status or 503, retry_after)
        with self._lock:
            self._faults.extend([None] * after + [fault] * n)

    def pending_faults(self) -> int:
        """How many queued faults have not hit a request yet."""
        with self._lock:
            return sum(fault is not None for fault in self._faults)

    def calls(self, op: str | None = None) -> int:
        """How many requests the server saw for *op*, or in all when *op* is None.

        Operations: ``get`` (a secret's value, current or a version), ``list_versions``,
        ``set`` (``PUT``), ``update`` (``PATCH``), ``challenge`` (a request without a token,
        answered with the bearer challenge), ``unauthorized`` (an unknown token) and ``other``
        (any other route). A faulted request counts under its operation.
        """
        with self._lock:
            return self._calls.total() if op is None else self._calls[op]

    def clear_calls(self) -> None:
        """Set every counter back to zero."""
        with self._lock:
            self._calls.clear()

    def clear_faults(self) -> None:
        """Drop the faults not yet served."""
        with self._lock:
            self._faults.clear()

    def reset(self) -> None:
        """Forget every secret, fault, counter and extra token."""
        with self._lock:
            self._secrets.clear()
            self._faults.clear()
            self._calls.clear()
            self._reset_tokens()

    # --- the HTTP side ---

    def _reset_tokens(self) -> None:
        self._tokens = {DEFAULT_TOKEN: ALL_PERMISSIONS}

    def _add_version(
        self,
        name: str,
        value: str,
        enabled: bool,
        content_type: str | None,
        tags: Mapping[str, str] | None,
        created: int | None,
    ) -> _Version:
        secret = self._secrets.setdefault(name.lower(), _Secret(name))
        stamp = int(time.time()) if created is None else created
        item = _Version(
            version=uuid.uuid4().hex,
            value=value,
            enabled=enabled,
            created=stamp,
            updated=stamp,
            content_type=content_type,
            tags=dict(tags) if tags is not None else None,
        )
        secret.versions.append(item)
        return item

    def _bundle(self, secret: _Secret, item: _Version, *, with_value: bool) -> dict[str, object]:
        bundle: dict[str, object] = {
            "id": f"{self.url}/secrets/{secret.name}/{item.version}",
            "attributes": {
                "enabled": item.enabled,
                "created": item.created,
                "updated": item.updated,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
        }
        if with_value:
            bundle["value"] = item.value
        if item.content_type is not None:
            bundle["contentType"] = item.content_type
        if item.tags is not None:
            bundle["tags"] = dict(item.tags)
        return bundle

    def handle(self, method: str, target: str, authorization: str | None, body: bytes) -> _Reply:
        """Answer one request (called from a handler thread)."""
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        segments = [unquote(part) for part in parts.path.split("/")[1:]]
        op, name, version = _route(method, segments)
        with self._lock:
            if not authorization:
                self._calls["challenge"] += 1
                reply = _error(
                    401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."
                )
                reply.headers["WWW-Authenticate"] = _CHALLENGE
                return reply
            self._calls[op] += 1
            fault = self._faults.popleft() if self._faults else None
            if fault is not None and fault.kind != "latency":
                return _fault_reply(fault)
            delay = fault.delay if fault is not None else 0.0
            reply = self._authorized(op, name, version, authorization, query, body)
        reply.delay = delay
        return reply

    def _authorized(
        self,
        op: str,
        name: str | None,
        version: str | None,
        authorization: str,
        query: Mapping[str, list[str]],
        body: bytes,
    ) -> _Reply:
        scheme, _, token = authorization.partition(" ")
        permissions = self._tokens.get(token) if scheme.lower() == "bearer" else None
        if permissions is None:
            self._calls["unauthorized"] += 1
            reply = _error(401, "Unauthorized", "AKV10032: Invalid issuer or token.")
            reply.headers["WWW-Authenticate"] = _CHALLENGE
            return reply
        api_version = query.get("api-version", [""])[0]
        if not api_version:
            return _error(400, "BadParameter", "The api-version query parameter is missing.")
        if op == "other" or name is None:
            return _error(404, "NotFound", "The requested resource was not found.")
        if not _NAME_RE.match(name):
            return _error(400, "BadParameter", f"The request URI contains an invalid name: {name}")
        needed = _PERMISSION_BY_OP[op]
        if needed not in permissions:
            return _error(
                403,
                "Forbidden",
                f"The user, group or application does not have secrets {needed} permission on "
                "key vault 'hardpoint-test'. For help resolving this issue, please see "
                "https://go.microsoft.com/fwlink/?linkid=2125287",
                inner="AccessDenied",
            )
        if op == "set":
            return self._set(name, body)
        secret = self._secrets.get(name.lower())
        if secret is None:
            return _not_found(name, version)
        if op == "list_versions":
            return self._list_versions(secret, query, api_version)
        item = secret.current if not version else secret.find(version)
        if item is None:
            return _not_found(name, version)
        if op == "update":
            return self._update(secret, item, body)
        if not item.enabled:
            return _disabled()
        return _Reply(200, self._bundle(secret, item, with_value=True))

    def _set(self, name: str, body: bytes) -> _Reply:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None
        if not isinstance(payload, dict) or not isinstance(payload.get("value"), str):
            return _error(400, "BadParameter", "The request body must contain a string value.")
        attributes = payload.get("attributes") or {}
        item = self._add_version(
            name,
            payload["value"],
            attributes.get("enabled", True) is not False,
            payload.get("contentType"),
            payload.get("tags"),
            None,
        )
        return _Reply(200, self._bundle(self._secrets[name.lower()], item, with_value=True))

    def _update(self, secret: _Secret, item: _Version, body: bytes) -> _Reply:
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return _error(400, "BadParameter", "The request body is not valid JSON.")
        attributes = payload.get("attributes") or {}
        if "enabled" in attributes:
            item.enabled = bool(attributes["enabled"])
        if "contentType" in payload:
            item.content_type = payload["contentType"]
        if "tags" in payload:
            item.tags = payload["tags"]
        item.updated = int(time.time())
        return _Reply(200, self._bundle(secret, item, with_value=False))

    def _list_versions(
        self, secret: _Secret, query: Mapping[str, list[str]], api_version: str
    ) -> _Reply:
        try:
            size = int(query.get("maxresults", [str(PAGE_SIZE)])[0])
            start = int(query.get("$skiptoken", ["0"])[0])
        except ValueError:
            return _error(400, "BadParameter", "maxresults and $skiptoken must be integers.")
        size = max(1, min(size, PAGE_SIZE))
        # The real service lists versions in no useful order (by id): clients must sort.
        items = sorted(secret.versions, key=lambda item: item.version)
        page = items[start : start + size]
        next_link = None
        if start + size < len(items):
            next_link = (
                f"{self.url}/secrets/{secret.name}/versions?api-version={api_version}"
                f"&$skiptoken={start + size}&maxresults={size}"
            )
        value = [self._bundle(secret, item, with_value=False) for item in page]
        return _Reply(200, {"value": value, "nextLink": next_link})


def _route(method: str, segments: list[str]) -> tuple[str, str | None, str | None]:
    """Map a request to ``(operation, secret name, version)``."""
    if len(segments) < 2 or segments[0] != "secrets" or not segments[1]:
        return "other", None, None
    name = segments[1]
    rest = [part for part in segments[2:] if part]
    if len(rest) > 1:
        return "other", None, None
    version = rest[0] if rest else None
    if method == "GET":
        return ("list_versions", name, None) if version == "versions" else ("get", name, version)
    if method == "PUT" and version is None:
        return "set", name, None
    if method == "PATCH":
        return "update", name, version
    return "other", None, None


def _fault_reply(fault: _Fault) -> _Reply:
    if fault.kind == "throttle":
        reply = _error(
            429,
            "Throttled",
            "Request was not processed because too many requests were received. "
            "Reason: VaultRequestTypeLimitReached",
        )
        reply.headers["Retry-After"] = str(fault.retry_after)
        return reply
    if fault.kind == "disconnect":
        return _Reply(0, disconnect=True)
    return _error(fault.status, "ServiceUnavailable", "The service is temporarily unavailable.")


class _HTTPSServer(ThreadingHTTPServer):
    """A threading HTTP server that speaks TLS and can drop its open connections."""

    daemon_threads = False  # so server_close() joins the handler threads
    block_on_close = True
    request_queue_size = 256  # listen backlog: 64 concurrent readers must not see SYN drops

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        *,
        vault: KeyVaultServer,
        ssl_context: ssl.SSLContext,
    ) -> None:
        self.vault = vault
        self.ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        # The handshake runs in the handler thread (see _Handler.setup), not in the accept loop.
        tls = self.ssl_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        with self._connections_lock:
            self._connections.add(tls)
        return tls, address

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Shut down every open connection so that its handler thread ends."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or disconnect are part of the tests: no traceback on stderr.
        logger.debug("key vault test server: error while serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pools expect
    server: _HTTPSServer
    timeout = 30  # seconds a connection may sit idle

    def setup(self) -> None:
        self.request.settimeout(self.timeout)
        self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: request lines belong to no test's output."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _wait(self, delay: float) -> bool:
        """Sleep *delay* seconds; False as soon as the client hangs up or the server stops.

        A client that gave up (a read timeout) closes its end: TLS clients then wait for our
        close, so hang up too rather than keep them waiting until the delay is over.
        """
        deadline = time.monotonic() + delay
        while (remaining := deadline - time.monotonic()) > 0:
            if self.server.vault.stopping.is_set():
                return False
            readable, _, _ = select.select([self.request], [], [], min(remaining, 0.05))
            if readable:  # no pipelining: anything readable now is a close_notify or a FIN
                return False
        return True

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        vault = self.server.vault
        reply = vault.handle(method, self.path, self.headers.get("Authorization"), body)
        if reply.delay and not self._wait(reply.delay):
            reply = _Reply(0, disconnect=True)
        if reply.disconnect:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.request.shutdown(socket.SHUT_RDWR)
            return
        data = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-keyvault-service-version", SERVICE_VERSION)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@contextlib.contextmanager
def start_key_vault_server(*, host: str = LOOPBACK) -> Iterator[KeyVaultServer]:
    """Start a :class:`KeyVaultServer` on a free port of *host*; stop it on exit.

    Raises:
        ModuleNotFoundError: ``cryptography`` is not installed (needed for the certificate).
    """
    directory = Path(tempfile.mkdtemp(prefix="hardpoint-keyvault-"))
    try:
        server = KeyVaultServer(directory=directory, host=host)
    except BaseException:
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()
        raise
    with server:
        server.start()
        yield server
