"""The daily report's numbers, against values worked out by hand from tests/hub/scenario.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from hub.config import DatabaseConfig, HubConfig, StoreConfig
from hub.joins import DailyReport, NoDataError, daily_report
from hub.store.sql import Db, open_database
from tests.hub.scenario import build, import_file

DAY = date(2026, 11, 26)


@pytest.fixture
def config(hub_database: DatabaseConfig) -> HubConfig:
    """brno-1 on a fresh database of each engine."""
    return HubConfig(
        database=hub_database,
        default_timezone="UTC",
        stores={"brno-1": StoreConfig(timezone="Europe/Prague", calibration_factor=1.5)},
    )


@pytest.fixture
def db(config: HubConfig) -> Iterator[Db]:
    with open_database(config.database) as database:
        yield database


def report(db: Db, config: HubConfig) -> DailyReport:
    return daily_report(db, config, "brno-1", DAY)


def test_hours_are_local_and_count_people_once(
    config: HubConfig, tmp_path: Path, db: Db
) -> None:
    """Hour 10 local: visitors are the phones that came in (keys 3, 4 via gw-1, 7 via gw-2) = 3; passers-by
    the larger gateway count, max(6, 3) = 6 (two gateways hear one street); capture 3/9. Hour 11: gw-1's
    re-sent count (15) replaces its first (1). Hour 9: nobody reported, unknown, not 0."""
    build(config, tmp_path)
    r = report(db, config)
    assert len(r.hours) == 24
    assert r.hours[0].start.isoformat() == "2026-11-26T00:00:00+01:00"
    h10 = r.hours[10]
    assert (h10.visitors, h10.passersby, h10.capture_rate) == (3, 6, pytest.approx(3 / 9))
    h11 = r.hours[11]
    assert (h11.visitors, h11.passersby, h11.capture_rate) == (2, 15, pytest.approx(2 / 17))
    assert (r.hours[9].visitors, r.hours[9].capture_rate) == (None, None)


def test_median_dwell_of_visitor_visits_by_start_hour(
    config: HubConfig, tmp_path: Path, db: Db
) -> None:
    """Hour 10: visitors 300, 900, 600 s (the bounce is not a visitor) -> 600; hour 11: 1200, 400 -> 800;
    hour 00 holds the visit that started at 23:10Z the day before; the day: 300..1200 -> (600+700)/2."""
    build(config, tmp_path)
    r = report(db, config)
    assert (r.hours[10].median_dwell_s, r.hours[10].visitor_visits_n) == (600, 3)
    assert (r.hours[11].median_dwell_s, r.hours[0].median_dwell_s, r.hours[1].median_dwell_s) == (
        800,
        700,
        None,
    )
    assert (r.day.median_dwell_s, r.day.visitor_visits_n) == (650, 6)


def test_sales_and_conversion_without_door_counters(
    config: HubConfig, tmp_path: Path, db: Db
) -> None:
    """No door counts: traffic in = arrivals x 1.5. Hour 10: 2 sales (25.00, 10.50; the refund is not a sale),
    net 30.50, 3 arrivals, traffic 4.5. Hour 11: 12.00 (naive local) + 8.00 (10:59:59Z), 2 arrivals, 3.0."""
    build(config, tmp_path)
    r = report(db, config)
    assert r.traffic_source == "wifi_visitors"
    h10, h11, h12 = r.hours[10], r.hours[11], r.hours[12]
    assert (h10.transactions, h10.net_sales_cents, h10.traffic_in) == (2, 3050, 4.5)
    assert h10.conversion == pytest.approx(2 / 4.5)
    assert (h11.transactions, h11.net_sales_cents, h11.traffic_in) == (2, 2000, 3.0)
    assert h11.conversion == pytest.approx(2 / 3)
    assert (h12.transactions, h12.net_sales_cents, h12.traffic_in, h12.conversion) == (0, 0, None, None)


def test_hours_add_up_to_the_day(config: HubConfig, tmp_path: Path, db: Db) -> None:
    """Day: 6 phones came in (traffic 6 x 1.5 = 9, the sum of the hours 1.5 + 4.5 + 3.0), passers-by the
    larger gateway's day count max(20, 3); 4 sales, 50.50, conversion 4/9, the same rate the hours add up
    to. The next local day's counts and sales are not included."""
    build(config, tmp_path)
    r = report(db, config)
    d = r.day
    assert (d.visitors, d.passersby, d.capture_rate) == (6, 20, pytest.approx(6 / 26))
    assert (d.transactions, d.net_sales_cents, d.traffic_in) == (4, 5050, 9.0)
    assert sum(h.traffic_in or 0 for h in r.hours) == d.traffic_in
    assert sum(h.transactions for h in r.hours) == d.transactions
    assert d.conversion == pytest.approx(4 / 9)


def test_a_stay_across_two_hours_is_one_entry_and_occupies_both(
    config: HubConfig, tmp_path: Path, db: Db
) -> None:
    """A 40-minute stay from 12:40 to 13:20 local is traffic in 12:00 only, and occupancy in 12:00 and 13:00:
    hourly conversion is not diluted by people who came in earlier."""
    from tests.hub.scenario import v, write  # noqa: PLC0415

    build(config, tmp_path)
    write(config, [("gw-1", 5, [v("2026-11-26T11:40:00Z", 2400, key=9)])])
    r = report(db, config)
    h12, h13 = r.hours[12], r.hours[13]
    assert (h12.traffic_in, h12.occupancy, h12.visitors) == (1.5, 1.5, 1)
    assert (h13.traffic_in, h13.occupancy, h13.visitors) == (0.0, 1.5, 0)
    assert r.day.traffic_in == 10.5 and r.day.occupancy is None


def test_door_counts_are_traffic_when_the_store_has_them(
    config: HubConfig, tmp_path: Path, db: Db
) -> None:
    """With door counts that day, traffic in is the entries: hour 10 7 + 3 = 10, conversion 2/10; hour 11 has
    no entries (conversion unknown); the day has 15 entries, conversion 4/15."""
    build(config, tmp_path, with_doors=True)
    r = report(db, config)
    assert r.traffic_source == "door_counters"
    assert (r.hours[10].traffic_in, r.hours[10].conversion) == (10.0, pytest.approx(0.2))
    assert (r.hours[11].traffic_in, r.hours[11].conversion) == (0.0, None)
    assert (r.hours[12].traffic_in, r.day.traffic_in, r.day.conversion) == (5.0, 15.0, pytest.approx(4 / 15))
    assert "door counters" in r.definitions()["traffic in"]


def test_a_door_minute_sent_again_counts_once_as_last_sent(config: HubConfig, tmp_path: Path, db: Db) -> None:
    """gw-3 sends door-a's 10:00 minute again with 9 entries (first 7): hour 10 has 9 + 3 = 12 entries,
    the day 17, on either engine (the agent's highest seq counts, as for a re-sent hour)."""
    from agent.wire import DoorCounts  # noqa: PLC0415
    from hub.joins.metrics import store_metrics  # noqa: PLC0415
    from tests.hub.scenario import write  # noqa: PLC0415

    build(config, tmp_path, with_doors=True)
    write(config, [("gw-3", 1, [DoorCounts("door-a", "2026-11-26T09:00:00Z", 9, 5)])])
    r = report(db, config)
    assert (r.hours[10].traffic_in, r.day.traffic_in) == (12.0, 17.0)
    (row,) = store_metrics(db, config, ["brno-1"], DAY, DAY, "day").rows  # summed by day in SQL
    assert row.traffic_in == 17.0


def test_report_states_its_definitions_and_settings(
    config: HubConfig, tmp_path: Path, db: Db
) -> None:
    """Every report says what its words mean and which thresholds and window were used."""
    build(config, tmp_path)
    r = report(db, config)
    assert r.settings_used() == {
        "visit_timeout_s": 900,
        "min_dwell_s": 300,
        "visitor_rssi_dbm": -70,
        "visitor_sightings_n": 3,
        "linkability_window_d": 1,
        "loyalty_window_d": 30,  # added with the member metrics (issue 7)
        "calibration_factor": 1.5,
        "timezone": "Europe/Prague",
        "currency": "",
        "locale": "en",
        "agents": ["gw-1", "gw-2"],
        "traffic_in_source": "wifi_visitors",
    }
    d = r.definitions()
    assert d["visitor"].startswith(
        "a phone that stayed at least 5 min (a gap of more than 15 min ends a stay), heard at least 3 times"
        " at -70 dBm or stronger"
    )
    assert "calibration factor (1.5)" in d["traffic in"]
    assert "so the hours add up to the day" in d["traffic in"]
    assert not any(key in text for text in d.values() for key in ("min_dwell_s", "visitor_rssi_dbm", "_s "))
    assert d["linkability window"].startswith("1 day(s)")
    assert r.agents == ("gw-1", "gw-2")


def test_daylight_saving_day_has_25_hours(config: HubConfig, db: Db) -> None:
    """On the autumn change the local day has 25 hours, 02:00 twice, told apart by their offsets."""
    from tests.hub.scenario import p, write  # noqa: PLC0415

    write(config, [("gw-1", 0, [p("hour", "2026-10-25T01:00:00Z", 1, 1)])])
    r = daily_report(db, config, "brno-1", date(2026, 10, 25))
    assert len(r.hours) == 25
    assert [h.start.isoformat() for h in r.hours[2:4]] == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
    ]
    assert (r.hours[3].visitors, r.hours[3].passersby) == (0, 1)  # reported: nobody came in (0, not unknown)


def test_no_data_for_the_store_and_day(config: HubConfig, tmp_path: Path, db: Db) -> None:
    """A store or day with nothing stored is an error, not a report of zeros."""
    build(config, tmp_path)
    with pytest.raises(NoDataError, match="no data for store 'brno-1' on 2026-11-28"):
        daily_report(db, config, "brno-1", date(2026, 11, 28))


def test_a_voided_sale_counts_nowhere(config: HubConfig, tmp_path: Path, db: Db) -> None:
    """A later export voids T1 (25.00 at 10:10): the day, its 10:00 hour and the range report all drop it,
    one way (the issue: `--date` counted it, `--from/--to` did not)."""
    from hub.joins.metrics import store_metrics  # noqa: PLC0415

    build(config, tmp_path)
    void = tmp_path / "void.csv"
    void.write_text("store,timestamp,transaction_id,net_amount,status\n"
                    "brno-1,2026-11-26T10:10:00+01:00,T1,25.00,VOID\n")
    import_file(config, "pos", void)
    r = report(db, config)
    assert (r.day.transactions, r.day.net_sales_cents) == (3, 2550)
    assert (r.hours[10].transactions, r.hours[10].net_sales_cents) == (1, 550)
    (row,) = store_metrics(db, config, ["brno-1"], DAY, DAY, "day").rows
    assert (row.transactions, row.net_sales_cents) == (3, 2550)


def test_sales_are_known_once_an_export_reached_the_day(
    config: HubConfig, tmp_path: Path, db: Db
) -> None:
    """The 26th (sales imported through the 27th) is known, its quiet hours included: 0 means none sold. The
    29th, with footfall but no export yet, is not: its 0 transactions are not known yet."""
    from tests.hub.scenario import v, write  # noqa: PLC0415

    build(config, tmp_path)
    write(config, [("gw-1", 7, [v("2026-11-29T10:00:00Z", 600, key=30)])])
    r = report(db, config)
    assert r.day.sales_known and all(h.sales_known for h in r.hours)
    later = daily_report(db, config, "brno-1", date(2026, 11, 29))
    assert (later.day.transactions, later.day.sales_known) == (0, False)
    assert "not known yet" in later.definitions()["sales known"]
