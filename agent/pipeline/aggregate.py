"""Aggregate: per-minute counts, and per-hour and per-day distinct devices by class.

An hour's (or day's) classes are known only once every visit that overlaps it has closed or reached
visitor level, so a period is emitted at its end + the visit timeout; an open visit that has reached
visitor level by then counts as a visitor. Periods are local hours and days of the store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.pipeline.classify import BOUNCE, VISITOR
from agent.pipeline.pseudonymize import Sighting
from agent.pipeline.sessionize import ClosedVisit
from agent.wire.records import MinuteCounts, PeriodCounts, iso


@dataclass(slots=True)
class _Period:
    period: str
    start: float
    end: float
    seen: set[bytes] = field(default_factory=set)
    visitors: set[bytes] = field(default_factory=set)
    bounces_n: int = 0
    visits_n: int = 0

    def record(self) -> PeriodCounts:
        return PeriodCounts(
            period=self.period, start_at=iso(self.start), seen_n=len(self.seen | self.visitors),
            visitors_n=len(self.visitors), passersby_n=len(self.seen - self.visitors),
            bounces_n=self.bounces_n, visits_n=self.visits_n,
        )


class Aggregator:
    """Batch stage: sightings and classified visits in, MinuteCounts and PeriodCounts out."""

    def __init__(self, timezone: str, visit_timeout_s: float, lateness_s: float = 5.0) -> None:
        self.tz = ZoneInfo(timezone)
        self.hold_s = visit_timeout_s + lateness_s
        self.lateness_s = lateness_s
        self.clock_synced = True
        self._minute = -1.0
        self._minute_seen: set[bytes] = set()
        self._minute_frames = 0
        self._periods: dict[tuple[str, float], _Period] = {}

    def _period(self, kind: str, ts: float) -> _Period:
        local = datetime.fromtimestamp(ts, self.tz)
        if kind == "hour":
            start = local.replace(minute=0, second=0, microsecond=0)
            end = start + timedelta(hours=1)
        else:
            start = local.replace(hour=0, minute=0, second=0, microsecond=0)
            end = (start + timedelta(days=1, hours=2)).replace(hour=0)  # DST-safe next midnight
        key = (kind, start.timestamp())
        p = self._periods.get(key)
        if p is None:
            p = self._periods[key] = _Period(kind, start.timestamp(), end.timestamp())
        return p

    def feed(self, sightings: list[Sighting]) -> list[Any]:
        out: list[Any] = []
        minute, mseen = self._minute, self._minute_seen
        h_start = h_end = d_start = d_end = -1.0
        h_seen: set[bytes] = set()
        d_seen: set[bytes] = set()
        for s in sightings:
            ts = s[0]
            if ts >= minute + 60:
                if self._minute_frames:
                    out.append(self._minute_record(minute))
                minute = ts - ts % 60
                self._minute, mseen = minute, set()
                self._minute_seen, self._minute_frames = mseen, 0
            self._minute_frames += 1
            dev = s[1]
            mseen.add(dev)
            if not h_start <= ts < h_end:
                hour = self._period("hour", ts)
                h_start, h_end, h_seen = hour.start, hour.end, hour.seen
            if not d_start <= ts < d_end:
                day = self._period("day", ts)
                d_start, d_end, d_seen = day.start, day.end, day.seen
            h_seen.add(dev)
            d_seen.add(dev)
        return out

    def _minute_record(self, minute: float) -> MinuteCounts:
        return MinuteCounts(minute_at=iso(minute), probe_requests_n=self._minute_frames,
                            seen_n=len(self._minute_seen), clock_synced=self.clock_synced)

    def visits(self, visits: list[ClosedVisit]) -> None:
        """Mark the periods each visitor or bounce visit overlaps."""
        for v in visits:
            if v.kind in (VISITOR, BOUNCE):
                self._mark(v, self._periods.values())

    def _mark(self, v: ClosedVisit, periods: Any) -> None:
        for p in periods:
            if v.started < p.end and v.ended >= p.start:
                if v.kind == VISITOR:
                    p.visitors.add(v.device)
                    p.visits_n += 1
                else:
                    p.bounces_n += 1

    def flush(self, now: float, open_visits: Callable[[], list[ClosedVisit]]) -> list[Any]:
        """Emit the minute and the periods that can no longer change at `now`."""
        out: list[Any] = []
        if self._minute_frames and now >= self._minute + 60 + self.lateness_s:
            out.append(self._minute_record(self._minute))
            self._minute_seen, self._minute_frames = set(), 0
        due = [p for p in self._periods.values() if now >= p.end + self.hold_s]
        out.extend(self._emit(due, open_visits))
        return out

    def close(self, open_visits: Callable[[], list[ClosedVisit]]) -> list[Any]:
        """End of data: emit everything still held."""
        out: list[Any] = []
        if self._minute_frames:
            out.append(self._minute_record(self._minute))
            self._minute_seen, self._minute_frames = set(), 0
        out.extend(self._emit(list(self._periods.values()), open_visits))
        return out

    def _emit(self, due: list[_Period], open_visits: Callable[[], list[ClosedVisit]]) -> list[Any]:
        if not due:
            return []
        for v in open_visits():
            if v.kind == VISITOR:
                self._mark(v, due)
        for p in due:
            del self._periods[(p.period, p.start)]
        due.sort(key=lambda p: (p.start, p.period))
        return [p.record() for p in due]
