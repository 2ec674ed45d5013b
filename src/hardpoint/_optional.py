"""Lazy imports of optional dependencies with an error that names the pip extra."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from hardpoint.errors import MissingDependencyError

__all__ = ["requires_extra"]


@contextmanager
def requires_extra(extra: str, *, feature: str) -> Iterator[None]:
    """Re-raise a failed import inside the block as `MissingDependencyError`.

    Args:
        extra: The pip extra that provides the import, for example ``"redis"``.
        feature: What needs it, for the message, for example ``"RedisBackend"``.

    Raises:
        MissingDependencyError: An import inside the block failed; its message says
            ``pip install 'hardpoint[extra]'``.

    Example:
        >>> with requires_extra("redis", feature="RedisBackend"):
        ...     import redis  # doctest: +SKIP
    """
    try:
        yield
    except ModuleNotFoundError as exc:
        msg = f"{feature} needs {exc.name!r}; install it with: pip install 'hardpoint[{extra}]'"
        raise MissingDependencyError(msg, name=exc.name, extra=extra) from exc
