"""Opt-outs that erase (issue 18): the hub deletes the visits an agent names in an `erase` record.

Only the gateway can compute an opted-out device's visit key of the current window (it holds the window
key and hears the MAC); it sends the key, and the hub deletes that device's visits and static flags of
that window, in the same transaction that stores the record. A visit that arrives after its erase (a
batch that was in flight) is deleted as it is stored. The `erasures` table keeps the erased keys: visit
keys of one window, which link nothing once the gateway's window key is gone.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.store.rows import RECORD_TABLES

_VISITS = list(RECORD_TABLES["visit"].columns)
_ERASES = list(RECORD_TABLES["erase"].columns)
_V_STORE, _V_KEY, _V_WINDOW = (_VISITS.index(c) for c in ("store", "device_key", "key_window"))
_V_STARTED = _VISITS.index("started_epoch_s")
_E_STORE, _E_KEY, _E_WINDOW = (_ERASES.index(c) for c in ("store", "device_key", "key_window"))
MAX_WINDOW_DAYS = 30


def _span(window_id: str) -> tuple[int, int]:
    """UTC epoch seconds that surely hold every visit start of a key window (its first local date, in
    any time zone, through the longest window)."""
    try:
        first = date.fromisoformat(window_id)
    except ValueError:
        return 0, 2**62
    start = datetime(first.year, first.month, first.day, tzinfo=UTC) - timedelta(days=1)
    return int(start.timestamp()), int((start + timedelta(days=MAX_WINDOW_DAYS + 2)).timestamp())


def apply_erasures(cur: sqlite3.Cursor | Any, new_rows: dict[str, list[tuple[Any, ...]]],
                   mark: str = "?") -> int:
    """Delete the visits and flags the group's erase records name, and the group's new visits of keys
    erased before; how many rows went. `mark` is the driver's placeholder (`%s` for psycopg): the one
    rule serves SQLite and PostgreSQL."""
    gone = 0

    def execute(sql: str, params: tuple[Any, ...] = ()) -> Any:
        return cur.execute(sql if mark == "?" else sql.replace("?", mark), params)

    for row in new_rows.get("erase", ()):
        store, key, window = row[_E_STORE], row[_E_KEY], row[_E_WINDOW]
        lo, hi = _span(window)
        execute("DELETE FROM visits WHERE store = ? AND started_epoch_s BETWEEN ? AND ?"
                    " AND device_key = ? AND key_window = ?", (store, lo, hi, key, window))
        gone += cur.rowcount
        execute("DELETE FROM device_flags WHERE store = ? AND device_key = ? AND key_window = ?",
                    (store, key, window))
        gone += cur.rowcount
    visits = [v for v in new_rows.get("visit", ()) if v[_V_KEY] is not None]
    if visits and execute("SELECT 1 FROM erasures LIMIT 1").fetchone() is not None:
        for v in visits:
            if execute("SELECT 1 FROM erasures WHERE store = ? AND device_key = ? AND key_window = ?",
                           (v[_V_STORE], v[_V_KEY], v[_V_WINDOW])).fetchone():
                execute("DELETE FROM visits WHERE store = ? AND started_epoch_s = ? AND device_key = ?",
                            (v[_V_STORE], v[_V_STARTED], v[_V_KEY]))
                gone += cur.rowcount
    return gone
