"""What an operator reads off a running agent or hub: its version, and its logs in the journal or as JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agent import __version__
from tests.support.mosquitto import Mosquitto


@pytest.mark.parametrize("module,prog", [("agent.cli", "footfall-agent"), ("hub.cli", "footfall-hub")])
def test_both_clis_say_their_version(module: str, prog: str) -> None:
    """`--version` prints the program and the package's version (the one the status topic carries)."""
    out = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout == f"{prog} {__version__}\n"


def _serve_logs(tmp_path: Path, mosquitto: Mosquitto, args: list[str], env: dict[str, str] | None = None,
                stat_env: bool = False) -> str:
    """Start `footfall-hub serve`, wait for its first log line, stop it; what it wrote on stderr."""
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"version: 1\ndatabase: {{path: {tmp_path / 'hub.db'}}}\nmqtt: {{port: {mosquitto.port}, "
                   "allow_plain_loopback: true}\ntrust: {require_signatures: false}\n")
    log = tmp_path / "stderr.log"
    with log.open("wb") as err:
        full = {**os.environ, **(env or {})}
        if stat_env:  # what systemd does: JOURNAL_STREAM names the stream stderr is connected to
            st = os.fstat(err.fileno())
            full["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
        hub = subprocess.Popen([sys.executable, "-m", "hub.cli", *args, "serve", "--config", str(cfg)],
                               stderr=err, env=full)
        try:
            deadline = time.monotonic() + 30
            while "hub started" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.1)
            hub.send_signal(signal.SIGTERM)
            assert hub.wait(timeout=30) == 0
        finally:
            hub.kill()
            hub.wait()
    return log.read_text()


def test_under_systemd_logs_go_to_the_journal_with_their_level(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """Started by systemd (JOURNAL_STREAM is stderr), every line carries its syslog priority (<6> info,
    <4> warning) and no timestamp of its own, so `journalctl -p warning -u footfall-hub` filters."""
    lines = _serve_logs(tmp_path, mosquitto, [], stat_env=True).splitlines()
    assert any(line.startswith("<6>hub.app: hub started") for line in lines), lines
    assert all(line[:3] in {"<3>", "<4>", "<6>", "<7>"} for line in lines), lines


def test_json_logs_are_one_object_per_line(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """`--log-format json`: every line parses on its own, with ts (UTC), level, logger and message."""
    lines = _serve_logs(tmp_path, mosquitto, ["--log-format", "json"]).splitlines()
    docs = [json.loads(line) for line in lines]
    started = next(d for d in docs if d["message"].startswith("hub started"))
    assert (started["level"], started["logger"]) == ("info", "hub.app")
    assert started["ts"].endswith("Z") and started["ts"][:2] == "20"


def test_outside_systemd_logs_are_text_with_a_time(tmp_path: Path, mosquitto: Mosquitto) -> None:
    """In a terminal (no JOURNAL_STREAM): `time LEVEL logger: message`."""
    text = _serve_logs(tmp_path, mosquitto, [], env={"JOURNAL_STREAM": ""})
    line = next(li for li in text.splitlines() if "hub started" in li)
    assert line[:2] == "20" and " INFO hub.app: hub started" in line
