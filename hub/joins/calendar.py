"""A store's local calendar over a range: local hours and days as epoch buckets, and periods of a grain.

Local hours are contiguous 3600 s buckets from the first local midnight (a daylight-saving day has 23
or 25 of them); days are found by bisecting the local midnights. Weeks run Monday to Sunday (ISO).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HOUR_S = 3600


@dataclass(frozen=True)
class Period:
    """Days first..last (indices into Calendar.days, included); `hours` for an hour period."""

    first: int
    last: int
    hour: int | None = None  # hour index for the hour grain


class Calendar:
    """Local days `first`..`last` (included) of one time zone."""

    def __init__(self, tz: ZoneInfo, first: date, last: date) -> None:
        self.tz = tz
        n = (last - first).days + 1
        self.days = tuple(first + timedelta(days=i) for i in range(n))
        self.bounds = tuple(int(datetime.combine(first + timedelta(days=i), time(0), tz).timestamp())
                            for i in range(n + 1))
        self.t0, self.t1 = self.bounds[0], self.bounds[-1]
        self.hours_n = (self.t1 - self.t0) // HOUR_S
        hour_day: list[int] = []
        for i in range(n):
            hour_day.extend([i] * ((self.bounds[i + 1] - self.bounds[i]) // HOUR_S))
        self.hour_day = tuple(hour_day)

    def index(self, day: date) -> int:
        return (day - self.days[0]).days

    def day_of(self, epoch: int) -> int:
        """Index of the local day holding `epoch` (-1 before the first, len(days) after the last)."""
        return bisect_right(self.bounds, epoch) - 1

    def hour_of(self, epoch: int) -> int:
        return (epoch - self.t0) // HOUR_S

    def day_hours(self, i: int) -> range:
        """Hour indices of day i."""
        return range((self.bounds[i] - self.t0) // HOUR_S, (self.bounds[i + 1] - self.t0) // HOUR_S)

    def local(self, epoch: int) -> datetime:
        return datetime.fromtimestamp(epoch, self.tz)

    def periods(self, grain: str, start: date, end: date) -> list[Period]:
        """The periods of `grain` covering start..end, cut to the range."""
        a, b = self.index(start), self.index(end)
        if grain == "hour":
            return [Period(i, i, k) for i in range(a, b + 1) for k in self.day_hours(i)]
        if grain == "day":
            return [Period(i, i) for i in range(a, b + 1)]
        out: list[Period] = []
        i = a
        while i <= b:
            d = self.days[i]
            if grain == "week":
                nxt = d + timedelta(days=7 - d.weekday())
            else:
                nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
            j = min(self.index(nxt) - 1, b)
            out.append(Period(i, j))
            i = j + 1
        return out

    def shifted(self, p: Period, weeks: int) -> Period | None:
        """The same period `weeks` weeks earlier (the same local wall-clock hour), None before the range."""
        first, last = p.first - 7 * weeks, p.last - 7 * weeks
        if first < 0:
            return None
        if p.hour is None:
            return Period(first, last)
        wall = self.local(self.t0 + p.hour * HOUR_S).replace(tzinfo=None) - timedelta(days=7 * weeks)
        hour = self.hour_of(int(wall.replace(tzinfo=self.tz).timestamp()))
        return Period(first, last, hour) if 0 <= hour < self.hours_n else None
