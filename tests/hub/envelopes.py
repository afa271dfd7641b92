"""Building envelopes and publishing them as an agent would, for the hub's tests and its benchmark."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from agent.wire import Envelope, Visit, encode_envelope
from agent.wire.records import iso

T0 = 1_795_000_000  # 2026-11-18T...Z: any fixed time will do


def visit(i: int, start: float = T0, dwell_s: int = 600, kind: str = "visitor") -> Visit:
    """A visitor visit with a distinct device key."""
    return Visit(
        started_at=iso(start),
        ended_at=iso(start + dwell_s),
        dwell_s=dwell_s,
        sightings_n=12,
        rssi_max_dbm=-55,
        kind=kind,
        randomized=False,
        device_key=f"{i:032x}" if kind == "visitor" else None,
        key_window="w-1",
    )


def envelope(
    seq: int,
    records: Iterable[Any],
    *,
    org: str = "acme",
    store: str = "brno-1",
    agent: str = "gw-1",
    epoch: str = "e1",
) -> Envelope:
    return Envelope(
        org=org, store=store, agent=agent, epoch=epoch, seq=seq, sent_at=iso(T0), records=tuple(records)
    )


class Publisher:
    """A plain paho client standing in for an agent: QoS 1 publishes, waits for the broker's PUBACK."""

    def __init__(self, port: int, client_id: str = "test-agent") -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.received: list[tuple[str, bytes]] = []
        self.got = threading.Condition()
        self.client.on_message = self._on_message

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self.got:
            self.received.append((msg.topic, msg.payload))
            self.got.notify_all()

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *_a: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(5), "no SUBACK"

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def send(self, env: Envelope, times: int = 1) -> None:
        payload = encode_envelope(env)
        for _ in range(times):
            self.publish(env.topics.data, payload)

    def wait_received(self, n: int, timeout: float = 10.0) -> bool:
        with self.got:
            return self.got.wait_for(lambda: len(self.received) >= n, timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
