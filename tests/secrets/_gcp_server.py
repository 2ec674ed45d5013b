"""A GCP Secret Manager server on loopback, for tests that drive the real client library.

No emulator of Secret Manager exists, so this is one: a gRPC server for
``google.cloud.secretmanager.v1.SecretManagerService`` built on the request and response
classes that ship in google-cloud-secret-manager (proto-plus ``serialize``/``deserialize``),
with in-memory secrets, numbered versions in the states ENABLED, DISABLED and DESTROYED, and the
status codes the real service answers with. It also injects faults (throttling, outage,
latency, refused permission) and counts requests per operation, for the backend and manager
tests::

    with start_gcp_server() as server:
        server.put_secret("db-password", "s3cret")        # version "1"
        client = server.client()                          # the real SecretManagerServiceClient
        server.fail_next(1, kind="throttle")              # the next request: RESOURCE_EXHAUSTED
        ...
        assert server.calls("access") == 1
        client.transport.close()

This module does not import pytest, so any test module (or a benchmark) can start the server.

Differences from the real service, on purpose:

- ``latest`` is the highest ENABLED version by default (``latest="enabled"``); the API reference
  calls it "the most recently created version", which ``latest="created"`` reproduces (accessing
  it then fails with FAILED_PRECONDITION when that version is disabled or destroyed).
- One project (``project`` or its number ``project_number``); any other project is answered
  with PERMISSION_DENIED, as the real service does for projects you cannot see. Response names
  use the project number, like the real service.
- ``ListSecretVersions`` understands only the ``state:ENABLED|DISABLED|DESTROYED`` filter.
- Authentication is an ``authorization: Bearer TOKEN`` metadata check, made only when the
  server has a *token*; clients from :meth:`GcpSecretManagerServer.client` send it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Literal, NoReturn, Self, TypeVar

import grpc
import grpc.aio
from google.cloud.secretmanager_v1 import (
    AccessSecretVersionRequest,
    AccessSecretVersionResponse,
    AddSecretVersionRequest,
    CreateSecretRequest,
    DeleteSecretRequest,
    DestroySecretVersionRequest,
    DisableSecretVersionRequest,
    EnableSecretVersionRequest,
    GetSecretRequest,
    GetSecretVersionRequest,
    ListSecretVersionsRequest,
    ListSecretVersionsResponse,
    Secret,
    SecretManagerServiceAsyncClient,
    SecretManagerServiceClient,
    SecretPayload,
    SecretVersion,
)
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcAsyncIOTransport,
    SecretManagerServiceGrpcTransport,
)

__all__ = [
    "SERVICE",
    "FaultKind",
    "GcpSecretManagerServer",
    "start_gcp_server",
]

SERVICE: Final = "google.cloud.secretmanager.v1.SecretManagerService"

FaultKind = Literal["throttle", "outage", "internal", "latency", "deny", "unauthenticated"]
"""What :meth:`GcpSecretManagerServer.fail_next` does to a request.

- ``throttle``: RESOURCE_EXHAUSTED with the real quota message (HTTP 429).
- ``outage``: UNAVAILABLE (HTTP 503); ``internal``: INTERNAL (HTTP 500).
- ``latency``: sleep *delay* seconds, then answer normally.
- ``deny``: PERMISSION_DENIED (HTTP 403); ``unauthenticated``: UNAUTHENTICATED (HTTP 401).
"""

# RPC name -> the short operation name that calls() and fail_next(method=...) take.
_OPERATIONS: Final = {
    "AccessSecretVersion": "access",
    "ListSecretVersions": "list",
    "GetSecretVersion": "get_version",
    "AddSecretVersion": "add",
    "CreateSecret": "create",
    "GetSecret": "get_secret",
    "DeleteSecret": "delete",
    "DisableSecretVersion": "disable",
    "EnableSecretVersion": "enable",
    "DestroySecretVersion": "destroy",
}
# "get" is the name the manager tests use for "read a secret value" on every backend.
_ALIASES: Final = {
    "get": "access",
    **{op: op for op in _OPERATIONS.values()},
    **_OPERATIONS,
}

_State = SecretVersion.State
# proto-plus enum members look like plain ints to mypy: name them through the enum class.
_ENABLED: Final = _State(_State.ENABLED)
_DISABLED: Final = _State(_State.DISABLED)
_DESTROYED: Final = _State(_State.DESTROYED)
_STATE_NAMES: Final = {state.name: state for state in (_ENABLED, _DISABLED, _DESTROYED)}

_RequestT = TypeVar("_RequestT")
_ResponseT = TypeVar("_ResponseT")


class _Abort(Exception):
    """Raised inside the state lock; turned into ``context.abort`` outside of it."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self.code = code
        self.details = details


@dataclass
class _Version:
    number: int
    data: bytes
    create_time: dt.datetime
    state: SecretVersion.State = _ENABLED
    destroy_time: dt.datetime | None = None


@dataclass
class _Secret:
    create_time: dt.datetime
    labels: dict[str, str] = field(default_factory=dict)
    versions: list[_Version] = field(default_factory=list)


@dataclass(frozen=True)
class _Fault:
    kind: FaultKind
    delay: float
    operation: str | None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _operation(name: str) -> str:
    try:
        return _ALIASES[name]
    except KeyError:
        known = ", ".join(sorted(_ALIASES))
        msg = f"unknown operation {name!r}; known: {known}"
        raise ValueError(msg) from None


class GcpSecretManagerServer:
    """An in-process gRPC Secret Manager on ``127.0.0.1``, with injected faults.

    Start it with :func:`start_gcp_server` (or :meth:`start` and :meth:`close`). Seed it with
    :meth:`put_secret` and :meth:`new_version`, which change the state directly (no request is
    counted), or through the real client from :meth:`client`.

    Args:
        project: The project id that requests must name.
        project_number: Its number, used in the names the server returns.
        token: When set, every request must carry ``authorization: Bearer <token>``;
            others get UNAUTHENTICATED.
        latest: What the ``latest`` alias means: the highest ENABLED version (``"enabled"``)
            or the most recently created one, whatever its state (``"created"``).
        max_workers: Handler threads; requests beyond that wait in a queue.
    """

    def __init__(
        self,
        *,
        project: str = "test-project",
        project_number: str = "123456789012",
        token: str | None = None,
        latest: Literal["enabled", "created"] = "enabled",
        max_workers: int = 32,
    ) -> None:
        self.project = project
        self.project_number = project_number
        self.token = token
        self.latest = latest
        self.port = 0
        self._max_workers = max_workers
        self._lock = threading.Lock()
        self._secrets: dict[str, _Secret] = {}
        self._faults: deque[_Fault] = deque()
        self._calls: Counter[str] = Counter()
        self._server: grpc.Server | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closing = threading.Event()

    def __repr__(self) -> str:
        state = "running" if self._server is not None else "stopped"
        return f"<GcpSecretManagerServer {self.address} project={self.project!r} {state}>"

    # --- life cycle ------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """``127.0.0.1:PORT``, the target for ``grpc.insecure_channel``."""
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server accepts connections now."""
        return self._server is not None

    def start(self) -> None:
        """Listen on :attr:`port` (a free one the first time); a no-op while running.

        After :meth:`stop`, this listens on the same port again, with the same secrets.
        """
        if self._server is not None:
            return
        self._closing.clear()
        self._executor = ThreadPoolExecutor(
            max_workers=self._max_workers, thread_name_prefix="gcp-secret-manager"
        )
        server = grpc.server(self._executor)
        server.add_generic_rpc_handlers((self._handler(),))
        port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        if port == 0:
            self._executor.shutdown(wait=False)
            self._executor = None
            msg = f"cannot listen on 127.0.0.1:{self.port}"
            raise OSError(msg)
        self.port = port
        server.start()
        self._server = server

    def stop(self, *, grace: float | None = None) -> None:
        """Stop listening (connections are refused) but keep the secrets; see :meth:`start`.

        Requests that sleep for an injected latency are woken and cancelled.
        """
        server, executor = self._server, self._executor
        self._server = self._executor = None
        self._closing.set()
        if server is not None:
            server.stop(grace).wait()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Stop the server for good."""
        self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- clients ---------------------------------------------------------------------------

    def _metadata(self, token: str | None) -> list[tuple[str, str]]:
        token = self.token if token is None else token
        return [] if token is None else [("authorization", f"Bearer {token}")]

    def client(self, *, token: str | None = None) -> SecretManagerServiceClient:
        """Return the real sync client on an insecure channel to this server.

        Args:
            token: Bearer token to send; by default the server's own *token* (if any).

        Close it with ``client.transport.close()``.
        """
        channel = grpc.insecure_channel(self.address)
        metadata = self._metadata(token)
        if metadata:
            channel = grpc.intercept_channel(channel, _MetadataInterceptor(metadata))
        transport = SecretManagerServiceGrpcTransport(channel=channel)
        return SecretManagerServiceClient(transport=transport)

    def async_client(self, *, token: str | None = None) -> SecretManagerServiceAsyncClient:
        """Return the real async client; call it inside the event loop that will use it.

        Args:
            token: Bearer token to send; by default the server's own *token* (if any).

        Close it with ``await client.transport.close()`` in the same loop.
        """
        asyncio.get_running_loop()  # grpc.aio channels belong to the loop they are made in
        metadata = self._metadata(token)
        interceptors = [_AsyncMetadataInterceptor(metadata)] if metadata else None
        channel = grpc.aio.insecure_channel(self.address, interceptors=interceptors)
        transport = SecretManagerServiceGrpcAsyncIOTransport(channel=channel)
        return SecretManagerServiceAsyncClient(transport=transport)

    def secret_name(self, secret: str) -> str:
        """``projects/PROJECT/secrets/SECRET``."""
        return f"projects/{self.project}/secrets/{secret}"

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
            method: Only requests of this operation (``"access"``/``"get"``, ``"list"``, ...,
                or the RPC name); by default any request.
        """
        operation = None if method is None else _operation(method)
        with self._lock:
            self._faults.extend(_Fault(kind, delay, operation) for _ in range(n))

    def calls(self, method: str | None = None) -> int:
        """Requests received for one operation (``"access"``, ``"list"``, ...), or in all.

        Every request counts, including the ones that an injected fault failed.
        """
        with self._lock:
            if method is None:
                return sum(self._calls.values())
            return self._calls[_operation(method)]

    def reset_calls(self) -> None:
        """Zero the request counters and drop pending faults; keep the secrets."""
        with self._lock:
            self._calls.clear()
            self._faults.clear()

    def reset(self) -> None:
        """Forget every secret, counter and pending fault."""
        with self._lock:
            self._secrets.clear()
            self._calls.clear()
            self._faults.clear()

    # --- direct state changes (no request counted) -----------------------------------------

    def put_secret(
        self, secret: str, value: str | bytes, *, labels: dict[str, str] | None = None
    ) -> str:
        """Create *secret* if it is missing and add *value* as its new version.

        Returns:
            The new version number, such as ``"1"``.
        """
        with self._lock:
            if secret not in self._secrets:
                self._secrets[secret] = _Secret(create_time=_now(), labels=dict(labels or {}))
            return str(self._add_version(self._secrets[secret], value).number)

    def new_version(self, secret: str, value: str | bytes) -> str:
        """Add *value* as a new version of the existing *secret*; return its number."""
        with self._lock:
            if secret not in self._secrets:
                raise KeyError(secret)
            return str(self._add_version(self._secrets[secret], value).number)

    def set_state(
        self, secret: str, version: str | int, state: Literal["ENABLED", "DISABLED", "DESTROYED"]
    ) -> None:
        """Enable, disable or destroy one version (destroying also drops its data)."""
        with self._lock:
            found = self._version_by_number(secret, int(version))
            if found.state == _DESTROYED and state != "DESTROYED":
                msg = f"version {version} of {secret!r} is destroyed"
                raise ValueError(msg)
            self._set_state(found, _STATE_NAMES[state])

    def disable_version(self, secret: str, version: str | int) -> None:
        """Disable one version: accessing it then fails with FAILED_PRECONDITION."""
        self.set_state(secret, version, "DISABLED")

    def enable_version(self, secret: str, version: str | int) -> None:
        """Enable a disabled version again."""
        self.set_state(secret, version, "ENABLED")

    def destroy_version(self, secret: str, version: str | int) -> None:
        """Destroy one version for good."""
        self.set_state(secret, version, "DESTROYED")

    def delete_secret(self, secret: str) -> None:
        """Delete *secret* and all its versions."""
        with self._lock:
            self._secrets.pop(secret, None)

    def versions(self, secret: str) -> dict[str, str]:
        """Version number -> state name, for assertions."""
        with self._lock:
            return {str(v.number): v.state.name for v in self._secrets[secret].versions}

    # --- the state machine (call with the lock held) ---------------------------------------

    @staticmethod
    def _add_version(secret: _Secret, value: str | bytes) -> _Version:
        data = value.encode("utf-8") if isinstance(value, str) else value
        number = secret.versions[-1].number + 1 if secret.versions else 1
        version = _Version(number=number, data=data, create_time=_now())
        secret.versions.append(version)
        return version

    @staticmethod
    def _set_state(version: _Version, state: SecretVersion.State) -> None:
        version.state = state
        if state == _DESTROYED:
            version.data = b""
            version.destroy_time = _now()

    def _version_by_number(self, secret: str, number: int) -> _Version:
        for version in self._secrets[secret].versions:
            if version.number == number:
                return version
        raise KeyError(f"{secret}/{number}")

    def _check_project(self, project: str, permission: str, name: str) -> None:
        if project not in (self.project, self.project_number):
            raise _Abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"Permission '{permission}' denied for resource '{name}' (or it may not exist).",
            )

    def _parse_secret(self, name: str, permission: str) -> str:
        parts = name.split("/")
        if len(parts) != 4 or parts[0] != "projects" or parts[2] != "secrets" or not parts[3]:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Invalid resource field value in the request: {name!r}",
            )
        self._check_project(parts[1], permission, name)
        return parts[3]

    def _lookup_secret(self, name: str, permission: str) -> tuple[str, _Secret]:
        secret_id = self._parse_secret(name, permission)
        secret = self._secrets.get(secret_id)
        if secret is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"Secret [{self._name(secret_id)}] not found.")
        return secret_id, secret

    def _lookup_version(self, name: str, permission: str) -> tuple[str, _Version]:
        parent, sep, version_id = name.rpartition("/versions/")
        if not sep or not version_id:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Invalid resource field value in the request: {name!r}",
            )
        secret_id, secret = self._lookup_secret(parent, permission)
        if version_id == "latest":
            candidates = secret.versions
            if self.latest == "enabled":
                candidates = [v for v in candidates if v.state == _ENABLED]
            if not candidates:
                raise _Abort(
                    grpc.StatusCode.NOT_FOUND,
                    f"Secret [{self._name(secret_id)}] not found or has no versions.",
                )
            return secret_id, candidates[-1]
        if not version_id.isdigit() or int(version_id) < 1:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Invalid resource field value in the request: version id {version_id!r}",
            )
        for version in secret.versions:
            if version.number == int(version_id):
                return secret_id, version
        raise _Abort(
            grpc.StatusCode.NOT_FOUND,
            f"Secret Version [{self._name(secret_id, version_id)}] not found.",
        )

    def _name(self, secret_id: str, version: str | int | None = None) -> str:
        name = f"projects/{self.project_number}/secrets/{secret_id}"
        return name if version is None else f"{name}/versions/{version}"

    def _version_message(self, secret_id: str, version: _Version) -> SecretVersion:
        message = SecretVersion(
            name=self._name(secret_id, version.number),
            create_time=version.create_time,
            state=version.state,
            etag=f'"{version.number}-{version.state.value}"',
        )
        if version.destroy_time is not None:
            message.destroy_time = version.destroy_time
        return message

    def _secret_message(self, secret_id: str, secret: _Secret) -> Secret:
        return Secret(
            name=self._name(secret_id),
            create_time=secret.create_time,
            labels=secret.labels,
            replication={"automatic": {}},
        )

    # --- RPC implementations ---------------------------------------------------------------

    def _access(self, request: AccessSecretVersionRequest) -> AccessSecretVersionResponse:
        secret_id, version = self._lookup_version(request.name, "secretmanager.versions.access")
        if version.state != _ENABLED:
            raise _Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Secret Version [{self._name(secret_id, version.number)}] is in "
                f"{version.state.name} state.",
            )
        return AccessSecretVersionResponse(
            name=self._name(secret_id, version.number),
            payload=SecretPayload(data=version.data),
        )

    def _get_version(self, request: GetSecretVersionRequest) -> SecretVersion:
        secret_id, version = self._lookup_version(request.name, "secretmanager.versions.get")
        return self._version_message(secret_id, version)

    def _list_versions(self, request: ListSecretVersionsRequest) -> ListSecretVersionsResponse:
        secret_id, secret = self._lookup_secret(request.parent, "secretmanager.versions.list")
        versions = list(reversed(secret.versions))  # newest first, like the real service
        if request.filter:
            key, sep, wanted = request.filter.partition(":")
            if key.strip() != "state" or not sep or wanted.strip().upper() not in _STATE_NAMES:
                raise _Abort(
                    grpc.StatusCode.INVALID_ARGUMENT, f"Invalid filter: {request.filter!r}"
                )
            state = _STATE_NAMES[wanted.strip().upper()]
            versions = [v for v in versions if v.state == state]
        start = int(request.page_token) if request.page_token.isdigit() else 0
        size = request.page_size if request.page_size > 0 else 25_000
        page = versions[start : start + size]
        more = start + size < len(versions)
        return ListSecretVersionsResponse(
            versions=[self._version_message(secret_id, v) for v in page],
            next_page_token=str(start + size) if more else "",
            total_size=len(versions),
        )

    def _create_secret(self, request: CreateSecretRequest) -> Secret:
        parts = request.parent.split("/")
        if len(parts) != 2 or parts[0] != "projects" or not request.secret_id:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "Invalid parent or secret_id.")
        self._check_project(parts[1], "secretmanager.secrets.create", request.parent)
        if request.secret_id in self._secrets:
            raise _Abort(
                grpc.StatusCode.ALREADY_EXISTS,
                f"Secret [{self._name(request.secret_id)}] already exists.",
            )
        secret = _Secret(create_time=_now(), labels=dict(request.secret.labels))
        self._secrets[request.secret_id] = secret
        return self._secret_message(request.secret_id, secret)

    def _get_secret(self, request: GetSecretRequest) -> Secret:
        secret_id, secret = self._lookup_secret(request.name, "secretmanager.secrets.get")
        return self._secret_message(secret_id, secret)

    def _delete_secret(self, request: DeleteSecretRequest) -> None:
        secret_id, _secret = self._lookup_secret(request.name, "secretmanager.secrets.delete")
        del self._secrets[secret_id]

    def _add(self, request: AddSecretVersionRequest) -> SecretVersion:
        secret_id, secret = self._lookup_secret(request.parent, "secretmanager.versions.add")
        version = self._add_version(secret, request.payload.data)
        return self._version_message(secret_id, version)

    def _change_state(
        self, name: str, permission: str, state: SecretVersion.State
    ) -> SecretVersion:
        secret_id, version = self._lookup_version(name, permission)
        if version.state == _DESTROYED and state != _DESTROYED:
            raise _Abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"Secret Version [{self._name(secret_id, version.number)}] is in DESTROYED state.",
            )
        self._set_state(version, state)
        return self._version_message(secret_id, version)

    def _disable(self, request: DisableSecretVersionRequest) -> SecretVersion:
        return self._change_state(request.name, "secretmanager.versions.disable", _DISABLED)

    def _enable(self, request: EnableSecretVersionRequest) -> SecretVersion:
        return self._change_state(request.name, "secretmanager.versions.enable", _ENABLED)

    def _destroy(self, request: DestroySecretVersionRequest) -> SecretVersion:
        return self._change_state(request.name, "secretmanager.versions.destroy", _DESTROYED)

    # --- gRPC plumbing ---------------------------------------------------------------------

    def _handler(self) -> grpc.GenericRpcHandler:
        methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
            "AccessSecretVersion": self._method(
                "AccessSecretVersion",
                self._access,
                AccessSecretVersionRequest.deserialize,
                AccessSecretVersionResponse.serialize,
            ),
            "GetSecretVersion": self._method(
                "GetSecretVersion",
                self._get_version,
                GetSecretVersionRequest.deserialize,
                SecretVersion.serialize,
            ),
            "ListSecretVersions": self._method(
                "ListSecretVersions",
                self._list_versions,
                ListSecretVersionsRequest.deserialize,
                ListSecretVersionsResponse.serialize,
            ),
            "CreateSecret": self._method(
                "CreateSecret",
                self._create_secret,
                CreateSecretRequest.deserialize,
                Secret.serialize,
            ),
            "GetSecret": self._method(
                "GetSecret", self._get_secret, GetSecretRequest.deserialize, Secret.serialize
            ),
            "DeleteSecret": self._method(
                "DeleteSecret",
                self._delete_secret,
                DeleteSecretRequest.deserialize,
                _serialize_empty,
            ),
            "AddSecretVersion": self._method(
                "AddSecretVersion",
                self._add,
                AddSecretVersionRequest.deserialize,
                SecretVersion.serialize,
            ),
            "DisableSecretVersion": self._method(
                "DisableSecretVersion",
                self._disable,
                DisableSecretVersionRequest.deserialize,
                SecretVersion.serialize,
            ),
            "EnableSecretVersion": self._method(
                "EnableSecretVersion",
                self._enable,
                EnableSecretVersionRequest.deserialize,
                SecretVersion.serialize,
            ),
            "DestroySecretVersion": self._method(
                "DestroySecretVersion",
                self._destroy,
                DestroySecretVersionRequest.deserialize,
                SecretVersion.serialize,
            ),
        }
        return grpc.method_handlers_generic_handler(SERVICE, methods)

    def _method(
        self,
        rpc: str,
        implementation: Callable[[_RequestT], _ResponseT],
        deserialize: Callable[[bytes], _RequestT],
        serialize: Callable[[_ResponseT], bytes],
    ) -> grpc.RpcMethodHandler[_RequestT, _ResponseT]:
        operation = _OPERATIONS[rpc]

        def behaviour(request: _RequestT, context: grpc.ServicerContext) -> _ResponseT:
            self._before(operation, context)
            try:
                with self._lock:
                    return implementation(request)
            except _Abort as abort:
                _abort(context, abort.code, abort.details)

        return grpc.unary_unary_rpc_method_handler(
            behaviour, request_deserializer=deserialize, response_serializer=serialize
        )

    def _before(self, operation: str, context: grpc.ServicerContext) -> None:
        """Count the request, then apply authentication and the next matching fault."""
        with self._lock:
            self._calls[operation] += 1
            fault = self._take_fault(operation)
        if self.token is not None:
            metadata = dict(context.invocation_metadata())
            if metadata.get("authorization") != f"Bearer {self.token}":
                _abort(context, grpc.StatusCode.UNAUTHENTICATED, _UNAUTHENTICATED)
        if fault is None:
            return
        if fault.kind == "latency":
            self._closing.wait(fault.delay)
        elif fault.kind == "throttle":
            _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, self._quota_message(operation))
        elif fault.kind == "outage":
            _abort(context, grpc.StatusCode.UNAVAILABLE, "The service is currently unavailable.")
        elif fault.kind == "internal":
            _abort(context, grpc.StatusCode.INTERNAL, "Internal error encountered.")
        elif fault.kind == "deny":
            _abort(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"Permission 'secretmanager.versions.{operation}' denied on the resource "
                "(or it may not exist).",
            )
        else:
            _abort(context, grpc.StatusCode.UNAUTHENTICATED, _UNAUTHENTICATED)

    def _take_fault(self, operation: str) -> _Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.operation is None or fault.operation == operation:
                del self._faults[index]
                return fault
        return None

    def _quota_message(self, operation: str) -> str:
        metric = "Access requests" if operation == "access" else "Read requests"
        return (
            f"Quota exceeded for quota metric '{metric}' and limit '{metric} per minute' of "
            f"service 'secretmanager.googleapis.com' for consumer "
            f"'project_number:{self.project_number}'."
        )


_UNAUTHENTICATED: Final = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential."
)


def _serialize_empty(_response: None) -> bytes:
    """Serialize ``google.protobuf.Empty``: a message without fields is zero bytes."""
    return b""


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, details: str) -> NoReturn:
    context.abort(code, details)
    raise AssertionError("unreachable: ServicerContext.abort raises")  # pragma: no cover


class _MetadataInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Add fixed metadata (the bearer token) to every call of a sync channel."""

    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = tuple(metadata)

    def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.ClientCallDetails, _RequestT], grpc._CallFuture[_ResponseT]],
        client_call_details: grpc.ClientCallDetails,
        request: _RequestT,
    ) -> grpc._CallFuture[_ResponseT]:
        details = _CallDetails(
            method=client_call_details.method,
            timeout=client_call_details.timeout,
            metadata=(*(client_call_details.metadata or ()), *self._metadata),
            credentials=client_call_details.credentials,
            wait_for_ready=client_call_details.wait_for_ready,
            compression=client_call_details.compression,
        )
        return continuation(details, request)


@dataclass(frozen=True)
class _CallDetails(grpc.ClientCallDetails):
    method: str
    timeout: float | None
    metadata: tuple[tuple[str, str | bytes], ...] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _AsyncMetadataInterceptor(grpc.aio.UnaryUnaryClientInterceptor):
    """Add fixed metadata (the bearer token) to every call of a ``grpc.aio`` channel."""

    def __init__(self, metadata: Sequence[tuple[str, str]]) -> None:
        self._metadata = tuple(metadata)

    async def intercept_unary_unary(
        self,
        continuation: Callable[
            [grpc.aio.ClientCallDetails, _RequestT],
            Awaitable[grpc.aio.UnaryUnaryCall[_RequestT, _ResponseT]],
        ],
        client_call_details: grpc.aio.ClientCallDetails,
        request: _RequestT,
    ) -> _ResponseT | grpc.aio.UnaryUnaryCall[_RequestT, _ResponseT]:
        metadata = grpc.aio.Metadata(*(client_call_details.metadata or ()))
        for key, value in self._metadata:
            metadata.add(key, value)
        details = grpc.aio.ClientCallDetails(
            client_call_details.method,
            client_call_details.timeout,
            metadata,
            client_call_details.credentials,
            client_call_details.wait_for_ready,
        )
        return await continuation(details, request)


@contextlib.contextmanager
def start_gcp_server(
    *,
    project: str = "test-project",
    project_number: str = "123456789012",
    token: str | None = None,
    latest: Literal["enabled", "created"] = "enabled",
    max_workers: int = 32,
) -> Iterator[GcpSecretManagerServer]:
    """Start a :class:`GcpSecretManagerServer` on a free loopback port; stop it on exit.

    The arguments are those of :class:`GcpSecretManagerServer`.
    """
    server = GcpSecretManagerServer(
        project=project,
        project_number=project_number,
        token=token,
        latest=latest,
        max_workers=max_workers,
    )
    with server:
        yield server
