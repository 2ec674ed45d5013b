"""Validation settings: `Limits` and `ValidationConfig`, checked once at construction.

A config also compiles what the middleware needs per request (route matchers, exempt field
sets, header names as bytes) so that nothing derived from it is rebuilt on the hot path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Final, Literal, TypedDict, TypeVar

from hardpoint.errors import ConfigurationError
from hardpoint.validation._types import ALL_DETECTORS, Detector

__all__ = [
    "DEFAULT_INSPECT",
    "PARTS",
    "ConfigOptions",
    "Limits",
    "Mode",
    "OnError",
    "Part",
    "ValidationConfig",
    "parse_detectors",
]

_T = TypeVar("_T")

Mode = Literal["block", "monitor"]
OnError = Literal["block", "allow"]
Part = Literal["path", "query", "json", "form"]

PARTS: Final[frozenset[str]] = frozenset({"path", "query", "json", "form"})
DEFAULT_INSPECT: Final[frozenset[Part]] = frozenset({"path", "query", "json", "form"})

# RFC 9110 §5.1: a field name is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
# A field-path pattern: a source, then `.name` segments and `[]` (any array index).
_FIELD_PATTERN = re.compile(r"(?:root|query|form|header|path)(?:\.[A-Za-z0-9_\-]+|\[\])*\Z")
# `{name}` or `{name:converter}` in a route pattern, as in Starlette.
_ROUTE_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+))?\}")
_CONVERTERS: Final = {
    "str": "[^/]+",
    "path": ".*",
    "int": "[0-9]+",
    "float": r"[0-9]+(?:\.[0-9]+)?",
    "uuid": "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Size and shape limits; a request past one is refused (413 for the body, else 400).

    Every limit is a positive integer. The defaults suit JSON APIs and HTML forms.

    Attributes:
        max_body_bytes: Largest request body, in bytes (10 MiB). A larger declared
            ``Content-Length`` is refused before reading; a streamed body is refused as soon
            as it passes the limit, without buffering the rest.
        max_json_depth: Deepest nesting of JSON objects and arrays (10): ``{"a": [1]}`` has
            depth 2.
        max_string_length: Longest string, in characters (10,000): JSON strings and object
            keys, query, urlencoded and multipart text values and names.
        max_array_length: Most elements in one JSON array (1,000).
        max_fields: Most fields in one part of the request (1,000): every JSON value below
            the root (each object member and each array element), each query or urlencoded
            pair, each multipart part. The default matches Starlette's own ``max_fields``
            for forms and bounds the work of one request to that many detector calls, while
            leaving room for a full ``max_array_length`` array.
    """

    max_body_bytes: int = 10 * 1024 * 1024
    max_json_depth: int = 10
    max_string_length: int = 10_000
    max_array_length: int = 1_000
    max_fields: int = 1_000

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if type(value) is not int or value <= 0:
                raise ConfigurationError(
                    f"Limits.{item.name} must be a positive int, not {value!r}", field=item.name
                )


def parse_detectors(detectors: Iterable[Detector | str], *, argument: str) -> frozenset[Detector]:
    """Return *detectors* as a frozenset of `Detector`, accepting their string values.

    Raises:
        ConfigurationError: An unknown name; the error names it and the valid ones.
    """
    if isinstance(detectors, str):
        detectors = (detectors,)
    chosen: set[Detector] = set()
    for name in detectors:
        try:
            chosen.add(Detector(name))
        except ValueError:
            valid = ", ".join(d.value for d in Detector)
            raise ConfigurationError(
                f"unknown detector {name!r} in {argument}; choose from {valid}", field=argument
            ) from None
    return frozenset(chosen)


def compile_route(pattern: object, *, argument: str) -> re.Pattern[str]:
    """Compile a route pattern (``/posts/{id}``, ``/files/{rest:path}``) to a full-match regex.

    Raises:
        ConfigurationError: Not a str starting with ``/``, or an unknown ``{name:converter}``.
    """
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise ConfigurationError(
            f"{argument}: a route pattern is a str starting with '/', not {pattern!r}",
            field=argument,
        )
    parts: list[str] = []
    end = 0
    for match in _ROUTE_PARAM.finditer(pattern):
        parts.append(re.escape(pattern[end : match.start()]))
        converter = match.group(2) or "str"
        if converter not in _CONVERTERS:
            raise ConfigurationError(
                f"{argument}: unknown converter {converter!r} in route {pattern!r}; "
                f"use one of {', '.join(sorted(_CONVERTERS))}",
                field=argument,
            )
        parts.append(_CONVERTERS[converter])
        end = match.end()
    rest = pattern[end:]
    if "{" in rest or "}" in rest or any("{" in p or "}" in p for p in parts[::2]):
        raise ConfigurationError(
            f"{argument}: malformed '{{param}}' in route {pattern!r}", field=argument
        )
    parts.append(re.escape(rest))
    return re.compile("".join(parts))


def _check_field_pattern(pattern: object, *, argument: str) -> str:
    if not isinstance(pattern, str) or not _FIELD_PATTERN.match(pattern):
        raise ConfigurationError(
            f"{argument}: {pattern!r} is not a field path such as 'root.body', "
            "'root.items[].note', 'query.q', 'form.comment' or 'header.referer'",
            field=argument,
        )
    return pattern


class ConfigOptions(TypedDict, total=False):
    """The `ValidationConfig` fields, accepted as keyword arguments by the middleware."""

    limits: Limits
    detectors: Iterable[Detector | str]
    mode: Mode
    exempt_routes: Iterable[str]
    exempt_fields: Iterable[str | tuple[str, str]]
    inspect: Iterable[Part]
    headers: Iterable[str]
    on_error: OnError
    max_sample_chars: int


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the middleware precomputes from a config; private, rebuilt per config."""

    exempt_routes: re.Pattern[str] | None
    global_fields: frozenset[str]
    route_fields: tuple[tuple[re.Pattern[str], frozenset[str]], ...]
    header_names: frozenset[bytes]
    path: bool
    query: bool
    json: bool
    form: bool


@dataclass(frozen=True, slots=True, init=False)
class ValidationConfig:
    """Everything `InputValidationMiddleware` does, validated at construction.

    Args:
        limits: Size and shape limits (see `Limits`).
        detectors: Which detectors run, as `Detector` members or their names (``"sqli"``,
            ``"xss"``, ``"path_traversal"``, ``"command_injection"``); all four by default.
        mode: ``"block"`` refuses a request with a finding or past a limit; ``"monitor"``
            logs and emits the same `RequestBlocked` event (with ``monitored=True``) but
            passes every request on, for trying the middleware out on live traffic.
        exempt_routes: Route patterns that are not inspected at all (the body size limit
            still holds). Starlette's syntax: ``/webhooks/github`` matches that path
            exactly, ``{name}`` one path segment, ``{name:path}`` the rest of the path, and
            ``{name:int}``, ``{name:float}``, ``{name:uuid}`` what their names say.
        exempt_fields: Field paths not scanned by the detectors (limits still apply), such
            as ``"root.body"`` (a markdown field), ``"root.items[].note"`` (``[]`` is any
            index), ``"query.q"``, ``"form.comment"``. A plain str applies to every route; a
            ``(route_pattern, field_path)`` pair to matching routes only. Exempting an
            object or array exempts everything inside it.
        inspect: Which parts are scanned: ``"path"``, ``"query"`` (keys and values),
            ``"json"`` (string values and object keys of ``application/json`` and
            ``application/*+json`` bodies) and ``"form"`` (urlencoded fields and multipart
            text fields; file parts are never scanned). All four by default. A body that is
            not inspected is only size-limited and streams through unbuffered.
        headers: Names of request headers to scan (case-insensitive), such as
            ``("user-agent", "referer")``. None by default: a false positive on a header
            blocks every request a browser or client library makes, not one form.
        on_error: What happens when the middleware's own checking code fails: ``"block"``
            answers 500 with a JSON body (fail closed); ``"allow"`` logs the exception and
            passes the request on unchecked.
        max_sample_chars: Most characters of the offending value copied (escaped) into the
            log line for a block (80); 0 logs no sample.

    Raises:
        ConfigurationError: Any invalid value; its *field* names the option.
    """

    limits: Limits
    detectors: frozenset[Detector]
    mode: Mode
    exempt_routes: tuple[str, ...]
    exempt_fields: tuple[str | tuple[str, str], ...]
    inspect: frozenset[Part]
    headers: tuple[str, ...]
    on_error: OnError
    max_sample_chars: int
    _plan: _Plan = field(init=False, repr=False, compare=False)

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        detectors: Iterable[Detector | str] = ALL_DETECTORS,
        mode: Mode = "block",
        exempt_routes: Iterable[str] = (),
        exempt_fields: Iterable[str | tuple[str, str]] = (),
        inspect: Iterable[Part] = DEFAULT_INSPECT,
        headers: Iterable[str] = (),
        on_error: OnError = "block",
        max_sample_chars: int = 80,
    ) -> None:
        if limits is None:
            limits = Limits()
        elif not isinstance(limits, Limits):
            raise ConfigurationError(
                f"limits must be a Limits instance, not {type(limits).__name__}", field="limits"
            )
        chosen = parse_detectors(detectors, argument="detectors")
        if mode not in ("block", "monitor"):
            raise ConfigurationError(
                f"mode must be 'block' or 'monitor', not {mode!r}", field="mode"
            )
        if on_error not in ("block", "allow"):
            raise ConfigurationError(
                f"on_error must be 'block' or 'allow', not {on_error!r}", field="on_error"
            )
        if type(max_sample_chars) is not int or max_sample_chars < 0:
            raise ConfigurationError(
                f"max_sample_chars must be an int >= 0, not {max_sample_chars!r}",
                field="max_sample_chars",
            )
        routes = _as_tuple(exempt_routes, "exempt_routes")
        route_regexes = [compile_route(r, argument="exempt_routes") for r in routes]
        field_entries = _as_tuple(exempt_fields, "exempt_fields")
        global_fields: set[str] = set()
        by_route: dict[str, set[str]] = {}
        for entry in field_entries:
            if isinstance(entry, tuple) and len(entry) == 2:
                route, path = entry
                compile_route(route, argument="exempt_fields")
                by_route.setdefault(route, set()).add(
                    _check_field_pattern(path, argument="exempt_fields")
                )
            else:
                global_fields.add(_check_field_pattern(entry, argument="exempt_fields"))
        parts = frozenset(_as_tuple(inspect, "inspect"))
        unknown = parts - PARTS
        if unknown:
            raise ConfigurationError(
                f"inspect: unknown part {sorted(unknown)[0]!r}; choose from "
                f"{', '.join(sorted(PARTS))} (headers are chosen with headers=)",
                field="inspect",
            )
        names = tuple(_header_name(h) for h in _as_tuple(headers, "headers"))
        plan = _Plan(
            exempt_routes=(
                re.compile("|".join(f"(?:{r.pattern})" for r in route_regexes))
                if route_regexes
                else None
            ),
            global_fields=frozenset(global_fields),
            route_fields=tuple(
                (compile_route(route, argument="exempt_fields"), frozenset(paths))
                for route, paths in by_route.items()
            ),
            header_names=frozenset(n.encode("ascii") for n in names),
            path="path" in parts,
            query="query" in parts,
            json="json" in parts,
            form="form" in parts,
        )
        setattr_ = object.__setattr__
        setattr_(self, "limits", limits)
        setattr_(self, "detectors", chosen)
        setattr_(self, "mode", mode)
        setattr_(self, "exempt_routes", routes)
        setattr_(self, "exempt_fields", field_entries)
        setattr_(self, "inspect", parts)
        setattr_(self, "headers", names)
        setattr_(self, "on_error", on_error)
        setattr_(self, "max_sample_chars", max_sample_chars)
        setattr_(self, "_plan", plan)


def _as_tuple(values: Iterable[_T], argument: str) -> tuple[_T, ...]:
    # A bare str is an iterable of characters: refuse it rather than exempt "/", "a", ...
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ConfigurationError(
            f"{argument} must be a list or tuple, not {type(values).__name__}", field=argument
        )
    return tuple(values)


def _header_name(name: object) -> str:
    if not isinstance(name, str) or not _TOKEN.match(name):
        raise ConfigurationError(f"headers: {name!r} is not a header name", field="headers")
    return name.lower()
