"""Everything one store's metrics need over a range, loaded with one query per table and bucketed by
local hour (and day) of the store's calendar. Pure bucketing: the metrics are `metric_rows.py`'s.

Where an agent sent the same hour, day or door minute twice, the last one received counts (as in the
daily report). Visits of devices flagged static are left out, and the agents' visitor counts are
lowered by the static devices they counted (see hub.joins.daily).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hub.joins.calendar import Calendar

Key = tuple[str, str]  # (device_key, key_window)


@dataclass
class StoreData:
    """Per local hour k and day i of the calendar; absent keys mean nothing was reported."""

    cal: Calendar
    hour_visitors: dict[int, int] = field(default_factory=dict)
    hour_passersby: dict[int, int] = field(default_factory=dict)
    day_visitors: dict[int, int] = field(default_factory=dict)
    day_passersby: dict[int, int] = field(default_factory=dict)
    door_in: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # per hour
    door_days: set[int] = field(default_factory=set)
    dwell: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))  # visitor visits by hour
    visit_keys: dict[int, set[Key]] = field(default_factory=lambda: defaultdict(set))  # by hour
    bounces: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    key_days: dict[Key, set[int]] = field(default_factory=lambda: defaultdict(set))
    transactions: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    net_cents: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    buyers: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # member ids by hour
    labour: dict[int, float] = field(default_factory=dict)
    member_hours: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))  # member keys
    member_visits: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    member_days: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    member_ids: dict[str, str] = field(default_factory=dict)  # member key -> member id
    has_members: bool = False
    agents: set[str] = field(default_factory=set)
    found: bool = False  # anything at all inside the reported range


def load(  # noqa: PLR0917 -- one call site (metric_rows.store_rows)
    conn: sqlite3.Connection,
    store: str,
    cal: Calendar,
    report_t0: int,
    since: tuple[int, int],
    windows: list[tuple[int, int]],
) -> StoreData:
    """Load the store's data; `found` says whether any falls at or after report_t0.

    Counts, doors, sales and staff cover the whole calendar (comparisons need them); visits only from
    since[0] (new vs returning look back over the linkability window), member visits from since[1]
    (the loyalty window): a chain-wide day stays cheap. `windows` (epoch ranges) limit counts, doors,
    sales and staff to the report's periods and the same periods 1-4 weeks earlier."""
    data = StoreData(cal)
    t1 = cal.t1
    hits: list[int] = []

    static_keys = set(
        conn.execute(
            "SELECT DISTINCT device_key, key_window FROM device_flags WHERE store = ? AND flag = 'static'",
            [store],
        ).fetchall()
    )
    static_hours: dict[int, set[str]] = defaultdict(set)
    static_days: dict[int, set[str]] = defaultdict(set)
    for period in ("hour", "day"):
        sql = (
            "SELECT agent, start_epoch_s, visitors_n, passersby_n FROM periods WHERE rowid IN (SELECT"
            " max(rowid) FROM periods WHERE store = ? AND period = ? AND start_epoch_s >= ?"
            " AND start_epoch_s < ? GROUP BY agent, start_epoch_s)"
        )
        vis, pas = (
            (data.hour_visitors, data.hour_passersby)
            if period == "hour"
            else (data.day_visitors, data.day_passersby)
        )
        for agent, t, v, p in _each(conn, sql, [store, period], windows):
            b = cal.hour_of(t) if period == "hour" else cal.day_of(t)
            vis[b] = vis.get(b, 0) + v
            pas[b] = pas.get(b, 0) + p
            data.agents.add(agent)
            hits.append(t)

    for t, n in _each(
        conn,
        "SELECT minute_epoch_s, traffic_in_n FROM doors WHERE rowid IN (SELECT max(rowid) FROM doors"
        " WHERE store = ? AND minute_epoch_s >= ? AND minute_epoch_s < ? GROUP BY agent, sensor,"
        " minute_epoch_s)",
        [store],
        windows,
    ):
        k = cal.hour_of(t)
        data.door_in[k] += n
        data.door_days.add(cal.hour_day[k])
        hits.append(t)

    for start, end, dwell, kind, key, window, agent in conn.execute(
        "SELECT started_epoch_s, ended_epoch_s, dwell_s, kind, device_key, key_window, agent FROM visits"
        " WHERE store = ? AND ended_epoch_s >= ? AND started_epoch_s < ? AND started_epoch_s >= ?",
        [store, since[0], t1, since[0] - 86400],
    ):
        data.agents.add(agent)
        if kind == "bounce":
            if start >= since[0]:
                data.bounces[cal.hour_of(start)] += 1
                hits.append(start)
            continue
        if (key, window) in static_keys:
            for k in range(max(cal.hour_of(start), 0), min(cal.hour_of(end), cal.hours_n - 1) + 1):
                static_hours[k].add(key)
                static_days[cal.hour_day[k]].add(key)
            continue
        if start < since[0]:
            continue
        k = cal.hour_of(start)
        data.dwell[k].append(dwell)
        data.visit_keys[k].add((key, window))
        data.key_days[(key, window)].add(cal.hour_day[k])
        hits.append(start)
    for k, keys in static_hours.items():
        if k in data.hour_visitors:
            data.hour_visitors[k] = max(data.hour_visitors[k] - len(keys), 0)
    for i, keys in static_days.items():
        if i in data.day_visitors:
            data.day_visitors[i] = max(data.day_visitors[i] - len(keys), 0)

    for t, cents, member in _each(
        conn,
        "SELECT at_epoch_s, net_amount_cents, member_id FROM pos_transactions WHERE store = ?"
        " AND at_epoch_s >= ? AND at_epoch_s < ? AND voided = 0",
        [store],
        windows,
    ):
        k = cal.hour_of(t)
        data.net_cents[k] += cents
        if cents > 0:
            data.transactions[k] += 1
            if member is not None:
                data.buyers[k].add(member)
        hits.append(t)

    for t, hours in _each(
        conn,
        "SELECT hour_epoch_s, labour_hours FROM staff_hours WHERE store = ? AND hour_epoch_s >= ?"
        " AND hour_epoch_s < ?",
        [store],
        windows,
    ):
        data.labour[cal.hour_of(t)] = hours

    data.has_members = (
        conn.execute("SELECT 1 FROM member_visits WHERE store = ? LIMIT 1", [store]).fetchone() is not None
    )
    for key, start in conn.execute(
        "SELECT member_key, started_epoch_s FROM member_visits WHERE store = ? AND started_epoch_s >= ?"
        " AND started_epoch_s < ?",
        [store, since[1], t1],
    ):
        k = cal.hour_of(start)
        data.member_hours[k].add(key)
        data.member_visits[k] += 1
        data.member_days[key].add(cal.hour_day[k])
        hits.append(start)
    visited = list(data.member_days)
    for i in range(0, len(visited), 500):  # only the members who visited (a chain may have millions)
        chunk = visited[i : i + 500]
        data.member_ids.update(conn.execute(
            f"SELECT member_key, member_id FROM members WHERE member_key IN ({','.join('?' * len(chunk))})",
            chunk,
        ).fetchall())
    data.found = any(t >= report_t0 for t in hits)
    return data


def _each(
    conn: sqlite3.Connection, sql: str, params: list[Any], windows: list[tuple[int, int]]
) -> Iterator[tuple[Any, ...]]:
    """Rows of `sql` (whose last two parameters are a time range) over each window, by index range."""
    for lo, hi in windows:
        yield from conn.execute(sql, [*params, lo, hi])


def windows_of(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching epoch ranges merged, in order."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
