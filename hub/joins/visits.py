"""One store's visits as people made them: the visits of a device key heard by several gateways merged.

Every gateway of a store derives its device keys from the store's window key (docs/privacy.md), so one
phone heard by two gateways arrives as two visits with the same `(device_key, key_window)`. Visits of
one key that overlap, or leave a gap no longer than the store's visit timeout, are one visit: the first
sighting of any gateway to the last of any. Bounces carry no device key (a bounce's key never leaves
the gateway) and are not merged.

Before merging, `person_visits` makes people of the visits (issue 19): fragments an agent linked into
one person carry its person key and count as that person's stay. Every count of the metrics engine
(entries, visitors, dwell, engagement, occupancy) reads the merged visits, so a store counts each
person once however many gateways it has and however often their phone changed its MAC.
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


class People:
    """Who is who among a store's visits: the device keys a gateway linked into one person (issue 19).

    An agent links the fragments of a phone that changes its MAC into a person (agent/pipeline/link.py)
    and sends the person's key with each fragment. Each gateway links on its own, so one person can
    arrive under two person keys that share a device key; a device key and the person keys it carries
    are one person here (union-find). A visit without a person key is its device's own person, as
    before. Visitors are these people; replay --summary counts the same ones on one gateway."""

    def __init__(self) -> None:
        self.parent: dict[Key, Key] = {}

    def find(self, key: Key) -> Key:
        parent = self.parent
        root = key
        while (up := parent.get(root, root)) != root:
            root = up
        while key != root:  # path compression
            up = parent[key]
            parent[key] = root
            key = up
        return root

    def link(self, device: Key, person: Key) -> None:
        a, b = self.find(device), self.find(person)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def person_visits(rows: Iterable[tuple[int, int, int, Key, str | None, int]]) -> list[Visit]:
    """Visits (start, end, dwell_s, device key, person key, person_dwell_s) as the visits of people, for
    merge_visits: a linked fragment becomes its person's stay so far (from the person's first sighting,
    `end - person_dwell_s`, to its own end) under the person's key; an unlinked one stays as it is."""
    rows = list(rows)
    linked = [(key, "p" + person) for _, _, _, key, person, _ in rows if person is not None]
    if not linked:  # an agent that does not link (or a store of phones that keep their MACs)
        return [(start, end, dwell, key) for start, end, dwell, key, _, _ in rows]
    people = People()
    for key, node in linked:
        people.link(key, (node, key[1]))
    out: list[Visit] = []
    for start, end, dwell, key, person, person_dwell in rows:
        who = people.find(key)
        if person is not None and person_dwell > 0:
            out.append((min(start, end - person_dwell), end, max(person_dwell, dwell), who))
        else:
            out.append((start, end, dwell, who))
    return out
