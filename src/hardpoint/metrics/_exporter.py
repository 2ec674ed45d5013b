"""The handle an ``install_*`` call returns, and option checks both installers share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from hardpoint.errors import ConfigurationError
from hardpoint.metrics._labels import LabelPolicy

__all__ = ["Exporter", "make_policy"]


class Exporter:
    """An installed exporter: events flow into it until `uninstall` is called.

    It is also a context manager that uninstalls on exit, which suits tests::

        with install_prometheus(registry) as exporter:
            ...
    """

    def __init__(
        self, name: str, unsubscribe: Callable[[], None], cleanup: Callable[[], None]
    ) -> None:
        self.name = name
        self._unsubscribe = unsubscribe
        self._cleanup = cleanup
        self._lock = threading.Lock()
        self._installed = True

    @property
    def installed(self) -> bool:
        """False once `uninstall` has run."""
        return self._installed

    def uninstall(self) -> None:
        """Stop receiving events and unregister the metrics; calling it twice is harmless.

        Values already written stay where they are (the registry's collectors are removed;
        in multiprocess mode the files in ``PROMETHEUS_MULTIPROC_DIR`` keep their counts).
        """
        with self._lock:
            if not self._installed:
                return
            self._installed = False
        self._unsubscribe()
        self._cleanup()

    def __call__(self) -> None:
        """Same as `uninstall`, so the handle can stand in for an unsubscribe function."""
        self.uninstall()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.uninstall()

    def __repr__(self) -> str:
        state = "installed" if self._installed else "uninstalled"
        return f"<Exporter {self.name} {state}>"


def make_policy(*, max_label_values: int, per_client: int, client_min_blocks: int) -> LabelPolicy:
    """Check the label options and build the policy, failing at install time."""
    if max_label_values < 1:
        raise ConfigurationError("max_label_values must be at least 1", field="max_label_values")
    if per_client < 0:
        raise ConfigurationError("per_client must be 0 (off) or more", field="per_client")
    if client_min_blocks < 1:
        raise ConfigurationError("client_min_blocks must be at least 1", field="client_min_blocks")
    return LabelPolicy(
        limit=max_label_values, per_client=per_client, client_min_blocks=client_min_blocks
    )
