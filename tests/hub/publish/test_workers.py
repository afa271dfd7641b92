"""Several hub workers, one publisher: what any worker stores goes out once, from the elected one, on
both engines (PostgreSQL: the change marks are in the database, written in each worker's transaction)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from agent.wire import PeriodCounts
from agent.wire.records import iso
from hub.app import Hub
from hub.config import HubConfig
from hub.publish.example_consumer import topic_filter
from tests.hub.envelopes import Publisher, envelope, visit
from tests.hub.support import query, wait_for

PRAGUE = ZoneInfo("Europe/Prague")


def worker(config: HubConfig, name: str) -> HubConfig:
    return replace(config, mqtt=replace(config.mqtt, client_id=f"test-hub-{name}"),
                   ingest=replace(config.ingest, shared_group="hub"),
                   publish=replace(config.publish, settle_s=1.0))


def test_what_a_follower_stores_is_published_once_by_the_leader(
    hub_config: HubConfig, publisher: Publisher
) -> None:
    """Two workers share the agents' batches (each hour of a closed day in a batch of its own, so both
    store some); only the leader publishes, and every hour and the day goes out exactly once."""
    day = datetime.now(PRAGUE).date() - timedelta(days=2)
    t0 = datetime.combine(day, time(0), PRAGUE).timestamp()
    hours = range(9, 17)
    publisher.subscribe(topic_filter("acme"))
    with Hub(worker(hub_config, "a")) as a, Hub(worker(hub_config, "b")) as b:
        assert a.leader and not b.leader
        for seq, h in enumerate(hours):
            start = t0 + h * 3600
            publisher.send(envelope(seq, [PeriodCounts("hour", iso(start), 40, 10, 30, 0, 10),
                                          *(visit(h * 100 + i, start=start + 60 * i) for i in range(10))]))
        publisher.send(envelope(len(hours), [PeriodCounts("day", iso(t0), 400, 80, 320, 0, 80)]))

        def stored() -> list[Any]:
            return [h.counters.snapshot()["batches_stored"] for h in (a, b)]

        assert wait_for(lambda: sum(stored()) == len(hours) + 1), stored()
        assert min(stored()) > 0, stored()  # mosquitto shares the group's messages round-robin
        assert a.wait_idle() and b.wait_idle()
        assert a.wait_published()
        assert publisher.wait_received(len(hours) + 1, 15), publisher.received
        assert not publisher.wait_received(len(hours) + 2, 2)  # nothing twice
    assert query(hub_config.database, "SELECT count(*) FROM batches") == [(len(hours) + 1,)]
    sent = sorted((t.rsplit("/", 1)[1], json.loads(p)["local_start"][11:13]) for t, p in publisher.received)
    assert sent == sorted([("day", "00"), *(("hour", f"{h:02d}") for h in hours)])
    visitors = {json.loads(p)["visitors_n"] for t, p in publisher.received if t.endswith("/hour")}
    assert visitors == {10}
