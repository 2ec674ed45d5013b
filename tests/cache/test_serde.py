from __future__ import annotations

import contextlib
import datetime as dt
import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardpoint.cache._serde import (
    CorruptEntryError,
    JsonCodec,
    MsgpackCodec,
    PickleCodec,
    Serializer,
    make_codec,
)
from hardpoint.cache._typecodec import TypeCodec
from hardpoint.errors import ConfigurationError

KEY = b"k" * 32
ANY = TypeCodec(Any, owner="test")


def pack(serializer: Serializer, value: object, codec: TypeCodec = ANY, **kw: Any) -> bytes:
    return serializer.dumps(
        value,
        codec,
        created_at=kw.get("created_at", 100.0),
        soft_expires_at=kw.get("soft", 160.0),
        compute_time=kw.get("compute", 0.25),
        tags=kw.get("tags", ()),
    )


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=15,
)


@pytest.mark.parametrize("codec_name", ["json", "msgpack"])
@given(value=json_values, tags=st.lists(st.text(alphabet="abc:{}0123", min_size=1), max_size=3))
def test_envelope_round_trips_values_and_metadata(
    codec_name: str, value: object, tags: list[str]
) -> None:
    serializer = Serializer(make_codec(codec_name))
    entry = serializer.loads(pack(serializer, value, tags=tuple(tags)), ANY)
    assert entry.value == value
    assert (entry.created_at, entry.soft_expires_at) == (100.0, 160.0)
    assert entry.compute_time == pytest.approx(0.25)
    assert entry.tags == tuple(tags)
    assert entry.is_none is (value is None)


@given(st.binary(max_size=64))
def test_loads_is_total_on_garbage(data: bytes) -> None:
    serializer = Serializer(JsonCodec())
    with contextlib.suppress(CorruptEntryError):
        serializer.loads(data, ANY)


def test_entries_from_one_codec_stay_readable_after_switching() -> None:
    old = pack(Serializer(MsgpackCodec()), {"a": 1})
    assert Serializer(JsonCodec()).loads(old, ANY).value == {"a": 1}


def test_signed_entries_detect_tampering_and_missing_signatures() -> None:
    signed = Serializer(JsonCodec(), signing_key=KEY)
    data = pack(signed, {"a": 1})
    assert signed.loads(data, ANY).value == {"a": 1}
    tampered = data[:-40] + bytes([data[-40] ^ 1]) + data[-39:]
    with pytest.raises(CorruptEntryError, match="signature"):
        signed.loads(tampered, ANY)
    unsigned = pack(Serializer(JsonCodec()), {"a": 1})
    with pytest.raises(CorruptEntryError, match="not signed"):
        signed.loads(unsigned, ANY)
    other_key = Serializer(JsonCodec(), signing_key=b"x" * 32)
    with pytest.raises(CorruptEntryError):
        other_key.loads(data, ANY)


class Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("pwned",))


def test_pickle_is_never_loaded_without_a_valid_signature() -> None:
    header = pack(Serializer(PickleCodec(), signing_key=KEY), 1)
    # A forged pickle entry: right header, codec 3, no signature.
    forged = header[:27] + pickle.dumps(Boom())
    with pytest.raises(CorruptEntryError):
        Serializer(JsonCodec()).loads(forged, ANY)
    with pytest.raises(CorruptEntryError):
        Serializer(PickleCodec(), signing_key=KEY).loads(forged, ANY)


def test_pickle_round_trips_any_picklable_value_when_signed() -> None:
    serializer = Serializer(PickleCodec(), signing_key=KEY)
    value = {"when": dt.datetime(2026, 1, 1), "set": {1, 2}, "tuple": (1, 2)}
    assert serializer.loads(pack(serializer, value), ANY).value == value


def test_serializer_configuration_errors() -> None:
    with pytest.raises(ConfigurationError) as exc:
        Serializer(PickleCodec())
    assert exc.value.field == "signing_key"
    with pytest.raises(ConfigurationError) as exc:
        Serializer(JsonCodec(), signing_key=b"short")
    assert exc.value.field == "signing_key"


def test_none_is_marked_explicitly() -> None:
    serializer = Serializer(JsonCodec())
    entry = serializer.loads(pack(serializer, None), ANY)
    assert entry.is_none
    assert entry.value is None


def test_unknown_version_or_codec_is_corrupt() -> None:
    serializer = Serializer(JsonCodec())
    data = bytearray(pack(serializer, 1))
    data[2] = 99  # version
    with pytest.raises(CorruptEntryError, match="version"):
        serializer.loads(bytes(data), ANY)
    data = bytearray(pack(serializer, 1))
    data[3] = 42  # codec id
    with pytest.raises(CorruptEntryError, match="codec"):
        serializer.loads(bytes(data), ANY)
