"""`footfall-agent doctor`: one line per check, ok or PROBLEM with its fix; exit 0 only when all are ok."""

from __future__ import annotations

import socket
from dataclasses import replace
from pathlib import Path

from agent import doctor
from agent.config import AgentConfig, MqttConfig, OutboxConfig, SourceConfig, TlsConfig
from agent.enroll import enroll
from tests.agent.live.conftest import Netns
from tests.support.mosquitto import free_port

LIVE = AgentConfig(source=SourceConfig(type="live", interface="mon0"))


def _sysfs(tmp_path: Path, **ifaces: tuple[int, str]) -> tuple[Path, Path]:
    net, phy = tmp_path / "net", tmp_path / "ieee80211"
    phy.mkdir()
    (phy / "phy0").mkdir()
    for name, (kind, flags) in ifaces.items():
        (net / name).mkdir(parents=True)
        (net / name / "type").write_text(f"{kind}\n")
        (net / name / "flags").write_text(f"{flags}\n")
    return net, phy


def test_a_monitor_interface_that_is_up_is_ok(tmp_path: Path) -> None:
    """The installer sees the configured interface confirmed as monitor mode."""
    net, phy = _sysfs(tmp_path, mon0=(803, "0x1003"))
    assert doctor.check_interface(LIVE, net, phy).line() == \
        "ok       interface    mon0 is a monitor interface (radiotap), up"


def test_a_missing_interface_names_the_radio_to_use(tmp_path: Path) -> None:
    """With a Wi-Fi radio present but no monitor interface, the fix names that radio."""
    net, phy = _sysfs(tmp_path, eth0=(1, "0x1003"))
    assert doctor.check_interface(LIVE, net, phy).line() == (
        "PROBLEM  interface    interface 'mon0' does not exist (interfaces here: eth0); create it: "
        "iw phy phy0 interface add mon0 type monitor && ip link set mon0 up")


def test_a_pcap_config_on_a_machine_with_a_monitor_interface_says_how_to_switch(tmp_path: Path) -> None:
    """A gateway still configured to replay a file is told which interface to capture on instead."""
    net, phy = _sysfs(tmp_path, eth0=(1, "0x1003"), mon0=(803, "0x1003"))
    assert doctor.check_interface(AgentConfig(), net, phy).line() == (
        "PROBLEM  interface    source.type is pcap, so the agent does not capture live; monitor interface "
        "here: mon0; fix: set source: {type: live, interface: mon0} in the config")


def test_missing_capabilities_are_named_with_the_unit_setting(tmp_path: Path) -> None:
    """A process without CAP_NET_RAW (and CAP_NET_ADMIN, needed for hopping) is told how to get them."""
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nCapEff:\t0000000000000000\n")
    hopping = replace(LIVE, source=replace(LIVE.source, channels=[1, 6, 11]))
    assert doctor.check_capabilities(hopping, status).line() == (
        "PROBLEM  capabilities this process lacks CAP_NET_RAW and CAP_NET_ADMIN; fix: run the agent as root, "
        "or AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN in its systemd unit")
    status.write_text("CapEff:\t0000000000002000\n")  # bit 13: CAP_NET_RAW only
    assert doctor.check_capabilities(LIVE, status).ok


def test_the_clock_check_tells_never_set_from_not_synchronised() -> None:
    """A 1970 clock and an unsynchronised kernel clock are both problems with the NTP fix; a synchronised
    one is ok."""
    never = doctor.check_clock(lambda: True, lambda: 100.0)
    assert never.line().startswith("PROBLEM  clock        the clock says 1970-01-01T00:01:40Z: it was never "
                                   "set (no RTC); live data is held aside until it is; fix: enable NTP")
    unsynced = doctor.check_clock(lambda: False, lambda: 1795694400.0)
    assert "is not NTP-synchronised (adjtimex: TIME_ERROR)" in unsynced.line() and not unsynced.ok
    assert doctor.check_clock(lambda: True, lambda: 1795694400.0).line() == \
        "ok       clock        2026-11-26T12:00:00Z, NTP-synchronised"


def test_disk_space_is_measured_against_the_outbox_cap(tmp_path: Path) -> None:
    """The state folder's disk must hold the outbox up to its cap; a cap over the free space is a problem."""
    cfg = AgentConfig(state_dir=str(tmp_path / "state"))
    assert doctor.check_disk(cfg).ok
    huge = replace(cfg, outbox=replace(OutboxConfig(), cap_bytes=1 << 60))
    finding = doctor.check_disk(huge)
    assert not finding.ok and "point state_dir at a larger disk" in finding.line()


def test_the_broker_check_connects_for_real() -> None:
    """A listening broker port is ok; a closed one says nothing listens there."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert doctor.check_broker(AgentConfig(mqtt=MqttConfig(port=port))).ok
    closed = free_port()
    assert doctor.check_broker(AgentConfig(mqtt=MqttConfig(port=closed))).line() == (
        f"PROBLEM  broker       nothing listens on 127.0.0.1:{closed}; fix: start the broker there, or fix "
        "mqtt.host and mqtt.port")


def test_doctor_on_a_machine_without_wifi_reports_it_and_exits_1(netns: Netns) -> None:
    """On this machine (no Wi-Fi hardware; a fresh namespace so the list is known) doctor prints a line per
    check, names the missing monitor interface with what to plug in and the commands, and exits 1."""
    done = netns.python("-m", "agent.cli", "doctor")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    checks = [line.split()[1] for line in lines]
    assert checks == ["interface", "capabilities", "clock", "disk", "broker", "tls", "identity", "signing",
                      "session"]
    assert lines[0] == (
        "PROBLEM  interface    source.type is pcap and there is no monitor-mode interface here "
        "(interfaces: lo); fix: no Wi-Fi radio found (/sys/class/ieee80211 is empty): plug in a "
        "monitor-capable USB adapter (see firmware_notes/adapters.md), then: iw phy phy0 interface add mon0 "
        "type monitor && ip link set mon0 up; then set source: {type: live, interface: mon0}")
    assert lines[4].startswith("PROBLEM  broker       cannot reach 127.0.0.1:1883")


def test_doctor_accepts_a_monitor_interface_in_the_namespace(netns: Netns, tmp_path: Path) -> None:
    """With a live config on an up radiotap interface, the interface and capability lines are ok."""
    netns.monitor_tap("mon0")
    config = tmp_path / "agent.yaml"
    config.write_text(f"version: 1\nstate_dir: {tmp_path}\nsource: {{type: live, interface: mon0}}\n")
    done = netns.python("-m", "agent.cli", "doctor", "--config", str(config), "--timeout", "0.5")
    lines = done.stdout.splitlines()
    assert lines[0] == "ok       interface    mon0 is a monitor interface (radiotap), up"
    assert lines[1] == "ok       capabilities CAP_NET_RAW effective"


def test_tls_check_reads_the_mqtt_tls_section(tmp_path: Path) -> None:
    """With mqtt.tls set, doctor names the enrolment file that is missing, relative to state_dir."""
    (tmp_path / "ca.crt").write_text("ca")
    cfg = replace(AgentConfig(state_dir=str(tmp_path)), mqtt=MqttConfig(tls=TlsConfig(ca_file="ca.crt")))
    finding = doctor.check_tls(cfg)
    assert not finding.ok
    assert f"mqtt.tls.cert_file {str(tmp_path / 'gateway.crt')!r} is missing or unreadable" in finding.detail


def test_doctor_reports_a_missing_signing_key_with_the_enrol_command(tmp_path: Path) -> None:
    """`run` refuses to start without its batch-signing key; doctor says so on its own line, naming the
    file and how to make it, and says ok once a real key is there."""
    cfg = AgentConfig(state_dir=str(tmp_path))

    def signing() -> doctor.Finding:
        return next(f for f in doctor.run(cfg, timeout_s=0.2) if f.name == "signing")

    finding = signing()
    assert not finding.ok
    assert f"{tmp_path / 'gateway-sign.key'} is missing" in finding.detail
    assert "footfall-agent enroll" in finding.detail
    enroll(tmp_path, "demo", "demo-store", "gw-1")
    assert signing().ok
