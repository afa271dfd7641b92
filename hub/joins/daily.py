"""The daily report of one store: per local hour and for the day, footfall joined with POS sales.

Definitions are DESIGN section 2's; `DailyReport.definitions()` states them with the settings used, and
every format prints them. Where an agent sent a period or door minute twice (a restart re-sending a
corrected count), the last one received counts.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from hub.config import HubConfig, MetricSettings, zone

HOUR_S = 3600
MAX_VISIT_S = 2 * 86400


class NoDataError(LookupError):
    """Nothing at all is stored for the store on that day."""


@dataclass(frozen=True)
class PeriodRow:
    """One local hour, or the whole day. None: no agent reported it (unknown, not zero)."""

    start: datetime
    visitors: int | None
    passersby: int | None
    capture_rate: float | None
    median_dwell_s: float | None
    visitor_visits_n: int
    transactions: int
    net_sales_cents: int
    traffic_in: float | None
    conversion: float | None

    def as_dict(self) -> dict[str, Any]:
        """Field names with their units, times as ISO 8601 with the store's offset."""
        out = asdict(self)
        out["start"] = self.start.isoformat()
        return out


@dataclass(frozen=True)
class DailyReport:
    """Hours and day totals of one store's local date, with what they mean."""

    store: str
    date: date
    timezone: str
    calibration_factor: float
    settings: MetricSettings
    traffic_source: str  # "door_counters" or "wifi_visitors"
    agents: tuple[str, ...]
    hours: tuple[PeriodRow, ...]
    day: PeriodRow

    def settings_used(self) -> dict[str, Any]:
        return {
            **asdict(self.settings),
            "calibration_factor": self.calibration_factor,
            "timezone": self.timezone,
            "traffic_in_source": self.traffic_source,
        }

    def definitions(self) -> dict[str, str]:
        s = self.settings
        traffic = (
            "entries counted by the store's door counters (the store has door counts on this day)"
            if self.traffic_source == "door_counters"
            else f"visitors x the store's calibration factor {self.calibration_factor:g}"
            " (no door counts on this day)"
        )
        return {
            "visitor": (
                f"a device whose visit (no gap over {s.visit_timeout_s} s) lasted at least {s.min_dwell_s} s "
                f"with at least {s.visitor_sightings_n} sightings at or above {s.visitor_rssi_dbm} dBm"
            ),
            "passer-by": "a device heard in the period that made no visitor visit",
            "visitors, passers-by": (
                "per hour: the agents' hourly counts, summed over the store's agents; "
                "day: the agents' daily counts (not the sum of hours: a device spans hours)"
            ),
            "capture rate": "visitors / (visitors + passers-by)",
            "median dwell": "median of (last - first sighting) of the visitor visits started in the period",
            "transactions": "POS transactions with a net amount above 0",
            "net sales": "sum of POS net amounts, refunds included",
            "traffic in": traffic,
            "conversion": "transactions / traffic in",
            "linkability window": (
                f"{s.linkability_window_d} day(s): a device key links visits only within it, "
                "so no returning-visitor figures across it"
            ),
            "times": f"local time in {self.timezone}; stored in UTC",
        }


def _rows(conn: sqlite3.Connection, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(sql, params).fetchall()


def daily_report(conn: sqlite3.Connection, config: HubConfig, store: str, day: date) -> DailyReport:
    """Compute the report; NoDataError when nothing is stored for the store on that local date."""
    sc = config.store(store)
    tz_name = sc.timezone or config.default_timezone
    tz = zone(tz_name)
    t0 = int(datetime.combine(day, time(0), tz).timestamp())
    t1 = int(datetime.combine(day + timedelta(days=1), time(0), tz).timestamp())
    n_hours = (t1 - t0) // HOUR_S  # 23 or 25 on a daylight-saving change
    rng = [store, t0, t1]

    hourly = _rows(
        conn,
        "SELECT agent, start_epoch_s, visitors_n, passersby_n FROM periods WHERE rowid IN"
        " (SELECT max(rowid) FROM periods WHERE store = ? AND period = 'hour' AND start_epoch_s >= ?"
        " AND start_epoch_s < ? GROUP BY agent, start_epoch_s)",
        rng,
    )
    daily = _rows(
        conn,
        "SELECT agent, start_epoch_s, visitors_n, passersby_n FROM periods WHERE rowid IN"
        " (SELECT max(rowid) FROM periods WHERE store = ? AND period = 'day' AND start_epoch_s >= ?"
        " AND start_epoch_s < ? GROUP BY agent, start_epoch_s)",
        rng,
    )
    doors = _rows(
        conn,
        "SELECT minute_epoch_s, traffic_in_n FROM doors WHERE rowid IN (SELECT max(rowid)"
        " FROM doors WHERE store = ? AND minute_epoch_s >= ? AND minute_epoch_s < ?"
        " GROUP BY agent, sensor, minute_epoch_s)",
        rng,
    )
    all_visits = conn.execute(
        "SELECT started_epoch_s, dwell_s, agent, ended_epoch_s, device_key, key_window FROM visits"
        " WHERE store = ? AND ended_epoch_s >= ? AND started_epoch_s < ? AND kind = 'visitor'"
        " AND started_epoch_s >= ?",  # a lower bound keeps the (store, started) index from scanning history:
        [*rng, t0 - MAX_VISIT_S],      # no visit outlives its key window, and a day-long one is static
    ).fetchall()
    static = set(conn.execute(
        "SELECT DISTINCT device_key, key_window FROM device_flags WHERE store = ? AND flag = 'static'",
        [store],
    ).fetchall())
    # a device found static later in its window (a fixture after 6 hours, a staff phone) leaves the
    # counts the agent sent before it knew: its visitor visits are subtracted hour by hour
    static_visits = [v for v in all_visits if (v[4], v[5]) in static]
    visits = [(t, d, a) for t, d, a, _, k, w in all_visits if (k, w) not in static and t0 <= t < t1]
    sales = conn.execute(
        "SELECT at_epoch_s, net_amount_cents FROM pos_transactions WHERE store = ?"
        " AND at_epoch_s >= ? AND at_epoch_s < ?",
        rng,
    ).fetchall()
    if not (hourly or daily or doors or visits or sales):
        raise NoDataError(f"no data for store {store!r} on {day.isoformat()}")

    def hour(t: int) -> int:
        return (t - t0) // HOUR_S

    vis: dict[int, int] = defaultdict(int)
    pas: dict[int, int] = defaultdict(int)
    for _, t, v, p in hourly:
        vis[hour(t)] += v
        pas[hour(t)] += p
    static_hours: dict[int, set[str]] = defaultdict(set)
    for start, _, _, end, key, _ in static_visits:
        for h in range(max(hour(start), 0), min(hour(end), n_hours - 1) + 1):
            static_hours[h].add(key)
    for h, keys in static_hours.items():
        if h in vis:
            vis[h] = max(vis[h] - len(keys), 0)
    dwell: dict[int, list[int]] = defaultdict(list)
    for t, d, _ in visits:
        dwell[hour(t)].append(d)
    door_in: dict[int, int] = defaultdict(int)
    for t, n in doors:
        door_in[hour(t)] += n
    txn: dict[int, int] = defaultdict(int)
    net: dict[int, int] = defaultdict(int)
    for t, cents in sales:
        txn[hour(t)] += int(cents > 0)
        net[hour(t)] += cents
    has_doors = bool(doors)
    factor = sc.calibration_factor

    def row(
        start: int, v: int | None, p: int | None, *, dw: list[int], tx: int, ns: int, door: int
    ) -> PeriodRow:
        traffic = float(door) if has_doors else (v * factor if v is not None else None)
        return PeriodRow(
            start=datetime.fromtimestamp(start, tz),
            visitors=v,
            passersby=p,
            capture_rate=v / (v + p) if v is not None and p is not None and v + p > 0 else None,
            median_dwell_s=float(statistics.median(dw)) if dw else None,
            visitor_visits_n=len(dw),
            transactions=tx,
            net_sales_cents=ns,
            traffic_in=traffic,
            conversion=tx / traffic if traffic else None,
        )

    hours = tuple(
        row(
            t0 + h * HOUR_S,
            vis.get(h),
            pas.get(h),
            dw=dwell.get(h, []),
            tx=txn[h],
            ns=net[h],
            door=door_in[h],
        )
        for h in range(n_hours)
    )
    day_v = max(sum(r[2] for r in daily) - len({v[4] for v in static_visits}), 0) if daily else None
    day_p = sum(r[3] for r in daily) if daily else None
    total = row(
        t0,
        day_v,
        day_p,
        dw=[d for _, d, _ in visits],
        tx=sum(txn.values()),
        ns=sum(net.values()),
        door=sum(door_in.values()),
    )
    agents = sorted({r[0] for r in hourly} | {r[0] for r in daily} | {r[2] for r in visits})
    return DailyReport(
        store,
        day,
        tz_name,
        factor,
        sc.settings,
        "door_counters" if has_doors else "wifi_visitors",
        tuple(agents),
        hours,
        total,
    )
