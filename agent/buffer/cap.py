"""The outbox's disk cap: how the bytes are shared out, what is dropped at the cap, what it costs.

The cap covers every file of the outbox: the database, its WAL and its shared-memory index. The WAL
gets a fixed share (`Budget.wal_bytes`): SQLite checkpoints it when half of it is used, and
`journal_size_limit` truncates it back to that half, so the WAL stays within its share whatever the
traffic. The rest is for pages in use (`Budget.data_bytes`). Freed pages stay in the file and are reused
before it grows, so keeping the pages in use under `data_bytes` at every commit keeps the file there too.

At the cap the oldest raw data goes first, then the oldest of the rest (docs/reliability.md): candidates
are taken in `(priority, seq)` order, raw priority being the lowest. The batches being appended are
candidates too, so new raw data is dropped before any closed visit or count.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

KIB = 1 << 10
MIB = 1 << 20
DEFAULT_CAP_BYTES = 256 * MIB
MIN_CAP_BYTES = 1 * MIB
ROW_OVERHEAD_BYTES = 64  # a batches row besides its payload: columns, cell header, index entry


class Candidate(NamedTuple):
    """A batch that may be dropped; ordered by drop preference (raw first, then oldest)."""

    priority: int
    seq: int
    records_n: int
    frees_n: int  # bytes dropping it saves: its payload when stored, its whole estimate when incoming


@dataclass(frozen=True, slots=True)
class Budget:
    """How `cap_bytes` is shared between pages in use, the WAL and the shared-memory index."""

    cap_bytes: int
    page_size: int = 4096

    def __post_init__(self) -> None:
        if self.cap_bytes < MIN_CAP_BYTES:
            raise ValueError(f"cap_bytes must be at least {MIN_CAP_BYTES} (1 MiB), not {self.cap_bytes}")

    @property
    def wal_bytes(self) -> int:
        """The WAL's share: 1/32 of the cap, between 256 KiB and 8 MiB."""
        return min(max(self.cap_bytes // 32, 256 * KIB), 8 * MIB)

    @property
    def shm_bytes(self) -> int:
        """The -shm index: 32 KiB per 4,096 WAL frames; two blocks cover any WAL within its share."""
        return 64 * KIB

    @property
    def data_bytes(self) -> int:
        """Bytes of database pages in use (free pages excluded) allowed after a commit."""
        return self.cap_bytes - self.wal_bytes - self.shm_bytes

    @property
    def checkpoint_pages(self) -> int:
        """PRAGMA wal_autocheckpoint: checkpoint when half of the WAL's share is written."""
        return max(self.wal_bytes // 2 // self.page_size, 16)

    @property
    def journal_limit_bytes(self) -> int:
        """PRAGMA journal_size_limit: the WAL is truncated back to this after a checkpoint."""
        return self.wal_bytes // 2

    def row_bytes(self, payload_n: int) -> int:
        """An upper estimate of the bytes one stored batch takes (a large payload may waste a page)."""
        spill = self.page_size if payload_n > self.page_size // 2 else 0
        return payload_n + ROW_OVERHEAD_BYTES + spill


def choose_drops(stored: Iterable[Candidate], incoming: Iterable[Candidate], need_bytes: int) -> \
        Iterator[Candidate]:
    """Candidates to drop, raw first then oldest, until they free at least `need_bytes`.

    `stored` must come in (priority, seq) order, as `ORDER BY priority, seq` gives it; it is read lazily.
    """
    freed = 0
    for cand in heapq.merge(stored, sorted(incoming)):
        if freed >= need_bytes:
            return
        freed += cand.frees_n
        yield cand


# -- inside the outbox's append transaction (the `batches` and `meta` tables of agent.buffer.outbox) -----

PRIORITY_NAMES = {0: "raw", 1: "aggregate"}
DROP_COUNTERS = tuple(f"dropped_{what}_{name}" for name in PRIORITY_NAMES.values()
                      for what in ("batches", "records"))


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes of pages in use in the database image this connection sees (free pages excluded)."""
    (page_count,) = conn.execute("PRAGMA page_count").fetchone()
    (free,) = conn.execute("PRAGMA freelist_count").fetchone()
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    return (int(page_count) - int(free)) * int(page_size)


def _stored(conn: sqlite3.Connection) -> list[Candidate]:
    cur = conn.execute("SELECT priority, seq, records_n, bytes_n FROM batches ORDER BY priority, seq")
    try:
        return [Candidate(*row) for row in cur]
    finally:
        cur.close()


def _delete(conn: sqlite3.Connection, drops: list[Candidate], incoming: set[int]) -> None:
    conn.executemany("DELETE FROM batches WHERE seq = ?", [(c.seq,) for c in drops if c.seq not in incoming])


def make_room(conn: sqlite3.Connection, budget: Budget, incoming: list[Candidate]) -> list[Candidate]:
    """Delete stored batches (and pick incoming ones not to store) so that `incoming` fits the budget.

    Deleting before inserting lets the new rows reuse the freed pages, so the file does not grow.
    """
    need = used_bytes(conn) + sum(c.frees_n for c in incoming) - budget.data_bytes
    if need <= 0:
        return []
    drops = list(choose_drops(_stored(conn), incoming, need))
    _delete(conn, drops, {c.seq for c in incoming})
    return drops


def settle(conn: sqlite3.Connection, budget: Budget) -> list[Candidate]:
    """After the insert: drop more, in the same order, while the pages in use exceed the budget.

    Estimates are upper bounds, so this rarely runs; it makes the budget exact whatever the estimate.
    """
    drops: list[Candidate] = []
    while (over := used_bytes(conn) - budget.data_bytes) > 0:
        more = list(choose_drops(_stored(conn), [], max(over, budget.page_size)))
        if not more:
            break
        _delete(conn, more, set())
        drops += more
    return drops


def count_drops(conn: sqlite3.Connection, drops: list[Candidate]) -> None:
    """Add the drops to the persisted counters (meta table), in the caller's transaction."""
    totals = dict.fromkeys(DROP_COUNTERS, 0)
    for c in drops:
        name = PRIORITY_NAMES[c.priority]
        totals[f"dropped_batches_{name}"] += 1
        totals[f"dropped_records_{name}"] += c.records_n
    conn.executemany(
        "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
        "value = CAST(CAST(value AS INTEGER) + CAST(excluded.value AS INTEGER) AS TEXT)",
        [(k, str(v)) for k, v in totals.items() if v])


def drop_counters(conn: sqlite3.Connection) -> dict[str, int]:
    """The persisted drop counters, every one present (zero when nothing was dropped)."""
    marks = ",".join("?" * len(DROP_COUNTERS))
    rows = conn.execute(f"SELECT key, value FROM meta WHERE key IN ({marks})", DROP_COUNTERS).fetchall()
    found = dict(rows)
    return {k: int(found.get(k, 0)) for k in DROP_COUNTERS}


_COLUMNS = ("seq", "priority", "state", "made_at", "sent_at", "attempts", "records_n", "bytes_n", "payload")
INSERT = f"INSERT INTO batches ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})"
Rows = list[dict[str, Any]]


def store_within(conn: sqlite3.Connection, budget: Budget, rows: Rows) -> tuple[Rows, list[Candidate]]:
    """Insert new `batches` rows within the budget, dropping and counting as needed.

    Runs in the caller's transaction. Returns the rows that stayed stored, and every batch dropped.
    """
    incoming = [Candidate(r["priority"], r["seq"], r["records_n"], budget.row_bytes(r["bytes_n"]))
                for r in rows]
    drops = make_room(conn, budget, incoming)
    skip = {c.seq for c in drops}
    rows = [r for r in rows if r["seq"] not in skip]
    conn.executemany(INSERT, rows)
    settled = settle(conn, budget)
    count_drops(conn, drops + settled)
    gone = {c.seq for c in settled}
    return [r for r in rows if r["seq"] not in gone], drops + settled
