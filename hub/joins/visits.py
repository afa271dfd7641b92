"""One store's visits as people made them: the visits of a device key heard by several gateways merged.

Every gateway of a store derives its device keys from the store's window key (docs/privacy.md), so one
phone heard by two gateways arrives as two visits with the same `(device_key, key_window)`. Visits of
one key that overlap, or leave a gap no longer than the store's visit timeout, are one visit: the first
sighting of any gateway to the last of any. Bounces carry no device key (a bounce's key never leaves
the gateway) and are not merged.

Every count of the metrics engine (entries, visitors, dwell, engagement, occupancy) reads the merged
visits, so a store counts each person once however many gateways it has.
"""

from __future__ import annotations

from collections.abc import Iterable

Key = tuple[str, str]  # (device_key, key_window)


Visit = tuple[int, int, int, Key]  # start, end (epoch seconds), dwell_s, (device_key, key_window)


def merge_visits(rows: Iterable[Visit], timeout_s: int) -> list[Visit]:
    """Visitor visits (start, end, dwell_s, key) of one store, the visits of each key merged when they
    overlap or leave a gap of at most `timeout_s`; in no particular order. A visit alone keeps its dwell
    as sent; a merged one lasts from the first start to the last end. (Tuples, and a first pass that
    leaves single visits alone: a store-month of a chain is many thousand visits.)"""
    by_key: dict[Key, list[Visit]] = {}
    for row in rows:
        got = by_key.get(row[3])
        if got is None:
            by_key[row[3]] = [row]
        else:
            got.append(row)
    out: list[Visit] = []
    for key, parts in by_key.items():
        if len(parts) == 1:
            out.append(parts[0])
            continue
        parts.sort()
        start, end, dwell = parts[0][0], parts[0][1], parts[0][2]
        merged = False
        for s, e, d, _ in parts[1:]:
            if s - end > timeout_s:
                out.append((start, end, end - start if merged else dwell, key))
                start, end, dwell, merged = s, e, d, False
            else:
                end, merged = max(end, e), True
        out.append((start, end, end - start if merged else dwell, key))
    return out
