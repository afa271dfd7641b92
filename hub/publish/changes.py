"""What changed since the last look, as (org, store, time span), whoever wrote it.

Rows that change a store's figures come from the writer (records) and from imports run by another
process (POS). `TOUCHES` says, once, what span of which store each new row touches; the two engines
find the new rows differently:

- SQLite: one writer at a time, so rowids grow in commit order and one watermark per table finds
  every late arrival with no hook into the writer beyond a wake-up.
- PostgreSQL: several workers commit concurrently, so a sequence is not in commit order (a row with a
  lower id can commit after a higher one was read: a watermark would skip it). Triggers of migration 4
  run `TOUCHES` on each statement's new rows and add them to `publish_changes` in the writer's own
  transaction: the marks are in the database, committed with the data, whichever worker wrote it.
  The publisher (the leader only) reads them and deletes exactly the rows it read when it saves.

Watermarks (and named marks) live in `publish_marks`, saved in one transaction with the cells found but
not yet published (`publish_dirty`: hours still open or still settling, with when data first and last
touched them) and with the deletion of the consumed `publish_changes` rows, so a restart neither skips
nor redoes, and settles what was settling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hub.publish.tables import ensure_tables
from hub.store.sql import Db

SLOT_S = 900  # times are floored to 15 min: every zone offset is a multiple of it, so no hour is lost

Cell = tuple[str, str, date, int]  # org, store, local date, hour index (-1: the whole day)
Touched = tuple[float, float]  # when data first and last touched a dirty cell (epoch seconds)
LOG = "publish_changes"  # PostgreSQL: the trigger-fed table of changes (publish_marks notes it was started)


@dataclass(frozen=True, slots=True)
class Touch:
    """Data of `store` between `first` and `last` (epoch seconds, included) changed; `day_only`: only
    the day's figure (an agent's day count), not its first hour."""

    org: str
    store: str
    first: int
    last: int
    day_only: bool = False


@dataclass
class State:
    """What the publisher has seen: watermarks and named marks, the dirty cells, and (PostgreSQL) the
    ids of `publish_changes` rows read but not yet deleted."""

    marks: dict[str, int]
    dirty: dict[Cell, Touched]
    consumed: set[int] = field(default_factory=set)


# table -> (org, store, first, last, day_only) of its new rows `{new}`: the one definition both engines use
# (SQLite: the rows past a watermark; PostgreSQL: a trigger's transition table, migration 4).
TOUCHES: dict[str, str] = {
    "periods": "SELECT DISTINCT n.org, n.store, n.start_epoch_s, n.start_epoch_s,"
    " CASE WHEN n.period = 'day' THEN 1 ELSE 0 END FROM {new} n",
    "visits": f"SELECT DISTINCT n.org, n.store, n.started_epoch_s - n.started_epoch_s % {SLOT_S}, 0, 0"
    " FROM {new} n",
    "doors": f"SELECT DISTINCT n.org, n.store, n.minute_epoch_s - n.minute_epoch_s % {SLOT_S}, 0, 0"
    " FROM {new} n",
    # a device found static later changes the counts of every hour its visits span
    "device_flags": "SELECT DISTINCT v.org, v.store, v.started_epoch_s, v.ended_epoch_s, 0 FROM {new} f"
    " JOIN visits v ON v.store = f.store AND v.device_key = f.device_key AND v.key_window = f.key_window",
    # POS imports come from another process: the rows an import added or changed, by the file's hash
    "imports": "SELECT DISTINCT (SELECT org FROM batches b WHERE b.store = p.store LIMIT 1), p.store,"
    f" p.at_epoch_s - p.at_epoch_s % {SLOT_S}, 0, 0 FROM {{new}} i"
    " JOIN pos_transactions p ON p.import_file_sha256 = i.sha256",
}


def touch_sql(table: str, new: str) -> str:
    """TOUCHES[table] over the relation `new` (a subquery or a transition table's name)."""
    return TOUCHES[table].replace("{new}", new)


def _past_mark(table: str) -> str:
    return f"(SELECT * FROM {table} WHERE rowid > ? AND rowid <= ?)"  # SQLite only; names from TOUCHES


def _max_rowid(db: Db, table: str) -> int:
    row = db.execute(f"SELECT max(rowid) FROM {table}").fetchone()  # fixed table names from TOUCHES
    return int(row[0] or 0)


def load_state(db: Db) -> State:
    """The saved marks and dirty cells. A table never looked at starts at its current end (on
    PostgreSQL: changes logged before the first start are dropped): the publisher's first start
    republishes nothing from before it. A cell saved before touch times were kept counts as settled."""
    ensure_tables(db)
    marks = {str(n): int(v) for n, v in db.execute("SELECT name, value FROM publish_marks")}
    if db.engine == "postgresql":
        if LOG not in marks:
            with db.transaction():
                db.execute(f"DELETE FROM {LOG}")
                db.execute("INSERT INTO publish_marks (name, value) VALUES (?, 1)"
                           " ON CONFLICT (name) DO NOTHING", (LOG,))
            marks[LOG] = 1
    else:
        for table in TOUCHES:
            marks.setdefault(table, _max_rowid(db, table))
    dirty = {(o, s, date.fromisoformat(d), int(h)): (float(f or 0.0), float(la or 0.0)) for o, s, d, h, f, la
             in db.execute("SELECT org, store, day, hour, first_touch, last_touch FROM publish_dirty")}
    return State(marks, dirty)


def save_state(db: Db, state: State) -> None:
    """Marks, the cells not yet published and the deletion of the changes read, in one transaction."""
    with db.transaction(immediate=True):
        db.executemany(
            "INSERT INTO publish_marks (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            sorted(state.marks.items()),
        )
        db.execute("DELETE FROM publish_dirty")
        db.executemany(
            "INSERT INTO publish_dirty (org, store, day, hour, first_touch, last_touch)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            sorted((o, s, d.isoformat(), h, first, last) for (o, s, d, h), (first, last)
                   in state.dirty.items()))
        if state.consumed:  # exactly the rows read: one committed meanwhile with a lower id stays
            db.execute(f"DELETE FROM {LOG} WHERE id = ANY(?)", (sorted(state.consumed),))
    state.consumed = set()


def scan(db: Db, state: State) -> list[Touch]:
    """Every change since the last scan (`state`'s marks or consumed rows move on). Rows without a
    known org are skipped (a POS import for a store no agent has reported from: there is no topic to
    publish it on)."""
    rows: list[tuple[Any, ...]] = []
    if db.engine == "postgresql":
        read: set[int] = set()
        for change_id, *row in db.execute(
                f"SELECT id, org, store, first_epoch_s, last_epoch_s, day_only FROM {LOG} ORDER BY id"):
            if int(change_id) not in state.consumed:
                read.add(int(change_id))
                rows.append(tuple(row))
        state.consumed |= read  # only once every row is read: a failure above consumes nothing
    else:
        marks = dict(state.marks)
        for table in TOUCHES:
            top = _max_rowid(db, table)
            if top <= marks[table]:
                continue
            rows += db.execute(touch_sql(table, _past_mark(table)), (marks[table], top)).fetchall()
            marks[table] = top
        state.marks.update(marks)
    return [Touch(str(org), str(store), int(first), max(int(first), int(last or first)), bool(day_only))
            for org, store, first, last, day_only in rows if org is not None]
