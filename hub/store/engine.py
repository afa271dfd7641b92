"""One storage interface for the hub, whichever engine the database URL names (docs/chain.md).

`open_store(config.database)` gives a `Store`; the parts of the hub that run on both engines take what
they need from it: `serve` checks the schema (`prepare`), writes through `writer`, elects its leader
through `lease`; `footfall-hub migrate` calls `migrate`. SQLite keeps its schema as before (created in
place at start, hub/store/schema.py); PostgreSQL has numbered migrations and refuses to start behind.

Everything else (reports, imports, the publisher, the live view, the CLI, `retention`) reads and writes
through `hub.store.sql.open_database`: one connection type for both engines, SQL written once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from hub.config import DatabaseConfig
from hub.ingest.counters import Counters
from hub.ingest.writer import AfterCommit, Writer
from hub.leader import FileLease, Lease
from hub.store.schema import SCHEMA_VERSION, open_db


class StoreError(Exception):
    """The database cannot be used as it is (unreachable, schema behind); the message says what to do."""


class Store(Protocol):
    """What the hub needs of its database, on any engine."""

    engine: str

    def prepare(self) -> None:
        """Before `serve` starts: the schema in place (SQLite) or checked (PostgreSQL, SchemaError)."""
        ...

    def migrate(self) -> tuple[int, list[str]]:
        """Create or upgrade the schema; (version now, names of the migrations applied)."""
        ...

    def writer(self, counters: Counters, after_commit: AfterCommit, *,
               on_outage: Callable[[bool], None] | None = None, **options: Any) -> Writer:
        """The ingest writer (options: max_batches, max_wait_ms, decoder); `on_outage(True/False)` when
        the database goes out of reach and comes back (a server's; a local file has no such outage)."""
        ...

    def lease(self) -> Lease:
        """The leader lease among this database's workers."""
        ...


class SqliteStore:
    """One file; every worker on its machine; a file lock beside it for the leader."""

    engine = "sqlite"

    def __init__(self, path: str) -> None:
        self.path = path

    def prepare(self) -> None:
        open_db(self.path).close()

    def migrate(self) -> tuple[int, list[str]]:
        existed = Path(self.path).exists()
        open_db(self.path).close()
        return SCHEMA_VERSION, [] if existed else ["the SQLite schema of hub/store/schema.py"]

    def writer(self, counters: Counters, after_commit: AfterCommit, *,
               on_outage: Callable[[bool], None] | None = None, **options: Any) -> Writer:
        return Writer(self.path, counters, after_commit, **options)

    def lease(self) -> Lease:
        return FileLease(f"{self.path}.leader")


class PostgresStore:
    """A PostgreSQL database by URL: workers on any machine; an advisory lock for the leader."""

    engine = "postgresql"

    def __init__(self, url: str) -> None:
        self.url = url

    def prepare(self) -> None:
        from hub.store.postgres.migrate import check  # noqa: PLC0415 -- psycopg: a postgresql:// URL only
        from hub.store.sql import connect_postgres  # noqa: PLC0415 -- sql.py imports this module

        with connect_postgres(self.url) as db:  # StoreError when unreachable
            check(db.raw)

    def migrate(self) -> tuple[int, list[str]]:
        import psycopg  # noqa: PLC0415 -- as above

        from hub.store.postgres.migrate import apply  # noqa: PLC0415 -- as above

        try:
            version, done = apply(self.url)
        except psycopg.OperationalError as exc:
            from hub.store.sql import first_line  # noqa: PLC0415 -- as above

            raise StoreError(f"cannot reach the database: {first_line(exc)}") from None
        return version, [m.name for m in done]

    def writer(self, counters: Counters, after_commit: AfterCommit, *,
               on_outage: Callable[[bool], None] | None = None, **options: Any) -> Writer:
        from hub.store.postgres.ingest import PgWriter  # noqa: PLC0415 -- as above

        return PgWriter(self.url, counters, after_commit, on_outage=on_outage, **options)

    def lease(self) -> Lease:
        from hub.store.postgres.lease import AdvisoryLease  # noqa: PLC0415 -- as above

        return AdvisoryLease(self.url)


STORES: dict[str, Callable[[DatabaseConfig], Store]] = {
    "sqlite": lambda db: SqliteStore(db.path),
    "postgresql": lambda db: PostgresStore(db.url),
}


def open_store(db: DatabaseConfig) -> Store:
    """The store `db` names (nothing connects yet)."""
    return STORES[db.engine](db)
