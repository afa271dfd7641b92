"""Door-count recalibration: where a store has a door counter, the Wi-Fi factor follows it (issue 19).

People change phones, phones change how they probe (an OS update can halve the frames a phone sends),
so a factor fitted once drifts. A door counter counts people directly, so each day gives a ratio
door entries / Wi-Fi visitors; the factor of a day is the median ratio of the last `window_d` days
that the counter can be trusted on. A counter's outage must not teach anything: a day without door
counts, or whose count is under `outage_share` of the window's median count while Wi-Fi heard a normal
day, is skipped (a counter unplugged at noon reports half a day). Until `min_days` days are usable, the
factor stays what it was (the hand calibration, or the last good fit), and each day's figure says
which source its factor came from: `door_counter`, `carried` (an outage: the last door fit) or
`calibration`.

The median of ratios, not a least-squares slope: one day with a wedged door (a delivery, a school
class) moves a slope, not a median.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DayCounts:
    """One day of a store: Wi-Fi visitors (linked people, before any factor) and door entries."""

    day: int                 # days since any epoch (ordinal): only the order and spacing matter
    wifi_visitors: float
    door_in: float | None    # None: no counter data that day


@dataclass(frozen=True, slots=True)
class DayFactor:
    day: int
    factor: float
    source: str              # door_counter, carried or calibration
    days_used_n: int


def rolling_factors(days: list[DayCounts], calibrated: float, *, window_d: int = 14, min_days: int = 3,
                    outage_share: float = 0.3) -> list[DayFactor]:
    """The factor for each day, from the days before and including it (sorted by day)."""
    out: list[DayFactor] = []
    factor, source = calibrated, "calibration"
    for i, today in enumerate(days):
        recent = [d for d in days[: i + 1] if today.day - d.day < window_d]
        counted = [d for d in recent if d.door_in is not None and d.wifi_visitors > 0]
        usable: list[DayCounts] = []
        if counted:
            typical = statistics.median(d.door_in or 0.0 for d in counted)
            floor = max(outage_share * typical, 1e-9)  # a dead counter's zeros are never a ratio
            usable = [d for d in counted if (d.door_in or 0.0) >= floor]
        if len(usable) >= min_days:
            factor = statistics.median((d.door_in or 0.0) / d.wifi_visitors for d in usable)
            source = "door_counter"
        elif source == "door_counter":
            source = "carried"
        out.append(DayFactor(today.day, factor, source, len(usable)))
    return out
