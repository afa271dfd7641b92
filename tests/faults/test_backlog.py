"""A backlog offline: the disk cap holds and its drops add up; a backlog replayed twice changes nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from hub.app import Hub
from tests.faults.records import keys
from tests.faults.support import AgentProc, figures, hub_config, snapshot, stop_hub, tally
from tests.hub.envelopes import Publisher
from tests.hub.support import wait_for
from tests.support.mosquitto import Mosquitto

MIB = 1 << 20
CAP = 2 * MIB
PER_BATCH = 50


def _status_counters(db: Path) -> dict[str, int]:
    with closing(sqlite3.connect(db)) as conn:
        row = conn.execute("SELECT counters FROM agents WHERE agent = 'gw-1'").fetchone()
    return json.loads(row[0]) if row and row[0] else {}


def test_twice_the_disk_cap_offline_holds_the_cap_and_counts_every_drop(tmp_path: Path) -> None:
    """Offline for weeks, the agent writes twice its disk cap: its files never pass the cap by more than
    1 MiB, it drops the oldest batches, and once the broker and hub are back, what the hub stores plus
    what the agent counted as dropped is exactly what it appended, batches and records, the gap being
    the oldest seqs; the hub learns the drop counts from the agent's status."""
    broker = Mosquitto(tmp_path)  # not started: the uplink is down
    began = time.monotonic()
    agent = AgentProc(tmp_path, broker.port, options={
        "until_bytes": 2 * CAP, "per_append": 4 * PER_BATCH, "max_records_per_batch": PER_BATCH,
        "cap_bytes": CAP, "reconnect_max_s": 2, "drain_s": 60}).start()
    appended = agent.wait_event("appended", 60)
    peak = max(e["disk"] for e in agent.events("committed"))
    broker.start()
    hub = Hub(hub_config(tmp_path, broker.port)).start()
    try:
        agent.wait(90)
        assert hub.wait_idle(10)
        assert wait_for(lambda: "outbox_dropped_batches_aggregate" in _status_counters(tmp_path / "hub.db"))
        status = _status_counters(tmp_path / "hub.db")
    finally:
        stop_error = stop_hub(hub)
        broker.stop()
    drops = agent.events("summary")[-1]["outbox"]
    dropped_b = drops["outbox_dropped_batches_aggregate"]
    dropped_r = drops["outbox_dropped_records_aggregate"]
    got = tally(tmp_path / "hub.db")
    with closing(sqlite3.connect(tmp_path / "hub.db")) as conn:
        seqs = [s for (s,) in conn.execute("SELECT seq FROM batches ORDER BY seq")]
    first, last = agent.committed()
    kept = keys(0, first + dropped_r, last)  # the oldest went: the first dropped_r records
    lost = figures("twice-the-disk-cap", sent=appended["records"], committed=keys(0, first, last), hub=got,
                   began=began, counted_drops=keys(0, first, first + dropped_r - 1),
                   written_bytes=appended["payload"], cap_bytes=CAP, peak_disk_bytes=peak,
                   batches=appended["batches"], hub_batches=got.batches, dropped_batches=dropped_b,
                   dropped_records=dropped_r, hub_stop_error=repr(stop_error))
    assert appended["payload"] >= 2 * CAP
    assert peak <= CAP + MIB
    assert dropped_b > 0
    assert got.batches + dropped_b == appended["batches"]
    assert len(got.keys) + dropped_r == appended["records"] == last - first + 1
    assert seqs == list(range(dropped_b, appended["batches"]))
    assert lost == 0
    assert got.duplicated == 0
    assert got.keys == kept
    assert status["outbox_dropped_batches_aggregate"] == dropped_b
    assert status["outbox_dropped_records_aggregate"] == dropped_r


def test_replaying_a_whole_backlog_twice_leaves_the_hubs_tables_unchanged(
        tmp_path: Path, mosquitto: Mosquitto) -> None:
    """A gateway restored from a backup resends everything it had already delivered, and a broker or a
    script replays the same batches again: the hub's data tables (batches, every record table, dead
    letters) keep the same rows, byte for byte. The agents table is left out: it records when each agent
    was last heard from and its latest status, which a replay does change."""
    began = time.monotonic()
    first = AgentProc(tmp_path, mosquitto.port, options={
        "count": 4_000, "per_append": 40, "max_records_per_batch": 20, "no_sink": True}).start()
    first.wait(30)  # an agent that never got online: its whole backlog is in outbox.db
    appended = first.events("appended")[-1]
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copy(tmp_path / "outbox.db", backup / "outbox.db")
    with closing(sqlite3.connect(backup / "outbox.db")) as conn:
        payloads = [bytes(p) for (p,) in conn.execute("SELECT payload FROM batches ORDER BY seq")]
    topic = "footfall/v1/acme/brno-1/gw-1/data"
    hub = Hub(hub_config(tmp_path, mosquitto.port)).start()
    try:
        AgentProc(tmp_path, mosquitto.port, run=1, options={"drain_s": 30}).start().wait(40)
        assert hub.wait_idle(10) and hub.wait_published(10)
        once = snapshot(tmp_path / "hub.db", skip=("agents",))
        restored = AgentProc(backup, mosquitto.port, run=2, options={"drain_s": 30})  # the backup copy
        restored.start().wait(40)
        assert hub.wait_idle(10) and hub.wait_published(10)
        twice = snapshot(tmp_path / "hub.db", skip=("agents",))
        pub = Publisher(mosquitto.port, "replayer")
        try:
            for payload in payloads:
                pub.publish(topic, payload)
        finally:
            pub.close()
        assert wait_for(lambda: hub.counters.snapshot()["duplicates"] >= 2 * len(payloads), 20)
        assert hub.wait_idle(10) and hub.wait_published(10)
        thrice = snapshot(tmp_path / "hub.db", skip=("agents",))
        counters = hub.counters.snapshot()
    finally:
        stop_error = stop_hub(hub)
    got = tally(tmp_path / "hub.db")
    lost = figures("replay-backlog-twice", sent=appended["records"], committed=keys(0, *first.committed()),
                   hub=got, began=began, batches=len(payloads), hub_duplicates=counters["duplicates"],
                   tables=" ".join(f"{t}={n}" for t, (n, _) in once.items() if n),
                   hub_stop_error=repr(stop_error))
    assert lost == 0
    assert got.duplicated == 0
    assert once["batches"][0] == len(payloads) == appended["batches"]
    assert once["visits"][0] == appended["records"]
    assert once == twice == thrice
    assert counters["duplicates"] == 2 * len(payloads)
