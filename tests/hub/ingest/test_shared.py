"""Several hub workers on one broker (ingest.shared_group): the agents' batches are split between them,
each stored once and acknowledged, and one worker at a time runs the metrics publisher."""

from __future__ import annotations

import dataclasses

from agent.wire import Ack, Topics
from hub.app import Hub
from hub.config import HubConfig, IngestConfig, MqttConfig
from hub.ingest.mqtt import MqttSubscriber
from tests.hub.envelopes import Publisher, envelope, visit
from tests.hub.support import query, scalar, wait_for

TOPICS = Topics("acme", "brno-1", "gw-1")


def worker(config: HubConfig, name: str) -> HubConfig:
    """One worker's config: the same file as the others but for its client id (as on another machine)."""
    return dataclasses.replace(
        config,
        mqtt=dataclasses.replace(config.mqtt, client_id=name),
        ingest=IngestConfig(max_wait_ms=10, shared_group="hub"),
    )


def acked(publisher: Publisher) -> set[int]:
    """The seqs the agent has seen acknowledged (an ack carries every seq of one commit)."""
    with publisher.got:
        return {s for _, p in publisher.received for s in Ack.decode(p).seqs}


def test_a_shared_group_subscribes_through_share_with_a_session_per_process() -> None:
    """Workers subscribe as `$share/GROUP/...` with clean sessions of their own: mosquitto deals shared
    messages to every member session, so a dead worker's persistent session would keep taking its share."""
    sub = MqttSubscriber(MqttConfig(client_id="hub", allow_plain_loopback=True), lambda _m: None, "hub")
    other = MqttSubscriber(MqttConfig(client_id="hub", allow_plain_loopback=True), lambda _m: None, "hub")
    single = MqttSubscriber(MqttConfig(client_id="hub", allow_plain_loopback=True), lambda _m: None)
    assert sub.filters == ["$share/hub/footfall/v1/+/+/+/data", "$share/hub/footfall/v1/+/+/+/status"]
    assert single.filters == ["footfall/v1/+/+/+/data", "footfall/v1/+/+/+/status"]
    assert sub.client._client_id != other.client._client_id  # paho has no getter
    assert single.client._client_id == b"hub"


def test_two_workers_split_the_batches_and_store_each_once(
    hub_config: HubConfig, publisher: Publisher
) -> None:
    """Two serve processes on one database: both take a share of the data, every batch is stored once and
    acknowledged to its agent, and only one of them is the leader running the publisher."""
    db = hub_config.database
    publisher.subscribe(TOPICS.ack)
    with Hub(worker(hub_config, "hub-a")) as a, Hub(worker(hub_config, "hub-b")) as b:
        assert [a.leader, b.leader].count(True) == 1
        for seq in range(40):
            publisher.send(envelope(seq, [visit(seq * 3 + i) for i in range(3)]))
        publisher.send(envelope(7, [visit(21), visit(22), visit(23)]))  # a resend: stored once
        assert wait_for(lambda: a.counters["received"] + b.counters["received"] == 41)
        assert a.wait_idle() and b.wait_idle()
        assert a.counters["received"] > 0 and b.counters["received"] > 0
        assert a.counters["batches_stored"] + b.counters["batches_stored"] == 40
        assert wait_for(lambda: acked(publisher) == set(range(40)))
    assert scalar(db, "SELECT count(*) FROM batches") == 40
    assert query(db, "SELECT count(*), count(DISTINCT device_key) FROM visits") == [(120, 120)]


def test_when_the_leader_stops_another_worker_takes_over_the_publisher(hub_config: HubConfig) -> None:
    """The leader's machine goes away: within a poll another worker runs the metrics publisher."""
    a = Hub(worker(hub_config, "hub-a")).start()
    b = Hub(worker(hub_config, "hub-b")).start()
    try:
        assert a.leader and not b.leader
        a.stop()
        assert wait_for(lambda: b.leader, 10)
    finally:
        a.stop()
        b.stop()


def test_only_the_leader_runs_the_daily_segment_job(hub_config: HubConfig) -> None:
    """The daily lifecycle segments are a singleton: of two workers only the leader computes them (both
    used to, racing on member_segments); when it goes, the new leader runs the day's job."""
    a = Hub(worker(hub_config, "hub-a")).start()
    b = Hub(worker(hub_config, "hub-b")).start()
    try:
        assert a.leader and not b.leader and a.live_feed is not None and b.live_feed is not None
        feed_a, feed_b = a.live_feed, b.live_feed
        assert wait_for(lambda: feed_a.segment_runs == 1 and feed_b.sweeps >= 1, 20)
        assert feed_b.segment_runs == 0
        a.stop()
        assert wait_for(lambda: b.leader, 10)
        assert wait_for(lambda: feed_b.segment_runs == 1, 15)
    finally:
        a.stop()
        b.stop()
