"""Small helpers for hub tests: polling with a deadline, reading the database on its own connection."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any

from hub.config import DatabaseConfig
from hub.store.sql import connect_postgres


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll until `predicate()` is true; False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def query(db: str | DatabaseConfig, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows of `sql` read on a fresh connection (as a report or another process would): `db` is a
    SQLite path or the hub's DatabaseConfig on either engine (SQL of the subset both share, `?` marks)."""
    if isinstance(db, DatabaseConfig) and db.engine == "postgresql":
        pg = connect_postgres(db.url)
        try:
            return [tuple(r) for r in pg.execute(sql, params).fetchall()]
        finally:
            pg.close()
    path = db.path if isinstance(db, DatabaseConfig) else db
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, params).fetchall()


def scalar(db: str | DatabaseConfig, sql: str, params: tuple[Any, ...] = ()) -> Any:
    return query(db, sql, params)[0][0]
