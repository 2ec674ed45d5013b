from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    InMemoryMetricReader,
    NumberDataPoint,
    Sum,
)
from prometheus_client import CollectorRegistry

from hardpoint import events

# (instrument name, sorted attribute items) -> value; a histogram's value is (count, sum).
OtelPoints = dict[tuple[str, tuple[tuple[str, str], ...]], Any]


@pytest.fixture(autouse=True)
def _sink_left_clean() -> Iterator[None]:
    """Every test must uninstall what it installs."""
    assert not events.SINK.active, "a subscriber was left over before this test"
    yield
    assert not events.SINK.active, "this test left a subscriber behind"


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def otel_provider() -> Iterator[tuple[MeterProvider, InMemoryMetricReader]]:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    yield provider, reader
    provider.shutdown()


def read_points(reader: InMemoryMetricReader) -> OtelPoints:
    points: OtelPoints = {}
    data = reader.get_metrics_data()
    if data is None:
        return points
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                assert isinstance(metric.data, Sum | Histogram | Gauge)
                for point in metric.data.data_points:
                    attrs = tuple(sorted((k, str(v)) for k, v in (point.attributes or {}).items()))
                    if isinstance(point, HistogramDataPoint):
                        points[metric.name, attrs] = (point.count, point.sum)
                    else:
                        assert isinstance(point, NumberDataPoint)
                        points[metric.name, attrs] = point.value
    return points


@pytest.fixture
def otel_points() -> Callable[[InMemoryMetricReader], OtelPoints]:
    return read_points
