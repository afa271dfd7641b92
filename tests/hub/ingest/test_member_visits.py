"""Visits an agent tagged with a member's gateway key become member visits, once per stay."""

from __future__ import annotations

import dataclasses
import time

from agent.wire import Visit, encode_envelope
from hub.config import DatabaseConfig
from hub.ingest import Counters, Incoming
from hub.store.engine import open_store
from hub.store.sql import open_database
from tests.hub.envelopes import T0, envelope, visit
from tests.hub.support import query

GATEWAY_KEY, MEMBER_KEY = "ab" * 16, "cd" * 16


def test_tagged_visits_are_stored_once_per_stay_under_the_member_key(hub_database: DatabaseConfig) -> None:
    """Two gateways of a store tagging overlapping visits of one member make one member visit; a later
    visit makes a second; a tag no member holds makes none; the visits table keeps every visit."""
    with open_database(hub_database) as db:
        db.execute("INSERT INTO members (member_id, member_key, gateway_key) VALUES ('m1', ?, ?)",
                   (MEMBER_KEY, GATEWAY_KEY))

    def tagged(i: int, start: float, key: str = GATEWAY_KEY) -> Visit:
        return dataclasses.replace(visit(i, start), member_key=key)

    batches = [
        envelope(0, [tagged(1, T0), visit(2, T0)], agent="gw-1"),
        envelope(0, [tagged(3, T0 + 120)], agent="gw-2"),  # the same stay, heard by the other gateway
        envelope(1, [tagged(4, T0 + 7200), tagged(5, T0 + 7200, "ef" * 16)], agent="gw-1"),
    ]
    writer = open_store(hub_database).writer(Counters(), lambda _m, _a: None)
    writer.start()
    for env in batches:
        writer.submit(Incoming(env.topics.data, encode_envelope(env), time.time()))
    assert writer.wait_idle()
    writer.stop()
    assert query(hub_database, "SELECT member_key, started_epoch_s, agent FROM member_visits ORDER BY 2") == [
        (MEMBER_KEY, T0, "gw-1"), (MEMBER_KEY, T0 + 7200, "gw-1")]
    assert query(hub_database, "SELECT count(*) FROM visits") == [(5,)]
