"""Source: live capture on a monitor-mode interface, probe requests only, in batches.

A plain AF_PACKET socket with the fixed kernel filter of agent/sources/bpf.py, read raw: scapy's
sockets would dissect every frame (~1,000 frames/s) and scapy itself is 80 MB, over the agent's memory
budget. Frames carry the kernel-to-Python receive time (wall clock, to the microsecond); the clock gate
in agent/clock.py decides what happens to them while the clock is not synchronised.

A batch leaves when it holds `batch_frames` frames or every `flush_s` (0.5 s), empty when nothing was
heard, so the pipeline can close idle visits and the app can see a stop request. An interface that goes
away (a USB adapter unplugged) is counted and reopened every few seconds; capture resumes by itself.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from agent.sources.bpf import LINKTYPE_RADIOTAP, attach
from agent.sources.hop import ChannelHopper
from agent.sources.ifaces import SYS_NET, SYS_PHY, LiveSourceError, check_interface, no_cap_net_raw

log = logging.getLogger(__name__)
ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_STATISTICS = 6
RCVBUF_BYTES = 4 << 20  # a few seconds of a busy channel while the pipeline works on a batch
FLUSH_S = 0.5
REOPEN_S = 2.0
SNAP = 65535


class LiveSource:
    """Batches of `(receive time, radiotap frame)` from a monitor interface; opens it at construction, so
    a wrong interface or a missing capability fails at start with a one-line fix."""

    linktype = LINKTYPE_RADIOTAP

    def __init__(self, interface: str, batch_frames: int = 4096, channels: Sequence[int] = (),
                 dwell_s: float = 1.0, *, flush_s: float = FLUSH_S, sys_net: Path = SYS_NET,
                 sys_phy: Path = SYS_PHY, clock: Callable[[], float] = time.time) -> None:
        self.interface = interface
        self.batch_frames = batch_frames
        self.flush_s = flush_s
        self.sys_net, self.sys_phy = sys_net, sys_phy
        self.clock = clock
        self.counters: dict[str, int] = {}
        self.problem: str | None = None
        self.hopper = ChannelHopper(interface, channels, dwell_s) if channels else None
        self.sock: socket.socket | None = self._open()

    def _open(self) -> socket.socket:
        check_interface(self.interface, self.sys_net, self.sys_phy)
        try:
            # protocol 0: nothing is queued until bind(), so no unfiltered frame slips in before attach()
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except PermissionError:
            raise no_cap_net_raw(self.interface) from None
        try:
            attach(sock)
            with contextlib.suppress(OSError):  # capped by net.core.rmem_max: a smaller one still works
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF_BYTES)
            sock.bind((self.interface, ETH_P_ALL))
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.ENODEV, errno.ENXIO):
                raise LiveSourceError(f"interface {self.interface!r} vanished while opening it; "
                                      "check the adapter is plugged in (dmesg) and recreate it") from None
            raise LiveSourceError(f"cannot capture on {self.interface!r}: {exc.strerror}") from None
        sock.setblocking(False)
        return sock

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def _kernel_stats(self) -> None:
        """Frames the kernel dropped because Python fell behind (reading resets the kernel's count)."""
        if self.sock is None:
            return
        try:
            _packets, drops = struct.unpack("II", self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 8))
        except OSError:
            return
        if drops:
            self._count("kernel_dropped", drops)

    def _lost(self, exc: OSError) -> None:
        self._count("interface_lost")
        log.warning("capture on %s stopped (%s); reopening every %.0f s", self.interface,
                    exc.strerror or exc, REOPEN_S)
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def _reopen(self, stop: threading.Event, last_error: list[str]) -> None:
        try:
            self.sock = self._open()
            log.info("capture on %s resumed", self.interface)
            last_error.clear()
        except LiveSourceError as exc:
            if str(exc) not in last_error:
                log.warning("%s", exc)
                last_error[:] = [str(exc)]
            stop.wait(REOPEN_S)

    def batches(self, stop: threading.Event) -> Iterator[list[tuple[float, bytes]]]:
        if self.hopper is not None:
            self.hopper.start()
        last_error: list[str] = []
        batch: list[tuple[float, bytes]] = []
        deadline = time.monotonic() + self.flush_s
        try:
            while not stop.is_set():
                if self.sock is None:
                    self._reopen(stop, last_error)
                else:
                    wait_s = max(0.0, deadline - time.monotonic())
                    try:
                        if select.select([self.sock], [], [], wait_s)[0]:
                            self._drain(batch)
                    except OSError as exc:  # ENETDOWN, ENXIO: the adapter went away
                        self._lost(exc)
                if len(batch) >= self.batch_frames or time.monotonic() >= deadline:
                    self._kernel_stats()
                    if self.hopper is not None:
                        self.counters.update(self.hopper.counters)
                    yield batch
                    batch = []
                    deadline = time.monotonic() + self.flush_s
            if batch:
                yield batch
        finally:
            if self.hopper is not None:
                self.hopper.stop()
                self.counters.update(self.hopper.counters)
            self.close()

    def _drain(self, batch: list[tuple[float, bytes]]) -> None:
        """Read every queued frame without blocking, up to a full batch."""
        assert self.sock is not None
        recv, now, room = self.sock.recvfrom, self.clock, self.batch_frames - len(batch)
        n = 0
        while n < room:
            try:
                data, addr = recv(SNAP)
            except BlockingIOError:
                break
            if addr[2] == socket.PACKET_OUTGOING:  # our own injected frames, if any tool sends some
                continue
            batch.append((now(), data))
            n += 1
        self._count("frames", n)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
