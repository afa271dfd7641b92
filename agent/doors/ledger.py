"""Turns what door sensors report into per-minute `DoorCounts` records, once per sensor and minute.

Sensors report in three shapes, and each needs its own bookkeeping to count every person once:

- `Interval`: counts of a closed interval (Xovis pushes). Keyed by (sensor, line, start): a push repeated
  by the sensor's retry is counted once, and a re-push with other values replaces the old ones.
- `Totals`: running totals (Axis live-sum, the generic push). The difference to the previous totals is
  counted; a total lower than before is a counter reset (midnight, reboot), counted from zero.
- `Delta`: counts since the last report (GPIO pulses).

A minute is reported `grace_s` after it ends, so late pushes still land in it. A minute that gets more
counts after it was reported is reported again with its new total: the hub keeps the last record per
(agent, sensor, minute), so a re-report replaces, never adds. Minutes stay known for `retain_s`;
counts older than that are dropped and counted (`door_too_late`).

Thread-safe: the HTTP listener's threads, the pollers and GPIO callbacks all record here.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from agent.wire.ranges import NUMBERS
from agent.wire.records import DoorCounts, iso, parse_iso

MINUTE_S = 60
EARLIEST_S = 1577836800  # 2020-01-01 UTC
MINUTE_MAX = min(NUMBERS["traffic_in_n"][1], NUMBERS["traffic_out_n"][1])  # the wire's range of a minute


@dataclass(frozen=True, slots=True)
class Interval:
    """People counted in [start, end) on one line of a sensor."""

    line: str
    start: float
    end: float
    in_n: int
    out_n: int


@dataclass(frozen=True, slots=True)
class Totals:
    """A sensor's running totals read at `at` (epoch seconds)."""

    at: float
    in_total: int
    out_total: int
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Delta:
    """People counted since the previous report, at `at`."""

    at: float
    in_n: int
    out_n: int


Observation = Interval | Totals | Delta


def minute_of(ts: float) -> int:
    """Start of the UTC minute holding `ts`."""
    return int(ts // MINUTE_S) * MINUTE_S


class DoorLedger:
    """Per-minute counts of every door sensor, with the state a restart needs."""

    def __init__(self, grace_s: float = 90.0, retain_s: float = 2 * 86400.0) -> None:
        self.grace_s = grace_s
        self.retain_s = retain_s
        self.counters: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, int], list[int]] = {}  # (sensor, minute) -> [in, out, dirty]
        self._intervals: dict[tuple[str, str, float], tuple[int, int]] = {}
        self._totals: dict[tuple[str, str], tuple[float, int, int]] = {}  # (sensor, channel) -> last
        self.last_seen: dict[str, float] = {}

    def record(self, sensor: str, observations: list[Observation], now: float) -> None:
        """Count `observations` of `sensor`, received at `now` (the sensor is alive even with none)."""
        with self._lock:
            self.last_seen[sensor] = now
            for obs in observations:
                if isinstance(obs, Interval):
                    self._interval(sensor, obs, now)
                elif isinstance(obs, Totals):
                    self._total(sensor, obs, now)
                else:
                    self._add(sensor, obs.at, obs.in_n, obs.out_n, now)

    def _add(self, sensor: str, ts: float, in_n: int, out_n: int, now: float) -> bool:
        minute = minute_of(ts)
        if minute < EARLIEST_S:  # the gateway's clock (GPIO, Axis) is not set yet: never file under 1970
            self.counters["door_clock_unset"] += 1
            return False
        if minute < now - self.retain_s:
            self.counters["door_too_late"] += 1
            return False
        bucket = self._buckets.get((sensor, minute), [0, 0, 0])
        if not (0 <= bucket[0] + in_n <= MINUTE_MAX and 0 <= bucket[1] + out_n <= MINUTE_MAX):
            # a minute the hub would refuse (and with it the whole batch): counted, never sent
            self.counters["door_out_of_range"] += 1
            return False
        self._buckets[(sensor, minute)] = [bucket[0] + in_n, bucket[1] + out_n, 1]
        return True

    def _interval(self, sensor: str, obs: Interval, now: float) -> None:
        key = (sensor, obs.line, obs.start)
        old = self._intervals.get(key)
        if old == (obs.in_n, obs.out_n):
            self.counters["door_duplicates"] += 1
            return
        was_in, was_out = old or (0, 0)
        if old is not None:
            self.counters["door_corrections"] += 1
        if self._add(sensor, obs.start, obs.in_n - was_in, obs.out_n - was_out, now):
            self._intervals[key] = (obs.in_n, obs.out_n)

    def _total(self, sensor: str, obs: Totals, now: float) -> None:
        key = (sensor, obs.channel)
        prev = self._totals.get(key)
        if prev is not None and obs.at < prev[0]:
            self.counters["door_out_of_order"] += 1  # an older reading arriving late: already counted
            return
        self._totals[key] = (obs.at, obs.in_total, obs.out_total)
        if prev is None:
            return  # the first reading is the baseline: nobody knows since when it counted
        d_in, d_out = obs.in_total - prev[1], obs.out_total - prev[2]
        if d_in < 0 or d_out < 0:
            self.counters["door_resets"] += 1  # the counter restarted from zero since the last reading
            d_in = obs.in_total if d_in < 0 else d_in
            d_out = obs.out_total if d_out < 0 else d_out
        self._add(sensor, obs.at, d_in, d_out, now)

    def flush(self, now: float, final: bool = False) -> list[DoorCounts]:
        """Records of the minutes that closed (all minutes when `final`) and changed since last time."""
        out: list[DoorCounts] = []
        with self._lock:
            for (sensor, minute), bucket in sorted(self._buckets.items()):
                if bucket[2] and (final or minute + MINUTE_S + self.grace_s <= now):
                    bucket[2] = 0
                    out.append(DoorCounts(sensor=sensor, minute_at=iso(minute), traffic_in_n=bucket[0],
                                          traffic_out_n=bucket[1]))
            self._prune(now)
            self.counters["door_records"] += len(out)
        return out

    def unflush(self, records: list[DoorCounts]) -> None:
        """Report these minutes again at the next flush (the outbox could not take them)."""
        with self._lock:
            for rec in records:
                bucket = self._buckets.get((rec.sensor, int(parse_iso(rec.minute_at))))
                if bucket is not None:
                    bucket[2] = 1

    def _prune(self, now: float) -> None:
        horizon = now - self.retain_s
        for bkey in [k for k, b in self._buckets.items() if k[1] < horizon and not b[2]]:
            del self._buckets[bkey]
        for ikey in [k for k in self._intervals if k[2] < horizon]:
            del self._intervals[ikey]

    def export_state(self) -> dict[str, Any]:
        """JSON-able state: minutes still open to late counts, last totals, intervals seen."""
        with self._lock:
            return {
                "buckets": [[s, m, *b] for (s, m), b in self._buckets.items()],
                "intervals": [[s, ln, st, *v] for (s, ln, st), v in self._intervals.items()],
                "totals": [[s, c, *v] for (s, c), v in self._totals.items()],
            }

    def import_state(self, state: dict[str, Any]) -> None:
        """Resume after a restart: a running total read again is not counted twice."""
        with self._lock:
            for s, m, i, o, d in state.get("buckets", []):
                self._buckets[(s, int(m))] = [int(i), int(o), int(d)]
            for s, ln, st, i, o in state.get("intervals", []):
                self._intervals[(s, ln, float(st))] = (int(i), int(o))
            for s, c, at, i, o in state.get("totals", []):
                self._totals[(s, c)] = (float(at), int(i), int(o))
