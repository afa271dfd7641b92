"""Visits and their classes (docs/metrics.md): timeout, dwell, visitor RSSI."""

from __future__ import annotations

from agent.pipeline.classify import BOUNCE, PASSERBY, VISITOR, Classifier
from agent.pipeline.pseudonymize import Sighting
from agent.pipeline.sessionize import Sessionizer

DEV = b"\x01" * 16


def sight(ts: float, rssi: int = -50, dev: bytes = DEV) -> Sighting:
    return Sighting(ts, dev, False, rssi, 6, 0, 1, 0)


def test_a_gap_longer_than_the_timeout_splits_visits() -> None:
    """Two sightings 16 minutes apart are two visits with the default 15-minute timeout."""
    s = Sessionizer(900, -70)
    closed = s.feed([sight(0), sight(600), sight(600 + 961)])
    assert [(v.started, v.ended, v.sightings_n) for v in closed] == [(0, 600, 2)]
    assert [(v.started, v.ended) for v in s.close_all()] == [(1561, 1561)]


def test_flush_closes_idle_visits_only() -> None:
    """A visit closes once idle past the timeout at `now`, not before."""
    s = Sessionizer(900, -70)
    s.feed([sight(0), sight(100, dev=b"\x02" * 16)])
    assert s.flush(900) == []
    assert [v.device for v in s.flush(950)] == [DEV]


def test_classes_follow_dwell_and_strong_sightings() -> None:
    """Visitor: >= 5 min and >= 3 strong sightings; bounce: strong but 1-5 min; else passer-by."""
    c = Classifier(min_dwell_s=300, min_strong_sightings=3, min_bounce_s=60)
    s = Sessionizer(900, -70)
    visitor = s.feed([sight(0), sight(100), sight(400), sight(2000)])[0]
    assert c.kind(visitor) == VISITOR
    s = Sessionizer(900, -70)
    s.feed([sight(0), sight(60), sight(120)])
    assert c.kind(s.close_all()[0]) == BOUNCE
    s = Sessionizer(900, -70)
    s.feed([sight(0, -80), sight(200, -80), sight(400, -80), sight(500, -60)])
    assert c.kind(s.close_all()[0]) == PASSERBY


def test_state_survives_export_and_import() -> None:
    """Open visits resume after a restart from the exported state."""
    s = Sessionizer(900, -70)
    s.feed([sight(0), sight(100)])
    t = Sessionizer(900, -70)
    t.import_state(s.export_state())
    t.feed([sight(400)])
    v = t.close_all()[0]
    assert (v.started, v.ended, v.sightings_n) == (0, 400, 3)
