"""The total of a report's periods (a totals row): counts summed, ratios the ratio of the sums.

Written once for every output that shows a total (the HTML page, the terminal table), with the same
rules as the engine's weeks and months: visitors add up over days (a phone is recognised only within
its key window), a median does not add up (left unknown), and a rate is never an average of rates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.joins.metrics import MetricsRow

SUMMED = ("traffic_in", "visitors", "passersby", "visitor_visits_n", "bounces_n", "transactions",
          "net_sales_cents", "labour_hours", "engaged_5_20_min_n", "engaged_20_60_min_n", "engaged_1_6_h_n",
          "engaged_6_h_plus_n")


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def total(rows: Sequence[MetricsRow]) -> dict[str, Any]:
    """Sums of SUMMED (None where no row knows it) and the ratios of docs/metrics.md over them."""
    out: dict[str, Any] = {}
    for m in SUMMED:
        known = [getattr(r, m) for r in rows if getattr(r, m) is not None]
        out[m] = sum(known) if known else None
    v, p = out["visitors"], out["passersby"]
    out["capture_rate"] = _div(v, (v or 0) + (p or 0)) if v is not None and p is not None else None
    out["conversion"] = _div(out["transactions"], out["traffic_in"])
    out["sales_per_visitor_cents"] = _div(out["net_sales_cents"], out["traffic_in"])
    out["avg_transaction_value_cents"] = _div(out["net_sales_cents"], out["transactions"])
    out["shoppers_per_staff_hour"] = _div(out["traffic_in"], out["labour_hours"])
    out["median_dwell_s"] = None
    for m in ("visitors", "traffic_in"):  # an interval adds up its periods' bounds, where every one has them
        known = [r for r in rows if getattr(r, m) is not None]
        for end in ("low", "high"):
            bounds = [getattr(r, f"{m}_{end}") for r in known]
            out[f"{m}_{end}"] = sum(bounds) if known and None not in bounds else None
    return out
