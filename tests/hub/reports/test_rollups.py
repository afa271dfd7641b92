"""Day rollups (hub/joins/rollups.py): a report served from them is the report computed from the records,
field for field, on each engine; and a rollup never outlives a change to what it summarises (late
records, a POS import, a CRM change, other settings), whichever way the change comes in.

The chain is tests/hub/chain.py's three-store month (doors, members, staff, calibration intervals, a
7-day linkability window, a 25-hour day), rolled up once by the job over every day a report of it reads.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.wire import Visit
from agent.wire.records import iso
from hub.app import Hub
from hub.cli import main
from hub.config import HubConfig
from hub.joins.metrics import MetricsReport, store_metrics
from hub.joins.rollup_job import refresh
from hub.joins.rollup_tables import SQLITE_DDL, SQLITE_TRIGGERS, TRIGGERS_NOW, sqlite_schema
from hub.joins.rollups import serve
from hub.retention import apply_retention
from hub.store.schema import open_db
from hub.store.sql import Db, open_database
from tests.hub.chain import DAYS, FIRST, STORES, build
from tests.hub.envelopes import visit
from tests.hub.scenario import database_yaml, status, write
from tests.hub.support import query, wait_for
from tests.support.engines import ENGINES, engine_database

LAST = FIRST + timedelta(days=DAYS - 1)
NOW = datetime.combine(LAST + timedelta(days=1), datetime.min.time(), UTC).timestamp() + 12 * 3600
HORIZON = DAYS + 28  # every day a report of the month reads, its 4 weeks back included
CALIBRATED = {"visitors_q10": "0.85", "visitors_q90": "1.2", "calibrated_at": "2026-10-01T10:00:00Z"}


@pytest.fixture(params=ENGINES)
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HubConfig]:
    """The chain's month on each engine, rolled up."""
    with engine_database(request, tmp_path) as database:
        config, _ = build(tmp_path, database=database)
        status(config, "brno-1", "brno-1-gw", CALIBRATED)
        with open_database(config.database) as db:
            done = refresh(db, config, days=HORIZON, now=NOW)
        assert done.computed_n == len(STORES) * HORIZON
        yield config


def both(db: Db, config: HubConfig, start: date, end: date) -> tuple[MetricsReport, MetricsReport]:
    """The day report as served (rollups where fresh) and as computed from the records."""
    return (store_metrics(db, config, list(STORES), start, end, "day"),
            store_metrics(db, config, list(STORES), start, end, "day", rollups=False))


def assert_same(got: MetricsReport, want: MetricsReport) -> None:
    assert [r.as_dict() for r in got.rows] == [r.as_dict() for r in want.rows]
    assert got.rows == want.rows
    assert got.settings_used() == want.settings_used()
    for a, b in zip(got.rows, want.rows, strict=True):
        assert (a.start.tzinfo, a.end.tzinfo) == (b.start.tzinfo, b.end.tzinfo)  # the store's zone, as made


def served(db: Db, config: HubConfig, day: date) -> set[str]:
    return set(serve(db, config, list(STORES), day, day, compare=True))


def test_every_day_and_the_month_from_rollups_are_the_reports_from_the_records(chain: HubConfig) -> None:
    """Each day of the month, and the month by day, served from rollups (every store, with the
    comparisons, intervals and members) equals the report computed from the records."""
    with open_database(chain.database, readonly=True) as db:
        for i in range(DAYS):
            day = FIRST + timedelta(days=i)
            assert served(db, chain, day) == set(STORES), day
            assert_same(*both(db, chain, day, day))
        got, want = both(db, chain, FIRST, LAST)
        assert_same(got, want)
        assert sum(r.traffic_in or 0 for r in got.rows) > 0 and any(r.members_not_bought for r in got.rows)
        assert any(r.last_week.get("visitors") for r in got.rows)  # the comparisons are there, from rollups
        assert any(r.visitors_low is not None for r in got.rows)  # and the intervals


def late_visit(day: date, hour: int, key: int) -> Visit:
    t = datetime.combine(day, datetime.min.time(), UTC).timestamp() + hour * 3600
    return Visit(started_at=iso(t), ended_at=iso(t + 1800), dwell_s=1800, sightings_n=9, rssi_max_dbm=-50,
                 kind="visitor", randomized=False, device_key=f"{key:032x}", key_window=day.isoformat())


def test_a_late_visit_makes_its_day_and_later_days_stale_at_once_and_the_job_rolls_them_again(
        chain: HubConfig) -> None:
    """A gateway back after days offline: the report has the visit at once (the store's rows come from
    the records until the next pass), the days before it stay rolled up, and a pass rolls them again."""
    day = FIRST + timedelta(days=20)
    with open_database(chain.database, readonly=True) as db:
        before = store_metrics(db, chain, ["praha-2"], day, day, "day").rows[0].visitors
    write(chain, [("praha-2-gw2", 0, [late_visit(day, 11, 0xBEEF)])], store="praha-2")
    with open_database(chain.database) as db:
        assert "praha-2" not in served(db, chain, day)
        assert "praha-2" in served(db, chain, day - timedelta(days=1))  # a day before the visit's window
        got, want = both(db, chain, day, day)
        assert_same(got, want)
        assert got.rows_of("praha-2")[0].visitors == (before or 0) + 1
        assert "praha-2-gw2" in got.settings_used()["praha-2"]["agents"]
        done = refresh(db, chain, days=HORIZON, now=NOW)
        assert done.changes_n >= 1 and done.computed_n == done.dropped_n > 0
        assert served(db, chain, day) == set(STORES)
        assert_same(*both(db, chain, day, day))


def test_a_pos_import_and_a_crm_change_reach_rolled_days(chain: HubConfig, tmp_path: Path) -> None:
    """Sales added to a rolled day count at once, and a member's key taken away (consent withdrawn in the
    CRM) reaches every store the member visited; the other stores stay served."""
    day = LAST
    with open_database(chain.database) as db:
        member, key = db.execute("SELECT member_id, member_key FROM members WHERE member_key IS NOT NULL"
                                 " ORDER BY member_id LIMIT 1").fetchone()
        visited = {s for (s,) in db.execute("SELECT DISTINCT store FROM member_visits WHERE member_key = ?",
                                            (key,))}
        assert visited and "leeds-1" not in visited
        t = int(datetime.combine(day, datetime.min.time(), UTC).timestamp()) + 15 * 3600
        with db.transaction():
            db.execute("INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s,"
                       " net_amount_cents) VALUES ('leeds-1', 'late-1', ?, ?, 4200)", (iso(t), t))
            db.execute("UPDATE members SET member_key = NULL WHERE member_id = ?", (member,))
        assert served(db, chain, day) == set(STORES) - visited - {"leeds-1"}
        assert_same(*both(db, chain, day, day))
        refresh(db, chain, days=HORIZON, now=NOW)
        assert served(db, chain, day) == set(STORES)
        assert_same(*both(db, chain, day, day))


def test_a_sale_of_a_later_day_says_a_rolled_days_sales_are_known_without_rolling_it_again(
        chain: HubConfig) -> None:
    """Until a POS export reaches a day, its sales are not known; a later export's first sale makes
    them known in the day as served, though the day itself did not change."""
    day = LAST
    t0, t1 = _day_span(day, STORES["praha-2"][0])
    with open_database(chain.database) as db:
        with db.transaction():
            db.execute("DELETE FROM pos_transactions WHERE store = 'praha-2' AND at_epoch_s >= ?", (t0,))
        refresh(db, chain, days=HORIZON, now=NOW)
        assert not store_metrics(db, chain, ["praha-2"], day, day, "day").rows[0].sales_known
        later = t1 + 3600
        with db.transaction():
            db.execute("INSERT INTO pos_transactions (store, transaction_id, at_utc, at_epoch_s,"
                       " net_amount_cents) VALUES ('praha-2', 'next-day', ?, ?, 100)", (iso(later), later))
        assert "praha-2" in served(db, chain, day)
        got, want = both(db, chain, day, day)
        assert_same(got, want)
        assert got.rows_of("praha-2")[0].sales_known


def test_other_settings_or_a_new_calibration_are_never_served_from_old_rollups(chain: HubConfig) -> None:
    """A store whose settings changed (a calibration factor) is computed, not served; a calibration an
    agent sent after the rollup shows in the intervals of a served day."""
    day = FIRST + timedelta(days=30)
    changed = dataclasses.replace(chain, stores={
        **chain.stores, "leeds-1": dataclasses.replace(chain.stores["leeds-1"], calibration_factor=2.0)})
    status(chain, "praha-2", "praha-2-gw", CALIBRATED)
    with open_database(chain.database, readonly=True) as db:
        assert served(db, changed, day) == set(STORES) - {"leeds-1"}
        got, want = both(db, changed, day, day)
        assert_same(got, want)
        assert got.rows_of("praha-2")[0].visitors_low is not None


def test_retention_forgets_the_rollups_of_its_months_and_the_job_recomputes_the_days_after(
        chain: HubConfig) -> None:
    """After `retention --keep-months 1` on 2026-12-10 (cutoff 1 November): no rollup of October is
    left, and a November day, whose look-back lost its October records, is computed again before it is
    served; served or not, it is the report from what is kept."""
    day = date(2026, 11, 10)
    with open_database(chain.database) as db:
        start, outcomes = apply_retention(db, 1, now=datetime(2026, 12, 10, tzinfo=UTC))
        assert start == datetime(2026, 11, 1, tzinfo=UTC)
        assert {o.table: o.rows_n for o in outcomes}["day_rollups"] > 0
        assert db.execute("SELECT count(*) FROM day_rollups WHERE day < '2026-10-31'").fetchone()[0] == 0
        # a mark per store, not one per row deleted
        marks = db.execute("SELECT store, first_epoch_s FROM rollup_changes").fetchall()
        assert sorted(marks) == [(s, int(start.timestamp())) for s in sorted(STORES)]
        assert served(db, chain, day) == set()
        assert_same(*both(db, chain, day, day))
        refresh(db, chain, days=HORIZON, now=NOW)
        assert served(db, chain, day) == set(STORES)
        assert_same(*both(db, chain, day, day))


def test_the_rollup_command_backfills_what_a_serving_leader_keeps(chain: HubConfig, tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`footfall-hub rollup --days N` on a hub that did not serve: the closed days it names are rolled up
    (here the chain's month, weeks before today), and what it prints says how many."""
    with open_database(chain.database) as db, db.transaction():
        db.execute("DELETE FROM day_rollups")
    stores = "".join(f"  {s}: {{timezone: {tz}, calibration_factor: {f},"
                     f" settings: {{linkability_window_d: {w}}}}}\n" for s, (tz, f, w, _) in STORES.items())
    path = tmp_path / "hub.yaml"
    path.write_text(f"version: 1\ndatabase: {database_yaml(chain.database)}\nstores:\n{stores}")
    days = (date.today() - FIRST).days + 28
    assert main(["rollup", "--config", str(path), "--days", str(days)]) == 0
    assert re.fullmatch(rf".*: 0 changes read, 0 day rollups made stale, {days * len(STORES)} computed \(the"
                        rf" last {days} closed days\)\n", capsys.readouterr().out)
    with open_database(chain.database, readonly=True) as db:
        assert served(db, chain, LAST) == set(STORES)
        assert_same(*both(db, chain, LAST, LAST))
    for bad in ("0", "abc", "-3", "3661", "99999999999"):  # one line, exit 1, nothing computed
        assert main(["rollup", "--config", str(path), "--days", bad]) == 1
        assert capsys.readouterr() == ("", f"footfall-hub: error: --days {bad!r} must be a whole number of"
                                           " closed days from 1 to 3660 (e.g. --days 35)\n")


def _day_span(day: date, tz: str) -> tuple[int, int]:
    from zoneinfo import ZoneInfo  # noqa: PLC0415

    t0 = int(datetime.combine(day, datetime.min.time(), ZoneInfo(tz)).timestamp())
    return t0, t0 + 86400


# Every table a day row reads, changed the way its writer changes it: (the days it reaches, store, SQL
# over the day's span). A flag or an erasure reaches its key window (the chain's windows are not named by
# their first day, so every day); an opt-out, every day of the member's visits.
DAY, ALL = "the day and later", "every day"
CHANGES = {
    "a late day count": (
        DAY, "praha-2",
        "INSERT INTO periods (org, store, agent, epoch, seq, idx, period, start_at, seen_n,"
        " visitors_n, passersby_n, bounces_n, visits_n, start_epoch_s) VALUES ('acme', 'praha-2', 'gw-late',"
        " 'e9', 0, 0, 'day', '', 999, 0, 999, 0, 0, :t0)"),
    "a door minute": (
        DAY, "brno-1",
        "INSERT INTO doors (org, store, agent, epoch, seq, idx, sensor, minute_at, traffic_in_n,"
        " traffic_out_n, minute_epoch_s) VALUES ('acme', 'brno-1', 'door-late', 'e9', 0, 0, 'front', '', 50,"
        " 0, :t0 + 36000)"),
    "a device found static": (
        ALL, "leeds-1",
        "INSERT INTO device_flags (org, store, agent, epoch, seq, idx, device_key, key_window,"
        " flag, hours_present_h, days_present_n) SELECT org, store, agent, 'e9', 0, 0, device_key,"
        " key_window, 'static', 12, 5 FROM visits WHERE store = 'leeds-1' AND started_epoch_s >= :t0"
        " AND started_epoch_s < :t1 AND device_key IS NOT NULL ORDER BY started_epoch_s LIMIT 1"),
    "an erased visit": (
        ALL, "praha-2",
        "DELETE FROM visits WHERE store = 'praha-2' AND started_epoch_s = (SELECT"
        " min(started_epoch_s) FROM visits WHERE store = 'praha-2' AND kind = 'visitor' AND started_epoch_s"
        " >= :t0 AND started_epoch_s < :t1)"),
    "a voided sale": (
        DAY, "leeds-1",
        "UPDATE pos_transactions SET voided = 1 WHERE store = 'leeds-1' AND transaction_id ="
        " (SELECT min(transaction_id) FROM pos_transactions WHERE store = 'leeds-1' AND voided = 0 AND"
        " net_amount_cents > 0 AND at_epoch_s >= :t0 AND at_epoch_s < :t1)"),
    "a staff hour corrected": (
        DAY, "brno-1",
        "UPDATE staff_hours SET labour_hours = labour_hours + 3 WHERE store = 'brno-1' AND"
        " hour_epoch_s = (SELECT min(hour_epoch_s) FROM staff_hours WHERE store = 'brno-1' AND hour_epoch_s"
        " >= :t0 AND hour_epoch_s < :t1)"),
    "an opted-out member's visits": (
        ALL, "brno-1",
        "DELETE FROM member_visits WHERE store = 'brno-1' AND member_key = (SELECT min(member_key)"
        " FROM member_visits WHERE store = 'brno-1' AND started_epoch_s >= :t0 AND started_epoch_s < :t1)"),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_any_change_to_what_a_day_row_reads_makes_it_stale_in_the_writers_transaction(
        chain: HubConfig, change: str) -> None:
    """Whatever table changes, the rolled day of that store is no longer served the moment the change
    commits, the report has the change, and it is the report from the records."""
    reach, store, sql = CHANGES[change]
    day = FIRST + timedelta(days=24)
    t0, t1 = _day_span(day, STORES[store][0])
    with open_database(chain.database) as db:
        before = store_metrics(db, chain, [store], day, day, "day").rows[0]
        with db.transaction():
            n = db.execute(sql.replace(":t0", str(t0)).replace(":t1", str(t1))).rowcount
        assert n >= 1, change
        assert store not in served(db, chain, day)
        week_before = served(db, chain, day - timedelta(days=8))
        assert week_before == (set(STORES) if reach == DAY else set(STORES) - {store})
        got, want = both(db, chain, day, day)
        assert_same(got, want)
        assert got.rows_of(store)[0] != before, change  # the change shows


def test_a_database_with_older_rollup_triggers_gets_this_versions_at_start(tmp_path: Path) -> None:
    """SQLite: a trigger defined otherwise (an older hub's) is made again when the hub opens the file,
    inside the schema's write transaction; one already current is left alone."""
    path = tmp_path / "hub.db"
    open_db(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER rollup_mark_visits_insert")
        conn.execute("CREATE TRIGGER rollup_mark_visits_insert AFTER INSERT ON visits BEGIN SELECT 1; END")
        conn.execute("DROP TRIGGER rollup_mark_doors_insert")
    open_db(path).close()
    with sqlite3.connect(path) as conn:
        now = dict(conn.execute(TRIGGERS_NOW).fetchall())
    assert now == SQLITE_TRIGGERS
    assert sqlite_schema(now) == list(SQLITE_DDL)  # nothing left to make again


def test_the_serving_leader_rolls_up_the_closed_days_of_its_stores(hub_config: HubConfig) -> None:
    """Two `serve` workers of a shared group: the elected one's job rolls up the last 35 closed days of
    the stores agents report from (here a day two days ago, stored before they start), as the engine
    computes them."""
    tz = ZoneInfo("Europe/Prague")
    day = datetime.now(tz).date() - timedelta(days=2)
    t0 = datetime.combine(day, datetime.min.time(), tz).timestamp() + 10 * 3600
    write(hub_config, [("gw-1", 0, [visit(i, start=t0 + 300 * i) for i in range(6)])], store="brno-1")
    group = dataclasses.replace(hub_config.ingest, shared_group="hub")
    workers = [dataclasses.replace(hub_config, ingest=group, mqtt=dataclasses.replace(
        hub_config.mqtt, client_id=f"test-hub-{name}")) for name in ("a", "b")]
    with Hub(workers[0]) as a, Hub(workers[1]) as b:
        assert [a.leader, b.leader].count(True) == 1
        assert wait_for(lambda: query(hub_config.database, "SELECT count(*) FROM day_rollups"
                                      " WHERE store = 'brno-1' AND day = ?", (day.isoformat(),)) == [(1,)])
        with open_database(hub_config.database, readonly=True) as db:
            assert "brno-1" in serve(db, hub_config, ["brno-1"], day, day, compare=False)
            got = store_metrics(db, hub_config, ["brno-1"], day, day, "day", compare=False)
            assert got.rows == store_metrics(db, hub_config, ["brno-1"], day, day, "day", compare=False,
                                             rollups=False).rows
            assert got.rows[0].visitor_visits_n == 6
    days = query(hub_config.database, "SELECT count(*) FROM day_rollups WHERE store = 'brno-1'")
    assert days == [(35,)]  # the leader's horizon
