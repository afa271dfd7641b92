"""Small helpers for hub tests: polling with a deadline, reading the database on its own connection."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll until `predicate()` is true; False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def query(db_path: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of `sql` read on a fresh connection (as a report or another process would)."""
    with closing(sqlite3.connect(db_path)) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(db_path: str, sql: str, params: tuple[Any, ...] = ()) -> Any:
    return query(db_path, sql, params)[0][0]
