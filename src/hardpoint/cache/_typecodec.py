"""Type-directed conversion between return values and JSON-native trees. Pure, no I/O.

A cached function's value is stored as JSON (or MessagePack) and must come back as exactly the
type its return annotation names, or not be stored at all. `TypeCodec` compiles that annotation
once into a tree of small converter nodes; `TypeCodec.to_native` then turns a value into a
*native tree* (``dict`` with ``str`` keys, ``list``, ``str``, ``int``, ``float``, ``bool`` and
``None`` only) and `TypeCodec.from_native` turns a tree back into the annotated type.

Native forms:

- ``None``, ``bool``, ``int``, ``str``: as is. ``float``: as is, finite only (an ``int`` is
  accepted where ``float`` is annotated and stored as a float).
- ``bytes``/``bytearray``: base64 text. ``Decimal``, ``UUID``: ``str``. ``date``, ``time``:
  ISO 8601. ``datetime``: ISO 8601 with its UTC offset, plus the zone key in brackets for a
  `zoneinfo.ZoneInfo` (RFC 9557: ``2024-03-31T03:30:00+02:00[Europe/Paris]``).
  ``timedelta``: ``[days, seconds, microseconds]``.
- ``Enum``: its value, itself encoded by its type. ``Literal``: the value, checked both ways.
- ``list``/``Sequence``/``tuple``/``set``/``frozenset``: lists (sets sorted when their items
  are orderable). ``dict``/``Mapping``: objects; non-``str`` keys (``int``, ``float``,
  ``bool``, ``UUID``, ``Enum``, dates...) are written as strings and parsed back.
- dataclasses and ``TypedDict``: objects keyed by field name. ``NamedTuple``: lists.
  pydantic v2 models: ``model_dump(mode="json")`` / ``model_validate``.
- Unions whose members have disjoint native forms (``int | str | None``, ``User | None``)
  are stored untagged; any other union as ``{"$u": index, "v": native}``.
- ``Any``, ``object`` and a missing annotation accept native values only, so a value that
  JSON would silently change (a ``datetime``, a ``tuple``, a dict with ``int`` keys) is
  refused when stored instead of coming back as something else.
"""

from __future__ import annotations

import base64
import collections.abc as cabc
import dataclasses
import enum
import inspect
import math
import re
import sys
import types
import typing
import uuid
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Final, NoReturn
from zoneinfo import ZoneInfo

from hardpoint.errors import ConfigurationError, SerializationError

__all__ = ["CODEC_NAME", "TypeCodec"]

#: The ``codec`` attribute of every `SerializationError` raised here.
CODEC_NAME: Final = "typecodec"

_NoneType: Final = type(None)
_NATIVE_TYPES: Final[frozenset[type]] = frozenset({str, int, float, bool, _NoneType, list, dict})
_SCALAR_KEY_TYPES: Final[frozenset[type]] = frozenset({str, int, float, bool, _NoneType})
_TAG: Final = "$u"
_TAGGED_VALUE: Final = "v"
_MAX_UNION_TYPE_CACHE: Final = 256
_ANY_HINT: Final = (
    "where the return type is Any, object or missing, only JSON-native values are cached "
    "(dict with str keys, list, str, int, float, bool, None) so that they come back unchanged; "
    "annotate the return type precisely to cache other types"
)


class _Fail(Exception):
    """A value or tree does not fit its node; unwinds to `TypeCodec`, collecting the path."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.path: list[str] = []  # innermost segment first


def _qualname(tp: object) -> str:
    if isinstance(tp, type):
        if tp.__module__ == "builtins":
            return tp.__qualname__
        return f"{tp.__module__}.{tp.__qualname__}"
    if tp is inspect.Signature.empty:
        return "<no annotation>"
    return repr(tp).replace("typing.", "")


def _type_of(value: object) -> str:
    return _qualname(type(value))


def _short(key: object) -> str:
    text = repr(key)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _mismatch(expected: str, value: object, cls: type | None = None) -> _Fail:
    got = _type_of(value)
    if cls is not None and isinstance(value, cls):
        if type(value) is bool and cls is int:
            return _Fail(
                "expected int, got bool: bool is a subclass of int but not accepted where int is "
                "annotated (JSON keeps true/false apart from numbers)"
            )
        return _Fail(
            f"expected exactly {expected}, got the subclass {got}, "
            f"which would come back as a plain {expected}"
        )
    return _Fail(f"expected {expected}, got {got}")


def _first_failure(attempts: Iterable[tuple[str, Callable[[Any], object], object]]) -> str:
    """Return the label of the first attempt that fails (re-run on the error path only)."""
    for label, function, argument in attempts:
        try:
            function(argument)
        except _Fail:
            return label
    return "[?]"  # pragma: no cover - converters are deterministic


def _fails(function: Callable[[Any], object], argument: object) -> bool:
    try:
        function(argument)
    except _Fail:
        return True
    return False


def _indexed(items: Iterable[Any], function: Callable[[Any], object]) -> str:
    return _first_failure((f"[{i}]", function, item) for i, item in enumerate(items))


# -- the native check for Any positions: a tight boolean walk, explained only on failure ---------


def _is_native(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        for item in value:
            item_kind = type(item)
            if item_kind is str or item_kind is int or item_kind is bool or item is None:
                continue
            if not _is_native(item):
                return False
        return True
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            item_kind = type(item)
            if item_kind is str or item_kind is int or item_kind is bool or item is None:
                continue
            if not _is_native(item):
                return False
        return True
    return False


def _explain_not_native(value: Any) -> NoReturn:
    """Raise the `_Fail` that says where and why *value* is not a native tree."""
    kind = type(value)
    if kind is float:
        raise _Fail(f"float {value!r} cannot be stored: JSON has no NaN or Infinity")
    if kind is list:
        for index, item in enumerate(value):
            if not _is_native(item):
                try:
                    _explain_not_native(item)
                except _Fail as exc:
                    exc.path.append(f"[{index}]")
                    raise
        raise _Fail("list is not native")  # pragma: no cover - _is_native said otherwise
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise _Fail(
                    f"dict key of type {_type_of(key)} would come back as a str (JSON object keys "
                    f"are strings); {_ANY_HINT}, for example dict[{_type_of(key)}, ...]"
                )
            if not _is_native(item):
                try:
                    _explain_not_native(item)
                except _Fail as exc:
                    exc.path.append(f"[{_short(key)}]")
                    raise
        raise _Fail("dict is not native")  # pragma: no cover - _is_native said otherwise
    for base, name in (
        (list, "list"),
        (dict, "dict"),
        (str, "str"),
        (int, "int"),
        (float, "float"),
    ):
        if isinstance(value, base):
            raise _Fail(f"{_type_of(value)} would come back as a plain {name}; {_ANY_HINT}")
    if isinstance(value, tuple | set | frozenset):
        raise _Fail(f"{_type_of(value)} would come back as a list; {_ANY_HINT}")
    raise _Fail(f"{_type_of(value)} is not JSON-native; {_ANY_HINT}")


# -- nodes --------------------------------------------------------------------------------------


class _Node:
    """One compiled piece of an annotation.

    Attributes:
        identity: ``decode(tree)`` returns *tree* itself for every tree ``encode`` produces.
        passthrough: ``encode(value)`` returns *value* itself whenever it succeeds.
        native_types: The Python types of the native trees this node produces (unions choose
            untagged storage when their members' sets are disjoint).
        exact: For str/int/bool/None, that exact type: containers check those items inline.
    """

    __slots__ = ("exact", "identity", "native_types", "passthrough")

    def __init__(
        self,
        *,
        identity: bool,
        passthrough: bool,
        native_types: Iterable[type],
        exact: type | None = None,
    ) -> None:
        self.identity = identity
        self.passthrough = passthrough
        self.native_types: frozenset[type] = frozenset(native_types)
        self.exact = exact

    def encode(self, value: Any, /) -> object:
        """Return the native tree for *value*, or raise `_Fail`."""
        raise NotImplementedError

    def decode(self, tree: Any, /) -> object:
        """Return the value for the native *tree*, or raise `_Fail`."""
        raise NotImplementedError

    def matches(self, value: object) -> bool:
        """Say whether *value*'s type is one this node encodes (unions pick members by it)."""
        raise NotImplementedError

    def children(self) -> tuple[_Node, ...]:
        """Return the nodes whose identity and passthrough this node's depend on."""
        return ()

    def passthrough_children(self) -> tuple[_Node, ...]:
        """Return the nodes whose passthrough this node's depends on."""
        return self.children()


class _Str(_Node):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(identity=True, passthrough=True, native_types=(str,), exact=str)

    def encode(self, value: Any, /) -> object:
        if type(value) is str:
            return value
        raise _mismatch("str", value, str)

    decode = encode

    def matches(self, value: object) -> bool:
        return type(value) is str


class _Int(_Node):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(identity=True, passthrough=True, native_types=(int,), exact=int)

    def encode(self, value: Any, /) -> object:
        if type(value) is int:
            return value
        raise _mismatch("int", value, int)

    decode = encode

    def matches(self, value: object) -> bool:
        return type(value) is int


class _Bool(_Node):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(identity=True, passthrough=True, native_types=(bool,), exact=bool)

    def encode(self, value: Any, /) -> object:
        if type(value) is bool:
            return value
        raise _mismatch("bool", value)

    decode = encode

    def matches(self, value: object) -> bool:
        return type(value) is bool


class _None(_Node):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(
            identity=True, passthrough=True, native_types=(_NoneType,), exact=_NoneType
        )

    def encode(self, value: Any, /) -> object:
        if value is None:
            return None
        raise _mismatch("None", value)

    decode = encode

    def matches(self, value: object) -> bool:
        return value is None


def _finite(value: float) -> float:
    if math.isfinite(value):
        return value
    raise _Fail(f"float {value!r} cannot be stored: JSON has no NaN or Infinity")


class _Float(_Node):
    """``float``; an ``int`` is accepted (PEP 484) when it converts exactly, stored as float."""

    __slots__ = ()

    def __init__(self) -> None:
        # Not passthrough: an int becomes a float, so a float-typed tree never holds an int.
        super().__init__(identity=True, passthrough=False, native_types=(float,))

    def encode(self, value: Any) -> object:
        if type(value) is float:
            return _finite(value)
        if type(value) is int:
            try:
                converted = float(value)
            except OverflowError:
                converted = math.inf
            if converted != value:
                raise _Fail(f"int {value} has no exact float form, and float is annotated")
            return converted
        raise _mismatch("float", value, float)

    def decode(self, tree: Any) -> object:
        if type(tree) is float:
            return _finite(tree)
        if type(tree) is int:  # another encoder may write 1.0 as 1
            return self.encode(tree)
        raise _mismatch("float", tree)

    def matches(self, value: object) -> bool:
        return type(value) is float or type(value) is int


class _Any(_Node):
    """``Any``/``object``/no annotation: native trees only, checked recursively."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(identity=True, passthrough=True, native_types=_NATIVE_TYPES)

    def encode(self, value: Any, /) -> object:
        if _is_native(value):
            return value
        _explain_not_native(value)

    decode = encode

    def matches(self, value: object) -> bool:
        return type(value) in _NATIVE_TYPES


class _NativeOnly(_Node):
    """``list[Any]``, ``dict[str, Any]`` and bare ``list``/``dict``: one tight native check."""

    __slots__ = ("kind", "name")

    def __init__(self, kind: type, name: str) -> None:
        super().__init__(identity=True, passthrough=True, native_types=(kind,))
        self.kind = kind
        self.name = name

    def encode(self, value: Any, /) -> object:
        if type(value) is self.kind and _is_native(value):
            return value
        if type(value) is not self.kind:
            raise _mismatch(self.name, value, self.kind)
        _explain_not_native(value)

    decode = encode

    def matches(self, value: object) -> bool:
        return type(value) is self.kind


class _Text(_Node):
    """Base of scalars stored as a string: subclasses give ``to_text``/``from_text``."""

    __slots__ = ("cls", "what")

    def __init__(self, cls: type, what: str) -> None:
        super().__init__(identity=False, passthrough=False, native_types=(str,))
        self.cls = cls
        self.what = what

    def to_text(self, value: Any) -> str:
        raise NotImplementedError

    def from_text(self, text: str) -> object:
        raise NotImplementedError

    def encode(self, value: Any) -> object:
        if type(value) is self.cls:
            return self.to_text(value)
        raise _mismatch(_qualname(self.cls), value, self.cls)

    def decode(self, tree: Any) -> object:
        if type(tree) is not str:
            raise _mismatch(f"str holding {self.what}", tree)
        try:
            return self.from_text(tree)
        except _Fail:
            raise
        except (ValueError, ArithmeticError, KeyError, OverflowError) as exc:
            raise _Fail(f"stored str is not {self.what} ({type(exc).__name__})") from exc

    def matches(self, value: object) -> bool:
        return type(value) is self.cls


class _Bytes(_Text):
    __slots__ = ()

    def to_text(self, value: Any) -> str:
        return base64.b64encode(value).decode("ascii")

    def from_text(self, text: str) -> object:
        data = base64.b64decode(text, validate=True)
        return data if self.cls is bytes else bytearray(data)


class _Uuid(_Text):
    __slots__ = ()

    def to_text(self, value: Any) -> str:
        return str(value)

    def from_text(self, text: str) -> object:
        return uuid.UUID(text)


class _Decimal(_Text):
    """``Decimal`` as its exact ``str`` (``Decimal('1.10')`` keeps its exponent)."""

    __slots__ = ()

    def to_text(self, value: Any) -> str:
        return str(value)

    def from_text(self, text: str) -> object:
        return Decimal(text)


_OFFSET_WITH_FRACTION: Final = re.compile(r"([+-])(\d\d):(\d\d):(\d\d)\.(\d{6})$")
_TimeOrDateTime = typing.TypeVar("_TimeOrDateTime", time, datetime)


def _exact_offset(text: str, value: _TimeOrDateTime) -> _TimeOrDateTime:
    """Restore a UTC offset's microseconds, which CPython 3.11 drops when the rest is zero.

    ``fromisoformat("...+00:00:00.000001")`` gives UTC there; isoformat() writes such offsets.
    """
    if len(text) < 7 or text[-7] != ".":
        return value
    match = _OFFSET_WITH_FRACTION.search(text)
    if match is None:
        return value
    sign, hours, minutes, seconds, micros = match.groups()
    offset = timedelta(
        hours=int(hours), minutes=int(minutes), seconds=int(seconds), microseconds=int(micros)
    )
    if sign == "-":
        offset = -offset
    if value.utcoffset() == offset:
        return value
    return value.replace(tzinfo=timezone(offset))


class _Date(_Text):
    __slots__ = ()

    def to_text(self, value: Any) -> str:
        text: str = value.isoformat()
        return text

    def from_text(self, text: str) -> object:
        return date.fromisoformat(text)


class _Time(_Text):
    __slots__ = ()

    def to_text(self, value: Any) -> str:
        if value.tzinfo is not None and value.utcoffset() is None:
            raise _Fail(
                f"time has a tzinfo ({_type_of(value.tzinfo)}) without a fixed UTC offset, "
                "which ISO 8601 cannot keep; use a datetime or a datetime.timezone"
            )
        text: str = value.isoformat()
        return text

    def from_text(self, text: str) -> object:
        return _exact_offset(text, time.fromisoformat(text))


class _DateTime(_Text):
    """ISO 8601 with the UTC offset; a `ZoneInfo` zone adds its key as ``[Area/City]``."""

    __slots__ = ()

    def to_text(self, value: Any) -> str:
        zone = value.tzinfo
        if zone is None:
            naive: str = value.isoformat()
            return naive
        if value.utcoffset() is None:
            raise _Fail(
                f"datetime has a tzinfo ({_type_of(zone)}) whose utcoffset() is None, "
                "so it can be stored neither as naive nor as aware"
            )
        text: str = value.isoformat()
        if isinstance(zone, ZoneInfo) and zone.key is not None:
            return f"{text}[{zone.key}]"
        return text

    def from_text(self, text: str) -> object:
        key = None
        if text.endswith("]"):
            cut = text.rfind("[")
            if cut < 0:
                raise _Fail("stored datetime has an unbalanced ']'")
            text, key = text[:cut], text[cut + 1 : -1]
        value = _exact_offset(text, datetime.fromisoformat(text))
        if key is None:
            return value
        offset = value.utcoffset()
        if offset is None:
            raise _Fail("stored datetime names a time zone but has no UTC offset")
        try:
            zone = ZoneInfo(key)
        except Exception as exc:  # zoneinfo raises ValueError, KeyError and OSError subclasses
            raise _Fail(f"stored datetime names an unknown time zone {key!r}") from exc
        # Keep the wall time and pick the fold that gives the stored offset (PEP 495): this
        # restores ambiguous and skipped wall times exactly.
        for fold in (0, 1):
            local = value.replace(tzinfo=zone, fold=fold)
            if local.utcoffset() == offset:
                return local
        return value.astimezone(zone)  # the zone's rules changed: keep the instant


class _TimeDelta(_Node):
    """``timedelta`` as ``[days, seconds, microseconds]``: exact, unlike total seconds."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(identity=False, passthrough=False, native_types=(list,))

    def encode(self, value: Any) -> object:
        if type(value) is timedelta:
            return [value.days, value.seconds, value.microseconds]
        raise _mismatch("datetime.timedelta", value, timedelta)

    def decode(self, tree: Any) -> object:
        if type(tree) is list and len(tree) == 3 and all(type(part) is int for part in tree):
            try:
                return timedelta(days=tree[0], seconds=tree[1], microseconds=tree[2])
            except OverflowError as exc:
                raise _Fail("stored timedelta is out of range") from exc
        raise _Fail(f"expected [days, seconds, microseconds] for a timedelta, got {_type_of(tree)}")

    def matches(self, value: object) -> bool:
        return type(value) is timedelta


_STR: Final = _Str()
_INT: Final = _Int()
_FLOAT: Final = _Float()
_BOOL: Final = _Bool()
_NONE: Final = _None()
_ANY: Final = _Any()

_SCALARS: Final[dict[object, _Node]] = {
    str: _STR,
    int: _INT,
    float: _FLOAT,
    bool: _BOOL,
    _NoneType: _NONE,
    typing.LiteralString: _STR,
    bytes: _Bytes(bytes, "base64 text"),
    bytearray: _Bytes(bytearray, "base64 text"),
    uuid.UUID: _Uuid(uuid.UUID, "a UUID"),
    Decimal: _Decimal(Decimal, "a decimal number"),
    date: _Date(date, "an ISO 8601 date"),
    time: _Time(time, "an ISO 8601 time"),
    datetime: _DateTime(datetime, "an ISO 8601 datetime"),
    timedelta: _TimeDelta(),
}


def _all_same(items: list[Any], node: _Node, function: Callable[[Any], object]) -> bool:
    """Say whether *function* (node's encode or decode) returns every item itself.

    The check-only path of containers whose items are native: no new list is built unless an
    item changes (such as an int decoded as a float).
    """
    exact = node.exact
    if exact is not None:
        for item in items:
            if type(item) is not exact:
                break
        else:
            return True
    try:
        for item in items:
            if function(item) is not item:
                return False
    except _Fail as exc:
        exc.path.append(_indexed(items, function))
        raise
    return True


class _List(_Node):
    """``list[T]`` (exact lists) or ``Sequence[T]``/``MutableSequence[T]`` (decoded as list)."""

    __slots__ = ("abc", "item", "name")

    def __init__(self, item: _Node, *, abc: type | None, name: str) -> None:
        super().__init__(identity=True, passthrough=abc is None, native_types=(list,))
        self.item = item
        self.abc = abc
        self.name = name

    def children(self) -> tuple[_Node, ...]:
        return (self.item,)

    def matches(self, value: object) -> bool:
        if self.abc is None:
            return type(value) is list
        return isinstance(value, self.abc) and not isinstance(value, str | bytes | bytearray)

    def encode(self, value: Any) -> object:
        item = self.item
        if type(value) is list:
            if item.passthrough and _all_same(value, item, item.encode):
                return value
        elif not self.matches(value):
            if self.abc is not None and isinstance(value, str | bytes | bytearray):
                raise _Fail(
                    f"{_type_of(value)} is refused for {self.name}: it would come back as a list"
                )
            raise _mismatch(self.name, value, list if self.abc is None else None)
        encode = item.encode
        try:
            return [encode(element) for element in value]
        except _Fail as exc:
            exc.path.append(_indexed(value, encode))
            raise

    def decode(self, tree: Any) -> object:
        if type(tree) is not list:
            raise _mismatch("list", tree)
        item = self.item
        decode = item.decode
        if item.identity and _all_same(tree, item, decode):
            return tree
        try:
            return [decode(element) for element in tree]
        except _Fail as exc:
            exc.path.append(_indexed(tree, decode))
            raise


class _VarTuple(_Node):
    """``tuple[T, ...]``."""

    __slots__ = ("item",)

    def __init__(self, item: _Node) -> None:
        super().__init__(identity=False, passthrough=False, native_types=(list,))
        self.item = item

    def matches(self, value: object) -> bool:
        return type(value) is tuple

    def encode(self, value: Any) -> object:
        if type(value) is not tuple:
            raise _mismatch("tuple", value, tuple)
        encode = self.item.encode
        try:
            return [encode(element) for element in value]
        except _Fail as exc:
            exc.path.append(_indexed(value, encode))
            raise

    def decode(self, tree: Any) -> object:
        if type(tree) is not list:
            raise _mismatch("list", tree)
        decode = self.item.decode
        try:
            return tuple([decode(element) for element in tree])
        except _Fail as exc:
            exc.path.append(_indexed(tree, decode))
            raise


class _FixedTuple(_Node):
    """``tuple[A, B, C]``, also the base of ``NamedTuple`` classes."""

    __slots__ = ("cls", "items", "labels", "name")

    def __init__(self, cls: type, name: str) -> None:
        super().__init__(identity=False, passthrough=False, native_types=(list,))
        self.cls = cls
        self.name = name
        self.items: tuple[_Node, ...] = ()
        self.labels: tuple[str, ...] = ()

    def set_items(self, items: tuple[_Node, ...], labels: tuple[str, ...]) -> None:
        self.items = items
        self.labels = labels

    def matches(self, value: object) -> bool:
        return type(value) is self.cls

    def build(self, values: list[object]) -> object:
        return tuple(values)

    def encode(self, value: Any) -> object:
        if type(value) is not self.cls:
            raise _mismatch(self.name, value, self.cls)
        value = typing.cast("tuple[Any, ...]", value)
        if len(value) != len(self.items):
            raise _Fail(f"expected {len(self.items)} items for {self.name}, got {len(value)}")
        try:
            return [node.encode(element) for node, element in zip(self.items, value, strict=True)]
        except _Fail as exc:
            exc.path.append(
                _first_failure(zip(self.labels, [n.encode for n in self.items], value, strict=True))
            )
            raise

    def decode(self, tree: Any) -> object:
        if type(tree) is not list or len(tree) != len(self.items):
            got = f"a list of {len(tree)}" if type(tree) is list else _type_of(tree)
            raise _Fail(f"expected a list of {len(self.items)} items for {self.name}, got {got}")
        try:
            values = [node.decode(element) for node, element in zip(self.items, tree, strict=True)]
        except _Fail as exc:
            exc.path.append(
                _first_failure(zip(self.labels, [n.decode for n in self.items], tree, strict=True))
            )
            raise
        return self.build(values)


class _NamedTuple(_FixedTuple):
    __slots__ = ()

    def build(self, values: list[object]) -> object:
        try:
            return self.cls(*values)
        except Exception as exc:  # a user-defined __new__ may raise anything
            raise _Fail(f"{self.name}(...) raised {type(exc).__name__}") from exc


class _Set(_Node):
    """``set``/``frozenset`` or ``AbstractSet``/``MutableSet``: a list, sorted when it can be."""

    __slots__ = ("abc", "build", "item", "name")

    def __init__(self, item: _Node, *, build: type, abc: type | None, name: str) -> None:
        super().__init__(identity=False, passthrough=False, native_types=(list,))
        self.item = item
        self.build = build
        self.abc = abc
        self.name = name

    def matches(self, value: object) -> bool:
        if self.abc is None:
            return type(value) is self.build
        return isinstance(value, self.abc)

    def encode(self, value: Any) -> object:
        if not self.matches(value):
            raise _mismatch(self.name, value, self.build if self.abc is None else None)
        encode = self.item.encode
        try:
            items: list[Any] = [encode(element) for element in value]
        except _Fail as exc:
            exc.path.append(_indexed(value, encode))
            raise
        try:  # a stable order, so equal sets give equal bytes
            return sorted(items)
        except TypeError:
            return items

    def decode(self, tree: Any) -> object:
        if type(tree) is not list:
            raise _mismatch("list", tree)
        decode = self.item.decode
        try:
            return self.build([decode(element) for element in tree])
        except _Fail as exc:
            exc.path.append(_indexed(tree, decode))
            raise
        except TypeError as exc:
            raise _Fail(f"stored items of the {self.name} are not hashable") from exc


def _int_key(text: str) -> int:
    number = int(text)
    if str(number) != text:
        raise _Fail("dict key is not a canonical int")
    return number


def _float_key(text: str) -> float:
    number = float(text)
    if not math.isfinite(number) or repr(number) != text:
        raise _Fail("dict key is not a canonical finite float")
    return number


def _bool_key(text: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise _Fail("dict key is neither 'true' nor 'false'")


def _none_key(text: str) -> None:
    if text != "null":
        raise _Fail("dict key is not 'null'")


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _none_text(value: Any) -> str:
    return "null"


# How a key node's native scalar becomes a JSON object key and back.
_KEY_FORMS: Final[dict[type, tuple[Callable[[Any], str], Callable[[str], object]]]] = {
    int: (str, _int_key),
    float: (repr, _float_key),
    bool: (_bool_text, _bool_key),
    _NoneType: (_none_text, _none_key),
}


class _Dict(_Node):
    """``dict[K, V]`` (exact dicts) or ``Mapping``/``MutableMapping`` (decoded as dict)."""

    __slots__ = ("abc", "from_key", "key", "name", "to_key", "value")

    def __init__(self, key: _Node, value: _Node, *, abc: type | None, name: str) -> None:
        (key_type,) = key.native_types
        form = _KEY_FORMS.get(key_type)
        self.to_key: Callable[[Any], str] | None = None if form is None else form[0]
        self.from_key: Callable[[str], object] | None = None if form is None else form[1]
        string_keys = self.to_key is None
        super().__init__(
            identity=string_keys, passthrough=string_keys and abc is None, native_types=(dict,)
        )
        self.key = key
        self.value = value
        self.abc = abc
        self.name = name

    def children(self) -> tuple[_Node, ...]:
        return (self.key, self.value)

    def matches(self, value: object) -> bool:
        if self.abc is None:
            return type(value) is dict
        return isinstance(value, self.abc)

    def encode(self, value: Any) -> object:
        if type(value) is not dict and not self.matches(value):
            raise _mismatch(self.name, value, dict if self.abc is None else None)
        key, item = self.key, self.value
        if (
            key.passthrough
            and item.passthrough
            and self.to_key is None
            and type(value) is dict
            and self._all_same(value, key.encode, item.encode)
        ):
            return value
        encode_key, encode_value, to_key = key.encode, item.encode, self.to_key
        try:
            if to_key is None:
                out = {encode_key(k): encode_value(v) for k, v in value.items()}
            else:
                out = {to_key(encode_key(k)): encode_value(v) for k, v in value.items()}
        except _Fail as exc:
            self._locate(exc, value, encode_key, encode_value)
            raise
        if len(out) != len(value):
            raise _Fail(f"two keys of the {self.name} have the same stored form")
        return out

    def decode(self, tree: Any) -> object:
        if type(tree) is not dict:
            raise _mismatch("dict", tree)
        key, item = self.key, self.value
        decode_key: Callable[[Any], object] = key.decode
        decode_value = item.decode
        from_key = self.from_key
        if from_key is not None:
            decode_key = self._key_decoder(from_key, decode_key)
        if self.identity and self._all_same(tree, decode_key, decode_value):
            return tree
        try:
            return {decode_key(k): decode_value(v) for k, v in tree.items()}
        except _Fail as exc:
            self._locate(exc, tree, decode_key, decode_value)
            raise

    @staticmethod
    def _key_decoder(
        from_key: Callable[[str], object], decode_key: Callable[[Any], object]
    ) -> Callable[[Any], object]:
        def decode(text: Any) -> object:
            if type(text) is not str:
                raise _mismatch("str key", text)
            try:
                native = from_key(text)
            except ValueError as exc:
                raise _Fail("dict key does not parse") from exc
            return decode_key(native)

        return decode

    def _all_same(
        self, mapping: dict[Any, Any], key: Callable[[Any], object], value: Callable[[Any], object]
    ) -> bool:
        key_exact, value_exact = self.key.exact, self.value.exact
        try:
            for k, v in mapping.items():
                if (type(k) is not key_exact and key(k) is not k) or (
                    type(v) is not value_exact and value(v) is not v
                ):
                    return False
        except _Fail as exc:
            _Dict._locate(exc, mapping, key, value)
            raise
        return True

    @staticmethod
    def _locate(
        exc: _Fail,
        mapping: dict[Any, Any],
        key: Callable[[Any], object],
        value: Callable[[Any], object],
    ) -> None:
        for k, v in mapping.items():
            if _fails(key, k):
                exc.message = f"dict key: {exc.message}"
                exc.path.append(f"[{_short(k)}]")
                return
            if _fails(value, v):
                exc.path.append(f"[{_short(k)}]")
                return


class _TypedDict(_Node):
    """A ``TypedDict``: exactly its keys (required ones present), each by its own type."""

    __slots__ = ("all_keys", "fields", "name", "required")

    def __init__(self, name: str) -> None:
        super().__init__(identity=True, passthrough=True, native_types=(dict,))
        self.name = name
        self.fields: dict[str, _Node] = {}
        self.required: frozenset[str] = frozenset()
        self.all_keys: frozenset[str] = frozenset()

    def set_fields(self, fields: dict[str, _Node], required: frozenset[str]) -> None:
        self.fields = fields
        self.required = required
        self.all_keys = frozenset(fields)

    def children(self) -> tuple[_Node, ...]:
        return tuple(self.fields.values())

    def matches(self, value: object) -> bool:
        return type(value) is dict

    def _keys(self, mapping: dict[Any, Any]) -> None:
        keys = mapping.keys()
        if self.required.issubset(keys) and self.all_keys.issuperset(keys):
            return
        missing = sorted(map(repr, self.required - keys))
        unexpected = sorted(map(repr, keys - self.all_keys))
        parts = [f"missing keys {', '.join(missing)}"] if missing else []
        if unexpected:
            parts.append(f"unexpected keys {', '.join(unexpected)}")
        raise _Fail(f"{self.name}: {'; '.join(parts)}")

    def _run(self, mapping: dict[Any, Any], decode: bool) -> object:
        self._keys(mapping)
        fields = self.fields
        try:
            if decode:
                if self.identity and all(fields[k].decode(v) is v for k, v in mapping.items()):
                    return mapping
                return {k: fields[k].decode(v) for k, v in mapping.items()}
            if self.passthrough and all(fields[k].encode(v) is v for k, v in mapping.items()):
                return mapping
            return {k: fields[k].encode(v) for k, v in mapping.items()}
        except _Fail as exc:
            exc.path.append(
                _first_failure(
                    (
                        f"[{k!r}]",
                        fields[k].decode if decode else fields[k].encode,
                        v,
                    )
                    for k, v in mapping.items()
                )
            )
            raise

    def encode(self, value: Any) -> object:
        if type(value) is not dict:
            raise _mismatch(f"dict ({self.name})", value, dict)
        return self._run(value, decode=False)

    def decode(self, tree: Any) -> object:
        if type(tree) is not dict:
            raise _mismatch(f"dict ({self.name})", tree)
        return self._run(tree, decode=True)


class _Dataclass(_Node):
    """A dataclass: an object keyed by field name; decoded by calling the class."""

    __slots__ = ("cls", "fields", "init_fields", "late_fields", "name", "names", "use_init")

    def __init__(self, cls: type, name: str, *, use_init: bool) -> None:
        super().__init__(identity=False, passthrough=False, native_types=(dict,))
        self.cls = cls
        self.name = name
        self.use_init = use_init
        self.fields: tuple[tuple[str, _Node], ...] = ()
        self.init_fields: tuple[tuple[str, _Node], ...] = ()
        self.late_fields: tuple[tuple[str, _Node], ...] = ()
        self.names: frozenset[str] = frozenset()

    def set_fields(self, fields: tuple[tuple[str, _Node], ...], init_names: frozenset[str]) -> None:
        self.fields = fields
        self.names = frozenset(name for name, _ in fields)
        if self.use_init:
            self.init_fields = tuple(f for f in fields if f[0] in init_names)
            self.late_fields = tuple(f for f in fields if f[0] not in init_names)
        else:
            self.late_fields = fields

    def matches(self, value: object) -> bool:
        return type(value) is self.cls

    def encode(self, value: Any) -> object:
        if type(value) is not self.cls:
            raise _mismatch(self.name, value, self.cls)
        try:
            return {name: node.encode(getattr(value, name)) for name, node in self.fields}
        except AttributeError as exc:
            raise _Fail(f"{self.name} instance has an unset field ({exc})") from exc
        except _Fail as exc:
            exc.path.append(
                _first_failure((f".{n}", node.encode, getattr(value, n)) for n, node in self.fields)
            )
            raise

    def decode(self, tree: Any) -> object:
        if type(tree) is not dict:
            raise _mismatch(f"dict ({self.name})", tree)
        if tree.keys() != self.names:
            missing = sorted(self.names - tree.keys())
            unexpected = sorted(map(repr, tree.keys() - self.names))
            parts = [f"missing fields {', '.join(missing)}"] if missing else []
            if unexpected:
                parts.append(f"unexpected keys {', '.join(unexpected)}")
            raise _Fail(f"{self.name}: {'; '.join(parts)}")
        try:
            kwargs = {name: node.decode(tree[name]) for name, node in self.init_fields}
            late = [(name, node.decode(tree[name])) for name, node in self.late_fields]
        except _Fail as exc:
            exc.path.append(
                _first_failure((f".{n}", node.decode, tree[n]) for n, node in self.fields)
            )
            raise
        cls: Any = self.cls
        try:
            instance = cls(**kwargs) if self.use_init else cls.__new__(cls)
        except Exception as exc:  # __init__/__post_init__ are user code: anything can happen
            raise _Fail(f"{self.name}(...) raised {type(exc).__name__}") from exc
        for name, field_value in late:  # init=False fields; frozen and slots classes too
            object.__setattr__(instance, name, field_value)
        return instance


class _Pydantic(_Node):
    """A pydantic v2 model: ``model_dump(mode="json")`` and ``model_validate``."""

    __slots__ = ("cls", "name")

    def __init__(self, cls: Any, name: str, *, root: bool) -> None:
        super().__init__(
            identity=False, passthrough=False, native_types=_NATIVE_TYPES if root else (dict,)
        )
        self.cls = cls
        self.name = name

    def matches(self, value: object) -> bool:
        return type(value) is self.cls

    def encode(self, value: Any) -> object:
        if type(value) is not self.cls:
            raise _mismatch(self.name, value, self.cls)
        try:
            dumped = value.model_dump(mode="json")
        except Exception as exc:  # PydanticSerializationError or a custom serializer's error
            raise _Fail(f"{self.name}.model_dump(mode='json') raised {type(exc).__name__}") from exc
        if _is_native(dumped):
            return dumped
        try:
            _explain_not_native(dumped)
        except _Fail as exc:
            exc.message = (
                f"{self.name}.model_dump(mode='json') returned a non-JSON value: {exc.message}"
            )
            raise

    def decode(self, tree: Any) -> object:
        try:
            return self.cls.model_validate(tree)
        except Exception as exc:  # ValidationError, or whatever a validator raised
            raise _Fail(
                f"{self.name}.model_validate rejected the stored data ({type(exc).__name__})"
            ) from exc


class _Enum(_Node):
    """An Enum member as its value (encoded by the value's type), else by name."""

    __slots__ = ("cls", "mode", "name", "value_node")

    def __init__(self, cls: type[enum.Enum], name: str) -> None:
        super().__init__(identity=False, passthrough=False, native_types=())
        self.cls = cls
        self.name = name
        self.mode = "name"
        self.value_node: _Node | None = None

    def matches(self, value: object) -> bool:
        return type(value) is self.cls

    def encode(self, value: Any) -> object:
        if type(value) is not self.cls:
            raise _mismatch(self.name, value, self.cls)
        if self.mode == "value":
            native: object = value._value_
            return native
        if self.value_node is not None:
            return self.value_node.encode(value._value_)
        name: str = value._name_
        return name

    def decode(self, tree: Any) -> object:
        if self.mode == "name":
            if type(tree) is not str:
                raise _mismatch(f"str naming a member of {self.name}", tree)
            try:
                return self.cls[tree]
            except KeyError as exc:
                raise _Fail(f"stored name is not a member of {self.name}") from exc
        if self.value_node is not None:
            raw = self.value_node.decode(tree)
        elif type(tree) in self.native_types:
            raw = tree
        else:
            raise _mismatch(f"a value of {self.name}", tree)
        try:
            return self.cls(raw)
        except Exception as exc:  # ValueError, or whatever a custom _missing_ raises
            raise _Fail(f"stored value is not a member of {self.name}") from exc


class _Literal(_Node):
    """``Literal[...]``: membership is checked on both sides, type included (1 is not True)."""

    __slots__ = ("decodes", "display", "encodes")

    def __init__(self, display: str, encodes: dict[tuple[type, object], object]) -> None:
        natives = {(type(native), native): value for (_, value), native in encodes.items()}
        super().__init__(
            identity=False, passthrough=False, native_types={kind for kind, _ in natives}
        )
        self.display = display
        self.encodes = encodes
        self.decodes = natives

    def matches(self, value: object) -> bool:
        return any(type(value) is kind for kind, _ in self.encodes)

    def encode(self, value: Any) -> object:
        try:
            return self.encodes[type(value), value]
        except (KeyError, TypeError):
            raise _Fail(f"{_type_of(value)} value is not one of {self.display}") from None

    def decode(self, tree: Any) -> object:
        try:
            return self.decodes[type(tree), tree]
        except (KeyError, TypeError):
            raise _Fail(f"stored {_type_of(tree)} value is not one of {self.display}") from None


class _Ref(_Node):
    """A recursive type alias, pointing at its compiled value once that exists."""

    __slots__ = ("target",)

    def __init__(self) -> None:
        super().__init__(identity=True, passthrough=True, native_types=())
        self.target: _Node = _ANY

    def children(self) -> tuple[_Node, ...]:
        return (self.target,)

    def matches(self, value: object) -> bool:
        return self.target.matches(value)

    def encode(self, value: Any) -> object:
        return self.target.encode(value)

    def decode(self, tree: Any) -> object:
        return self.target.decode(tree)


class _Union(_Node):
    """A union: untagged when its members' native types are disjoint, else ``{"$u": i, "v": ...}``.

    A value goes to the first member whose type check matches and that encodes it.
    """

    __slots__ = (
        "by_native",
        "by_type",
        "display",
        "members",
        "null_untagged",
        "plain",
        "tagged",
    )

    def __init__(self, members: tuple[_Node, ...], display: str) -> None:
        super().__init__(identity=True, passthrough=True, native_types=())
        self.members = members
        self.display = display
        self.tagged = False
        self.null_untagged = False
        self.by_native: dict[type, _Node] = {}
        self.by_type: dict[type, tuple[tuple[int, _Node], ...]] = {}
        self.plain: frozenset[type] = frozenset()  # stored as is: members str, int, bool, None

    def children(self) -> tuple[_Node, ...]:
        return self.members

    def passthrough_children(self) -> tuple[_Node, ...]:
        if _FLOAT in self.members and int in self.by_native and self.by_native[int] is not _FLOAT:
            # Ints go to the int member, so the float member only ever sees floats.
            return tuple(m for m in self.members if m is not _FLOAT)
        return self.members

    def matches(self, value: object) -> bool:
        return any(member.matches(value) for member in self.members)

    def decide(self) -> None:
        """Choose tagged or untagged storage; needs the members' final native types."""
        seen: set[type] = set()
        for member in self.members:
            if member.native_types & seen:
                self.tagged = True
            seen |= member.native_types
        self.identity = self.passthrough = not self.tagged
        if self.tagged:
            claim_null = [m for m in self.members if _NoneType in m.native_types]
            self.null_untagged = claim_null == [_NONE]
        else:
            self.by_native = {t: m for m in self.members for t in m.native_types}
            self.plain = frozenset(m.exact for m in self.members if m.exact is not None)
            if float in self.by_native and int not in self.by_native:
                self.by_native[int] = self.by_native[float]  # 1.0 written as 1 by some encoder

    def _candidates(self, kind: type, value: object) -> tuple[tuple[int, _Node], ...]:
        found = self.by_type.get(kind)
        if found is None:
            found = tuple((i, m) for i, m in enumerate(self.members) if m.matches(value))
            if kind is int and len(found) > 1:  # int | float: an int stays an int
                found = tuple(sorted(found, key=lambda c: c[1] is _FLOAT))
            if len(self.by_type) < _MAX_UNION_TYPE_CACHE:
                self.by_type[kind] = found
        return found

    def encode(self, value: Any) -> object:
        if type(value) in self.plain:
            return value
        candidates = self._candidates(type(value), value)
        first: _Fail | None = None
        for index, member in candidates:
            try:
                native = member.encode(value)
            except _Fail as exc:
                first = first or exc
                continue
            if not self.tagged or (member is _NONE and self.null_untagged):
                return native
            return {_TAG: index, _TAGGED_VALUE: native}
        if first is not None:
            raise first
        raise _Fail(f"{_type_of(value)} is none of the types of {self.display}")

    def decode(self, tree: Any) -> object:
        if not self.tagged:
            if type(tree) in self.plain:
                return tree
            member = self.by_native.get(type(tree))
            if member is None:
                raise _Fail(f"stored {_type_of(tree)} fits none of the types of {self.display}")
            return member.decode(tree)
        if tree is None and self.null_untagged:
            return None
        if type(tree) is dict and len(tree) == 2 and _TAGGED_VALUE in tree:
            index = tree.get(_TAG)
            if type(index) is int and 0 <= index < len(self.members):
                return self.members[index].decode(tree[_TAGGED_VALUE])
        raise _Fail(
            f'expected {{"{_TAG}": index, "{_TAGGED_VALUE}": value}} for {self.display}, '
            f"got {_type_of(tree)}"
        )


# -- compiling annotations ----------------------------------------------------------------------

_LISTS: Final[dict[object, type | None]] = {
    list: None,
    cabc.Sequence: cabc.Sequence,
    cabc.MutableSequence: cabc.MutableSequence,
}
_SETS: Final[dict[object, tuple[type, type | None]]] = {
    set: (set, None),
    frozenset: (frozenset, None),
    cabc.Set: (frozenset, cabc.Set),
    cabc.MutableSet: (set, cabc.MutableSet),
}
_DICTS: Final[dict[object, type | None]] = {
    dict: None,
    cabc.Mapping: cabc.Mapping,
    cabc.MutableMapping: cabc.MutableMapping,
}
_BARE: Final[frozenset[object]] = frozenset({tuple, *_LISTS, *_SETS, *_DICTS})
_UNWRAP: Final[frozenset[object]] = frozenset(
    {typing.Annotated, typing.Final, typing.Required, typing.NotRequired, typing.ClassVar}
    | ({typing.ReadOnly} if hasattr(typing, "ReadOnly") else set())  # 3.13
)
_NATIVE_SCALAR_ANNOTATIONS: Final[tuple[object, ...]] = (str, int, float, bool, None, _NoneType)
_SUPPORTED: Final = (
    "supported are None, bool, int, float, str, bytes, bytearray, datetime, date, time, "
    "timedelta, UUID, Decimal, Enum, Literal, list, tuple, set, frozenset, dict and their "
    "collections.abc forms, unions, dataclasses, NamedTuple, TypedDict, pydantic models and Any"
)


def _is_any(tp: object) -> bool:
    return tp is typing.Any or tp is object or tp is inspect.Signature.empty


def _is_alias(tp: object) -> bool:
    """Say whether *tp* is a ``type X = ...`` alias (typing or typing_extensions)."""
    return type(tp).__name__ == "TypeAliasType" and hasattr(tp, "__value__")


def _substitute(hint: object, mapping: dict[Any, object]) -> object:
    """Replace type variables in *hint* by the arguments of a parametrised generic class."""
    if not mapping:
        return hint
    if isinstance(hint, typing.TypeVar):
        return mapping.get(hint, hint)
    parameters = () if isinstance(hint, type) else getattr(hint, "__parameters__", ())
    if parameters:
        return hint[tuple(mapping.get(p, p) for p in parameters)]  # type: ignore[index]  # a generic alias
    return hint


def _literal_of(values: tuple[object, ...]) -> object:
    """Return ``Literal[*values]``."""
    return typing.Literal.__getitem__(values)


def _is_typeddict(cls: type) -> bool:
    if typing.is_typeddict(cls):
        return True
    extensions = sys.modules.get("typing_extensions")
    return extensions is not None and bool(extensions.is_typeddict(cls))


class _Compiler:
    """Turns one annotation into nodes; classes and aliases are compiled once each (cycles)."""

    def __init__(self, owner: str, annotation: object) -> None:
        self.owner = owner
        self.annotation = annotation
        self.nodes: list[_Node] = []
        self.classes: dict[object, _Node] = {}
        self.aliases: dict[object, _Node] = {}
        self.pending: dict[object, _Ref | None] = {}

    def refuse(self, tp: object, reason: str, where: str) -> ConfigurationError:
        at = f" (in {where})" if where else ""
        return ConfigurationError(
            f"{self.owner}: cannot cache values of the return annotation "
            f"{_qualname(self.annotation)}: {_qualname(tp)}{at} {reason}",
            field="return annotation",
        )

    def add(self, node: _Node) -> _Node:
        self.nodes.append(node)
        return node

    def compile(self, tp: object, where: str) -> _Node:
        if _is_any(tp):
            return _ANY
        if tp is None:
            return _NONE
        try:
            scalar = _SCALARS.get(tp)
        except TypeError:  # unhashable, such as Annotated with a dict in its metadata
            scalar = None
        if scalar is not None:
            return scalar
        if isinstance(tp, str | typing.ForwardRef):
            raise self.refuse(tp, "is an unresolved forward reference", where)
        if isinstance(tp, typing.TypeVar):
            return self.typevar(tp, where)
        if isinstance(tp, typing.NewType):
            return self.compile(tp.__supertype__, where)
        if _is_alias(tp):
            return self.alias(tp, (), where)
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is None and isinstance(tp, type) and tp in _BARE:
            origin = tp
        if origin is not None:
            return self.generic(tp, origin, args, where)
        if isinstance(tp, type):
            return self.cls(tp, tp, (), where)
        raise self.refuse(tp, f"is not supported; {_SUPPORTED}", where)

    def typevar(self, tp: typing.TypeVar, where: str) -> _Node:
        if tp.__bound__ is not None:
            return self.compile(tp.__bound__, where)
        if tp.__constraints__:
            return self.union(tp, tp.__constraints__, where)
        return _ANY

    def generic(self, tp: object, origin: object, args: tuple[Any, ...], where: str) -> _Node:
        if origin in _UNWRAP:
            return self.compile(args[0], where)
        if origin is typing.Union or origin is types.UnionType:
            return self.union(tp, args, where)
        if origin is typing.Literal:
            return self.literal(tp, args, where)
        if _is_alias(origin):
            return self.alias(origin, args, where)
        if origin is tuple:
            if tp is tuple or tp is typing.Tuple:  # noqa: UP006 - bare typing.Tuple means tuple[Any, ...]
                return self.add(_VarTuple(_ANY))
            if len(args) == 2 and args[1] is Ellipsis:
                return self.add(_VarTuple(self.compile(args[0], where)))
            fixed = _FixedTuple(tuple, _qualname(tp))
            fixed.set_items(
                tuple(self.compile(a, where) for a in args),
                tuple(f"[{i}]" for i in range(len(args))),
            )
            return self.add(fixed)
        item = args[0] if args else typing.Any
        name = _qualname(tp)
        if origin is list and _is_any(item):
            return _NativeOnly(list, name)
        if origin in _LISTS:
            return self.add(_List(self.compile(item, where), abc=_LISTS[origin], name=name))
        if origin in _SETS:
            build, abc = _SETS[origin]
            return self.add(_Set(self.compile(item, where), build=build, abc=abc, name=name))
        if origin in _DICTS:
            key_node = self.key(args[0] if args else str, where)
            value_node = self.compile(args[1] if len(args) > 1 else typing.Any, where)
            if origin is dict and key_node is _STR and value_node is _ANY:
                return _NativeOnly(dict, name)
            return self.add(_Dict(key_node, value_node, abc=_DICTS[origin], name=name))
        if isinstance(origin, type):
            return self.cls(tp, origin, args, where)
        raise self.refuse(tp, f"is not supported; {_SUPPORTED}", where)

    def key(self, tp: object, where: str) -> _Node:
        node = _STR if _is_any(tp) else self.compile(tp, where)
        if isinstance(node, _Union | _Ref) or len(node.native_types) != 1:
            raise self.refuse(tp, "is not supported as a dict key type (not one scalar)", where)
        (native,) = node.native_types
        if native not in _SCALAR_KEY_TYPES:
            raise self.refuse(tp, "is not supported as a dict key type (not a scalar)", where)
        return node

    def union(self, tp: object, args: tuple[Any, ...], where: str) -> _Node:
        if any(_is_any(a) for a in args):
            rest = [a for a in args if not _is_any(a)]
            if all(any(a is s for s in _NATIVE_SCALAR_ANNOTATIONS) for a in rest):
                return _ANY  # Optional[Any], int | Any: Any already stores these unchanged
        is_literal = [typing.get_origin(a) is typing.Literal for a in args]
        if sum(is_literal) > 1:  # Literal["a"] | Literal["b"] is one Literal, not two members
            merged = _literal_of(
                tuple(v for a, lit in zip(args, is_literal, strict=True) if lit for v in a.__args__)
            )
            first = is_literal.index(True)
            args = tuple(
                merged if i == first else a
                for i, (a, lit) in enumerate(zip(args, is_literal, strict=True))
                if i == first or not lit
            )
        members: list[_Node] = []
        for arg in args:
            node = self.compile(arg, where)
            if all(node is not m for m in members):
                members.append(node)
        if len(members) == 1:
            return members[0]
        return self.add(_Union(tuple(members), _qualname(tp)))

    def literal(self, tp: object, args: tuple[Any, ...], where: str) -> _Node:
        encodes: dict[tuple[type, object], object] = {}
        natives: set[tuple[type, object]] = set()
        for value in args:
            node = self.compile(type(value), where)
            try:
                native = node.encode(value)
            except _Fail as exc:  # pragma: no cover - Literal only admits simple values
                raise self.refuse(tp, f"has an unstorable value: {exc.message}", where) from None
            if (type(native), native) in natives:
                raise self.refuse(tp, "has two values with the same stored form", where)
            natives.add((type(native), native))
            encodes[type(value), value] = native
        return _Literal(_qualname(tp), encodes)

    def alias(self, alias: Any, args: tuple[Any, ...], where: str) -> _Node:
        key = (alias, args)
        done = self.aliases.get(key)
        if done is not None:
            return done
        if key in self.pending:  # recursion: point at the value once it is compiled
            ref = self.pending[key]
            if ref is None:
                ref = self.pending[key] = _Ref()
                self.add(ref)
            return ref
        self.pending[key] = None
        value = alias.__value__
        parameters = getattr(alias, "__type_params__", ())
        if args and parameters:
            value = _substitute(value, dict(zip(parameters, args, strict=False)))
        node = self.compile(value, where)
        ref = self.pending.pop(key)
        if ref is not None:
            if node is ref:
                raise self.refuse(alias, "refers only to itself", where)
            ref.target = node
        self.aliases[key] = node
        return node

    def cls(self, tp: object, cls: type, args: tuple[Any, ...], where: str) -> _Node:
        found = self.classes.get(tp)
        if found is not None:
            return found
        name = _qualname(cls)
        if issubclass(cls, enum.Enum):
            return self.enum(tp, cls, where)
        pydantic = sys.modules.get("pydantic")  # a model class means pydantic is imported
        if pydantic is not None and issubclass(cls, pydantic.BaseModel):
            if not hasattr(cls, "model_validate"):
                raise self.refuse(
                    tp, "is a pydantic v1 model; only pydantic v2 is supported", where
                )
            root_model = getattr(pydantic, "RootModel", None)
            root = root_model is not None and issubclass(cls, root_model)
            node: _Node = self.add(_Pydantic(cls, name, root=root))
            self.classes[tp] = node
            return node
        mapping = dict(zip(getattr(cls, "__parameters__", ()), args, strict=False))
        if dataclasses.is_dataclass(cls):
            return self.dataclass(tp, cls, mapping, where)
        if _is_typeddict(cls):
            typed = _TypedDict(name)
            self.classes[tp] = self.add(typed)
            hints = self.hints(cls, where)
            typed.set_fields(
                {k: self.compile(_substitute(h, mapping), f"{name}.{k}") for k, h in hints.items()},
                self.required_keys(cls, where),
            )
            return typed
        if issubclass(cls, tuple) and hasattr(cls, "_fields"):
            named = _NamedTuple(cls, name)
            self.classes[tp] = self.add(named)
            hints = self.hints(cls, where)
            fields: tuple[str, ...] = cls._fields
            named.set_items(
                tuple(
                    self.compile(_substitute(hints.get(f, typing.Any), mapping), f"{name}.{f}")
                    for f in fields
                ),
                tuple(f".{f}" for f in fields),
            )
            return named
        raise self.refuse(tp, f"is not supported; {_SUPPORTED}", where)

    def dataclass(self, tp: object, cls: type, mapping: dict[Any, object], where: str) -> _Node:
        name = _qualname(cls)
        params = getattr(cls, "__dataclass_params__", None)
        node = _Dataclass(cls, name, use_init=bool(getattr(params, "init", True)))
        self.classes[tp] = self.add(node)
        hints = self.hints(cls, where)
        fields = dataclasses.fields(cls)
        field_names = {f.name for f in fields}
        for pseudo in getattr(cls, "__dataclass_fields__", {}).values():
            if (
                pseudo.name not in field_names
                and isinstance(hints.get(pseudo.name), dataclasses.InitVar)
                and pseudo.default is dataclasses.MISSING
                and node.use_init
            ):
                raise self.refuse(
                    tp, f"has the InitVar {pseudo.name!r}, which is not stored", where
                )
        node.set_fields(
            tuple(
                (f.name, self.compile(_substitute(hints[f.name], mapping), f"{name}.{f.name}"))
                for f in fields
            ),
            frozenset(f.name for f in fields if f.init),
        )
        return node

    def enum(self, tp: object, cls: type[enum.Enum], where: str) -> _Node:
        node = _Enum(cls, _qualname(cls))
        self.classes[tp] = node
        values = [member._value_ for member in cls.__members__.values()]
        if all(type(v) in _SCALAR_KEY_TYPES and _is_native(v) for v in values):
            node.mode = "value"
            node.native_types = frozenset(type(v) for v in values)
            return node
        kinds = {type(v) for v in values}
        if len(kinds) == 1:
            try:
                value_node = self.compile(kinds.pop(), where)
                for value in values:
                    value_node.encode(value)
            except (ConfigurationError, _Fail):
                pass
            else:  # every value has one supported type, such as Decimal or tuple
                node.mode = "typed"
                node.value_node = value_node
                node.native_types = value_node.native_types
                return node
        node.native_types = frozenset({str})  # mixed or unsupported values: store the name
        return node

    def required_keys(self, cls: type, where: str) -> frozenset[str]:
        """Return a TypedDict's required keys, also when its annotations are strings.

        Python 3.11 cannot see ``Required``/``NotRequired`` inside string annotations (as with
        ``from __future__ import annotations``), so look at the resolved hints as well.
        """
        required = set(getattr(cls, "__required_keys__", ()))
        try:
            hints = typing.get_type_hints(cls, include_extras=True)
        except Exception:  # self.hints() already reported unresolvable annotations
            hints = {}
        for key, hint in hints.items():
            while typing.get_origin(hint) is typing.Annotated:
                hint = typing.get_args(hint)[0]
            if typing.get_origin(hint) is typing.Required:
                required.add(key)
            elif typing.get_origin(hint) is typing.NotRequired:
                required.discard(key)
        return frozenset(required)

    def hints(self, cls: type, where: str) -> dict[str, Any]:
        try:
            return typing.get_type_hints(cls, include_extras=False)
        except Exception as exc:  # NameError for unknown names; TypeError and others for bad ones
            raise self.refuse(
                cls, f"has annotations that do not resolve ({type(exc).__name__}: {exc})", where
            ) from exc

    def finalize(self) -> None:
        """Settle unions, identity and passthrough over the whole (maybe cyclic) node graph."""
        lazy = [n for n in self.nodes if isinstance(n, _Union | _Ref)]
        changed = True
        while changed:  # least fixed point: native types only grow
            changed = False
            for pending in lazy:
                if isinstance(pending, _Ref):
                    grown = pending.target.native_types
                else:
                    grown = frozenset().union(*(m.native_types for m in pending.children()))
                if grown != pending.native_types:
                    pending.native_types = grown
                    changed = True
        for pending in lazy:
            if isinstance(pending, _Union):
                pending.decide()
        changed = True
        while changed:  # greatest fixed point: a cycle of identity nodes is identity
            changed = False
            for node in self.nodes:
                if node.identity and not all(c.identity for c in node.children()):
                    node.identity = False
                    changed = True
                if node.passthrough and not all(c.passthrough for c in node.passthrough_children()):
                    node.passthrough = False
                    changed = True


class TypeCodec:
    """Converts a function's return values to native trees and back, by its return annotation.

    Args:
        annotation: The resolved return annotation (a type or typing construct), or
            ``typing.Any`` / ``inspect.Signature.empty`` when unknown: then only native
            values are accepted.
        owner: Name of the function, for messages, for example ``"myapp.users.get_user"``.

    Attributes:
        identity_decode: ``from_native(tree)`` returns *tree* itself for every tree
            ``to_native`` produces (the annotation holds only native types), so a reader may
            skip `from_native`.

    Raises:
        ConfigurationError: The annotation holds a type that cannot be stored faithfully
            (``field="return annotation"``).
    """

    __slots__ = ("_decode", "_encode", "_root", "annotation", "identity_decode", "owner")

    def __init__(self, annotation: object, *, owner: str) -> None:
        self.annotation = annotation
        self.owner = owner
        compiler = _Compiler(owner, annotation)
        try:
            root = compiler.compile(annotation, "")
        except RecursionError as exc:
            raise compiler.refuse(annotation, "is nested too deeply", "") from exc
        compiler.finalize()
        self._root = root
        self._encode = root.encode
        self._decode = root.decode
        self.identity_decode: bool = root.identity

    def __repr__(self) -> str:
        return (
            f"TypeCodec({_qualname(self.annotation)}, owner={self.owner!r}, "
            f"identity_decode={self.identity_decode})"
        )

    def to_native(self, value: object) -> object:
        """Return *value* as a native tree that JSON and MessagePack keep unchanged.

        Args:
            value: A return value of the function.

        Returns:
            A tree of ``dict`` (``str`` keys), ``list``, ``str``, ``int``, finite ``float``,
            ``bool`` and ``None``; *value* itself when it is already such a tree.

        Raises:
            SerializationError: *value* does not fit the annotation or would not come back
                unchanged; the message names the owner, the path inside the value (such as
                ``result.items[3].created``) and the offending type.
        """
        try:
            return self._encode(value)
        except _Fail as exc:
            raise self._error("cannot cache the return value", exc) from exc.__cause__
        except RecursionError:
            raise SerializationError(
                f"{self.owner}: cannot cache the return value: it is nested too deeply or "
                "contains itself",
                codec=CODEC_NAME,
            ) from None

    def from_native(self, tree: object) -> object:
        """Return the value of the annotated type that *tree* (from `to_native`) stands for.

        Args:
            tree: A decoded JSON or MessagePack document.

        Returns:
            The value, of exactly the annotated type.

        Raises:
            SerializationError: *tree* does not have the shape the annotation expects, for
                example because another version of the function stored it.
        """
        try:
            return self._decode(tree)
        except _Fail as exc:
            raise self._error(
                f"the cached value does not fit the return annotation "
                f"{_qualname(self.annotation)} (stored by another version?)",
                exc,
            ) from exc.__cause__
        except RecursionError:
            raise SerializationError(
                f"{self.owner}: the cached value is nested too deeply", codec=CODEC_NAME
            ) from None

    def _error(self, what: str, exc: _Fail) -> SerializationError:
        path = "result" + "".join(reversed(exc.path))
        return SerializationError(
            f"{self.owner}: {what}: at {path}: {exc.message}", codec=CODEC_NAME
        )
