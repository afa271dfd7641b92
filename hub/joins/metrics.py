"""Store metrics by local hour, day, week or month (docs/metrics.md): the hub's one metrics API.

    store_metrics(db, config, stores, start, end, grain) -> MetricsReport

`start` and `end` are local dates, both included; `grain` is hour, day, week (Monday to Sunday, ISO)
or month, on each store's own local calendar. A week or month cut by `start`/`end` covers only the days
inside the range (`days_n` says how many). Rows come store by store, then in time order; a metric is
None where nothing was reported (unknown, not zero). `MetricsReport.definitions()` and
`.settings_used()` state what every number means and the settings behind it, linkability window
included; every format prints them. The HTML report and the MQTT republisher read this model too, so
its field names are a contract: add fields, do not rename them.

Loading is `metric_data.py` (one query per table for the whole range and all the stores sharing
a time zone and settings), bucketing `calendar.py`, and
the arithmetic per period `metric_rows.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from hub.config import HubConfig
from hub.store.sql import Db

Grain = Literal["hour", "day", "week", "month"]
GRAINS: tuple[Grain, ...] = ("hour", "day", "week", "month")
# Metrics compared with the same period 1 to 4 weeks earlier (the same weekday last week, 4 weeks' mean).
COMPARED = ("traffic_in", "visitors", "capture_rate", "transactions", "net_sales_cents", "conversion")
ENGAGEMENT_BUCKETS_S = ((300, 1200), (1200, 3600), (3600, 21600), (21600, None))


def weeks_mean(got: Sequence[dict[str, float | None] | None]) -> dict[str, float | None]:
    """`avg_4_weeks`: the mean of each COMPARED metric over the earlier weeks where it is known."""
    avg: dict[str, float | None] = {}
    for m in COMPARED:
        vals = [v for g in got if g is not None and (v := g[m]) is not None]
        avg[m] = sum(vals) / len(vals) if vals else None
    return avg


class NoMetricsError(LookupError):
    """Nothing at all is stored for any of the stores in the range."""


@dataclass(frozen=True)
class MetricsRow:
    """One store and one period. Money in integer cents; ratios unrounded; None: unknown."""

    store: str
    grain: str
    start: datetime  # local, with the store's offset
    end: datetime  # exclusive
    days_n: int  # local days of the period inside the range (a week cut by the range has fewer than 7)
    traffic_in: float | None
    traffic_source: str | None  # door_counters, wifi_visitors, wifi_door_fit, wifi_carried or mixed
    visitors: int | None
    passersby: int | None
    capture_rate: float | None
    visitor_visits_n: int
    median_dwell_s: float | None
    engaged_5_20_min_n: int
    engaged_20_60_min_n: int
    engaged_1_6_h_n: int
    engaged_6_h_plus_n: int
    bounces_n: int
    bounce_rate: float | None
    new_visitors_n: int | None  # None when the linkability window is 1 day (nobody can be recognised)
    returning_visitors_n: int | None
    transactions: int
    net_sales_cents: int
    conversion: float | None
    sales_per_visitor_cents: float | None
    avg_transaction_value_cents: float | None
    labour_hours: float | None  # None: no staff schedule imported for the period
    shoppers_per_staff_hour: float | None
    member_visits_n: int | None  # None: no member visit ever stored for the store (no consenting member seen)
    member_visitors_n: int | None
    member_returning_n: int | None
    member_buyers_n: int | None
    member_conversion: float | None
    members_not_bought: tuple[str, ...]  # member ids of members who visited and bought nothing
    loyalty_first_time_n: int | None
    loyalty_occasional_n: int | None
    loyalty_weekly_n: int | None
    loyalty_daily_n: int | None
    last_week: dict[str, float | None] = field(default_factory=dict)  # COMPARED, same period 7 days earlier
    avg_4_weeks: dict[str, float | None] = field(default_factory=dict)  # COMPARED, mean of 1-4 weeks earlier
    occupancy: float | None = None  # hour rows: people present at some time in the hour; None for longer
    sales_known: bool = False  # a POS export reached this period's last day: 0 transactions mean none sold
    mean_dwell_s: float | None = None  # the mean stay of the people who arrived in the period
    # 80 % intervals (hub.joins.estimates): None where the store's agents sent no calibration interval
    visitors_low: float | None = None
    visitors_high: float | None = None
    traffic_in_low: float | None = None  # door-counted days count as they are (low = high = the count)
    traffic_in_high: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Field names with their units; times ISO 8601 with the store's offset."""
        out = asdict(self)
        out["start"] = self.start.isoformat()
        out["end"] = self.end.isoformat()
        out["members_not_bought"] = list(self.members_not_bought)
        return out


@dataclass(frozen=True)
class StoreSettings:
    """What one store's numbers were computed with."""

    store: str
    timezone: str
    calibration_factor: float
    settings: dict[str, Any]  # MetricSettings as a mapping (linkability_window_d, loyalty_window_d, ...)
    agents: tuple[str, ...]
    currency: str = ""  # ISO 4217; "" when the config does not say
    locale: str = "en"  # how amounts are written (hub.locales)

    @property
    def linkability_window_d(self) -> int:
        return int(self.settings["linkability_window_d"])

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.settings,
            "calibration_factor": self.calibration_factor,
            "timezone": self.timezone,
            "currency": self.currency,
            "locale": self.locale,
            "agents": list(self.agents),
        }


@dataclass(frozen=True)
class MetricsReport:
    """Rows of every store and period, with the settings and definitions they were computed with."""

    stores: tuple[str, ...]
    start: date
    end: date  # included
    grain: str
    rows: tuple[MetricsRow, ...]
    store_settings: tuple[StoreSettings, ...]

    def rows_of(self, store: str) -> tuple[MetricsRow, ...]:
        return tuple(r for r in self.rows if r.store == store)

    def settings_used(self) -> dict[str, dict[str, Any]]:
        """Per store: thresholds, windows, calibration factor, time zone, agents."""
        return {s.store: s.as_dict() for s in self.store_settings}

    def linkability(self) -> str:
        """The linkability windows in one sentence (every report states it)."""
        windows = sorted({s.linkability_window_d for s in self.store_settings})
        days = ", ".join(str(w) for w in windows)
        return (
            f"{days} day(s): a device key links visits only within its window, so returning visitors are"
            " recognised only within it, and visitors of a week or month are the sum of daily counts;"
            " members are recognised across windows by their member key"
        )

    def definitions(self) -> dict[str, str]:
        return definitions(self.store_settings)


def definitions(store_settings: tuple[StoreSettings, ...] = ()) -> dict[str, str]:
    """What each metric means, with the stores' setting values (hub.joins.definitions)."""
    from hub.joins.definitions import definitions as words  # noqa: PLC0415 -- keeps the API module short

    out = words(store_settings)
    if store_settings:
        probe = MetricsReport((), date.min, date.min, "day", (), store_settings)
        out["linkability window"] = probe.linkability()
    return out


def store_metrics(  # noqa: PLR0917 -- the agreed API reads like a sentence: db, config, what, when, grain
    db: Db,
    config: HubConfig,
    stores: list[str],
    start: date,
    end: date,
    grain: Grain = "day",
    *,
    compare: bool = True,
    rollups: bool = True,
) -> MetricsReport:
    """Every metric of each store for each period of `grain` from `start` to `end` (local, included).

    NoMetricsError when none of the stores has any data in the range; ValueError for a bad grain or
    an end before the start. `compare=False` leaves out last week and the 4-week average (cheaper).
    `rollups=False` computes every day row from the records, fresh day rollups or not (the same rows).
    """
    return store_metrics_by(db, config, stores, start, end, (grain,), compare=compare, rollups=rollups)[grain]


def store_metrics_by(  # noqa: PLR0917 -- store_metrics' signature, several grains
    db: Db,
    config: HubConfig,
    stores: list[str],
    start: date,
    end: date,
    grains: tuple[Grain, ...],
    *,
    compare: bool = True,
    rollups: bool = True,
) -> dict[str, MetricsReport]:
    """store_metrics for each of `grains`, from one load of the data (a store-day's hours and day)."""
    from hub.joins.metric_rows import stores_rows  # noqa: PLC0415 -- the heavy part, see the docstring

    for grain in grains:
        if grain not in GRAINS:
            raise ValueError(f"grain {grain!r} is not one of {', '.join(GRAINS)}")
    if end < start:
        raise ValueError(f"the end {end.isoformat()} is before the start {start.isoformat()}")
    chosen = list(dict.fromkeys(stores))
    by_store = stores_rows(db, config, chosen, start, end, tuple(dict.fromkeys(grains)), compare=compare,
                           rollups=rollups)
    if not any(by_store[s][0] for s in chosen):
        names = ", ".join(repr(s) for s in chosen)
        when = f"on {start}" if start == end else f"from {start.isoformat()} to {end.isoformat()}"
        raise NoMetricsError(f"no data for store {names} {when}")
    used = tuple(by_store[s][2] for s in chosen)
    return {g: MetricsReport(tuple(chosen), start, end, g,
                             tuple(r for s in chosen for r in by_store[s][1][g]), used) for g in grains}
