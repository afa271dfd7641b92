"""Channel hopping: `iw dev IFACE set channel N` in turn, one dwell per channel, in a thread.

A phone's active scan sends probe requests on every channel, so one fixed channel already hears most
phones; hopping trades a little of each channel for the ones a fixed channel misses (firmware_notes/).
A failing `iw` (no CAP_NET_ADMIN, a channel the regulatory domain forbids) is counted and logged once
per cause, never fatal: capture goes on, on whatever channel the radio is on.
"""

from __future__ import annotations

import logging
import subprocess
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)
Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False)


class ChannelHopper:
    """Cycle `channels` on `interface`, `dwell_s` each, until stopped."""

    def __init__(self, interface: str, channels: Sequence[int], dwell_s: float, *, iw: str = "iw",
                 runner: Runner = _run) -> None:
        self.interface = interface
        self.channels = list(channels)
        self.dwell_s = dwell_s
        self.iw = iw
        self.runner = runner
        self.counters: dict[str, int] = {}
        self.current: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: set[str] = set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="channel-hopper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def hop(self, channel: int) -> bool:
        """Tune to `channel` once; True when `iw` succeeded."""
        cmd = [self.iw, "dev", self.interface, "set", "channel", str(channel)]
        try:
            done = self.runner(cmd)
            ok, why = done.returncode == 0, (done.stderr or done.stdout).strip()
        except (OSError, subprocess.TimeoutExpired) as exc:
            ok, why = False, str(exc)
        if ok:
            self.current = channel
            self.counters["channel_hops"] = self.counters.get("channel_hops", 0) + 1
            return True
        self.counters["channel_hop_errors"] = self.counters.get("channel_hop_errors", 0) + 1
        if why not in self._reported:  # once per cause, not once per dwell
            self._reported.add(why)
            log.warning("channel hop to %d on %s failed: %s (hopping needs iw and CAP_NET_ADMIN)",
                        channel, self.interface, why or "no reason given")
        return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            for channel in self.channels:
                self.hop(channel)
                if self._stop.wait(self.dwell_s):
                    return
