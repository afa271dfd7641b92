"""The whole path: a capture becomes a store manager's report (issue 2), through a real mosquitto."""

from __future__ import annotations

import base64
import io
import json
import logging
import sqlite3
import threading
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.app import AgentApp
from agent.common.ratchet import next_key
from agent.config import AgentConfig, MqttConfig, SourceConfig
from agent.sources.capture_file import CaptureFile
from hub.app import Hub
from hub.config import DatabaseConfig, HubConfig, TrustConfig
from hub.config import MqttConfig as HubMqttConfig
from hub.demo import STORE as STORE_ID
from hub.demo import run_demo
from tests.support.mosquitto import Mosquitto

DEV_TRUST = TrustConfig(require_signatures=False)  # development: unsigned, plain loopback MQTT

DAY = date(2026, 11, 26)


def test_demo_day_matches_the_generators_truth(tmp_path: Path) -> None:
    """Visitors, passers-by and conversion that reach the hub agree with who really was a visitor."""
    out = io.StringIO()
    assert run_demo(tmp_path, DAY, seed=3, scale=0.4, fmt="json", out=out) == 0
    report = json.loads(out.getvalue())
    truth = json.loads(next((tmp_path / "data").glob("*.truth.json")).read_text())["totals"]
    day = report["day"]
    assert day["visitors"] == pytest.approx(truth["visitors"], rel=0.10)
    assert day["passersby"] == pytest.approx(truth["passersby"], rel=0.20)
    assert day["transactions"] == truth["transactions"]
    true_conversion = truth["transactions"] / truth["visitors"]
    assert day["conversion"] == pytest.approx(true_conversion, rel=0.10)
    hours = [h for h in report["hours"] if h["visitors"]]
    assert sum(h["transactions"] for h in report["hours"]) == truth["transactions"]
    assert hours, "the report has hours with visitors"


def _mac_forms(mac: bytes) -> list[bytes]:
    h = mac.hex()
    forms = [":".join(h[i:i + 2] for i in range(0, 12, 2)), "-".join(h[i:i + 2] for i in range(0, 12, 2)), h,
             ".".join(h[i:i + 4] for i in range(0, 12, 4))]
    return [mac] + [f.encode() for f in forms] + [f.upper().encode() for f in forms]


def test_no_raw_mac_of_a_real_capture_leaves_the_pipeline(tmp_path: Path, mosquitto: Mosquitto,
                                                          captures: Path,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    """Every MAC of a real capture, in every text form and as bytes, is absent from every file the agent
    and the hub wrote, every MQTT payload, and every log line."""
    capture = captures / "2022-11-24.pcap"
    macs = {frame[rt + 10:rt + 16] for _, frame in CaptureFile(capture)
            for rt in [frame[2] | frame[3] << 8] if len(frame) >= rt + 16}
    assert len(macs) > 3
    payloads: list[bytes] = []
    sniffer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sniffer", protocol=mqtt.MQTTv5)
    sniffer.on_message = lambda _c, _u, msg: payloads.append(msg.topic.encode() + b"\0" + msg.payload)
    sniffer.connect("127.0.0.1", mosquitto.port)
    sniffer.subscribe("#", qos=1)
    sniffer.loop_start()
    hub_cfg = HubConfig(mqtt=HubMqttConfig(port=mosquitto.port, allow_plain_loopback=True), trust=DEV_TRUST,
                        database=DatabaseConfig(path=str(tmp_path / "hub.db")))
    agent_cfg = replace(AgentConfig(state_dir=str(tmp_path / "agent")),
                        source=SourceConfig(type="pcap", path=str(capture)),
                        mqtt=MqttConfig(port=mosquitto.port, allow_plain_loopback=True, signing_key_file=""))
    try:
        with Hub(hub_cfg) as hub:
            AgentApp(agent_cfg).run(threading.Event(), drain_timeout_s=30)
            assert hub.wait_idle(10)
    finally:
        sniffer.loop_stop()
        sniffer.disconnect()
    assert payloads, "the sniffer saw the agent's traffic"
    logs = capfd.readouterr()
    blobs: list[tuple[str, bytes]] = [(f"payload {i}", p) for i, p in enumerate(payloads)]
    blobs += [("stdout", logs.out.encode()), ("stderr", logs.err.encode())]
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".pcap":
            blobs.append((str(path.relative_to(tmp_path)), path.read_bytes()))
    leaks: list[Any] = [(where, mac.hex()) for mac in macs for form in _mac_forms(mac)
                        for where, blob in blobs if form in blob]
    assert leaks == []


def _secret_forms(secret: bytes) -> list[bytes]:
    """A secret as bytes, hex (both cases) and base64 (standard and URL-safe, with and without padding)."""
    b64 = [base64.b64encode(secret), base64.urlsafe_b64encode(secret)]
    hexes = [secret.hex().encode(), secret.hex().upper().encode()]
    return [secret, *hexes, *b64, *(b.rstrip(b"=") for b in b64)]


def _demo_secrets(work: Path) -> tuple[set[Path], dict[str, bytes]]:
    """The demo's secret files and every secret they hold (private scalars, PEM bodies, chain keys)."""
    secrets: dict[str, bytes] = {}
    # broker/tls/server.key: broker-config's copy of the broker's key, readable by the broker's group only
    keys = [*work.glob("pki/**/*.key"), *work.glob("agent/*.key"), *work.glob("broker/tls/*.key")]
    for path in keys:
        pem = path.read_bytes()
        for i, line in enumerate(pem.split(b"\n")[1:-2]):  # the PEM body, line by line
            secrets[f"{path.name} PEM line {i}"] = line
        key = serialization.load_pem_private_key(pem, password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey):
            secrets[f"{path.name} scalar"] = key.private_numbers().private_value.to_bytes(32, "big")
        elif isinstance(key, Ed25519PrivateKey):
            secrets[f"{path.name} raw"] = key.private_bytes(serialization.Encoding.Raw,
                                                            serialization.PrivateFormat.Raw,
                                                            serialization.NoEncryption())
    hub_chain = json.loads((work / "pki" / "chains" / f"{STORE_ID}.json").read_text())
    agent_chain = json.loads((work / "agent" / "keychain.json").read_text())
    secrets["hub chain key"] = bytes.fromhex(hub_chain["future_key"])
    secrets["hub chain key, day"] = next_key(secrets["hub chain key"])
    secrets["agent window key"] = bytes.fromhex(agent_chain["anchor_key"])
    secrets["opt-out secret"] = (work / "pki" / "optout.secret").read_bytes()
    files = {*keys, work / "pki" / "chains" / f"{STORE_ID}.json", work / "agent" / "keychain.json",
             work / "pki" / "optout.secret"}
    for extra in (work / "member.secret", work / "agent" / "door-token"):  # none in the demo; if ever
        if extra.exists():
            secrets[extra.name] = extra.read_bytes().strip()
            files.add(extra)
    return files, secrets


def test_a_demo_run_leaves_no_raw_mac_and_no_secret_in_any_log_file_or_payload(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """The demo runs the production set-up (TLS, client certificates, signed batches, keys from the
    enrolment bundle). Afterwards no MAC of the capture (every text form, raw bytes) and no secret
    (private keys, chain and window keys, opt-out secret) is in any log, any file other than the secret's
    own, or any MQTT payload sent by anyone (every paho publish and last will is recorded)."""
    payloads: list[bytes] = []
    publish, will_set = mqtt.Client.publish, mqtt.Client.will_set

    def record_publish(self: mqtt.Client, topic: str, payload: Any = None, *a: Any, **k: Any) -> Any:
        payloads.append(topic.encode() + b"\0" + (payload if isinstance(payload, bytes) else b""))
        return publish(self, topic, payload, *a, **k)

    def record_will(self: mqtt.Client, topic: str, payload: Any = None, *a: Any, **k: Any) -> Any:
        payloads.append(topic.encode() + b"\0" + (payload if isinstance(payload, bytes) else b""))
        return will_set(self, topic, payload, *a, **k)

    monkeypatch.setattr(mqtt.Client, "publish", record_publish)
    monkeypatch.setattr(mqtt.Client, "will_set", record_will)
    caplog.set_level(logging.DEBUG)
    assert run_demo(tmp_path, DAY, seed=5, scale=0.2, fmt="json", out=io.StringIO()) == 0
    assert any(b"/data\0" in p for p in payloads) and any(b"/ack\0" in p for p in payloads)
    with sqlite3.connect(tmp_path / "hub.db") as db:
        assert db.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM batches").fetchone()[0] > 0
    pcap = next((tmp_path / "data").glob("*.pcap"))
    macs = {frame[rt + 10:rt + 16] for _, frame in CaptureFile(pcap)
            for rt in [frame[2] | frame[3] << 8] if len(frame) >= rt + 16}
    secret_files, secrets = _demo_secrets(tmp_path)
    logs = capfd.readouterr()
    blobs = [(f"payload {i}", p) for i, p in enumerate(payloads)]
    blobs += [("stdout", logs.out.encode()), ("stderr", logs.err.encode()), ("log", caplog.text.encode())]
    blobs += [(str(p.relative_to(tmp_path)), p.read_bytes()) for p in tmp_path.rglob("*")
              if p.is_file() and p not in secret_files and p.parent.name != "data"]  # data: the input
    assert len(macs) > 50 and len(secrets) >= 20
    mac_leaks = [(where, mac.hex()) for mac in macs for form in _mac_forms(mac) for where, blob in blobs
                 if form in blob]
    secret_leaks = [(where, name) for name, secret in secrets.items() for form in _secret_forms(secret)
                    for where, blob in blobs if form in blob]
    assert mac_leaks == []
    assert secret_leaks == []
