"""What the data team already has of each period, and whether new figures may replace it.

A period goes out once final (`hub.publish.final`). After that its device counts change on the feed
at most once, and only when that correction moves every count that changed by k or more: a revision
pair then never shows fewer than k devices coming or going (the auditor's +1 revisions timed each
visit). Smaller moves, and anything after the one correction, are held: the hub's own reports show
them, the feed keeps its figure. Sales figures (a POS import, usually the next morning) are not
devices: they fill in and update freely, on the device counts already published. With noise on
(`hub.publish.noise`) device counts go out once, never corrected: a second noisy release would
spend the privacy budget again.

`publish_sent` keeps, per period, the latest payload, the true counts it was made from, its revision
and whether the one correction is spent, for KEEP_D days. Data for an older day is not published at
all: without its record a new release could differ from the old one by a single visit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from hub.publish.cells import Counts
from hub.publish.payload import DEVICE_FIELDS, SEGMENT_FIELDS
from hub.store.sql import Db

KEEP_D = 35  # days a period may still change on the feed (a month of a gateway offline, and some)
# Fields that follow the device counts: kept from the published payload when only sales change.
DEVICE_DEPENDENT = (*DEVICE_FIELDS, "capture_rate", "noise_epsilon", "k", *SEGMENT_FIELDS)
WIFI_DEPENDENT = ("traffic_in",)  # and conversion, recomputed from it


@dataclass(frozen=True)
class Sent:
    """The latest payload of a period and the true device counts behind its device figures."""

    payload: dict[str, Any]
    counts: Counts
    revision: int
    corrected: bool


def load(db: Db, org: str, store: str, day: date) -> dict[int, Sent]:
    return {
        int(h): Sent(json.loads(p), json.loads(c), int(r), bool(x))
        for h, p, c, r, x in db.execute(
            "SELECT hour, payload, counts, revision, corrected FROM publish_sent"
            " WHERE org = ? AND store = ? AND day = ?", (org, store, day.isoformat()))
    }


def save(db: Db, org: str, store: str, day: date, sent: dict[int, Sent]) -> None:
    db.executemany(
        "INSERT INTO publish_sent (org, store, day, hour, payload, counts, revision, corrected)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (org, store, day, hour) DO UPDATE SET"
        " payload = excluded.payload, counts = excluded.counts, revision = excluded.revision,"
        " corrected = excluded.corrected",
        [(org, store, day.isoformat(), h, json.dumps(s.payload), json.dumps(s.counts), s.revision,
          int(s.corrected)) for h, s in sent.items()])


def prune(db: Db, before: date) -> None:
    """Forget what was sent for local days before `before` (the feed's table keeps what went out)."""
    db.execute("DELETE FROM publish_sent WHERE day < ?", (before.isoformat(),))


def moves(old: Counts, new: Counts) -> dict[str, int]:
    """How far each device count moved (from unknown: by its whole value)."""
    return {f: abs((new[f] or 0) - (old[f] or 0)) for f in DEVICE_FIELDS}


def may_correct(prev: Sent, new: Counts, k: int, noise: bool) -> bool:
    """The one correction: not spent, no noise, some count moved by k or more and none by 1 to k-1."""
    moved = moves(prev.counts, new).values()
    return not (prev.corrected or noise) and max(moved) >= k and all(m == 0 or m >= k for m in moved)


def sales_update(prev: dict[str, Any], new: dict[str, Any], wifi: bool) -> dict[str, Any]:
    """`new`'s sales (and door traffic) on `prev`'s device figures; conversion recomputed on the
    published traffic so that it reveals no held count (its definition: transactions / traffic in)."""
    out = dict(new)
    keep = DEVICE_DEPENDENT + (WIFI_DEPENDENT if wifi else ())
    for f in keep:
        out[f] = prev[f]
    device_reasons = [w for w in prev["withheld"] if w["field"] in (*keep, "conversion")]
    out["withheld"] = device_reasons
    traffic, held = out["traffic_in"], {w["field"] for w in device_reasons}
    if wifi:
        if "conversion" in held or not traffic or out["transactions_n"] is None:
            out["conversion"] = None
        else:
            out["conversion"] = out["transactions_n"] / traffic
    return out


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal but for when and which revision."""
    skip = ("published_at", "revision")
    return {f: v for f, v in a.items() if f not in skip} == {f: v for f, v in b.items() if f not in skip}
