"""The hub's SQL, written once with `?` marks, runs on psycopg as written (hub/store/sql.py)."""

from __future__ import annotations

from hub.config import DatabaseConfig
from hub.store.sql import open_database, pg_sql


def test_marks_become_psycopg_s_and_a_literal_keeps_its_question_mark_and_percent() -> None:
    """`?` outside quotes is a parameter; inside a literal it is text, and every `%` is doubled (psycopg
    reads each one); BEGIN IMMEDIATE is SQLite's, plain BEGIN on PostgreSQL."""
    assert pg_sql("SELECT '?', x % 2 FROM t WHERE a = ? AND b LIKE 'a%' AND c = 'it''s ?'") == (
        "SELECT '?', x %% 2 FROM t WHERE a = %s AND b LIKE 'a%%' AND c = 'it''s ?'")
    assert pg_sql("BEGIN IMMEDIATE") == "BEGIN"


def test_the_same_statement_gives_the_same_values_on_both_engines(hub_database: DatabaseConfig) -> None:
    """Sums and means of integer columns come back as int and float on both engines (PostgreSQL's
    numeric would be a Decimal), and a literal with `?` and `%` is text, not a parameter."""
    with open_database(hub_database) as db:
        with db.transaction(immediate=True):
            for hour, labour in ((0, 1.5), (3600, 2.0)):
                db.execute("INSERT INTO staff_hours (store, hour_epoch_s, local_date, local_hour,"
                           " labour_hours) VALUES (?, ?, '2026-12-07', 0, ?)", ("s1", hour, labour))
        got = db.execute("SELECT sum(hour_epoch_s), avg(hour_epoch_s), sum(labour_hours), '50% ?'"
                         " FROM staff_hours WHERE store = ?", ("s1",)).fetchone()
    assert tuple(got) == (3600, 1800.0, 3.5, "50% ?")
    assert [type(v) for v in got] == [int, float, float, str]
