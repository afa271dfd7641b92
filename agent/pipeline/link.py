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
mean stay needs no factor: it is the chains' mean length (DESIGN section 2, "stay").
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from agent.pipeline.sessionize import ClosedVisit

OVERLAP_S = 5.0  # a fragment may start this much before the chain's last frame (bursts, clock jitter)


@dataclass(slots=True)
class Person:
    """A chain of fragments: one person's visit as far as linking can tell."""

    fingerprint: int
    started: float
    ended: float
    fragments_n: int = 1

    @property
    def dwell_s(self) -> float:
        return self.ended - self.started


def link(visits: list[ClosedVisit], *, gap_s: float, rssi_dbm: int) -> list[Person]:
    """Chain the near visits by fingerprint and gap; returns people sorted by start."""
    by_fp: dict[int, list[ClosedVisit]] = defaultdict(list)
    for v in visits:
        if v.rssi_max_dbm >= rssi_dbm:
            by_fp[v.fingerprint].append(v)
    people: list[Person] = []
    for fp, frags in by_fp.items():
        frags.sort(key=lambda v: v.started)
        chains: list[Person] = []
        for v in frags:
            best: Person | None = None
            for c in chains:
                if c.ended <= v.started + OVERLAP_S and v.started - c.ended <= gap_s and (
                        best is None or c.ended > best.ended):
                    best = c
            if best is None:
                chains.append(Person(fp, v.started, v.ended))
            else:
                best.ended = max(best.ended, v.ended)
                best.fragments_n += 1
        people.extend(chains)
    people.sort(key=lambda p: p.started)
    return people


@dataclass(frozen=True, slots=True)
class PeopleSummary:
    """Visitors (people) and their stay, from linked chains at least `min_dwell_s` long."""

    visitors: int
    mean_dwell_s: float
    median_dwell_s: float
    fragments_n: int


def summarize(people: list[Person], min_dwell_s: float) -> PeopleSummary:
    stays = [p.dwell_s for p in people if p.dwell_s >= min_dwell_s]
    return PeopleSummary(
        visitors=len(stays),
        mean_dwell_s=statistics.fmean(stays) if stays else 0.0,
        median_dwell_s=statistics.median(stays) if stays else 0.0,
        fragments_n=sum(p.fragments_n for p in people if p.dwell_s >= min_dwell_s),
    )
