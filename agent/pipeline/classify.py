"""Classify a visit (docs/metrics.md): visitor, bounce, or passer-by.

- visitor: dwell >= min dwell and at least `min_strong_sightings` sightings at or above the visitor RSSI;
- bounce: not a visitor, but with that many strong sightings and at least `min_bounce_s` of dwell
  (a shopper who stepped in and left; a burst of frames from someone walking past is not one);
- passer-by: everything else. Its key never leaves the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.pipeline.sessionize import ClosedVisit

VISITOR, BOUNCE, PASSERBY = "visitor", "bounce", "passerby"


@dataclass(frozen=True, slots=True)
class Classifier:
    min_dwell_s: float
    min_strong_sightings: int
    min_bounce_s: float = 60.0

    def kind(self, v: ClosedVisit) -> str:
        if v.strong_n < self.min_strong_sightings:
            return PASSERBY
        dwell = v.ended - v.started
        if dwell >= self.min_dwell_s:
            return VISITOR
        return BOUNCE if dwell >= self.min_bounce_s else PASSERBY

    def feed(self, visits: list[ClosedVisit]) -> list[ClosedVisit]:
        return [v._replace(kind=self.kind(v)) for v in visits]
