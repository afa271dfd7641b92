"""The hub's writer cannot be stopped by a message: what it cannot store is set aside with its reason."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from agent.wire import encode_envelope
from hub.ingest.counters import Counters
from hub.ingest.decode import DataBatch, Decoded, decode
from hub.ingest.writer import Incoming, Writer
from hub.store import open_db
from tests.hub.envelopes import envelope, visit
from tests.hub.support import query


def _huge_dwell(topic: str, payload: bytes) -> Decoded:
    """The hub's decoder, except that seq 1's visit gets a dwell of 2^64: what the wire's ranges now
    refuse, as a bug letting such a value through would hand it to SQLite."""
    dec = decode(topic, payload)
    if isinstance(dec, DataBatch) and dec.seq == 1:
        row = dec.rows["visit"][0]
        dwell = 6 + 2  # org, store, agent, epoch, seq, idx, started_at, ended_at: then dwell_s
        rows = {"visit": [(*row[:dwell], 2**64, *row[dwell + 1:])]}
        return dataclasses.replace(dec, rows=rows)
    return dec


def test_a_value_sqlite_cannot_bind_is_dead_lettered_and_the_next_batch_is_stored(tmp_path: Path) -> None:
    """An integer of 2^64 reaching SQLite raised OverflowError (not a sqlite3.Error) and killed the
    writer thread: the hub stayed up and stored nothing more from any store. Now that batch is a
    `store_error` dead letter, not acknowledged, and the batches before and after it in the same group
    commit are stored and acknowledged."""
    db = tmp_path / "hub.db"
    open_db(db).close()
    acked: list[int] = []
    counters = Counters()
    writer = Writer(db, counters, lambda _m, acks: acked.extend(s for v in acks.values() for s in v),
                    max_wait_ms=200, decoder=_huge_dwell)
    writer.start()
    try:
        for seq in (0, 1, 2):
            env = envelope(seq, [visit(seq)])
            writer.submit(Incoming(env.topics.data, encode_envelope(env), time.time()))
        assert writer.wait_idle(10)
    finally:
        writer.stop()
    assert query(str(db), "SELECT seq FROM batches ORDER BY seq") == [(0,), (2,)]
    assert query(str(db), "SELECT reason, detail FROM dead_letters") == [("store_error", "OverflowError")]
    assert sorted(acked) == [0, 2]
    assert counters.dead_by_reason() == {"store_error": 1}
