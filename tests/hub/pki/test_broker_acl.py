"""The broker's ACL, run for real: each identity reads and writes only its own topics.

Every denial is asserted twice: by the broker's reason code where MQTT 5 gives one (PUBACK 0x87 "not
authorized"), and by a subscriber that would have received the message. A permitted message sent after
the forbidden one, by the same client to the same subscriber, arrives in order: once it is there, the
forbidden one would have been too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from agent.wire.topics import Topics, metrics_topic
from tests.hub.pki.support import ORG, STORE, Chain, Identity, Peer, TlsBroker

NOT_AUTHORIZED = 0x87
A, B = Topics(ORG, STORE, "gw-a"), Topics(ORG, STORE, "gw-b")


@contextmanager
def peer(name: str, broker: TlsBroker, chain: Chain, who: Identity) -> Iterator[Peer]:
    p = Peer(name, broker.port, chain.ca_file, who)
    try:
        yield p
    finally:
        p.close()


def test_a_gateway_publishes_its_own_data_and_status_and_not_another_gateways(chain: Chain,
                                                                             broker: TlsBroker) -> None:
    """Gateway A's data and status reach the hub; A's attempts on B's topics are refused, and nothing
    published under B's name by A ever reaches the hub."""
    with peer("hub", broker, chain, chain.hub) as hub, peer("a", broker, chain, chain.a) as a:
        assert hub.subscribe("footfall/v1/+/+/+/data") == 1
        assert hub.subscribe("footfall/v1/+/+/+/status") == 1
        assert a.publish(B.data, b"forged") == NOT_AUTHORIZED
        assert a.publish(B.status, b"forged", retain=True) == NOT_AUTHORIZED
        assert a.publish(A.data, b"own") == 0
        assert a.publish(A.status, b"online", retain=True) == 0
        assert hub.wait_for(A.data, b"own") and hub.wait_for(A.status, b"online")
        assert hub.topics() == {A.data, A.status}


def test_a_gateway_cannot_write_what_only_the_hub_writes(chain: Chain, broker: TlsBroker) -> None:
    """A gateway cannot fake acks or config for anyone (itself included) nor publish store metrics."""
    with peer("b", broker, chain, chain.b) as b, peer("a", broker, chain, chain.a) as a, \
            peer("hub", broker, chain, chain.hub) as hub:
        assert b.subscribe(B.ack) == 1
        assert b.subscribe(B.config) == 1
        for topic in (B.ack, B.config, A.ack, A.config, metrics_topic(ORG, STORE, "hour")):
            assert a.publish(topic, b"fake") == NOT_AUTHORIZED, topic
        assert hub.publish(B.ack, b"real") == 0
        assert b.wait_for(B.ack, b"real")
        assert (B.ack, b"fake") not in b.received and (B.config, b"fake") not in b.received


def test_a_gateway_cannot_read_another_gateways_config_or_acks(chain: Chain, broker: TlsBroker) -> None:
    """A subscribed to B's config (retained) and acks receives none of them, while B does; A receives
    its own."""
    with peer("hub", broker, chain, chain.hub) as hub, peer("b", broker, chain, chain.b) as b, \
            peer("a", broker, chain, chain.a) as a:
        assert hub.publish(B.config, b"b-config", retain=True) == 0
        for topic in (B.config, B.ack, A.config, A.ack):
            a.subscribe(topic)
        assert b.subscribe(B.ack) == 1
        assert b.subscribe(B.config) == 1
        assert hub.publish(B.ack, b"b-ack") == 0
        assert hub.publish(A.ack, b"a-ack") == 0
        assert b.wait_for(B.ack, b"b-ack") and b.wait_for(B.config, b"b-config")
        assert a.wait_for(A.ack, b"a-ack")
        assert a.topics() == {A.ack}


def test_nobody_reads_everything_or_the_brokers_sys_topics(chain: Chain, broker: TlsBroker) -> None:
    """A subscription to `#` or `$SYS/#` (by a gateway, the hub or the data team) delivers nothing beyond
    the subscriber's own topics, though B publishes, the hub answers and $SYS updates every second."""
    with peer("hub", broker, chain, chain.hub) as hub, peer("b", broker, chain, chain.b) as b, \
            peer("a", broker, chain, chain.a) as a, peer("dt", broker, chain, chain.data_team) as team:
        for p in (a, team):
            for topic in ("#", "$SYS/#"):
                code = p.subscribe(topic)
                assert code in (1, NOT_AUTHORIZED), code
        assert hub.subscribe("$SYS/#") in (1, NOT_AUTHORIZED)
        assert b.publish(B.data, b"b-data") == 0
        assert b.publish(B.status, b"online", retain=True) == 0
        assert hub.publish(B.ack, b"b-ack") == 0
        assert hub.publish(B.config, b"b-config", retain=True) == 0
        assert hub.publish(A.ack, b"a-ack") == 0
        assert a.wait_for(A.ack, b"a-ack")
        time.sleep(2.5)  # two $SYS rounds (sys_interval 1)
        assert a.topics() == {A.ack}
        assert team.topics() == set()
        assert not any(t.startswith("$SYS") for t in hub.topics())


def test_the_data_team_reads_metrics_only(chain: Chain, broker: TlsBroker) -> None:
    """The data team receives the hub's store metrics, but not data, status, acks or config, and may
    publish nothing; the hub may not publish as a gateway."""
    metrics = metrics_topic(ORG, STORE, "day")
    with peer("hub", broker, chain, chain.hub) as hub, peer("b", broker, chain, chain.b) as b, \
            peer("dt", broker, chain, chain.data_team) as team:
        for topic in ("footfall/v1/+/+/+/data", "footfall/v1/+/+/+/status", B.ack, B.config,
                      "footfall/v1/+/+/metrics/+"):
            team.subscribe(topic)
        assert b.publish(B.data, b"b-data") == 0
        assert b.publish(B.status, b"online", retain=True) == 0
        assert hub.publish(B.ack, b"b-ack") == 0
        assert hub.publish(B.config, b"cfg", retain=True) == 0
        assert team.publish(metrics, b"fake") == NOT_AUTHORIZED
        assert team.publish(B.data, b"fake") == NOT_AUTHORIZED
        assert hub.publish(B.data, b"hub-as-gateway") == NOT_AUTHORIZED
        assert hub.publish(metrics, b"visits") == 0
        assert team.wait_for(metrics, b"visits")
        time.sleep(0.3)  # b's publishes came from another client: give them time to be (not) delivered
        assert team.received == [(metrics, b"visits")]
