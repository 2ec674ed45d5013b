"""The sans-I/O parsers: field paths, limits, and totality (only `BodyError`, bounded time)."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hardpoint.validation import Limits
from hardpoint.validation._parsers import (
    BodyError,
    field_name,
    parse_content_type,
    parse_json,
    parse_multipart,
    parse_urlencoded,
    walk_json,
)

SMALL = Limits(
    max_body_bytes=1000, max_json_depth=3, max_string_length=20, max_array_length=4, max_fields=8
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=10), children, max_size=6)
    ),
    max_leaves=40,
)


# --- JSON -----------------------------------------------------------------------------------


def test_json_field_paths_name_keys_and_indexes() -> None:
    body = json.dumps(
        {"title": "t", "items": [{"name": "a"}, {"name": "b"}, {"name": "c"}], "n": 1}
    ).encode()
    fields = dict(parse_json(body, Limits()))
    assert fields == {
        "root.title": "t",
        "root.items[0].name": "a",
        "root.items[1].name": "b",
        "root.items[2].name": "c",
    }


def test_json_keys_that_are_not_plain_names_are_scanned_and_quoted() -> None:
    fields = parse_json(b'{"a.b": "x", "items[].note": "y", "<k>": 1}', Limits())
    assert ('root["a.b"]', "a.b") in fields
    assert ('root["a.b"]', "x") in fields
    assert ('root["items[].note"]', "y") in fields
    assert ('root["<k>"]', "<k>") in fields


def test_json_scalar_root_and_empty_body() -> None:
    assert parse_json(b'"hello"', Limits()) == [("root", "hello")]
    assert parse_json(b"42", Limits()) == []
    assert parse_json(b"  \r\n", Limits()) == []


def test_json_in_utf16_is_read() -> None:
    assert parse_json('{"q": "x"}'.encode("utf-16"), Limits()) == [("root.q", "x")]


@pytest.mark.parametrize(
    ("body", "rule", "field"),
    [
        (b'{"a": [[[1]]]}', "max_json_depth", "root.a[0][0]"),
        (b"[" * 5000 + b"]" * 5000, "max_json_depth", "root"),
        (b'{"a": "' + b"x" * 21 + b'"}', "max_string_length", "root.a"),
        (b'{"' + b"k" * 21 + b'": 1}', "max_string_length", "root." + "k" * 21),
        (b'["' + b"x" * 21 + b'"]', "max_string_length", "root[0]"),
        (b'"' + b"x" * 21 + b'"', "max_string_length", "root"),
        (b'{"a": [1, 2, 3, 4, 5]}', "max_array_length", "root.a"),
        (
            b'{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9}',
            "max_fields",
            "root",
        ),
        (b'{"a": [1, 2, 3, 4], "b": [1, 2, 3, 4], "c": 1}', "max_fields", None),
        (b"{bad", "malformed_json", "body"),
        (b'{"a": 1', "malformed_json", "body"),
        (b"\xff\xfe\xfd", "malformed_json", "body"),
        (b"1" * 5000, "malformed_json", "body"),
    ],
)
def test_json_limits_and_errors_name_the_rule_and_field(
    body: bytes, rule: str, field: str | None
) -> None:
    with pytest.raises(BodyError) as info:
        parse_json(body, SMALL)
    assert info.value.rule == rule
    assert rule in str(info.value) or rule == "malformed_json"
    if field is not None:
        assert info.value.field == field
    assert info.value.status == 400


def test_json_depth_limit_allows_exactly_the_limit() -> None:
    assert parse_json(b'{"a": {"b": ["x"]}}', SMALL) == [("root.a.b[0]", "x")]


@given(json_values)
@settings(max_examples=300, deadline=None)
def test_json_walker_is_total_and_finds_every_string(doc: Any) -> None:
    try:
        fields = walk_json(doc, SMALL)
    except BodyError as exc:
        rule = exc.rule
        assert rule in {"max_json_depth", "max_string_length", "max_array_length", "max_fields"}
        return
    found = sorted(value for _, value in fields)
    expected: list[str] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            expected.append(node)
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            expected.extend(k for k in node if not k.isidentifier())
            stack.extend(node.values())
    assert found == sorted(expected)
    for path, _ in fields:
        assert path.startswith("root")


@given(json_values)
@settings(max_examples=200, deadline=None)
def test_json_field_paths_lead_back_to_the_value(doc: Any) -> None:
    decoder = json.JSONDecoder()
    with contextlib.suppress(BodyError):
        for path, value in walk_json(doc, Limits()):
            node = doc
            last_key: object = None
            rest = path[len("root") :]
            while rest:
                if rest.startswith("."):
                    ends = [i for i in (rest.find(".", 1), rest.find("[", 1)) if i > 0]
                    end = min(ends, default=len(rest))
                    last_key = rest[1:end]
                    rest = rest[end:]
                elif rest.startswith('["'):
                    last_key, end = decoder.raw_decode(rest, 1)
                    rest = rest[end + 1 :]
                else:
                    end = rest.index("]")
                    last_key = int(rest[1:end])
                    rest = rest[end + 1 :]
                node = node[last_key]
            # A string value sits at its path; a key is the last step of the path itself.
            assert node == value or last_key == value


@given(st.binary(max_size=300))
@settings(max_examples=300, deadline=None)
@example(b"[" * 2000)
@example(b'{"a":' * 50)
def test_json_parser_is_total(body: bytes) -> None:
    with contextlib.suppress(BodyError):
        parse_json(body, SMALL)


def test_json_walk_time_is_bounded_by_the_limits() -> None:
    doc = [["x" * 100] * 1000] * 1000  # a million strings, far past max_fields
    start = time.perf_counter()
    with pytest.raises(BodyError, match="max_fields"):
        walk_json(doc, Limits())
    assert time.perf_counter() - start < 0.5


# --- urlencoded -------------------------------------------------------------------------------


def test_urlencoded_decodes_plus_and_percent_and_names_fields() -> None:
    fields = parse_urlencoded(b"q=a+b%20c&empty=&flag&x%2Ey=%3Cz%3E", Limits(), "query")
    assert fields == [
        ("query.q", "a b c"),
        ('query["x.y"]', "x.y"),
        ('query["x.y"]', "<z>"),
    ]


def test_urlencoded_bad_utf8_is_replaced_not_raised() -> None:
    assert parse_urlencoded(b"q=%ff%fe", Limits(), "form") == [("form.q", "\ufffd\ufffd")]


def test_urlencoded_limits() -> None:
    with pytest.raises(BodyError, match="max_fields") as info:
        parse_urlencoded(b"&".join(b"a=1" for _ in range(9)), SMALL, "query")
    assert info.value.field == "query"
    with pytest.raises(BodyError, match="max_string_length") as info:
        parse_urlencoded(b"a=" + b"x" * 21, SMALL, "form")
    assert info.value.field == "form.a"
    with pytest.raises(BodyError, match="max_fields"):
        parse_urlencoded(b"&" * 10_000_000, Limits(), "form")


@given(st.binary(max_size=400))
@settings(max_examples=300, deadline=None)
def test_urlencoded_parser_is_total(data: bytes) -> None:
    try:
        fields = parse_urlencoded(data, SMALL, "form")
    except BodyError as exc:
        rule = exc.rule
        assert rule in {"max_fields", "max_string_length"}
        return
    for path, value in fields:
        assert path.startswith("form")
        assert value
        assert len(value) <= SMALL.max_string_length


@given(st.dictionaries(st.text(min_size=1, max_size=10), st.text(max_size=15), max_size=6))
@settings(max_examples=200, deadline=None)
def test_urlencoded_round_trips_what_a_client_encodes(pairs: dict[str, str]) -> None:
    from urllib.parse import urlencode

    fields = parse_urlencoded(urlencode(pairs).encode(), Limits(), "form")
    values = {value for _, value in fields}
    for key, value in pairs.items():
        assert value in values or not value
        assert key in values or key.isidentifier()


# --- multipart --------------------------------------------------------------------------------


def _multipart(*parts: tuple[str, bytes], boundary: str = "XyZ") -> bytes:
    out = b""
    for headers, content in parts:
        out += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_multipart_text_fields_are_returned_and_files_skipped() -> None:
    body = _multipart(
        ('Content-Disposition: form-data; name="comment"', b"hello"),
        (
            'Content-Disposition: form-data; name="upload"; filename="a.txt"\r\n'
            "Content-Type: text/plain",
            b"../../etc/passwd",
        ),
        (
            'Content-Disposition: form-data; name="latin"\r\n'
            "Content-Type: text/plain; charset=latin-1",
            "café".encode("latin-1"),
        ),
        ('content-disposition: form-data; name="a.b"', b"v"),
    )
    assert parse_multipart(body, "XyZ", Limits()) == [
        ("form.comment", "hello"),
        ("form.latin", "café"),
        ('form["a.b"]', "a.b"),
        ('form["a.b"]', "v"),
    ]


def test_multipart_preamble_epilogue_and_quoted_names() -> None:
    body = (
        b"preamble\r\n"
        + _multipart(('Content-Disposition: form-data; name="say \\"hi\\""', b"x"))
        + b"epilogue"
    )
    assert parse_multipart(body, "XyZ", Limits()) == [
        ('form["say \\"hi\\""]', 'say "hi"'),
        ('form["say \\"hi\\""]', "x"),
    ]


def test_multipart_unknown_charset_reads_as_utf8() -> None:
    body = _multipart(
        (
            'Content-Disposition: form-data; name="x"\r\nContent-Type: text/plain; charset=rot13',
            b"hi",
        )
    )
    assert parse_multipart(body, "XyZ", Limits()) == [("form.x", "hi")]


@pytest.mark.parametrize(
    ("body", "boundary", "rule"),
    [
        (b"--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nvalue", "XyZ", "malformed_form"),
        (b"no boundary here", "XyZ", "malformed_form"),
        (b"--XyZ\r\nContent-Disposition: form-data", "XyZ", "malformed_form"),
        (b"--XyZ", "XyZ", "malformed_form"),
        (b"", "", "malformed_form"),
        (b"", "b" * 71, "malformed_form"),
        (b"", "caf\u00e9", "malformed_form"),
        (
            _multipart(*[('Content-Disposition: form-data; name="a"', b"1")] * 9),
            "XyZ",
            "max_fields",
        ),
        (
            _multipart(('Content-Disposition: form-data; name="a"', b"x" * 21)),
            "XyZ",
            "max_string_length",
        ),
        (
            _multipart(('Content-Disposition: form-data; name="a"', b"x" * 100)),
            "XyZ",
            "max_string_length",
        ),
    ],
)
def test_multipart_errors(body: bytes, boundary: str, rule: str) -> None:
    with pytest.raises(BodyError) as info:
        parse_multipart(body, boundary, SMALL)
    assert info.value.rule == rule


def test_multipart_parts_without_headers_count_but_have_no_name() -> None:
    body = b"--XyZ\r\n\r\nbare\r\n--XyZ--"
    assert parse_multipart(body, "XyZ", Limits()) == [('form[""]', ""), ('form[""]', "bare")]


multipart_parts = st.lists(
    st.tuples(
        st.text(max_size=12),
        st.binary(max_size=40),
        st.booleans(),
    ),
    max_size=6,
)


@given(multipart_parts)
@settings(max_examples=200, deadline=None)
def test_multipart_round_trips_text_fields(parts: list[tuple[str, bytes, bool]]) -> None:
    boundary = "----hypothesis-boundary-7f3a"
    encoded = []
    for name, content, is_file in parts:
        if boundary.encode() in content:
            return
        quoted = name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")
        headers = f'Content-Disposition: form-data; name="{quoted}"'
        if is_file:
            headers += '; filename="f.bin"'
        encoded.append((headers, content))
    fields = parse_multipart(_multipart(*encoded, boundary=boundary), boundary, Limits())
    texts = [value for _, value in fields]
    for _, content, is_file in parts:
        value = content.decode("utf-8", "replace")
        if not is_file and value:
            assert value in texts


@given(st.binary(max_size=400), st.sampled_from(["XyZ", "a", "----b0undary"]))
@settings(max_examples=300, deadline=None)
@example(b"--XyZ\r\n\r\n\r\n--XyZ--", "XyZ")
@example(b"--XyZ\r\n" * 50, "XyZ")
def test_multipart_parser_is_total(body: bytes, boundary: str) -> None:
    with contextlib.suppress(BodyError):
        parse_multipart(body, boundary, SMALL)


def test_multipart_time_is_bounded() -> None:
    body = b"--b\r\n" + b"x" * 5_000_000  # no header end, no closing delimiter
    start = time.perf_counter()
    with pytest.raises(BodyError):
        parse_multipart(body, "b", Limits())
    many = _multipart(*[('Content-Disposition: form-data; name="a"', b"1")] * 5000)
    with pytest.raises(BodyError, match="max_fields"):
        parse_multipart(many, "XyZ", Limits())
    assert time.perf_counter() - start < 0.5


# --- headers and names ------------------------------------------------------------------------


def test_content_type_parsing() -> None:
    assert parse_content_type("Application/JSON; charset=UTF-8") == (
        "application/json",
        {"charset": "UTF-8"},
    )
    assert parse_content_type('multipart/form-data; boundary="a b;c"; x=1') == (
        "multipart/form-data",
        {"boundary": "a b;c", "x": "1"},
    )
    assert parse_content_type("text/plain") == ("text/plain", {})


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_content_type_parser_is_total(raw: str) -> None:
    media_type, params = parse_content_type(raw)
    assert media_type == media_type.strip().lower()
    assert all(name == name.lower() for name in params)


def test_content_type_parsing_is_linear_on_hostile_input() -> None:
    raw = "a/b" + '; x="' + "\\" * 100_000
    start = time.perf_counter()
    parse_content_type(raw)
    assert time.perf_counter() - start < 0.5


@given(st.text(max_size=20))
def test_field_names_never_pass_for_a_pattern_unless_plain(key: str) -> None:
    name = field_name("root", key)
    if "." in key or "[" in key or "]" in key or '"' in key:
        assert name.startswith('root["')
