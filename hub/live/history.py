"""What the live view reads from the database: today's rows at start, earlier weeks, POS sales so far.

Read-only, on its own connection, each query on an indexed (store, time) range. Baselines and sales
are cached for a short while per store: a page refreshing every second does not re-run them.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hub.live.state import LiveState, day_start_of, hour_start_of, weeks_back
from hub.store.rows import RECORD_TABLES

WEEKS = 4
CACHE_S = 15.0


class History:
    """SQL for the live view; used by one thread at a time (it owns a connection)."""

    def __init__(self, db_path: str | Path, timezone_of: Any, loyalty_days: Any) -> None:
        self.conn = sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True, timeout=30,
                                    check_same_thread=False)
        self._tz_of, self._loyalty_days = timezone_of, loyalty_days
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    def close(self) -> None:
        self.conn.close()

    def load_today(self, state: LiveState, now: float) -> None:
        """Feed `state` every presence and door row of each store's current local day."""
        for rtype in ("presence", "door"):
            spec = RECORD_TABLES[rtype]
            time_col = f"{spec.time_fields[0][:-3]}_epoch_s"
            cols = ", ".join(spec.columns)
            stores = [str(s) for (s,) in self.conn.execute(
                f"SELECT DISTINCT store FROM {spec.table} WHERE {time_col} >= ?", (now - 2 * 86400,))]
            for store in stores:
                start = day_start_of(now, ZoneInfo(self._tz_of(store)))
                rows = self.conn.execute(
                    f"SELECT {cols} FROM {spec.table} WHERE store = ? AND {time_col} >= ? AND {time_col} <= ?"
                    f" ORDER BY {time_col}", (store, start, now)).fetchall()
                state.feed(store, rtype, rows, now)

    def extra(self, store: str, now: float) -> dict[str, Any]:
        """Same weekday of the last weeks (entries to the same time), and POS sales so far today."""
        cached = self._cache.get(store)
        if cached and time.monotonic() - cached[0] < CACHE_S:
            return cached[1]
        tz = ZoneInfo(self._tz_of(store))
        day_start = day_start_of(now, tz)
        hours, days = [], []
        for w in range(1, WEEKS + 1):
            then = weeks_back(now, tz, w)
            day = self._entries(store, day_start_of(then, tz), then)
            if day is None:
                continue
            days.append(day)
            hours.append(self._entries(store, hour_start_of(then, tz), then) or 0)
        tx, cents = self.conn.execute(
            "SELECT count(*), coalesce(sum(net_amount_cents), 0) FROM pos_transactions WHERE store = ?"
            " AND at_epoch_s >= ? AND at_epoch_s <= ? AND voided = 0", (store, day_start, now)).fetchone()
        out: dict[str, Any] = {
            "hour_last_weeks": round(sum(hours) / len(hours), 1) if hours else None,
            "today_last_weeks": round(sum(days) / len(days), 1) if days else None,
            "weeks_n": len(days),
            "transactions_n": int(tx) if self._has_sales(store) else None,
            "net_sales": round(int(cents) / 100, 2),
        }
        self._cache[store] = (time.monotonic(), out)
        return out

    def _has_sales(self, store: str) -> bool:
        """A store that never imported POS data has no conversion (rather than a zero)."""
        return self.conn.execute("SELECT 1 FROM pos_transactions WHERE store = ? LIMIT 1",
                                 (store,)).fetchone() is not None

    def _entries(self, store: str, start: float, end: float) -> int | None:
        """Entries in [start, end]: door traffic in if the store had door counts that day, else Wi-Fi
        entries (the largest gateway's; before presence records, its visits); None when no data at all."""
        (doors,) = self.conn.execute(
            "SELECT sum(traffic_in_n) FROM doors WHERE store = ? AND minute_epoch_s >= ? AND minute_epoch_s"
            " <= ?", (store, start, end)).fetchone()
        if doors is not None:
            return int(doors)
        row = self.conn.execute(
            "SELECT max(n) FROM (SELECT sum(entered_n) AS n FROM presence WHERE store = ? AND taken_epoch_s"
            " >= ? AND taken_epoch_s <= ? GROUP BY agent)", (store, start, end)).fetchone()
        if row[0] is None:  # a day from before agents sent presence: its visitor and bounce visits
            row = self.conn.execute(
                "SELECT max(n) FROM (SELECT count(*) AS n FROM visits WHERE store = ? AND started_epoch_s"
                " >= ? AND started_epoch_s <= ? GROUP BY agent)", (store, start, end)).fetchone()
        return None if row[0] is None else int(row[0])

    def returning(self, store: str, member_key: str, now: float) -> bool:
        """The member made a member visit here on an earlier day within the loyalty window."""
        start = day_start_of(now, ZoneInfo(self._tz_of(store)))
        found = self.conn.execute(
            "SELECT 1 FROM member_visits WHERE member_key = ? AND store = ? AND started_epoch_s < ?"
            " AND started_epoch_s >= ? LIMIT 1",
            (member_key, store, start, start - 86400 * int(self._loyalty_days(store)))).fetchone()
        return found is not None
