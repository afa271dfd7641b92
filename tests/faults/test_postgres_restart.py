"""PostgreSQL restarted mid-ingest (as after a crash: immediate shutdown, WAL recovery) under two hub
workers: the writers retry on a new connection, acknowledge only what committed, lose and double nothing."""

from __future__ import annotations

import random
import time
from pathlib import Path

from hub.config import DatabaseConfig
from hub.store.engine import open_store
from tests.faults.records import keys
from tests.faults.support import AgentProc, figures
from tests.faults.workers import WorkerProc, tally_store, write_worker_config
from tests.support.mosquitto import Mosquitto
from tests.support.postgres import LocalPostgres

RESTARTS = 3


def test_postgres_restarted_mid_ingest_loses_and_doubles_nothing(
    tmp_path: Path, mosquitto: Mosquitto, postgres_cluster: LocalPostgres, pg_url: str
) -> None:
    """The database goes away mid-commit, again and again: a commit whose answer was lost is retried
    (its batches then count as duplicates, stored once), nothing is acknowledged that did not commit,
    and the agent's outbox drains once the database is back."""
    rng = random.Random(3)
    began = time.monotonic()
    open_store(DatabaseConfig(url=pg_url)).migrate()
    config = write_worker_config(tmp_path, mosquitto.port, f"database: {{url: '{pg_url}'}}")
    workers = [WorkerProc(config, "worker-a").start(), WorkerProc(config, "worker-b").start()]
    (tmp_path / "gw").mkdir()
    agent = AgentProc(tmp_path / "gw", mosquitto.port, options={
        "count": 8_000, "per_append": 20, "interval_s": 0.008, "resend_after_s": 2, "drain_s": 90}).start()
    agent.wait_event("ready", 10)
    restarts = 0
    try:
        while restarts < RESTARTS or not agent.events("appended"):
            time.sleep(rng.uniform(0.5, 1.5))
            postgres_cluster.restart(mode="immediate")
            restarts += 1
        agent.wait(120)
        assert all(w.alive() for w in workers), "a worker died with the database"
    finally:
        for w in workers:
            w.terminate()
    got = tally_store(pg_url)
    first, last = agent.committed()
    committed = keys(0, first, last)
    lost = figures("postgres-restart", sent=agent.events("appended")[-1]["records"], committed=committed,
                   hub=got, began=began, db_restarts=restarts, batches=got.batches,
                   resent=agent.events("summary")[-1]["sink"]["resent"])
    assert agent.events("drained")[-1]["ok"]
    assert lost == 0
    assert got.duplicated == 0
    assert got.keys == committed
