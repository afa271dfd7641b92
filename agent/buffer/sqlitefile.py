"""The SQLite file beneath the outbox: damage detection, checkpoints and what it takes on disk."""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

# SQLite's primary result codes that mean a damaged file (not a lock, a full disk or an I/O error).
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26


class OutboxCorruptError(Exception):
    """The outbox file is damaged (quick_check failed, or SQLite says it is corrupt or not a database)."""


def is_corruption(exc: sqlite3.Error) -> bool:
    """True when SQLite reports a damaged file rather than a lock, a full disk or an I/O error."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (SQLITE_CORRUPT, SQLITE_NOTADB)


def quick_check(conn: sqlite3.Connection) -> None:
    """PRAGMA quick_check (O(n), no index cross-check); OutboxCorruptError naming up to 3 problems."""
    problems = [str(r[0]) for r in conn.execute("PRAGMA quick_check(3)").fetchall()]
    if problems != ["ok"]:
        raise OutboxCorruptError("quick_check: " + "; ".join(problems))


def checkpoint(conn: sqlite3.Connection) -> bool:
    """Copy the WAL into the database and truncate it to 0 bytes; False if a reader kept it busy."""
    busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    if busy:
        log.debug("outbox checkpoint deferred: another connection is reading")
    return not busy


def files(path: Path) -> list[Path]:
    """The files SQLite keeps for the database at `path`: itself, its WAL, its shared-memory index."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def file_bytes(path: Path) -> int:
    """Size of one file, 0 when it does not exist."""
    with contextlib.suppress(FileNotFoundError):
        return os.stat(path).st_size
    return 0


def disk_bytes(path: Path) -> int:
    """Bytes on disk of the database at `path`, its WAL and its shared-memory index."""
    return sum(file_bytes(p) for p in files(path))


def make_private(path: Path) -> None:
    """The database, its WAL and its shared-memory index readable by their owner only (0600): the
    outbox holds device keys of the current window and the pipeline's state. SQLite creates the WAL and
    the index with the database's own mode, so creating the database 0600 first is enough for new
    files; existing ones (an older version's 0644) are narrowed here."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for p in files(path):
        with contextlib.suppress(FileNotFoundError):
            os.chmod(p, 0o600)
