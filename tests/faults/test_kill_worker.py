"""Two hub workers share the agents' data (ingest.shared_group); one of them, leader or not, is killed
with kill -9 again and again while two agents send: nothing is lost, nothing is stored twice."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from hub.config import DatabaseConfig
from hub.store.engine import open_store
from tests.faults.records import keys
from tests.faults.support import AgentProc, figures
from tests.faults.workers import WorkerProc, tally_store, write_worker_config
from tests.hub.support import wait_for
from tests.support.mosquitto import Mosquitto

KILLS = 8
RECORDS = 8_000


def agents(tmp_path: Path, port: int) -> list[AgentProc]:
    """Two agents of one store, each with its own outbox; run numbers keep their record keys apart."""
    out = []
    for run, name in enumerate(("gw-1", "gw-2")):
        workdir = tmp_path / name
        workdir.mkdir()
        out.append(AgentProc(workdir, port, run=run, options={
            "agent": name, "count": RECORDS, "per_append": 20, "interval_s": 0.008, "resend_after_s": 2,
            "drain_s": 60}).start())
    return out


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_kill_9_of_one_of_two_workers_loses_and_doubles_nothing(
    tmp_path: Path, mosquitto: Mosquitto, engine: str, request: pytest.FixtureRequest
) -> None:
    """A worker dies mid-commit, again and again, while the other goes on: the broker ends the dead
    worker's clean session and drops its unacknowledged batches, the agents resend them after
    resend_after_s, the live worker stores them; a batch committed but not acknowledged comes back and
    adds no row. The leader lease (a file lock on SQLite, an advisory lock on PostgreSQL) moves with the
    kills, so the singletons run throughout."""
    rng = random.Random(17)
    began = time.monotonic()
    if engine == "postgresql":
        database = request.getfixturevalue("pg_url")
        assert open_store(DatabaseConfig(url=database)).migrate()[0] >= 1
        config = write_worker_config(tmp_path, mosquitto.port, f"database: {{url: '{database}'}}")
    else:
        database = str(tmp_path / "hub.db")
        config = write_worker_config(tmp_path, mosquitto.port, "database: {path: hub.db}")
    workers = [WorkerProc(config, "worker-a").start(), WorkerProc(config, "worker-b").start()]
    senders = agents(tmp_path, mosquitto.port)
    for agent in senders:
        agent.wait_event("ready", 10)
    kills = 0
    try:
        while kills < KILLS or not all(a.events("appended") for a in senders):
            time.sleep(rng.uniform(0.3, 1.2))  # both ingesting
            victim = workers[0] if kills == 0 else rng.choice(workers)  # first: the leader (started first)
            victim.kill9()
            kills += 1
            time.sleep(rng.uniform(0.0, 0.8))  # one worker left: it gets every batch
            victim.start()
        for agent in senders:
            agent.wait(90)
        assert "elected leader" in (tmp_path / "worker-a-1.log").read_text()
        assert wait_for(lambda: any("elected leader" in p.read_text() for p in tmp_path.glob("worker-*.log")
                                    if p.name != "worker-a-1.log"))  # the lease moved on at the kill
    finally:
        for w in workers:
            w.terminate()
    got = tally_store(database)
    committed: set[str] = set()
    sent = resent = batches = 0
    for agent in senders:
        first, last = agent.committed()
        committed |= keys(agent.run, first, last)
        sent += agent.events("appended")[-1]["records"]
        batches += agent.events("appended")[-1]["batches"]
        resent += agent.events("summary")[-1]["sink"]["resent"]
        assert agent.events("drained")[-1]["ok"], agent.stderr()[-2000:]
    lost = figures(f"kill-9-worker-{engine}", sent=sent, committed=committed, hub=got, began=began,
                   worker_kills=kills, worker_starts=sum(w.starts for w in workers), batches=got.batches,
                   resent=resent)
    assert lost == 0
    assert got.duplicated == 0
    assert got.keys == committed
    assert got.batches == batches
