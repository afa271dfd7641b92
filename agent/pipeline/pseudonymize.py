"""Pseudonymize right after parsing: MAC -> visit key, HMAC-SHA256(window key, MAC) truncated to 128 bits.

This is the only stage that sees a raw MAC besides the parser. The batch's raw sightings are dropped as
soon as this stage returns; the per-batch cache of keys lives only for the call (bursts repeat a MAC).
"""

from __future__ import annotations

import hmac
from collections import Counter
from typing import NamedTuple

from agent.pipeline.parse import RawSighting
from agent.privacy.keychain import KeyChain, KeyExpired


class Sighting(NamedTuple):
    """A pseudonymous sighting: what every stage after this one sees."""

    ts: float
    device: bytes      # 16-byte visit key (later: group key for randomized MACs)
    randomized: bool   # locally administered MAC
    rssi_dbm: int
    channel: int
    seq: int
    fingerprint: int
    window: int        # key window index


class Pseudonymizer:
    """Batch stage: [RawSighting] -> [Sighting]."""

    def __init__(self, chain: KeyChain) -> None:
        self.chain = chain
        self.counters: Counter[str] = Counter()
        self._win = (-1, 0.0, 0.0, b"")  # index, start, end, key
        self._keys_seen: set[bytes] = set()  # distinct visit keys (MACs) of the current window
        self.distinct_keys = 0  # distinct visit keys, summed over windows

    def _window_for(self, ts: float) -> tuple[int, float, float, bytes]:
        index = self.chain.index_of(ts)
        start, end = self.chain.bounds(index)
        self._keys_seen.clear()
        self._win = (index, start, end, self.chain.key(index))
        return self._win

    def feed(self, raws: list[RawSighting]) -> list[Sighting]:
        out: list[Sighting] = []
        append = out.append
        index, start, end, key = self._win
        cache: dict[bytes, bytes] = {}
        digest = hmac.digest
        new = tuple.__new__  # skips NamedTuple's Python-level __new__ on the frame path
        for r in raws:
            ts = r.ts
            if not start <= ts < end:
                try:
                    index, start, end, key = self._window_for(ts)
                except KeyExpired:
                    self.counters["key_expired"] += 1
                    continue
                cache = {}
            mac = r.mac
            dev = cache.get(mac)
            if dev is None:
                dev = cache[mac] = digest(key, mac, "sha256")[:16]
                if dev not in self._keys_seen:
                    self._keys_seen.add(dev)
                    self.distinct_keys += 1
            append(new(Sighting, (ts, dev, mac[0] & 0x02 == 2, r[2], r[3], r[4], r[5], index)))
        cache.clear()
        return out
