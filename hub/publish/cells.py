"""A store-day's report as payload values, with small cells suppressed (DESIGN section 3).

Primary: a device count from 1 to k-1 (`visits_n`, `visitors_n`, `passersby_n`) is withheld (null,
named in `suppressed`); so are the figures computed from it (capture rate; traffic and conversion when
traffic is Wi-Fi visitors x factor). A zero singles out nobody and is published.

Complementary: the day total minus the published hours would give back the suppressed hours, so when
the suppressed hours of a field add up to fewer than k, the day's figure of that field is withheld
too. The day is the complement because hours are published as they close: an hour already out cannot
be taken back, the day (published once it has closed) can still be withheld.

Door counts count people at a door, not devices, and POS figures are sales: neither is suppressed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from agent.wire.records import iso
from hub.publish.payload import DEVICE_FIELDS, SCHEMA_VERSION


class Row(Protocol):
    """What a period row of the joins gives (hub.joins.daily.PeriodRow, hub.joins.metrics.MetricsRow)."""

    @property
    def start(self) -> datetime: ...
    @property
    def visitor_visits_n(self) -> int: ...
    @property
    def visitors(self) -> int | None: ...
    @property
    def passersby(self) -> int | None: ...
    @property
    def capture_rate(self) -> float | None: ...
    @property
    def traffic_in(self) -> float | None: ...
    @property
    def transactions(self) -> int: ...
    @property
    def net_sales_cents(self) -> int: ...
    @property
    def conversion(self) -> float | None: ...


@dataclass(frozen=True)
class StoreDay:
    """One store's local day: its hours (local order) and the day's totals."""

    store: str
    timezone: str
    traffic_source: str
    hours: Sequence[Row]
    day: Row

_FROM_ROW = {"visits_n": "visitor_visits_n", "visitors_n": "visitors", "passersby_n": "passersby"}


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _values(
    report: StoreDay, org: str, row: Row, *, period: str, end: datetime, k: int, published_at: float
) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "org": org,
        "store": report.store,
        "period": period,
        "start_at": _utc(row.start),
        "end_at": _utc(end),
        "local_start": row.start.isoformat(),
        "timezone": report.timezone,
        "published_at": iso(published_at),
        "k": k,
        "visits_n": row.visitor_visits_n,
        "visitors_n": row.visitors,
        "passersby_n": row.passersby,
        "capture_rate": row.capture_rate,
        "traffic_in": row.traffic_in,
        "traffic_source": report.traffic_source,
        "transactions_n": row.transactions,
        "net_sales_cents": row.net_sales_cents,
        "conversion": row.conversion,
        "suppressed": [],
    }


def _withhold(cell: dict[str, Any], names: set[str], wifi_traffic: bool) -> None:
    """Null `names` and everything computed from them; record them in `suppressed`."""
    if names & {"visitors_n", "passersby_n"}:
        names.add("capture_rate")
    if wifi_traffic and "visitors_n" in names:
        names |= {"traffic_in", "conversion"}
    for name in names:
        cell[name] = None
    cell["suppressed"] = sorted(set(cell["suppressed"]) | names)


def _small(value: Any, k: int) -> bool:
    return isinstance(value, int) and 0 < value < k


def store_day_cells(
    report: StoreDay, org: str, k: int, published_at: float
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(hour cells in local order, the day cell), each a complete payload's values, suppressed."""
    wifi = report.traffic_source == "wifi_visitors"
    hours = [
        _values(report, org, row, period="hour", end=row.start.astimezone(UTC) + timedelta(hours=1),
                k=k, published_at=published_at)
        for row in report.hours  # in UTC: 3600 s apart from local midnight (23 or 25 on a DST day)
    ]
    day_end = report.day.start.astimezone(UTC) + timedelta(hours=len(report.hours))
    day = _values(report, org, report.day, period="day", end=day_end, k=k, published_at=published_at)
    for cell in hours:
        small = {f for f in DEVICE_FIELDS if _small(cell[f], k)}
        if small:
            _withhold(cell, small, wifi)
    complementary = set()
    for f in DEVICE_FIELDS:
        hidden = [getattr(r, _FROM_ROW[f]) for r, c in zip(report.hours, hours, strict=True)
                  if f in c["suppressed"]]
        if hidden and sum(hidden) < k:
            complementary.add(f)
    primary = {f for f in DEVICE_FIELDS if _small(day[f], k)}
    if primary | complementary:
        _withhold(day, primary | complementary, wifi)
    return hours, day
