"""Export events as prometheus_client metrics, in one process or under gunicorn."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Final

from hardpoint._optional import requires_extra
from hardpoint.events import subscribe
from hardpoint.metrics import _spec as m
from hardpoint.metrics._exporter import Exporter, make_policy
from hardpoint.metrics._labels import LabelPolicy
from hardpoint.metrics._spec import DURATION_BUCKETS, METRICS, MetricSpec
from hardpoint.metrics._translate import Labels, Recorder, Translator

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["GAUGE_MULTIPROCESS_MODES", "install_prometheus", "multiprocess_dir"]

GAUGE_MULTIPROCESS_MODES: Final = {
    # Newest rotation any process has seen, kept after a worker exits.
    m.SECRET_ROTATION.name: "max",
    # Pools are per process: one series per live worker (a ``pid`` label), so the alert
    # compares each worker's in-use count with its own pool's size.
    m.POOL_IN_USE.name: "liveall",
    m.POOL_MAX.name: "liveall",
}
"""prometheus_client ``multiprocess_mode`` of each gauge."""


def multiprocess_dir() -> str | None:
    """The directory prometheus_client's multiprocess mode writes to, if it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class _PrometheusTranslator(Translator):
    def __init__(self, policy: LabelPolicy, metrics: dict[str, Any]) -> None:
        super().__init__(policy)
        self._metrics = metrics

    def bind(self, spec: MetricSpec, labels: Labels) -> Recorder:
        # `.labels()` takes a lock and checks its arguments: done once per series.
        child = self._metrics[spec.name].labels(*labels)
        if spec.kind == "counter":
            return child.inc  # type: ignore[no-any-return]  # prometheus_client is untyped here
        if spec.kind == "histogram":
            return child.observe  # type: ignore[no-any-return]  # as above
        return child.set  # type: ignore[no-any-return]  # as above


def install_prometheus(
    registry: CollectorRegistry | None = None,
    *,
    per_client: int = 0,
    client_min_blocks: int = 1,
    max_label_values: int = 100,
) -> Exporter:
    """Export every hardpoint event as Prometheus metrics (see the table in the docs).

    In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set before prometheus_client was
    first imported, as under gunicorn) the values go to that directory and `metrics_app`
    sums them over the workers. Call it where the app is imported: in each worker, or once
    in the master before forking (gunicorn's ``preload_app``); both work.

    Args:
        registry: Where to register the metrics; default prometheus_client's ``REGISTRY``.
        per_client: Also count blocked requests per client address, for at most this many
            addresses (the rest are ``other``); 0 (the default) leaves the metric out.
        client_min_blocks: Blocks from one address before it gets its own label.
        max_label_values: Distinct values kept per label for names such as the cache
            prefix or the secret name; later values are reported as ``other``.

    Returns:
        The installed exporter; `Exporter.uninstall` unsubscribes it and unregisters the
        metrics from *registry*.

    Raises:
        MissingDependencyError: prometheus-client is not installed (``hardpoint[prometheus]``).
        ConfigurationError: An option is out of range.
        ValueError: hardpoint's metrics are already registered in *registry*.
    """
    policy = make_policy(
        max_label_values=max_label_values,
        per_client=per_client,
        client_min_blocks=client_min_blocks,
    )
    with requires_extra("prometheus", feature="hardpoint.metrics.install_prometheus"):
        import prometheus_client

    target = prometheus_client.REGISTRY if registry is None else registry
    metrics: dict[str, Any] = {}
    try:
        for spec in METRICS:
            if spec is m.BLOCKED_BY_CLIENT and not per_client:
                continue
            metrics[spec.name] = _make(prometheus_client, spec, target)
    except ValueError:
        _unregister(target, metrics)
        raise
    translator = _PrometheusTranslator(policy, metrics)
    return Exporter(
        "prometheus", subscribe(translator.handle), lambda: _unregister(target, metrics)
    )


def _make(client: Any, spec: MetricSpec, registry: CollectorRegistry) -> Any:
    if spec.kind == "counter":
        return client.Counter(spec.name, spec.help, spec.labels, registry=registry)
    if spec.kind == "histogram":
        return client.Histogram(
            spec.name, spec.help, spec.labels, registry=registry, buckets=DURATION_BUCKETS
        )
    return client.Gauge(
        spec.name,
        spec.help,
        spec.labels,
        registry=registry,
        multiprocess_mode=GAUGE_MULTIPROCESS_MODES[spec.name],
    )


def _unregister(registry: CollectorRegistry, metrics: dict[str, Any]) -> None:
    for metric in metrics.values():
        registry.unregister(metric)
