"""`footfall-agent run` on a wrong interface or without the capability: one line naming the fix, exit 1,
before anything connects. Run in a fresh network namespace, so the interfaces it lists are known."""

from __future__ import annotations

from pathlib import Path

from tests.agent.live.conftest import Netns

NO_RADIO = ("no Wi-Fi radio found (/sys/class/ieee80211 is empty): plug in a monitor-capable USB adapter "
            "(see firmware_notes/adapters.md), then: iw phy phy0 interface add {name} type monitor && "
            "ip link set {name} up")


def _run(netns: Netns, tmp_path: Path, interface: str, prefix: tuple[str, ...] = ()) -> tuple[int, list[str]]:
    config = tmp_path / "agent.yaml"
    config.write_text(f"version: 1\nstate_dir: {tmp_path / 'state'}\n"
                      f"source: {{type: live, interface: {interface}}}\n")
    done = netns.python("-m", "agent.cli", "run", "--config", str(config), prefix=prefix)
    return done.returncode, done.stderr.splitlines()


def test_a_missing_interface_names_the_commands_that_create_it(netns: Netns, tmp_path: Path) -> None:
    """No such interface: the error lists the interfaces there are and how to make a monitor one."""
    code, err = _run(netns, tmp_path, "mon0")
    assert code == 1
    assert err == ["footfall-agent: error: interface 'mon0' does not exist (interfaces here: lo); "
                   + NO_RADIO.format(name="mon0")]


def test_an_ethernet_interface_is_refused_as_not_in_monitor_mode(netns: Netns, tmp_path: Path) -> None:
    """A real non-monitor interface (a veth) is refused with its link type and the fix, before anything
    connects (the error is the only line on stderr)."""
    assert netns.run("ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1").returncode == 0
    code, err = _run(netns, tmp_path, "veth1")
    assert code == 1
    assert err == ["footfall-agent: error: interface 'veth1' is not in monitor mode (Ethernet, link type 1; "
                   "monitor with radiotap is 803); it is not a Wi-Fi interface; "
                   + NO_RADIO.format(name="mon0")]


def test_a_monitor_interface_that_is_down_says_to_bring_it_up(netns: Netns, tmp_path: Path) -> None:
    """A monitor interface left down would capture nothing in silence; the agent says how to bring it up."""
    netns.monitor_tap("mon0", up=False)
    code, err = _run(netns, tmp_path, "mon0")
    assert code == 1
    assert err == ["footfall-agent: error: interface 'mon0' is down; bring it up: ip link set mon0 up"]


def test_without_cap_net_raw_the_error_names_the_capability(netns: Netns, tmp_path: Path) -> None:
    """Even as root, a process without CAP_NET_RAW (dropped with setpriv, as a hardened unit would) gets
    one line naming the capability and how to grant it."""
    netns.monitor_tap("mon0")
    code, err = _run(netns, tmp_path, "mon0", prefix=("setpriv", "--bounding-set", "-net_raw", "--"))
    assert code == 1
    assert err == ["footfall-agent: error: capturing on 'mon0' needs CAP_NET_RAW (the kernel refused a "
                   "packet socket); run as root, or grant it: AmbientCapabilities=CAP_NET_RAW "
                   "CAP_NET_ADMIN in the systemd unit (setcap cap_net_raw,cap_net_admin+eip on the Python "
                   "binary elsewhere)"]
