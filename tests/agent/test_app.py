"""The agent daemon's life cycle: SIGTERM stops it cleanly with everything committed; a restart resends."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

from agent.simulate import generate_day
from hub.app import Hub
from hub.config import DatabaseConfig, HubConfig, TrustConfig
from hub.config import MqttConfig as HubMqttConfig
from tests.support.frames import write_pcap
from tests.support.mosquitto import Mosquitto

DEV_TRUST = TrustConfig(require_signatures=False)  # development: unsigned, plain loopback MQTT


def _config(tmp_path: Path, pcap: Path, port: int) -> Path:
    path = tmp_path / f"agent-{pcap.stem}.yaml"
    path.write_text(f"version: 1\norg: acme\nstore: brno-1\nagent: gw-1\ntimezone: Europe/Prague\n"
                    f"state_dir: {tmp_path / 'state'}\nsource: {{type: pcap, path: {pcap}}}\n"
                    f"mqtt: {{port: {port}, resend_after_s: 2, allow_plain_loopback: true,"
                    " signing_key_file: ''}\n")
    return path


def _backlog(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "state" / "outbox.db") as db:
        return int(db.execute("SELECT count(*) FROM batches").fetchone()[0])


def test_sigterm_commits_then_a_restart_delivers_exactly_once(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """With no hub listening, SIGTERM ends the agent at once (exit 0) with its batches in the outbox; the
    next start delivers them and the hub holds each batch once."""
    day = generate_day(tmp_path / "day", date(2026, 11, 26), seed=2, scale=0.2)
    config = _config(tmp_path, day.pcap, mosquitto.port)
    agent = subprocess.Popen([sys.executable, "-m", "agent.cli", "run", "--config", str(config)],
                             stderr=subprocess.PIPE, text=True)
    assert agent.stderr is not None
    for line in agent.stderr:  # the capture is read; now it waits for acks that never come
        if "source ended" in line:
            break
    agent.send_signal(signal.SIGTERM)
    assert agent.wait(timeout=10) == 0
    agent.stderr.close()
    queued = _backlog(tmp_path)
    assert queued > 0

    empty = tmp_path / "empty.pcap"
    write_pcap(empty, [])
    hub_cfg = HubConfig(mqtt=HubMqttConfig(port=mosquitto.port, allow_plain_loopback=True), trust=DEV_TRUST,
                        database=DatabaseConfig(path=str(tmp_path / "h.db")))
    with Hub(hub_cfg) as hub:
        config = _config(tmp_path, empty, mosquitto.port)
        again = subprocess.run([sys.executable, "-m", "agent.cli", "run", "--config", str(config)],
                               capture_output=True, timeout=60, check=False)  # the exit code is asserted next
        assert again.returncode == 0, again.stderr
        hub.wait_idle(10)
    assert _backlog(tmp_path) == 0
    with sqlite3.connect(tmp_path / "h.db") as db:
        stored = db.execute("SELECT count(*), count(DISTINCT seq) FROM batches").fetchone()
    assert stored == (queued, queued)
