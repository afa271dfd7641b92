"""Monthly partitions of the record tables, made when a month's first row comes.

A partition covers one UTC month of its table's epoch-seconds column: `visits_y2026m11` holds
[2026-11-01, 2026-12-01). Several workers may meet a new month at once: the partitions are made in a
short transaction of their own under a transaction advisory lock, before the rows' transaction, so the
ingest transaction never waits on DDL and never fails on a partition another worker just made.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import psycopg

PARTITION_LOCK = 0x466F6F7450617274  # "FootPart"


def month_start(epoch_s: int) -> datetime:
    at = datetime.fromtimestamp(epoch_s, UTC)
    return datetime(at.year, at.month, 1, tzinfo=UTC)


def next_month(start: datetime) -> datetime:
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1, tzinfo=UTC)


def partition_name(table: str, start: datetime) -> str:
    return f"{table}_y{start.year:04d}m{start.month:02d}"


def months(values: Iterable[int]) -> set[datetime]:
    """The UTC months of these epoch seconds (by distinct day first: a batch spans a few days)."""
    return {month_start(day * 86400) for day in {v // 86400 for v in values}}


class Partitions:
    """Creates missing month partitions; remembers the ones it has seen, per connection."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def forget(self) -> None:
        """After a failed write: look again next time (`footfall-hub retention` may have dropped one)."""
        self._known.clear()

    def ensure(self, conn: psycopg.Connection[tuple[object, ...]], needed: dict[str, set[datetime]]) -> int:
        """Make every partition in `needed` (table -> months) that does not exist; how many were made."""
        missing = {(t, m) for t, ms in needed.items() for m in ms if partition_name(t, m) not in self._known}
        if not missing:
            return 0
        made = 0
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PARTITION_LOCK,))
            names = [partition_name(t, m) for t, m in missing]
            rows = conn.execute("SELECT relname FROM pg_class WHERE relname = ANY(%s)", (names,)).fetchall()
            existing = {str(r[0]) for r in rows}
            for table, start in sorted(missing):
                name = partition_name(table, start)
                if name not in existing:  # names and bounds come from the code and integers, not input
                    conn.execute(
                        f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM"
                        f" ({int(start.timestamp())}) TO ({int(next_month(start).timestamp())})".encode())
                    made += 1
        self._known.update(partition_name(t, m) for t, m in missing)
        return made
