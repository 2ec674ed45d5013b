"""Decoded-entry memo: a hit on bytes seen before copies the decoded value instead of parsing.

Every hit used to parse the stored bytes again, so that no two callers share a mutable
object. Parsing is most of a memory hit and a good part of a Redis hit. Yet a hot key returns
the same bytes again and again: the memo keeps, per key, the last bytes it decoded and a
private decoded copy (the *master*, never handed out). When a backend returns bytes equal to
those (one length check and a memcmp), the caller gets a fresh copy of the master made by a
copy plan built once: new dicts and lists all the way down, immutable leaves shared. That is
exactly what parsing would have returned, at a fraction of the cost.

Values the plan cannot copy faithfully (dataclasses, pydantic models, sets, anything that is
not plain dicts, lists and immutable leaves) are parsed on every hit as before. The memo is
process-wide and bounded in entries and bytes; it holds nothing a backend does not also hold,
and it never answers by itself: the backend's bytes decide every hit.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from hardpoint.cache._serde import Entry, Serializer
from hardpoint.cache._typecodec import TypeCodec

__all__ = ["DecodedMemo", "copy_plan"]

Copier = Callable[[Any], Any]
_Item = tuple[bytes, "Serializer", "TypeCodec", Entry, Copier | None]

# Leaves that are immutable, so a copy may share them. (Enum members are singletons: decoding
# returns the very same member anyway.)
_LEAVES: Final[frozenset[type]] = frozenset(
    {
        str,
        int,
        float,
        bool,
        type(None),
        bytes,
        Decimal,
        uuid.UUID,
        datetime.datetime,
        datetime.date,
        datetime.time,
        datetime.timedelta,
    }
)
# Plans with more containers than this are not built: the value is parsed on every hit.
_MAX_CONTAINERS: Final = 512


def _share(value: Any) -> Any:
    return value


class _TooBig(Exception):
    pass


def copy_plan(value: object) -> Copier | None:
    """Return a function that deep-copies values shaped like *value*, or None.

    The function is only valid for *value* itself (it may rely on positions and keys), which is
    how the memo uses it. None when *value* holds something other than dicts with immutable
    keys, lists, tuples, named tuples, frozensets and frozen dataclasses of immutable items, and
    the immutable leaves above.
    """
    try:
        return _plan(value, [_MAX_CONTAINERS])
    except _TooBig:
        return None


def _plan(value: object, budget: list[int]) -> Copier | None:
    kind = type(value)
    if kind in _LEAVES or isinstance(value, enum.Enum):
        return _share
    if kind is tuple or kind is frozenset or (issubclass(kind, tuple) and hasattr(kind, "_fields")):
        for item in value:  # type: ignore[attr-defined]
            if _plan(item, budget) is not _share:
                return None
        return _share
    if dataclasses.is_dataclass(value) and kind.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        # A frozen dataclass of immutable fields is immutable itself.
        for field in dataclasses.fields(value):
            if _plan(getattr(value, field.name), budget) is not _share:
                return None
        return _share
    if kind is not dict and kind is not list:
        return None
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig
    if kind is list:
        items: list[Any] = value  # type: ignore[assignment]
        plans: list[Copier] = []
        for item in items:
            plan = _plan(item, budget)
            if plan is None:
                return None
            plans.append(plan)
        nested = [i for i, plan in enumerate(plans) if plan is not _share]
        if not nested:
            return list.copy
        if len(nested) == len(plans) and all(p is dict.copy for p in plans):
            return _copy_list_of_flat_dicts
        return _list_copier(tuple((i, plans[i]) for i in nested))
    mapping: dict[Any, Any] = value  # type: ignore[assignment]
    children: list[tuple[Any, Copier]] = []
    for key, item in mapping.items():
        if type(key) not in _LEAVES:
            return None
        plan = _plan(item, budget)
        if plan is None:
            return None
        if plan is not _share:
            children.append((key, plan))
    if not children:
        return dict.copy
    return _dict_copier(tuple(children))


def _copy_list_of_flat_dicts(items: list[dict[Any, Any]]) -> list[dict[Any, Any]]:
    return [item.copy() for item in items]


# Closures rather than classes with __call__: calling one is faster, and this runs on every hit.
def _dict_copier(children: tuple[tuple[Any, Copier], ...]) -> Copier:
    """Copy a dict, then replace its container values by their own copies."""

    def copy(value: dict[Any, Any]) -> dict[Any, Any]:
        out = value.copy()
        for key, plan in children:
            out[key] = plan(value[key])
        return out

    return copy


def _list_copier(children: tuple[tuple[int, Copier], ...]) -> Copier:
    """Copy a list, then replace its container items by their own copies."""

    def copy(value: list[Any]) -> list[Any]:
        out = value.copy()
        for index, plan in children:
            out[index] = plan(value[index])
        return out

    return copy


class DecodedMemo:
    """Per key: the last bytes decoded, by which serializer and type codec, and a master copy.

    Args:
        max_entries: Keys remembered; the oldest is forgotten first.
        max_bytes: Stored bytes remembered in all (the decoded copies take 5-7 times more:
            4 MiB of JSON is a few tens of MB of Python objects).
        max_entry_bytes: Larger entries are parsed on every hit.
    """

    __slots__ = ("_bytes", "_items", "_lock", "max_bytes", "max_entries", "max_entry_bytes")

    def __init__(
        self,
        *,
        max_entries: int = 4096,
        max_bytes: int = 4 * 1024 * 1024,
        max_entry_bytes: int = 64 * 1024,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        # key -> (bytes, serializer, type codec, entry holding the master value, copier or
        # None when the value is parsed on every hit)
        # An OrderedDict: popping the oldest of a plain dict again and again makes
        # next(iter()) crawl over the holes left at its front.
        self._items: OrderedDict[str, _Item] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> _Item | None:
        """Return what is remembered for *key* (the caller compares the bytes)."""
        return self._items.get(key)

    def remember(
        self, key: str, data: bytes, serializer: Serializer, typecodec: TypeCodec, entry: Entry
    ) -> None:
        """Remember *entry*, just decoded from *data*, if its value can be copied by a plan.

        The caller keeps *entry*'s value; the memo keeps a copy of its own.
        """
        size = len(data)
        if size > self.max_entry_bytes:
            return
        plan = copy_plan(entry.value)
        # A value without a plan is remembered too, so the next hit does not try again.
        master = entry if plan is None else entry._replace(value=plan(entry.value))
        with self._lock:
            items = self._items
            old = items.pop(key, None)
            if old is not None:
                self._bytes -= len(old[0])
            while items and (len(items) >= self.max_entries or self._bytes + size > self.max_bytes):
                self._bytes -= len(items.popitem(last=False)[1][0])
            items[key] = (data, serializer, typecodec, master, plan)
            self._bytes += size

    def forget(self, key: str) -> None:
        """Drop *key* (after a delete, so the bytes it holds can be freed)."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= len(old[0])

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0


MEMO: Final = DecodedMemo()
