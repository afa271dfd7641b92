"""The columns every tabular format shows, in order, with units in the names."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hub.joins.daily import PeriodRow
from hub.joins.definitions import duration
from hub.joins.metrics import COMPARED, MetricsRow, StoreSettings
from hub.locales import locale
from hub.locales import money as amount

COLUMNS = (
    "period",
    "start",
    "visitors",
    "passersby",
    "capture_rate",
    "median_dwell_s",
    "visitor_visits_n",
    "transactions",
    "net_sales_cents",
    "traffic_in",
    "conversion",
    "occupancy",
    "mean_dwell_s",  # issue 19: the people's mean stay, and 80 % intervals (empty: not calibrated)
    "visitors_low",
    "visitors_high",
    "traffic_in_low",
    "traffic_in_high",
)


def record(period: str, row: PeriodRow) -> dict[str, Any]:
    """A row as a mapping of COLUMNS; `period` is hour or day."""
    return {"period": period, **row.as_dict()}


def with_interval(text: str, low: float | None, high: float | None, show: Callable[[float], str]) -> str:
    """A figure with its 80 % interval as a report shows it, `15 (12-18)`; as it is without one (or
    for a count, whose bounds are itself)."""
    if low is None or high is None or low == high:
        return text
    return f"{text} ({show(low)}-{show(high)})"


def money(cents: int) -> str:
    """Integer cents as a decimal amount: -1250 -> '-12.50'."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def metric_columns() -> tuple[str, ...]:
    """Columns of a MetricsReport row in csv: every MetricsRow field, comparisons flattened
    (`traffic_in_last_week`, `traffic_in_avg_4_weeks`, ...), member ids joined by spaces."""
    plain = [f.name for f in dataclasses.fields(MetricsRow) if f.name not in ("last_week", "avg_4_weeks")]
    return (*plain, *(f"{m}_last_week" for m in COMPARED), *(f"{m}_avg_4_weeks" for m in COMPARED))


def metric_record(row: MetricsRow) -> dict[str, Any]:
    """A MetricsRow as a flat mapping of metric_columns()."""
    out = row.as_dict()
    out["members_not_bought"] = " ".join(row.members_not_bought)
    for m in COMPARED:
        out[f"{m}_last_week"] = row.last_week.get(m)
        out[f"{m}_avg_4_weeks"] = row.avg_4_weeks.get(m)
    del out["last_week"], out["avg_4_weeks"]
    return out


def settings_words(used: StoreSettings) -> list[tuple[str, str]]:
    """A store's settings as a manager reads them: what each does, with its value."""
    s, loc = used.settings, locale(used.locale)
    return [
        ("time zone", used.timezone),
        ("money", f"{used.currency or 'no currency set'}, written {amount(123456, loc, used.currency)}"),
        ("a visitor stays at least", duration(s["min_dwell_s"])),
        ("a stay ends after a gap of", duration(s["visit_timeout_s"])),
        ("a visitor's phone is heard at", f"{s['visitor_rssi_dbm']} dBm or stronger,"
                                          f" at least {s['visitor_sightings_n']} times"),
        ("people per visitor phone (calibration)", f"{used.calibration_factor:g}"),
        ("a phone is recognised for", f"{s['linkability_window_d']} day(s) (its key window)"),
        ("member loyalty looks back", f"{s['loyalty_window_d']} days"),
        ("gateways", ", ".join(used.agents) or "none reported"),
    ]
