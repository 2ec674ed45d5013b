"""Build engines from pool presets; runs offline on SQLite.

Run it with ``python examples/pool_sqlite.py``. With PostgreSQL, pass a
``postgresql+asyncpg://`` or ``postgresql+psycopg://`` URL and the same presets apply their
timeouts, keepalives and (for ``pgbouncer``) prepared-statement settings.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import text

from hardpoint.pool import check_connection_budget, create_engine, engine_options, size_pool


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'app.db'}"
        engine = create_engine(url, preset="web")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO t VALUES (1), (2)"))
            print("rows:", conn.execute(text("SELECT count(*) FROM t")).scalar())
        engine.dispose()
    options = engine_options("postgresql+asyncpg://app@db/app", "web")
    print("web preset for asyncpg:", sorted(options))
    print(
        "wait-bound pool for 200 req/s x 20 ms:",
        size_pool(kind="wait", rate_per_s=200, hold_time_s=0.02),
    )
    budget = check_connection_budget((10, 5), processes=4, max_connections=100)
    print("budget:", budget)


if __name__ == "__main__":
    main()
