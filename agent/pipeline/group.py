"""Group randomized MACs into devices, at the edge, within one key window.

A phone that probes with random (locally administered) MACs changes its MAC every scan or every few
minutes, but keeps its information elements, and most models keep counting sequence numbers across the
change. So each new random MAC is linked to a *track* of the same fingerprint:

1. sequence continuity: the new MAC's first sequence number follows the track's last one by 1 to
   `seq_window` (12-bit, wraps at 4096), within `gap_s`; the closest follower wins;
2. otherwise, for a fingerprint whose devices are known to restart their sequence numbers at each MAC
   change (learned per fingerprint: fewer than a third of its MAC changes were seq-continuous), the
   most recent track heard within `restart_gap_s` with a signal within `rssi_tol_db` of the track's;
3. a track whose current MAC was heard within `busy_s` cannot take a new MAC: two MACs at once are two
   devices (two phones of one model side by side);
4. else a new track. Universally administered MACs are one device each and pass unchanged.

A track's key is HMAC(visit key of its first MAC, "group"): a pseudonym that reveals no MAC and, like
the visit key it comes from, means nothing outside its window.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from agent.pipeline.pseudonymize import Sighting


@dataclass(slots=True)
class Track:
    key: bytes
    fingerprint: int
    last_ts: float
    last_seq: int
    rssi_dbm: float      # running mean of the signal
    mac_key: bytes       # the visit key of the MAC it holds now
    mac_last_ts: float   # last sighting of that MAC


@dataclass(slots=True)
class FingerprintStats:
    changes_n: int = 0     # MAC changes linked or tested
    continuous_n: int = 0  # of which seq-continuous

    def restarts_seq(self, min_changes: int) -> bool:
        return self.changes_n >= min_changes and self.continuous_n * 3 < self.changes_n


class Grouper:
    """Batch stage: [Sighting] -> [Sighting] with random MACs' keys replaced by device (track) keys."""

    def __init__(self, *, gap_s: float = 900.0, seq_window: int = 256, busy_s: float = 1.0,
                 rssi_tol_db: float = 12.0, min_changes: int = 5, strict_seq: int = 64,
                 restart_gap_s: float = 900.0, restart_weak_s: float = 900.0, near_dbm: int = -70) -> None:
        self.gap_s, self.seq_window, self.busy_s = gap_s, seq_window, busy_s
        # a change counts as seq-continuous (for learning which fingerprints restart) only within this:
        # with ~20 live tracks of one model, a 256 window matches a random restart by chance most of the
        # time, so such models would never be linked by recency and signal (measured on brno-lab: issue 10)
        self.strict_seq = strict_seq
        self.rssi_tol_db, self.min_changes = rssi_tol_db, min_changes
        # linking without sequence continuity: only to a track heard this recently (a phone's next
        # probe comes within a minute or two; a same-model stranger minutes later must not continue it)
        self.restart_gap_s, self.restart_weak_s, self.near_dbm = restart_gap_s, restart_weak_s, near_dbm
        self._window = -1
        self._reset()

    def _reset(self) -> None:
        self.by_mac: dict[bytes, Track] = {}
        self.tracks: dict[int, list[Track]] = {}
        self.stats: dict[int, FingerprintStats] = {}
        self._counter = 0
        self.groups_n = 0

    def feed(self, sightings: list[Sighting]) -> list[Sighting]:
        out: list[Sighting] = []
        append = out.append
        by_mac = self.by_mac
        new = tuple.__new__
        for s in sightings:
            if not s[2]:  # universally administered: the MAC is the device
                append(s)
                continue
            if s[7] != self._window:
                self._window = s[7]
                self._reset()
                by_mac = self.by_mac
            dev = s[1]
            t = by_mac.get(dev)
            if t is None or t.mac_key != dev:
                t = self._assign(s)
            ts = s[0]
            t.last_ts = max(t.last_ts, ts)
            t.last_seq = s[5]
            t.mac_last_ts = ts
            t.rssi_dbm += (s[3] - t.rssi_dbm) * 0.2
            append(new(Sighting, (ts, t.key, True, s[3], s[4], s[5], s[6], s[7])))
        return out

    def _assign(self, s: Sighting) -> Track:
        ts, seq, fp = s[0], s[5], s[6]
        tracks = self.tracks.setdefault(fp, [])
        live = [t for t in tracks if ts - t.last_ts <= self.gap_s]
        if len(live) != len(tracks):
            for t in tracks:
                if ts - t.last_ts > self.gap_s:
                    self.by_mac.pop(t.mac_key, None)
            tracks[:] = live
        weak_s, near = self.restart_weak_s, self.near_dbm
        free = [t for t in live if ts - t.mac_last_ts > self.busy_s
                and (t.rssi_dbm >= near or ts - t.last_ts <= weak_s)]
        best: Track | None = None
        best_delta = self.seq_window + 1
        for t in free:
            delta = (seq - t.last_seq) % 4096
            if 0 < delta < best_delta:
                best, best_delta = t, delta
        stats = self.stats.setdefault(fp, FingerprintStats())
        if free:
            stats.changes_n += 1
            if best is not None and best_delta <= self.strict_seq:
                stats.continuous_n += 1
        if best is None and free and stats.restarts_seq(self.min_changes):
            recent = [t for t in free if abs(t.rssi_dbm - s[3]) <= self.rssi_tol_db
                      and ts - t.last_ts <= self.restart_gap_s]
            if recent:
                best = max(recent, key=lambda t: t.last_ts)
        if best is None:
            best = self._new_track(s)
            tracks.append(best)
        else:
            self.by_mac.pop(best.mac_key, None)
        best.mac_key = s[1]
        self.by_mac[s[1]] = best
        return best

    def _new_track(self, s: Sighting) -> Track:
        self._counter += 1
        self.groups_n += 1
        key = hmac.digest(s[1], b"group", hashlib.sha256)[:16]
        return Track(key, s[6], s[0], s[5], float(s[3]), s[1], s[0])

    def export_state(self) -> dict[str, Any]:
        return {"window": self._window, "counter": self._counter}
