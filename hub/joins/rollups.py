"""Day rollups: each closed store-day's day-grain row, kept so that a chain-wide day is one row per store.

A day report of a whole chain reads, per store, the day's visits and the same weekday 1 to 4 weeks back
and merges them in Python: about 1 ms a store (bench/hub_reports.py), seconds for thousands of stores.
A closed day rarely changes, so the rollup job (`rollup_job.py`, the leader's) computes each store-day
once with the engine itself (`store_metrics`, day grain, that one day) and keeps the row in
`day_rollups`; a day report then takes every store whose days all have a fresh rollup from there, and
computes the others as before.

Fresh means: computed with the store's current settings (`signature`) and no change written since
touches it (`rollup_changes`, filled by triggers in the writers' transactions: rollup_tables.py). What
a row cannot hold is recomputed on reading: whether sales are known yet (a later POS import) and the
80 % intervals (the latest calibration an agent sent). So a report from rollups is the report computed
from the records, field for field (tests/hub/reports/test_rollups.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, fields
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from hub.config import HubConfig, MetricSettings, StoreConfig, zone
from hub.joins.estimates import Interval, load_intervals, traffic_interval, visitors_interval
from hub.joins.metric_data import last_sales
from hub.joins.metrics import COMPARED, MetricsRow, StoreSettings, weeks_mean
from hub.store.sql import Db

VERSION = 1  # bump when a metric's definition changes: every rollup is recomputed
_KEPT = tuple(f.name for f in fields(MetricsRow) if f.name not in ("last_week", "avg_4_weeks"))
_SHAPE = hashlib.sha256(",".join(_KEPT).encode()).hexdigest()[:12]
Served = dict[str, tuple[bool, dict[str, list[MetricsRow]], StoreSettings]]


def timezone_of(config: HubConfig, sc: StoreConfig) -> str:
    return sc.timezone or config.default_timezone


def signature(config: HubConfig, store: str) -> str:
    """What a store's rows were computed with: its zone, calibration factor and settings, and the row's
    shape and this module's version (a rollup of other settings is not this store's row any more)."""
    sc = config.store(store)
    return _signature(timezone_of(config, sc), sc.calibration_factor, sc.settings)


@lru_cache(maxsize=256)
def _signature(tz_name: str, factor: float, settings: MetricSettings) -> str:
    """Once per distinct settings (a chain's thousands of stores share a few)."""
    text = json.dumps([VERSION, _SHAPE, tz_name, factor, asdict(settings)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def day_end(day: date, tz: ZoneInfo) -> int:
    """The epoch second the local day ends (its next local midnight)."""
    return int(datetime.combine(day + timedelta(days=1), time(0), tz).timestamp())


def encode(row: MetricsRow) -> str:
    """A day row as JSON: its values in field order (no names: a chain's rows are read by the thousand)."""
    values = []
    for name in _KEPT:
        v = getattr(row, name)
        values.append(v.isoformat() if isinstance(v, datetime) else list(v) if isinstance(v, tuple) else v)
    return json.dumps(values, separators=(",", ":"))


def decode(text: str, tz: ZoneInfo) -> dict[str, Any]:
    """encode's values by field name, times in the store's zone, as the engine makes them."""
    out = dict(zip(_KEPT, json.loads(text), strict=True))
    out["start"] = datetime.fromisoformat(out["start"]).astimezone(tz)
    out["end"] = datetime.fromisoformat(out["end"]).astimezone(tz)
    out["members_not_bought"] = tuple(out["members_not_bought"])
    return out


def _intervals(values: dict[str, Any], iv: Interval | None) -> dict[str, Any]:
    """The 80 % intervals of a day row with the store's calibration now, as the engine makes them."""
    v_low, v_high = visitors_interval(values["visitors"], iv)
    t_low, t_high = traffic_interval(values["traffic_in"], values["traffic_source"], iv)
    return {"visitors_low": v_low, "visitors_high": v_high,
            "traffic_in_low": t_low, "traffic_in_high": t_high}


FRESH = ("SELECT r.store, r.day, r.signature, {values} FROM day_rollups r WHERE r.store IN ({stores})"
         " AND r.day IN ({days}) AND NOT EXISTS (SELECT 1 FROM rollup_changes c WHERE c.store = r.store"
         " AND (c.first_epoch_s < r.end_epoch_s OR c.window_day <= r.day))")


def fresh_rows(db: Db, stores: list[str], days: Iterable[date], *,
               values: bool = True) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(store, day) -> (signature, found, agents, row) of the fresh rollups of those stores and days;
    without `values`, found, agents and row are None (the job asks only which are there)."""
    wanted = sorted({d.isoformat() for d in days})
    out: dict[tuple[str, str], tuple[Any, ...]] = {}
    for i in range(0, len(stores), 500):
        chunk = stores[i : i + 500]
        sql = FRESH.format(stores=",".join("?" * len(chunk)), days=",".join("?" * len(wanted)),
                           values="r.found, r.agents, r.row" if values else "NULL, NULL, NULL")
        for store, day, sig, found, agents, row in db.execute(sql, [*chunk, *wanted]):
            out[str(store), str(day)] = (sig, found if found is None else bool(found), agents, row)
    return out


def serve(db: Db, config: HubConfig, stores: list[str], start: date, end: date, *,
          compare: bool) -> Served:
    """The day rows of the stores whose every day needed (the range, and with `compare` the same
    weekdays 1-4 weeks back) has a fresh rollup; the others are left to the engine."""
    if not stores or not db.has_table("day_rollups"):
        return {}
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    earlier = {d: [d - timedelta(days=7 * w) for w in range(1, 5)] for d in days} if compare else {}
    needed = {*days, *(e for es in earlier.values() for e in es)}
    got = fresh_rows(db, stores, needed)
    sigs = {s: signature(config, s) for s in stores}
    whole = [s for s in stores
             if all((g := got.get((s, d.isoformat()))) is not None and g[0] == sigs[s] for d in needed)]
    if not whole:
        return {}
    last_sale = last_sales(db, whole)
    intervals = load_intervals(db, whole)
    out: Served = {}
    for store in whole:
        sc = config.store(store)
        tz_name = timezone_of(config, sc)
        tz = zone(tz_name)
        iv = intervals.get(store)
        agents: set[str] = set()
        found = False
        rows = []
        for d in days:
            _, day_found, day_agents, text = got[store, d.isoformat()]
            found |= day_found
            agents.update(json.loads(day_agents))
            values = decode(text, tz)
            values.update(_intervals(values, iv))
            sold = last_sale[store]
            values["sales_known"] = sold is not None and sold >= int(values["start"].timestamp())
            if compare:
                before = [_compared(decode(got[store, e.isoformat()][3], tz)) for e in earlier[d]]
                values["last_week"] = before[0]
                values["avg_4_weeks"] = weeks_mean(before)
            else:
                values["last_week"], values["avg_4_weeks"] = {}, {}
            rows.append(MetricsRow(**values))
        settings = StoreSettings(store, tz_name, sc.calibration_factor, asdict(sc.settings),
                                 tuple(sorted(agents)), sc.currency, sc.locale)
        out[store] = (found, {"day": rows}, settings)
    return out


def _compared(values: dict[str, Any]) -> dict[str, float | None]:
    return {m: values[m] for m in COMPARED}



