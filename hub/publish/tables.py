"""The publisher's own tables: made here on SQLite (in place, at its first start, as always), by
migration 4 on PostgreSQL (hub/store/postgres/schema.py), where this module issues no DDL.

- `publish_marks`, `publish_dirty`: what the publisher has seen and not yet published (`changes`).
- `publish_sent`: what went out of each period, for its revisions (`revisions`).
- `feed_periods`: the latest published payload of each store-hour and store-day, one column per payload
  field (`payload.FIELDS`, `withheld` as its JSON text): what the data team reads in SQL (the v_* views
  of PostgreSQL, docs/chain.md) is what the feed sent, withheld cells NULL alike.
"""

from __future__ import annotations

from hub.publish.payload import FIELDS
from hub.store.sql import Db

FEED = "feed_periods"
SQL_TYPES = {"integer": "INTEGER", "number": "REAL", "string": "TEXT", "array": "TEXT"}


def feed_columns() -> list[str]:
    """feed_periods' columns: the payload's fields, in order."""
    return [f.name for f in FIELDS]


_SQLITE_DDL = (
    "CREATE TABLE IF NOT EXISTS publish_marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS publish_dirty (org TEXT NOT NULL, store TEXT NOT NULL, day TEXT NOT NULL,"
    " hour INTEGER NOT NULL, first_touch REAL, last_touch REAL, PRIMARY KEY (org, store, day, hour))"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS publish_sent (org TEXT NOT NULL, store TEXT NOT NULL, day TEXT NOT NULL,"
    " hour INTEGER NOT NULL, payload TEXT NOT NULL, counts TEXT NOT NULL, revision INTEGER NOT NULL,"
    " corrected INTEGER NOT NULL, PRIMARY KEY (org, store, day, hour)) WITHOUT ROWID",
    f"CREATE TABLE IF NOT EXISTS {FEED} ("
    + ", ".join(f"{f.name} {SQL_TYPES[f.json_type]}{'' if f.nullable else ' NOT NULL'}" for f in FIELDS)
    + ", PRIMARY KEY (org, store, period, start_at)) WITHOUT ROWID",
)


def ensure_tables(db: Db) -> None:
    """SQLite: create what is missing (and the touch times of a publish_dirty from before they were
    kept). PostgreSQL: nothing (migration 4 made them; `serve` refuses a database behind it)."""
    if db.engine != "sqlite":
        return
    for ddl in _SQLITE_DDL:
        db.execute(ddl)
    columns = set(db.columns("publish_dirty"))
    for column in ("first_touch", "last_touch"):
        if column not in columns:
            db.execute(f"ALTER TABLE publish_dirty ADD COLUMN {column} REAL")
    have = set(db.columns(FEED))  # a payload field added later: its column, NULL in older rows
    for f in FIELDS:
        if f.name not in have:
            db.execute(f"ALTER TABLE {FEED} ADD COLUMN {f.name} {SQL_TYPES[f.json_type]}")
