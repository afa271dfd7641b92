"""What changed since the last look: new rows past a watermark per table, as (org, store, time span).

The writer appends record rows (rowid grows); a POS import, run by another process, adds an `imports`
row. So one watermark per table finds every late arrival, whoever wrote it, with no hook into the
writer beyond a wake-up. Watermarks live in `publish_marks`, saved in one transaction with the cells
found but not yet published (`publish_dirty`: hours still open or still settling, with when data first
and last touched them), so a restart neither skips nor redoes, and settles what was settling.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date

SLOT_S = 900  # times are floored to 15 min: every zone offset is a multiple of it, so no hour is lost

_DDL = (
    "CREATE TABLE IF NOT EXISTS publish_marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS publish_dirty (org TEXT NOT NULL, store TEXT NOT NULL, day TEXT NOT NULL,"
    " hour INTEGER NOT NULL, first_touch REAL, last_touch REAL, PRIMARY KEY (org, store, day, hour))"
    " WITHOUT ROWID",
)
Cell = tuple[str, str, date, int]  # org, store, local date, hour index (-1: the whole day)
Touched = tuple[float, float]  # when data first and last touched a dirty cell (epoch seconds)


@dataclass(frozen=True, slots=True)
class Touch:
    """Data of `store` between `first` and `last` (epoch seconds, included) changed; `day_only`: only
    the day's figure (an agent's day count), not its first hour."""

    org: str
    store: str
    first: int
    last: int
    day_only: bool = False


# table -> rows past the watermark, as (org, store, first, last, day_only); ?1 = old mark, ?2 = new mark
_QUERIES: dict[str, str] = {
    "periods": "SELECT DISTINCT org, store, start_epoch_s, start_epoch_s, period = 'day' FROM periods"
    " WHERE rowid > ?1 AND rowid <= ?2",
    "visits": f"SELECT DISTINCT org, store, started_epoch_s - started_epoch_s % {SLOT_S}, 0, 0 FROM visits"
    " WHERE rowid > ?1 AND rowid <= ?2",
    "doors": f"SELECT DISTINCT org, store, minute_epoch_s - minute_epoch_s % {SLOT_S}, 0, 0 FROM doors"
    " WHERE rowid > ?1 AND rowid <= ?2",
    # a device found static later changes the counts of every hour its visits span
    "device_flags": "SELECT DISTINCT v.org, v.store, v.started_epoch_s, v.ended_epoch_s, 0"
    " FROM device_flags f"
    " JOIN visits v ON v.store = f.store AND v.device_key = f.device_key AND v.key_window = f.key_window"
    " WHERE f.rowid > ?1 AND f.rowid <= ?2",
    # POS imports come from another process: the rows an import added, by the file's hash
    "imports": f"SELECT DISTINCT (SELECT org FROM batches b WHERE b.store = p.store LIMIT 1), p.store,"
    f" p.at_epoch_s - p.at_epoch_s % {SLOT_S}, 0, 0 FROM imports i"
    " JOIN pos_transactions p ON p.import_file_sha256 = i.sha256 WHERE i.rowid > ?1 AND i.rowid <= ?2",
}


def _max_rowid(conn: sqlite3.Connection, table: str) -> int:
    row = conn.execute(f"SELECT max(rowid) FROM {table}").fetchone()  # fixed table names from _QUERIES
    return int(row[0] or 0)


def load_state(conn: sqlite3.Connection) -> tuple[dict[str, int], dict[Cell, Touched]]:
    """The saved watermarks (named marks included) and dirty cells. A table never looked at starts at
    its current end: the publisher's first start republishes nothing from before it. A cell saved
    before touch times were kept counts as settled."""
    for ddl in _DDL:
        conn.execute(ddl)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(publish_dirty)")}
    for column in ("first_touch", "last_touch"):
        if column not in columns:
            conn.execute(f"ALTER TABLE publish_dirty ADD COLUMN {column} REAL")
    marks = {str(n): int(v) for n, v in conn.execute("SELECT name, value FROM publish_marks")}
    for table in _QUERIES:
        marks.setdefault(table, _max_rowid(conn, table))
    dirty = {(o, s, date.fromisoformat(d), int(h)): (float(f or 0.0), float(la or 0.0)) for o, s, d, h, f, la
             in conn.execute("SELECT org, store, day, hour, first_touch, last_touch FROM publish_dirty")}
    return marks, dirty


def save_state(conn: sqlite3.Connection, marks: dict[str, int], dirty: dict[Cell, Touched]) -> None:
    """Watermarks and the cells not yet published, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT INTO publish_marks (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            sorted(marks.items()),
        )
        conn.execute("DELETE FROM publish_dirty")
        conn.executemany(
            "INSERT INTO publish_dirty (org, store, day, hour, first_touch, last_touch)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            sorted((o, s, d.isoformat(), h, first, last) for (o, s, d, h), (first, last) in dirty.items()))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def scan(conn: sqlite3.Connection, marks: dict[str, int]) -> tuple[list[Touch], dict[str, int]]:
    """Every change past `marks`, and the marks after them. Rows without a known org are skipped
    (a POS import for a store no agent has reported from: there is no topic to publish it on)."""
    touches: list[Touch] = []
    new_marks = dict(marks)
    for table, sql in _QUERIES.items():
        top = _max_rowid(conn, table)
        if top <= marks[table]:
            continue
        for org, store, first, last, day_only in conn.execute(sql, (marks[table], top)):
            if org is not None:
                touches.append(Touch(org, store, int(first), max(int(first), int(last)), bool(day_only)))
        new_marks[table] = top
    return touches, new_marks
