"""The MQTT sink against a real mosquitto: delivery, deletion only on the hub's ack, outages, status."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.buffer.outbox import Outbox
from agent.sinks.mqtt import MqttSink
from agent.wire import Ack, MinuteCounts, Status, Topics, decode_envelope
from tests.support.mosquitto import Mosquitto

TOPICS = Topics("acme", "store-1", "gw-1")
REPO = Path(__file__).resolve().parents[2]


def counts(n: int) -> list[MinuteCounts]:
    return [MinuteCounts("2023-11-14T22:13:00Z", i, 1, True) for i in range(n)]


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Client:
    """A plain paho client for the test's side of the broker; reconnects like a real hub would."""

    def __init__(self, port: int, subscribe: str) -> None:
        self.topic = subscribe
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}",
                                  protocol=mqtt.MQTTv5)
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = lambda c, *_: c.subscribe(self.topic, qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_message = self.on_message
        self.client.connect_async("127.0.0.1", port, 30)
        self.client.loop_start()

    def on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Hub(Client):
    """A minimal hub: 'commits' each (epoch, seq) into a set, then acks it (unless `ack` is False)."""

    def __init__(self, port: int, ack: bool = True) -> None:
        self.ack = ack
        self.lock = threading.Lock()
        self.received: list[tuple[str, int]] = []
        self.committed: set[tuple[str, int]] = set()
        super().__init__(port, TOPICS.data)
        assert self.subscribed.wait(10), "the test hub did not subscribe"

    def on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        env = decode_envelope(msg.topic, bytes(msg.payload))
        with self.lock:
            self.received.append((env.epoch, env.seq))
            self.committed.add((env.epoch, env.seq))
        if self.ack:
            client.publish(TOPICS.ack, Ack(env.epoch, (env.seq,)).encode(), qos=1)


class StatusWatcher(Client):
    """Every status message seen, with its retain flag."""

    def __init__(self, port: int) -> None:
        self.seen: list[tuple[Status, bool]] = []
        super().__init__(port, TOPICS.status)
        assert self.subscribed.wait(10), "the status watcher did not subscribe"

    def on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        self.seen.append((Status.decode(bytes(msg.payload)), bool(msg.retain)))

    def states(self) -> list[str]:
        return [s.state for s, _ in self.seen]


def retained_status(port: int) -> Status:
    """What a newcomer (a dashboard started later) reads on the status topic."""
    watcher = StatusWatcher(port)
    try:
        wait_until(lambda: bool(watcher.seen), 5, "a retained status")
        status, retained = watcher.seen[0]
        assert retained
        return status
    finally:
        watcher.close()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    """An outbox with one record per batch, so counts of batches are easy to reason about."""
    box = Outbox(tmp_path / "outbox.db", TOPICS.org, TOPICS.store, TOPICS.agent, max_records_per_batch=1)
    yield box
    box.close()


@pytest.fixture
def make_sink(outbox: Outbox, mosquitto: Mosquitto) -> Iterator[Callable[..., MqttSink]]:
    """Sinks with test-sized timers; every one is stopped after the test."""
    sinks: list[MqttSink] = []

    def make(**kw: object) -> MqttSink:
        settings: dict[str, object] = {"resend_after_s": 0.5, "reconnect_min_s": 1, "reconnect_max_s": 1,
                                       "status_min_interval_s": 0.2, **kw}
        sink = MqttSink(outbox, TOPICS, "127.0.0.1", mosquitto.port, f"agent-{uuid.uuid4().hex[:8]}",
                        **settings)  # type: ignore[arg-type]
        sinks.append(sink)
        return sink

    yield make
    for sink in sinks:
        sink.stop()


def test_every_batch_reaches_the_hub_and_is_deleted_after_its_ack(
        outbox: Outbox, mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """Batches appended before and after start all reach the hub, and leave the outbox once acked."""
    hub = Hub(mosquitto.port)
    seqs = outbox.append(counts(30), time.time())
    sink = make_sink()
    sink.start()
    seqs += outbox.append(counts(20), time.time())
    sink.kick()
    assert sink.wait_drained(10)
    hub.close()
    assert hub.committed == {(outbox.epoch, s) for s in seqs}
    assert sink.counters["acked"] == 50
    assert sink.counters["bad_ack"] == 0


def test_a_puback_alone_never_deletes_a_batch(
        outbox: Outbox, mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """A broker's PUBACK is no proof of commit: without the hub's ack the batches stay, and are resent."""
    silent = Hub(mosquitto.port, ack=False)
    outbox.append(counts(10), time.time())
    sink = make_sink(resend_after_s=0.3)
    sink.start()
    wait_until(lambda: len(silent.committed) == 10 and outbox.states().get("sent", 0) == 10, 10,
               "all batches PUBACKed")
    assert not sink.wait_drained(0.5)
    assert outbox.backlog() == 10
    wait_until(lambda: sink.counters["resent"] >= 10, 10, "resends of the unacked batches")
    silent.close()
    hub = Hub(mosquitto.port)
    assert sink.wait_drained(10)
    hub.close()


def test_what_one_run_left_unacked_the_next_run_delivers(
        outbox: Outbox, mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """Batches the broker confirmed but the hub never acked survive an agent restart and go out again."""
    silent = Hub(mosquitto.port, ack=False)
    outbox.append(counts(6), time.time())
    first = make_sink(resend_after_s=60)
    first.start()
    wait_until(lambda: outbox.states().get("sent", 0) == 6, 5, "batches PUBACKed")
    first.stop()
    silent.close()
    hub = Hub(mosquitto.port)
    second = make_sink(resend_after_s=0.3)
    second.start()
    assert second.wait_drained(10)
    hub.close()
    assert len(hub.committed) == 6


def test_an_idle_sink_sends_heartbeats_and_costs_no_cpu(
        mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """Connected and idle, the sink refreshes its status on schedule and otherwise sleeps (no polling)."""
    watcher = StatusWatcher(mosquitto.port)
    sink = make_sink(status_interval_s=0.4)
    sink.start()
    wait_until(lambda: sink.connected, 5, "the sink to connect")
    cpu = time.process_time()
    time.sleep(1.3)
    cpu = time.process_time() - cpu
    watcher.close()
    assert watcher.states().count("online") >= 3
    assert cpu < 0.15


def test_broker_down_at_start_then_up(
        outbox: Outbox, mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """An agent booting before the network comes up starts at once, and delivers once the broker is up."""
    mosquitto.stop()
    sink = make_sink()
    began = time.monotonic()
    sink.start()
    assert time.monotonic() - began < 0.5
    outbox.append(counts(5), time.time())
    sink.kick()
    assert not sink.wait_drained(1.2)
    mosquitto.start()
    hub = Hub(mosquitto.port)
    assert sink.wait_drained(10)
    hub.close()
    assert len(hub.committed) == 5


def test_stop_while_the_broker_is_down_returns_promptly(
        mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """Shutting the agent down never hangs on a broker that is gone."""
    mosquitto.stop()
    sink = make_sink()
    sink.start()
    time.sleep(0.2)
    began = time.monotonic()
    sink.stop(timeout=2)
    assert time.monotonic() - began < 2.5


def test_broker_restart_mid_stream_loses_nothing(
        outbox: Outbox, mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """The broker dies (losing what it held) while batches flow: every batch still reaches the hub's
    database, exactly once after dedup by (epoch, seq), and the outbox ends empty."""
    hub = Hub(mosquitto.port)
    sink = make_sink()
    sink.start()
    seqs: list[int] = []

    def feed(n: int) -> None:
        for _ in range(n):
            seqs.extend(outbox.append(counts(2), time.time()))
            sink.kick()
            time.sleep(0.01)

    feed(20)
    mosquitto.stop()
    feed(20)  # appended while the broker is down
    mosquitto.start()
    feed(20)
    assert sink.wait_drained(20)
    hub.close()
    assert len(seqs) == 120
    assert hub.committed == {(outbox.epoch, s) for s in seqs}
    assert len(hub.received) >= len(hub.committed)  # redeliveries happen; dedup makes them harmless
    assert sink.counters["connects"] >= 2


def test_in_flight_is_bounded(
        outbox: Outbox, mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """A stalled broker never gets more than max_inflight_batches unconfirmed batches (paho issue 377)."""
    hub = Hub(mosquitto.port)
    sink = make_sink(max_inflight_batches=4, resend_after_s=10)
    sink.start()
    wait_until(lambda: sink.counters["connects"] == 1, 5, "the sink to connect")
    assert mosquitto.proc is not None
    os.kill(mosquitto.proc.pid, signal.SIGSTOP)
    try:
        outbox.append(counts(40), time.time())
        sink.kick()
        time.sleep(0.5)
        assert sink.inflight == 4
        assert sink.counters["published"] == 4
    finally:
        os.kill(mosquitto.proc.pid, signal.SIGCONT)
    assert sink.wait_drained(10)
    hub.close()
    assert len(hub.committed) == 40


def test_stop_with_a_stalled_broker_keeps_its_timeout(
        outbox: Outbox, mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """A broker that accepts bytes but never answers (hung, overloaded) cannot hang the agent's shutdown."""
    sink = make_sink()
    sink.start()
    wait_until(lambda: sink.connected, 5, "the sink to connect")
    assert mosquitto.proc is not None
    os.kill(mosquitto.proc.pid, signal.SIGSTOP)
    try:
        outbox.append(counts(3), time.time())
        sink.kick()
        began = time.monotonic()
        sink.stop(timeout=1)
        assert time.monotonic() - began < 2
    finally:
        os.kill(mosquitto.proc.pid, signal.SIGCONT)
    assert outbox.backlog() == 3


def test_a_bad_ack_is_counted_and_delivery_goes_on(
        outbox: Outbox, mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """Garbage or a foreign epoch on the ack topic is counted by reason, deletes nothing, crashes nothing."""
    outbox.append(counts(3), time.time())
    sink = make_sink()
    sink.start()
    wait_until(lambda: outbox.states().get("sent", 0) == 3, 5, "batches PUBACKed")
    rogue = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    rogue.connect("127.0.0.1", mosquitto.port)
    rogue.loop_start()
    for payload in (b"\x78not zlib", b'{"epoch": 5}', b"[1, 2]", Ack("0123456789abcdef", (0, 1, 2)).encode()):
        rogue.publish(TOPICS.ack, payload, qos=1).wait_for_publish(5)
    rogue.disconnect()
    rogue.loop_stop()
    wait_until(lambda: sink.counters["bad_ack"] == 3 and sink.counters["stale_ack"] == 1, 5,
               "bad acks counted")
    assert outbox.backlog() == 3
    hub = Hub(mosquitto.port)
    assert sink.wait_drained(10)
    hub.close()


def test_status_online_then_retained_offline_after_stop(
        outbox: Outbox, mosquitto: Mosquitto, make_sink: Callable[..., MqttSink]) -> None:
    """Dashboards see the agent online with its backlog and counters, and offline (retained) once stopped."""
    watcher = StatusWatcher(mosquitto.port)
    hub = Hub(mosquitto.port)
    outbox.append(counts(4), time.time())
    sink = make_sink(status=lambda: Status("online", agent_version="9.9", counters={"frames_bad_fcs": 2}))
    sink.start()
    assert sink.wait_drained(10)
    wait_until(lambda: any(s.backlog_batches == 0 and s.counters.get("mqtt_acked") == 4
                           for s, _ in watcher.seen), 5, "a status showing the drained backlog")
    first = watcher.seen[0][0]
    assert first.state == "online"
    assert first.agent_version == "9.9"
    assert first.counters["frames_bad_fcs"] == 2
    sink.stop()
    watcher.close()
    hub.close()
    final = retained_status(mosquitto.port)
    assert final.state == "offline"
    assert final.counters["mqtt_acked"] == 4
    assert final.updated_at.endswith("Z")


SINK_PROCESS = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from agent.buffer.outbox import Outbox
    from agent.sinks.mqtt import MqttSink
    from agent.wire import Topics
    outbox = Outbox(Path(sys.argv[1]), "acme", "store-1", "gw-1")
    MqttSink(outbox, Topics("acme", "store-1", "gw-1"), "127.0.0.1", int(sys.argv[2]), "agent-killed").start()
    time.sleep(60)
""")


@pytest.mark.slow
def test_last_will_marks_a_killed_agent_offline(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """An agent killed without a goodbye (power cut, kill -9) is shown offline by the broker's last will."""
    watcher = StatusWatcher(mosquitto.port)
    proc = subprocess.Popen([sys.executable, "-c", SINK_PROCESS, str(tmp_path / "o.db"), str(mosquitto.port)],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        wait_until(lambda: "online" in watcher.states(), 10, "the agent online")
    finally:
        proc.kill()
        proc.wait(10)
    wait_until(lambda: watcher.states()[-1:] == ["offline"], 5, "the last will")
    watcher.close()
    assert retained_status(mosquitto.port).state == "offline"
