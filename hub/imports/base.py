"""What every importer returns or raises."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.wire.records import iso
from hub.store.sql import Db, first_line

IMPORT_LOCK = 0x466F6F74496D7074  # "FootImpt": PostgreSQL's advisory lock key of an import's transaction
BUSY_TIMEOUT_S = 30.0  # how long an import waits for another before "the database is busy"


# A text field with a NUL character: SQLite would store it, PostgreSQL cannot; refused on both, so that an
# export imports the same on either engine.
NUL_TEXT = "holds a NUL character (0x00), which a text column cannot store: a damaged export?"


class ImportFileError(ValueError):
    """A file that cannot be imported; the message reads `pos.csv:17: net_amount: 'abc' is not ...`."""


@dataclass(frozen=True)
class ImportResult:
    """What an import did, for the user: re-imports and overlaps are said, not hidden."""

    name: str
    sha256: str
    rows_n: int
    added_n: int
    imported_before_at: str | None = None
    note: str = ""  # appended in brackets: line items folded, voids, consent withdrawn, ...
    details: tuple[str, ...] = ()  # lines under the summary: which column fed which field, ...

    def summary(self) -> str:
        """One line for the CLI, then the details indented."""
        line = self._summary()
        line = f"{line} ({self.note})" if self.note and self.imported_before_at is None else line
        if self.imported_before_at is not None:
            return line
        return "\n".join([line, *(f"  {d}" for d in self.details)])

    def _summary(self) -> str:
        if self.imported_before_at is not None:
            return (
                f"{self.name}: nothing imported: this file was already imported at {self.imported_before_at}"
            )
        if self.added_n == 0 and self.rows_n > 0:
            were = "was" if self.rows_n == 1 else "were"
            return f"{self.name}: nothing imported: its {_rows(self.rows_n)} {were} already in the database"
        if self.added_n < self.rows_n:
            return (
                f"{self.name}: {self.added_n:,} of {_rows(self.rows_n)} imported "
                f"({self.rows_n - self.added_n:,} already in the database)"
            )
        return f"{self.name}: {_rows(self.added_n)} imported"


def _rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def read_file(path: Path) -> tuple[bytes, str]:
    """The file's bytes and SHA-256 (the idempotency key); ImportFileError when it cannot be read."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{path}: cannot read: {exc.strerror}") from None
    return data, hashlib.sha256(data).hexdigest()


def imported_before(db: Db, path: Path, sha: str) -> ImportResult | None:
    """The result to report when this very file was imported already, else None."""
    found = db.execute("SELECT at, rows_n FROM imports WHERE sha256 = ?", [sha]).fetchone()
    if found is None:
        return None
    return ImportResult(path.name, sha, int(found[1]), 0, imported_before_at=str(found[0]))


def _take_lock(db: Db) -> None:
    """One import at a time, waiting up to BUSY_TIMEOUT_S for another to finish. SQLite: its write lock
    (BEGIN IMMEDIATE). PostgreSQL: BEGIN and a transaction advisory lock, so that two imports of one file
    add it once (the second sees the first's `imports` row) and two overlapping exports never deadlock
    on each other's rows; ingest never waits for it."""
    if db.engine == "sqlite":
        db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("BEGIN IMMEDIATE")
        return
    db.execute("BEGIN")
    try:
        db.execute(f"SET LOCAL lock_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        db.execute("SELECT pg_advisory_xact_lock(?)", (IMPORT_LOCK,))
        db.execute("SET LOCAL lock_timeout = DEFAULT")  # the wait for the import's turn only
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _busy(db: Db, exc: Exception) -> bool:
    """Did another import hold the database for BUSY_TIMEOUT_S (SQLite: locked; PostgreSQL: the lock's
    timeout)?"""
    if db.engine == "sqlite":
        return "locked" in str(exc) or "busy" in str(exc)
    return isinstance(exc, db.errors.errors.LockNotAvailable)


def write_all(
    db: Db, kind: str, path: Path, sha: str, write: Callable[[Db], tuple[int, int]]
) -> tuple[int, int]:
    """Run `write(db) -> (rows, rows added)` and record the import in one transaction: all or nothing."""
    try:
        _take_lock(db)
    except db.errors.OperationalError as exc:
        if not _busy(db, exc):  # a lost connection, say: not the user's to fix by trying again
            raise
        raise ImportFileError(f"{path.name}: the database is busy ({first_line(exc)}); try again") from None
    try:
        found = db.execute("SELECT rows_n FROM imports WHERE sha256 = ?", [sha]).fetchone()
        if found is not None:  # the same file, imported meanwhile by another process: nothing to add
            db.execute("ROLLBACK")
            return int(found[0]), 0
        rows_n, added = write(db)
        db.execute(
            "INSERT INTO imports (sha256, kind, name, rows_n, added_n, at) VALUES (?, ?, ?, ?, ?, ?)",
            (sha, kind, path.name, rows_n, added, iso(time.time())),
        )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return rows_n, added


class Progress:
    """A rich progress bar on stderr for big files (rich loads only then); a no-op otherwise."""

    EVERY_ROWS = 50_000

    def __init__(self, label: str, total: int, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            from rich.console import Console  # noqa: PLC0415 -- rich costs import time; most files are small
            from rich.progress import Progress as RichProgress  # noqa: PLC0415

            self.bar = RichProgress(console=Console(stderr=True), transient=True)
            self.task = self.bar.add_task(label, total=total)
            self.bar.start()

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
