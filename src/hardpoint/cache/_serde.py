"""Cache entries as bytes: a versioned envelope around a codec's payload. Pure, no I/O.

Layout (little-endian), version 1::

    magic "hp" | version u8 | codec u8 | flags u8 | created_at f64 | soft_expires_at f64
    | compute_time f32 | tags_len u16 | tags (UTF-8, 0x1f-separated) | payload | [HMAC-SHA256]

*created_at* and *soft_expires_at* are wall-clock seconds (entries are shared between
processes); a soft expiry of 0 means "fresh until the backend drops it". The flags mark an
explicit ``None`` result and a signature. With a signing key every entry carries an
HMAC-SHA256 of everything before it, checked in constant time; pickle entries are only ever
loaded after that check passes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import pickle
import struct
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple, Protocol

from hardpoint._optional import requires_extra
from hardpoint.errors import ConfigurationError, SerializationError

if TYPE_CHECKING:
    from hardpoint.cache._typecodec import TypeCodec

__all__ = [
    "CODEC_NAMES",
    "Codec",
    "CorruptEntryError",
    "Entry",
    "JsonCodec",
    "MsgpackCodec",
    "PickleCodec",
    "Serializer",
    "make_codec",
]

_HEADER: Final = struct.Struct("<2sBBBddfH")
_HEADER_SIZE: Final = _HEADER.size
_UNPACK: Final = _HEADER.unpack_from
_MAGIC: Final = b"hp"
_VERSION: Final = 1
_FLAG_NONE: Final = 0x01
_FLAG_SIGNED: Final = 0x02
_SIG_LEN: Final = 32
_TAG_SEP: Final = "\x1f"

CodecName = Literal["json", "msgpack", "pickle"]
CODEC_NAMES: Final[tuple[CodecName, ...]] = ("json", "msgpack", "pickle")


class CorruptEntryError(SerializationError):
    """Stored bytes are not a valid entry, fail the signature check, or cannot be decoded."""


class Codec(Protocol):
    """Turns a function's return value into payload bytes and back."""

    id: int
    name: str

    def dumps(self, value: object, typecodec: TypeCodec) -> bytes:
        """Encode *value*; raise `SerializationError` when it cannot round-trip."""
        ...

    def loads(self, data: bytes, typecodec: TypeCodec) -> object:
        """Decode *data*; raise `SerializationError` when it does not fit."""
        ...


class JsonCodec:
    """JSON through orjson when installed, else the standard library (same bytes format)."""

    id = 1
    name = "json"

    def __init__(self) -> None:
        try:
            import orjson
        except ModuleNotFoundError:
            self._dumps: Callable[[Any], bytes] = _std_dumps
            self._loads: Callable[[Any], Any] = json.loads
        else:
            self._dumps = orjson.dumps
            self._loads = orjson.loads

    def dumps(self, value: object, typecodec: TypeCodec) -> bytes:
        """Encode *value* as JSON, typed by *typecodec*."""
        native = typecodec.to_native(value)
        try:
            data: bytes = self._dumps(native)
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"cannot encode as JSON: {exc}", codec="json") from exc
        return data

    @property
    def raw_loads(self) -> Callable[[Any], Any]:
        """The JSON parser itself (orjson's or the standard library's)."""
        return self._loads

    def loads(self, data: bytes, typecodec: TypeCodec) -> object:
        """Decode JSON *data* back to the annotated type."""
        try:
            native = self._loads(data)
        except ValueError as exc:  # orjson.JSONDecodeError and json's both subclass it
            raise SerializationError(f"invalid JSON payload: {exc}", codec="json") from exc
        return native if typecodec.identity_decode else typecodec.from_native(native)


def _std_dumps(native: object) -> bytes:
    return json.dumps(native, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode(
        "utf-8", "surrogatepass"
    )


class MsgpackCodec:
    """MessagePack. Needs ``pip install 'hardpoint[msgpack]'``."""

    id = 2
    name = "msgpack"

    def __init__(self) -> None:
        with requires_extra("msgpack", feature="the msgpack cache serializer"):
            import msgpack
        self._msgpack: Any = msgpack

    def dumps(self, value: object, typecodec: TypeCodec) -> bytes:
        """Encode *value* as MessagePack, typed by *typecodec*."""
        native = typecodec.to_native(value)
        try:
            data: bytes = self._msgpack.packb(native, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise SerializationError(f"cannot encode as msgpack: {exc}", codec="msgpack") from exc
        return data

    def loads(self, data: bytes, typecodec: TypeCodec) -> object:
        """Decode MessagePack *data* back to the annotated type."""
        try:
            native = self._msgpack.unpackb(data, raw=False, strict_map_key=True)
        except Exception as exc:  # msgpack raises several unrelated exception types
            raise SerializationError(f"invalid msgpack payload: {exc}", codec="msgpack") from exc
        return native if typecodec.identity_decode else typecodec.from_native(native)


class PickleCodec:
    """Pickle: any picklable value. Only ever used with a signing key (checked by `Serializer`)."""

    id = 3
    name = "pickle"

    def dumps(self, value: object, typecodec: TypeCodec) -> bytes:
        """Pickle *value* (protocol 5)."""
        try:
            return pickle.dumps(value, protocol=5)
        except Exception as exc:  # pickling raises PicklingError, TypeError, AttributeError...
            raise SerializationError(f"cannot pickle: {exc}", codec="pickle") from exc

    def loads(self, data: bytes, typecodec: TypeCodec) -> object:
        """Unpickle *data*; the caller has verified its HMAC signature first."""
        try:
            return pickle.loads(data)  # noqa: S301 - only reached after a constant-time HMAC check
        except Exception as exc:
            raise SerializationError(f"cannot unpickle: {exc}", codec="pickle") from exc


def make_codec(name: str) -> Codec:
    """Return the codec called *name* (``json``, ``msgpack`` or ``pickle``).

    Raises:
        ConfigurationError: Unknown name.
        MissingDependencyError: msgpack is not installed.
    """
    if name == "json":
        return JsonCodec()
    if name == "msgpack":
        return MsgpackCodec()
    if name == "pickle":
        return PickleCodec()
    raise ConfigurationError(
        f"unknown serializer {name!r}; choose one of {', '.join(CODEC_NAMES)}", field="serializer"
    )


class Entry(NamedTuple):
    """A decoded cache entry."""

    value: object
    created_at: float
    soft_expires_at: float
    compute_time: float
    tags: tuple[str, ...]
    is_none: bool


# Build entries with tuple.__new__ (C) rather than the generated Python __new__: it runs on
# every hit.
_new_entry: Callable[[type[Entry], tuple[Any, ...]], Entry] = tuple.__new__


class Serializer:
    """Packs values into signed or unsigned envelopes and unpacks them safely.

    Args:
        codec: Codec for new entries. Entries written by the other codecs stay readable.
        signing_key: Key for HMAC-SHA256 signatures (at least 32 bytes). With a key, every
            entry is signed and unsigned or tampered entries are refused. Pickle requires one.

    Raises:
        ConfigurationError: Pickle without a signing key, or a key shorter than 32 bytes.
    """

    __slots__ = ("_codecs", "_fast_codec_id", "_fast_loads", "_key", "codec")

    def __init__(self, codec: Codec, *, signing_key: bytes | None = None) -> None:
        if signing_key is not None and len(signing_key) < 32:
            raise ConfigurationError(
                "signing_key must be at least 32 bytes (generate one with secrets.token_bytes(32))",
                field="signing_key",
            )
        if codec.name == "pickle" and signing_key is None:
            raise ConfigurationError(
                "the pickle serializer needs a signing_key: unsigned pickle in a shared cache "
                "lets anyone who can write to Redis run code in your process",
                field="signing_key",
            )
        self.codec = codec
        self._key = signing_key
        self._codecs: dict[int, Codec] = {codec.id: codec}
        # Unsigned JSON entries are decoded inline by `loads` (see there).
        self._fast_codec_id = (
            codec.id if isinstance(codec, JsonCodec) and signing_key is None else -1
        )
        self._fast_loads: Callable[[Any], Any] = (
            codec.raw_loads if isinstance(codec, JsonCodec) else json.loads
        )

    def _codec_for(self, codec_id: int) -> Codec:
        codec = self._codecs.get(codec_id)
        if codec is None:
            try:
                if codec_id < 1:
                    raise IndexError(codec_id)
                codec = make_codec(CODEC_NAMES[codec_id - 1])
            # A codec we cannot build (msgpack not installed) makes its entries unreadable.
            except (IndexError, ImportError, ConfigurationError) as exc:
                raise CorruptEntryError(
                    f"entry uses codec id {codec_id}, which is not available", codec="envelope"
                ) from exc
            self._codecs[codec_id] = codec
        return codec

    def dumps(
        self,
        value: object,
        typecodec: TypeCodec,
        *,
        created_at: float,
        soft_expires_at: float,
        compute_time: float,
        tags: Sequence[str] = (),
    ) -> bytes:
        """Encode *value* in an envelope.

        Raises:
            SerializationError: The value cannot be encoded faithfully.
        """
        flags = 0
        if value is None:
            flags |= _FLAG_NONE
            payload = b""
        else:
            payload = self.codec.dumps(value, typecodec)
        tag_bytes = _TAG_SEP.join(tags).encode("utf-8", "surrogatepass") if tags else b""
        if len(tag_bytes) > 0xFFFF:
            raise SerializationError("tags take more than 65535 bytes", codec="envelope")
        if self._key is not None:
            flags |= _FLAG_SIGNED
        header = _HEADER.pack(
            _MAGIC,
            _VERSION,
            self.codec.id,
            flags,
            created_at,
            soft_expires_at,
            compute_time,
            len(tag_bytes),
        )
        data = b"".join((header, tag_bytes, payload))
        if self._key is not None:
            data += hmac.new(self._key, data, hashlib.sha256).digest()
        return data

    def loads(self, data: bytes, typecodec: TypeCodec) -> Entry:
        """Decode an envelope.

        Raises:
            CorruptEntryError: Not an entry, an unknown version, a missing or wrong
                signature, or an undecodable payload. The caller deletes such entries.
        """
        try:
            magic, version, codec_id, flags, created, soft, compute, tags_len = _UNPACK(data)
        except struct.error as exc:
            raise CorruptEntryError("not a hardpoint cache entry", codec="envelope") from exc
        if (
            flags == 0
            and codec_id == self._fast_codec_id
            and tags_len == 0
            and magic == _MAGIC
            and version == _VERSION
        ):
            # The hit path: an unsigned JSON entry without tags, decoded inline.
            try:
                native = self._fast_loads(data[_HEADER_SIZE:])
                if not typecodec.identity_decode:
                    native = typecodec.from_native(native)
            except (ValueError, SerializationError) as exc:
                raise CorruptEntryError(f"undecodable JSON entry: {exc}", codec="json") from exc
            return _new_entry(Entry, (native, created, soft, compute, (), False))
        if magic != _MAGIC:
            raise CorruptEntryError("not a hardpoint cache entry", codec="envelope")
        if version != _VERSION:
            raise CorruptEntryError(f"unknown entry version {version}", codec="envelope")
        end = len(data)
        signed = bool(flags & _FLAG_SIGNED)
        if self._key is not None:
            # Check the signature before trusting any other header field.
            if not signed or end < _HEADER.size + _SIG_LEN:
                raise CorruptEntryError("entry is not signed", codec="envelope")
            end -= _SIG_LEN
            expected = hmac.new(self._key, data[:end], hashlib.sha256).digest()
            if not hmac.compare_digest(expected, data[end:]):
                raise CorruptEntryError("entry signature does not match", codec="envelope")
        elif signed:
            end -= _SIG_LEN  # signed by a writer with a key we do not have; see pickle check
        start = _HEADER.size + tags_len
        if start > end:
            raise CorruptEntryError("entry is truncated", codec="envelope")
        codec = self.codec if codec_id == self.codec.id else self._codec_for(codec_id)
        if codec.name == "pickle" and self._key is None:
            raise CorruptEntryError("refusing to unpickle an unverified entry", codec="pickle")
        tags: tuple[str, ...] = ()
        if tags_len:
            try:
                tags = tuple(data[_HEADER.size : start].decode("utf-8").split(_TAG_SEP))
            except UnicodeDecodeError as exc:
                raise CorruptEntryError("entry tags are not UTF-8", codec="envelope") from exc
        if flags & _FLAG_NONE:
            value: object = None
        else:
            try:
                value = codec.loads(data[start:end], typecodec)
            except SerializationError as exc:
                raise CorruptEntryError(str(exc), codec=codec.name) from exc
        return _new_entry(Entry, (value, created, soft, compute, tags, bool(flags & _FLAG_NONE)))
