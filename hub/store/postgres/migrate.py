"""Apply the migrations of hub/store/postgres/schema.py; tell `serve` whether the database is current.

`schema_migrations` records each applied version. `apply` holds a session advisory lock, so that two
`migrate` runs (or two hosts deploying at once) apply each migration once.
"""

from __future__ import annotations

import psycopg

from hub.store.engine import StoreError
from hub.store.postgres.schema import LATEST, MIGRATIONS, Migration

MIGRATE_LOCK = 0x466F6F7446616C6C  # "FootFall": the advisory lock key of `migrate`
VERSION_TABLE = ("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY,"
                 " name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())")


class SchemaError(StoreError):
    """The database's schema does not match this hub's; the message says what to run."""


def current_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The highest applied migration; 0 for an empty database."""
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return 0
    got = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(got[0]) if got and isinstance(got[0], int) else 0


def apply(url: str) -> tuple[int, list[Migration]]:
    """Apply every missing migration, each in its own transaction; (version now, migrations applied)."""
    done: list[Migration] = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
        try:
            conn.execute(VERSION_TABLE)
            have = current_version(conn)
            for migration in MIGRATIONS:
                if migration.version <= have:
                    continue
                with conn.transaction():
                    for statement in migration.statements:
                        conn.execute(statement.encode())  # bytes: psycopg's LiteralString typing
                    conn.execute("INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                                 (migration.version, migration.name))
                done.append(migration)
            return current_version(conn), done
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))


def check(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The database's version when it is this hub's; SchemaError with the remedy otherwise."""
    have = current_version(conn)
    if have < LATEST:
        raise SchemaError(f"the database is at schema version {have}, this hub needs {LATEST} "
                          "(run: footfall-hub migrate --config hub.yaml)")
    if have > LATEST:
        raise SchemaError(f"the database is at schema version {have}, newer than this hub's {LATEST} "
                          "(upgrade the hub)")
    return have
