"""The frame path, in order: parse -> pseudonymize -> sessionize -> classify -> aggregate.

Each stage takes a batch and returns a batch; none knows where records go (the composition root,
agent/app.py, hands them to the outbox). The clock is the frames' own time, passed in as `now`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent.config import CountingConfig
from agent.pipeline.aggregate import Aggregator
from agent.pipeline.classify import BOUNCE, VISITOR, Classifier
from agent.pipeline.parse import FrameParser
from agent.pipeline.pseudonymize import Pseudonymizer
from agent.pipeline.sessionize import ClosedVisit, Sessionizer
from agent.privacy.keychain import KeyChain
from agent.wire.records import Visit, iso


@dataclass
class Output:
    """What a batch produced: wire records for the outbox, and every closed visit with its kind.

    `visits` includes passers-by for local use (replay); the app sends only `records`.
    """

    records: list[Any] = field(default_factory=list)
    visits: list[ClosedVisit] = field(default_factory=list)

    def extend(self, other: Output) -> None:
        self.records.extend(other.records)
        self.visits.extend(other.visits)


class Pipeline:
    """The whole frame path of one capture interface."""

    def __init__(self, counting: CountingConfig, chain: KeyChain, timezone: str, linktype: int) -> None:
        self.chain = chain
        self.parser = FrameParser(linktype)
        self.pseudonymizer = Pseudonymizer(chain)
        self.sessionizer = Sessionizer(counting.visit_timeout_s, counting.visitor_rssi_dbm)
        self.classifier = Classifier(counting.min_dwell_s, counting.min_strong_sightings, counting.min_bounce_s)
        self.aggregator = Aggregator(timezone, counting.visit_timeout_s)
        self.now = 0.0

    def feed(self, frames: list[tuple[float, bytes]]) -> Output:
        sightings = self.pseudonymizer.feed(self.parser.feed(frames))
        if not sightings:
            return Output()
        out = Output(records=self.aggregator.feed(sightings))
        out.extend(self._visits(self.sessionizer.feed(sightings)))
        self.now = max(self.now, sightings[-1].ts)
        out.extend(self.flush(self.now))
        return out

    def flush(self, now: float) -> Output:
        """Close idle visits and emit what can no longer change at `now`."""
        out = self._visits(self.sessionizer.flush(now))
        out.records.extend(self.aggregator.flush(now, self._open_classified))
        return out

    def close(self) -> Output:
        """End of data: close every visit, emit every count."""
        out = self._visits(self.sessionizer.close_all())
        out.records.extend(self.aggregator.close(list))
        return out

    def _open_classified(self) -> list[ClosedVisit]:
        return self.classifier.feed(self.sessionizer.snapshot())

    def _visits(self, closed: list[ClosedVisit]) -> Output:
        if not closed:
            return Output()
        visits = self.classifier.feed(closed)
        self.aggregator.visits(visits)
        return Output(records=[self._wire(v) for v in visits if v.kind in (VISITOR, BOUNCE)], visits=visits)

    def _wire(self, v: ClosedVisit) -> Visit:
        return Visit(
            started_at=iso(v.started), ended_at=iso(v.ended), dwell_s=round(v.ended - v.started),
            sightings_n=v.sightings_n, rssi_max_dbm=v.rssi_max_dbm, kind=v.kind, randomized=v.randomized,
            device_key=v.device.hex() if v.kind == VISITOR else None, key_window=self.chain.window_id(v.window),
        )

    def counters(self) -> dict[str, int]:
        merged: Counter[str] = Counter()
        merged.update(self.parser.counters)
        merged.update(self.pseudonymizer.counters)
        return dict(merged)
