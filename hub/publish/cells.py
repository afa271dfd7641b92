"""A store-day's figures as payload values, with small counts withheld (docs/privacy.md).

Primary: a device count from 1 to k-1 (`visits_n`, `visitors_n`, `passersby_n`) is withheld (null,
named in `withheld` with reason `below_k`); so are the figures computed from it (`derived`: capture
rate; traffic and conversion when traffic is Wi-Fi visitors x factor). A zero singles out nobody.

Complementary (`hub.suppress`): per count field, the day is the total of its hours. Hours go
out as they become final, so when the day goes out they are fixed; if a reader could pin a withheld
hour from the day and the published hours, the day's figure is withheld (`complementary`). An hour
corrected or first published after its day is withheld itself when it would pin one. Every device
count is treated as adding up over hours (visits by start hour do exactly; distinct devices per hour
nearly), the cautious reading. The feed publishes no week, month or group totals, so the hours of a
day are its only such table; a report that publishes those totals applies `suppress.protect` to each.

Door counts count people at a door, not devices, and POS figures are sales: neither is withheld. POS
figures are null until a POS import covers the store's local day (`StoreDay.pos_known`): not known is
not zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from agent.wire.records import iso
from hub.publish.payload import DEVICE_FIELDS, SCHEMA_VERSION, SEGMENT_FIELDS
from hub.suppress import BELOW_K, DERIVED, Cell, primary, protect, protect_named


class Row(Protocol):
    """What a period row of the metrics engine gives (hub.joins.metrics.MetricsRow)."""

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
    """One store's local day: its hours (local order), the day's totals, and what the feed needs besides."""

    store: str
    timezone: str
    traffic_source: str
    hours: Sequence[Row]
    day: Row
    pos_known: bool = True  # a POS import covers this local day (else sales figures are null)
    calibration_factor: float = 1.0
    segments: dict[str, int] | None = None  # the store's members by lifecycle segment on the day

    @property
    def wifi(self) -> bool:
        return self.traffic_source == "wifi_visitors"


Counts = dict[str, int | None]  # the true device counts of a cell, kept to judge later corrections
DAY = -1  # the hour index of a day cell


def _utc(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def row_of(report: StoreDay, h: int) -> Row:
    return report.day if h == DAY else report.hours[h]


def counts(report: StoreDay, h: int) -> Counts:
    row = row_of(report, h)
    return {"visits_n": row.visitor_visits_n, "visitors_n": row.visitors,
            "passersby_n": row.passersby}


def values(report: StoreDay, org: str, h: int, k: int, published_at: float) -> dict[str, Any]:
    """The cell's payload values, nothing withheld yet (revision 0, exact counts)."""
    row = row_of(report, h)
    start = row.start.astimezone(UTC)
    # in UTC: hours are 3600 s apart from local midnight (a DST day has 23 or 25)
    end = start + timedelta(hours=len(report.hours) if h == DAY else 1)
    pos = report.pos_known
    return {
        "schema": SCHEMA_VERSION, "org": org, "store": report.store, "period": "day" if h == DAY else "hour",
        "start_at": _utc(start), "end_at": _utc(end), "local_start": row.start.isoformat(),
        "timezone": report.timezone, "published_at": iso(published_at), "revision": 0, "k": k,
        "noise_epsilon": None, **counts(report, h),
        "capture_rate": row.capture_rate, "traffic_in": row.traffic_in,
        "traffic_source": report.traffic_source,
        "transactions_n": row.transactions if pos else None,
        "net_sales_cents": row.net_sales_cents if pos else None,
        "conversion": row.conversion if pos else None,
        **{f"members_{s}_n": n if h == DAY else None for s, n in segments_of(report).items()},
        "withheld": [],
    }


def segments_of(report: StoreDay) -> dict[str, int | None]:
    """The store's members by segment (SEGMENT_FIELDS' order); None each when not computed."""
    names = [f.removeprefix("members_").removesuffix("_n") for f in SEGMENT_FIELDS]
    return {s: None if report.segments is None else report.segments.get(s, 0) for s in names}


def suppress_segments(cell: dict[str, Any], k: int) -> None:
    """Withhold members by segment from 1 to k-1 and their complements (hub.suppress, the total of the
    store's members taken as known): the same rule as device counts, applied with or without noise."""
    known = {f: int(cell[f]) for f in SEGMENT_FIELDS if cell[f] is not None}
    for f, reason in (protect_named(known, k) if k > 1 else {}).items():
        withhold(cell, f, reason, wifi=False)


def withheld(cell: dict[str, Any]) -> dict[str, str]:
    """field -> reason of the fields a cell withholds."""
    return {w["field"]: w["reason"] for w in cell["withheld"]}


def withhold(cell: dict[str, Any], field: str, reason: str, wifi: bool) -> None:
    """Null `field` and what is computed from it (reason `derived`); name them in `withheld`."""
    reasons = withheld(cell)
    reasons[field] = reason
    derived = ["capture_rate"] if field in ("visitors_n", "passersby_n") else []
    if wifi and field == "visitors_n":
        derived += ["traffic_in", "conversion"]
    for name in derived:
        reasons.setdefault(name, DERIVED)
    for name in reasons:
        cell[name] = None
    cell["withheld"] = [{"field": f, "reason": r} for f, r in sorted(reasons.items())]


def suppress_primary(cell: dict[str, Any], k: int, wifi: bool) -> None:
    """Withhold each device count from 1 to k-1."""
    for f in DEVICE_FIELDS:
        if isinstance(cell[f], int) and primary(cell[f], k):
            withhold(cell, f, BELOW_K, wifi)


def view(cell: dict[str, Any] | None, field: str, locked: bool = True) -> Cell:
    """A count as a reader sees it: published (its value) or withheld (its reason). A period never
    published, or published as not known, reads as 0, the cautious reading: it protects nothing."""
    if cell is None or (cell[field] is None and field not in withheld(cell)):
        return Cell(0, locked=locked)
    if cell[field] is not None:
        return Cell(int(cell[field]), locked=locked)
    return Cell(0, withheld(cell)[field], locked=locked)


def protect_cell(  # noqa: PLR0917 -- one call site (release), each argument a different thing
    cell: dict[str, Any], h: int, published: dict[int, dict[str, Any]], hours_n: int, k: int, wifi: bool
) -> bool:
    """Withhold counts of `cell` (hour `h` or DAY, about to go out) that a reader could use to pin a
    withheld count, given what is `published` of the day (hour index or DAY -> latest payload).
    False when that cannot be done (never for a day; for an hour, only when the published day and
    hours would pin it whatever it withholds: the caller then holds it back)."""
    for f in DEVICE_FIELDS:
        if cell[f] is None and f not in withheld(cell):
            continue  # not known: nothing to pin
        mine = view(cell, f, locked=False)
        if h == DAY:
            parts = [view(published.get(i), f) for i in range(hours_n)]
            total = mine
        else:
            if DAY not in published or (published[DAY][f] is None and f not in withheld(published[DAY])):
                continue  # no day figure out: nothing to subtract from
            parts = [mine if i == h else view(published.get(i), f) for i in range(hours_n)]
            total = view(published[DAY], f)
        pattern = protect(parts, total, k)
        if pattern.unresolved:
            return False
        chosen = pattern.total if h == DAY else pattern.parts[h]
        if chosen.reason and chosen.reason != mine.reason:
            withhold(cell, f, chosen.reason, wifi)
    return True
