"""One store's visits as people made them: the visits of a device key heard by several gateways merged.

Every gateway of a store derives its device keys from the store's window key (DESIGN section 3), so one
phone heard by two gateways arrives as two visits with the same `(device_key, key_window)`. Visits of
one key that overlap, or leave a gap no longer than the store's visit timeout, are one visit: the first
sighting of any gateway to the last of any. A merged visit is a visitor visit when any part of it is.
Bounces carry no device key (a bounce's key never leaves the gateway) and are not merged.

Every count of the metrics engine (entries, visitors, dwell, engagement, occupancy) reads the merged
visits, so a store counts each person once however many gateways it has.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

Key = tuple[str, str]  # (device_key, key_window)


@dataclass(frozen=True)
class StoreVisit:
    """A visitor visit of the store (merged over its gateways)."""

    start: int  # epoch seconds, first sighting
    end: int  # last sighting
    dwell_s: int
    key: Key
    agents: frozenset[str]


def merge_visits(
    rows: Iterable[tuple[int, int, int, str, Key, str]], timeout_s: int
) -> list[StoreVisit]:
    """Visitor visits from rows (start, end, dwell_s, kind, key, agent) with a device key, merged per key.

    Rows of kind `bounce` merge into a visitor visit of the same key they touch; alone they are dropped
    (bounces are counted apart, from their own rows). Output in start order."""
    by_key: dict[Key, list[tuple[int, int, int, str, str]]] = defaultdict(list)
    for start, end, dwell, kind, key, agent in rows:
        by_key[key].append((start, end, dwell, kind, agent))
    out: list[StoreVisit] = []
    for key, parts in by_key.items():
        parts.sort()
        run: list[tuple[int, int, int, str, str]] = []
        end = 0
        for part in parts:
            if run and part[0] - end > timeout_s:
                out.extend(_closed(run, key))
                run = []
            run.append(part)
            end = part[1] if len(run) == 1 else max(end, part[1])
        out.extend(_closed(run, key))
    out.sort(key=lambda v: (v.start, v.key))
    return out


def _closed(run: list[tuple[int, int, int, str, str]], key: Key) -> list[StoreVisit]:
    if not any(kind == "visitor" for _, _, _, kind, _ in run):
        return []
    if len(run) == 1:  # the common case: one gateway heard the visit; its dwell as sent
        start, end, dwell, _, agent = run[0]
        return [StoreVisit(start, end, dwell, key, frozenset({agent}))]
    start, end = run[0][0], max(p[1] for p in run)
    return [StoreVisit(start, end, end - start, key, frozenset(p[4] for p in run))]
