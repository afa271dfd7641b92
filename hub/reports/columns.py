"""The columns every tabular format shows, in order, with units in the names."""

from __future__ import annotations

from typing import Any

from hub.joins.daily import PeriodRow

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
)


def record(period: str, row: PeriodRow) -> dict[str, Any]:
    """A row as a mapping of COLUMNS; `period` is hour or day."""
    return {"period": period, **row.as_dict()}


def money(cents: int) -> str:
    """Integer cents as a decimal amount: -1250 -> '-12.50'."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"
