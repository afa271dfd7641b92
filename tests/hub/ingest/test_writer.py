"""What the ingest writer stores, the same on SQLite and on PostgreSQL (hub/ingest/writer.py and
hub/store/postgres/ingest.py): an agent's calibration, dead letters without raw MACs, the live view's
feed of new batches."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from agent.wire import Status, encode_envelope
from hub.config import DatabaseConfig
from hub.ingest import Counters, Incoming, Writer
from hub.ingest.decode import DataBatch
from hub.store.engine import open_store
from tests.hub.envelopes import T0, envelope, visit
from tests.hub.support import query

GW1 = envelope(0, []).topics


@pytest.fixture
def writer_of(hub_database: DatabaseConfig) -> Iterator[Callable[..., Writer]]:
    """Started writers on the test's database (either engine), stopped after the test."""
    started: list[Writer] = []

    def make(**options: object) -> Writer:
        store = open_store(hub_database)
        store.prepare()
        w = store.writer(Counters(), lambda _m, _a: None, max_wait_ms=1, **options)
        w.start()
        started.append(w)
        return w

    yield make
    for w in started:
        w.stop()


def test_an_agents_calibration_is_kept_and_a_last_will_does_not_erase_it(
        hub_database: DatabaseConfig, writer_of: Callable[..., Writer]) -> None:
    """`agents.learned` holds the calibration of the agent's last status that had one (the reports'
    estimates read it, hub/joins/estimates.py); its last will (offline, nothing learned) keeps it."""
    writer = writer_of()
    learned = {"calibration_factor": "1.4", "calibrated_at": "2026-11-18"}
    for state, facts in (("online", learned), ("offline", {})):
        status = Status(state, "0.1.0", 0, True, {}, updated_at="2026-11-18T10:00:00Z", learned=facts)
        writer.submit(Incoming(GW1.status, status.encode(), T0, retained=True))
        assert writer.wait_idle()
    [(state, kept)] = query(hub_database, "SELECT state, learned FROM agents")
    assert (state, json.loads(kept)) == ("offline", learned)


def test_a_mac_shaped_value_never_reaches_the_dead_letters(
        hub_database: DatabaseConfig, writer_of: Callable[..., Writer]) -> None:
    """A batch carrying a MAC where a device key belongs is dead-lettered as `mac_shaped` with no payload
    at all: a raw MAC is never written to the hub's disk, on either engine."""
    writer = writer_of()
    raw = encode_envelope(envelope(4, [visit(4)]), compress=False)
    bad = raw.replace(f'"device_key":"{4:032x}"'.encode(), b'"device_key":"a4:5e:60:01:02:03"')
    assert bad != raw
    writer.submit(Incoming(GW1.data, bad, time.time()))
    assert writer.wait_idle()
    assert query(hub_database, "SELECT reason, length(payload) FROM dead_letters") == [("mac_shaped", 0)]


def test_the_live_view_is_handed_each_new_batch_once(writer_of: Callable[..., Writer]) -> None:
    """`on_stored` gets the batches a commit stored for the first time, never a redelivery: the live
    view (hub/live) counts arrivals from it, on PostgreSQL as on SQLite."""
    got: list[DataBatch] = []
    writer = writer_of(on_stored=got.extend)
    for seq in (0, 1, 0, 2, 1):
        env = envelope(seq, [visit(seq)])
        writer.submit(Incoming(env.topics.data, encode_envelope(env), time.time()))
    assert writer.wait_idle()
    assert sorted(b.seq for b in got) == [0, 1, 2]
