"""Label values stay in finite sets, whatever the events carry."""

from __future__ import annotations

import os
import string
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from hardpoint import events
from hardpoint.errors import ConfigurationError
from hardpoint.llm_cache import LLMCacheHit, LLMCacheMiss
from hardpoint.metrics import LOCATION_KINDS, OTHER, install_prometheus, location_kind
from hardpoint.metrics._labels import CappedLabel, ClientSlots
from hardpoint.secrets import EnvBackend, SecretsManager


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("query.q", "query"),
        ("query", "query"),
        ("QUERY[3]", "query"),
        ("root.title", "body"),
        ("root[0].items[12].name", "body"),
        ("body", "body"),
        ("headers.user-agent", "header"),
        ("cookie:session", "cookie"),
        ("path", "path"),
        ("/users/1234", OTHER),
        ("user_supplied_field_name", OTHER),
        ("", OTHER),
    ],
)
def test_location_is_reduced_to_its_kind(location: str, kind: str) -> None:
    assert location_kind(location) == kind


@given(st.text())
def test_location_kind_is_total_and_finite(location: str) -> None:
    assert location_kind(location) in LOCATION_KINDS | {OTHER}


def test_capped_label_keeps_the_first_values_then_says_other() -> None:
    label = CappedLabel(2)
    assert [label(v) for v in ("a", "b", "c", "a", "d", "b")] == ["a", "b", OTHER, "a", OTHER, "b"]
    assert len(label) == 2
    assert CappedLabel(5)("x" * 500) == "x" * 100


def test_client_slots_promote_repeat_offenders_only() -> None:
    slots = ClientSlots(2, min_blocks=3)
    assert [slots("10.0.0.1") for _ in range(3)] == [OTHER, OTHER, "10.0.0.1"]
    assert slots(None) == "unknown"
    assert slots("10.0.0.2") == OTHER
    assert slots.named == {"10.0.0.1"}


def blocked_from(client: str) -> events.RequestBlocked:
    return events.RequestBlocked(rule="sqli", location="query.q", client=client)


def client_series(registry: CollectorRegistry) -> dict[str, float]:
    return {
        sample.labels["client"]: sample.value
        for family in registry.collect()
        if family.name == "hardpoint_validation_client_blocked_requests"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


def test_ten_thousand_addresses_stay_within_the_cap(registry: CollectorRegistry) -> None:
    attacker = "198.51.100.66"
    with install_prometheus(registry, per_client=10, client_min_blocks=3):
        for i in range(10_000):
            events.SINK.emit(blocked_from(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"))
            if 5_000 <= i < 5_100 and i % 5 == 0:  # a burst of 20 blocks amid the flood
                events.SINK.emit(blocked_from(attacker))
        series = client_series(registry)
    # One-off addresses never take a slot; the repeat offender does after 3 blocks.
    assert set(series) == {attacker, OTHER}
    assert series[attacker] == 20 - 2
    assert sum(series.values()) == 10_020  # every block is counted exactly once


def test_the_cap_holds_when_every_address_repeats(registry: CollectorRegistry) -> None:
    with install_prometheus(registry, per_client=10):
        for i in range(10_000):
            events.SINK.emit(blocked_from(f"addr-{i}"))
            events.SINK.emit(blocked_from(f"addr-{i}"))
        series = client_series(registry)
    assert len(series) == 11  # ten addresses and "other"
    assert sum(series.values()) == 20_000


def test_per_client_is_off_by_default(registry: CollectorRegistry) -> None:
    with install_prometheus(registry):
        events.SINK.emit(blocked_from("192.0.2.1"))
        assert client_series(registry) == {}
        assert all("192.0.2.1" not in str(f.samples) for f in registry.collect())


@pytest.mark.parametrize(
    "options",
    [{"per_client": -1}, {"client_min_blocks": 0}, {"max_label_values": 0}],
)
def test_bad_options_fail_at_install(registry: CollectorRegistry, options: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        install_prometheus(registry, **options)
    assert not events.SINK.active


# -- property: nothing unbounded or secret ever becomes a label ----------------------------

LIMIT = 3
text = st.text(max_size=40)
# Fields whose values are configured names: capped at LIMIT distinct values (plus "other").
CAPPED = {"prefix", "backend", "operation", "model", "rule", "secret", "error", "pool", "breaker"}
FINITE = {
    "result": {"hit", "miss", "stale", "bypass", OTHER},
    "location": LOCATION_KINDS | {OTHER},
    "mode": {"enforce", "monitor"},
    "kind": {"input", "output"},
    "state": {"closed", "open", "half_open", OTHER},
}

event_strategy = st.one_of(
    st.builds(events.CacheHit, prefix=text, backend=text, latency=st.floats(0, 1)),
    st.builds(events.CacheMiss, prefix=text, backend=text, latency=st.floats(0, 1)),
    st.builds(events.CacheStaleServed, prefix=text, backend=text),
    st.builds(events.CacheError, prefix=text, backend=text, operation=text, error=text),
    st.builds(events.CacheCorrupt, prefix=text, backend=text, reason=text),
    st.builds(
        events.BreakerStateChanged,
        name=text,
        old=st.sampled_from(["closed", "open", "half_open"]),
        new=st.sampled_from(["closed", "open", "half_open"]),
    ),
    st.builds(
        events.RequestBlocked,
        rule=text,
        location=text,
        client=st.none() | text,
        monitored=st.booleans(),
    ),
    st.builds(
        events.SecretRead,
        name=text,
        backend=text,
        version=st.none() | text,
        result=st.sampled_from(["hit", "miss", "stale"]),
        caller=text,
        created=st.none() | st.floats(0, 2e9),
    ),
    st.builds(events.SecretReadFailed, name=text, backend=text, error=text),
    st.builds(
        events.PoolCheckout,
        pool=text,
        wait=st.floats(0, 10),
        in_use=st.integers(0, 100),
        size=st.none() | st.integers(1, 100),
    ),
    st.builds(events.PoolTimeout, pool=text, wait=st.floats(0, 10)),
    st.builds(
        LLMCacheHit,
        model=text,
        input_tokens=st.integers(0, 10**6),
        output_tokens=st.integers(0, 10**6),
        dollars_saved=st.floats(0, 10),
    ),
    st.builds(LLMCacheMiss, model=text, cacheable=st.booleans()),
)


def label_values(registry: CollectorRegistry) -> Iterator[tuple[str, str]]:
    for family in registry.collect():
        for sample in family.samples:
            for name, value in sample.labels.items():
                if name != "le":  # histogram bucket bounds
                    yield name, value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(event_strategy, max_size=40))
def test_labels_come_from_finite_sets_only(batch: list[events.Event]) -> None:
    registry = CollectorRegistry()
    with install_prometheus(registry, max_label_values=LIMIT):
        for event in batch:
            events.SINK.emit(event)
        seen: dict[str, set[str]] = {}
        for name, value in label_values(registry):
            seen.setdefault(name, set()).add(value)
    # Free text that must never be a label: client (not opted in), raw locations, versions,
    # callers, error messages and reasons.
    free_text = set()
    for event in batch:
        if isinstance(event, events.RequestBlocked):
            free_text |= {event.client or "", event.location}
        elif isinstance(event, events.SecretRead):
            free_text |= {event.version or "", event.caller}
        elif isinstance(event, events.CacheCorrupt):
            free_text.add(event.reason)
    allowed_anyway = set().union(*FINITE.values(), *(seen.get(n, set()) for n in CAPPED))
    assert "client" not in seen
    for name, values in seen.items():
        if name in FINITE:
            assert values <= FINITE[name], name
        else:
            assert name in CAPPED, name
            assert len(values - {OTHER}) <= LIMIT, (name, values)
        assert not (values & free_text) - allowed_anyway


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + string.punctuation, min_size=1))
def test_secret_values_never_reach_a_label(value: str) -> None:
    marked = "sv-" + value
    os.environ["HP_PROPERTY_TOKEN"] = marked
    try:
        registry = CollectorRegistry()
        manager = SecretsManager(EnvBackend(prefix="HP_PROPERTY_"))
        with install_prometheus(registry):
            assert manager.get("TOKEN") == marked
            assert manager.get("TOKEN") == marked
            values = [v for _, v in label_values(registry)]
        assert "TOKEN" in values
        assert not any(marked in v for v in values)
    finally:
        del os.environ["HP_PROPERTY_TOKEN"]


def test_thousands_of_prefixes_keep_series_and_memory_bounded(registry: CollectorRegistry) -> None:
    with install_prometheus(registry, max_label_values=3) as exporter:
        for i in range(5_000):
            events.SINK.emit(events.CacheHit(prefix=f"p{i}", backend="memory", latency=0.0))
        prefixes = {
            sample.labels["prefix"]
            for family in registry.collect()
            if family.name == "hardpoint_cache_requests"
            for sample in family.samples
        }
        translator = events.SINK._handlers[0].__self__  # type: ignore[attr-defined]
        assert len(translator._lookups) == 4096  # the fast path's table stops growing
        assert exporter.installed
    assert prefixes == {"p0", "p1", "p2", OTHER}


def test_secret_names_past_the_cap_get_no_rotation_time(registry: CollectorRegistry) -> None:
    with install_prometheus(registry, max_label_values=1):
        for name in ("FIRST", "SECOND", "THIRD"):
            for version in ("1", "2"):
                events.SINK.emit(
                    events.SecretRead(
                        name=name, backend="vault", version=version, result="miss", caller="x"
                    )
                )
        rotation = {
            sample.labels["secret"]
            for family in registry.collect()
            if family.name == "hardpoint_secret_last_rotation_timestamp_seconds"
            for sample in family.samples
        }
    assert rotation == {"FIRST"}
