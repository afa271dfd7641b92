"""The feed kept in the database: each period's latest published payload in `feed_periods`.

The data team's SQL access (PostgreSQL: the v_* views of migration 4, docs/chain.md) reads this
table, never the raw records: a figure there is the very value the feed sent, and a cell the feed
withholds (k-suppression, complementary suppression, hub.suppress) is NULL there too, because it is
NULL in the payload. One row per (org, store, period, start_at): a correction or a sales update
replaces the row, as it replaces the retained message for a subscriber with a persistent session.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from hub.publish.tables import FEED, feed_columns
from hub.store.sql import Db

_KEY = ("org", "store", "period", "start_at")


def _upsert_sql() -> str:
    cols = feed_columns()
    updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in _KEY)
    return (f"INSERT INTO {FEED} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
            f" ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET {updates}")


UPSERT = _upsert_sql()


def row(payload: dict[str, Any]) -> tuple[Any, ...]:
    """A payload as a feed_periods row: its values in column order, `withheld` as compact JSON."""
    return tuple(json.dumps(payload[c], separators=(",", ":")) if c == "withheld" else payload[c]
                 for c in feed_columns())


def record(db: Db, payloads: Sequence[dict[str, Any]]) -> None:
    """Keep what was just published (in the caller's transaction)."""
    if payloads:
        db.executemany(UPSERT, [row(p) for p in payloads])
