"""How the publisher learns what changed, on both engines: nothing written is missed, whichever process
or worker wrote it and in whatever order the commits land."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date

import pytest

from agent.wire import PeriodCounts, encode_envelope
from agent.wire.records import iso
from hub.config import DatabaseConfig
from hub.ingest import Counters, Incoming
from hub.publish.changes import TOUCHES, State, Touch, load_state, save_state, scan, touch_sql
from hub.publish.payload import NAMES
from hub.publish.tables import FEED
from hub.store.engine import open_store
from hub.store.postgres.schema import MIGRATIONS
from hub.store.sql import Db, open_database
from tests.hub.envelopes import T0, envelope, visit

HOUR = T0 - T0 % 3600
POS_ROW = ("INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s, net_amount_cents,"
           " import_file_sha256) VALUES ('brno-1', ?, ?, ?, 100, ?)")
IMPORT_ROW = "INSERT INTO imports (sha256, kind, name, rows_n, added_n, at) VALUES (?, 'pos', 'x', 1, 1, 'x')"


@pytest.fixture
def db(hub_database: DatabaseConfig) -> Iterator[Db]:
    conn = open_database(hub_database)
    try:
        yield conn
    finally:
        conn.close()


def ingest(database: DatabaseConfig, seq: int, records: list[object]) -> None:
    """Records through the hub's own writer for the engine (PostgreSQL: by COPY, as serve stores them)."""
    writer = open_store(database).writer(Counters(), lambda _m, _a: None, max_wait_ms=0)
    writer.start()
    env = envelope(seq, records)
    writer.submit(Incoming(env.topics.data, encode_envelope(env), time.time()))
    assert writer.wait_idle()
    writer.stop()


def pos_import(db: Db, sha: str, transaction: str, at: int) -> None:
    """What a POS import writes (hub/imports, another process): its rows, then its `imports` row."""
    with db.transaction():
        db.execute(POS_ROW, (transaction, iso(at), at, sha))
        db.execute(IMPORT_ROW, (sha,))


def batch_of_org(db: Db) -> None:
    """A batch of brno-1 (the org of a store comes from its agents' batches)."""
    db.execute("INSERT INTO batches (agent, org, store, epoch, seq)"
               " VALUES ('gw-1', 'acme', 'brno-1', 'e1', 0)")


def test_records_written_by_the_writer_touch_their_hours_and_the_day(
    hub_database: DatabaseConfig, db: Db
) -> None:
    """A visit touches its quarter hour; an agent's day count touches only the day. On PostgreSQL the
    marks come from triggers in the writer's transaction, on SQLite from rowids past the watermark."""
    state = load_state(db)
    ingest(hub_database, 0, [visit(1, start=HOUR + 1000),
                             PeriodCounts("day", iso(HOUR - 7200), 9, 3, 6, 0, 3)])
    touches = set(scan(db, state))
    assert touches == {Touch("acme", "brno-1", HOUR + 900, HOUR + 900),
                       Touch("acme", "brno-1", HOUR - 7200, HOUR - 7200, day_only=True)}
    save_state(db, state)
    assert scan(db, load_state(db)) == []  # read once, saved: a restart does not find it again


def test_a_pos_import_of_another_process_is_seen_and_a_store_without_agents_skipped(db: Db) -> None:
    """An import touches the quarter hours of its sales; one for a store no agent has reported from has
    no topic to go to and is skipped."""
    state = load_state(db)
    pos_import(db, "a" * 64, "T1", HOUR + 1900)
    assert scan(db, state) == []  # no org known for brno-1 yet
    batch_of_org(db)
    pos_import(db, "b" * 64, "T2", HOUR + 2000)
    assert scan(db, state) == [Touch("acme", "brno-1", HOUR + 1800, HOUR + 1800)]


def test_the_first_start_publishes_nothing_from_before_it(db: Db) -> None:
    """What was written before the publisher ever ran is not republished."""
    batch_of_org(db)
    pos_import(db, "c" * 64, "T3", HOUR)
    state = load_state(db)
    assert scan(db, state) == []
    save_state(db, state)
    pos_import(db, "d" * 64, "T4", HOUR)
    assert scan(db, load_state(db)) == [Touch("acme", "brno-1", HOUR, HOUR)]


def test_a_change_committed_after_a_later_one_was_read_is_not_lost(
    hub_database: DatabaseConfig, db: Db
) -> None:
    """Two workers: the first takes its mark's id, the second commits a later one, the publisher reads
    and saves, then the first commits. Its change is found at the next scan (a watermark on the id
    would have skipped it). PostgreSQL only: SQLite has one writer at a time."""
    if db.engine != "postgresql":
        pytest.skip("SQLite commits one writer at a time: rowids grow in commit order")
    batch_of_org(db)
    state = load_state(db)
    slow = open_database(hub_database)
    try:
        slow.execute("BEGIN")
        slow.execute(POS_ROW, ("S", iso(HOUR), HOUR, "e" * 64))
        slow.execute(IMPORT_ROW, ("e" * 64,))
        pos_import(db, "f" * 64, "F", HOUR + 3600)
        assert scan(db, state) == [Touch("acme", "brno-1", HOUR + 3600, HOUR + 3600)]
        save_state(db, state)
        slow.execute("COMMIT")
    finally:
        slow.close()
    assert scan(db, state) == [Touch("acme", "brno-1", HOUR, HOUR)]


def test_the_migrations_triggers_mark_what_changes_py_defines() -> None:
    """One definition of what a row touches: migration 4's triggers run TOUCHES over their new rows."""
    (v4,) = [m for m in MIGRATIONS if m.version == 4]
    text = " ".join(v4.statements)
    for table in TOUCHES:
        assert touch_sql(table, "new_rows") in text, table
        assert f"AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows" in text


def test_the_feed_table_has_a_column_per_payload_field(db: Db) -> None:
    """feed_periods mirrors the payload field for field, on both engines (a new field needs a migration)."""
    load_state(db)
    assert db.columns(FEED) == list(NAMES)


def test_state_is_saved_whole(db: Db) -> None:
    """Marks and dirty cells go in together and come back as saved."""
    state = load_state(db)
    state.dirty[("acme", "brno-1", date(2026, 11, 26), 3)] = (1.0, 2.0)
    state.marks["footfall/v1/acme/brno-1/metrics/hour"] = 5
    save_state(db, state)
    again = load_state(db)
    assert again.dirty == state.dirty and again.marks == state.marks
    assert isinstance(again, State)
