"""A store's local day, by hour and in total: a view of the metrics engine, not an engine of its own.

    daily_report(db, config, store, day) -> DailyReport  # hours (local order) and the day's totals

`report --date D`, the live view and the data-team feed read a store-day through this one call; the
rows are `hub.joins.metrics.MetricsRow`s, computed by the same code as every other report (two engines
drifted once: one of them counted voided sales). A value of None is not known (nobody reported it),
never zero. With `compare=False` the rows carry no comparisons with earlier weeks, which makes the
call cheap enough to repeat every few seconds for "today so far".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.config import HubConfig, MetricSettings
from hub.joins.metrics import MetricsRow, NoMetricsError, StoreSettings, definitions, store_metrics_by
from hub.store.sql import Db

NoDataError = NoMetricsError  # the name callers of the daily report catch
PeriodRow = MetricsRow  # an hour or the day: the engine's row


@dataclass(frozen=True)
class DailyReport:
    """Hours and day totals of one store's local date, with what they mean."""

    store: str
    date: date
    timezone: str
    calibration_factor: float
    settings: MetricSettings
    traffic_source: str  # door_counters, wifi_visitors, wifi_door_fit or wifi_carried (never mixed: one day)
    agents: tuple[str, ...]
    hours: tuple[MetricsRow, ...]
    day: MetricsRow
    store_settings: StoreSettings

    def settings_used(self) -> dict[str, Any]:
        return {**self.store_settings.as_dict(), "traffic_in_source": self.traffic_source}

    def definitions(self) -> dict[str, str]:
        return definitions((self.store_settings,))


def daily_report(
    db: Db, config: HubConfig, store: str, day: date, *, compare: bool = True
) -> DailyReport:
    """The store's local day; NoDataError when nothing is stored for the store on that date."""
    got = store_metrics_by(db, config, [store], day, day, ("hour", "day"), compare=compare)
    hours, days = got["hour"], got["day"]
    (total,) = days.rows
    used = days.store_settings[0]
    sc = config.store(store)
    return DailyReport(
        store, day, used.timezone, used.calibration_factor, sc.settings,
        total.traffic_source or "wifi_visitors", used.agents, hours.rows, total, used,
    )
