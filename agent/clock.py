"""Is the wall clock trustworthy, and what to do with frames heard before it is.

A Raspberry Pi has no real-time clock: it boots at 1970 (or at its last shutdown, with fake-hwclock)
and learns the time from NTP, maybe minutes later, maybe days later when the store is offline. So:

- `SyncCheck` asks the kernel (adjtimex: the flag chrony, systemd-timesyncd and ntpd clear once they
  have synchronised) and requires a year of at least 2024. It is cheap (one syscall every few seconds,
  cached), injectable for tests, and latches: once synchronised, a later loss of NTP (the shop's uplink
  down) leaves a clock that drifts by seconds, not one to hold data back for.
- `ClockGate` sits between a live source and the pipeline. While the clock is not synchronised it holds
  frames aside on the monotonic clock; when the clock syncs it re-stamps them with the true time and
  lets them through. If the hold fills up, the oldest frames go through marked unsynchronised (the
  aggregator's `clock_synced` is False for them) when their time is plausible, and are dropped with a
  count when it is not (before 2020): nothing is ever filed under 1970.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections import deque
from collections.abc import Callable

SYNCED_FLOOR_TS = 1704067200.0  # 2024-01-01T00:00:00Z: a clock before this has not been set
FRAME_FLOOR_TS = 1577836800.0   # 2020-01-01T00:00:00Z: a frame stamped before this is never filed
TIME_ERROR = 5                  # adjtimex's answer while the kernel clock is unsynchronised
HOLD_FRAMES = 50_000            # ~8 MB of probe requests held aside while the clock is unset
Batch = list[tuple[float, bytes]]


def kernel_synced() -> bool | None:
    """The kernel's NTP state via adjtimex(2) in read-only mode; None when it cannot be asked."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        timex = ctypes.create_string_buffer(512)  # struct timex is 208 bytes; modes = 0 reads only
        state = int(libc.adjtimex(timex))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != TIME_ERROR


class SyncCheck:
    """`synced()`: the wall clock is set and the kernel says NTP has synchronised it."""

    def __init__(self, probe: Callable[[], bool | None] = kernel_synced, *,
                 now: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
                 every_s: float = 5.0) -> None:
        self.probe, self.now, self.monotonic, self.every_s = probe, now, monotonic, every_s
        self._latched = False
        self._last = False
        self._next = float("-inf")

    def synced(self) -> bool:
        if self._latched:
            return True
        t = self.monotonic()
        if t < self._next:
            return self._last
        self._next = t + self.every_s
        # a kernel we cannot ask (None) leaves the year as the only evidence
        self._last = self.now() >= SYNCED_FLOOR_TS and self.probe() is not False
        self._latched = self._last
        return self._last


class ClockGate:
    """`feed(batch) -> (frames for the pipeline, their clock was synchronised)`."""

    def __init__(self, check: SyncCheck, *, hold_frames: int = HOLD_FRAMES) -> None:
        # the check's clocks: a test that steps its wall clock steps the gate's too
        self.check, self.hold_frames = check, hold_frames
        self.now, self.monotonic = check.now, check.monotonic
        self.counters: dict[str, int] = {}
        self._held: deque[tuple[float, bytes]] = deque()  # (monotonic time heard, frame)

    def _count(self, name: str, n: int) -> None:
        if n:
            self.counters[name] = self.counters.get(name, 0) + n

    @property
    def held(self) -> int:
        return len(self._held)

    def feed(self, batch: Batch) -> tuple[Batch, bool]:
        if self.check.synced():
            out, _ = self.release(len(self._held))
            out.extend(floor(batch, self.counters))
            return out, True
        # wall time - offset = monotonic time; the source stamped these within the last flush (0.5 s)
        offset = self.now() - self.monotonic()
        self._held.extend((ts - offset, frame) for ts, frame in batch)
        self._count("clock_held", len(batch))
        return self.release(len(self._held) - self.hold_frames)

    def release(self, n: int | None = None) -> tuple[Batch, bool]:
        """Let the `n` oldest held frames (all by default: at shutdown) go, re-stamped with the clock's
        current idea of when they were heard; unsynchronised ones only when plausible, and marked."""
        n = len(self._held) if n is None else min(n, len(self._held))
        if n <= 0:
            return [], self.check.synced()
        offset = self.now() - self.monotonic()
        out = [(mono + offset, frame) for mono, frame in (self._held.popleft() for _ in range(n))]
        if self.check.synced():
            self._count("clock_restamped", len(out))
            return out, True
        out = floor(out, self.counters, "clock_unset_dropped")
        self._count("clock_unsynced_sent", len(out))
        return out, False


def floor(batch: Batch, counters: dict[str, int], reason: str = "frames_before_2020") -> Batch:
    """The frames stamped on or after 2020; the others only counted (they would be filed under 1970)."""
    if all(ts >= FRAME_FLOOR_TS for ts, _ in batch):
        return batch
    kept = [f for f in batch if f[0] >= FRAME_FLOOR_TS]
    counters[reason] = counters.get(reason, 0) + len(batch) - len(kept)
    return kept
