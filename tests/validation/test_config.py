"""`Limits`, `ValidationConfig` and `scan`: every bad value fails at construction, by name."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from hardpoint.errors import ConfigurationError
from hardpoint.validation import (
    Detector,
    Finding,
    InputValidationMiddleware,
    Limits,
    ValidationConfig,
    scan,
)


async def _app(scope: Any, receive: Any, send: Any) -> None:
    raise AssertionError("never called")


def test_limits_defaults_match_the_issue() -> None:
    limits = Limits()
    assert limits.max_body_bytes == 10 * 1024 * 1024
    assert limits.max_json_depth == 10
    assert limits.max_string_length == 10_000
    assert limits.max_array_length == 1_000
    assert limits.max_fields == 1_000


@pytest.mark.parametrize(
    "name",
    ["max_body_bytes", "max_json_depth", "max_string_length", "max_array_length", "max_fields"],
)
@pytest.mark.parametrize("value", [0, -1, 1.5, "10", True, None])
def test_limits_refuse_non_positive_ints_naming_the_field(name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=name) as info:
        Limits(**{name: value})  # type: ignore[arg-type]  # the point is the wrong type
    assert info.value.field == name


def test_limits_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Limits().max_fields = 5  # type: ignore[misc]  # the point is that it is frozen


def test_config_defaults() -> None:
    config = ValidationConfig()
    assert config.limits == Limits()
    assert config.detectors == frozenset(Detector)
    assert config.mode == "block"
    assert config.on_error == "block"
    assert config.inspect == frozenset({"path", "query", "json", "form"})
    assert config.headers == ()
    assert config.exempt_routes == ()
    assert config.exempt_fields == ()
    assert config.max_sample_chars == 80


def test_config_normalises_collections_and_is_hashable() -> None:
    config = ValidationConfig(
        detectors=["sqli", Detector.XSS],
        exempt_routes=["/webhooks/{name}"],
        exempt_fields=["root.body", ("/posts/{id:int}", "root.items[].note")],
        inspect=["json"],
        headers=["User-Agent"],
    )
    assert config.detectors == frozenset({Detector.SQLI, Detector.XSS})
    assert config.exempt_routes == ("/webhooks/{name}",)
    assert config.exempt_fields == ("root.body", ("/posts/{id:int}", "root.items[].note"))
    assert config.inspect == frozenset({"json"})
    assert config.headers == ("user-agent",)
    assert hash(config) == hash(dataclasses.replace(config))
    assert config == dataclasses.replace(config)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"detectors": ["sqli", "nosql"]}, "detectors"),
        ({"detectors": "sql"}, "detectors"),
        ({"mode": "log"}, "mode"),
        ({"on_error": "ignore"}, "on_error"),
        ({"max_sample_chars": -1}, "max_sample_chars"),
        ({"max_sample_chars": 2.5}, "max_sample_chars"),
        ({"limits": {"max_fields": 3}}, "limits"),
        ({"exempt_routes": "/health"}, "exempt_routes"),
        ({"exempt_routes": ["health"]}, "exempt_routes"),
        ({"exempt_routes": ["/x/{id:slug}"]}, "exempt_routes"),
        ({"exempt_routes": ["/x/{id"]}, "exempt_routes"),
        ({"exempt_fields": ["body"]}, "exempt_fields"),
        ({"exempt_fields": ["root.items[0]"]}, "exempt_fields"),
        ({"exempt_fields": ["root..x"]}, "exempt_fields"),
        ({"exempt_fields": [("posts", "root.body")]}, "exempt_fields"),
        ({"exempt_fields": [("/posts", "title")]}, "exempt_fields"),
        ({"inspect": ["json", "cookies"]}, "inspect"),
        ({"inspect": "json"}, "inspect"),
        ({"headers": ["user agent"]}, "headers"),
        ({"headers": "user-agent"}, "headers"),
    ],
)
def test_config_refuses_bad_values_naming_the_option(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        ValidationConfig(**kwargs)
    assert info.value.field == field
    assert field in str(info.value)


def test_unknown_detector_error_names_the_bad_name_and_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"'nosql'.*sqli, xss, path_traversal"):
        ValidationConfig(detectors=["nosql"])


def test_middleware_takes_config_fields_as_keywords() -> None:
    middleware = InputValidationMiddleware(_app, mode="monitor", headers=["referer"])
    assert middleware.config == ValidationConfig(mode="monitor", headers=["referer"])


def test_middleware_keywords_override_a_given_config() -> None:
    base = ValidationConfig(limits=Limits(max_fields=5), on_error="allow")
    middleware = InputValidationMiddleware(_app, config=base, mode="monitor")
    assert middleware.config.limits.max_fields == 5
    assert middleware.config.on_error == "allow"
    assert middleware.config.mode == "monitor"


def test_middleware_validates_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="mode"):
        InputValidationMiddleware(_app, mode="off")  # type: ignore[arg-type]  # deliberately wrong


def test_scan_finds_obvious_attacks_and_passes_benign_text() -> None:
    finding = scan("' UNION SELECT password FROM users--")
    assert isinstance(finding, Finding)
    assert finding.rule is Detector.SQLI
    assert finding.field == ""
    assert scan("O'Brien") is None
    assert scan("Please select a size and drop me a line; thanks!") is None


def test_scan_runs_only_the_chosen_detectors() -> None:
    assert scan("<script>alert(1)</script>", detectors=["sqli"]) is None
    found = scan("<script>alert(1)</script>", detectors="xss")
    assert found is not None
    assert found.rule is Detector.XSS
    assert scan("../../etc/passwd", detectors=[]) is None


def test_scan_refuses_a_non_str_value_naming_the_argument() -> None:
    with pytest.raises(TypeError, match="'value' must be str, not bytes"):
        scan(b"' OR 1=1--")  # type: ignore[arg-type]  # the point is the wrong type


def test_scan_refuses_unknown_detector_names() -> None:
    with pytest.raises(ConfigurationError, match="'sql'") as info:
        scan("x", detectors=["sql"])
    assert info.value.field == "detectors"
