"""Member arrival events on either engine: once per visit, only for a consenting member, never late."""

from __future__ import annotations

import json
import threading
from typing import Any

from agent.wire.topics import arrivals_topic
from hub.config import DatabaseConfig
from hub.members.arrivals import ArrivalDesk
from hub.store.sql import open_database
from tests.hub.support import query

NOW = 1_795_000_000.0


def test_an_arrival_is_announced_once_per_visit_for_a_consenting_member_only(
    hub_database: DatabaseConfig,
) -> None:
    """The first sighting of a consenting member's phone is published with her profile; another within
    the visit timeout is a repeat; an opted-out member's or an unknown key is not a member; an old one
    is kept, never announced. The desk, made in one thread, serves another (the ingest thread's
    callbacks), and a sweep forgets the arrivals of a member who withdrew her consent."""
    with open_database(hub_database) as db:
        db.execute("INSERT INTO members (member_id, segment, tier, member_key, gateway_key) VALUES"
                   " ('M1', 'family', 'gold', 'k1', 'g1'), ('M2', 'pro', 'gold', 'k2', 'g2')")
        db.execute("INSERT INTO optouts (optout_key, member_key, added_at) VALUES ('o2', 'k2', '')")
    published: list[tuple[str, bytes]] = []
    desk = ArrivalDesk(hub_database, lambda topic, payload: published.append((topic, payload)),
                       lambda _store: 1800, max_age_s=300)
    events: list[dict[str, Any] | None] = []

    def arrive() -> None:
        seen = int(NOW)
        events.extend([
            desk.handle("acme", "brno-1", seen - 10, "g1", NOW),
            desk.handle("acme", "brno-1", seen + 600, "g1", NOW + 610),  # the same visit, another gateway
            desk.handle("acme", "brno-1", seen, "g2", NOW),  # opted out
            desk.handle("acme", "brno-1", seen, "nobody", NOW),
            desk.handle("acme", "brno-1", seen - 7200, "g1", NOW),  # a backlog drained after an outage
        ])

    worker = threading.Thread(target=arrive)
    worker.start()
    worker.join(30)
    try:
        first = events[0]
        assert first is not None and first["member_id"] == "M1" and first["_member_key"] == "k1"
        assert events[1:] == [None, None, None, None]
        assert desk.counters == {"announced": 1, "repeat": 1, "not_member": 2, "too_old": 1}
        ((topic, payload),) = published
        assert topic == arrivals_topic("acme", "brno-1")
        assert json.loads(payload)["crm_segment"] == "family" and "k1" not in payload.decode()
        assert query(hub_database, "SELECT member_id, announced FROM member_arrivals ORDER BY seen_epoch_s"
                     ) == [("M1", 0), ("M1", 1)]
        assert desk.sweep(NOW) == {"k1"}
        with open_database(hub_database) as db:
            db.execute("UPDATE members SET member_key = NULL, gateway_key = NULL WHERE member_id = 'M1'")
        assert desk.sweep(NOW) == set()
        assert query(hub_database, "SELECT count(*) FROM member_arrivals") == [(0,)]
    finally:
        desk.close()
