"""Pool classes that report checkout waits and timeouts as `hardpoint.events`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hardpoint.events import SINK, PoolCheckout, PoolTimeout

if TYPE_CHECKING:
    from sqlalchemy.pool import Pool

__all__ = ["instrumented_pool_class"]


_CLASSES: dict[tuple[type[Pool], str], type[Pool]] = {}


def instrumented_pool_class(base: type[Pool], label: str) -> type[Pool]:
    """Return a subclass of *base* whose checkouts emit `PoolCheckout` / `PoolTimeout`.

    *label* names the pool in the events (the preset's application name); one class per
    label, so it survives the pool being re-created.

    A subclass rather than event listeners: SQLAlchemy has no event around the wait for a
    free connection, and a pool re-created by ``engine.dispose()`` keeps its class. With no
    event subscriber the only cost is one attribute check per checkout.
    """
    cached = _CLASSES.get((base, label))
    if cached is not None:
        return cached
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    class Instrumented(base):  # type: ignore[valid-type, misc]  # a class made at run time
        hardpoint_label = label

        def _do_get(self) -> Any:
            if not SINK.active:
                return super()._do_get()
            start = time.perf_counter()
            try:
                record = super()._do_get()
            except PoolTimeoutError:
                SINK.emit(PoolTimeout(pool=self.hardpoint_label, wait=time.perf_counter() - start))
                raise
            SINK.emit(
                PoolCheckout(
                    pool=self.hardpoint_label,
                    wait=time.perf_counter() - start,
                    in_use=self.checkedout(),
                    size=_capacity(self),
                )
            )
            return record

    Instrumented.__name__ = Instrumented.__qualname__ = f"Instrumented{base.__name__}"
    return _CLASSES.setdefault((base, label), Instrumented)


def _capacity(pool: Any) -> int | None:
    """Pool size plus overflow: the most connections a queue pool hands out at once."""
    overflow = getattr(pool, "_max_overflow", -1)
    return None if overflow < 0 else int(pool.size()) + int(overflow)
