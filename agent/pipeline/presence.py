"""Presence: what the store looks like now, sent within seconds instead of when visits close.

A visit record leaves the gateway only once the visit has ended (15 minutes of quiet by default), too
late for "people in the store now" or "a member has just come in". This stage follows the same open
visits as the sessionizer, but only as far as the live view needs:

- `Presence` counts (devices at visitor RSSI heard recently, new visits since the last record), at most
  one record every `every_s` seconds and only when someone came in or the present count moved (a
  passer-by alone sends nothing; `new_n` waits for the next record): counts, never a device key, so a
  passer-by still leaves nothing but counts (docs/privacy.md);
- `Arrival` once per visit, at its first sighting at visitor RSSI, for a device the hub listed as a
  consenting member's (its gateway key, which visits already carry); never for a randomized MAC.

The clock is the frames' own time. State is a small list per open device; `flush(now)` forgets devices
idle past the visit timeout, so memory follows the open visits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.pipeline.pseudonymize import Sighting
from agent.wire.records import Arrival, Presence, iso

# indexes into an open device's list
LAST, STRONG_LAST = range(2)
NEVER = float("-inf")


class PresenceTracker:
    """Batch stage: [Sighting] -> [Arrival] in `feed`, [Presence] in `flush(now)`."""

    def __init__(self, visit_timeout_s: float, visitor_rssi_dbm: int, every_s: float = 2.0,
                 recent_s: float = 300.0) -> None:
        self.timeout = visit_timeout_s
        self.strong = visitor_rssi_dbm
        self.every_s = every_s
        self.recent_s = recent_s
        self.open: dict[bytes, list[float]] = {}
        self._entered = self._new = 0
        self._last_emit = NEVER
        self._last_present = 0

    def feed(self, sightings: list[Sighting], member_of: Callable[[bytes], str | None]) -> list[Any]:
        """Track the sightings; an Arrival for a listed member's first strong sighting of a visit.

        `member_of` maps a visit key to the member's gateway key (the pseudonymizer's tag), or None.
        """
        out: list[Any] = []
        open_, timeout, strong = self.open, self.timeout, self.strong
        for s in sightings:
            ts = s.ts
            v = open_.get(s.device)
            if v is None or ts - v[LAST] > timeout:
                v = open_[s.device] = [ts, NEVER]
                self._new += 1
            elif ts > v[LAST]:
                v[LAST] = ts
            if s.rssi_dbm >= strong:
                if v[STRONG_LAST] == NEVER:
                    self._entered += 1
                    tag = None if s.randomized else member_of(s.device)
                    if tag is not None:
                        out.append(Arrival(seen_at=iso(ts), member_key=tag))
                v[STRONG_LAST] = max(v[STRONG_LAST], ts)
        return out

    def present(self, now: float) -> int:
        """Devices heard at visitor RSSI within the last `recent_s` seconds at `now`."""
        since = now - self.recent_s
        return sum(1 for v in self.open.values() if v[STRONG_LAST] >= since)

    def flush(self, now: float) -> list[Presence]:
        """A Presence record when `every_s` has passed and the counts moved; forget idle devices."""
        if now - self._last_emit < self.every_s:
            return []
        idle = [d for d, v in self.open.items() if now - v[LAST] > self.timeout]
        for d in idle:
            del self.open[d]
        present = self.present(now)
        if present == self._last_present and not self._entered:  # passers-by alone wait for a change
            return []
        rec = Presence(taken_at=iso(now), present_n=present, entered_n=self._entered, new_n=self._new,
                       recent_s=round(self.recent_s))
        self._last_emit, self._last_present = now, present
        self._entered = self._new = 0
        return [rec]
