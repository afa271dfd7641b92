"""The frame path, in order: parse -> pseudonymize -> group -> static -> sessionize -> classify -> aggregate,
and link (closed visits chained into people: agent/pipeline/link.py); presence, beside sessionize (the
live view's counts and member arrivals, sent within seconds).

Each stage takes a batch and returns a batch; none knows where records go (the composition root,
agent/app.py, hands them to the outbox). The clock is the frames' own time, passed in as `now`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent.config import AgentConfig
from agent.pipeline.aggregate import Aggregator
from agent.pipeline.classify import BOUNCE, VISITOR, Classifier
from agent.pipeline.group import Grouper
from agent.pipeline.link import Linker, Person
from agent.pipeline.parse import FrameParser
from agent.pipeline.presence import PresenceTracker
from agent.pipeline.pseudonymize import Pseudonymizer, Sighting
from agent.pipeline.sessionize import ClosedVisit, Sessionizer
from agent.pipeline.static import StaticDetector
from agent.privacy.keychain import KeyChain
from agent.wire.records import Erase, Visit, iso


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

    def __init__(self, config: AgentConfig, chain: KeyChain, linktype: int) -> None:
        counting, grouping, static = config.counting, config.grouping, config.static
        self.chain = chain
        self.parser = FrameParser(linktype)
        self.pseudonymizer = Pseudonymizer(chain)
        self.grouper = Grouper(gap_s=counting.visit_timeout_s, seq_window=grouping.seq_window,
                               busy_s=grouping.busy_s, rssi_tol_db=grouping.rssi_tol_db,
                               strict_seq=grouping.restart_test_seq, restart_gap_s=grouping.restart_gap_s,
                               restart_weak_s=grouping.restart_weak_s, near_dbm=counting.people_rssi_dbm,
                               ) if grouping.enabled else None
        self.static = StaticDetector(static.hours_n, static.days_m, static.days_d, static.all_day_share,
                                     chain.window_id)
        self.static.token_of = self.pseudonymizer.token_of
        self.sessionizer = Sessionizer(counting.visit_timeout_s, counting.visitor_rssi_dbm)
        self.classifier = Classifier(counting.min_dwell_s, counting.min_strong_sightings,
                                     counting.min_bounce_s)
        self.aggregator = Aggregator(config.timezone, counting.visit_timeout_s)
        self.linker = Linker(counting.people_gap_s, counting.people_rssi_dbm)
        self.presence = PresenceTracker(counting.visit_timeout_s, counting.visitor_rssi_dbm,
                                        counting.presence_every_s, counting.presence_recent_s)
        self.now = 0.0

    def sightings(self, frames: list[tuple[float, bytes]]) -> list[Sighting]:
        """The front of the path: frames to pseudonymous, grouped, non-static sightings."""
        sightings = self.pseudonymizer.feed(self.parser.feed(frames))
        transfers = self.pseudonymizer.take_transfers()
        if self.grouper is not None:
            sightings = self.grouper.feed(sightings)
        return self.static.feed(sightings, transfers)

    def feed(self, frames: list[tuple[float, bytes]]) -> Output:
        if not frames:
            return Output()
        sightings = self.sightings(frames)
        out = Output(records=self.static.take_records())
        if sightings:
            out.records.extend(self.aggregator.feed(sightings))
            out.records.extend(self.presence.feed(sightings, self.pseudonymizer.member_of))
            out.extend(self._visits(self.sessionizer.feed(sightings)))
        self.now = max(self.now, frames[-1][0])
        out.extend(self.flush(self.now))
        return out

    def flush(self, now: float) -> Output:
        """Close idle visits and emit what can no longer change at `now`; a window that `now` has left
        loses its key here even without a frame (the pseudonymizer's rotate)."""
        self.pseudonymizer.rotate(now)
        out = Output(records=self._erasures(now))
        out.extend(self._visits(self.sessionizer.flush(now)))
        out.records.extend(self.aggregator.flush(now, self._open_classified))
        out.records.extend(self.presence.flush(now))
        return out

    def _erasures(self, now: float) -> list[Erase]:
        """Opted-out devices of the current window: their open visits dropped, an erase record each for
        the outbox and the hub (agent/app.py purges the outbox of their queued visits)."""
        erased = self.pseudonymizer.take_erasures()
        if not erased:
            return []
        self.sessionizer.forget([dev for dev, _ in erased])
        return [Erase(dev.hex(), self.chain.window_id(w), iso(now)) for dev, w in erased]

    def close(self) -> Output:
        """End of data: close every visit, emit every count."""
        out = Output(records=self._erasures(self.now))
        out.extend(self._visits(self.sessionizer.close_all()))
        out.records.extend(self.aggregator.close(list))
        return out

    def _open_classified(self) -> list[ClosedVisit]:
        return self.classifier.feed(self.sessionizer.snapshot())

    def _visits(self, closed: list[ClosedVisit]) -> Output:
        if not closed:
            return Output()
        visits = self.classifier.feed(closed)
        self.aggregator.visits(visits)
        people = self.linker.feed(visits)
        return Output(records=[self._wire(v, p) for v, p in zip(visits, people, strict=True)
                               if v.kind in (VISITOR, BOUNCE)], visits=visits)

    def _wire(self, v: ClosedVisit, person: Person | None) -> Visit:
        linked = person is not None and v.kind == VISITOR
        return Visit(
            started_at=iso(v.started), ended_at=iso(v.ended), dwell_s=round(v.ended - v.started),
            sightings_n=v.sightings_n, rssi_max_dbm=v.rssi_max_dbm, kind=v.kind, randomized=v.randomized,
            device_key=v.device.hex() if v.kind == VISITOR else None,
            key_window=self.chain.window_id(v.window),
            member_key=self.pseudonymizer.member_of(v.device) if v.kind == VISITOR and not v.randomized
            else None,
            person_key=person.key.hex() if linked and person is not None else None,
            person_dwell_s=round(v.ended - person.started) if linked and person is not None else 0,
        )

    def counters(self) -> dict[str, int]:
        merged: Counter[str] = Counter()
        merged.update(self.parser.counters)
        merged.update(self.pseudonymizer.counters)
        return dict(merged)

    def export_state(self) -> dict[str, Any]:
        return {"sessionizer": self.sessionizer.export_state(), "static": self.static.export_state(),
                "pseudonymizer": self.pseudonymizer.export_state()}

    def import_state(self, state: dict[str, Any]) -> None:
        self.pseudonymizer.import_state(state.get("pseudonymizer", {}))
        self.sessionizer.import_state(state.get("sessionizer", {}))
        self.static.import_state(state.get("static", {}))
