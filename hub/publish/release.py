"""One store-day's final periods turned into payloads, against what the data team already has.

Hours first (local order), then the day, so the day's complementary suppression sees the hours as
they went out. Per period (`revisions` says why): the first release; the one correction; a sales
update on the published device figures; or nothing (held). With noise on, device counts are noisy
instead of withheld (`noise`).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

from hub.config import PublishConfig
from hub.publish import revisions
from hub.publish.cells import DAY, StoreDay, counts, protect_cell, suppress_primary, suppress_segments, values
from hub.publish.noise import epsilon_per_count, noisy
from hub.publish.payload import DEVICE_FIELDS
from hub.publish.revisions import Sent


def add_noise(cell: dict[str, Any], sd: StoreDay, rng: random.Random, epsilon: float) -> None:
    """Noisy device counts, and the figures computed from them recomputed on the noisy ones."""
    for f in DEVICE_FIELDS:
        if cell[f] is not None:
            cell[f] = noisy(int(cell[f]), rng, epsilon)
    v, p = cell["visitors_n"], cell["passersby_n"]
    cell["capture_rate"] = v / (v + p) if v is not None and p is not None and v + p else None
    if sd.wifi:
        cell["traffic_in"] = None if v is None else v * sd.calibration_factor
        t, traffic = cell["transactions_n"], cell["traffic_in"]
        cell["conversion"] = t / traffic if t is not None and traffic else None
    cell["noise_epsilon"] = epsilon
    cell["k"] = 1  # nothing is withheld: the noise protects


def release(  # noqa: PLR0917 -- one call site, the publisher
    sd: StoreDay, org: str, wanted: list[int], sent: dict[int, Sent], cfg: PublishConfig, now: float,
    rng: random.Random,
) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The payloads to send for `wanted` (hour indexes, DAY last); `sent` is updated in place."""
    out: list[dict[str, Any]] = []
    tally: Counter[str] = Counter()
    noise = cfg.noise != "none"
    epsilon = epsilon_per_count(cfg.epsilon_day, len(sd.hours))
    for h in sorted(wanted, key=lambda i: (i == DAY, i)):
        if h != DAY and not 0 <= h < len(sd.hours):
            continue
        new, true = values(sd, org, h, cfg.k, now), counts(sd, h)
        prev = sent.get(h)
        published = {i: s.payload for i, s in sent.items()}
        if prev is None or revisions.may_correct(prev, true, cfg.k, noise):
            suppress_segments(new, cfg.k)
            if noise:
                add_noise(new, sd, rng, epsilon)
            else:
                suppress_primary(new, cfg.k, sd.wifi)
                if not protect_cell(new, h, published, len(sd.hours), cfg.k, sd.wifi):
                    tally["held_exposing"] += 1  # would pin a withheld count of the published day
                    continue
            revision = 0 if prev is None else prev.revision + 1
            new["revision"] = revision
            sent[h] = Sent(new, true, revision, prev is not None)
            tally["corrections" if prev else "released"] += 1
            out.append(new)
            continue
        update = revisions.sales_update(prev.payload, new, sd.wifi)
        if true != prev.counts:
            tally["held"] += 1  # device counts moved by less than k, or after the one correction
        if revisions.same(update, prev.payload):
            continue
        update["revision"] = prev.revision + 1
        sent[h] = Sent(update, prev.counts, prev.revision + 1, prev.corrected)
        tally["sales_updates"] += 1
        out.append(update)
    return out, tally
