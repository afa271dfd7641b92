"""The broker `broker-config` writes caps MQTT packets at the wire's payload limit (plus headers): a 1 GB
publish never reaches the hub, while a batch of any real size does."""

from __future__ import annotations

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
        # the broker cuts the sender off at the packet's header (0x95 packet too large to an MQTT 5 client)
        assert a.wait_disconnected(30), "the broker kept a client that sent a 9 MiB packet"
        a.close()  # stop its reconnects from sending the 9 MiB again meanwhile
        ok = b"y" * (2 << 20)
        b = Peer("a2", broker.port, chain.ca_file, chain.a)
        try:
            # Under CI load mosquitto 2.0.11 once accepted (PUBACK) and never delivered the batch right
            # after cutting the 9 MiB sender off (1 run in about 120). A gateway resends a batch the hub
            # has not acknowledged end to end (docs/reliability.md), so a resend is what would happen.
            for _ in range(3):
                assert b.publish(A.data, ok) == 0
                if hub.wait_for(A.data, ok, 10):
                    break
            assert hub.wait_for(A.data, ok, 0), (
                f"not delivered (PUBACK {b.last_puback:#x}); the hub's lost connections: {hub.disconnects};"
                f" broker log: {broker.log.read_text()[-3000:]}")
        finally:
            b.close()
        assert all(len(p) < MAX_PAYLOAD_BYTES for _, p in hub.received)
    finally:
        a.close()
        hub.close()
