from __future__ import annotations

import logging

import pytest

from hardpoint import events


def test_no_subscriber_means_inactive_sink() -> None:
    assert events.SINK.active is False


def test_subscribe_receives_events_until_unsubscribed() -> None:
    seen: list[events.Event] = []
    unsubscribe = events.subscribe(seen.append)
    assert events.SINK.active
    hit = events.CacheHit(prefix="p", backend="memory", latency=0.001)
    events.SINK.emit(hit)
    unsubscribe()
    unsubscribe()  # harmless twice
    events.SINK.emit(hit)
    assert seen == [hit]
    assert events.SINK.active is False


def test_a_failing_handler_is_logged_and_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[events.Event] = []

    def broken(event: events.Event) -> None:
        raise RuntimeError("exporter bug")

    undo_broken = events.subscribe(broken)
    undo_seen = events.subscribe(seen.append)
    try:
        with caplog.at_level(logging.ERROR, logger="hardpoint.events"):
            events.SINK.emit(
                events.SecretRead(
                    name="DB", backend="env", version=None, result="miss", caller="app"
                )
            )
    finally:
        undo_broken()
        undo_seen()
    assert len(seen) == 1
    assert "failed on SecretRead" in caplog.text


def test_events_are_frozen_and_name_their_component() -> None:
    event = events.RequestBlocked(rule="sqli", location="query.q", client="127.0.0.1")
    with pytest.raises(AttributeError):
        event.rule = "xss"  # type: ignore[misc]  # frozen on purpose
    assert event.component == "validation"
    assert events.CacheMiss.component == "cache"
    assert events.SecretReadFailed.component == "secrets"
