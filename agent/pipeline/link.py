"""Link visit fragments into people: one phone that changes its MAC must not become several visitors.

The grouper (agent.pipeline.group) links a new random MAC to a track when the sequence numbers continue
or the model is known to restart them; what it cannot decide becomes a new device, so on real phones a
person's stay still arrives as several device visits (on brno-lab about 3 visitor visits per entry, and
one iPhone alone for 50 minutes became 127 devices: issue 19). Here closed visits are chained the way a
person moves: a fragment continues the chain of the same IE fingerprint (same model and settings) that
ended most recently before it began, no longer than `gap_s` before; two fragments heard at the same time
are two people (a chain is busy until its last frame). Only fragments heard near (`rssi_dbm`: at least
one sighting that strong) are linked and counted: a weak fragment is someone in the corridor.

A chain is a person's visit: from its first fragment's first sighting to its last fragment's last one.
Where linking cannot decide (two phones of one model leaving and arriving in the same minute) it may join
two people or split one; the store's calibration (agent.calibrate) turns chains into people, and the
mean stay needs no factor: it is the chains' mean length (docs/metrics.md, "Visitors and stay").
"""

from __future__ import annotations

import hashlib
import hmac
import statistics
from collections import defaultdict
from dataclasses import dataclass

from agent.pipeline.sessionize import ClosedVisit

OVERLAP_S = 5.0  # a fragment may start this much before the chain's last frame (bursts, clock jitter)


@dataclass(slots=True)
class Person:
    """A chain of fragments: one person's visit as far as linking can tell."""

    key: bytes  # HMAC(visit key of its first fragment, "person"): a pseudonym within the key window
    fingerprint: int
    started: float
    ended: float
    fragments_n: int = 1
    strong_n: int = 0  # sightings at or above the visitor RSSI, over every fragment

    @property
    def dwell_s(self) -> float:
        return self.ended - self.started


class Linker:
    """Stage: classified visits in the order they close -> the person (chain) of each, or None for a
    fragment never heard near. Chains live for one key window (randomized MACs never cross one) and
    are not saved across a restart: a restart splits a chain at worst."""

    def __init__(self, gap_s: float, rssi_dbm: int) -> None:
        self.gap_s, self.rssi_dbm = gap_s, rssi_dbm
        self.window = -1
        self.chains: dict[int, list[Person]] = defaultdict(list)
        self.people: list[Person] = []  # every chain of the window, in order of creation

    def feed(self, visits: list[ClosedVisit]) -> list[Person | None]:
        out: list[Person | None] = []
        for v in visits:
            if v.window != self.window:
                self.window, self.chains, self.people = v.window, defaultdict(list), []
            if v.rssi_max_dbm < self.rssi_dbm:
                out.append(None)
                continue
            chains = self.chains[v.fingerprint]
            best: Person | None = None
            for c in chains:
                if c.ended <= v.started + OVERLAP_S and v.started - c.ended <= self.gap_s and (
                        best is None or c.ended > best.ended):
                    best = c
            if best is None:
                best = Person(hmac.digest(v.device, b"person", hashlib.sha256)[:16], v.fingerprint,
                              v.started, v.ended, 1, v.strong_n)
                chains.append(best)
                self.people.append(best)
            else:
                best.ended = max(best.ended, v.ended)
                best.started = min(best.started, v.started)
                best.fragments_n += 1
                best.strong_n += v.strong_n
            out.append(best)
        return out


def link(visits: list[ClosedVisit], *, gap_s: float, rssi_dbm: int) -> list[Person]:
    """Offline (replay): every visit of a capture through a Linker in order of start; people by start."""
    people: list[Person] = []
    by_window: dict[int, list[ClosedVisit]] = defaultdict(list)
    for v in visits:
        by_window[v.window].append(v)
    for _window, vs in sorted(by_window.items()):
        linker = Linker(gap_s, rssi_dbm)
        linker.feed(sorted(vs, key=lambda v: v.started))
        people.extend(linker.people)
    people.sort(key=lambda p: p.started)
    return people


@dataclass(frozen=True, slots=True)
class PeopleSummary:
    """Visitors (people) and their stay, from linked chains at least `min_dwell_s` long."""

    visitors: int
    mean_dwell_s: float
    median_dwell_s: float
    fragments_n: int


def summarize(people: list[Person], min_dwell_s: float, min_strong: int = 3) -> PeopleSummary:
    """A person is a visitor as a device is (docs/metrics.md): a stay of at least `min_dwell_s` with at
    least `min_strong` sightings at the visitor RSSI, here over all of its fragments."""
    kept = [p for p in people if p.dwell_s >= min_dwell_s and p.strong_n >= min_strong]
    stays = [p.dwell_s for p in kept]
    return PeopleSummary(
        visitors=len(stays),
        mean_dwell_s=statistics.fmean(stays) if stays else 0.0,
        median_dwell_s=statistics.median(stays) if stays else 0.0,
        fragments_n=sum(p.fragments_n for p in kept),
    )
