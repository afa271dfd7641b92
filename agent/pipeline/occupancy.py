"""Occupancy from the probe *rate*: devices heard per window, gated by devices heard near (issue 10).

Visits answer "who came and how long"; occupancy asks "how many are here now", and random MACs make a
visit count drift with how often phones change MAC. The count here is a rate-like signal (RateCount,
arXiv 2507.03873): the number of distinct non-static device keys heard in a window, turned into people by
the store's calibration factor. Two things keep it honest:

- near gate: a window counts only when at least `min_near` devices were heard *near* the gateway, else
  the room is empty (people in the corridor or next door are heard, weakly, all day). "Near" is the top
  class of a three-class split (Otsu) of the devices' strongest signals: outside / nearby / in the room;
  `min_near` is the two-class split (Otsu on log counts) of the windows' near counts: unused / in use.
  Both are learned from what the gateway heard on earlier days (kept in the state directory), so they
  follow each store's radio conditions; before any day is learned, FIRST_NEAR_DBM and FIRST_MIN_NEAR;
- no drift (issue 19): a day teaches the gate only when it was in use (at least OCCUPIED_SLOTS_MIN
  windows passed the gate in force), so weeks of a closed store teach nothing; a learned value stays
  within NEAR_BOUNDS and MIN_NEAR_BOUNDS (on brno-lab an unbounded split reached 39 near devices and
  turned whole days of 15 people into empty rooms); and once the store is calibrated the values the
  factor was fitted with are pinned (agent.calibrate stores them, replay passes them in as fixed);
- smoothing: a centred running median over `smooth_s`, since a room's occupancy changes slowly and the
  probe rate of phones is bursty.

The tally keeps, per minute, each device's strongest signal; it is fed by the sessionizer (optional, set by
replay) and never leaves the gateway.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from typing import Any

from agent.pipeline.pseudonymize import Sighting
from agent.wire.records import iso

MINUTE_S = 60
SLOT_S = 600          # the windows the gate is learned on
FIRST_NEAR_DBM, FIRST_MIN_NEAR = -65, 5  # until a day has been learned
MAX_DAYS = 28         # learning history kept, in days with data
OCCUPIED_SLOTS_MIN = 3           # windows in use a day needs before it teaches the gate
NEAR_BOUNDS = (-75, -55)         # a learned near threshold stays in here (dBm)
MIN_NEAR_BOUNDS = (2, 5)         # a learned "in use" count stays in here (chosen on brno-lab's 2022 days)


def otsu_split(hist: dict[float, int], classes: int = 2) -> list[float]:
    """Thresholds splitting a histogram {value: n} into `classes` (2 or 3) classes, maximising the
    between-class variance (Otsu). A threshold t puts values >= t in the upper class."""
    xs = sorted(hist)
    if len(xs) < classes:
        return [xs[-1] if xs else 0.0] * (classes - 1)
    n = [hist[x] for x in xs]
    cn, cs = [0], [0.0]
    for x, k in zip(xs, n, strict=True):
        cn.append(cn[-1] + k)
        cs.append(cs[-1] + x * k)

    def part(i: int, j: int) -> float:  # n * mean^2 of xs[i:j]
        k = cn[j] - cn[i]
        return (cs[j] - cs[i]) ** 2 / k if k else 0.0

    m = len(xs)
    if classes == 2:
        best = max(range(1, m), key=lambda i: part(0, i) + part(i, m))
        return [xs[best]]
    best_v, best_ij = -1.0, (1, 2)
    for i in range(1, m - 1):
        left = part(0, i)
        for j in range(i + 1, m):
            v = left + part(i, j) + part(j, m)
            if v > best_v:
                best_v, best_ij = v, (i, j)
    return [xs[best_ij[0]], xs[best_ij[1]]]


class OccupancyTally:
    """Per-minute device tally of one capture, and what is learned across days."""

    def __init__(self, near_rssi_dbm: int = 0, min_near: int = 0, count_rssi_dbm: int = -120,
                 smooth_s: float = 5400.0) -> None:
        self.near_fixed, self.min_near_fixed = near_rssi_dbm, min_near
        self.count_rssi = count_rssi_dbm
        self.smooth_s = smooth_s
        self.minutes: dict[int, dict[bytes, int]] = defaultdict(dict)  # minute -> device -> max rssi
        self.excluded: set[bytes] = set()
        # learned on earlier days: per day, a histogram of devices' strongest signal and the windows'
        # signal profiles (the near count of each window needs the split, so keep the per-window maxima)
        self.days: list[dict[str, Any]] = []

    def feed(self, sightings: list[Sighting]) -> None:
        minutes = self.minutes
        for s in sightings:
            m = minutes[int(s[0] // MINUTE_S)]
            dev, rssi = s[1], s[3]
            if rssi > m.get(dev, -999):
                m[dev] = rssi

    def exclude(self, devices: set[bytes]) -> None:
        """Devices found static during the day leave the day's counts from its start."""
        self.excluded |= devices

    # ---- per window

    def _windows(self, window_s: int) -> dict[int, dict[bytes, int]]:
        out: dict[int, dict[bytes, int]] = defaultdict(dict)
        excluded = self.excluded
        for minute, devs in self.minutes.items():
            w = int(minute * MINUTE_S // window_s) * window_s
            o = out[w]
            for dev, rssi in devs.items():
                if dev not in excluded and rssi > o.get(dev, -999):
                    o[dev] = rssi
        return out

    def _day_summary(self) -> dict[str, Any]:
        """This capture's contribution to learning: device max-signal histogram, per-slot maxima."""
        best: dict[bytes, int] = {}
        for devs in self.minutes.values():
            for dev, rssi in devs.items():
                if dev not in self.excluded and rssi > best.get(dev, -999):
                    best[dev] = rssi
        hist = Counter(best.values())
        slots = [sorted(d.values()) for d in self._windows(SLOT_S).values()]
        return {"rssi": {str(k): v for k, v in hist.items()}, "slots": slots}

    def thresholds(self) -> tuple[int, int]:
        """(near RSSI, min near devices): fixed by config, else learned from earlier days (or today)."""
        if not self.days:  # nothing learned yet: the research's figures (near ~ -65 dBm, several devices)
            return self.near_fixed or FIRST_NEAR_DBM, self.min_near_fixed or FIRST_MIN_NEAR
        days = self.days
        near = self.near_fixed
        if not near:
            hist: Counter[float] = Counter()
            for d in days:
                for k, v in d["rssi"].items():
                    hist[int(k)] += v
            near = int(otsu_split(hist, 3)[1]) if hist else FIRST_NEAR_DBM
            near = max(NEAR_BOUNDS[0], min(NEAR_BOUNDS[1], near))
        min_near = self.min_near_fixed
        if not min_near:
            counts: Counter[float] = Counter()
            for d in days:
                for maxima in d["slots"]:
                    counts[math.log1p(sum(1 for r in maxima if r >= near))] += 1
            min_near = round(math.expm1(otsu_split(counts, 2)[0])) if len(counts) > 1 else FIRST_MIN_NEAR
            min_near = max(MIN_NEAR_BOUNDS[0], min(MIN_NEAR_BOUNDS[1], min_near))
        return near, min_near

    def learned(self) -> dict[str, Any]:
        """What the gate uses and where it came from, for replay --summary and the agent's status."""
        near, min_near = self.thresholds()
        if self.near_fixed and self.min_near_fixed:
            source = "pinned"
        elif self.days:
            source = "learned"
        else:
            source = "default"
        return {"near_rssi_dbm": near, "occupied_min_near": min_near, "source": source,
                "days_learned_n": len(self.days),
                "last_learned_at": self.days[-1].get("learned_at") if self.days else None}

    def _in_use(self) -> bool:
        """Whether today passed the gate in at least OCCUPIED_SLOTS_MIN windows (then it may teach)."""
        near, min_near = self.thresholds()
        used = sum(1 for devs in self._windows(SLOT_S).values()
                   if sum(1 for r in devs.values() if r >= near) >= min_near)
        return used >= OCCUPIED_SLOTS_MIN

    def counts(self, window_s: int) -> dict[int, float]:
        """Window start -> devices heard (>= count_rssi_dbm), 0 where the near gate says empty, smoothed."""
        near, min_near = self.thresholds()
        raw: dict[int, float] = {}
        for w, devs in self._windows(window_s).items():
            near_n = sum(1 for r in devs.values() if r >= near)
            counted = sum(1 for r in devs.values() if r >= self.count_rssi)
            raw[w] = float(counted) if near_n >= min_near else 0.0
        h = int(self.smooth_s // window_s) // 2  # windows each side
        if h <= 0 or not raw:
            return raw
        lo, hi = min(raw), max(raw)
        return {w: statistics.median([raw.get(w + i * window_s, 0.0) for i in range(-h, h + 1)])
                for w in range(lo, hi + 1, window_s)}

    # ---- state across days

    def export_state(self) -> dict[str, Any]:
        """The learning history, with today added only when the store was in use today."""
        if not self.minutes or not self._in_use():
            return {"days": self.days}
        today = self._day_summary()
        today["learned_at"] = iso(max(self.minutes) * MINUTE_S)
        return {"days": [*self.days, today][-MAX_DAYS:]}

    def import_state(self, state: dict[str, Any]) -> None:
        self.days = list(state.get("days", []))[-MAX_DAYS:]
