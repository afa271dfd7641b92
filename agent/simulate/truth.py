"""Ground truth of a simulated day, computed from the frames actually emitted (docs/metrics.md).

Computed, not intended: a phone meant as a visitor whose frames miss the rule would make every score
against the truth wrong, so visits, kinds and counts are derived from the emitted sightings with the
same definitions the pipeline applies. Devices appear by index only: the truth never holds a MAC.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

US = 1_000_000
HOUR_US = 3600 * US
STATIC_KINDS = ("staff", "fixture")


@dataclass(frozen=True)
class Settings:
    """The definitions' thresholds, stated in the truth file as every report states them."""

    visit_timeout_s: int = 900
    min_dwell_s: int = 300
    visitor_rssi_dbm: int = -70
    min_strong_sightings: int = 3


@dataclass(frozen=True)
class Visit:
    """Sightings of one device with no gap longer than the visit timeout."""

    start_us: int
    end_us: int
    strong_n: int  # sightings at or above the visitor RSSI

    def is_visitor(self, s: Settings) -> bool:
        """Dwell >= min dwell with enough strong sightings."""
        return self.end_us - self.start_us >= s.min_dwell_s * US and self.strong_n >= s.min_strong_sightings

    def is_bounce(self, s: Settings) -> bool:
        """Visitor-level signal (enough strong sightings) but shorter than min dwell."""
        return self.end_us - self.start_us < s.min_dwell_s * US and self.strong_n >= s.min_strong_sightings


@dataclass(frozen=True)
class DeviceTruth:
    """One physical device: what it was meant to be (static kinds) and every sighting time it emitted."""

    index: int
    kind: str  # staff | fixture | visitor | bounce | passerby
    randomized: bool
    model: str
    visits: tuple[Visit, ...]
    times_us: tuple[int, ...]  # sorted
    macs_n: int


@dataclass(frozen=True)
class Sale:
    """One POS row (refunds are negative)."""

    transaction_id: str
    at_s: int
    amount_cents: int


def sessionize(times_us: Sequence[int], rssis: Sequence[int], s: Settings) -> tuple[Visit, ...]:
    """Split sorted sightings into visits at gaps longer than the visit timeout."""
    visits: list[Visit] = []
    if not times_us:
        return ()
    timeout = s.visit_timeout_s * US
    start = prev = times_us[0]
    strong = 0
    for t, rssi in zip(times_us, rssis, strict=True):
        if t - prev > timeout:
            visits.append(Visit(start, prev, strong))
            start, strong = t, 0
        strong += rssi >= s.visitor_rssi_dbm
        prev = t
    visits.append(Visit(start, prev, strong))
    return tuple(visits)


def classify(visits: Sequence[Visit], s: Settings) -> str:
    """visitor if any visitor visit, else bounce if any bounce visit, else passerby."""
    if any(v.is_visitor(s) for v in visits):
        return "visitor"
    if any(v.is_bounce(s) for v in visits):
        return "bounce"
    return "passerby"


def _utc(us: int) -> str:
    return dt.datetime.fromtimestamp(us // US, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _overlaps(v: Visit, start: int, end: int) -> bool:
    return v.start_us < end and v.end_us >= start


def build_truth(
    *,
    store: str,
    date: dt.date,
    timezone: str,
    settings: Settings,
    devices: Sequence[DeviceTruth],
    sales: Sequence[Sale],
    day_start_us: int,
    day_end_us: int,
) -> dict[str, Any]:
    """Hours of the local day (UTC starts), day totals and the device list, as one JSON-ready dict."""
    counted = [d for d in devices if d.kind not in STATIC_KINDS]
    hours = []
    for h in range(day_start_us, day_end_us, HOUR_US):
        visitors = passersby = 0
        for d in counted:
            if any(v.is_visitor(settings) and _overlaps(v, h, h + HOUR_US) for v in d.visits):
                visitors += 1
            elif bisect.bisect_left(d.times_us, h) < bisect.bisect_left(d.times_us, h + HOUR_US):
                passersby += 1
        transactions = sum(h <= sale.at_s * US < h + HOUR_US and sale.amount_cents > 0 for sale in sales)
        row = {"hour_start": _utc(h), "visitors": visitors, "passersby": passersby}
        hours.append(row | {"transactions": transactions})
    visitor_devices = [d for d in counted if any(v.is_visitor(settings) for v in d.visits)]
    totals = {
        "visitors": len(visitor_devices),
        "visitor_visits": sum(v.is_visitor(settings) for d in counted for v in d.visits),
        "passersby": len(counted) - len(visitor_devices),
        "bounces": sum(v.is_bounce(settings) for d in counted for v in d.visits),
        "transactions": sum(sale.amount_cents > 0 for sale in sales),  # a refund is not a transaction
        "refunds": sum(sale.amount_cents < 0 for sale in sales),
        "net_sales": round(sum(sale.amount_cents for sale in sales) / 100, 2),
    }
    return {
        "store": store,
        "date": date.isoformat(),
        "timezone": timezone,
        "settings": asdict(settings),
        "hours": hours,
        "totals": totals,
        "devices": [
            {
                "index": d.index,
                "kind": d.kind,
                "randomized": d.randomized,
                "model": d.model,
                "visits": [[v.start_us / US, v.end_us / US] for v in d.visits],
                "frames_n": len(d.times_us),
                "macs_n": d.macs_n,
            }
            for d in devices
        ],
    }


def dumps_truth(truth: dict[str, Any]) -> str:
    """Indented JSON with one hour and one device per line: readable, diffable, a few hundred KB."""
    lines = ["{"]
    for i, (key, value) in enumerate(truth.items()):
        comma = "," if i < len(truth) - 1 else ""
        if isinstance(value, list):
            rows = ",\n  ".join(json.dumps(item) for item in value)
            lines.append(f' "{key}": [\n  {rows}\n ]{comma}')
        else:
            lines.append(f' "{key}": {json.dumps(value)}{comma}')
    return "\n".join(lines) + "\n}\n"
