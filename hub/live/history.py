"""What the live view reads from the database: today's rows at start, the rows every worker committed
lately (`poll`), earlier weeks, POS sales so far.

Read-only, on its own connection (either engine, hub/store/sql.py), each query on an indexed (store,
time) range. Baselines and sales are cached for a short while per store: a page refreshing every second
does not re-run them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from agent.wire.records import iso
from hub.config import DatabaseConfig
from hub.live.state import LOOKBACK_S, LiveState, day_start_of, hour_start_of, weeks_back
from hub.members.arrivals import SCHEMA as ARRIVAL_SCHEMA
from hub.members.profile import profile
from hub.store.rows import RECORD_TABLES
from hub.store.sql import open_database

WEEKS = 4
CACHE_S = 15.0
# A batch received since the last poll but sent more than LATE_S before this one may hold rows older
# than the poll's window (LOOKBACK_S): its store's day is read again, at most every RESYNC_MIN_S.
# SLACK_S covers a batch received before a poll but committed after it (the writer's queue); an agent
# sends every few seconds (outbox.coalesce_s), so LATE_S > SLACK_S + that keeps fresh batches out.
LATE_S = 90
RESYNC_MIN_S = 60
SLACK_S = 60
LIVE_TYPES = ("presence", "door")


def _span(start: float, end: float) -> tuple[int, int]:
    """[start, end] in whole seconds, as the epoch columns hold them: an integer parameter keeps
    PostgreSQL on the bigint index (a float one would compare every row as double precision)."""
    return math.ceil(start), math.floor(end)


def _time_column(rtype: str) -> str:
    return f"{RECORD_TABLES[rtype].time_fields[0][:-3]}_epoch_s"


class History:
    """SQL for the live view; used by one thread at a time (it owns a connection: the caller that shares
    it between threads holds a lock, as LiveFeed.extra does)."""

    def __init__(self, database: DatabaseConfig, timezone_of: Any, loyalty_days: Any) -> None:
        self.db = open_database(database, readonly=True, check_same_thread=False)
        self._tz_of, self._loyalty_days = timezone_of, loyalty_days
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}
        self._read_at: dict[str, float] = {}  # store -> when its whole day was last read
        self._loaded_at = self._polled_at = time.time()
        self._late: set[str] = set()  # stores with a late batch, to read again

    def close(self) -> None:
        self.db.close()

    def load_today(self, state: LiveState, now: float) -> None:
        """Feed `state` every presence and door row of each store's current local day."""
        self._loaded_at = self._polled_at = now
        for rtype in LIVE_TYPES:
            spec = RECORD_TABLES[rtype]
            stores = [str(s) for (s,) in self.db.execute(
                f"SELECT DISTINCT store FROM {spec.table} WHERE {_time_column(rtype)} >= ?",
                (math.ceil(now - 2 * 86400),))]
            for store in stores:
                state.feed(store, rtype, self._today(store, rtype, now), now)

    def _today(self, store: str, rtype: str, now: float, ahead_s: float = 0) -> list[tuple[Any, ...]]:
        """The store's rows of its local day up to `now` (and `ahead_s` after: a clock ahead)."""
        spec, time_col = RECORD_TABLES[rtype], _time_column(rtype)
        start = day_start_of(now, ZoneInfo(self._tz_of(store)))
        return [tuple(r) for r in self.db.execute(
            f"SELECT {', '.join(spec.columns)} FROM {spec.table} WHERE store = ? AND {time_col} >= ?"
            f" AND {time_col} <= ? ORDER BY {time_col}", (store, *_span(start, now + ahead_s)))]

    def poll(self, state: LiveState, now: float, stores: Iterable[str] = ()) -> int:
        """Feed `state` the presence and door rows of the last `LOOKBACK_S` of every store any gateway
        reported from (and of `stores`, the configured ones), whichever worker committed them (LiveState
        drops the rows it has), and the member arrivals any worker announced (`_arrivals`); rows read.

        By time, not by insertion order: neither engine's tables have a portable one (PostgreSQL's are
        partitioned, with no rowid). Rows committed long after their own time (a gateway's backlog
        drained after an outage, stored by any worker) fall outside that window: a batch received lately
        but sent before it (`batches`: received_at, sent_at) has the store's day read again (`resync`).
        """
        known = {str(s) for (s,) in self.db.execute("SELECT DISTINCT store FROM agents") if s}
        stores = sorted(known | set(stores) | set(state.stores()))
        if not stores:
            return 0
        marks = ", ".join("?" for _ in stores)
        read = 0
        for rtype in LIVE_TYPES:
            spec = RECORD_TABLES[rtype]
            time_col = _time_column(rtype)
            rows = self.db.execute(
                f"SELECT {', '.join(spec.columns)} FROM {spec.table} WHERE store IN ({marks})"
                f" AND {time_col} >= ? ORDER BY {time_col}", (*stores, math.ceil(now - LOOKBACK_S))
            ).fetchall()
            by_store: dict[str, list[tuple[Any, ...]]] = {}
            for r in rows:
                by_store.setdefault(str(r[1]), []).append(tuple(r))
            for store, store_rows in by_store.items():
                state.feed(store, rtype, store_rows, now)
            read += len(rows)
        self._arrivals(state, now, stores)
        self._late.update(str(store) for (store,) in self.db.execute(
            f"SELECT DISTINCT store FROM batches WHERE store IN ({marks}) AND received_at >= ?"
            " AND sent_at < ?", (*stores, iso(self._polled_at - SLACK_S), iso(now - LATE_S))))
        self._polled_at = now
        for store in sorted(self._late):
            if now - self._read_at.get(store, self._loaded_at) >= RESYNC_MIN_S:
                read += self.resync(state, store, now)
                self._late.discard(store)
        return read

    def _arrivals(self, state: LiveState, now: float, stores: list[str]) -> None:
        """Member arrivals any worker announced in the last LOOKBACK_S (`member_arrivals`, consenting
        members only) into the staff's list, each once, with the profile the event carried."""
        if not self.db.has_table("member_arrivals"):  # made by the first worker's ArrivalDesk
            return
        rows = self.db.execute(
            f"SELECT a.store, a.member_key, a.seen_epoch_s, a.member_id FROM member_arrivals a JOIN members m"
            f" ON m.member_key = a.member_key WHERE a.store IN ({', '.join('?' for _ in stores)})"
            " AND a.announced = 1 AND a.seen_epoch_s >= ? AND NOT EXISTS (SELECT 1 FROM optouts o WHERE"
            " o.member_key = a.member_key) ORDER BY a.seen_epoch_s", (*stores, math.ceil(now - LOOKBACK_S)))
        for store, member_key, seen, member_id in rows.fetchall():  # text columns: str on both engines
            seen_at = iso(int(seen))
            if state.has_arrival(store, member_key, seen_at, now):
                continue
            # profile() takes the hub's Db once hub/members moves (issue 17's contract); SQLite's cursor
            # API is the same meanwhile
            about = profile(self.db, store, str(member_id), member_key)
            state.arrived(store, {"schema": ARRIVAL_SCHEMA, "store": store, "seen_at": seen_at, **about,
                                  "_member_key": member_key}, now)
            state.member_seen(store, member_key, self.returning(store, member_key, now), now)

    def resync(self, state: LiveState, store: str, now: float) -> int:
        """Read the store's day again and put its counts in `state` (LiveState.reload); rows read."""
        rows = {rtype: self._today(store, rtype, now, LOOKBACK_S) for rtype in LIVE_TYPES}
        state.reload(store, rows, now)
        self._read_at[store] = now
        return sum(len(r) for r in rows.values())

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
        tx, cents = self.db.execute(
            "SELECT count(*), coalesce(sum(net_amount_cents), 0) FROM pos_transactions WHERE store = ?"
            " AND at_epoch_s >= ? AND at_epoch_s <= ? AND voided = 0", (store, *_span(day_start, now))
        ).fetchone()
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
        return self.db.execute("SELECT 1 FROM pos_transactions WHERE store = ? LIMIT 1",
                               (store,)).fetchone() is not None

    def _entries(self, store: str, start: float, end: float) -> int | None:
        """Entries in [start, end]: door traffic in if the store had door counts that day, else Wi-Fi
        entries (the largest gateway's; before presence records, its visits); None when no data at all."""
        (doors,) = self.db.execute(
            "SELECT sum(traffic_in_n) FROM doors WHERE store = ? AND minute_epoch_s >= ? AND minute_epoch_s"
            " <= ?", (store, *_span(start, end))).fetchone()
        if doors is not None:
            return int(doors)
        row = self.db.execute(
            "SELECT max(n) FROM (SELECT sum(entered_n) AS n FROM presence WHERE store = ? AND taken_epoch_s"
            " >= ? AND taken_epoch_s <= ? GROUP BY agent) AS per_agent", (store, *_span(start, end))
        ).fetchone()
        if row[0] is None:  # a day from before agents sent presence: its visitor and bounce visits
            row = self.db.execute(
                "SELECT max(n) FROM (SELECT count(*) AS n FROM visits WHERE store = ? AND started_epoch_s"
                " >= ? AND started_epoch_s <= ? GROUP BY agent) AS per_agent", (store, *_span(start, end))
            ).fetchone()
        return None if row[0] is None else int(row[0])

    def returning(self, store: str, member_key: str, now: float) -> bool:
        """The member made a member visit here on an earlier day within the loyalty window."""
        start = day_start_of(now, ZoneInfo(self._tz_of(store)))
        found = self.db.execute(
            "SELECT 1 FROM member_visits WHERE member_key = ? AND store = ? AND started_epoch_s < ?"
            " AND started_epoch_s >= ? LIMIT 1",
            (member_key, store, math.ceil(start), math.ceil(start - 86400 * int(self._loyalty_days(store))))
        ).fetchone()
        return found is not None
