"""sd_notify(3) without libsystemd: datagrams to $NOTIFY_SOCKET, for `Type=notify` and `WatchdogSec=`.

`READY=1` once the service works (state recovered, broker session started), `WATCHDOG=1` from the loop
that does the work (so a hung capture or ingest loop is restarted, not just a hung process), and
`STOPPING=1` when shutting down. Outside systemd (no NOTIFY_SOCKET) every call does nothing. Used by
the agent and the hub (the hub may import the agent, never the reverse).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Tell systemd about this service's state; `watchdog()` is cheap enough for every loop turn."""

    def __init__(self, env: Mapping[str, str] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        # '@name' is an abstract socket: its first byte is NUL
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())  # the watchdog may be meant for a parent process
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and mine else None
        self._monotonic = monotonic
        self._next_ping = float("-inf")

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    @property
    def ping_every_s(self) -> float:
        """How often the loop should call `watchdog()`: half the watchdog period (60 s without one)."""
        return self.watchdog_s / 2 if self.watchdog_s else 60.0

    def send(self, *fields: str) -> bool:
        """Send `KEY=value` lines in one datagram; False when not under systemd or the send failed."""
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto("\n".join(fields).encode(), self.address)
        except OSError as exc:  # systemd restarting, socket gone: the service itself goes on
            log.debug("sd_notify to %s failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def watchdog(self) -> bool:
        """WATCHDOG=1 at most every `ping_every_s` (the call itself may come far more often)."""
        if self.watchdog_s is None:
            return False
        now = self._monotonic()
        if now < self._next_ping:
            return False
        self._next_ping = now + self.ping_every_s
        return self.send("WATCHDOG=1")
