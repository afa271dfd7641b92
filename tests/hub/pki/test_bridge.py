"""A regional broker bridged to the hub's (broker-config --bridge, docs/chain.md): agents connect in
their region, the hub to its own broker, and batches and acks cross the bridge both ways."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from hub.app import Hub
from hub.bridgeconf import bridge_text
from hub.brokerconf import write_broker_config
from hub.config import (
    DatabaseConfig,
    HubConfig,
    IngestConfig,
    MqttConfig,
    PublishConfig,
    TlsConfig,
    TrustConfig,
)
from hub.localbroker import LocalBroker
from hub.pki.ca import PkiError
from tests.faults.records import keys
from tests.faults.support import AgentProc, figures, tally
from tests.hub.pki.support import Chain, TlsBroker
from tests.hub.support import wait_for


def test_broker_config_bridge_writes_both_directions_over_tls(chain: Chain, tmp_path: Path) -> None:
    """A regional broker's config bridges data and status out and acks and config in, at QoS 1, over
    TLS with the bridge identity (its files copied beside the broker's, where Debian's mosquitto user
    reads them; the key never wider than 0640); the hub's ACL grants `bridge` exactly those directions."""
    chain.ca.issue_service("bridge")
    files = write_broker_config(chain.ca.folder, tmp_path / "east", bridge="hub.example.net:8883",
                                region="east")
    conf = files.conf.read_text()
    assert "connection footfall-east\naddress hub.example.net:8883\n" in conf
    for line in ("topic footfall/v1/+/+/+/data out 1", "topic footfall/v1/+/+/+/status out 1",
                 "topic footfall/v1/+/+/+/ack in 1", "topic footfall/v1/+/+/+/config in 1",
                 "cleansession false", "bridge_tls_version tlsv1.2",
                 f"bridge_certfile {(tmp_path / 'east' / 'tls').resolve()}/bridge.crt"):
        assert line in conf.splitlines()
    assert (tmp_path / "east" / "tls" / "bridge.key").stat().st_mode & 0o077 in (0, 0o040)
    assert "user bridge\ntopic write footfall/v1/+/+/+/data\ntopic write footfall/v1/+/+/+/status\n" \
           "topic read footfall/v1/+/+/+/ack\ntopic read footfall/v1/+/+/+/config\n" in files.acl.read_text()


def test_broker_config_bridge_refuses_a_bad_address_or_a_missing_identity(
    chain: Chain, tmp_path: Path
) -> None:
    """The user learns what is wrong and what to run, in one line, before any file is written."""
    with pytest.raises(PkiError, match=r" has no bridge certificate \(make one: footfall-hub pki "
                       r"issue-service bridge --dir .*\)$"):
        write_broker_config(chain.ca.folder, tmp_path / "a", bridge="hub.example.net:8883")
    chain.ca.issue_service("bridge")
    with pytest.raises(PkiError, match=r"^--bridge 'hub.example.net' is not HOST:PORT"):
        write_broker_config(chain.ca.folder, tmp_path / "b", bridge="hub.example.net")
    assert not (tmp_path / "a" / "mosquitto.conf").exists()


def test_an_agent_on_a_regional_broker_delivers_through_the_bridge_across_a_regional_restart(
    chain: Chain, broker: TlsBroker, tmp_path: Path
) -> None:
    """An agent sends to its region's broker, bridged over TLS to the hub's broker with its ACL; the hub's
    acks come back over the bridge so the agent frees its outbox. The regional broker is restarted
    mid-stream (without persistence: what it held is gone): the agent resends what stays unacknowledged,
    and every record is in the hub once."""
    began = time.monotonic()
    chain.ca.issue_service("bridge")
    (tmp_path / "east").mkdir()
    tls = tmp_path / "east-tls"  # what broker-config --bridge copies beside the regional broker
    tls.mkdir()
    for src in ("ca.crt", "services/bridge.crt", "services/bridge.key"):
        shutil.copy(chain.ca.folder / src, tls / Path(src).name)
    regional = LocalBroker(tmp_path / "east", extra=bridge_text(tls, f"127.0.0.1:{broker.port}",
                                                                 "east")).start()
    pki = chain.ca.folder
    config = HubConfig(
        mqtt=MqttConfig(host="localhost", port=broker.port, client_id="hub",
                        tls=TlsConfig(str(pki / "ca.crt"), str(pki / "services/hub.crt"),
                                      str(pki / "services/hub.key"))),
        database=DatabaseConfig(path=str(tmp_path / "hub.db")), ingest=IngestConfig(max_wait_ms=10),
        trust=TrustConfig(require_signatures=False), publish=PublishConfig(enabled=False))
    (tmp_path / "gw").mkdir()
    agent = AgentProc(tmp_path / "gw", regional.port, options={
        "count": 6_000, "per_append": 20, "interval_s": 0.01, "resend_after_s": 2, "drain_s": 60})
    try:
        with Hub(config) as hub:
            agent.start().wait_event("ready", 10)
            assert wait_for(lambda: hub.counters["batches_stored"] >= 20, 20), regional.log.read_text()
            regional.restart()
            agent.wait(90)
            assert hub.wait_idle()
    finally:
        regional.stop()
    got = tally(tmp_path / "hub.db")
    first, last = agent.committed()
    committed = keys(0, first, last)
    summary = agent.events("summary")[-1]
    lost = figures("bridge-regional-restart", sent=agent.events("appended")[-1]["records"],
                   committed=committed, hub=got, began=began, batches=got.batches,
                   resent=summary["sink"]["resent"])
    assert agent.events("drained")[-1]["ok"]  # every batch acknowledged back across the bridge
    assert lost == 0
    assert got.duplicated == 0
    assert got.keys == committed
