"""The hub's writer cannot be stopped by a message: what it cannot store is set aside with its reason."""

from __future__ import annotations

import dataclasses
import time

from agent.wire import encode_envelope
from hub.config import DatabaseConfig
from hub.ingest.counters import Counters
from hub.ingest.decode import DataBatch, Decoded, decode
from hub.ingest.writer import Incoming
from hub.store.engine import open_store
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


# what each engine's driver raises for 2^64: sqlite3 cannot bind it, PostgreSQL refuses it for a bigint
REFUSED_BY = {"sqlite": "OverflowError", "postgresql": "NumericValueOutOfRange"}


def test_a_value_the_database_cannot_take_is_dead_lettered_and_the_next_batch_is_stored(
        hub_database: DatabaseConfig) -> None:
    """An integer of 2^64 reaching SQLite raised OverflowError (not a sqlite3.Error) and killed the
    writer thread: the hub stayed up and stored nothing more from any store. Now that batch is a
    `store_error` dead letter, not acknowledged, and the batches before and after it in the same group
    commit are stored and acknowledged; on PostgreSQL too, where the server refuses the value."""
    store = open_store(hub_database)
    store.prepare()
    acked: list[int] = []
    counters = Counters()
    writer = store.writer(counters, lambda _m, acks: acked.extend(s for v in acks.values() for s in v),
                          max_wait_ms=200, decoder=_huge_dwell)
    writer.start()
    try:
        for seq in (0, 1, 2):
            env = envelope(seq, [visit(seq)])
            writer.submit(Incoming(env.topics.data, encode_envelope(env), time.time()))
        assert writer.wait_idle(10)
    finally:
        writer.stop()
    assert query(hub_database, "SELECT seq FROM batches ORDER BY seq") == [(0,), (2,)]
    assert query(hub_database, "SELECT reason, detail FROM dead_letters") == [
        ("store_error", REFUSED_BY[hub_database.engine])]
    assert sorted(acked) == [0, 2]
    assert counters.dead_by_reason() == {"store_error": 1}
