from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import inspect
import json
import math
import operator
import types
import typing
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any, Literal, NamedTuple, NotRequired, Optional, TypedDict, Union
from zoneinfo import ZoneInfo

import pydantic
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from hardpoint.cache._typecodec import CODEC_NAME, TypeCodec
from hardpoint.errors import ConfigurationError, SerializationError

OWNER = "myapp.users.get_user"

# -- types under test -------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Shade(enum.StrEnum):
    LIGHT = enum.auto()
    DARK = enum.auto()


class Perm(enum.Flag):
    READ = 1
    WRITE = 2
    EXEC = 4


class Planet(enum.Enum):  # tuple values: stored as their tuple form
    MERCURY = (3.303e23, 2.4397e6)
    EARTH = (5.976e24, 6.37814e6)


class Odd(enum.Enum):  # mixed value types: stored by name
    A = 1
    B = "b"
    C = (1, 2)


class Mixed(enum.Enum):  # native values of two types: fine as values, not as dict keys
    A = 1
    B = "b"


@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float
    label: str | None = None


@dataclasses.dataclass
class Event:
    name: str
    when: datetime
    amount: Decimal
    tags: frozenset[str] = frozenset()
    ref: uuid.UUID | None = None
    length: int = dataclasses.field(init=False, default=0)

    def __post_init__(self) -> None:
        self.length = len(self.name)


@dataclasses.dataclass(kw_only=True)
class Tree:
    value: int
    children: list[Tree] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class SubEvent(Event):
    extra: int = 0


class Pair(NamedTuple):
    left: int
    right: str


class Movie(TypedDict, total=False):
    title: typing.Required[str]
    year: int
    rating: float | None


class Plain(TypedDict):
    name: str
    scores: list[int]
    sub: NotRequired[Plain]


class User(pydantic.BaseModel):
    id: uuid.UUID
    name: str
    score: float
    created: datetime
    tags: list[str] = []
    best_friend: User | None = None


class Ints(pydantic.RootModel[list[int]]):
    pass


class Opaque:
    pass


T = typing.TypeVar("T")
Bounded = typing.TypeVar("Bounded", bound=date)
Constrained = typing.TypeVar("Constrained", int, str)


@dataclasses.dataclass
class Box(typing.Generic[T]):
    item: T
    items: list[T]
    inner: Box[T] | None = None


@dataclasses.dataclass
class Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@dataclasses.dataclass(init=False)
class OwnInit:
    a: int
    b: str

    def __init__(self, text: str) -> None:
        self.a, self.b = len(text), text


@dataclasses.dataclass
class Unset:
    a: int
    b: int = dataclasses.field(init=False)


class FakeTypeAlias:
    """Stands in for a 3.12 ``type X = ...`` alias: `TypeCodec` duck-types on these names."""

    def __init__(self, name: str, value: Callable[[], object]) -> None:
        self.__name__ = name
        self._value = value

    @property
    def __value__(self) -> object:  # evaluated lazily, as 3.12 does, so it can recurse
        return self._value()


FakeTypeAlias.__name__ = "TypeAliasType"


def _union_of(*members: object) -> object:
    return functools.reduce(operator.or_, members)


# type JSON = dict[str, JSON] | list[JSON] | str | int | float | bool | None
JSON: FakeTypeAlias = FakeTypeAlias(
    "JSON",
    lambda: _union_of(
        types.GenericAlias(dict, (str, JSON)),
        types.GenericAlias(list, (JSON,)),
        str,
        int,
        float,
        bool,
        None,
    ),
)
# type DatedTree = list[DatedTree] | datetime
DatedTree: FakeTypeAlias = FakeTypeAlias(
    "DatedTree", lambda: _union_of(types.GenericAlias(list, (DatedTree,)), datetime)
)


# -- helpers ----------------------------------------------------------------------------------


def json_round_trip(codec: TypeCodec, value: object) -> object:
    native = codec.to_native(value)
    text = json.dumps(native, allow_nan=False)
    return codec.from_native(json.loads(text))


def assert_same(before: object, after: object, where: str = "result") -> None:
    """Equal, and of exactly the same types all the way down."""
    assert type(before) is type(after), f"{where}: {type(before)} became {type(after)}"
    if isinstance(before, float):
        assert repr(before) == repr(after), where
    elif isinstance(before, Decimal):
        assert isinstance(after, Decimal)
        assert before.as_tuple() == after.as_tuple(), where
    elif isinstance(before, datetime):
        assert isinstance(after, datetime)
        assert before.replace(tzinfo=None) == after.replace(tzinfo=None), where
        assert before.utcoffset() == after.utcoffset(), where
        if isinstance(before.tzinfo, ZoneInfo):
            assert after.tzinfo is before.tzinfo, where
    elif isinstance(before, time):
        assert before == after, where
        assert isinstance(after, time)
        assert before.utcoffset() == after.utcoffset(), where
    elif isinstance(before, list | tuple):
        assert isinstance(after, list | tuple)
        assert len(before) == len(after), where
        for index, (x, y) in enumerate(zip(before, after, strict=True)):
            assert_same(x, y, f"{where}[{index}]")
    elif isinstance(before, set | frozenset):
        assert isinstance(after, set | frozenset)
        assert before == after, where
        by_value = {y: y for y in after}
        for x in before:
            assert_same(x, by_value[x], f"{where}{{}}")
    elif isinstance(before, dict):
        assert isinstance(after, dict)
        assert len(before) == len(after), where
        keys = {k: k for k in after}
        for key, value in before.items():
            assert_same(key, keys[key], f"{where} key")
            assert_same(value, after[key], f"{where}[{key!r}]")
    elif dataclasses.is_dataclass(before) and not isinstance(before, type):
        for field in dataclasses.fields(before):
            assert_same(
                getattr(before, field.name), getattr(after, field.name), f"{where}.{field.name}"
            )
    elif isinstance(before, pydantic.BaseModel):
        assert before == after, where
    else:
        assert before == after, where


# -- strategies -------------------------------------------------------------------------------

finite_floats = st.floats(allow_nan=False, allow_infinity=False)
fixed_offsets: st.SearchStrategy[tzinfo] = st.builds(
    timezone, st.timedeltas(min_value=timedelta(hours=-23), max_value=timedelta(hours=23))
)
minute_offsets: st.SearchStrategy[tzinfo] = st.builds(  # pydantic writes offsets in minutes
    timezone, st.integers(-23 * 60, 23 * 60).map(lambda minutes: timedelta(minutes=minutes))
)
aware_datetimes = st.datetimes(timezones=st.timezones() | fixed_offsets | st.just(UTC))
any_datetimes = st.datetimes() | aware_datetimes
decimals = st.decimals(allow_nan=False, allow_infinity=False)
native_scalars = st.none() | st.booleans() | st.integers() | finite_floats | st.text()
natives = st.recursive(
    native_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
trees = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=6), inner, max_size=4)
        | st.fixed_dictionaries({"$u": st.integers(-1, 4), "v": inner})
    ),
    max_leaves=12,
)
events = st.builds(
    Event,
    name=st.text(),
    when=any_datetimes,
    amount=decimals,
    tags=st.frozensets(st.text(), max_size=3),
    ref=st.none() | st.uuids(),
)
trees_of_ints: st.SearchStrategy[Tree] = st.deferred(
    lambda: st.builds(Tree, value=st.integers(), children=st.lists(trees_of_ints, max_size=3))
)
users: st.SearchStrategy[User] = st.deferred(
    lambda: st.builds(
        User,
        id=st.uuids(),
        name=st.text(),
        score=finite_floats,
        created=st.datetimes() | st.datetimes(timezones=minute_offsets),
        tags=st.lists(st.text(), max_size=3),
        best_friend=st.none() | users,
    )
)
movies = st.fixed_dictionaries(
    {"title": st.text()},
    optional={"year": st.integers(), "rating": st.none() | finite_floats},
)
json_values: st.SearchStrategy[object] = st.deferred(
    lambda: st.recursive(
        native_scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=10,
    )
)
dated_trees: st.SearchStrategy[object] = st.recursive(
    any_datetimes, lambda inner: st.lists(inner, max_size=3), max_leaves=8
)

ROUND_TRIPS: list[tuple[str, object, st.SearchStrategy[Any]]] = [
    ("None", None, st.none()),
    ("bool", bool, st.booleans()),
    ("int", int, st.integers()),
    ("float", float, finite_floats),
    ("str", str, st.text()),
    ("bytes", bytes, st.binary()),
    ("bytearray", bytearray, st.binary().map(bytearray)),
    ("datetime", datetime, any_datetimes),
    ("date", date, st.dates()),
    ("time", time, st.times() | st.times(timezones=fixed_offsets)),
    ("timedelta", timedelta, st.timedeltas()),
    ("uuid", uuid.UUID, st.uuids()),
    ("decimal", Decimal, decimals),
    ("enum", Color, st.sampled_from(Color)),
    ("intenum", Level, st.sampled_from(Level)),
    ("strenum", Shade, st.sampled_from(Shade)),
    ("flag", Perm, st.sampled_from(Perm).flatmap(lambda p: st.just(p | Perm.READ))),
    ("tuple-valued enum", Planet, st.sampled_from(Planet)),
    ("mixed enum", Odd, st.sampled_from(Odd)),
    ("mixed native enum", Mixed, st.sampled_from(Mixed)),
    (
        "dict[enum by name, ...]",
        dict[Odd, int],
        st.dictionaries(st.sampled_from(Odd), st.integers()),
    ),
    (
        "literal",
        Literal["a", 1, True, None, Color.RED],
        st.sampled_from(["a", 1, True, None, Color.RED]),
    ),
    ("any", Any, natives),
    ("object", object, natives),
    ("no annotation", inspect.Signature.empty, natives),
    ("bare list", list, st.lists(natives, max_size=3)),
    ("bare dict", dict, st.dictionaries(st.text(), natives, max_size=3)),
    ("bare tuple", tuple, st.lists(native_scalars, max_size=3).map(tuple)),
    ("list[int]", list[int], st.lists(st.integers())),
    ("list[float]", list[float], st.lists(finite_floats)),
    ("Sequence[str]", Sequence[str], st.lists(st.text())),
    ("tuple[int, ...]", tuple[int, ...], st.lists(st.integers()).map(tuple)),
    (
        "tuple[int, str, date]",
        tuple[int, str, date],
        st.tuples(st.integers(), st.text(), st.dates()),
    ),
    ("empty tuple", tuple[()], st.just(())),
    ("set[str]", set[str], st.sets(st.text())),
    ("frozenset[uuid]", frozenset[uuid.UUID], st.frozensets(st.uuids())),
    ("set[Color]", set[Color], st.sets(st.sampled_from(Color))),
    ("set[tuple]", set[tuple[int, str]], st.sets(st.tuples(st.integers(), st.text()))),
    ("dict[str, Any]", dict[str, Any], st.dictionaries(st.text(), natives)),
    ("dict[int, str]", dict[int, str], st.dictionaries(st.integers(), st.text())),
    ("dict[float, int]", dict[float, int], st.dictionaries(finite_floats, st.integers())),
    ("dict[bool, int]", dict[bool, int], st.dictionaries(st.booleans(), st.integers())),
    ("dict[uuid, date]", dict[uuid.UUID, date], st.dictionaries(st.uuids(), st.dates())),
    (
        "dict[Level, ...]",
        dict[Level, list[Decimal]],
        st.dictionaries(st.sampled_from(Level), st.lists(decimals, max_size=2)),
    ),
    (
        "dict[Literal, int]",
        dict[Literal[1, 2, 3], int],
        st.dictionaries(st.sampled_from([1, 2, 3]), st.integers()),
    ),
    ("dict[datetime, ...]", dict[datetime, bytes], st.dictionaries(st.datetimes(), st.binary())),
    (
        "Mapping[str, set[int]]",
        Mapping[str, set[int]],
        st.dictionaries(st.text(), st.sets(st.integers())),
    ),
    ("Optional[datetime]", Optional[datetime], st.none() | any_datetimes),  # noqa: UP045 - the spelling under test
    ("int | str | None", int | str | None, st.none() | st.integers() | st.text()),
    ("int | float", int | float, st.integers() | finite_floats),
    ("float | Literal[5]", float | Literal[5], st.just(5) | finite_floats),
    (
        "dict | dataclass (tagged)",
        dict[str, int] | Point,
        st.dictionaries(st.text(), st.integers())
        | st.builds(Point, x=finite_floats, y=finite_floats),
    ),
    (
        "generic dataclass",
        Box[datetime],
        st.builds(Box[datetime], item=any_datetimes, items=st.lists(any_datetimes, max_size=2)),
    ),
    ("bound typevar", Bounded, st.dates()),
    ("constrained typevar", Constrained, st.integers() | st.text()),
    ("own __init__ dataclass", OwnInit, st.text().map(OwnInit)),
    ("AbstractSet", typing.AbstractSet[int], st.frozensets(st.integers())),
    ("MutableSet", typing.MutableSet[str], st.sets(st.text())),
    ("Optional[Any]", Optional[Any], natives),  # noqa: UP045 - the spelling under test
    ("Annotated, unhashable metadata", typing.Annotated[int, {"unit": "s"}], st.integers()),
    ("float | int", float | int, st.integers() | finite_floats),
    ("Union[date, datetime]", Union[date, datetime], st.dates() | any_datetimes),  # noqa: UP007 - as above
    ("datetime | str (tagged)", datetime | str, any_datetimes | st.text()),
    (
        "list[int] | list[str]",
        list[int] | list[str],
        st.lists(st.integers()) | st.lists(st.text(), min_size=1),
    ),
    (
        "Point | Pair",
        Point | Pair | None,
        st.none()
        | st.builds(Point, x=finite_floats, y=finite_floats, label=st.none() | st.text())
        | st.builds(Pair, st.integers(), st.text()),
    ),
    ("literal union", Literal["a"] | Literal["b"] | None, st.sampled_from(["a", "b", None])),
    ("dataclass", Event, events),
    ("list[dataclass]", list[Event], st.lists(events, max_size=3)),
    ("recursive dataclass", Tree, trees_of_ints),
    ("namedtuple", Pair, st.builds(Pair, st.integers(), st.text())),
    ("typeddict", Movie, movies),
    (
        "recursive typeddict",
        Plain,
        st.fixed_dictionaries({"name": st.text(), "scores": st.lists(st.integers())}),
    ),
    ("pydantic", User, users),
    ("pydantic root", Ints, st.lists(st.integers(min_value=-(2**63), max_value=2**63)).map(Ints)),
    ("optional pydantic", list[User | None], st.lists(st.none() | users, max_size=3)),
    ("json alias", JSON, json_values),
    ("recursive non-native alias", DatedTree, dated_trees),
    ("annotated", typing.Annotated[list[Decimal], "meta"], st.lists(decimals)),
    ("newtype", typing.NewType("UserId", int), st.integers()),
    (
        "nested containers",
        dict[str, list[tuple[frozenset[int], Optional[timedelta]]]],  # noqa: UP045 - the spelling under test
        st.dictionaries(
            st.text(),
            st.lists(st.tuples(st.frozensets(st.integers()), st.none() | st.timedeltas())),
            max_size=3,
        ),
    ),
]


@pytest.mark.parametrize(
    ("annotation", "strategy"),
    [pytest.param(a, s, id=name) for name, a, s in ROUND_TRIPS],
)
@given(data=st.data())
def test_round_trip_through_json_keeps_value_and_exact_types(
    annotation: object, strategy: st.SearchStrategy[Any], data: st.DataObject
) -> None:
    codec = TypeCodec(annotation, owner=OWNER)
    value = data.draw(strategy)
    back = json_round_trip(codec, value)
    assert_same(value, back)
    if codec.identity_decode:
        native = json.loads(json.dumps(codec.to_native(value)))
        assert codec.from_native(native) is native


@given(st.decimals(allow_nan=False, allow_infinity=False, places=2))
@example(Decimal("1.10"))
@example(Decimal("-0.00"))
@example(Decimal("1E+2"))
def test_decimal_keeps_its_exponent(value: Decimal) -> None:
    back = json_round_trip(TypeCodec(Decimal, owner=OWNER), value)
    assert isinstance(back, Decimal)
    assert back.as_tuple() == value.as_tuple()


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 31, 2, 30, tzinfo=ZoneInfo("Europe/Paris")),  # skipped by DST
        datetime(2024, 10, 27, 2, 30, fold=0, tzinfo=ZoneInfo("Europe/Paris")),  # ambiguous
        datetime(2024, 10, 27, 2, 30, fold=1, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(1900, 1, 1, tzinfo=ZoneInfo("Europe/Paris")),  # LMT, a seconds offset
    ],
)
def test_zoneinfo_datetimes_keep_zone_wall_time_and_offset(value: datetime) -> None:
    codec = TypeCodec(datetime, owner=OWNER)
    text = codec.to_native(value)
    assert isinstance(text, str)
    assert text.endswith("[Europe/Paris]")
    back = codec.from_native(text)
    assert isinstance(back, datetime)
    assert back.tzinfo is value.tzinfo
    assert back.replace(tzinfo=None) == value.replace(tzinfo=None)
    assert back.utcoffset() == value.utcoffset()


@pytest.mark.parametrize(
    "value",
    [  # CPython 3.11's fromisoformat drops these offsets' microseconds (found by hypothesis)
        datetime(2000, 1, 1, tzinfo=timezone(timedelta(microseconds=1))),
        datetime(2000, 1, 1, tzinfo=timezone(-timedelta(microseconds=1))),
        time(1, tzinfo=timezone(timedelta(microseconds=7))),
    ],
)
def test_sub_second_utc_offsets_survive(value: datetime | time) -> None:
    back = json_round_trip(TypeCodec(type(value), owner=OWNER), value)
    assert_same(value, back)


def test_native_forms_are_the_documented_ones() -> None:
    def native(annotation: object, value: object) -> object:
        return TypeCodec(annotation, owner=OWNER).to_native(value)

    assert native(bytes, b"\x00\xff") == "AP8="
    assert native(timedelta, timedelta(days=-1, microseconds=5)) == [-1, 0, 5]
    assert native(datetime, datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert native(set[int], {3, 1, 2}) == [1, 2, 3]
    assert native(dict[int, bool], {2: True}) == {"2": True}
    assert native(dict[bool, int], {True: 1}) == {"true": 1}
    assert native(Color, Color.RED) == "red"
    assert native(Planet, Planet.EARTH) == [5.976e24, 6.37814e6]
    assert native(Odd, Odd.C) == "C"
    assert native(Point, Point(1, 2)) == {"x": 1.0, "y": 2.0, "label": None}
    assert native(Pair, Pair(1, "a")) == [1, "a"]
    assert native(datetime | str, "x") == {"$u": 1, "v": "x"}
    assert native(datetime | str | None, None) is None
    assert native(int | datetime, 5) == 5  # disjoint native forms: no tag


def test_float_accepts_exact_ints_and_decodes_them_as_float() -> None:
    codec = TypeCodec(list[float], owner=OWNER)
    assert codec.to_native([1, 2.5]) == [1.0, 2.5]
    assert codec.from_native([3, 2.5]) == [3.0, 2.5]
    assert all(type(x) is float for x in typing.cast("list[object]", codec.from_native([3])))
    with pytest.raises(SerializationError, match="no exact float form"):
        codec.to_native([2**53 + 1])


def test_natives_pass_through_without_copies() -> None:
    rows = [{"id": i, "name": f"n{i}", "tags": ["a", "b"], "score": 1.5} for i in range(100)]
    for annotation in (list[dict[str, Any]], Any, list[dict[str, int | str | float | list[str]]]):
        codec = TypeCodec(annotation, owner=OWNER)
        assert codec.identity_decode
        assert codec.to_native(rows) is rows
        assert codec.from_native(rows) is rows


# -- identity_decode --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "identity"),
    [
        (int, True),
        (str, True),
        (float, True),
        (bool, True),
        (None, True),
        (Any, True),
        (object, True),
        (inspect.Signature.empty, True),
        (list, True),
        (dict, True),
        (list[int], True),
        (Sequence[int], True),
        (dict[str, Any], True),
        (Mapping[str, list[float]], True),
        (dict[str, list[int | None]], True),
        (int | str | None, True),
        (Optional[list[str]], True),  # noqa: UP045 - the spelling under test
        (Plain, True),
        (JSON, True),
        (Literal["a", "b"], False),
        (Literal["a"] | None, False),
        (tuple[int, ...], False),
        (tuple, False),
        (set[int], False),
        (dict[int, str], False),
        (datetime, False),
        (list[datetime], False),
        (int | datetime, False),
        (list[int] | list[str], False),
        (Decimal, False),
        (Color, False),
        (Point, False),
        (Pair, False),
        (Movie, True),
        (User, False),
        (DatedTree, False),
    ],
    ids=repr,
)
def test_identity_decode_only_when_decoding_is_free(annotation: object, identity: bool) -> None:
    assert TypeCodec(annotation, owner=OWNER).identity_decode is identity


# -- refusals on store ------------------------------------------------------------------------


class Weird(str):
    pass


class _NoOffset(tzinfo):
    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def _cyclic() -> list[object]:
    loop: list[object] = []
    loop.append(loop)
    return loop


@pytest.mark.parametrize(
    ("annotation", "value", "pieces"),
    [
        (Any, datetime(2024, 1, 1), ["datetime.datetime", "annotate the return type"]),
        (inspect.Signature.empty, datetime(2024, 1, 1), ["datetime.datetime", "Any"]),
        (Any, (1, 2), ["tuple would come back as a list"]),
        (Any, {1, 2}, ["set would come back as a list"]),
        (Any, Opaque(), ["Opaque is not JSON-native"]),
        (Any, float("nan"), ["nan", "JSON has no NaN"]),
        (Any, {"a": [1.0, float("inf")]}, ["result['a'][1]", "inf"]),
        (float, float("-inf"), ["-inf"]),
        (Any, {1: "one"}, ["dict key of type int", "dict[int, ...]"]),
        (Any, [Level.LOW], ["result[0]", "Level would come back as a plain int"]),
        (
            dict[str, Any],
            {"k": Weird("x")},
            ["result['k']", "Weird would come back as a plain str"],
        ),
        (int, True, ["expected int, got bool"]),
        (bool, 1, ["expected bool, got int"]),
        (list[int], [1, 2, False], ["result[2]", "got bool"]),
        (str, Color.RED, ["Color"]),
        (Literal["a", "b"], "c", ["not one of"]),
        (Literal[1], True, ["bool value is not one of"]),
        (Sequence[str], "abc", ["would come back as a list"]),
        (list[int], (1, 2), ["expected list[int], got tuple"]),
        (tuple[int, int], (1, 2, 3), ["expected 2 items"]),
        (date, datetime(2024, 1, 1), ["subclass datetime.datetime"]),
        (Event, SubEvent("a", datetime(2024, 1, 1), Decimal(1)), ["subclass", "SubEvent"]),
        (Movie, {"title": "x", "plot": "y"}, ["unexpected keys 'plot'"]),
        (Movie, {"year": 1999}, ["missing keys 'title'"]),
        (datetime | None, 3, ["int is none of the types"]),
        (
            User,
            User.model_construct(
                id=uuid.uuid4(), name="n", score=math.inf, created=datetime(2024, 1, 1)
            ),
            ["model_dump", "inf"],
        ),
        (Any, _cyclic(), ["nested too deeply or contains itself"]),
    ],
    ids=lambda v: repr(v)[:40] if not isinstance(v, list) else "",
)
def test_unstorable_values_are_refused_with_a_precise_message(
    annotation: object, value: object, pieces: list[str]
) -> None:
    codec = TypeCodec(annotation, owner=OWNER)
    with pytest.raises(SerializationError) as info:
        codec.to_native(value)
    message = str(info.value)
    assert message.startswith(f"{OWNER}: cannot cache the return value")
    assert info.value.codec == CODEC_NAME
    for piece in pieces:
        assert piece in message


def test_message_gives_the_path_inside_the_value() -> None:
    ok = Event("a", datetime(2024, 1, 1), Decimal("1.5"))
    bad = Event("b", datetime(2024, 1, 1), Decimal("1.5"))
    bad.when = "yesterday"  # type: ignore[assignment]  # the bug under test
    codec = TypeCodec(dict[str, list[Event]], owner=OWNER)
    with pytest.raises(SerializationError, match=r"at result\['k'\]\[2\]\.when: expected datetime"):
        codec.to_native({"k": [ok, ok, bad]})


def test_union_tries_the_next_matching_member() -> None:
    codec = TypeCodec(list[int] | list[str], owner=OWNER)
    assert codec.to_native(["a"]) == {"$u": 1, "v": ["a"]}
    assert codec.from_native({"$u": 1, "v": ["a"]}) == ["a"]
    with pytest.raises(SerializationError, match=r"result\[1\]: expected int"):
        codec.to_native([1, None])


# -- decode mismatches (another version of the function stored the entry) -----------------


@pytest.mark.parametrize(
    ("annotation", "tree", "piece"),
    [
        (Event, {"name": "a"}, "missing fields amount, length, ref, tags, when"),
        (Point, {"x": 1.0, "y": 2.0, "label": None, "z": 3}, "unexpected keys 'z'"),
        (list[Point], [{"x": 1.0, "y": "2", "label": None}], "result[0].y: expected float"),
        (int, 1.0, "expected int, got float"),
        (int, True, "got bool"),
        (float, "1.0", "expected float, got str"),
        (datetime, "yesterday", "not an ISO 8601 datetime"),
        (datetime, "2024-01-01T00:00:00+01:00[No/Such_Zone]", "unknown time zone"),
        (uuid.UUID, "xyz", "not a UUID"),
        (bytes, "not base64!", "not base64"),
        (Decimal, "1.2.3", "not a decimal"),
        (dict[int, str], {"01": "x"}, "not a canonical int"),
        (Color, "blue", "not a member of"),
        (Literal["a"], "b", "not one of"),
        (datetime | str, "x", 'expected {"$u": index, "v": value}'),
        (datetime | str, {"$u": 7, "v": "x"}, '{"$u": index'),
        (Pair, [1], "expected a list of 2 items"),
        (set[Any], [[1]], "not hashable"),
        (User, {"id": "nope"}, "model_validate rejected"),
        (timedelta, [1, 2], "[days, seconds, microseconds]"),
        (Any, (1, 2), "tuple would come back"),
    ],
)
def test_trees_of_another_shape_are_refused(annotation: object, tree: object, piece: str) -> None:
    codec = TypeCodec(annotation, owner=OWNER)
    with pytest.raises(SerializationError) as info:
        codec.from_native(tree)
    message = str(info.value)
    assert message.startswith(f"{OWNER}: the cached value does not fit the return annotation")
    assert piece in message


TOTALITY_CASES: list[tuple[object, st.SearchStrategy[Any] | None]] = [
    (int, st.integers()),
    (float, finite_floats),
    (datetime, any_datetimes),
    (Optional[datetime], None),  # noqa: UP045 - the spelling under test
    (list[Event], st.lists(events, max_size=3)),
    (dict[int, Decimal], st.dictionaries(st.integers(), decimals, max_size=3)),
    (dict[Level, set[uuid.UUID]], None),
    (tuple[bytes, time, timedelta], st.tuples(st.binary(), st.times(), st.timedeltas())),
    (datetime | str | None, any_datetimes | st.text() | st.none()),
    (Point | Pair, None),
    (Literal["a", 1, None], None),
    (Color | Perm | Planet | Odd, None),
    (Movie, movies),
    (Plain, None),
    (Tree, trees_of_ints),
    (User, users),
    (JSON, json_values),
    (DatedTree, dated_trees),
]


@st.composite
def _mutated(draw: st.DrawFn, codec: TypeCodec, values: st.SearchStrategy[object]) -> object:
    """A valid tree with one subtree replaced by a random tree."""
    tree = json.loads(json.dumps(codec.to_native(draw(values))))
    paths: list[tuple[Any, ...]] = []

    def walk(node: object, path: tuple[Any, ...]) -> None:
        paths.append(path)
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, (*path, i))
        elif isinstance(node, dict):
            for key, item in node.items():
                walk(item, (*path, key))

    walk(tree, ())
    path = draw(st.sampled_from(paths))
    replacement = draw(trees)
    if not path:
        return replacement
    parent: Any = tree
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = replacement
    return tree


PINNED_TREES: list[object] = [  # trees that once escaped as other exceptions
    "2024-01-01T00:00:00+01:00[" + "x" * 300 + "]",
    "2024-01-01T00:00:00+01:00[../etc/passwd]",
    "2024-01-01T00:00:00[Europe/Paris]",
    "[]",
    [10**20, 0, 0],
    {"$u": True, "v": 1},
    {"1e5": "1"},
    {"NaN": "x"},
    float("nan"),
    [[1]],
]


@pytest.mark.parametrize(
    ("annotation", "values"), [pytest.param(a, v, id=repr(a)) for a, v in TOTALITY_CASES]
)
@given(data=st.data())
def test_from_native_is_total(
    annotation: object, values: st.SearchStrategy[Any] | None, data: st.DataObject
) -> None:
    codec = TypeCodec(annotation, owner=OWNER)
    strategy = trees if values is None else trees | _mutated(codec, values)
    tree = data.draw(strategy)
    with contextlib.suppress(SerializationError):
        codec.from_native(tree)


@pytest.mark.parametrize(("annotation", "_values"), TOTALITY_CASES)
@pytest.mark.parametrize("tree", PINNED_TREES, ids=repr)
def test_from_native_is_total_on_pinned_trees(
    annotation: object, _values: object, tree: object
) -> None:
    with contextlib.suppress(SerializationError):
        TypeCodec(annotation, owner=OWNER).from_native(tree)


# -- unsupported annotations ------------------------------------------------------------------


@dataclasses.dataclass
class HasCallback:
    name: str
    callback: Callable[[], None]


@dataclasses.dataclass
class HasInitVar:
    name: str
    secret: dataclasses.InitVar[str]


@pytest.mark.parametrize(
    ("annotation", "piece"),
    [
        (Callable[[], int], "Callable[[], int] is not supported"),
        (Opaque, "Opaque is not supported"),
        (Weird, "Weird is not supported"),
        (type[int], "type[int] is not supported"),
        (list[Opaque], "Opaque is not supported"),
        (HasCallback, f"(in {__name__}.HasCallback.callback)"),
        (HasInitVar, "InitVar 'secret'"),
        (dict[tuple[int, int], str], "not supported as a dict key type"),
        (dict[int | str, str], "not supported as a dict key type"),
        (dict[Mixed, str], "not supported as a dict key type"),
        (list["Opaque"], "unresolved forward reference"),
        (typing.OrderedDict[str, int], "is not supported"),
        (typing.NoReturn, "is not supported"),
        (Literal[Level.LOW, 1], "same stored form"),
    ],
    ids=repr,
)
def test_unsupported_annotations_fail_at_construction(annotation: object, piece: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        TypeCodec(annotation, owner=OWNER)
    assert info.value.field == "return annotation"
    message = str(info.value)
    assert message.startswith(f"{OWNER}: cannot cache values of the return annotation")
    assert piece in message


def test_works_without_pydantic() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['pydantic'] = None\n"  # blocked: importing it raises
        "import dataclasses, datetime\n"
        "from hardpoint.cache._typecodec import TypeCodec\n"
        "@dataclasses.dataclass\n"
        "class Row:\n"
        "    when: datetime.datetime\n"
        "codec = TypeCodec(list[Row], owner='x')\n"
        "value = [Row(datetime.datetime(2024, 1, 1))]\n"
        "assert codec.from_native(codec.to_native(value)) == value\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_abstract_containers_accept_any_implementation() -> None:
    assert TypeCodec(Mapping[str, int], owner=OWNER).to_native(
        types.MappingProxyType({"a": 1})
    ) == {"a": 1}
    assert TypeCodec(typing.AbstractSet[int], owner=OWNER).to_native({2: 0, 1: 0}.keys()) == [1, 2]
    assert TypeCodec(Sequence[int], owner=OWNER).to_native(range(3)) == [0, 1, 2]
    assert TypeCodec(Sequence[int], owner=OWNER).from_native([0, 1]) == [0, 1]


def test_any_in_a_union_of_natives_is_just_any() -> None:
    for annotation in (Optional[Any], int | Any, Union[Any, str, None]):  # noqa: UP007, UP045
        codec = TypeCodec(annotation, owner=OWNER)
        assert codec.identity_decode
        with pytest.raises(SerializationError, match="annotate the return type"):
            codec.to_native(datetime(2024, 1, 1))


def test_typevar_without_bound_means_any() -> None:
    codec = TypeCodec(list[T], owner=OWNER)  # type: ignore[valid-type]  # a bare TypeVar on purpose
    assert codec.identity_decode
    with pytest.raises(SerializationError, match="tuple would come back"):
        codec.to_native([(1, 2)])


def test_stored_data_rejected_by_the_class_is_a_serialization_error() -> None:
    codec = TypeCodec(Checked, owner=OWNER)
    with pytest.raises(SerializationError, match=r"Checked\(\.\.\.\) raised ValueError") as info:
        codec.from_native({"value": -1})
    assert isinstance(info.value.__cause__, ValueError)


def test_unset_fields_are_refused() -> None:
    with pytest.raises(SerializationError, match="unset field"):
        TypeCodec(Unset, owner=OWNER).to_native(Unset(1))


@pytest.mark.parametrize(
    ("annotation", "value", "piece"),
    [
        (time, time(1, tzinfo=ZoneInfo("Europe/Paris")), "without a fixed UTC offset"),
        (datetime, datetime(2024, 1, 1, tzinfo=_NoOffset()), "utcoffset() is None"),
        (timedelta, 3, "expected datetime.timedelta, got int"),
        (tuple[int, ...], [1], "expected tuple, got list"),
        (set[int], frozenset({1}), "expected set[int], got frozenset"),
        (dict[str, int], [("a", 1)], "expected dict[str, int], got list"),
        (float, "1", "expected float, got str"),
        (float, 10**400, "no exact float form"),
    ],
    ids=repr,
)
def test_more_refusals(annotation: object, value: object, piece: str) -> None:
    with pytest.raises(SerializationError) as info:
        TypeCodec(annotation, owner=OWNER).to_native(value)
    assert piece in str(info.value)


@pytest.mark.parametrize(
    ("annotation", "tree", "piece"),
    [
        (dict[float, int], {"1.50": 1}, "not a canonical finite float"),
        (dict[float, int], {"inf": 1}, "not a canonical finite float"),
        (dict[bool, int], {"yes": 1}, "neither 'true' nor 'false'"),
        (dict[int, int], {"x": 1}, "does not parse"),
        (datetime, "2024-01-01T00:00:00]", "unbalanced"),
        (timedelta, [10**10, 0, 0], "out of range"),
        (Odd, "D", "not a member of"),
        (Odd, 1, "expected str naming a member"),
        (Level, 1.0, "expected a value of"),
        (Pair, ["x", "y"], "result.left: expected int"),
        (tuple[int, ...], [1, "x"], "result[1]: expected int"),
        (frozenset[int], [1, "x"], "result[1]"),
        (Movie, {"title": 1}, "result['title']: expected str"),
        (Movie, ["x"], "expected dict (test_typecodec.Movie)"),
    ],
    ids=repr,
)
def test_more_decode_mismatches(annotation: object, tree: object, piece: str) -> None:
    with pytest.raises(SerializationError) as info:
        TypeCodec(annotation, owner=OWNER).from_native(tree)
    assert piece in str(info.value)


def test_an_alias_that_is_only_itself_is_refused() -> None:
    loop: FakeTypeAlias = FakeTypeAlias("Loop", lambda: loop)
    with pytest.raises(ConfigurationError, match="refers only to itself"):
        TypeCodec(loop, owner=OWNER)


def test_repr_names_annotation_and_owner() -> None:
    assert repr(TypeCodec(list[int], owner=OWNER)) == (
        "TypeCodec(list[int], owner='myapp.users.get_user', identity_decode=True)"
    )
