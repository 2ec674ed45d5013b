"""SQLAlchemy engines with pool presets that hold under load, restarts and dead networks.

Needs ``pip install 'hardpoint[sqlalchemy]'`` to build engines; importing this package does not.

    from hardpoint.pool import create_async_engine

    engine = create_async_engine("postgresql+asyncpg://app@db/app", preset="web")
"""

from __future__ import annotations

from hardpoint.pool._budget import ConnectionBudget, check_connection_budget, size_pool
from hardpoint.pool._engine import create_async_engine, create_engine, engine_options
from hardpoint.pool._presets import PRESETS, PoolPreset

__all__ = [
    "PRESETS",
    "ConnectionBudget",
    "PoolPreset",
    "check_connection_budget",
    "create_async_engine",
    "create_engine",
    "engine_options",
    "size_pool",
]
