"""The systemd units in systemd/ and the sd_notify protocol the agent and hub speak to them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.common.sdnotify import Notifier
from tests.hub.support import wait_for
from tests.support.frames import write_pcap
from tests.support.mosquitto import Mosquitto

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "systemd"
MAX_EXPOSURE = {"footfall-agent.service": 3.0, "footfall-hub.service": 2.0}


def _exposure(unit: str) -> float:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd (the unit files are checked offline)"
    out = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(UNITS / unit)],
                         capture_output=True, text=True, timeout=60, check=False)  # exit code: see below
    found = re.search(rf"Overall exposure level for {re.escape(unit)}: (\d+\.\d+)", out.stdout)
    assert found, out.stdout + out.stderr
    return float(found.group(1))


@pytest.mark.parametrize("unit", sorted(MAX_EXPOSURE))
def test_the_units_exposure_stays_within_its_budget(unit: str) -> None:
    """`systemd-analyze security --offline=true` rates the agent at most 3.0 and the hub at most 2.0."""
    assert _exposure(unit) <= MAX_EXPOSURE[unit]


def _instance(tmp_path: Path, unit: str, venv: bool = False) -> Path:
    """A copy of `unit` to check offline: a template as its instance 1, and (`venv`) with ExecStart on
    this checkout's venv, so that `systemd-analyze verify` finds the program."""
    name = unit.replace("@.", "@1.")
    text = (UNITS / unit).read_text()
    if venv:
        text = text.replace("/opt/footfall/venv/bin/", f"{Path(sys.executable).parent}/")
    (tmp_path / name).write_text(text)
    return tmp_path / name


def test_the_worker_template_is_as_hardened_as_the_hub(tmp_path: Path) -> None:
    """footfall-hub@.service (N workers on one machine) has every setting of footfall-hub.service, the
    same exposure budget, and differs only in what makes it a worker: `--worker %i` (serve then needs
    ingest.shared_group), the hub's dynamic user by name (one UID, one state directory: the SQLite file
    and its leader lock), and no single hub beside it."""
    hub, worker = _settings("footfall-hub.service"), _settings("footfall-hub@.service")
    differ = {k for k in hub.keys() | worker.keys() if hub.get(k) != worker.get(k)}
    assert differ == {"Description", "After", "ExecStart", "User", "Conflicts"}
    assert worker["ExecStart"] == [hub["ExecStart"][0] + " --worker %i"]
    assert (worker["User"], worker["DynamicUser"], worker["Conflicts"]) == (
        ["footfall-hub"], ["yes"], ["footfall-hub.service"])
    assert worker["After"][0].startswith(hub["After"][0])
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd"
    out = subprocess.run([analyze, "security", "--offline=true", "--no-pager",
                          str(_instance(tmp_path, "footfall-hub@.service"))],
                         capture_output=True, text=True, timeout=60, check=False)  # exit code: see above
    found = re.search(r"Overall exposure level for footfall-hub@1.service: (\d+\.\d+)", out.stdout)
    assert found, out.stdout + out.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE["footfall-hub.service"]


@pytest.mark.parametrize("unit", ["footfall-agent.service", "footfall-hub.service", "footfall-hub@.service"])
def test_systemd_verifies_the_units_without_a_word(unit: str, tmp_path: Path) -> None:
    """`systemd-analyze verify` (with the program at this venv's path) accepts each unit and warns of
    nothing: no unknown key, no misspelt setting silently ignored."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: apt-get install systemd"
    done = subprocess.run([analyze, "verify", "--man=no", str(_instance(tmp_path, unit, venv=True))],
                          capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


def test_serve_as_a_worker_refuses_a_config_without_a_shared_group(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`serve --worker 1` (what footfall-hub@1 runs) on a hub.yaml without ingest.shared_group stops at
    once with the remedy: two such workers would throw each other off the broker."""
    from hub.cli import main  # noqa: PLC0415 -- the hub's CLI, for this test only

    config = tmp_path / "hub.yaml"
    config.write_text("version: 1\nmqtt: {allow_plain_loopback: true}\n")
    assert main(["serve", "--config", str(config), "--worker", "1"]) == 1
    assert capsys.readouterr().err == (
        "footfall-hub: error: --worker 1: several workers need ingest.shared_group in the config (e.g. "
        f"ingest: {{shared_group: hub}}; docs/chain.md) (in {config})\n")
    assert main(["serve", "--config", str(config), "--worker", "W 1"]) == 1
    assert "--worker 'W 1' must be lower-case letters, digits and -" in capsys.readouterr().err


def test_two_workers_on_one_machine_connect_under_their_own_client_ids(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """footfall-hub@1 and footfall-hub@2 on one hub.yaml: each connects to the broker under client ids
    of its own that name its instance (ingest, and the publisher of whichever leads), so neither takes
    the other's session and the broker's log tells them apart."""
    config = tmp_path / "hub.yaml"
    config.write_text(f"version: 1\nmqtt: {{port: {mosquitto.port}, allow_plain_loopback: true}}\n"
                      "ingest: {shared_group: hub}\ntrust: {require_signatures: false}\n"
                      f"database: {{path: {tmp_path / 'hub.db'}}}\n")
    workers = [subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--config", str(config),
                                 "--worker", name], stderr=subprocess.DEVNULL) for name in ("1", "2")]
    try:
        def connected() -> list[str]:
            return re.findall(r" as (footfall-hub-[12]-\S+) ", mosquitto.log.read_text())

        assert wait_for(lambda: len(set(connected())) == 2, 20), mosquitto.log.read_text()[-2000:]
        assert sorted(c[:15] for c in set(connected())) == ["footfall-hub-1-", "footfall-hub-2-"]
        assert wait_for(lambda: re.search(r" as footfall-hub-metrics-[12] ", mosquitto.log.read_text())
                        is not None, 20)  # the leader's publisher: its own id too
        assert "closing old connection" not in mosquitto.log.read_text()  # no session taken over
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        assert [w.wait(timeout=15) for w in workers] == [0, 0]


def _settings(unit: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in (UNITS / unit).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_the_agent_keeps_only_the_capabilities_capture_needs_and_the_hub_none() -> None:
    """The agent may open packet sockets and retune the radio, nothing more; the hub has no capability;
    the agent runs as the footfall system user the install script makes (its files survive upgrades and
    stay readable to `sudo -u footfall footfall-agent ...`), the hub as a dynamic user; both notify
    systemd, are watched and restarted on failure."""
    agent, hub = _settings("footfall-agent.service"), _settings("footfall-hub.service")
    assert agent["CapabilityBoundingSet"] == agent["AmbientCapabilities"] == ["CAP_NET_RAW CAP_NET_ADMIN"]
    assert hub["CapabilityBoundingSet"] == hub["AmbientCapabilities"] == [""]
    assert agent["RestrictAddressFamilies"] == ["AF_PACKET AF_NETLINK AF_INET AF_INET6 AF_UNIX"]
    assert (agent["User"], agent["Group"], hub["DynamicUser"]) == (["footfall"], ["footfall"], ["yes"])
    for s in (agent, hub):
        for key, value in (("Type", "notify"), ("NoNewPrivileges", "yes"),
                           ("ProtectSystem", "strict"), ("Restart", "on-failure")):
            assert s[key] == [value], key
        assert s["SystemCallFilter"][:2] == ["@system-service", "~@privileged @resources"]
        assert int(s["WatchdogSec"][0]) > 0 and s["StateDirectory"]


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A unix datagram socket standing in for systemd's notification socket."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    try:
        yield sock, path
    finally:
        sock.close()


def test_sd_notify_sends_ready_watchdog_and_stopping(notify_socket: tuple[socket.socket, str]) -> None:
    """READY=1 (with a status), WATCHDOG=1 at most every half watchdog period, STOPPING=1: the datagrams
    systemd waits for."""
    sock, path = notify_socket
    now = [100.0]
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"}, monotonic=lambda: now[0])
    assert n.ping_every_s == 15.0
    assert n.ready("ingesting")
    assert sock.recv(512) == b"READY=1\nSTATUS=ingesting"
    assert n.watchdog() and sock.recv(512) == b"WATCHDOG=1"
    now[0] += 14.9
    assert not n.watchdog()
    now[0] += 0.2
    assert n.watchdog() and sock.recv(512) == b"WATCHDOG=1"
    assert n.stopping() and sock.recv(512) == b"STOPPING=1"


def test_sd_notify_outside_systemd_does_nothing(tmp_path: Path) -> None:
    """Without NOTIFY_SOCKET every call is a no-op; a watchdog meant for another pid is not ours; a socket
    that has gone away is not an error."""
    assert not Notifier({}).ready() and not Notifier({}).watchdog()
    other = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone"), "WATCHDOG_USEC": "1000000",
                      "WATCHDOG_PID": str(os.getpid() + 1)})
    assert other.watchdog_s is None and not other.watchdog()
    assert not other.ready()


def test_sd_notify_reaches_an_abstract_socket() -> None:
    """`@name` in NOTIFY_SOCKET is an abstract unix socket (as systemd may pass it)."""
    name = f"footfall-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5)
        assert Notifier({"NOTIFY_SOCKET": "@" + name}).ready()
        assert sock.recv(64) == b"READY=1"


def _messages(sock: socket.socket, until: bytes) -> list[bytes]:
    got: list[bytes] = []
    while until not in got:
        got.append(sock.recv(512).split(b"\n")[0])
    return got


def test_the_hub_tells_systemd_it_is_ready_alive_and_stopping(
        tmp_path: Path, mosquitto: Mosquitto, notify_socket: tuple[socket.socket, str]) -> None:
    """`footfall-hub serve` under Type=notify: READY=1 once subscribed, WATCHDOG=1 while it runs,
    STOPPING=1 on SIGTERM, then exit 0."""
    sock, path = notify_socket
    (tmp_path / "hub.yaml").write_text(f"version: 1\nmqtt: {{port: {mosquitto.port}, "
                                       "allow_plain_loopback: true}\ntrust: {require_signatures: false}\n")
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}
    hub = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--config", str(tmp_path / "hub.yaml")],
                           env=env, stderr=subprocess.DEVNULL)
    try:
        assert _messages(sock, b"READY=1")[-1] == b"READY=1"
        assert sock.recv(512) == b"WATCHDOG=1"
        assert sock.recv(512) == b"WATCHDOG=1"
        hub.send_signal(signal.SIGTERM)
        assert b"STOPPING=1" in _messages(sock, b"STOPPING=1")
        assert hub.wait(timeout=10) == 0
    finally:
        hub.kill()
        hub.wait()


def test_the_agent_tells_systemd_it_is_ready_and_stopping(
        tmp_path: Path, mosquitto: Mosquitto, notify_socket: tuple[socket.socket, str]) -> None:
    """`footfall-agent run` under Type=notify: READY=1 once the outbox and the broker session are up,
    STOPPING=1 before it shuts down."""
    sock, path = notify_socket
    pcap = tmp_path / "empty.pcap"
    write_pcap(pcap, [])
    (tmp_path / "agent.yaml").write_text(f"version: 1\nstate_dir: {tmp_path / 'state'}\n"
                                         f"source: {{type: pcap, path: {pcap}}}\n"
                                         f"mqtt: {{port: {mosquitto.port}, allow_plain_loopback: true, "
                                         "signing_key_file: ''}\n")
    env = {**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}
    run = subprocess.run([sys.executable, "-m", "agent.cli", "run", "--config", str(tmp_path / "agent.yaml")],
                         env=env, capture_output=True, timeout=60, check=False)  # asserted next
    assert run.returncode == 0, run.stderr
    got = _messages(sock, b"STOPPING=1")
    assert got[0] == b"READY=1" and got[-1] == b"STOPPING=1"
