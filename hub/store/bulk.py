"""Insert many rows with few statements: multi-row VALUES, in a handful of fixed sizes.

Why not `executemany`: CPython's sqlite3 releases the GIL around every `sqlite3_step`, that is once per
row, and must win it back each time. While another thread of the hub runs Python (paho reading a
backlog, the metrics publisher), each win can wait for that thread's switch interval. bench/hub_ingest.py
inserts beside a thread running Python in 1 ms bursts: `executemany` 72,128 rows/s, these statements
107,207 (2026-11-26); beside a thread that never pauses, `executemany` of 200,000 rows had not finished
after 8 minutes. Alone, both run at about the same speed. Chunk sizes are powers of two (512, then
the remainder's binary digits), so each table prepares at most ten statements, all kept in sqlite3's
statement cache.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

from hub.store.rows import TableSpec

MAX_ROWS = 512
SQLITE_MAX_VARIABLES = 32_766  # SQLite's default limit since 3.32 (Debian 12 ships 3.40)


@lru_cache(maxsize=256)
def _sql(table: str, columns: tuple[str, ...], n: int) -> str:
    one = "(" + ", ".join("?" * len(columns)) + ")"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES " + ", ".join([one] * n)


def _sizes(n: int, largest: int) -> list[int]:
    """n as `largest`-sized chunks, then powers of two: 1,300 with 512 -> 512, 512, 256, 16, 4."""
    out = [largest] * (n // largest)
    rest, size = n % largest, largest
    while rest:
        size //= 2
        if rest >= size:
            out.append(size)
            rest -= size
    return out


def insert_rows(cur: sqlite3.Cursor, spec: TableSpec, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert `rows` (in the table's column order) into `spec`'s table, inside the caller's transaction."""
    columns = tuple(spec.columns)
    largest = MAX_ROWS
    while largest * len(columns) > SQLITE_MAX_VARIABLES:
        largest //= 2
    at = 0
    for size in _sizes(len(rows), largest):
        cur.execute(_sql(spec.table, columns, size), list(chain.from_iterable(rows[at : at + size])))
        at += size
