"""Numbered records for the fault tests: each one knows which run made it and its number in the stream.

A record is a visitor visit whose `device_key` is a hash of `(run, n)`: unique, deterministic, and about
as compressible as a real key (a counter would compress to nothing and make the disk-cap test lie).
`started_at` carries n, so a row in the hub names its record without a lookup table.
"""

from __future__ import annotations

import hashlib

from agent.wire import Visit
from agent.wire.records import iso

T0 = 1_795_000_000  # 2026-11-18: any fixed time will do


def key(run: int, n: int) -> str:
    """The device key of record n of `run` (32 hex)."""
    return hashlib.blake2b(f"{run}:{n}".encode(), digest_size=16).hexdigest()


def record(run: int, n: int) -> Visit:
    """Record n of `run`: a visitor visit, started n seconds after T0."""
    start = T0 + n
    return Visit(started_at=iso(start), ended_at=iso(start + 600), dwell_s=600, sightings_n=12 + n % 50,
                 rssi_max_dbm=-40 - n % 40, kind="visitor", randomized=n % 3 == 0,
                 device_key=key(run, n), key_window=f"run-{run}")


def keys(run: int, first: int, last: int) -> set[str]:
    """Keys of records first..last (inclusive) of `run`."""
    return {key(run, n) for n in range(first, last + 1)}
