"""What a gateway's network interfaces and privileges look like, with the fix for each problem.

Shared by the live source (which refuses to start on a wrong interface) and `footfall-agent doctor`
(which reports every problem at once). Reads /sys and /proc only: no scapy, no libpcap, no netlink.
"""

from __future__ import annotations

from pathlib import Path

ARPHRD_IEEE80211_RADIOTAP = 803  # a monitor-mode interface that prepends radiotap headers
ARPHRD_NAMES = {1: "Ethernet", 772: "loopback", 801: "802.11 without radiotap", 65534: "no link layer"}
CAP_NET_ADMIN = 12
CAP_NET_RAW = 13
IFF_UP = 0x1
SYS_NET = Path("/sys/class/net")
SYS_PHY = Path("/sys/class/ieee80211")
ADAPTERS_NOTE = "firmware_notes/adapters.md"


class LiveSourceError(Exception):
    """Live capture cannot start; the message is one line for the operator and names the fix."""


def interfaces(sys_net: Path = SYS_NET) -> list[str]:
    return sorted(p.name for p in sys_net.iterdir()) if sys_net.is_dir() else []


def link_type(name: str, sys_net: Path = SYS_NET) -> int | None:
    """ARPHRD type of an interface (803 is radiotap monitor), None when it does not exist."""
    try:
        return int((sys_net / name / "type").read_text())
    except (OSError, ValueError):
        return None


def is_up(name: str, sys_net: Path = SYS_NET) -> bool:
    try:
        return bool(int((sys_net / name / "flags").read_text(), 16) & IFF_UP)
    except (OSError, ValueError):
        return False


def monitor_interfaces(sys_net: Path = SYS_NET) -> list[str]:
    return [n for n in interfaces(sys_net) if link_type(n, sys_net) == ARPHRD_IEEE80211_RADIOTAP]


def phys(sys_phy: Path = SYS_PHY) -> list[str]:
    """Wi-Fi radios the kernel knows (phy0, ...); empty when no Wi-Fi hardware or driver."""
    return sorted(p.name for p in sys_phy.iterdir()) if sys_phy.is_dir() else []


def create_monitor_hint(name: str = "mon0", sys_phy: Path = SYS_PHY) -> str:
    """The commands that make a monitor interface, or what to plug in when there is no radio."""
    radios = phys(sys_phy)
    if not radios:
        return (f"no Wi-Fi radio found ({sys_phy} is empty): plug in a monitor-capable USB adapter "
                f"(see {ADAPTERS_NOTE}), then: iw phy phy0 interface add {name} type monitor && "
                f"ip link set {name} up")
    return f"create it: iw phy {radios[0]} interface add {name} type monitor && ip link set {name} up"


def check_interface(name: str, sys_net: Path = SYS_NET, sys_phy: Path = SYS_PHY) -> None:
    """Raise LiveSourceError naming the fix unless `name` is an up, radiotap monitor interface."""
    if not name:
        raise LiveSourceError("source.interface is empty; set it to a monitor interface such as mon0 "
                              f"({create_monitor_hint('mon0', sys_phy)})")
    kind = link_type(name, sys_net)
    if kind is None:
        present = ", ".join(interfaces(sys_net)) or "none"
        raise LiveSourceError(f"interface {name!r} does not exist (interfaces here: {present}); "
                              f"{create_monitor_hint(name, sys_phy)}")
    if kind != ARPHRD_IEEE80211_RADIOTAP:
        what = ARPHRD_NAMES.get(kind, f"link type {kind}")
        if (sys_net / name / "phy80211").exists():
            fix = (f"switch it: ip link set {name} down && iw dev {name} set type monitor && "
                   f"ip link set {name} up (or add a separate one: iw dev {name} interface add mon0 "
                   "type monitor)")
        else:
            fix = f"it is not a Wi-Fi interface; {create_monitor_hint('mon0', sys_phy)}"
        raise LiveSourceError(f"interface {name!r} is not in monitor mode ({what}, link type {kind}; "
                              f"monitor with radiotap is {ARPHRD_IEEE80211_RADIOTAP}); {fix}")
    if not is_up(name, sys_net):
        raise LiveSourceError(f"interface {name!r} is down; bring it up: ip link set {name} up")


def no_cap_net_raw(name: str) -> LiveSourceError:
    return LiveSourceError(
        f"capturing on {name!r} needs CAP_NET_RAW (the kernel refused a packet socket); run as root, or "
        "grant it: AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN in the systemd unit "
        "(setcap cap_net_raw,cap_net_admin+eip on the Python binary elsewhere)")


def effective_caps(status: Path = Path("/proc/self/status")) -> int | None:
    """The process's effective capability bits (CapEff), None when /proc does not say."""
    try:
        for line in status.read_text().splitlines():
            if line.startswith("CapEff:"):
                return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None
