"""Static devices (fixtures, staff phones): learned from what the gateway hears, excluded from counts.

A device is *present all day* on a day when it was heard in at least `all_day_share` of the day's
10-minute slots in which the gateway heard anything (and the gateway heard at least an hour), or for
more than `hours_n` hours. It is *static* when present all day on `days_m` of the last `days_d` days
the gateway ran, or for more than `hours_n` hours today (docs/metrics.md). Static devices leave every
count from the moment they are known, and are listed (DeviceFlag records) for review.

Keys rotate with the window, so at a window's close the history of each device present all day is
kept under its carry token (see pseudonymize), and moves to the device's new key when the
pseudonymizer sees the same MAC early in the next window (`transfers`); nothing else crosses a window. Pinned
devices (long-lived pin keys made by `footfall-agent static pin`) are static from the first sighting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from agent.pipeline.pseudonymize import Sighting
from agent.wire.records import DeviceFlag

SLOT_S = 600


class StaticDetector:
    """Batch stage: [Sighting] -> [Sighting] without static devices; flags come out as records."""

    def __init__(self, hours_n: float = 6.0, days_m: int = 3, days_d: int = 7, all_day_share: float = 0.8,
                 window_id: Any = str) -> None:
        self.hours_n, self.days_m, self.days_d, self.share = hours_n, days_m, days_d, all_day_share
        self.window_id = window_id
        self.window = -1
        self.slots: dict[bytes, set[int]] = {}   # device -> slots heard, this window
        self.day_slots: set[int] = set()
        self.history: dict[bytes, list[int]] = {}  # device key (this window) -> windows present all day
        self.pending: dict[bytes, list[int]] = {}  # old key -> its history, waiting for its new key
        self.flagged: set[bytes] = set()           # static now (this window's keys)
        self.flagged_in_window: set[bytes] = set()
        self.pinned: set[bytes] = set()            # devices whose pin key matched (this window's keys)
        self.records: list[Any] = []
        self.days_seen: list[int] = []             # windows with data, newest last
        self.token_of: Callable[[bytes], bytes | None] = lambda dev: None  # set by the pipeline
        self._saved_tokens: dict[bytes, bytes] = {}  # carry tokens restored after a restart

    def transfer(self, pairs: Iterable[tuple[bytes, bytes]]) -> None:
        """Old-window key -> new-window key of the same MAC, from the pseudonymizer's overlap hour."""
        for old, new in pairs:
            hist = self.pending.pop(old, None)
            if hist is not None:
                self.history[new] = hist
                if self._static_by_history(hist):
                    self._flag(new, 0.0)

    def pin(self, devices: Iterable[bytes]) -> None:
        for dev in devices:
            if dev not in self.pinned:
                self.pinned.add(dev)
                self._flag(dev, 0.0)

    def feed(self, sightings: list[Sighting],
             transfers: list[tuple[bytes, bytes]] | None = None) -> list[Sighting]:
        """Drop static devices; `transfers` (old key, new key) belong to the newest window of the batch."""
        if transfers and sightings and sightings[-1][7] == self.window:
            self.transfer(transfers)
            transfers = None
        out: list[Sighting] = []
        append = out.append
        slots, day_slots, flagged = self.slots, self.day_slots, self.flagged
        last_slot = -1
        for s in sightings:
            if s[7] != self.window:
                self._close_window(s[7])
                if transfers and s[7] == sightings[-1][7]:
                    self.transfer(transfers)
                    transfers = None
                slots, day_slots, flagged = self.slots, self.day_slots, self.flagged
            slot = int(s[0] // SLOT_S)
            if slot != last_slot:
                day_slots.add(slot)
                last_slot = slot
            dev = s[1]
            heard = slots.get(dev)
            if heard is None:
                heard = slots[dev] = set()
            if slot not in heard:
                heard.add(slot)
                if len(heard) * SLOT_S > self.hours_n * 3600 and dev not in flagged:
                    self._flag(dev, len(heard) * SLOT_S / 3600)
            if dev in flagged:
                continue
            append(s)
        return out

    def _flag(self, dev: bytes, hours: float) -> None:
        self.flagged.add(dev)
        self.flagged_in_window.add(dev)
        days = sum(1 for w in self.history.get(dev, []) if w in self.days_seen[-self.days_d:])
        self.records.append(DeviceFlag(device_key=dev.hex(), key_window=self.window_id(self.window),
                                       flag="static", hours_present_h=round(hours, 2), days_present_n=days))

    def _static_by_history(self, hist: list[int]) -> bool:
        recent = set(self.days_seen[-self.days_d:])
        return sum(1 for w in hist if w in recent) >= self.days_m

    def _close_window(self, new_window: int) -> None:
        """Record who was present all day in the closing window; their history waits for new keys."""
        if self.window >= 0 and self.day_slots:
            self.days_seen.append(self.window)
            self.days_seen = self.days_seen[-self.days_d:]
            need = max(len(self.day_slots) * self.share, 6)
            long_n = self.hours_n * 3600 / SLOT_S
            pending = {t: h for t, h in self.pending.items() if set(h) & set(self.days_seen)}
            for dev, heard in self.slots.items():
                hist = [w for w in self.history.get(dev, []) if w in self.days_seen]
                if len(heard) >= need or len(heard) > long_n:
                    hist.append(self.window)
                token = self.token_of(dev) or self._saved_tokens.get(dev)
                if hist and token is not None:
                    pending[token] = hist
            self.pending = pending
            self._saved_tokens = {}
        self.window = new_window
        self.slots, self.day_slots = {}, set()
        self.history, self.flagged, self.flagged_in_window, self.pinned = {}, set(), set(), set()

    def take_records(self) -> list[Any]:
        out, self.records = self.records, []
        return out

    def export_state(self) -> dict[str, Any]:
        """What crosses a restart: the history (keys of the current window only) and the days seen."""
        return {
            "window": self.window, "days_seen": self.days_seen,
            "history": {k.hex(): v for k, v in self.history.items()},
            "pending": {k.hex(): v for k, v in self.pending.items()},
            "flagged": sorted(k.hex() for k in self.flagged),
            "slots": {k.hex(): sorted(v) for k, v in self.slots.items() if len(v) >= 3},
            "tokens": {k.hex(): t.hex() for k, v in self.slots.items() if len(v) >= 3
                       and (t := self.token_of(k) or self._saved_tokens.get(k)) is not None},
            "day_slots": sorted(self.day_slots),
        }

    def import_state(self, state: dict[str, Any]) -> None:
        self.window = int(state.get("window", -1))
        self.days_seen = list(state.get("days_seen", []))
        self.history = {bytes.fromhex(k): list(v) for k, v in state.get("history", {}).items()}
        self.pending = {bytes.fromhex(k): list(v) for k, v in state.get("pending", {}).items()}
        self.flagged = {bytes.fromhex(k) for k in state.get("flagged", [])}
        self.flagged_in_window = set(self.flagged)
        self.slots = {bytes.fromhex(k): set(v) for k, v in state.get("slots", {}).items()}
        self._saved_tokens = {bytes.fromhex(k): bytes.fromhex(v) for k, v in state.get("tokens", {}).items()}
        self.day_slots = set(state.get("day_slots", []))
