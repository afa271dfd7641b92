"""`footfall-agent doctor`: is this gateway ready to capture and deliver? One line per check, with a fix.

An installer runs it on site before leaving. It reads /sys and /proc, asks the kernel's clock, looks at
the disk and opens one TCP connection to the broker; it changes nothing. Exit 0 when every check is ok.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from agent.buffer.cap import DEFAULT_CAP_BYTES
from agent.clock import SYNCED_FLOOR_TS, kernel_synced
from agent.config import AgentConfig
from agent.sources import ifaces
from agent.wire.records import iso

NTP_FIX = ("enable NTP: timedatectl set-ntp true (systemd-timesyncd) or install chrony; on OpenWrt: "
           "uci set system.ntp.enabled=1 && uci commit system && /etc/init.d/sysntpd restart; "
           "allow UDP 123 out")


@dataclass(frozen=True)
class Finding:
    """One check's verdict: what was seen, and the fix when it is a problem."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{'ok' if self.ok else 'PROBLEM':<8} {self.name:<12} {self.detail}"
        return f"{text}; fix: {self.fix}" if self.fix and not self.ok else text


def check_interface(cfg: AgentConfig, sys_net: Path = ifaces.SYS_NET,
                    sys_phy: Path = ifaces.SYS_PHY) -> Finding:
    src = cfg.source
    if src.type == "live":
        try:
            ifaces.check_interface(src.interface, sys_net, sys_phy)
        except ifaces.LiveSourceError as exc:
            return Finding("interface", False, str(exc))
        return Finding("interface", True, f"{src.interface} is a monitor interface (radiotap), up")
    monitors = ifaces.monitor_interfaces(sys_net)
    if monitors:
        return Finding("interface", False, f"source.type is {src.type}, so the agent does not capture live; "
                       f"monitor interface here: {', '.join(monitors)}",
                       f"set source: {{type: live, interface: {monitors[0]}}} in the config")
    present = ", ".join(ifaces.interfaces(sys_net)) or "none"
    return Finding("interface", False,
                   f"source.type is {src.type} and there is no monitor-mode interface here "
                   f"(interfaces: {present})",
                   f"{ifaces.create_monitor_hint('mon0', sys_phy)}; "
                   "then set source: {type: live, interface: mon0}")


def check_capabilities(cfg: AgentConfig, status: Path = Path("/proc/self/status")) -> Finding:
    caps = ifaces.effective_caps(status)
    if caps is None:
        return Finding("capabilities", False, f"cannot read CapEff from {status}",
                       "run doctor on the gateway (Linux)")
    need = {"CAP_NET_RAW": ifaces.CAP_NET_RAW}
    if cfg.source.channels:
        need["CAP_NET_ADMIN"] = ifaces.CAP_NET_ADMIN  # iw set channel
    missing = [name for name, bit in need.items() if not caps >> bit & 1]
    if missing:
        return Finding("capabilities", False, f"this process lacks {' and '.join(missing)}",
                       "run the agent as root, or AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN in its "
                       "systemd unit")
    have = " and ".join(need)
    if cfg.source.channels and shutil.which("iw") is None:
        return Finding("capabilities", False, f"{have} effective, but channel hopping needs iw, not on PATH",
                       "install iw (apt-get install iw; opkg install iw)")
    return Finding("capabilities", True, f"{have} effective")


def check_clock(probe: Callable[[], bool | None] = kernel_synced,
                now: Callable[[], float] = time.time) -> Finding:
    t = now()
    if t < SYNCED_FLOOR_TS:
        return Finding("clock", False, f"the clock says {iso(max(t, 0))}: it was never set (no RTC); "
                       "live data is held aside until it is", NTP_FIX)
    state = probe()
    if state is False:
        return Finding("clock", False, f"the kernel clock ({iso(t)}) is not NTP-synchronised (adjtimex: "
                       "TIME_ERROR); live data is held aside until it is", NTP_FIX)
    if state is None:
        return Finding("clock", True, f"{iso(t)}; the kernel's NTP state is unknown, the year looks right")
    return Finding("clock", True, f"{iso(t)}, NTP-synchronised")


def _existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists():
        path = path.parent
    return path


def check_disk(cfg: AgentConfig) -> Finding:
    where = _existing(cfg.state_path)
    # the outbox's cap bounds its database, WAL and shared memory together (agent/buffer/cap.py)
    need = int(getattr(cfg.outbox, "cap_bytes", DEFAULT_CAP_BYTES))
    st = os.statvfs(where)
    free = st.f_bavail * st.f_frsize
    outbox = cfg.state_path / cfg.outbox.file
    used = outbox.stat().st_size if outbox.exists() else 0
    if not os.access(where, os.W_OK):
        return Finding("disk", False, f"{where} is not writable for this user (state_dir {cfg.state_dir})",
                       f"mkdir -p {cfg.state_dir} && chown the agent's user on it")
    detail = (f"{free / 1e6:,.0f} MB free under {where}; the outbox ({used / 1e6:,.1f} MB now) may grow "
              f"to its cap of {need / 1e6:,.0f} MB")
    if free + used < need:
        return Finding("disk", False, detail, "free space, or point state_dir at a larger disk "
                       "(on OpenWrt: a USB stick as extroot, see firmware_notes/openwrt.md)")
    return Finding("disk", True, detail)


def check_broker(cfg: AgentConfig, timeout_s: float = 3.0) -> Finding:
    host, port = cfg.mqtt.host, cfg.mqtt.port
    where = f"{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return Finding("broker", True, f"{where} accepts TCP connections")
    except socket.gaierror:
        return Finding("broker", False, f"cannot resolve {host!r}",
                       "check DNS, or set mqtt.host to an address")
    except ConnectionRefusedError:
        return Finding("broker", False, f"nothing listens on {where}",
                       "start the broker there, or fix mqtt.host and mqtt.port")
    except TimeoutError:
        return Finding("broker", False, f"no answer from {where} within {timeout_s:g} s",
                       f"check routing and that the firewall lets TCP {port} out")
    except OSError as exc:
        return Finding("broker", False, f"cannot reach {where}: {exc.strerror or exc}",
                       "check the network link and mqtt.host")


def check_tls(cfg: AgentConfig) -> Finding:
    """The CA, certificate and key of `mqtt.tls` exist and are readable (relative to state_dir)."""
    paths = cfg.mqtt.tls.paths(cfg.state_path)
    if paths is None:
        return Finding("tls", True, f"not configured: MQTT to port {cfg.mqtt.port} in clear "
                       "(keep the broker on the store's LAN or a VPN)")
    files = {f"tls.{name}": str(path) for name, path in zip(("ca_file", "cert_file", "key_file"), paths,
                                                           strict=True)}
    bad = [f"mqtt.{k} {v!r} is missing or unreadable" for k, v in files.items() if not os.access(v, os.R_OK)]
    if bad:
        return Finding("tls", False, "; ".join(bad), "copy the files from enrolment and make them readable "
                       "by the agent's user (keys mode 0600)")
    return Finding("tls", True, f"{', '.join(f'mqtt.{k}' for k in files)} readable")


def check_signing_key(cfg: AgentConfig) -> Finding:
    """The batch-signing key `run` loads (agent/preflight.py): without it the agent does not start."""
    from agent.enroll import EnrollError  # noqa: PLC0415 -- as above
    from agent.preflight import signing_key  # noqa: PLC0415 -- the key code loads only for this check

    if not cfg.mqtt.signing_key_file:
        return Finding("signing", True, "signing_key_file is empty: batches go unsigned (development; the "
                       "hub must have trust.require_signatures: false)")
    try:
        signing_key(cfg)
    except EnrollError as exc:
        return Finding("signing", False, str(exc).split(" (", 1)[0],
                       f"footfall-agent enroll --dir {cfg.state_path}, then footfall-hub pki issue on the "
                       "hub")
    return Finding("signing", True, f"{cfg.state_path / cfg.mqtt.signing_key_file} is an Ed25519 key")


def run(cfg: AgentConfig, timeout_s: float = 3.0) -> list[Finding]:
    return [check_interface(cfg), check_capabilities(cfg), check_clock(), check_disk(cfg),
            check_broker(cfg, timeout_s), check_tls(cfg), check_signing_key(cfg)]
