"""The live figures and member arrival events, fed by the hub's commits (real mosquitto, both engines),
and by the other workers' commits read back from the database."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from agent.wire import Topics
from agent.wire.envelope import encode_envelope
from agent.wire.records import iso
from agent.wire.topics import arrivals_topic
from hub.app import Hub
from hub.config import HubConfig
from hub.ingest import Counters, Incoming
from hub.live.feed import LiveFeed, live_state
from hub.live.server import LiveServer
from hub.members.arrivals import ArrivalDesk
from hub.optout import add as optout_add
from hub.optout import settings
from hub.pki.registry import optout_secret
from hub.store.engine import open_store
from tests.hub.envelopes import Publisher, envelope
from tests.hub.live.agent import TestAgent
from tests.hub.live.support import (
    MACS,
    arrival,
    gateway_key_of,
    import_members,
    live_config,
    presence,
)
from tests.hub.support import wait_for

TOPIC = arrivals_topic("acme", "brno-1")


def _settle(hub: Hub, received: int) -> None:
    """Wait until the hub has received `received` messages in all, committed them and fed the live view."""
    assert wait_for(lambda: hub.counters.snapshot()["received"] >= received, 10)
    assert hub.wait_idle(10)
    assert hub.live_feed is not None and hub.live_feed.wait_idle(10)


def test_presence_moves_the_live_figures_within_a_commit(
    hub_config: HubConfig, publisher: Publisher, tmp_path: Path
) -> None:
    """People in the store now follow the newest presence of the store's gateways (the larger when two
    hear the shop), times the calibration factor; entries add up per hour, the larger gateway's."""
    config = live_config(hub_config, tmp_path, http=False)
    with Hub(config) as hub:
        publisher.send(envelope(0, [presence(4, 3)], agent="gw-1"))
        publisher.send(envelope(0, [presence(6, 2)], agent="gw-2"))
        _settle(hub, 2)
        snap = hub.live.snapshot("brno-1", time.time())
        assert snap["present"]["devices_n"] == 6
        assert snap["present"]["estimate"] == 9  # calibration factor 1.5
        assert snap["present"]["low"] <= 9 <= snap["present"]["high"]
        assert snap["present"]["gateways_n"] == 2
        assert snap["entries"] == {"source": "wifi", "hour": 3, "today": 3, "hour_last_weeks": None,
                                   "today_last_weeks": None}
        assert snap["capture_rate_15min"] == 0.5
        publisher.send(envelope(1, [presence(7, 4)], agent="gw-1"))
        _settle(hub, 3)
        snap = hub.live.snapshot("brno-1", time.time())
        assert (snap["present"]["devices_n"], snap["entries"]["today"]) == (7, 7)
        publisher.send(envelope(1, [presence(7, 4)], agent="gw-1"))  # a redelivery adds nothing
        _settle(hub, 4)
        assert hub.live.snapshot("brno-1", time.time())["entries"]["today"] == 7


def test_a_restarted_hub_starts_from_todays_rows(
    hub_config: HubConfig, publisher: Publisher, tmp_path: Path
) -> None:
    """The figures survive a hub restart: today's stored presence is read back at start."""
    config = live_config(hub_config, tmp_path, http=False)
    with Hub(config) as hub:
        publisher.send(envelope(0, [presence(5, 5)]))
        _settle(hub, 1)
    with Hub(config) as hub:
        snap = hub.live.snapshot("brno-1", time.time())
        assert (snap["present"]["devices_n"], snap["entries"]["today"]) == (5, 5)


def test_a_consenting_member_arrival_is_announced_once_per_visit(
    hub_config: HubConfig, publisher: Publisher, tmp_path: Path
) -> None:
    """A member's arrival goes out on .../members/arrived with her profile, once per visit: a second
    gateway (or a restarted agent) hearing the same visit adds no second event; the event is not
    retained, carries no device key, and lands in the live list."""
    config = live_config(hub_config, tmp_path, http=False)
    import_members(config, tmp_path)
    publisher.subscribe(TOPIC)
    with Hub(config) as hub:
        now = time.time()
        publisher.send(envelope(0, [arrival(config, "M1", now - 2)], agent="gw-1"))
        publisher.send(envelope(0, [arrival(config, "M1", now - 1)], agent="gw-2"))
        _settle(hub, 2)
        assert publisher.wait_received(1, 10)
        time.sleep(0.5)
        events = [json.loads(p) for t, p in publisher.received if t == TOPIC]
        assert len(events) == 1
        ev = events[0]
        assert (ev["member_id"], ev["store"], ev["org"], ev["tier"], ev["crm_segment"]) == (
            "M1", "brno-1", "acme", "gold", "family")
        assert ev["lifetime_spend_band"] == "under 100" and ev["last_visits"] == []
        body = json.dumps(ev)
        assert MACS["M1"] not in body and arrival(config, "M1").member_key not in body
        snap = hub.live.snapshot("brno-1", time.time())
        assert [a["member_id"] for a in snap["arrivals"]] == ["M1"]
        assert "_member_key" not in snap["arrivals"][0]
        assert hub.live_feed is not None and hub.live_feed.desk is not None
        assert hub.live_feed.desk.counters["repeat"] == 1


def test_no_event_for_non_members_or_old_arrivals(
    hub_config: HubConfig, publisher: Publisher, tmp_path: Path
) -> None:
    """A key that is no consenting member's gives no event; nor does an arrival from a drained backlog
    (older than live.arrival_max_age_s): it is not news any more."""
    config = live_config(hub_config, tmp_path, http=False)
    import_members(config, tmp_path, consent="no")
    publisher.subscribe(TOPIC)
    with Hub(config) as hub:
        publisher.send(envelope(0, [arrival(config, "M1"), arrival(config, "M2", time.time() - 3600)]))
        _settle(hub, 1)
        time.sleep(1.0)
        assert [t for t, _ in publisher.received if t == TOPIC] == []
        assert hub.live_feed is not None and hub.live_feed.desk is not None
        assert hub.live_feed.desk.counters["not_member"] == 2


def test_withdrawn_consent_and_opt_out_stop_arrivals_at_once(
    hub_config: HubConfig, publisher: Publisher, tmp_path: Path
) -> None:
    """An opt-out or a CRM export that withdraws consent stops the next arrival event at once, though
    agents may still tag the phone until their list updates; the live list forgets the member too."""
    config = live_config(hub_config, tmp_path, http=False)
    import_members(config, tmp_path)
    publisher.subscribe(TOPIC)
    with Hub(config) as hub:
        publisher.send(envelope(0, [arrival(config, "M1"), arrival(config, "M2")]))
        _settle(hub, 1)
        assert publisher.wait_received(2, 10)
        optout_add(config, MACS["M1"])
        import_members(config, tmp_path, consent="withdrawn", name="crm-later.csv")
        later = time.time() + 3 * 3600  # a new visit, hours later
        publisher.send(envelope(1, [arrival(config, "M1", later), arrival(config, "M2", later)]))
        _settle(hub, 2)
        time.sleep(1.0)
        assert len([t for t, _ in publisher.received if t == TOPIC]) == 2
        assert wait_for(lambda: hub.live.snapshot("brno-1", time.time())["arrivals"] == [], 10)


def test_a_real_agent_tags_a_members_phone_and_the_hub_announces_her_within_a_minute(
    hub_config: HubConfig, publisher: Publisher, tmp_path: Path
) -> None:
    """The whole path: the hub's member list on the agent's retained config, the agent hears the
    member's phone and another phone, and the hub announces the member (only her) once, within 60 s of
    the first sighting."""
    config = live_config(hub_config, tmp_path, http=False)
    import_members(config, tmp_path)
    publisher.subscribe(TOPIC)
    publisher.publish(Topics("acme", "brno-1", "gw-1").config, settings(config).encode(), retain=True)
    agent = TestAgent(tmp_path / "agent", config.mqtt.port,
                      optout_secret=optout_secret(Path(config.trust.pki_dir)))
    with Hub(config):
        agent.start()
        try:
            def configured() -> bool:  # the agent has its member list from the retained config
                sink = agent.app.sink
                return sink is not None and sink.counters["configs"] >= 1

            assert wait_for(configured, 20)
            came = agent.add(MACS["M1"], "00:1b:63:77:77:77")
            assert publisher.wait_received(1, 60)
            took = time.time() - came
            time.sleep(3)
        finally:
            agent.stop()
    events = [json.loads(p) for t, p in publisher.received if t == TOPIC]
    assert [e["member_id"] for e in events] == ["M1"]
    assert took < 60


def test_the_live_page_of_one_worker_shows_every_workers_presence(
    hub_config: HubConfig, tmp_path: Path
) -> None:
    """A chain runs several ingest workers on one database; the live page served by one of them counts
    the presence stored through any of them (read back within seconds), and each row once: its own
    writer's hand-over and the read-back do not add up twice."""
    config = live_config(hub_config, tmp_path)
    store = open_store(config.database)
    store.prepare()
    state = live_state(config)
    feed = LiveFeed(config, state, None)
    feed.start()
    host, _, port = config.live.http.rpartition(":")
    server = LiveServer(config, state, feed.extra, (host, int(port)))
    server.start()
    writers = [store.writer(Counters(), lambda _m, _a: None, max_wait_ms=10, on_stored=feed.on_stored),
               store.writer(Counters(), lambda _m, _a: None, max_wait_ms=10)]  # another worker's
    for w in writers:
        w.start()
    server.users.add(config, "anna", "manager", "brno-1", "a-long-password")
    user = server.users.check("anna", "a-long-password")
    assert user is not None
    token = server.sessions.start(user).token

    def page() -> Any:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/store/brno-1/now.json", headers={"Cookie": f"ff_session={token}"})
        body = json.loads(conn.getresponse().read())
        conn.close()
        return body

    def submit(worker: int, seq: int, present_n: int, entered_n: int) -> None:
        env = replace(envelope(seq, [presence(present_n, entered_n)], agent=f"gw-{worker + 1}"),
                      sent_at=iso(time.time()))  # sent now: no backlog (that case: test_history.py)
        writers[worker].submit(Incoming(env.topics.data, encode_envelope(env), time.time()))
        assert writers[worker].wait_idle(10)

    try:
        submit(1, 0, 6, 4)  # stored by the other worker only
        assert wait_for(lambda: page()["entries"]["today"] == 4, 10)
        submit(0, 0, 3, 2)  # this worker's own: handed over, then read back too
        assert feed.wait_idle(10)
        polled = feed.polled
        assert wait_for(lambda: feed.polled >= polled + 2, 10)
        snap = page()
        assert snap["present"]["devices_n"] == 6 and snap["present"]["gateways_n"] == 2
        assert snap["entries"]["today"] == 4  # the larger gateway's, its own rows counted once
        submit(1, 1, 7, 5)
        assert wait_for(lambda: page()["entries"]["today"] == 9, 10)
    finally:
        for w in writers:
            w.stop()
        server.stop()
        feed.stop()


def test_the_live_page_of_one_worker_lists_arrivals_another_worker_announced(
    hub_config: HubConfig, tmp_path: Path
) -> None:
    """With several workers each announces the arrivals its writer stored; the page's worker reads them
    back from `member_arrivals` into the staff's list, with the member's profile, once each, and counts
    the member as seen today."""
    config = live_config(hub_config, tmp_path)
    open_store(config.database).prepare()
    import_members(config, tmp_path)
    state = live_state(config)
    feed = LiveFeed(config, state, None)
    feed.start()
    other = ArrivalDesk(config.database, None, lambda _s: 900)  # another worker's desk
    try:
        now = time.time()
        event = other.handle("acme", "brno-1", int(now - 1), gateway_key_of(config, "M1"), now)
        assert event is not None

        def listed() -> list[str]:
            return [a["member_id"] for a in state.snapshot("brno-1", time.time())["arrivals"]]

        assert wait_for(lambda: listed() == ["M1"], 10)
        polled = feed.polled
        assert wait_for(lambda: feed.polled >= polled + 2, 10)
        snap = state.snapshot("brno-1", time.time())
        assert listed() == ["M1"] and snap["arrivals"][0]["tier"] == event["tier"] == "gold"
        assert snap["arrivals"][0]["seen_at"] == event["seen_at"]
        assert state.known_members("brno-1") == {event["_member_key"]}
    finally:
        other.close()
        feed.stop()


def test_serve_with_http_serves_the_live_page_on_either_engine(
    hub_config: HubConfig, publisher: Publisher, tmp_path: Path
) -> None:
    """`serve --http` starts the live page whatever the database URL names (no "SQLite only" any
    more): a signed-in manager reads the figures of what the hub just stored."""
    config = live_config(hub_config, tmp_path)
    with Hub(config) as hub:
        assert hub.live_server is not None
        hub.live_server.users.add(config, "anna", "manager", "brno-1", "a-long-password")
        user = hub.live_server.users.check("anna", "a-long-password")
        assert user is not None
        token = hub.live_server.sessions.start(user).token
        publisher.send(envelope(0, [presence(4, 3)]))
        _settle(hub, 1)
        conn = http.client.HTTPConnection("127.0.0.1", hub.live_server.port, timeout=10)
        conn.request("GET", "/store/brno-1/now.json", headers={"Cookie": f"ff_session={token}"})
        snap = json.loads(conn.getresponse().read())
        conn.close()
        assert (snap["present"]["devices_n"], snap["entries"]["today"]) == (4, 3)
