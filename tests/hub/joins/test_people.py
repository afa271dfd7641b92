"""Issue 19 on the hub: visitors are people, estimates carry their 80 % interval, and where a store has a
door counter the Wi-Fi factor follows it.

Each test writes what agents send (visits with person keys, door counts, a status with its calibration)
through the hub's own ingest writer into a real SQLite file, then reads the one metrics engine. Expected
figures are worked out by hand in each test.
"""

from __future__ import annotations

import io
import json
import statistics
from datetime import date, timedelta
from typing import Any

import pytest

from agent.wire import DoorCounts, PeriodCounts, Visit
from agent.wire.records import iso, parse_iso
from hub.config import DatabaseConfig, HubConfig, StoreConfig
from hub.joins.metrics import store_metrics
from hub.publish.source import store_day
from hub.reports import formatter
from hub.store.sql import open_database
from tests.hub import scenario
from tests.hub.scenario import write

STORE = "brno-1"  # Europe/Prague: local 10:00 on a November day is 09:00Z
DAY = date(2026, 11, 26)


def _config(database: DatabaseConfig, factor: float = 1.0) -> HubConfig:
    return HubConfig(database=database, default_timezone="UTC",
                     stores={STORE: StoreConfig(timezone="Europe/Prague", calibration_factor=factor)})


def frag(start: str, dwell_s: int, device: int, person: int | None = None, *, person_dwell_s: int = 0,
         window: str = "w-26") -> Visit:
    """A visitor visit (a fragment of a person's stay when `person` is given)."""
    return Visit(started_at=start, ended_at=iso(parse_iso(start) + dwell_s), dwell_s=dwell_s, sightings_n=9,
                 rssi_max_dbm=-50, kind="visitor", randomized=True, device_key=f"{device:032x}",
                 key_window=window, person_key=None if person is None else f"{person:032x}",
                 person_dwell_s=person_dwell_s)


def _day_count(day: date) -> PeriodCounts:
    start = iso(int(parse_iso(f"{day.isoformat()}T00:00:00Z")) - 3600)  # local midnight (UTC+1)
    return PeriodCounts(period="day", start_at=start, seen_n=0, visitors_n=0, passersby_n=0, bounces_n=0,
                        visits_n=0)


def status(config: HubConfig, learned: dict[str, str], state: str = "online") -> None:
    scenario.status(config, STORE, "gw-1", learned, state)


def _day(config: HubConfig, first: date = DAY, last: date = DAY, grain: Any = "day") -> list[Any]:
    with open_database(config.database) as db:
        return list(store_metrics(db, config, [STORE], first, last, grain).rows)


def people_day() -> list[tuple[str, int, list[Any]]]:
    """Three people on 2026-11-26. Anna's phone changes its MAC twice in a 30-minute stay (local 10:00 to
    10:30): gw-1 links devices 1, 2, 3 as person 100; gw-2 heard her from device 2 on and linked 2, 3 as
    its own person 200. Ben's phone keeps one MAC (device 4, not linked: 10 minutes). Cara's two
    fragments (devices 5, 6) are linked by gw-1 as person 300, a 20-minute stay from 11:00."""
    return [
        ("gw-1", 0, [
            _day_count(DAY),
            frag("2026-11-26T09:00:00Z", 600, 1, 100, person_dwell_s=600),
            frag("2026-11-26T09:10:00Z", 600, 2, 100, person_dwell_s=1200),
            frag("2026-11-26T09:20:00Z", 600, 3, 100, person_dwell_s=1800),
            frag("2026-11-26T09:05:00Z", 600, 4),
            frag("2026-11-26T10:00:00Z", 600, 5, 300, person_dwell_s=600),
            frag("2026-11-26T10:10:00Z", 600, 6, 300, person_dwell_s=1200),
        ]),
        ("gw-2", 0, [
            frag("2026-11-26T09:11:00Z", 540, 2, 200, person_dwell_s=540),
            frag("2026-11-26T09:20:00Z", 600, 3, 200, person_dwell_s=1140),
        ]),
    ]


def test_visitors_are_people_linked_across_fragments_and_gateways(hub_database: DatabaseConfig) -> None:
    """A phone that changes its MAC is one visitor, however many gateways heard which fragments (issue 19:
    the hub counts people as replay --summary does); stays are the people's: Anna 30 min, Ben 10, Cara
    20, so the median is 20 min and the mean 20 min; traffic in is 3 arrivals x the factor."""
    config = _config(hub_database, factor=1.5)
    write(config, people_day())
    day = _day(config)[0]
    assert (day.visitors, day.visitor_visits_n, day.traffic_in) == (3, 3, 4.5)
    assert (day.median_dwell_s, day.mean_dwell_s) == (1200.0, 1200.0)
    hours = {r.start.hour: r for r in _day(config, grain="hour")}
    assert (hours[10].visitors, hours[11].visitors) == (2, 1)  # people by the hour they arrived
    assert (hours[10].occupancy, hours[11].occupancy) == (3.0, 1.5)  # Anna and Ben, then Cara: x 1.5


def test_without_person_keys_visitors_are_device_keys_as_before(hub_database: DatabaseConfig) -> None:
    """An agent that does not link (older, or a phone that keeps its MAC) still gives one visitor per
    device key: five fragments without person keys are five visitors."""
    config = _config(hub_database)
    write(config, [("gw-1", 0, [_day_count(DAY), *(frag(f"2026-11-26T09:{10 * i:02d}:00Z", 600, i + 1)
                                                  for i in range(5))])])
    assert _day(config)[0].visitors == 5


CALIBRATED = {"calibration_factor": "1.4", "visitors_factor": "1.1", "visitors_q10": "0.8",
              "visitors_q90": "1.2", "calibrated_at": "2026-11-20T10:00:00Z"}


def test_estimates_carry_the_agents_calibration_interval(hub_database: DatabaseConfig) -> None:
    """The 80 % interval calibrate found travels in the gateway's status and comes out of every report:
    3 visitors (2.4-3.6), traffic in 4.5 (3.6-5.4); the table and the page show "3 (2-4)"; json and csv
    carry visitors_low/_high and traffic_in_low/_high. An offline last will (no calibration) keeps it."""
    config = _config(hub_database, factor=1.5)
    write(config, people_day())
    assert _day(config)[0].visitors_low is None, "never calibrated: no interval"
    status(config, CALIBRATED)
    status(config, {}, state="offline")
    day = _day(config)[0]
    assert (day.visitors_low, day.visitors_high) == pytest.approx((2.4, 3.6))
    assert (day.traffic_in_low, day.traffic_in_high) == pytest.approx((3.6, 5.4))
    with open_database(config.database) as db:
        report = store_metrics(db, config, [STORE], DAY, DAY, "day")
    shown = {}
    for fmt in ("table", "html", "json", "csv"):
        out = io.StringIO()
        formatter(fmt)(report, out)
        shown[fmt] = out.getvalue()
    assert "4.5 (4-5)" in shown["table"] and "3 (2-4)" in shown["table"]
    assert 'data-low="3.6' in shown["html"] and ">3 (2-4)</td>" in shown["html"]
    row = json.loads(shown["json"])["rows"][0]
    assert (row["visitors_low"], row["traffic_in_high"]) == pytest.approx((2.4, 5.4))
    header = next(line for line in shown["csv"].splitlines() if not line.startswith("#"))
    assert {"visitors_low", "visitors_high", "traffic_in_low", "traffic_in_high", "mean_dwell_s"} <= set(
        header.split(","))
    assert "80 % interval" in report.definitions()["interval"]


def test_a_calibration_too_short_to_say_gives_no_interval(hub_database: DatabaseConfig) -> None:
    """calibrate writes (1, 1) when it had too few days for an interval: the hub shows none rather than a
    pretend-exact figure."""
    config = _config(hub_database)
    write(config, people_day())
    status(config, {**CALIBRATED, "visitors_q10": "1.0", "visitors_q90": "1.0"})
    assert _day(config)[0].visitors_low is None


def _doors(day: date, n: int) -> list[DoorCounts]:
    return [DoorCounts("door-a", f"{day.isoformat()}T09:00:00Z", n, n)] if n else []


Batches = list[tuple[str, int, list[Any]]]


def door_weeks(first: date, days: int, door: dict[int, int], people: int = 10) -> Batches:
    """`days` days from `first`: `people` linked Wi-Fi people a day (one fragment each), the door counter's
    entries of day i as `door[i]` (absent: the counter sent nothing that day)."""
    batches: Batches = []
    for i in range(days):
        d = first + timedelta(days=i)
        window = f"w-{d.isoformat()}"
        visits = [frag(f"{d.isoformat()}T{9 + j % 8:02d}:{j:02d}:00Z", 600, 1000 * i + j, 1000 * i + j,
                       person_dwell_s=600, window=window) for j in range(people)]
        batches.append(("gw-1", i, [_day_count(d), *visits, *_doors(d, door.get(i, 0))]))
    return batches


def test_days_without_door_counts_take_the_door_fitted_factor(hub_database: DatabaseConfig) -> None:
    """A store whose counter counted 20 entries for 10 Wi-Fi people a day for two weeks, then went dark
    for two days: those days' traffic in is 10 x 2.0 (the rolling 14-day fit), not 10 x the configured
    1.5, and says so (wifi_door_fit). A day the counter came back half-dead (3 entries) keeps its count
    but does not move the factor. Before three counted days the configured factor counts (wifi_visitors)."""
    first = DAY - timedelta(days=17)
    door = {i: 20 for i in range(14)} | {16: 3, 17: 20}
    config = _config(hub_database, factor=1.5)
    write(config, door_weeks(first, 18, door))
    rows = {r.start.date(): r for r in _day(config, first, DAY)}
    dark = [rows[first + timedelta(days=i)] for i in (14, 15)]
    assert [(r.traffic_in, r.traffic_source) for r in dark] == [(20.0, "wifi_door_fit")] * 2
    alone = _day(config, dark[0].start.date(), dark[0].start.date())[0]  # report --date looks back itself
    assert (alone.traffic_in, alone.traffic_source) == (20.0, "wifi_door_fit")
    hours = _day(config, dark[0].start.date(), dark[0].start.date(), "hour")
    assert sum(h.traffic_in or 0 for h in hours) == 20.0, "the hours add up to the day"
    half = rows[first + timedelta(days=16)]
    assert (half.traffic_in, half.traffic_source) == (3.0, "door_counters")
    assert (half.traffic_in_low, half.traffic_in_high) == (3.0, 3.0), "a count is as counted"
    week = _day(config, first + timedelta(days=14), DAY, "week")
    assert {r.traffic_source for r in week} <= {"mixed", "wifi_door_fit", "door_counters"}
    assert "wifi_door_fit" in store_metrics_definitions(config)["traffic source"]
    with open_database(config.database) as db:  # the data-team feed suppresses it as the device-derived
        fed = store_day(db, config, STORE, dark[0].start.date())  # figure it is (its schema's wifi_visitors)
    assert (fed.traffic_source, fed.wifi, fed.day.traffic_in) == ("wifi_visitors", True, 20.0)


def test_before_the_counter_has_three_days_the_configured_factor_counts(hub_database: DatabaseConfig) -> None:
    """A counter that counted only two days teaches nothing yet: a dark day after them is 10 x the
    configured 1.5, from the calibration (wifi_visitors)."""
    first = DAY - timedelta(days=2)
    config = _config(hub_database, factor=1.5)
    write(config, door_weeks(first, 3, {0: 20, 1: 20}))
    day = _day(config)[0]
    assert (day.traffic_in, day.traffic_source) == (15.0, "wifi_visitors")


def test_a_counter_out_beyond_the_fit_window_carries_its_last_factor(hub_database: DatabaseConfig) -> None:
    """A counter dark for more than 14 days leaves no day to fit on: its last good factor carries on
    (wifi_carried), never a silent return to the configured one."""
    first = DAY - timedelta(days=20)
    config = _config(hub_database, factor=1.5)
    write(config, door_weeks(first, 21, {i: 30 for i in range(5)}))
    day = _day(config)[0]
    assert (day.traffic_in, day.traffic_source) == (30.0, "wifi_carried")


def store_metrics_definitions(config: HubConfig) -> dict[str, str]:
    with open_database(config.database) as db:
        return store_metrics(db, config, [STORE], DAY, DAY, "day").definitions()


def test_people_stays_use_the_longest_fragment_report(hub_database: DatabaseConfig) -> None:
    """A person's stay is the largest person_dwell_s of their fragments (the agent's definition), from the
    first sighting of the first fragment: fragments reported out of order make the same stay."""
    config = _config(hub_database)
    write(config, [("gw-1", 0, [_day_count(DAY),
                                frag("2026-11-26T09:20:00Z", 600, 3, 100, person_dwell_s=1800),
                                frag("2026-11-26T09:00:00Z", 600, 1, 100, person_dwell_s=600)])])
    day = _day(config)[0]
    assert (day.visitors, day.median_dwell_s) == (1, 1800.0)
    assert statistics.fmean([1800]) == day.mean_dwell_s


def test_report_date_shows_the_interval_too(hub_database: DatabaseConfig) -> None:
    """`report --date` (the store-day view) shows the same intervals: the table's day row "3 (2-4)", the
    csv's visitors_low column, the page's day totals with data-low."""
    from hub.joins import daily_report  # noqa: PLC0415 -- the view this test is about

    config = _config(hub_database, factor=1.5)
    write(config, people_day())
    status(config, CALIBRATED)
    with open_database(config.database) as db:
        report = daily_report(db, config, STORE, DAY)
    shown = {}
    for fmt in ("table", "html", "csv"):
        out = io.StringIO()
        formatter(fmt)(report, out)
        shown[fmt] = out.getvalue()
    day_line = next(line for line in shown["table"].splitlines() if "Day" in line and "│" in line)
    assert "3 (2-4)" in day_line and "4.5 (4-5)" in day_line
    rows = [line.split(",") for line in shown["csv"].splitlines() if not line.startswith("#")]
    day = dict(zip(rows[0], rows[-1], strict=True))
    assert day["period"] == "day"
    assert (float(day["visitors_low"]), float(day["traffic_in_high"])) == pytest.approx((2.4, 5.4))
    assert 'data-start="total"' in shown["html"] and 'data-low="3.6"' in shown["html"]
