"""`footfall-hub retention`: forget footfall data older than N full months, on either engine.

The cutoff is the first instant of the UTC month N months before the current one: `--keep-months 3` in
December keeps September, October, November and December. On PostgreSQL a record table partitioned by
month (hub/store/postgres/partitions.py) loses whole partitions, `DROP TABLE visits_y2026m08`: no row
by row delete, no bloat, no long vacuum. Every other table with a time loses its older rows by DELETE,
one transaction per table (on SQLite every table is of that kind).

Deleted: the record tables (visits, minutes, periods, doors, presence, arrivals, by their time;
device_flags by the arrival of their batch, as they have no time of their own), member_visits,
dead_letters, `batches` received before the cutoff, and the day rollups of days before it (later ones
are computed again). A batch row is the exactly-once key of its
records, and every record of a batch received before the cutoff is older than the cutoff (a record is
made before it is sent): those records are gone already, so the row vouches for nothing. Were such a
batch resent (a gateway offline for months, an outbox restored from a backup), its records would come
back into a month past retention, never beside their own copy, and the next run forgets them again;
kept, the rows would be most of a chain's disk in a year (bench/chain_cost.py). Kept whatever their age:

- `erasures`: the keys an opt-out erased, so that a visit of an erased device arriving late is never
  stored; a few rows per opt-out.
- `agents`, and what was imported (sales, staff hours, members, `imports`): the retailer's own records,
  under its own retention; the imports' hashes also keep a re-import of an old file a no-op.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agent.wire.records import iso
from hub.config import DatabaseConfig
from hub.joins.rollup_tables import NO_DAY
from hub.store.postgres.schema import PARTITIONED
from hub.store.sql import Db, open_database

MAX_KEEP_MONTHS = 1200
LOCK_TIMEOUT_S = 10  # the longest a partition's DROP waits for its table (writers queue behind it)
# Tables whose rows go by an epoch-seconds column: the record tables with a time, then member_visits.
BY_EPOCH: dict[str, str] = {
    **PARTITIONED,  # visits, minutes, periods, doors, presence: partitions on PostgreSQL
    "arrivals": "seen_epoch_s",
    "member_visits": "started_epoch_s",
}
# Tables whose rows go by an ISO 8601 UTC text time (the wire's format: text order is time order), as
# SQL of the shared subset; the one parameter is the cutoff.
BY_TEXT: dict[str, tuple[str, str]] = {
    "device_flags": (  # no time of their own: the arrival of the batch that carried them
        "FROM device_flags WHERE EXISTS (SELECT 1 FROM batches b WHERE b.agent = device_flags.agent"
        " AND b.epoch = device_flags.epoch AND b.seq = device_flags.seq AND b.received_at < ?)",
        "of batches received before the cutoff"),
    "dead_letters": ("FROM dead_letters WHERE received_at < ?", "received before the cutoff"),
    # after device_flags, which finds its rows' arrival here
    "batches": ("FROM batches WHERE received_at < ?", "received before the cutoff (their records are"
                " older: gone already)"),
}
KEPT = "erasures, agents, and imported sales, staff hours and members"


class RetentionError(ValueError):
    """A bad --keep-months; the message says what to give."""


@dataclass(frozen=True)
class Outcome:
    """What retention did (or, in a dry run, would do) to one table."""

    table: str
    rows_n: int
    partitions: tuple[str, ...] | None = None  # the dropped partitions; None: rows deleted one by one
    note: str = ""

    def line(self, dry_run: bool) -> str:
        rows = f"{self.rows_n:,} row{'' if self.rows_n == 1 else 's'}"
        if self.partitions is None:
            verb = "would delete" if dry_run else "deleted"
            return f"{self.table}: {verb} {rows}" + (f" {self.note}" if self.note else "")
        verb = "would drop" if dry_run else "dropped"
        names = f" ({', '.join(self.partitions)})" if self.partitions else ""
        n = len(self.partitions)
        return f"{self.table}: {verb} {n} partition{'' if n == 1 else 's'}{names}, {rows}"


def keep_months(text: str) -> int:
    """--keep-months as given: a whole number of months from 1 to MAX_KEEP_MONTHS."""
    if not re.fullmatch(r"[0-9]{1,6}", text.strip()) or not 1 <= int(text) <= MAX_KEEP_MONTHS:
        raise RetentionError(f"--keep-months {text!r} must be a whole number of months from 1 to "
                             f"{MAX_KEEP_MONTHS} (e.g. --keep-months 13)")
    return int(text)


def cutoff(months: int, now: datetime) -> datetime:
    """The first instant kept: the start of the UTC month `months` months before `now`'s."""
    index = now.astimezone(UTC).year * 12 + now.astimezone(UTC).month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def apply_retention(db: Db, months: int, *, now: datetime | None = None,
                    dry_run: bool = False) -> tuple[datetime, list[Outcome]]:
    """Forget what is older than `months` full months before the current UTC month; (the cutoff, one
    outcome per table). A dry run counts and changes nothing."""
    start = cutoff(months, now or datetime.now(UTC))
    epoch_s, text = int(start.timestamp()), iso(start.timestamp())
    out = []
    for table, column in BY_EPOCH.items():
        if db.engine == "postgresql" and table in PARTITIONED:
            out.append(_drop_partitions(db, table, start, dry_run))
        else:
            out.append(_delete(db, table, f"FROM {table} WHERE {column} < ?", epoch_s, dry_run=dry_run))
    for table, (where, note) in BY_TEXT.items():
        out.append(_delete(db, table, where, text, dry_run=dry_run, note=note))
    if db.has_table("day_rollups"):
        out.append(_forget_rollups(db, epoch_s, dry_run))
    return start, out


def _forget_rollups(db: Db, epoch_s: int, dry_run: bool) -> Outcome:
    """Day rollups of days before the cutoff go; the later ones are marked stale (a day's figures look
    back over its linkability, loyalty and door-fit windows, which lost their older records), so the
    rollup job computes them again from what is kept (hub/joins/rollup_job.py). That one mark per store
    replaces the changes the deleted rows marked (on SQLite, one per store and 15 minutes deleted)."""
    where = "FROM day_rollups WHERE end_epoch_s <= ?"
    note = "of days before the cutoff (later ones: computed again)"
    if dry_run:
        return Outcome("day_rollups", int(db.execute(f"SELECT count(*) {where}", (epoch_s,)).fetchone()[0]),
                       note=note)
    with db.transaction(immediate=True):
        n = db.execute(f"DELETE {where}", (epoch_s,)).rowcount
        # the changes marked by the rows just deleted (and any older): the marks below reach further
        db.execute("DELETE FROM rollup_changes WHERE first_epoch_s < ? OR window_day < ?",
                   (epoch_s, iso(epoch_s)[:10]))
        db.execute("INSERT INTO rollup_changes (store, first_epoch_s, window_day)"
                   " SELECT DISTINCT store, ?, ? FROM day_rollups", (epoch_s, NO_DAY))
    return Outcome("day_rollups", max(n, 0), note=note)


def _delete(db: Db, table: str, where: str, before: int | str, *, dry_run: bool, note: str = "") -> Outcome:
    if dry_run:
        return Outcome(table, int(db.execute(f"SELECT count(*) {where}", (before,)).fetchone()[0]), note=note)
    with db.transaction(immediate=True):
        n = db.execute(f"DELETE {where}", (before,)).rowcount
    return Outcome(table, max(n, 0), note=note)


def _drop_partitions(db: Db, table: str, start: datetime, dry_run: bool) -> Outcome:
    """Drop `table`'s month partitions that end at or before `start`. Counted first, outside any lock;
    dropped under the lock the writers take to make partitions (hub/store/postgres/partitions.py), so a
    month is never made and dropped at once, and with a lock timeout: a DROP waiting behind a long query
    would hold up every writer queued behind it."""
    from hub.store.postgres.partitions import PARTITION_LOCK  # noqa: PLC0415 -- psycopg: PostgreSQL only

    name = re.compile(rf"{table}_y([0-9]{{4}})m([0-9]{{2}})")
    found = db.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                       " WHERE i.inhparent = to_regclass(?) ORDER BY 1", (table,)).fetchall()
    old = []
    for (partition,) in found:  # names from the catalogue that match our pattern, never input
        m = name.fullmatch(str(partition))
        if m and datetime(int(m[1]), int(m[2]), 1, tzinfo=UTC) < start:
            old.append(str(partition))
    rows_n = sum(int(db.execute(f"SELECT count(*) FROM {p}").fetchone()[0]) for p in old)
    if old and not dry_run:
        try:
            with db.transaction():
                db.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_S}s'")
                db.execute("SELECT pg_advisory_xact_lock(?)", (PARTITION_LOCK,))
                for partition in old:
                    db.execute(f"DROP TABLE IF EXISTS {partition}")
        except db.errors.OperationalError as exc:
            raise RetentionError(f"{table}: its old partitions could not be dropped ({type(exc).__name__}: "
                                 f"a long query holds the table?); nothing of {table} was dropped, the "
                                 "tables before it are done: run retention again") from None
    return Outcome(table, rows_n, tuple(old))


def report(months: int, start: datetime, outcomes: list[Outcome], dry_run: bool) -> list[str]:
    """The command's output: the cutoff, one line per table, what is kept whatever its age."""
    head = "dry run, nothing changed: " if dry_run else ""
    return [f"{head}keeping data from {start:%Y-%m-%d} (UTC): the current month and {months} full "
            f"month{'' if months == 1 else 's'} before it",
            *(o.line(dry_run) for o in outcomes), f"kept whatever their age: {KEPT}"]


def run_retention(database: DatabaseConfig, months_text: str, *, dry_run: bool = False) -> list[str]:
    """The command: check --keep-months, apply it to the hub's database, the lines to print."""
    months = keep_months(months_text)
    if database.engine == "sqlite" and not Path(database.path).exists():
        raise RetentionError(f"database {database.path} does not exist (is database.path the hub's?)")
    with open_database(database) as db:
        start, done = apply_retention(db, months, dry_run=dry_run)
    return report(months, start, done, dry_run)
