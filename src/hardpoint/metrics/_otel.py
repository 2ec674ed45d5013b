"""Export events through the OpenTelemetry metrics API (the SDK is the host's choice)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from hardpoint._optional import requires_extra
from hardpoint._version import __version__
from hardpoint.events import subscribe
from hardpoint.metrics import _spec as m
from hardpoint.metrics._exporter import Exporter, make_policy
from hardpoint.metrics._labels import LabelPolicy
from hardpoint.metrics._spec import DURATION_BUCKETS, METRICS, MetricSpec
from hardpoint.metrics._translate import Labels, Recorder, Translator

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider

__all__ = ["install_opentelemetry"]

_OTEL_UNITS: Final = {"seconds": "s", "seconds (Unix time)": "s", "dollars": "{USD}", "1": "1"}


class _OtelTranslator(Translator):
    def __init__(self, policy: LabelPolicy, instruments: dict[str, Any]) -> None:
        super().__init__(policy)
        self._instruments = instruments

    def bind(self, spec: MetricSpec, labels: Labels) -> Recorder:
        instrument = self._instruments[spec.name]
        # Built once per series: the SDK hashes the attributes on every call anyway.
        attributes = dict(zip(spec.labels, labels, strict=True))
        if spec.kind == "counter":
            add = instrument.add
            return lambda amount: add(amount, attributes)
        if spec.kind == "histogram":
            record = instrument.record
            return lambda value: record(value, attributes)
        set_value = instrument.set
        return lambda value: set_value(value, attributes)


def install_opentelemetry(
    meter_provider: MeterProvider | None = None,
    *,
    per_client: int = 0,
    client_min_blocks: int = 1,
    max_label_values: int = 100,
) -> Exporter:
    """Export every hardpoint event as OpenTelemetry instruments of the meter ``hardpoint``.

    Only the API is used (``hardpoint[otel]``); the host configures the SDK, its readers
    and exporters. Instrument names are in the metrics table of the docs; durations are
    in seconds (unit ``s``).

    Args:
        meter_provider: Where to get the meter; default the global provider.
        per_client: Also count blocked requests per client address, for at most this many
            addresses (the rest are ``other``); 0 (the default) leaves the instrument out.
        client_min_blocks: Blocks from one address before it gets its own attribute value.
        max_label_values: Distinct values kept per attribute for names such as the cache
            prefix or the secret name; later values are reported as ``other``.

    Returns:
        The installed exporter; `Exporter.uninstall` unsubscribes it (the instruments stay
        with the provider, as the API cannot remove them).

    Raises:
        MissingDependencyError: opentelemetry-api is not installed (``hardpoint[otel]``).
        ConfigurationError: An option is out of range.
    """
    policy = make_policy(
        max_label_values=max_label_values,
        per_client=per_client,
        client_min_blocks=client_min_blocks,
    )
    with requires_extra("otel", feature="hardpoint.metrics.install_opentelemetry"):
        from opentelemetry import metrics

    provider = metrics.get_meter_provider() if meter_provider is None else meter_provider
    meter = provider.get_meter("hardpoint", __version__)
    instruments: dict[str, Any] = {}
    for spec in METRICS:
        if spec is m.BLOCKED_BY_CLIENT and not per_client:
            continue
        unit = _OTEL_UNITS[spec.unit]
        if spec.kind == "counter":
            instruments[spec.name] = meter.create_counter(spec.otel_name, unit, spec.help)
        elif spec.kind == "histogram":
            instruments[spec.name] = meter.create_histogram(
                spec.otel_name,
                unit,
                spec.help,
                explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
            )
        else:
            instruments[spec.name] = meter.create_gauge(spec.otel_name, unit, spec.help)
    translator = _OtelTranslator(policy, instruments)
    return Exporter("opentelemetry", subscribe(translator.handle), lambda: None)
