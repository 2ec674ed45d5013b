"""Prometheus and OpenTelemetry export of the events every hardpoint component emits.

```python
from hardpoint.metrics import install_prometheus, metrics_app

install_prometheus()                        # at startup; per_client=20 to count by address
app.add_route("/metrics", metrics_app())    # Starlette / FastAPI
```

The components know nothing of metrics libraries: they emit typed events
(`hardpoint.events`) and an installed exporter turns them into counters, histograms and
gauges. With nothing installed, an event costs one attribute check. Every label value is
bounded (see `METRICS` and the docs' table): no cache key, request path, secret value or,
unless opted in and capped, client address ever becomes a label.
"""

from hardpoint.metrics._asgi import ASGIApp, metrics_app
from hardpoint.metrics._exporter import Exporter
from hardpoint.metrics._labels import LOCATION_KINDS, OTHER, location_kind
from hardpoint.metrics._otel import install_opentelemetry
from hardpoint.metrics._prometheus import GAUGE_MULTIPROCESS_MODES, install_prometheus
from hardpoint.metrics._spec import DURATION_BUCKETS, METRICS, MetricSpec

__all__ = [
    "DURATION_BUCKETS",
    "GAUGE_MULTIPROCESS_MODES",
    "LOCATION_KINDS",
    "METRICS",
    "OTHER",
    "ASGIApp",
    "Exporter",
    "MetricSpec",
    "install_opentelemetry",
    "install_prometheus",
    "location_kind",
    "metrics_app",
]
