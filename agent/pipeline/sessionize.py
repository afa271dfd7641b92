"""Sessionize: a device's sightings with no gap longer than the visit timeout make one visit.

State is one small list per open visit (a dict lookup and a few stores per sighting); visits close on
a gap (seen at the next sighting) or when `flush(now)` finds them idle past the timeout.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from agent.pipeline.pseudonymize import Sighting

# indexes into an open visit's list
FIRST, LAST, N, STRONG, RSSI_MAX, RANDOMIZED, WINDOW, FINGERPRINT = range(8)


class ClosedVisit(NamedTuple):
    """A visit once it has ended; `kind` is set by classify (visitor, bounce or passerby)."""

    device: bytes
    window: int
    started: float
    ended: float
    sightings_n: int
    strong_n: int
    rssi_max_dbm: int
    randomized: bool
    kind: str = ""
    fingerprint: int = 0  # IE fingerprint of the visit's first sighting (agent.pipeline.link uses it)

    @property
    def dwell_s(self) -> float:
        return self.ended - self.started


class Sessionizer:
    """Batch stage: [Sighting] -> [ClosedVisit] (unclassified)."""

    def __init__(self, visit_timeout_s: float, visitor_rssi_dbm: int) -> None:
        self.timeout = visit_timeout_s
        self.strong = visitor_rssi_dbm
        self.open: dict[bytes, list[Any]] = {}
        self.tally: Any = None  # an occupancy tally fed every sighting (set by replay), or None

    def feed(self, sightings: list[Sighting]) -> list[ClosedVisit]:
        if self.tally is not None:
            self.tally.feed(sightings)
        closed: list[ClosedVisit] = []
        open_ = self.open
        timeout, strong = self.timeout, self.strong
        for s in sightings:
            v = open_.get(s.device)
            ts, rssi = s.ts, s.rssi_dbm
            if v is not None:
                if ts - v[LAST] <= timeout:
                    v[LAST] = max(v[LAST], ts)
                    v[N] += 1
                    if rssi >= strong:
                        v[STRONG] += 1
                    v[RSSI_MAX] = max(v[RSSI_MAX], rssi)
                    continue
                closed.append(_close(s.device, v))
            open_[s.device] = [ts, ts, 1, int(rssi >= strong), rssi, s.randomized, s.window, s.fingerprint]
        return closed

    def flush(self, now: float) -> list[ClosedVisit]:
        """Close every visit idle for longer than the timeout at `now`."""
        idle = [d for d, v in self.open.items() if now - v[LAST] > self.timeout]
        return [_close(d, self.open.pop(d)) for d in idle]

    def close_all(self) -> list[ClosedVisit]:
        """End of data: close every open visit."""
        out = [_close(d, v) for d, v in self.open.items()]
        self.open.clear()
        return out

    def forget(self, devices: list[bytes]) -> None:
        """Drop these devices' open visits unclosed (an opt-out: they never leave the gateway)."""
        for dev in devices:
            self.open.pop(dev, None)

    def snapshot(self) -> list[ClosedVisit]:
        """The open visits as they stand (not removed)."""
        return [_close(d, v) for d, v in self.open.items()]

    def export_state(self) -> dict[str, Any]:
        return {"open": [[d.hex(), *v] for d, v in self.open.items()]}

    def import_state(self, state: dict[str, Any]) -> None:
        self.open = {bytes.fromhex(row[0]): list(row[1:]) for row in state.get("open", [])}


def _close(device: bytes, v: list[Any]) -> ClosedVisit:
    fp = v[FINGERPRINT] if len(v) > FINGERPRINT else 0  # state saved before the field existed
    return ClosedVisit(device, v[WINDOW], v[FIRST], v[LAST], v[N], v[STRONG], v[RSSI_MAX], v[RANDOMIZED], "",
                       fp)
