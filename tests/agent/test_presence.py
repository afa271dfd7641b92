"""The presence stage: live counts within seconds, and one member arrival per visit (never a random MAC)."""

from __future__ import annotations

from agent.buffer.outbox import PRIORITY_AGGREGATE, PRIORITY_RAW, priority_of
from agent.pipeline.presence import PresenceTracker
from agent.pipeline.pseudonymize import Sighting
from agent.wire.records import Arrival, Presence, iso

MEMBER, OTHER, RANDOM = b"m" * 16, b"o" * 16, b"r" * 16
TAGS = {MEMBER: "ab" * 16, RANDOM: "cd" * 16}


def seen(ts: float, device: bytes, rssi: int = -50, randomized: bool = False) -> Sighting:
    return Sighting(ts, device, randomized, rssi, 6, 0, 0, 0)


def test_a_member_arrival_goes_out_at_the_first_strong_sighting_once_per_visit() -> None:
    """The member's first sighting at visitor RSSI gives an Arrival with her gateway key; later
    sightings of the same visit add none; a new visit (after the timeout) gives a new one; a weak
    sighting (outside the shop) gives none; a randomized MAC never does, even if tagged."""
    p = PresenceTracker(visit_timeout_s=900, visitor_rssi_dbm=-70)
    assert p.feed([seen(100, MEMBER, rssi=-85)], TAGS.get) == []
    assert p.feed([seen(110, MEMBER), seen(111, OTHER), seen(112, RANDOM, randomized=True)], TAGS.get) == [
        Arrival(seen_at=iso(110), member_key="ab" * 16)]
    assert p.feed([seen(500, MEMBER), seen(1300, MEMBER)], TAGS.get) == []
    assert p.feed([seen(2300, MEMBER)], TAGS.get) == [Arrival(seen_at=iso(2300), member_key="ab" * 16)]


def test_presence_counts_go_out_at_most_every_few_seconds_and_only_when_they_move() -> None:
    """present_n: devices at visitor RSSI heard within recent_s; entered_n and new_n: new visits since
    the last record; nothing is sent while nothing changes or only passers-by came; idle devices are
    forgotten."""
    p = PresenceTracker(visit_timeout_s=900, visitor_rssi_dbm=-70, every_s=5, recent_s=300)
    p.feed([seen(100, MEMBER), seen(100, OTHER, rssi=-90)], TAGS.get)
    assert p.flush(100) == [Presence(taken_at=iso(100), present_n=1, entered_n=1, new_n=2, recent_s=300)]
    p.feed([seen(102, OTHER)], TAGS.get)
    assert p.flush(102) == []  # within every_s
    assert p.flush(105) == [Presence(taken_at=iso(105), present_n=2, entered_n=1, new_n=0, recent_s=300)]
    assert p.flush(200) == []  # no change
    assert p.flush(401) == [Presence(taken_at=iso(401), present_n=1, entered_n=0, new_n=0, recent_s=300)]
    assert p.flush(406) == [Presence(taken_at=iso(406), present_n=0, entered_n=0, new_n=0, recent_s=300)]
    p.feed([seen(500, b"p" * 16, rssi=-90)], TAGS.get)
    assert p.flush(500) == []  # a passer-by alone sends nothing; counted with the next record
    p.feed([seen(510, OTHER)], TAGS.get)
    assert p.flush(510) == [Presence(taken_at=iso(510), present_n=1, entered_n=0, new_n=1, recent_s=300)]
    p.flush(2000)
    assert p.open == {}


def test_presence_is_dropped_before_visits_and_arrivals_at_the_outbox_cap() -> None:
    """Offline for days, the outbox sheds old presence counts first (the live view has moved on), never
    a visit or a member's arrival before them."""
    rec = Presence(taken_at=iso(100), present_n=1, entered_n=1, new_n=1, recent_s=300)
    assert priority_of(rec) == PRIORITY_RAW
    assert priority_of(Arrival(seen_at=iso(100), member_key="ab" * 16)) == PRIORITY_AGGREGATE
