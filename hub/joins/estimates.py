"""What the hub's Wi-Fi estimates are scaled by, and how sure they are (issue 19).

Two things, each defined once elsewhere and only applied here:

- **The 80 % interval** of a Wi-Fi figure comes from the store's calibration (`footfall-agent calibrate`:
  the 10th and 90th centiles of truth / estimate over calibration days, agent.calibrate.fit_visitors).
  An agent sends its calibration in its retained status (`learned`, agent/wire/envelope.py Status); the
  hub keeps the last one per agent (`agents.learned`). Of a store's gateways, the latest calibration
  counts. A figure's interval is the figure x (q10, q90); door counts are counts, not estimates.
- **The door fit**: where a store has a door counter, its Wi-Fi factor is agent.common.recalibrate's rolling
  14-day median of door entries / Wi-Fi people, robust to the counter's outages; days without door
  counts take that factor (`door_counter`), the last good one (`carried`) or, before enough days, the
  store's configured calibration factor (`calibration`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from agent.common.recalibrate import DayCounts, rolling_factors
from hub.joins.calendar import Calendar
from hub.store.sql import Db

FIT_WINDOW_D = 14  # agent.common.recalibrate.rolling_factors' default window
# traffic_source of a Wi-Fi figure, by where its factor came from (agent.common.recalibrate's source names)
WIFI_SOURCES = {"calibration": "wifi_visitors", "door_counter": "wifi_door_fit", "carried": "wifi_carried"}


@dataclass(frozen=True, slots=True)
class Interval:
    """A store's calibration interval: truth / estimate between `low` and `high` on 80 % of days."""

    low: float
    high: float
    calibrated_at: str
    agent: str


def traffic_interval(traffic: float | None, source: str | None,
                     iv: Interval | None) -> tuple[float | None, float | None]:
    """The 80 % interval of a traffic figure of one source: a door count is as counted; a Wi-Fi figure
    is the figure x (q10, q90) of the store's calibration, unknown without one."""
    if traffic is None or source is None:
        return None, None
    if source == "door_counters":
        return traffic, traffic
    return (traffic * iv.low, traffic * iv.high) if iv is not None else (None, None)


def visitors_interval(visitors: int | None, iv: Interval | None) -> tuple[float | None, float | None]:
    """The 80 % interval of a visitor count (None without a count or a calibration)."""
    if visitors is None or iv is None:
        return None, None
    return visitors * iv.low, visitors * iv.high


def load_intervals(db: Db, stores: list[str]) -> dict[str, Interval]:
    """The latest calibration interval any gateway of each store reported (none: no interval known)."""
    out: dict[str, Interval] = {}
    marks = ",".join("?" * len(stores))
    for store, agent, learned in db.execute(
        f"SELECT store, agent, learned FROM agents WHERE store IN ({marks}) AND learned IS NOT NULL"
        " ORDER BY store, agent", stores,
    ):
        try:
            got = json.loads(learned)
            low, high = float(got["visitors_q10"]), float(got["visitors_q90"])
        except (ValueError, KeyError, TypeError):
            continue
        if not 0 < low < high:  # (1, 1): calibrate had too few days to say (agent.calibrate.ratio_interval)
            continue
        at = str(got.get("calibrated_at", ""))
        if store not in out or at > out[store].calibrated_at:
            out[store] = Interval(low, high, at, agent)
    return out


def door_fit_spans(
    db: Db, stores: list[str], cal: Calendar, windows: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The days before each window that a door fit looks back on, when any of `stores` has door counts
    in the calendar (else none: a store without a counter reads no more than before)."""
    marks = ",".join("?" * len(stores))
    if db.execute(f"SELECT 1 FROM doors WHERE store IN ({marks}) AND minute_epoch_s >= ?"
                  " AND minute_epoch_s < ? LIMIT 1", [*stores, cal.t0, cal.t1]).fetchone() is None:
        return []
    out = []
    for lo, _ in windows:
        i = cal.day_of(max(lo, cal.t0))
        out.append((cal.bounds[max(i - FIT_WINDOW_D + 1, 0)], max(lo, cal.t0)))
    return out


def door_factors(
    wifi_people: dict[int, float], door_in: dict[int, float], calibrated: float
) -> dict[int, tuple[float, str]]:
    """Per day index: (Wi-Fi factor, its source) from agent.common.recalibrate.rolling_factors over the days
    with Wi-Fi or door data (`door_in` holds only the days the counter reported). Empty without doors."""
    if not door_in:
        return {}
    days = sorted({*wifi_people, *door_in})
    counts = [DayCounts(i, wifi_people.get(i, 0.0), door_in.get(i)) for i in days]
    return {f.day: (f.factor, f.source) for f in rolling_factors(counts, calibrated, window_d=FIT_WINDOW_D)}
