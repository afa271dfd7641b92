"""One connection type for every reader and writer of the hub, on SQLite and on PostgreSQL (docs/chain.md).

The hub's SQL is written once, in the subset both engines share: `?` placeholders, `INSERT ... ON
CONFLICT`, `coalesce`, `count`, `sum`, integer epoch seconds. `Db.execute` passes it to sqlite3 as it
is and rewrites it for psycopg (`?` -> `%s`, a literal `%` doubled, `BEGIN IMMEDIATE` -> `BEGIN`); sums
come back as int or float on both (PostgreSQL's numeric would be a Decimal). What the engines do not
share has a method here (`columns`, `has_table`) instead of a dialect test at each site.

Both connections run in autocommit mode with explicit transactions: `with db.transaction():` (or the
statements BEGIN/COMMIT/ROLLBACK) as sqlite3 code of the hub always did.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from hub.config import DatabaseConfig

Params = Sequence[Any]


class Cursor(Protocol):
    """What both engines' cursors give the hub."""

    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Db:
    """A hub database connection, either engine; `engine` says which, `errors` is its DB-API module
    (catch `db.errors.IntegrityError`, `db.errors.OperationalError` on both)."""

    engine: str
    errors: ModuleType
    raw: Any

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Sequence[Params]) -> Cursor:
        raise NotImplementedError

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> Db:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, *, immediate: bool = False) -> Iterator[Db]:
        """One transaction: committed when the block ends, rolled back when it raises. `immediate` takes
        SQLite's write lock at once (two writers wait for each other instead of failing at the upgrade)."""
        self.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield self
        except BaseException:
            self.execute("ROLLBACK")
            raise
        self.execute("COMMIT")

    def columns(self, table: str) -> list[str]:
        """The table's column names in order; [] when it does not exist."""
        raise NotImplementedError

    def has_table(self, table: str) -> bool:
        return bool(self.columns(table))


class SqliteDb(Db):
    engine = "sqlite"
    errors = sqlite3

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.raw = conn

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        cur: Cursor = self.raw.execute(sql, params)
        return cur

    def executemany(self, sql: str, rows: Sequence[Params]) -> Cursor:
        cur: Cursor = self.raw.executemany(sql, rows)
        return cur

    def columns(self, table: str) -> list[str]:
        return [str(r[1]) for r in self.raw.execute(f"PRAGMA table_info({_name(table)})")]


class PostgresDb(Db):
    engine = "postgresql"

    def __init__(self, conn: Any) -> None:
        import psycopg  # noqa: PLC0415 -- psycopg loads only for a postgresql:// URL

        self.raw = conn
        self.errors = psycopg
        _load_numeric_as_number(conn)

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        return self.raw.execute(pg_sql(sql).encode(), params)  # type: ignore[no-any-return]

    def executemany(self, sql: str, rows: Sequence[Params]) -> Cursor:
        cur = self.raw.cursor()
        cur.executemany(pg_sql(sql).encode(), rows)
        return cur  # type: ignore[no-any-return]

    def columns(self, table: str) -> list[str]:
        rows = self.raw.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0"
            " AND NOT attisdropped ORDER BY attnum", (_name(table),)).fetchall()
        return [str(r[0]) for r in rows]


def _name(table: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", table):
        raise ValueError(f"not a table name: {table!r}")
    return table


_TOKENS = re.compile(r"'(?:[^']|'')*'|\"[^\"]*\"|\?|%")


@lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """SQLite-style SQL of the shared subset as psycopg takes it: `?` -> `%s`, `%` -> `%%` (in quoted
    literals too: psycopg reads every `%`), BEGIN IMMEDIATE/EXCLUSIVE -> BEGIN."""
    head = sql.lstrip().upper()
    if head.startswith(("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE", "BEGIN DEFERRED")):
        return "BEGIN"

    def swap(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok == "?":
            return "%s"
        if tok == "%":
            return "%%"
        if tok.startswith("'"):
            return tok.replace("%", "%%")
        return tok

    return _TOKENS.sub(swap, sql)


def _load_numeric_as_number(conn: Any) -> None:
    """numeric (what sum() and avg() of integers give in PostgreSQL) as int when whole, else float: the
    values SQLite gives for the same SQL, so the code above never sees a Decimal."""
    from psycopg.adapt import Loader  # noqa: PLC0415 -- as above

    class NumberLoader(Loader):
        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            if text.lstrip("-").isdigit():
                return int(text)
            return float(text)

    conn.adapters.register_loader("numeric", NumberLoader)


def connect_postgres(url: str, *, connect_timeout_s: int = 10) -> PostgresDb:
    """A connection by URL in autocommit mode; StoreError (from hub.store.engine) when unreachable."""
    import psycopg  # noqa: PLC0415 -- as above

    from hub.store.engine import StoreError  # noqa: PLC0415 -- engine imports this module

    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout_s)
    except psycopg.OperationalError as exc:
        raise StoreError(f"cannot reach the database: {first_line(exc)}") from None
    return PostgresDb(conn)


def first_line(exc: BaseException) -> str:
    """A database error in one line for a person: its message's first line (psycopg's run to several,
    with hints and context), or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def open_database(db: DatabaseConfig, *, readonly: bool = False, check_same_thread: bool = True) -> Db:
    """The hub's database, ready to use: SQLite with its schema made (or opened read-only, never made),
    PostgreSQL with its schema checked (StoreError: run `footfall-hub migrate`)."""
    if db.engine == "postgresql":
        from hub.store.postgres.migrate import check  # noqa: PLC0415 -- as above

        pg = connect_postgres(db.url)
        try:
            check(pg.raw)
            if readonly:
                pg.raw.execute("SET default_transaction_read_only = on")
        except BaseException:
            pg.close()
            raise
        return pg
    from hub.store.schema import connect, open_db  # noqa: PLC0415 -- schema imports sqlite_utils

    if readonly:
        conn = sqlite3.connect(f"file:{Path(db.path)}?mode=ro", uri=True, timeout=30,
                               check_same_thread=check_same_thread, isolation_level=None)
        return SqliteDb(conn)
    open_db(db.path).close()
    return SqliteDb(connect(db.path, check_same_thread=check_same_thread))
