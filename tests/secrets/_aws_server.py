"""AWS Secrets Manager on loopback: moto in server mode behind a fault-injecting proxy.

moto's ``ThreadedMotoServer`` runs in this process; a small HTTP reverse proxy in front of it
counts requests per operation (the ``X-Amz-Target`` header) and can answer the next requests
with faults shaped as AWS sends them. Point the code under test at :attr:`endpoint_url` (the
proxy); seed data with :meth:`AwsSecretsServer.put_secret` and friends, which talk to moto
directly and so are neither counted nor faulted.

    with start_aws_secrets_server() as server:
        server.put_secret("db-password", "hunter2")
        server.fail_next(2, kind="throttle")
        ...
        assert server.calls("get") == 3

No pytest import at module level: ``tests/secrets/test_aws.py`` wraps this in a fixture, and
other tests (``test_manager.py``) or scripts can start it themselves. moto's state is global to
the process, so two servers in one process share their secrets: use fresh names per test.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import socket
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from typing import TYPE_CHECKING, Any, Final, Literal, Self

from _servers import LOOPBACK, ServerNotFoundError

if TYPE_CHECKING:
    from types_boto3_secretsmanager import SecretsManagerClient

__all__ = [
    "ACCESS_KEY",
    "REGION",
    "SECRET_KEY",
    "AwsSecretsServer",
    "FaultKind",
    "start_aws_secrets_server",
]

REGION: Final = "us-east-1"
ACCESS_KEY: Final = "testing"
SECRET_KEY: Final = "testing"  # noqa: S105 - moto's well-known dummy credential

FaultKind = Literal["throttle", "outage", "internal", "disconnect", "latency", "denied", "error"]

# Short names accepted by AwsSecretsServer.calls(), as the manager tests think of them.
_ALIASES: Final = {
    "get": "GetSecretValue",
    "describe": "DescribeSecret",
    "list_versions": "ListSecretVersionIds",
    "put": "PutSecretValue",
}
_JSON: Final = "application/x-amz-json-1.1"
_HOP_BY_HOP: Final = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}
)


@dataclass(frozen=True)
class Fault:
    """One injected answer: see :meth:`AwsSecretsServer.fail_next`."""

    kind: FaultKind
    delay: float = 0.0
    code: str = ""
    status: int = 400
    message: str = ""
    body: bytes | None = None


def _aws_error(code: str, message: str) -> bytes:
    return json.dumps({"__type": code, "message": message}).encode()


class _ProxyServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops the SYNs of a burst of concurrent clients,
    # and the kernel resends them after 1 s: longer than the timeouts under test.
    request_queue_size = 128
    owner: AwsSecretsServer


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    """Forward one request to moto, or answer it with the next queued fault."""

    protocol_version = "HTTP/1.1"  # keep-alive, like AWS: botocore reuses its connections
    server: _ProxyServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._connection_closed(self.connection)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: the tests look at counters, not at access logs."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        target = self.headers.get("X-Amz-Target", "")
        operation = target.rpartition(".")[2] or f"{self.command} {self.path}"
        owner = self.server.owner
        fault, wake = owner._take(operation, body)
        try:
            if fault is not None and fault.kind == "latency":
                wake.wait(fault.delay)  # reset() and close() cut the wait short
            elif fault is not None:
                self._answer_fault(fault)
                return
            status, headers, payload = owner._forward(self.command, self.path, self.headers, body)
            self._answer(status, headers, payload)
        except OSError:  # the client gave up (timed out) before we answered
            self.close_connection = True

    def _answer_fault(self, fault: Fault) -> None:
        if fault.kind == "disconnect":
            self.close_connection = True  # no answer at all: the connection just closes
            return
        if fault.kind == "outage":
            headers = [("Content-Type", "text/plain")]
            self._answer(fault.status, headers, fault.body or b"Service Unavailable")
            return
        payload = fault.body if fault.body is not None else _aws_error(fault.code, fault.message)
        headers = [("Content-Type", _JSON), ("x-amzn-ErrorType", fault.code)]
        self._answer(fault.status, headers, payload)

    def _answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() not in _HOP_BY_HOP:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()


class AwsSecretsServer:
    """moto in server mode on loopback behind a proxy that counts calls and injects faults.

    Attributes:
        endpoint_url: The proxy: give this to the code under test.
        moto_url: moto itself, used by the seeding helpers.
        region: Region to use (``us-east-1``).
    """

    def __init__(self) -> None:
        try:
            import boto3.session
            from botocore.config import Config
            from moto.server import ThreadedMotoServer
        except ModuleNotFoundError as exc:
            msg = f"the AWS test server needs {exc.name!r}; install moto[server] and boto3"
            raise ServerNotFoundError(msg) from exc

        self.region = REGION
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._counts: Counter[str] = Counter()
        self._bodies: list[tuple[str, bytes]] = []
        self._wake = threading.Event()
        self._connections: set[socket.socket] = set()

        self._moto = ThreadedMotoServer(ip_address=LOOPBACK, port=0, verbose=False)
        self._moto.start()
        moto_host, moto_port = self._moto.get_host_and_port()
        self._moto_address = (moto_host, moto_port)
        self.moto_url = f"http://{moto_host}:{moto_port}"

        try:
            self._proxy, self._proxy_thread = self._start_proxy(0)
        except BaseException:
            self._stop_moto()
            raise
        self._proxy_port: int = self._proxy.server_address[1]
        self.endpoint_url = f"http://{LOOPBACK}:{self._proxy_port}"

        session = boto3.session.Session(
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION
        )
        admin_config = Config(retries={"total_max_attempts": 3, "mode": "standard"})
        self.admin: SecretsManagerClient = session.client(
            "secretsmanager", endpoint_url=self.moto_url, config=admin_config
        )
        # No IAM stubs are installed (types-boto3[secretsmanager] only): typed loosely.
        self._iam: Any = session.client("iam", endpoint_url=self.moto_url, config=admin_config)

    def __repr__(self) -> str:
        return f"<AwsSecretsServer proxy={self.endpoint_url} moto={self.moto_url}>"

    # --- what the code under test needs ----------------------------------------------------

    def env(self) -> dict[str, str]:
        """Environment for ``AwsSecretsManagerBackend.from_env()`` pointed at the proxy."""
        return {
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def client(
        self,
        *,
        timeout: float = 1.0,
        access_key: str = ACCESS_KEY,
        secret_key: str = SECRET_KEY,
        total_max_attempts: int = 1,
    ) -> SecretsManagerClient:
        """A new boto3 client for the proxy (the caller closes it), for injection tests.

        *total_max_attempts* counts the first request too (botocore's ``max_attempts``
        counts only retries).
        """
        import boto3.session
        from botocore.config import Config

        session = boto3.session.Session(
            aws_access_key_id=access_key, aws_secret_access_key=secret_key, region_name=REGION
        )
        config = Config(
            retries={"total_max_attempts": total_max_attempts, "mode": "standard"},
            connect_timeout=timeout,
            read_timeout=timeout,
        )
        return session.client("secretsmanager", endpoint_url=self.endpoint_url, config=config)

    # --- seeding, straight to moto (not counted, never faulted) -------------------------------

    def put_secret(self, name: str, value: str | bytes) -> str:
        """Create *name*, or give it a new current version, holding *value*; return its id."""
        kwargs: dict[str, str | bytes] = (
            {"SecretBinary": value} if isinstance(value, bytes) else {"SecretString": value}
        )
        try:
            response = self.admin.create_secret(Name=name, **kwargs)  # type: ignore[arg-type]  # one of two keys
        except self.admin.exceptions.ResourceExistsException:
            return self.new_version(name, value)
        return response["VersionId"]

    def new_version(self, name: str, value: str | bytes) -> str:
        """Put *value* as the new ``AWSCURRENT`` (the old one becomes ``AWSPREVIOUS``)."""
        if isinstance(value, bytes):
            response = self.admin.put_secret_value(SecretId=name, SecretBinary=value)
        else:
            response = self.admin.put_secret_value(SecretId=name, SecretString=value)
        return response["VersionId"]

    def rotate(self, name: str, value: str) -> str:
        """Rotate *name* to *value* as a rotation Lambda does; return the new version id.

        createSecret: put the value staged ``AWSPENDING``; setSecret and testSecret have
        nothing to do here; finishSecret: move ``AWSCURRENT`` to it (AWS then moves
        ``AWSPREVIOUS`` to the old current version).
        """
        pending = self.admin.put_secret_value(
            SecretId=name, SecretString=value, VersionStages=["AWSPENDING"]
        )["VersionId"]
        self.admin.update_secret_version_stage(
            SecretId=name,
            VersionStage="AWSCURRENT",
            MoveToVersionId=pending,
            RemoveFromVersionId=self.current_version(name),
        )
        return pending

    def current_version(self, name: str) -> str:
        """The ``VersionId`` staged ``AWSCURRENT``, read from ``DescribeSecret``."""
        stages = self.admin.describe_secret(SecretId=name)["VersionIdsToStages"]
        return next(vid for vid, labels in stages.items() if "AWSCURRENT" in labels)

    def stages(self, name: str) -> dict[str, list[str]]:
        """``VersionIdsToStages`` of *name*."""
        return self.admin.describe_secret(SecretId=name)["VersionIdsToStages"]

    def delete_secret(self, name: str, *, force: bool = False) -> None:
        """Schedule *name* for deletion (7 days), or delete it at once with *force*."""
        if force:
            self.admin.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        else:
            self.admin.delete_secret(SecretId=name, RecoveryWindowInDays=7)

    # --- faults and counters -------------------------------------------------------------------

    def fail_next(
        self,
        n: int = 1,
        kind: FaultKind = "throttle",
        *,
        delay: float = 2.0,
        code: str | None = None,
        status: int | None = None,
        message: str | None = None,
        body: bytes | None = None,
    ) -> None:
        """Answer the next *n* requests through the proxy with a fault (queued in order).

        Args:
            n: How many requests.
            kind: ``"throttle"``: HTTP 400 ``ThrottlingException`` "Rate exceeded", as AWS
                answers. ``"outage"``: HTTP 503 with a plain-text body, as a load balancer
                answers. ``"internal"``: HTTP 500 ``InternalServiceError``. ``"disconnect"``:
                close the connection without an answer. ``"latency"``: wait *delay* seconds,
                then forward. ``"denied"``: HTTP 400 ``AccessDeniedException``. ``"error"``:
                any AWS error: *code*, *status* (400) and *message*.
            delay: Seconds of added latency, for ``"latency"``.
            code: AWS error code (``__type``), overriding the kind's own.
            status: HTTP status, overriding the kind's own.
            message: Error message, overriding the kind's own.
            body: Raw response body, replacing the JSON error (to send unreadable answers).
        """
        defaults: dict[FaultKind, tuple[str, int, str]] = {
            "throttle": ("ThrottlingException", 400, "Rate exceeded"),
            "outage": ("", 503, ""),
            "internal": ("InternalServiceError", 500, "An error occurred on the server side."),
            "disconnect": ("", 0, ""),
            "latency": ("", 0, ""),
            "denied": (
                "AccessDeniedException",
                400,
                "User: arn:aws:iam::123456789012:user/test is not authorized to perform: "
                "secretsmanager:GetSecretValue because no identity-based policy allows it",
            ),
            "error": ("InternalServiceError", 400, "An error occurred."),
        }
        default_code, default_status, default_message = defaults[kind]
        fault = Fault(
            kind=kind,
            delay=delay,
            code=code if code is not None else default_code,
            status=status if status is not None else default_status,
            message=message if message is not None else default_message,
            body=body,
        )
        with self._lock:
            self._faults.extend([fault] * n)

    def calls(self, operation: str | None = None) -> int:
        """Requests the proxy received (faulted ones included) for *operation*, or in all.

        Args:
            operation: ``"GetSecretValue"`` or a short name: ``"get"``, ``"describe"``,
                ``"list_versions"``, ``"put"``. None counts every request.
        """
        with self._lock:
            if operation is None:
                return sum(self._counts.values())
            return self._counts[_ALIASES.get(operation, operation)]

    def requests(self, operation: str) -> list[dict[str, object]]:
        """The JSON bodies of the requests for *operation* (see :meth:`calls`), in order."""
        wanted = _ALIASES.get(operation, operation)
        with self._lock:
            bodies = [body for name, body in self._bodies if name == wanted]
        return [json.loads(body) if body else {} for body in bodies]

    def pending_faults(self) -> int:
        """Faults queued and not used yet."""
        with self._lock:
            return len(self._faults)

    def open_connections(self) -> int:
        """Client connections the proxy holds open now (keep-alive included)."""
        with self._lock:
            return len(self._connections)

    def reset_calls(self) -> None:
        """Zero the counters and drop queued faults; keep the secrets."""
        with self._lock:
            self._counts.clear()
            self._bodies.clear()
            self._faults.clear()
            self._wake.set()  # release requests held by "latency"
            self._wake = threading.Event()

    def reset(self) -> None:
        """Forget everything: counters, faults, IAM authentication and moto's state."""
        self.reset_calls()
        self.disable_iam_auth()
        self._moto_api("/moto-api/reset", b"")

    # --- real authentication, by moto's IAM -----------------------------------------------------

    def enable_iam_auth(self) -> tuple[str, str]:
        """Make moto check signatures and IAM policies; return keys of a user with no rights.

        Until :meth:`disable_iam_auth` (or :meth:`reset`), requests signed with an unknown key
        get HTTP 403 ``InvalidClientTokenId``, and the returned user's get HTTP 403
        ``AccessDenied``. The setting is global to moto in this process.
        """
        user = f"no-rights-{len(self._iam.list_users()['Users'])}"
        self._iam.create_user(UserName=user)
        key = self._iam.create_access_key(UserName=user)["AccessKey"]
        self._moto_api("/moto-api/reset-auth", b"0")  # authenticate from the next request on
        return key["AccessKeyId"], key["SecretAccessKey"]

    def disable_iam_auth(self) -> None:
        """Stop checking credentials (moto's default)."""
        self._moto_api("/moto-api/reset-auth", b"inf")

    # --- lifecycle -----------------------------------------------------------------------------

    @contextlib.contextmanager
    def refusing(self) -> Iterator[None]:
        """Refuse connections inside the block: nothing listens on the proxy's port.

        Open keep-alive connections are cut too, so a client cannot slip through on one.
        The proxy listens on the same port again after the block.
        """
        self._stop_proxy()
        try:
            yield
        finally:
            self._proxy, self._proxy_thread = self._start_proxy(self._proxy_port)

    def close(self) -> None:
        """Stop the proxy and moto and close every connection and client."""
        self.reset_calls()
        self._stop_proxy()
        self.admin.close()
        self._iam.close()
        self._stop_moto()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- internals ----------------------------------------------------------------------------

    def _start_proxy(self, port: int) -> tuple[_ProxyServer, threading.Thread]:
        proxy = _ProxyServer((LOOPBACK, port), _ProxyHandler)
        proxy.owner = self
        thread = threading.Thread(target=proxy.serve_forever, name="aws-secrets-proxy", daemon=True)
        thread.start()
        return proxy, thread

    def _stop_proxy(self) -> None:
        self._proxy.shutdown()
        self._proxy.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # wake handler threads blocked on keep-alive reads
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._proxy_thread.join(timeout=5)

    def _stop_moto(self) -> None:
        self._moto.stop()
        # ThreadedMotoServer.stop() leaves the listening socket open: close it.
        moto_server = getattr(self._moto, "_server", None)
        if moto_server is not None:
            moto_server.server_close()

    # Called by the proxy's handler threads.

    def _take(self, operation: str, body: bytes) -> tuple[Fault | None, threading.Event]:
        with self._lock:
            self._counts[operation] += 1
            self._bodies.append((operation, body))
            fault = self._faults.pop(0) if self._faults else None
            return fault, self._wake

    def _connection_opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)

    def _connection_closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _forward(
        self, method: str, path: str, headers: Message[str, str], body: bytes
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        # The Host header goes through unchanged: SigV4 signed it, and moto checks signatures.
        forwarded = {
            name: value for name, value in headers.items() if name.lower() not in _HOP_BY_HOP
        }
        connection = http.client.HTTPConnection(*self._moto_address, timeout=30)
        try:
            connection.request(method, path, body=body, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.getheaders(), payload
        finally:
            connection.close()

    def _moto_api(self, path: str, data: bytes) -> None:
        request = urllib.request.Request(  # noqa: S310 - a loopback http URL we built
            self.moto_url + path,
            data=data,
            method="POST",
            headers={"Content-Type": "text/plain"},  # moto reads the raw body, not a form
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            response.read()


@contextlib.contextmanager
def start_aws_secrets_server() -> Iterator[AwsSecretsServer]:
    """Start moto and the proxy on free loopback ports; stop both on exit.

    Raises:
        ServerNotFoundError: moto (with its server extra) or boto3 is not installed.
    """
    server = AwsSecretsServer()
    try:
        yield server
    finally:
        server.close()
