"""Records for the outbox tests: seeded, with random keys and numbers so that they compress like real ones."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from agent.buffer.outbox import Outbox
from agent.wire import Envelope, MinuteCounts, Topics, Visit, encode_envelope
from agent.wire.records import iso

T0 = 1_700_000_000.0
TOPICS = Topics("acme", "store-1", "gw-1")
MIB = 1 << 20


def visits(rng: random.Random, n: int) -> list[Visit]:
    """Visitor visits with distinct random device keys (what a busy store's batches mostly hold)."""
    out = []
    for _ in range(n):
        dwell = rng.randint(300, 5400)
        start = T0 + rng.randint(0, 86_400)
        out.append(Visit(iso(start), iso(start + dwell), dwell, rng.randint(3, 400), rng.randint(-90, -30),
                         "visitor", rng.random() < 0.7, f"{rng.getrandbits(128):032x}", "2023-11-14"))
    return out


def minutes(rng: random.Random, n: int) -> list[MinuteCounts]:
    """Per-minute counts with random figures."""
    return [MinuteCounts(iso(T0 + 60 * rng.randint(0, 10_000)), rng.randint(0, 5000), rng.randint(0, 300),
                         True) for _ in range(n)]


def open_box(path: Path, **options: Any) -> Outbox:
    """An outbox of the test agent."""
    return Outbox(path, TOPICS.org, TOPICS.store, TOPICS.agent, **options)


def stored(box: Outbox) -> dict[int, tuple[int, int]]:
    """seq -> (priority, records_n) of every batch still in the outbox."""
    rows = box._db.execute("SELECT seq, priority, records_n FROM batches").fetchall()
    return {int(s): (int(p), int(n)) for s, p, n in rows}


def payload_n(records: list[Any]) -> int:
    """Bytes of one batch of `records` as the outbox encodes it."""
    env = Envelope(TOPICS.org, TOPICS.store, TOPICS.agent, "0123456789abcdef", 0, iso(T0), tuple(records))
    return len(encode_envelope(env))
