"""Who may read member arrival events, on the broker config broker-config writes (TLS, certificates, ACL).

Arrivals name a member: the hub may publish them; the data-team identity may not read them unless the
chain chose so (`broker-config --data-team-arrivals`); a gateway may neither read nor fake them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.wire.topics import arrivals_topic
from hub.brokerconf import acl_text
from tests.hub.pki.support import ORG, STORE, Chain, Peer, TlsBroker

NOT_AUTHORIZED = 0x87
ARRIVED = arrivals_topic(ORG, STORE)


@contextmanager
def running(tmp_path: Path, data_team_arrivals: bool) -> Iterator[tuple[Chain, TlsBroker]]:
    chain = Chain.make(tmp_path)
    broker = TlsBroker(chain)
    (chain.root / "broker" / "acl").write_text(acl_text(data_team_arrivals=data_team_arrivals))
    broker.start()
    try:
        yield chain, broker
    finally:
        broker.stop()


def test_the_data_team_cannot_read_arrivals_by_default(tmp_path: Path) -> None:
    """The hub publishes an arrival; the data team subscribed to it (and to `#`-like filters of the
    store) receives nothing, though it does receive the store's metrics sent after it; a gateway cannot
    publish a fake arrival."""
    with running(tmp_path, data_team_arrivals=False) as (chain, broker):
        hub = Peer("hub", broker.port, chain.ca_file, chain.hub)
        team = Peer("dt", broker.port, chain.ca_file, chain.data_team)
        gw = Peer("a", broker.port, chain.ca_file, chain.a)
        try:
            team.subscribe(ARRIVED)
            team.subscribe(f"footfall/v1/{ORG}/{STORE}/members/+")
            team.subscribe(f"footfall/v1/{ORG}/{STORE}/metrics/+")
            assert gw.publish(ARRIVED, b"fake") == NOT_AUTHORIZED
            assert hub.publish(ARRIVED, b'{"member_id":"M1"}') == 0
            assert hub.publish(f"footfall/v1/{ORG}/{STORE}/metrics/day", b"visits") == 0
            assert team.wait_for(f"footfall/v1/{ORG}/{STORE}/metrics/day", b"visits")
            time.sleep(0.3)
            assert all(t != ARRIVED for t, _ in team.received)
        finally:
            for p in (hub, team, gw):
                p.close()


def test_the_data_team_reads_arrivals_when_configured(tmp_path: Path) -> None:
    """With `--data-team-arrivals` the data team receives the hub's arrival events."""
    with running(tmp_path, data_team_arrivals=True) as (chain, broker):
        hub = Peer("hub", broker.port, chain.ca_file, chain.hub)
        team = Peer("dt", broker.port, chain.ca_file, chain.data_team)
        try:
            assert team.subscribe(ARRIVED) == 1
            assert hub.publish(ARRIVED, b'{"member_id":"M1"}') == 0
            assert team.wait_for(ARRIVED, b'{"member_id":"M1"}')
        finally:
            hub.close()
            team.close()
