"""The broker `broker-config` writes caps MQTT packets at the wire's payload limit (plus headers): a 1 GB
publish never reaches the hub, while a batch of any real size does."""

from __future__ import annotations

import time

from agent.wire.envelope import MAX_PACKET_BYTES, MAX_PAYLOAD_BYTES
from agent.wire.topics import Topics
from tests.hub.pki.support import ORG, STORE, Chain, Peer, TlsBroker

A = Topics(ORG, STORE, "gw-a")


def test_the_broker_refuses_a_packet_over_the_cap_and_passes_a_large_batch(chain: Chain,
                                                                         broker: TlsBroker) -> None:
    """mosquitto, run on the written config: a gateway's 2 MB payload reaches the hub; one of 9 MiB (over
    the 8 MiB limit the hub decodes at most) is dropped by the broker, never delivered."""
    assert f"max_packet_size {MAX_PACKET_BYTES}" in broker.conf.read_text()
    assert MAX_PAYLOAD_BYTES < MAX_PACKET_BYTES < MAX_PAYLOAD_BYTES + (1 << 20)
    hub = Peer("hub", broker.port, chain.ca_file, chain.hub)
    a = Peer("a", broker.port, chain.ca_file, chain.a)
    try:
        assert hub.subscribe(A.data) == 1
        big = b"x" * (9 << 20)
        a.client.publish(A.data, big, qos=1)
        time.sleep(1.0)
        a.close()  # refused and cut off: stop its reconnects from sending the 9 MiB again meanwhile
        ok = b"y" * (2 << 20)
        b = Peer("a2", broker.port, chain.ca_file, chain.a)
        try:
            assert b.publish(A.data, ok) == 0
            assert hub.wait_for(A.data, ok, 30)
        finally:
            b.close()
        assert all(len(p) < MAX_PAYLOAD_BYTES for _, p in hub.received)
    finally:
        a.close()
        hub.close()
