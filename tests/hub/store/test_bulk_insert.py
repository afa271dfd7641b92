"""The writer's multi-row inserts store every row once, in order, whatever the count."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.store import RECORD_TABLES, connect, open_db
from hub.store.bulk import MAX_ROWS, insert_rows


@pytest.mark.parametrize("n", [0, 1, 7, MAX_ROWS - 1, MAX_ROWS, MAX_ROWS + 1, 3 * MAX_ROWS + 300])
def test_every_row_is_stored_once_in_order(tmp_path: Path, n: int) -> None:
    """Chunks of 512 and then powers of two add up to exactly the rows given, column for column."""
    spec = RECORD_TABLES["minute"]
    open_db(tmp_path / "hub.db").close()
    conn = connect(tmp_path / "hub.db")
    rows = [("acme", "brno-1", "gw-1", "e1", i // 100, i % 100, f"2026-11-26T10:{i % 60:02d}:00Z", i, i % 7,
             i % 2, 1_795_000_000 + i) for i in range(n)]
    assert len(rows[0] if rows else spec.columns) == len(spec.columns)
    cur = conn.cursor()
    cur.execute("BEGIN")
    insert_rows(cur, spec, rows)
    cur.execute("COMMIT")
    stored = conn.execute(f"SELECT {', '.join(spec.columns)} FROM {spec.table} ORDER BY rowid").fetchall()
    assert stored == rows
    conn.close()
