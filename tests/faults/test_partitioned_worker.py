"""One of two hub workers loses its database (PostgreSQL refuses it and drops its sessions, as a
network partition would) while an agent sends: it leaves the shared group, the other worker stores
everything meanwhile, and when it is back it stores nothing twice."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

import psycopg

from hub.config import DatabaseConfig
from hub.store.engine import open_store
from tests.faults.records import keys
from tests.faults.support import AgentProc, figures
from tests.faults.workers import WorkerProc, tally_store, write_worker_config
from tests.hub.support import wait_for
from tests.support.mosquitto import Mosquitto


def admin(url: str, *statements: str) -> None:
    with closing(psycopg.connect(url, autocommit=True)) as conn:
        for statement in statements:
            conn.execute(statement.encode())


def test_a_worker_cut_off_from_the_database_leaves_the_group_and_loses_nothing(
    tmp_path: Path, mosquitto: Mosquitto, pg_url: str
) -> None:
    """Worker B's database connection is cut and refused mid-stream: B's commits fail, it leaves the
    shared group after a few attempts, the agent's batches (B's unacknowledged ones resent) are all
    stored by A and acknowledged while B is still cut off; B, back, joins again and its late commit of
    what it held adds no row."""
    began = time.monotonic()
    open_store(DatabaseConfig(url=pg_url)).migrate()
    suffix = pg_url.rsplit("/", 1)[1]  # roles are per cluster: one pair per test database
    roles = {name: f"{name}_{suffix}" for name in ("a", "b")}
    admin(pg_url, *(f"CREATE ROLE {role} LOGIN SUPERUSER" for role in roles.values()))
    workers = {}
    for name, role in roles.items():
        (tmp_path / name).mkdir()
        url = pg_url.replace("//footfall@", f"//{role}@")
        config = write_worker_config(tmp_path / name, mosquitto.port, f"database: {{url: '{url}'}}")
        workers[name] = WorkerProc(config, f"worker-{name}").start()
    (tmp_path / "gw").mkdir()
    agent = AgentProc(tmp_path / "gw", mosquitto.port, options={
        "count": 6_000, "per_append": 20, "interval_s": 0.01, "resend_after_s": 2, "drain_s": 90}).start()
    try:
        agent.wait_event("ready", 10)
        time.sleep(1.0)
        admin(pg_url, f"ALTER ROLE {roles['b']} NOLOGIN",
              f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{roles['b']}'")
        agent.wait(120)
        assert agent.events("drained")[-1]["ok"], "not everything was stored while worker B was cut off"
        assert "leaving the shared group" in workers["b"].log.read_text()
        admin(pg_url, f"ALTER ROLE {roles['b']} LOGIN")
        assert wait_for(lambda: "joining the shared group again" in workers["b"].log.read_text(), 30)
    finally:
        for w in workers.values():
            w.terminate()
    got = tally_store(pg_url)
    first, last = agent.committed()
    committed = keys(0, first, last)
    lost = figures("partitioned-worker", sent=agent.events("appended")[-1]["records"], committed=committed,
                   hub=got, began=began, batches=got.batches,
                   resent=agent.events("summary")[-1]["sink"]["resent"])
    assert lost == 0
    assert got.duplicated == 0
    assert got.keys == committed
