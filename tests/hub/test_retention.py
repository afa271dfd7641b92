"""`footfall-hub retention`: data older than N full months goes, the months kept read exactly as
before, on SQLite (DELETE) and on PostgreSQL (whole month partitions dropped)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.wire import (
    Arrival,
    DeviceFlag,
    DoorCounts,
    Erase,
    MinuteCounts,
    PeriodCounts,
    Presence,
    encode_envelope,
)
from agent.wire.records import iso
from hub import retention
from hub.cli import main
from hub.config import DatabaseConfig
from hub.ingest import Counters, Incoming
from hub.retention import BY_EPOCH, cutoff
from hub.store.engine import open_store
from hub.store.postgres.partitions import partition_name
from hub.store.sql import open_database
from tests.hub.envelopes import envelope, visit
from tests.hub.support import query, scalar

MONTHS_BACK = 5  # rows in this month and each of the 5 before it
GATEWAY_KEY, MEMBER_KEY = "ab" * 16, "cd" * 16
# table -> its time in epoch seconds, as SQL (device_flags and dead_letters by arrival: ISO text)
WHEN = {**BY_EPOCH, "device_flags": None, "dead_letters": None, "batches": None}


def in_month(back: int) -> float:
    """A minute into the month `back` months before the current one (this month's: in the past too)."""
    return cutoff(back, datetime.now(UTC)).timestamp() + 60


def fill(db: DatabaseConfig) -> None:
    """A batch of every record type with a time in each month (received in that month too), a member's
    tagged visit, an erase and a dead letter per month, through the hub's own writer."""
    with open_database(db) as conn:
        conn.execute("INSERT INTO members (member_id, member_key, gateway_key) VALUES ('m1', ?, ?)",
                     (MEMBER_KEY, GATEWAY_KEY))
    store = open_store(db)
    writer = store.writer(Counters(), lambda _m, _a: None, max_wait_ms=0)
    writer.start()
    try:
        for back in range(MONTHS_BACK + 1):
            at = in_month(back)
            records = [
                visit(back * 10, at), dataclasses.replace(visit(back * 10 + 1, at), member_key=GATEWAY_KEY),
                MinuteCounts(iso(at), 40, 7, True), PeriodCounts("hour", iso(at), 9, 3, 6, 1, 3),
                DoorCounts("door-a", iso(at), 4, 2), Presence(iso(at), 5, 1, 1, 300),
                Arrival(iso(at), GATEWAY_KEY), DeviceFlag(f"{back:032x}", "w-1", "static", 7.5, 3),
                Erase("ee" * 16, "2026-01-01", iso(at)),
            ]
            env = envelope(back, records)
            writer.submit(Incoming(env.topics.data, encode_envelope(env), at))
            writer.submit(Incoming(env.topics.data, b"{not json", at))  # a dead letter
        assert writer.wait_idle()
    finally:
        writer.stop()


def per_month(db: DatabaseConfig) -> dict[str, list[int]]:
    """Rows of each table retention looks at, by month (0: this month, 1: the one before, ...)."""
    out: dict[str, list[int]] = {}
    for table, column in WHEN.items():
        counts = []
        for back in range(MONTHS_BACK + 1):
            lo, hi = cutoff(back, datetime.now(UTC)), cutoff(back - 1, datetime.now(UTC))
            if column is not None:
                sql = f"SELECT count(*) FROM {table} WHERE {column} >= ? AND {column} < ?"
                counts.append(scalar(db, sql, (int(lo.timestamp()), int(hi.timestamp()))))
            else:
                received = ("(SELECT b.received_at FROM batches b WHERE b.agent = t.agent"
                            " AND b.epoch = t.epoch AND b.seq = t.seq)" if table == "device_flags"
                            else "t.received_at")
                sql = f"SELECT count(*) FROM {table} t WHERE {received} >= ? AND {received} < ?"
                counts.append(scalar(db, sql, (iso(lo.timestamp()), iso(hi.timestamp()))))
        out[table] = counts
    return out


def _yaml(tmp_path: Path, db: DatabaseConfig) -> str:
    path = tmp_path / "hub.yaml"
    where = f"url: '{db.url}'" if db.engine == "postgresql" else f"path: {db.path}"
    path.write_text(f"version: 1\ndatabase: {{{where}}}\n")
    return str(path)


def _retention(tmp_path: Path, db: DatabaseConfig, capsys: pytest.CaptureFixture[str],
               *argv: str) -> tuple[int, str, str]:
    code = main(["retention", "--config", _yaml(tmp_path, db), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def _partitions(db: DatabaseConfig) -> set[str]:
    return {str(n) for (n,) in query(db, "SELECT c.relname FROM pg_inherits i JOIN pg_class c"
                                         " ON c.oid = i.inhrelid")}


def test_retention_forgets_the_old_months_and_keeps_the_others_exactly(
        hub_database: DatabaseConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--keep-months 2 keeps this month and the two before it, row for row, in every table; the three
    older months are gone from every table with a time (on PostgreSQL as whole partitions, gone from
    pg_class), batches received before the cutoff too (their records are older); erasures stay whole."""
    fill(hub_database)
    before = per_month(hub_database)
    assert all(n > 0 for counts in before.values() for n in counts), before
    erasures = scalar(hub_database, "SELECT count(*) FROM erasures")
    code, out, err = _retention(tmp_path, hub_database, capsys, "--keep-months", "2")
    assert (code, err) == (0, "")
    after = per_month(hub_database)
    assert {t: c[:3] for t, c in after.items()} == {t: c[:3] for t, c in before.items()}
    assert {t: c[3:] for t, c in after.items()} == {t: [0, 0, 0] for t in before}
    assert scalar(hub_database, "SELECT count(*) FROM erasures") == erasures
    start = cutoff(2, datetime.now(UTC))
    lines = out.splitlines()
    assert lines[0] == (f"keeping data from {start:%Y-%m-%d} (UTC): the current month and 2 full months "
                        "before it")
    assert len(lines) == 3 + len(WHEN) and lines[-1].startswith("kept whatever their age: erasures")
    assert "arrivals: deleted 3 rows" in lines
    assert "day_rollups: deleted 0 rows of days before the cutoff (later ones: computed again)" in lines
    assert "dead_letters: deleted 3 rows received before the cutoff" in lines
    if hub_database.engine == "postgresql":
        gone = [partition_name("visits", cutoff(b, datetime.now(UTC))) for b in (5, 4, 3)]
        assert f"visits: dropped 3 partitions ({', '.join(gone)}), 6 rows" in lines
        left = _partitions(hub_database)
        assert not left & set(gone)
        assert partition_name("visits", cutoff(2, datetime.now(UTC))) in left
    else:
        assert "visits: deleted 6 rows" in lines  # two a month: a tagged visit stays a visit too


def test_a_dry_run_says_what_would_go_and_changes_nothing(
        hub_database: DatabaseConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run prints the same counts as the real run then does, and leaves every row and partition."""
    fill(hub_database)
    before = per_month(hub_database)
    parts = _partitions(hub_database) if hub_database.engine == "postgresql" else set()
    code, dry, err = _retention(tmp_path, hub_database, capsys, "--keep-months", "4", "--dry-run")
    assert (code, err) == (0, "")
    assert dry.startswith("dry run, nothing changed: keeping data from ")
    assert per_month(hub_database) == before
    if hub_database.engine == "postgresql":
        assert _partitions(hub_database) == parts
    code, real, err = _retention(tmp_path, hub_database, capsys, "--keep-months", "4")
    assert code == 0
    assert dry.replace("dry run, nothing changed: ", "").replace("would drop", "dropped").replace(
        "would delete", "deleted") == real
    assert sum(per_month(hub_database)["minutes"]) == MONTHS_BACK


@pytest.mark.parametrize("months", ["0", "-1", "abc", "1201", "2.5"])
def test_a_bad_number_of_months_is_one_line_and_exit_1(
        months: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --keep-months that is not a whole number from 1 to 1200 is refused before anything opens."""
    db = DatabaseConfig(path=str(tmp_path / "hub.db"))
    assert _retention(tmp_path, db, capsys, "--keep-months", months) == (
        1, "", f"footfall-hub: error: --keep-months {months!r} must be a whole number of months from 1 to "
        "1200 (e.g. --keep-months 13)\n")
    assert not (tmp_path / "hub.db").exists()


def test_retention_of_a_database_that_does_not_exist_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """On SQLite a missing file is an error, never a new empty database."""
    db = DatabaseConfig(path=str(tmp_path / "hub.db"))
    assert _retention(tmp_path, db, capsys, "--keep-months", "3") == (
        1, "", f"footfall-hub: error: database {db.path} does not exist (is database.path the hub's?)\n")
    assert not (tmp_path / "hub.db").exists()


def test_a_partition_drop_that_would_wait_behind_a_long_query_gives_up_and_says_so(
        pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A report holding `visits` open makes the DROP wait, and every writer would queue behind it: after
    the lock timeout retention stops with one line, visits keeps every partition, and the tables done
    before it stay done; run again once the query ended, it drops them."""
    db = DatabaseConfig(url=pg_url)
    assert open_store(db).migrate()[0] >= 1
    fill(db)
    monkeypatch.setattr(retention, "LOCK_TIMEOUT_S", 1)
    parts = _partitions(db)
    with open_database(db) as reader:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM visits")  # AccessShare on visits until ROLLBACK
        assert _retention(tmp_path, db, capsys, "--keep-months", "2") == (
            1, "", "footfall-hub: error: visits: its old partitions could not be dropped (LockNotAvailable: "
            "a long query holds the table?); nothing of visits was dropped, the tables before it are done: "
            "run retention again\n")
        assert _partitions(db) == parts
        reader.execute("ROLLBACK")
    code, out, _ = _retention(tmp_path, db, capsys, "--keep-months", "2")
    assert code == 0 and "visits: dropped 3 partitions" in out


def test_a_worker_running_through_retention_stores_a_late_row_of_a_dropped_month(
        pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A worker remembers the month partitions it has made; when retention drops one under it and a late
    batch for that month comes (an agent's clock far off), the worker makes the month again and stores
    the batch rather than dead-letter it at every resend."""
    db = DatabaseConfig(url=pg_url)
    assert open_store(db).migrate()[0] >= 1
    writer = open_store(db).writer(Counters(), lambda _m, _a: None, max_wait_ms=0)
    writer.start()
    try:
        old = in_month(4)
        for seq in (0, 1):
            if seq == 1:
                assert _retention(tmp_path, db, capsys, "--keep-months", "2")[0] == 0
                assert partition_name("visits", cutoff(4, datetime.now(UTC))) not in _partitions(db)
            env = envelope(seq, [visit(seq, old)])
            writer.submit(Incoming(env.topics.data, encode_envelope(env), old))
            assert writer.wait_idle()
    finally:
        writer.stop()
    assert query(db, "SELECT seq FROM visits") == [(1,)]
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0
