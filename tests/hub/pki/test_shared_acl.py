"""Several hub workers behind the chain's broker: the ACL that broker-config writes lets the `hub`
identity take the gateways' data through a shared subscription, and nobody else."""

from __future__ import annotations

from tests.hub.pki.support import Chain, Peer, TlsBroker


def test_the_hub_identity_may_share_the_data_topic_and_a_gateway_may_not(
    chain: Chain, broker: TlsBroker
) -> None:
    """`$share/hub/...` is granted to hub (ingest.shared_group works on a TLS broker) and what a gateway
    publishes reaches one shared subscriber; a gateway's own shared subscription gets nothing."""
    a = Peer("hub-a", broker.port, chain.ca_file, chain.hub)
    gw = Peer("gw-a", broker.port, chain.ca_file, chain.a)
    spy = Peer("gw-b", broker.port, chain.ca_file, chain.b)
    try:
        assert a.subscribe("$share/hub/footfall/v1/+/+/+/data") == 1
        spy.subscribe("$share/spies/footfall/v1/+/+/+/data")
        topic = "footfall/v1/acme/brno-1/gw-a/data"
        assert gw.publish(topic, b"batch") == 0
        assert a.wait_for(topic, b"batch")
        assert not spy.wait_for(topic, b"batch", timeout=1.0)
    finally:
        for peer in (a, gw, spy):
            peer.close()
