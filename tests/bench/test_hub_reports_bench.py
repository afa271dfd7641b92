"""The report and chain-cost benchmarks keep working (issue 17), at a tiny size: the PostgreSQL chain holds
the very rows of the SQLite one, both engines' reports run side by side, and the cost table prints."""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
import sys
import tempfile
import uuid
from pathlib import Path
from types import ModuleType

import psycopg
import pytest

from tests.support.postgres import LocalPostgres

ROOT = Path(__file__).resolve().parents[2]
COLUMNS = {
    "periods": "store, agent, seq, period, start_at, seen_n, visitors_n, passersby_n, bounces_n, visits_n,"
               " start_epoch_s",
    "visits": "store, agent, seq, started_at, ended_at, dwell_s, sightings_n, kind, device_key, key_window,"
              " started_epoch_s, ended_epoch_s",
    "pos_transactions": "store, transaction_id, at_utc, at_epoch_s, net_amount_cents",
}


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"{name}_bench", ROOT / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"{name}_bench"] = module
    spec.loader.exec_module(module)
    return module


def test_postgres_chain_has_the_rows_of_the_sqlite_chain(tmp_path: Path,
                                                        postgres_cluster: LocalPostgres) -> None:
    """Both generators write the same rows (3 stores over a month boundary), so the two engines' report
    timings are of the same data."""
    reports = load("hub_reports")
    pg_chain = load("pg_chain")
    reports.generate(tmp_path / "chain.db", 3, 35)
    url = postgres_cluster.create_database(migrated=True)
    pg_chain.generate(url, 3, 35, log=lambda _: None)
    with sqlite3.connect(tmp_path / "chain.db") as lite, psycopg.connect(url) as pg:
        for table, cols in COLUMNS.items():
            sql = f"SELECT {cols} FROM {table} ORDER BY {cols}"
            want = [tuple(r) for r in lite.execute(sql)]
            assert len(want) == {"periods": 3 * 35 * 13}.get(table, 3 * 35 * 24)
            assert [tuple(r) for r in pg.execute(sql.encode())] == want, table


def test_report_bench_runs_both_engines_side_by_side(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny chain on each engine: every report runs on both and the side-by-side table prints; a second
    run reuses the kept PostgreSQL data."""
    reports = load("hub_reports")
    # not under pytest's 0700 folders: the cluster may run as the postgres user (tests/support/postgres.py)
    pg_dir = Path(tempfile.gettempdir()) / f"footfall-pg-bench-{uuid.uuid4().hex[:8]}"
    argv = ["hub_reports.py", "--stores", "3", "--pg-stores", "4", "--days", "35", "--repeat", "1",
            "--db", str(tmp_path / "chain.db"), "--pg-dir", str(pg_dir)]
    monkeypatch.setattr(sys, "argv", argv)
    try:
        assert reports.main() == 0
        out = capsys.readouterr().out
        assert "generated 4 stores x 35 days" in out
        assert "SQLite 3" in out and "PostgreSQL 4" in out and "side by side" in out
        assert "failed" not in out
        assert reports.main() == 0
        assert "generated" not in capsys.readouterr().out
    finally:
        shutil.rmtree(pg_dir, ignore_errors=True)


def test_chain_cost_prints_rows_disk_and_workers(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The cost of a chain from the demo day: a row per table with its measured bytes, the year's disk and
    the workers for the average, the busiest hour and a catch-up."""
    cost = load("chain_cost")
    monkeypatch.setattr(sys, "argv", ["chain_cost.py", "--stores", "100", "--sample-stores", "2"])
    assert cost.main() == 0
    out = capsys.readouterr().out
    for table in ("visits", "minutes", "periods", "presence", "batches", "pos_transactions"):
        assert f"\n{table} " in out
    assert "TB a year" in out and "a day of backlog drained in 1 h" in out
