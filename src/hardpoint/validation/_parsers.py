"""Sans-I/O parsers: JSON, urlencoded and multipart bodies into (field path, string) pairs.

Each parser checks the `Limits` while it walks and raises `BodyError` (and nothing else) for
input that breaks one or cannot be parsed. They never recurse, so their time is linear in the
input and bounded by the limits, whatever the input.
"""

from __future__ import annotations

import json
import re
from typing import Final, cast
from urllib.parse import unquote_to_bytes

from hardpoint.validation._config import Limits

__all__ = [
    "BodyError",
    "field_name",
    "parse_content_type",
    "parse_json",
    "parse_multipart",
    "parse_urlencoded",
    "walk_json",
]

Fields = list[tuple[str, str]]

# RFC 9110 §5.6.6 parameters: `; name=token` or `; name="quoted \" string"`. Each alternative
# consumes distinct characters, so the regex cannot backtrack badly.
_PARAM: Final = re.compile(r';[ \t]*([^\s=;]+)[ \t]*(?:=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^;]*)))?')
_QUOTED_PAIR: Final = re.compile(r"\\(.)")
_PLAIN_NAME: Final = re.compile(r"[A-Za-z0-9_\-]+\Z")


class BodyError(Exception):
    """Input that breaks a limit or cannot be parsed.

    Attributes:
        rule: The limit's name (``max_json_depth``) or the problem (``malformed_json``).
        field: Where it happened (``root.items``, ``query``, ``body``).
        status: The HTTP status to answer with.
    """

    def __init__(self, rule: str, message: str, field: str, status: int = 400) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.field = field
        self.status = status


def field_name(parent: str, key: str) -> str:
    """Return the path of *key* below *parent*: ``root.title`` or ``root["a.b"]``.

    Keys that are not plain names are quoted as JSON strings, so that a key such as
    ``"items[].note"`` can never pass for an exempt path.
    """
    if key.isidentifier() or _PLAIN_NAME.match(key):
        return f"{parent}.{key}"
    return f"{parent}[{json.dumps(key)}]"


def _too_long(limits: Limits, path: str) -> BodyError:
    return BodyError(
        "max_string_length",
        f"String longer than {limits.max_string_length} characters (max_string_length)",
        path,
    )


def _too_many(limits: Limits, path: str) -> BodyError:
    return BodyError("max_fields", f"More than {limits.max_fields} fields (max_fields)", path)


def walk_json(doc: object, limits: Limits) -> Fields:
    """Return every string in a parsed JSON document (values and keys) with its field path.

    Object keys that are plain identifiers are not returned: they cannot carry an attack.

    Raises:
        BodyError: Nesting deeper than ``max_json_depth``, a string (or key) longer than
            ``max_string_length``, an array longer than ``max_array_length``, or more than
            ``max_fields`` values below the root.
    """
    max_len = limits.max_string_length
    out: Fields = []
    if type(doc) is str:
        if len(doc) > max_len:
            raise _too_long(limits, "root")
        out.append(("root", doc))
        return out
    if type(doc) is not dict and type(doc) is not list:
        return out
    max_depth = limits.max_json_depth
    max_array = limits.max_array_length
    max_fields = limits.max_fields
    count = 0
    stack: list[tuple[object, str, int]] = [(doc, "root", 1)]
    pop = stack.pop
    push = stack.append
    add = out.append
    while stack:
        node, path, depth = pop()
        if depth > max_depth:
            raise BodyError(
                "max_json_depth",
                f"JSON nested deeper than {max_depth} levels (max_json_depth)",
                path,
            )
        if type(node) is dict:
            count += len(node)
            if count > max_fields:
                raise _too_many(limits, path)
            for key, value in node.items():
                if key.isidentifier():
                    sub = f"{path}.{key}"
                    if len(key) > max_len:
                        raise _too_long(limits, sub)
                else:
                    sub = field_name(path, key)
                    if len(key) > max_len:
                        raise _too_long(limits, sub)
                    add((sub, key))
                kind = type(value)
                if kind is str:
                    if len(value) > max_len:
                        raise _too_long(limits, sub)
                    add((sub, value))
                elif kind is dict or kind is list:
                    push((value, sub, depth + 1))
        else:
            array = cast("list[object]", node)  # only dicts and lists are pushed
            size = len(array)
            if size > max_array:
                raise BodyError(
                    "max_array_length",
                    f"Array longer than {max_array} elements (max_array_length)",
                    path,
                )
            count += size
            if count > max_fields:
                raise _too_many(limits, path)
            for index, value in enumerate(array):
                if type(value) is str:
                    if len(value) > max_len:
                        raise _too_long(limits, f"{path}[{index}]")
                    add((f"{path}[{index}]", value))
                elif type(value) is dict or type(value) is list:
                    push((value, f"{path}[{index}]", depth + 1))
    return out


def parse_json(body: bytes, limits: Limits) -> Fields:
    """Parse a JSON body (UTF-8, -16 or -32) and return its strings with their field paths.

    An empty (or all-whitespace) body has nothing to inspect and returns no fields.

    Raises:
        BodyError: ``malformed_json`` for a body that is not JSON, or a limit (see
            `walk_json`).
    """
    if not body.strip():
        return []
    try:
        doc = json.loads(body)
    except RecursionError:
        # The C decoder gives up near the interpreter's recursion limit (about 1,000 levels).
        raise BodyError(
            "max_json_depth",
            f"JSON nested deeper than {limits.max_json_depth} levels (max_json_depth)",
            "root",
        ) from None
    except json.JSONDecodeError as exc:
        raise BodyError(
            "malformed_json",
            f"Malformed JSON body: {exc.msg} at line {exc.lineno} column {exc.colno}",
            "body",
        ) from None
    except ValueError:
        # Invalid UTF-8, or an integer with more digits than int() accepts.
        raise BodyError("malformed_json", "Malformed JSON body", "body") from None
    return walk_json(doc, limits)


def _unquote(raw: bytes) -> str:
    if b"%" not in raw and b"+" not in raw:
        return raw.decode("utf-8", "replace")
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8", "replace")


def parse_urlencoded(data: bytes, limits: Limits, source: str) -> Fields:
    """Parse a query string or urlencoded body into names and values with field paths.

    Field paths are ``<source>.<name>`` (``query.q``, ``form.comment``). Values are
    percent-decoded once, as Starlette does; names are returned too unless they are plain.
    Each ``&``-separated piece counts as a field, so the work is bounded by ``max_fields``.

    Raises:
        BodyError: More than ``max_fields`` pieces, or a name or value longer than
            ``max_string_length``.
    """
    out: Fields = []
    if not data:
        return out
    max_fields = limits.max_fields
    pieces = data.split(b"&", max_fields)
    if len(pieces) > max_fields:
        raise _too_many(limits, source)
    max_len = limits.max_string_length
    for piece in pieces:
        if not piece:
            continue
        raw_name, _, raw_value = piece.partition(b"=")
        name = _unquote(raw_name)
        value = _unquote(raw_value)
        sub = field_name(source, name)
        if len(name) > max_len or len(value) > max_len:
            raise _too_long(limits, sub)
        if name and not name.isidentifier():
            out.append((sub, name))
        if value:
            out.append((sub, value))
    return out


def parse_params(raw: str) -> dict[str, str]:
    """Parse ``; name=value`` parameters (quoted or not) into a dict with lower-case names.

    The first occurrence of a name wins. Text that is not a parameter is skipped.
    """
    params: dict[str, str] = {}
    for match in _PARAM.finditer(raw):
        name = match.group(1).lower()
        quoted = match.group(2)
        if quoted is not None:
            value = _QUOTED_PAIR.sub(r"\1", quoted) if "\\" in quoted else quoted
        else:
            value = (match.group(3) or "").strip()
        params.setdefault(name, value)
    return params


def parse_content_type(raw: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type value into its lower-case media type and its parameters."""
    media_type, sep, rest = raw.partition(";")
    return media_type.strip().lower(), parse_params(sep + rest) if sep else {}


def _decode(content: bytes, charset: str | None) -> str:
    if charset:
        try:
            return content.decode(charset, "replace")
        except LookupError:
            pass  # an unknown or non-text codec: read it as UTF-8 like everything else
    return content.decode("utf-8", "replace")


def parse_multipart(body: bytes, boundary: str, limits: Limits) -> Fields:
    """Parse a ``multipart/form-data`` body (RFC 7578) into its text fields with field paths.

    Parts with a ``filename`` are files: they count as fields but are not returned. Text is
    decoded with the part's ``charset`` (default UTF-8, invalid bytes replaced).

    Raises:
        BodyError: ``malformed_form`` for a missing or invalid boundary, a part without a
            header block, or no closing delimiter; ``max_fields`` for too many parts;
            ``max_string_length`` for a text value or name too long.
    """
    # RFC 2046 §5.1.1: 1 to 70 characters, not ending in a space.
    if not 0 < len(boundary) <= 70 or boundary.endswith(" "):
        raise BodyError("malformed_form", "Malformed multipart body: bad boundary", "body")
    try:
        delimiter = b"--" + boundary.encode("ascii")
    except UnicodeEncodeError:
        raise BodyError(
            "malformed_form", "Malformed multipart body: bad boundary", "body"
        ) from None
    separator = b"\r\n" + delimiter
    if body.startswith(delimiter):
        pos = len(delimiter)
    else:
        # A preamble before the first delimiter is allowed and ignored.
        first = body.find(separator)
        if first < 0:
            raise BodyError("malformed_form", "Malformed multipart body: no boundary", "body")
        pos = first + len(separator)
    out: Fields = []
    count = 0
    max_len = limits.max_string_length
    while True:
        if body.startswith(b"--", pos):
            return out  # the close delimiter; anything after it is an epilogue
        line_end = body.find(b"\r\n", pos)
        if line_end < 0:
            raise BodyError("malformed_form", "Malformed multipart body: truncated", "body")
        if body.startswith(b"\r\n", line_end + 2):
            headers_raw = b""
            content_start = line_end + 4
        else:
            head_end = body.find(b"\r\n\r\n", line_end + 2)
            if head_end < 0:
                raise BodyError(
                    "malformed_form", "Malformed multipart body: truncated headers", "body"
                )
            headers_raw = body[line_end + 2 : head_end]
            content_start = head_end + 4
        content_end = body.find(separator, content_start)
        if content_end < 0:
            raise BodyError("malformed_form", "Malformed multipart body: truncated", "body")
        count += 1
        if count > limits.max_fields:
            raise _too_many(limits, "form")
        disposition: dict[str, str] = {}
        charset: str | None = None
        for line in headers_raw.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if not colon:
                continue
            name = name.strip().lower()
            if name == "content-disposition":
                disposition = parse_content_type(value)[1]
            elif name == "content-type":
                charset = parse_content_type(value)[1].get("charset")
        pos = content_end + len(separator)
        if "filename" in disposition or "filename*" in disposition:
            continue
        field = disposition.get("name", "")
        sub = field_name("form", field)
        if len(field) > max_len or content_end - content_start > 4 * max_len:
            raise _too_long(limits, sub)
        value = _decode(body[content_start:content_end], charset)
        if len(value) > max_len:
            raise _too_long(limits, sub)
        if not field.isidentifier():
            out.append((sub, field))
        if value:
            out.append((sub, value))
