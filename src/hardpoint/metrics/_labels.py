"""Label values with a bound: every exporter maps event fields to labels through here.

A Prometheus series exists for every distinct label set ever seen, so a label fed from
request data (a cache key, a client address, a field path) grows without limit and takes the
server down. The rules, one per label:

- closed sets (``result``, ``mode``, ``kind``) come from ``Literal`` fields or are mapped
  onto a fixed tuple here;
- names the host configures in code (cache prefix, backend, LLM model, validation rule,
  secret name, pool name, breaker name, error class) keep their value, but only the first
  *limit* distinct values per label and process do; later ones become ``other``;
- the validation *location* is reduced to its kind (``query``, ``body``, ...), dropping
  field names and indices;
- client addresses are labels only when the host opts in, for at most *top* addresses
  (`ClientSlots`).

No event carries a secret value, a cache key or a request body, so none can reach a label.
"""

from __future__ import annotations

import re
import threading
from typing import Final

__all__ = [
    "LOCATION_KINDS",
    "OTHER",
    "UNKNOWN",
    "CappedLabel",
    "ClientSlots",
    "LabelPolicy",
    "location_kind",
]

OTHER: Final = "other"
"""The label value for everything past a label's cap."""

UNKNOWN: Final = "unknown"
"""The client label value when the middleware could not tell the address."""

MAX_LABEL_LENGTH: Final = 100
"""Longer configured names are cut to this many characters."""

LOCATION_KINDS: Final = frozenset(
    {"query", "path", "header", "cookie", "body", "json", "form", "multipart", "url", "method"}
)
"""The values of the ``location`` label (plus ``other``)."""

_LOCATION_ALIASES: Final = {
    "headers": "header",
    "cookies": "cookie",
    "params": "query",
    "root": "body",  # a JSON body's fields: root.title, root[0]
}
_LEADING_WORD: Final = re.compile(r"[a-z_]+")


def location_kind(location: str) -> str:
    """Reduce a validation location such as ``"query.q"`` or ``"body[3].title"`` to its kind.

    Args:
        location: The ``RequestBlocked.location`` field.

    Returns:
        One of `LOCATION_KINDS`, or ``"other"``.
    """
    match = _LEADING_WORD.match(location.strip().lower())
    if match is None:
        return OTHER
    word = match.group()
    word = _LOCATION_ALIASES.get(word, word)
    return word if word in LOCATION_KINDS else OTHER


class CappedLabel:
    """Pass through the first *limit* distinct values; map every later one to ``other``.

    The mapping is per process; with N worker processes a label has at most N x *limit*
    values (in practice the same few everywhere).
    """

    __slots__ = ("_limit", "_lock", "_values")

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        known = self._values.get(value)
        if known is not None:
            return known
        with self._lock:
            if value in self._values:
                return self._values[value]
            if len(self._values) >= self._limit:
                return OTHER
            label = value[:MAX_LABEL_LENGTH] or UNKNOWN
            self._values[value] = label
            return label

    def __len__(self) -> int:
        return len(self._values)


class ClientSlots:
    """Per-client labels for blocked requests: at most *top* addresses, the rest ``other``.

    An address gets its own label once it has surely been blocked *min_blocks* times; its
    earlier blocks were counted as ``other``, so the labels still sum to the total. Until
    the *top* slots are taken, repeat counts are kept in a Space-Saving table of
    ``max(64, 8 * top)`` entries, so memory stays bounded whatever the number of distinct
    addresses; an address that makes more than 1/64 of the blocks is always found. A slot
    is held until the process restarts: prometheus_client cannot delete a series in
    multiprocess mode.
    """

    __slots__ = ("_capacity", "_counts", "_lock", "_min_blocks", "_named", "_top")

    def __init__(self, top: int, *, min_blocks: int = 1) -> None:
        self._top = top
        self._min_blocks = max(1, min_blocks)
        self._capacity = max(64, 8 * top)
        self._named: set[str] = set()
        self._counts: dict[str, tuple[int, int]] = {}  # address -> (count, overestimate)
        self._lock = threading.Lock()

    def __call__(self, client: str | None) -> str:
        if client is None or not client:
            return UNKNOWN
        if client in self._named:
            return client
        if len(self._named) >= self._top:
            return OTHER
        with self._lock:
            return self._count(client[:MAX_LABEL_LENGTH])

    def _count(self, client: str) -> str:
        if client in self._named:
            return client
        if len(self._named) >= self._top:
            self._counts.clear()
            return OTHER
        counts = self._counts
        if client in counts:
            count, error = counts[client]
            counts[client] = (count + 1, error)
        elif len(counts) < self._capacity:
            counts[client] = (1, 0)
        else:
            # Space-Saving: the newcomer takes the smallest entry's place and inherits its
            # count as possible error, so a flood of one-off addresses promotes nobody.
            smallest = min(counts, key=lambda c: counts[c][0])
            floor = counts.pop(smallest)[0]
            counts[client] = (floor + 1, floor)
        count, error = counts[client]
        if count - error >= self._min_blocks:  # a guaranteed count, not an estimate
            del counts[client]
            self._named.add(client)
            return client
        return OTHER

    @property
    def named(self) -> frozenset[str]:
        """The addresses that have their own label."""
        return frozenset(self._named)


class LabelPolicy:
    """The bounded label mapping that one exporter uses for every event.

    Args:
        limit: Distinct values kept per configured-name label; later values are ``other``.
        per_client: Addresses with their own label on the per-client metric; 0 disables it.
        client_min_blocks: Blocks before an address gets one of the *per_client* labels.
    """

    def __init__(self, *, limit: int, per_client: int, client_min_blocks: int) -> None:
        self.prefix = CappedLabel(limit)
        self.backend = CappedLabel(limit)
        self.operation = CappedLabel(limit)
        self.model = CappedLabel(limit)
        self.rule = CappedLabel(limit)
        self.secret = CappedLabel(limit)
        self.error = CappedLabel(limit)
        self.pool = CappedLabel(limit)
        self.breaker = CappedLabel(limit)
        self.per_client = per_client
        self.client = ClientSlots(per_client, min_blocks=client_min_blocks)
