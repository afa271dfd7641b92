"""Everything one store's metrics need over a range, loaded with one query per table and bucketed by
local hour (and day) of the store's calendar. Pure bucketing: the metrics are `metric_rows.py`'s.

Where an agent sent the same hour, day or door minute twice, the last one it sent (highest seq) counts.
Visitors, entries, dwell and occupancy come from the store's people (`visits.py`): the fragments a gateway
linked into one person (a phone that changed its MAC) are that person's stay, and a person heard by
two gateways counts once; visits of devices flagged static are left out. The store's calibration
interval and, for a door store, the days its door fit looks back on are loaded too (`estimates.py`).
The agents' period counts say which hours and days were reported (known, even when nobody came) and
give the passers-by, whose keys never leave a gateway: with several gateways, the largest count of the
period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hub.joins.calendar import HOUR_S, Calendar
from hub.joins.estimates import Interval, door_fit_spans, load_intervals
from hub.joins.visits import Key, merge_visits, person_visits
from hub.store.sql import Db


@dataclass
class StoreData:
    """Per local hour k and day i of the calendar; absent keys mean nothing was reported."""

    cal: Calendar
    hour_known: set[int] = field(default_factory=set)  # an agent reported the hour (or a visit began in it)
    day_known: set[int] = field(default_factory=set)
    hour_passersby: dict[int, int] = field(default_factory=dict)
    day_passersby: dict[int, int] = field(default_factory=dict)  # only from the agents' day counts
    entries: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # visits started, by hour
    present: dict[int, set[Key]] = field(default_factory=lambda: defaultdict(set))  # visitor keys, by hour
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
    last_sale_at: int | None = None  # the newest POS transaction stored (any time): sales known up to its day
    agents: set[str] = field(default_factory=set)  # the agents that sent counts or visits of the range
    interval: Interval | None = None  # the store's calibration interval (hub.joins.estimates)
    found: bool = False  # anything at all inside the reported range


CHUNK = 500  # stores per query (SQLite's limit on parameters is far above)


def load_many(  # noqa: PLR0917 -- one call site (metric_rows.stores_rows)
    db: Db,
    stores: list[str],
    cal: Calendar,
    report_t0: int,
    since: tuple[int, int],
    windows: list[tuple[int, int]],
    timeouts: dict[str, int],
    hour_counts: bool = True,
) -> dict[str, StoreData]:
    """Load the data of stores sharing one calendar; `found` says whether any falls at or after report_t0.

    One query per table (and window) for all the stores at once, rows told apart by store. Counts,
    doors, sales and staff cover `windows` (epoch ranges: the report's periods and the same periods
    1-4 weeks earlier); visits only from since[0] (new vs returning look back over the linkability
    window), member visits from since[1] (the loyalty window), and only for stores with any member
    visit at all. Doors and sales are summed per local hour in SQL, or per local day (booked to its
    first hour) without `hour_counts` (day, week and month grains), which also skips occupancy.
    `timeouts`: each store's visit timeout, the gap that still merges two gateways' visits."""
    out = {s: StoreData(cal) for s in dict.fromkeys(stores)}
    ids = list(out)
    for i in range(0, len(ids), CHUNK):
        _load_chunk(db, {s: out[s] for s in ids[i : i + CHUNK]}, cal, report_t0, since, windows,
                    timeouts, hour_counts)
    return out


def _load_chunk(  # noqa: PLR0917 -- one pass over the tables, in order
    db: Db,
    datas: dict[str, StoreData],
    cal: Calendar,
    report_t0: int,
    since: tuple[int, int],
    windows: list[tuple[int, int]],
    timeouts: dict[str, int],
    hour_counts: bool,
) -> None:
    stores = list(datas)
    present = hour_counts  # occupancy is an hour figure
    marks = ",".join("?" * len(stores))
    t1 = cal.t1
    hour_of, hour_day = cal.hour_of, cal.hour_day
    found: set[str] = set()  # stores with anything at or after report_t0

    static_keys: dict[str, set[Key]] = defaultdict(set)
    for store, key, window in db.execute(
        f"SELECT DISTINCT store, device_key, key_window FROM device_flags WHERE store IN ({marks})"
        " AND flag = 'static'",
        stores,
    ):
        static_keys[store].add((key, window))

    # Where an agent sent an hour or day twice, the last one it sent counts: the highest (seq, idx) of
    # the agent (a correction goes out after the count it corrects; a wiped gateway's new epoch starts
    # at seq 0 but never re-sends a period its old outbox sent). The same rule on both engines.
    counts = (
        "SELECT store, agent, start_epoch_s, passersby_n, seq, idx FROM periods"
        f" WHERE store IN ({marks}) AND period = ? AND start_epoch_s >= ? AND start_epoch_s < ?"
    )
    for period in ("hour", "day") if hour_counts else ("day",):
        latest: dict[tuple[str, str, int], tuple[int, int, int]] = {}
        for store, agent, t, p, seq, idx in _each(db, counts, [*stores, period], windows):
            got = latest.get((store, agent, t))
            if got is None or (seq, idx) > got[1:]:
                latest[store, agent, t] = (p, seq, idx)
        for (store, agent, t), (p, _, _) in latest.items():
            d = datas[store]
            if period == "hour":
                b = hour_of(t)
                d.hour_passersby[b] = max(d.hour_passersby.get(b, 0), p)
                d.hour_known.add(b)
                if 0 <= b < cal.hours_n:
                    d.day_known.add(hour_day[b])
            else:
                b = cal.day_of(t)
                d.day_passersby[b] = max(d.day_passersby.get(b, 0), p)
                d.day_known.add(b)
            if t >= report_t0:  # the agents of the report's own range (not of the weeks it compares)
                d.agents.add(agent)
                found.add(store)
    if not hour_counts:  # a report day without the agents' day count (today): reported if they sent hours
        for i in range(cal.day_of(report_t0), len(cal.days)):
            missing = [s for s in stores if i not in datas[s].day_known]
            for (store,) in db.execute(
                f"SELECT DISTINCT store FROM periods WHERE store IN ({','.join('?' * len(missing))})"
                " AND period = 'hour' AND start_epoch_s >= ? AND start_epoch_s < ?",
                [*missing, cal.bounds[i], cal.bounds[i + 1]],
            ) if missing else ():
                datas[store].day_known.add(i)
                found.add(store)

    # Doors and sales summed in SQL per local hour; per local day (booked to its first hour) when the
    # grain reads only days. Where a store of the chunk has a door counter, doors and visits are also
    # read over the days its Wi-Fi factor's door fit looks back on (hub.joins.estimates). A door minute
    # sent twice counts once, as last sent (the agent and sensor's highest (seq, idx)): a window function,
    # one range scan on both engines (a NOT EXISTS probe needs the range twice for PostgreSQL's partitions,
    # and SQLite, without ANALYZE, then scans that range for every row).
    fit_spans = door_fit_spans(db, stores, cal, windows)
    for store, k, n, t in _bucketed(
        db,
        "SELECT store, {k} AS k, sum(traffic_in_n), max(minute_epoch_s) FROM (SELECT store,"
        " minute_epoch_s, traffic_in_n, row_number() OVER (PARTITION BY store, agent, sensor,"
        f" minute_epoch_s ORDER BY seq DESC, idx DESC) AS nth FROM doors WHERE store IN ({marks})"
        " AND minute_epoch_s >= ? AND minute_epoch_s < ?) AS last WHERE nth = 1 GROUP BY store{by}",
        "minute_epoch_s",
        stores,
        cal,
        windows_of([*windows, *fit_spans]),
        by_day=not hour_counts,
    ):
        d = datas[store]
        d.door_in[k] += n
        d.door_days.add(hour_day[k])
        if t >= report_t0:
            found.add(store)

    # Visits over the report's periods, the weeks compared and the linkability window's look-back; a
    # lower bound on the start keeps the (store, started) index from scanning history (no visit outlives
    # its key window, and a day-long one is static).
    keyed: dict[str, list[tuple[int, int, int, Key, str | None, int]]] = defaultdict(list)
    t0, hours_n = cal.t0, cal.hours_n
    sql = ("SELECT store, started_epoch_s, ended_epoch_s, dwell_s, kind, device_key, key_window, agent,"
           " person_key, person_dwell_s"
           f" FROM visits WHERE store IN ({marks}) AND ended_epoch_s >= ? AND started_epoch_s < ?"
           " AND started_epoch_s >= ?")
    done = None  # the end of the window read before: a visit that started before it was read with it
    for lo, hi in windows_of([*windows, (since[0], report_t0), *fit_spans]):
        found_rows = db.execute(sql, [*stores, lo, hi, lo - 86400])
        for store, start, end, dwell, kind, key, window, agent, person, person_dwell in found_rows:
            if done is not None and start < done:
                continue
            d = datas[store]
            if report_t0 <= start < t1:
                d.agents.add(agent)
            if kind == "bounce":
                if start >= t0:
                    d.bounces[(start - t0) // HOUR_S] += 1
                    if start >= report_t0:
                        found.add(store)
            elif key is not None and (key, window) not in static_keys.get(store, ()):
                keyed[store].append((start, end, dwell, (key, window), person, person_dwell or 0))
        done = hi
    for store, rows in keyed.items():
        d = datas[store]
        entries, dwells, visit_keys, key_days = d.entries, d.dwell, d.visit_keys, d.key_days
        hour_known, day_known, present_at = d.hour_known, d.day_known, d.present
        for start, end, dwell, key in merge_visits(person_visits(rows), timeouts[store]):
            k = (start - t0) // HOUR_S
            if present:  # occupancy, and a gateway heard the store in every hour the stay spans
                for j in range(max(k, 0), min((end - t0) // HOUR_S, hours_n - 1) + 1):
                    hour_known.add(j)
                    present_at[j].add(key)
            if not 0 <= k < hours_n:
                continue
            i = hour_day[k]
            entries[k] += 1
            hour_known.add(k)
            day_known.add(i)
            dwells[k].append(dwell)
            visit_keys[k].add(key)
            key_days[key].add(i)
            if start >= report_t0:
                found.add(store)

    for store, k, cents, n, t in _bucketed(
        db,
        "SELECT store, {k} AS k, sum(net_amount_cents),"
        " sum(CASE WHEN net_amount_cents > 0 THEN 1 ELSE 0 END), max(at_epoch_s)"
        f" FROM pos_transactions WHERE store IN ({marks}) AND at_epoch_s >= ?"
        " AND at_epoch_s < ? AND voided = 0 GROUP BY store{by}",
        "at_epoch_s",
        stores,
        cal,
        windows,
        by_day=not hour_counts,
    ):
        d = datas[store]
        d.net_cents[k] += cents
        d.transactions[k] += n
        if t >= report_t0:
            found.add(store)

    for store, t in last_sales(db, stores).items():
        datas[store].last_sale_at = t

    for store, t, hours in _each(
        db,
        f"SELECT store, hour_epoch_s, labour_hours FROM staff_hours WHERE store IN ({marks})"
        " AND hour_epoch_s >= ? AND hour_epoch_s < ?",
        stores,
        windows,
    ):
        datas[store].labour[hour_of(t)] = hours

    # Members (buyers, member visits, loyalty) only for stores with any member visit stored.
    members = [
        s for (s,) in db.execute(
            f"WITH s(id) AS (VALUES {','.join(['(?)'] * len(stores))}) SELECT id FROM s"
            " WHERE EXISTS (SELECT 1 FROM member_visits m WHERE m.store = s.id)",
            stores,
        )
    ]
    if members:
        m_marks = ",".join("?" * len(members))
        for store in members:
            datas[store].has_members = True
        for store, t, member in _each(
            db,
            f"SELECT store, at_epoch_s, member_id FROM pos_transactions WHERE store IN ({m_marks})"
            " AND at_epoch_s >= ? AND at_epoch_s < ? AND voided = 0 AND net_amount_cents > 0"
            " AND member_id IS NOT NULL",
            members,
            windows,
        ):
            datas[store].buyers[hour_of(t)].add(member)
        for store, key, start in db.execute(
            f"SELECT store, member_key, started_epoch_s FROM member_visits WHERE store IN ({m_marks})"
            " AND started_epoch_s >= ? AND started_epoch_s < ?",
            [*members, since[1], t1],
        ):
            d, k = datas[store], hour_of(start)
            d.member_hours[k].add(key)
            d.member_visits[k] += 1
            d.member_days[key].add(hour_day[k])
            if start >= report_t0:
                found.add(store)
        visited = list(dict.fromkeys(key for s in members for key in datas[s].member_days))
        ids: dict[str, str] = {}
        for i in range(0, len(visited), 500):  # only the members who visited (a chain may have millions)
            chunk = visited[i : i + 500]
            marks_k = ",".join("?" * len(chunk))
            ids.update(db.execute(
                f"SELECT member_key, member_id FROM members WHERE member_key IN ({marks_k})", chunk
            ).fetchall())
        for store in members:
            d = datas[store]
            d.member_ids.update((k, ids[k]) for k in d.member_days if k in ids)
    for store, interval in load_intervals(db, stores).items():
        datas[store].interval = interval
    for store in found:
        datas[store].found = True


def last_sales(db: Db, stores: list[str]) -> dict[str, int | None]:
    """Each store's newest POS transaction, any time: sales are known up to its day. The (store,
    at_epoch_s) index: one seek per store on both engines."""
    got = db.execute(
        f"WITH s(id) AS (VALUES {','.join(['(?)'] * len(stores))}) SELECT id,"
        " (SELECT max(at_epoch_s) FROM pos_transactions p WHERE p.store = s.id) FROM s", stores)
    return {str(s): (int(t) if t is not None else None) for s, t in got}


def _each(
    db: Db, sql: str, params: list[Any], windows: list[tuple[int, int]]
) -> Iterator[tuple[Any, ...]]:
    """Rows of `sql` (whose last two parameters are a time range) over each window, by index range."""
    for lo, hi in windows:
        yield from db.execute(sql, [*params, lo, hi])


def _bucketed(  # noqa: PLR0917 -- a private helper of _load_chunk
    db: Db,
    sql: str,
    column: str,
    stores: list[str],
    cal: Calendar,
    windows: list[tuple[int, int]],
    by_day: bool,
) -> Iterator[tuple[Any, ...]]:
    """Rows (store, hour index, ...) of `sql` over each window, summed per local hour or day.

    `sql` selects `{k}` (the bucket) and groups by `store{by}`; `column` is its epoch column. With
    `by_day`, one query per local day groups by store alone (the day is given as its first hour):
    SQLite then needs no temporary b-tree to group. Otherwise buckets are the calendar's hours, from its
    first midnight."""
    if not by_day:
        per_hour = sql.format(k=f"({column} - ?) / {HOUR_S}", by=", k")
        for lo, hi in windows:
            yield from db.execute(per_hour, [cal.t0, *stores, lo, hi])
        return
    per_day = sql.format(k="0", by="")
    for lo, hi in windows:
        for i in range(cal.day_of(lo), cal.day_of(hi - 1) + 1):
            k = cal.day_hours(i).start
            for store, _, *rest in db.execute(per_day, [*stores, cal.bounds[i], cal.bounds[i + 1]]):
                yield (store, k, *rest)


def windows_of(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching epoch ranges merged, in order."""
    out: list[tuple[int, int]] = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out
