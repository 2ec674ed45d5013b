"""Index aid: suggest indexes for foreign keys, list slow statements, estimate gains.

Suggests, never creates: no index and no extension is ever made. Needs
``pip install 'hardpoint[sqlalchemy]'`` to run the checks; importing this module does not.

    from hardpoint.pool.indexes import check_database, format_report

    text = format_report(check_database("postgresql://app@db/app"))
"""

from __future__ import annotations

from hardpoint.pool._indexes import (
    IndexAdvice,
    Report,
    SlowStatement,
    check_database,
    estimate_gain,
    format_report,
    slow_statements,
    unindexed_foreign_keys,
    unindexed_foreign_keys_live,
)

__all__ = [
    "IndexAdvice",
    "Report",
    "SlowStatement",
    "check_database",
    "estimate_gain",
    "format_report",
    "slow_statements",
    "unindexed_foreign_keys",
    "unindexed_foreign_keys_live",
]
