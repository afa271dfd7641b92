"""The product over TLS: an enrolled agent delivers a day to the hub through the chain's broker."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

from agent.simulate import generate_day
from hub.app import Hub
from hub.config import load_hub_config
from hub.ingest.mqtt import BrokerUnavailableError
from tests.hub.pki.support import ORG, STORE, Chain, TlsBroker


def _agent_yaml(chain: Chain, pcap: Path, port: int) -> Path:
    state = chain.root / "gw-a"
    shutil.copy(chain.ca_file, state / "ca.crt")
    path = chain.root / "agent.yaml"
    path.write_text(f"version: 1\norg: {ORG}\nstore: {STORE}\nagent: gw-a\nstate_dir: {state}\n"
                    f"source: {{type: pcap, path: {pcap}}}\n"
                    f"mqtt: {{host: localhost, port: {port}, tls: {{ca_file: ca.crt}}}}\n")
    return path


def _hub_yaml(chain: Chain, port: int) -> Path:
    path = chain.root / "hub.yaml"
    path.write_text(f"version: 1\nmqtt: {{host: localhost, port: {port}, tls: {{ca_file: pki/ca.crt, "
                    f"cert_file: pki/services/hub.crt, key_file: pki/services/hub.key}}}}\n"
                    "database: {path: hub.db}\ntrust: {pki_dir: pki}\n")
    return path


def test_an_enrolled_agent_delivers_to_the_hub_over_tls(chain: Chain, broker: TlsBroker) -> None:
    """With `mqtt.tls` set on both sides (relative paths: the agent's from its state folder, the hub's
    from its config), every batch of a day reaches the hub's database and is acknowledged."""
    day = generate_day(chain.root / "day", date(2026, 11, 26), seed=3, scale=0.1)
    with Hub(load_hub_config(_hub_yaml(chain, broker.port))) as hub:
        run = subprocess.run([sys.executable, "-m", "agent.cli", "run", "--config",
                              str(_agent_yaml(chain, day.pcap, broker.port)), "--drain-timeout", "30"],
                             capture_output=True, text=True, timeout=120, check=False)
        assert run.returncode == 0, run.stderr
        assert "0 batches not yet acked" in run.stderr
        assert hub.wait_idle(10)
    with sqlite3.connect(chain.root / "hub.db") as db:
        agents = {r[0] for r in db.execute("SELECT DISTINCT agent FROM batches")}
    assert agents == {"gw-a"}


def test_the_hub_refuses_to_start_without_its_tls_files(chain: Chain, broker: TlsBroker) -> None:
    """A hub.yaml naming a missing key file fails at start, in one line naming the files and the remedy."""
    path = _hub_yaml(chain, broker.port)
    (chain.root / "pki" / "services" / "hub.key").unlink()
    try:
        Hub(load_hub_config(path)).start()
    except BrokerUnavailableError as exc:
        assert str(exc).startswith(f"cannot load the TLS files {chain.root}/pki/ca.crt")
        assert str(exc).endswith("(make them with footfall-hub pki issue-service hub)")
    else:
        raise AssertionError("the hub started without its key")
