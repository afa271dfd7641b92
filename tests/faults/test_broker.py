"""The broker fails: a long outage, a silent overflow of the hub's queue, a kill -9 without persistence."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from hub.app import Hub
from hub.config import IngestConfig
from tests.faults.records import keys
from tests.faults.support import AgentProc, figures, hub_config, stop_hub, tally
from tests.hub.envelopes import Publisher, envelope, visit
from tests.hub.support import wait_for
from tests.support.mosquitto import Mosquitto

OUTAGE_S = 6.5


def _check(name: str, tmp_path: Path, agent: AgentProc, began: float, **extra: object) -> None:
    """The agent drained; every record it committed is in the hub once, and nothing else is."""
    appended = agent.events("appended")[-1]
    summary = agent.events("summary")[-1]
    got = tally(tmp_path / "hub.db")
    committed = keys(agent.run, *agent.committed())
    lost = figures(name, sent=appended["records"], committed=committed, hub=got, began=began,
                   batches=appended["batches"], resent=summary["sink"]["resent"],
                   reconnects=summary["sink"]["connects"] - 1, **extra)
    assert agent.events("drained")[-1]["ok"], "the agent did not drain its outbox"
    assert lost == 0
    assert got.duplicated == 0
    assert got.keys == committed
    assert got.batches == appended["batches"]
    assert got.dead_letters == 0


def test_a_long_broker_outage_then_everything_arrives(tmp_path: Path) -> None:
    """The broker is down far longer than the resend timeout and the in-flight window (hours, sped up)
    while the store keeps counting: the agent's outbox holds it all, and after the broker is back every
    record reaches the hub once, without anyone restarting the agent or the hub."""
    broker = Mosquitto(tmp_path, persistence=True).start()  # a real deployment keeps its sessions
    began = time.monotonic()
    hub = Hub(hub_config(tmp_path, broker.port)).start()
    try:
        agent = AgentProc(tmp_path, broker.port, options={
            "count": 12_000, "per_append": 10, "interval_s": 0.008, "resend_after_s": 2,
            "drain_s": 60}).start()
        agent.wait_event("ready", 10)
        time.sleep(1.0)
        broker.stop()
        down_at = len(agent.events("committed"))
        time.sleep(OUTAGE_S)
        during = len(agent.events("committed")) - down_at
        broker.start()
        agent.wait(90)
        assert hub.wait_idle(10)
    finally:
        stop_error = stop_hub(hub)
        broker.stop()
    assert during > 200, "the outage should outlast the in-flight window many times"
    _check("broker-outage", tmp_path, agent, began, outage_s=OUTAGE_S, appends_while_down=during,
           hub_stop_error=repr(stop_error))


def test_the_hub_down_while_the_brokers_queue_overflows_loses_nothing(tmp_path: Path) -> None:
    """mosquitto keeps at most max_queued_messages for an offline client and drops the rest silently,
    after having PUBACKed them to the agent. With the hub down and a queue of 10, the agent's outbox is
    what carries the backlog: batches the hub never acknowledged are resent, and all of them arrive."""
    broker = Mosquitto(tmp_path, extra="max_queued_messages 10").start()
    config = hub_config(tmp_path, broker.port)
    began = time.monotonic()
    try:
        Hub(config).start().stop()  # the hub's persistent session exists: the broker queues for it
        agent = AgentProc(tmp_path, broker.port, options={
            "count": 3_000, "per_append": 10, "interval_s": 0.002, "resend_after_s": 2,
            "drain_s": 60}).start()
        agent.wait_event("appended", 30)
        # every batch PUBACKed by the broker while the hub was away: only 10 of them are queued
        assert wait_for(lambda: "being dropped" in broker.log.read_text(), 10), broker.log.read_text()
        with Hub(config) as hub:
            agent.wait(90)
            assert hub.wait_idle(10)
    finally:
        broker.stop()
    _check("hub-down-queue-overflow", tmp_path, agent, began, broker_queue=10,
           broker_says=repr(next(line for line in broker.log.read_text().splitlines() if "dropped" in line)))


def test_broker_killed_and_restarted_without_persistence_loses_nothing(tmp_path: Path) -> None:
    """kill -9 of a broker that keeps nothing on disk, twice, while data flows: the broker forgets every
    session, every queued message and every subscription; the hub and the agent reconnect and
    resubscribe by themselves, and the agent resends what the hub did not acknowledge."""
    broker = Mosquitto(tmp_path, persistence=False).start()
    began = time.monotonic()
    hub = Hub(hub_config(tmp_path, broker.port)).start()
    try:
        agent = AgentProc(tmp_path, broker.port, options={
            "count": 8_000, "per_append": 10, "interval_s": 0.006, "resend_after_s": 2,
            "drain_s": 60}).start()
        agent.wait_event("ready", 10)
        for _ in range(2):
            time.sleep(1.5)
            broker.stop(kill=True)
            time.sleep(0.5)
            broker.start()
        agent.wait(90)
        assert hub.wait_idle(10)
    finally:
        stop_error = stop_hub(hub)
        broker.stop()
    _check("broker-kill-9-no-persistence", tmp_path, agent, began, broker_kills=2,
           hub_stop_error=repr(stop_error))


def test_the_hub_acks_every_agent_after_a_broker_restart_and_stops_cleanly(tmp_path: Path) -> None:
    """A commit whose ack the hub publishes while the broker is restarting must not break the hub's acks
    for good: after the broker is back, each agent of a commit gets its ack (or it resends every
    resend_after_s, for ever), and the hub still stops cleanly."""
    broker = Mosquitto(tmp_path, persistence=True).start()
    config = dataclasses.replace(hub_config(tmp_path, broker.port), ingest=IngestConfig(max_wait_ms=1500))
    hub = Hub(config).start()
    clients = [Publisher(broker.port, "agent-a")]
    acked: list[bool] = []
    try:
        clients[0].send(envelope(0, [visit(0)], agent="gw-a"))  # its commit waits 1.5 s for company
        broker.stop()  # ... so the commit, and its ack, happen while the broker is away
        time.sleep(2.0)
        broker.start()
        assert wait_for(lambda: hub.counters.snapshot()["received"] >= 2, 15)  # the broker redelivered it
        assert hub.wait_idle(10)
        for name in ("b", "c"):  # two agents whose batches share the hub's next commit
            clients.append(Publisher(broker.port, f"agent-{name}"))
            clients[-1].subscribe(envelope(0, [], agent=f"gw-{name}").topics.ack)
        for i, client in enumerate(clients[1:], 1):
            client.send(envelope(0, [visit(i)], agent=f"gw-{'abc'[i]}"))
        acked = [c.wait_received(1, 5) for c in clients[1:]]
    finally:
        stop_error = stop_hub(hub)
        for client in clients:
            client.close()
        broker.stop()
    print(f"\nfaults/hub-ack-after-broker-restart: acked {acked}, hub stop error {stop_error!r}")
    assert acked == [True, True]
    assert stop_error == ""
