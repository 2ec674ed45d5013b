"""Every exception hardpoint raises, in one tree.

```text
HardpointError
├── ConfigurationError (+ValueError)         bad option or argument, raised at construction
│   └── UnstableKeyError                      an argument has no stable cache-key form
├── MissingDependencyError (+ImportError)    an optional package is not installed
├── BackendUnavailableError                   a server or cloud API did not answer
│   └── CircuitOpenError                      ...and the breaker is not calling it for now
├── SerializationError                        a value cannot be encoded or decoded
├── SecretNotFoundError (+LookupError)        no backend knows the secret
└── SecretAccessDeniedError (+PermissionError) the backend refused our credentials
```

Attributes carry context (a field name, a backend name, a pip extra), never a secret value.
"""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "CircuitOpenError",
    "ConfigurationError",
    "HardpointError",
    "MissingDependencyError",
    "SecretAccessDeniedError",
    "SecretNotFoundError",
    "SerializationError",
    "UnstableKeyError",
]


class HardpointError(Exception):
    """Base class of every exception raised by hardpoint."""


class ConfigurationError(HardpointError, ValueError):
    """An option or argument is invalid.

    Attributes:
        field: The option or argument at fault, when one can be named.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnstableKeyError(ConfigurationError):
    """An argument of a cached function has no stable key form.

    Raised at the first call, instead of silently missing the cache on every call
    (for example an object whose ``repr`` holds a memory address).
    """


class MissingDependencyError(HardpointError, ImportError):
    """An optional dependency is not installed.

    Attributes:
        extra: The pip extra that installs it, as in ``pip install 'hardpoint[extra]'``.
    """

    def __init__(self, message: str, *, name: str | None = None, extra: str) -> None:
        super().__init__(message, name=name)
        self.extra = extra


class BackendUnavailableError(HardpointError):
    """A backend (Redis, a secret manager, a database) could not be reached in time.

    Attributes:
        backend: Short backend name such as ``"redis"`` or ``"aws"``.
    """

    def __init__(self, message: str, *, backend: str) -> None:
        super().__init__(message)
        self.backend = backend


class CircuitOpenError(BackendUnavailableError):
    """The circuit breaker in front of a backend is open, so it was not called.

    Attributes:
        retry_after: Seconds until the breaker lets a probe call through.
    """

    def __init__(self, message: str, *, backend: str, retry_after: float) -> None:
        super().__init__(message, backend=backend)
        self.retry_after = retry_after


class SerializationError(HardpointError):
    """A value could not be encoded, or stored bytes could not be decoded.

    Attributes:
        codec: Name of the codec involved, such as ``"json"``.
    """

    def __init__(self, message: str, *, codec: str) -> None:
        super().__init__(message)
        self.codec = codec


class SecretNotFoundError(HardpointError, LookupError):
    """No configured backend has the requested secret.

    Attributes:
        key: The secret's name (never its value).
    """

    def __init__(self, key: str, *, backend: str | None = None) -> None:
        where = f" in backend {backend!r}" if backend else ""
        super().__init__(f"no secret named {key!r}{where}")
        self.key = key
        self.backend = backend


class SecretAccessDeniedError(HardpointError, PermissionError):
    """A secret backend refused our credentials or permissions (not worth retrying).

    Attributes:
        key: The secret's name (never its value).
        backend: Short backend name such as ``"vault"``.
    """

    def __init__(self, key: str, *, backend: str, reason: str = "access denied") -> None:
        super().__init__(f"{backend} refused access to secret {key!r}: {reason}")
        self.key = key
        self.backend = backend
