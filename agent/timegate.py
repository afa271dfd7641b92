"""Frames whose time cannot be trusted never reach the pseudonymizer, so they never move the key ratchet.

The ratchet moves forward whenever a frame of a later window arrives, and a moved ratchet never comes
back: one frame stamped 2106 used to destroy every key before 2106, and every later frame, in that run
and every later one with the same state, was dropped as `key_expired`. So, in front of the
pseudonymizer, dropped and counted by reason:

- `time_future`: later than AHEAD_S after the reference clock. Live frames: this machine's clock, once
  NTP has synchronised it. A capture file: this machine's clock whenever it is set at all (a year of
  2024 or later): a capture cannot come from the future of the machine that reads it.
- `time_outlier` (capture files): a frame more than JUMP_S ahead of the capture's own recent frames,
  until CONFIRM_N later frames agree with it. A capture is in time order; a real gap (the gateway was
  off overnight) is followed by frames of the new time, a corrupt timestamp is not. The brno-lab
  captures are from 2022-2023 while this machine says 2026: their reference is their own timeline.
  Only a jump into a later key window needs confirming (`window_of`): within the accepted frames' window
  a frame cannot move the ratchet, and a quiet night gives no 3 frames within 5 minutes (confirming every
  jump dropped 3 of the 511 real frames of tests/data/brno-lab/2023-04-17.pcap). A corrupt time inside
  the window costs at most that frame's sighting at a wrong hour of the same day. Frames waiting for
  confirmation agree with each other when within JUMP_S, or in one key window (a sparse start).
- `time_unsynced_ahead` (live, clock not synchronised): a frame of a window after the newest one the key
  chain has reached: an unsynchronised clock never moves the ratchet (agent/clock.py holds frames
  first; this is for the ones it lets go marked unsynchronised). With no chain installed yet, agent/app.py
  keeps the chain of such a run in memory only, so that no anchor is ever written from such a clock.

Frames before the oldest key still held are the pseudonymizer's `key_expired`; before 2020,
agent/clock.py's `frames_before_2020`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from agent.clock import SYNCED_FLOOR_TS

Batch = list[tuple[float, bytes]]
AHEAD_S = 300.0     # "a few minutes" of clock error or capture skew
JUMP_S = 300.0      # a frame further ahead of the capture's recent frames needs confirmation
CONFIRM_N = 3       # ... by this many later frames within JUMP_S of it
MAX_GROUPS = 8      # candidate timelines held at once; the oldest unconfirmed one goes first
MAX_PENDING = 4096  # frames held for confirmation in all; beyond, the oldest group goes
TIME_REASONS = ("time_future", "time_outlier", "time_unsynced_ahead", "key_expired", "frames_before_2020")


def file_ceiling(now: Callable[[], float]) -> Callable[[], float | None]:
    """The latest time a capture file's frame may have: this machine's clock + AHEAD_S when it is set."""
    def ceiling() -> float | None:
        t = now()
        return t + AHEAD_S if t >= SYNCED_FLOOR_TS else None
    return ceiling


@dataclass
class _Group:
    """Frames that agree with each other but are ahead of the accepted timeline."""

    frames: Batch = field(default_factory=list)
    lo: float = 0.0
    hi: float = 0.0
    strikes: int = 0  # frames since that continued the accepted timeline instead

    def agrees(self, ts: float, jump_s: float) -> bool:
        return self.lo - jump_s <= ts <= self.hi + jump_s

    def add(self, ts: float, frame: bytes) -> None:
        if not self.frames:
            self.lo = self.hi = ts
        self.frames.append((ts, frame))
        self.lo, self.hi = min(self.lo, ts), max(self.hi, ts)


class TimeGate:
    """`feed(batch) -> batch`: frames within the ceiling and, with `timeline`, confirmed by their
    neighbours; `close()` at the end of a capture; `counters` by reason."""

    def __init__(self, ceiling: Callable[[], float | None], *, timeline: bool = True,
                 jump_s: float = JUMP_S, confirm_n: int = CONFIRM_N,
                 window_of: Callable[[float], int] | None = None) -> None:
        """`window_of(ts)`: the key window of a time; a jump within the accepted timeline's window is
        accepted unconfirmed (None: every jump needs confirming)."""
        self.ceiling, self.timeline, self.jump_s, self.confirm_n = ceiling, timeline, jump_s, confirm_n
        self.window_of = window_of
        self.counters: dict[str, int] = {}
        self.ref: float | None = None  # the newest accepted frame's time
        self._groups: list[_Group] = []

    def _count(self, reason: str, n: int = 1) -> None:
        if n:
            self.counters[reason] = self.counters.get(reason, 0) + n

    def feed(self, batch: Batch) -> Batch:
        top = self.ceiling()
        if top is not None and batch and max(ts for ts, _ in batch) > top:
            kept = [f for f in batch if f[0] <= top]
            self._count("time_future", len(batch) - len(kept))
            batch = kept
        if not self.timeline:
            return batch
        out, start = self._steady(batch)
        for ts, frame in batch[start:]:
            self._one(ts, frame, out)
        return out

    def _steady(self, batch: Batch) -> tuple[Batch, int]:
        """The common case, fast: the leading frames that go on from the accepted timeline, and where
        the first one that does not is."""
        ref, limit = self.ref, self.jump_s
        if ref is None or self._groups:
            return [], 0
        for i, (ts, _) in enumerate(batch):
            if ts > ref + limit and not self._same_window(ref, ts):
                self.ref = ref
                return batch[:i], i
            ref = max(ref, ts)
        self.ref = ref
        return list(batch), len(batch)

    def _one(self, ts: float, frame: bytes, out: Batch) -> None:
        if self.ref is not None and (ts <= self.ref + self.jump_s or self._same_window(self.ref, ts)):
            out.append((ts, frame))
            self.ref = max(self.ref, ts)
            if self._groups:
                for g in self._groups:
                    g.strikes += 1
                self._drop([g for g in self._groups if g.strikes >= self.confirm_n])
            return
        for g in self._groups:
            if g.agrees(ts, self.jump_s) or self._same_window(g.hi, ts):
                g.add(ts, frame)
                if len(g.frames) > self.confirm_n:  # confirmed: the capture's time really moved on
                    out.extend(g.frames)
                    self.ref = g.hi if self.ref is None else max(self.ref, g.hi)
                    self._drop([o for o in self._groups if o is not g])
                    self._groups = []
                return
        group = _Group()
        group.add(ts, frame)
        self._groups.append(group)
        while len(self._groups) > MAX_GROUPS or sum(len(g.frames) for g in self._groups) > MAX_PENDING:
            self._drop([self._groups[0]])

    def _same_window(self, ref: float, ts: float) -> bool:
        """The accepted timeline goes on: a later frame in the same key window cannot move the ratchet."""
        return self.window_of is not None and self.window_of(ts) == self.window_of(ref)

    def _drop(self, groups: list[_Group]) -> None:
        for g in groups:
            self._count("time_outlier", len(g.frames))
        self._groups = [g for g in self._groups if all(g is not d for d in groups)]

    def close(self) -> Batch:
        """End of the capture: unconfirmed frames are outliers, except in a capture too short to confirm
        anything (no timeline accepted at all), where its largest group within the ceiling goes through."""
        if not self._groups:
            return []
        out: Batch = []
        if self.ref is None and self.ceiling() is not None:
            best = max(self._groups, key=lambda g: len(g.frames))
            out = best.frames
            self.ref = best.hi
            self._groups = [g for g in self._groups if g is not best]
        self._drop(list(self._groups))
        return out

    def not_ahead(self, batch: Batch, window_end: float | None) -> Batch:
        """Unsynchronised frames that stay before `window_end` (the end of the key chain's newest window;
        None: no chain yet, nothing to move); the others counted `time_unsynced_ahead`."""
        if window_end is None:
            return batch
        kept = [f for f in batch if f[0] < window_end]
        self._count("time_unsynced_ahead", len(batch) - len(kept))
        return kept
