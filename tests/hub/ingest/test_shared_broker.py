"""What mosquitto does with a shared subscription when a member goes away: the facts the several-worker
design (hub/ingest/mqtt.py, docs/chain.md) is built on, pinned on the real broker."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.hub.envelopes import Publisher
from tests.hub.support import wait_for
from tests.support.mosquitto import Mosquitto

SHARED = "$share/hub/footfall/v1/+/+/+/data"
TOPIC = "footfall/v1/acme/brno-1/gw-1/data"


class Member:
    """A shared subscriber; `expiry_s` > 0 keeps its session (and its share of messages) while away."""

    def __init__(self, port: int, name: str, expiry_s: int) -> None:
        self.got: list[bytes] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda _c, _u, m: self.got.append(bytes(m.payload))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]  # paho leaves it untyped
        props.SessionExpiryInterval = expiry_s
        self.client.connect("127.0.0.1", port, clean_start=expiry_s == 0, properties=props)
        self.client.loop_start()
        self.client.subscribe(SHARED, qos=1)
        assert subscribed.wait(5)

    def leave(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def deal(mosquitto: Mosquitto, expiry_s: int) -> tuple[int, int]:
    """Two members, the first leaves, 20 messages are published: (messages the one left got, total)."""
    away = Member(mosquitto.port, "away", expiry_s)
    stays = Member(mosquitto.port, "stays", expiry_s)
    away.leave()
    pub = Publisher(mosquitto.port)
    try:
        for i in range(20):
            pub.publish(TOPIC, str(i).encode())
        wait_for(lambda: len(stays.got) == 20, 3)
        return len(stays.got), 20
    finally:
        pub.close()
        stays.leave()


def test_a_clean_member_that_left_gets_no_more_of_the_groups_messages(mosquitto: Mosquitto) -> None:
    """With clean sessions (what `ingest.shared_group` uses) a worker that is gone takes no share: every
    new batch goes to the workers still there."""
    got, total = deal(mosquitto, expiry_s=0)
    assert got == total


def test_a_persistent_member_that_left_keeps_taking_its_share(mosquitto: Mosquitto) -> None:
    """Why the workers do not keep persistent sessions: mosquitto 2.0 deals round-robin to every member
    session, connected or not, so a dead worker's session would hold half the new batches."""
    got, total = deal(mosquitto, expiry_s=3600)
    assert got == total // 2
