"""The whole path: a capture becomes a store manager's report (issue 2), through a real mosquitto."""

from __future__ import annotations

import io
import json
import threading
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from agent.app import AgentApp
from agent.config import AgentConfig, MqttConfig, SourceConfig
from agent.sources.capture_file import CaptureFile
from hub.app import Hub
from hub.config import DatabaseConfig, HubConfig
from hub.config import MqttConfig as HubMqttConfig
from hub.demo import run_demo
from tests.support.mosquitto import Mosquitto

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


def test_no_raw_mac_of_a_real_capture_leaves_the_pipeline(tmp_path: Path, mosquitto: Mosquitto, brno: Path,
                                                          capfd: pytest.CaptureFixture[str]) -> None:
    """Every MAC of a real capture, in every text form and as bytes, is absent from every file the agent
    and the hub wrote, every MQTT payload, and every log line."""
    capture = brno / "2022-11-24.pcap"
    macs = {frame[rt + 10:rt + 16] for _, frame in CaptureFile(capture)
            for rt in [frame[2] | frame[3] << 8] if len(frame) >= rt + 16}
    assert len(macs) > 3
    payloads: list[bytes] = []
    sniffer = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="sniffer", protocol=mqtt.MQTTv5)
    sniffer.on_message = lambda _c, _u, msg: payloads.append(msg.topic.encode() + b"\0" + msg.payload)
    sniffer.connect("127.0.0.1", mosquitto.port)
    sniffer.subscribe("#", qos=1)
    sniffer.loop_start()
    hub_cfg = HubConfig(mqtt=HubMqttConfig(port=mosquitto.port),
                        database=DatabaseConfig(path=str(tmp_path / "hub.db")))
    agent_cfg = replace(AgentConfig(state_dir=str(tmp_path / "agent")),
                        source=SourceConfig(type="pcap", path=str(capture)),
                        mqtt=MqttConfig(port=mosquitto.port))
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
