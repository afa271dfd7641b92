"""Store metrics on a generated five-week chain equal the values computed from the generator's truth.

Expected values are worked out here from `tests.hub.chain`'s record of what happened (people, times,
amounts, consent), following docs/metrics.md's definitions, never with the hub's own code.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from hub.config import DatabaseConfig, HubConfig
from hub.joins.metrics import MetricsReport, NoMetricsError, store_metrics
from hub.store.sql import Db, open_database
from tests.hub.chain import DAYS, FIRST, STORES, Truth, build
from tests.support.engines import ENGINES, engine_database

Chain = tuple[HubConfig, dict[str, Truth]]


@pytest.fixture(scope="module", params=ENGINES)
def chain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """The chain, built once per engine."""
    tmp = tmp_path_factory.mktemp("chain")
    with engine_database(request, tmp) as database:
        yield build(tmp, database=database)


@pytest.fixture
def conn(chain: Chain) -> Iterator[Db]:
    with open_database(chain[0].database, readonly=True) as db:
        yield db


def _span(t: Truth, first: date, last: date) -> tuple[int, int]:
    return (
        int(datetime.combine(first, time(0), t.tz).timestamp()),
        int(datetime.combine(last + timedelta(days=1), time(0), t.tz).timestamp()),
    )


def _traffic(store: str, t: Truth, day: date) -> float | None:
    if STORES[store][3]:
        lo, hi = _span(t, day, day)
        return float(sum(n for m, n in t.doors if lo <= m < hi))
    counts = t.day_counts.get(day)
    return None if counts is None else counts[0] * STORES[store][1]


def expected(store: str, t: Truth, first: date, last: date) -> dict[str, Any]:
    """Every metric of store over local days first..last, from the truth."""
    lo, hi = _span(t, first, last)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    visits = [(p, s, dw) for p, s, _, dw in t.visits if lo <= s < hi]
    dwell = [dw for _, _, dw in visits]
    bounces = sum(1 for b in t.bounces if lo <= b < hi)
    sales = [(c, m) for at, c, void, m in t.sales if lo <= at < hi and not void]
    tx = sum(1 for c, _ in sales if c > 0)
    net = sum(c for c, _ in sales)
    known = [_traffic(store, t, d) for d in days]
    traffic = sum(x for x in known if x is not None) if any(x is not None for x in known) else None
    labour = sum(h for at, h in t.staff.items() if lo <= at < hi)
    out: dict[str, Any] = {
        "visitors": sum(t.day_counts[d][0] for d in days if d in t.day_counts),
        "passersby": sum(t.day_counts[d][1] for d in days if d in t.day_counts),
        "traffic_in": traffic,
        "visitor_visits_n": len(visits),
        "median_dwell_s": float(statistics.median(dwell)) if dwell else None,
        "engaged_5_20_min_n": sum(1 for x in dwell if 300 <= x < 1200),
        "engaged_20_60_min_n": sum(1 for x in dwell if 1200 <= x < 3600),
        "engaged_1_6_h_n": sum(1 for x in dwell if 3600 <= x < 21600),
        "engaged_6_h_plus_n": sum(1 for x in dwell if x >= 21600),
        "bounces_n": bounces,
        "bounce_rate": pytest.approx(bounces / (bounces + len(visits))),
        "transactions": tx,
        "net_sales_cents": net,
        "conversion": pytest.approx(tx / traffic) if traffic else None,
        "avg_transaction_value_cents": pytest.approx(net / tx) if tx else None,
        "labour_hours": pytest.approx(labour),
        "shoppers_per_staff_hour": pytest.approx(traffic / labour) if traffic else None,
    }
    # new vs returning: by day, a person seen on an earlier day of the same key window
    window = STORES[store][2]
    if window > 1:
        new = ret = 0
        for d in days:
            people = {p for p, s, _ in visits if t.local_day(s) == d}
            index = (d - FIRST).days
            for p in people:
                earlier = any(
                    t.local_day(s) < d and (t.local_day(s) - FIRST).days // window == index // window
                    for q, s, _, _ in t.visits
                    if q == p
                )
                ret += earlier
                new += not earlier
        out |= {"new_visitors_n": new, "returning_visitors_n": ret}
    else:
        out |= {"new_visitors_n": None, "returning_visitors_n": None}
    # members: consenting members who visited; buyers by loyalty id; loyalty over 30 days to `last`
    members = {p for p, _, _ in visits if p in t.consenting}
    ids = {t.member_of[p] for p in members}
    buyers = {m for c, m in sales if c > 0 and m is not None} & ids
    visit_days = {p: {t.local_day(s) for q, s, _, _ in t.visits if q == p} for p in members}
    in_window = {p: {d for d in ds if last - timedelta(days=30) < d <= last} for p, ds in visit_days.items()}
    buckets = [0, 0, 0, 0]
    for p in members:
        n = len(in_window[p])
        buckets[0 if n == 1 else 1 if n < 4 else 2 if n < 20 else 3] += 1
    out |= {
        "member_visits_n": sum(1 for p, _, _ in visits if p in t.consenting),
        "member_visitors_n": len(members),
        "member_returning_n": sum(1 for p in members if any(d < first for d in in_window[p])),
        "member_buyers_n": len(buyers),
        "members_not_bought": tuple(sorted(ids - buyers)),
        "loyalty_first_time_n": buckets[0],
        "loyalty_occasional_n": buckets[1],
        "loyalty_weekly_n": buckets[2],
        "loyalty_daily_n": buckets[3],
    }
    return out


def got(report: MetricsReport, i: int, keys: Any) -> dict[str, Any]:
    row = report.rows[i]
    return {k: getattr(row, k) for k in keys}


@pytest.mark.parametrize("store", list(STORES))
def test_daily_metrics_equal_the_truth(chain: Chain, conn: Db, store: str) -> None:
    """Every metric of every day of the last three weeks (DST change included) matches the truth."""
    config, truths = chain
    first, last = FIRST + timedelta(days=14), FIRST + timedelta(days=DAYS - 1)
    report = store_metrics(conn, config, [store], first, last, "day")
    assert len(report.rows) == DAYS - 14
    for i, row in enumerate(report.rows):
        day = first + timedelta(days=i)
        assert row.start.date() == day
        want = expected(store, truths[store], day, day)
        assert got(report, i, want) == want, (store, day)
        assert row.traffic_source == ("door_counters" if STORES[store][3] else "wifi_visitors")


@pytest.mark.parametrize(
    ("grain", "spans"),
    [
        ("week", [(FIRST + timedelta(days=7 * w), FIRST + timedelta(days=7 * w + 6)) for w in range(5)]),
        ("month", [(FIRST, date(2026, 10, 31)), (date(2026, 11, 1), FIRST + timedelta(days=DAYS - 1))]),
    ],
)
def test_weeks_and_months_add_up_days_and_pool_visits(
    chain: Chain, conn: Db, grain: str, spans: list[tuple[date, date]]
) -> None:
    """Weeks (Monday to Sunday) and calendar months cut to the range: visitors summed over days,
    dwell median and engagement over all the period's visits, sales and labour summed."""
    config, truths = chain
    report = store_metrics(conn, config, list(STORES), FIRST, FIRST + timedelta(days=DAYS - 1), grain)  # type: ignore[arg-type]
    for store in STORES:
        rows = report.rows_of(store)
        assert [(r.start.date(), r.days_n) for r in rows] == [(a, (b - a).days + 1) for a, b in spans]
        for row, (a, b) in zip(rows, spans, strict=True):
            want = expected(store, truths[store], a, b)
            assert {k: getattr(row, k) for k in want} == want, (store, a)


def test_hours_count_arrivals_and_keep_presence_as_occupancy(chain: Chain, conn: Db) -> None:
    """By hour: visitors and Wi-Fi traffic are the people who came in that hour (so hours add up to the
    day), occupancy the people present in it (the agents' hourly counts x factor), door entries of the
    hour, sales and labour of the hour; the day the clocks go back has 25 local hours."""
    config, truths = chain
    day = date(2026, 10, 25)
    report = store_metrics(conn, config, ["brno-1", "leeds-1"], day, day, "hour")
    for store in ("brno-1", "leeds-1"):
        t = truths[store]
        factor = STORES[store][1]
        rows = report.rows_of(store)
        assert len(rows) == 25
        for row in rows:
            h = int(row.start.timestamp())
            counts = t.hour_counts.get(h)
            came = len([p for p, s, _, _ in t.visits if h <= s < h + 3600])
            if counts is not None:
                assert (row.visitors, row.passersby) == (came, counts[1])
                assert row.occupancy == counts[0] * factor
            if STORES[store][3]:
                assert row.traffic_in == sum(n for m, n in t.doors if h <= m < h + 3600)
            elif counts is not None:
                assert row.traffic_in == came * factor
            sales = [c for at, c, void, _ in t.sales if h <= at < h + 3600 and not void]
            assert (row.transactions, row.net_sales_cents) == (sum(1 for c in sales if c > 0), sum(sales))
            assert row.labour_hours == t.staff.get(h)
        (total,) = store_metrics(conn, config, [store], day, day, "day").rows
        assert sum(r.traffic_in or 0 for r in rows) == total.traffic_in


def test_comparisons_with_last_week_and_four_weeks(chain: Chain, conn: Db) -> None:
    """Each day carries the same weekday last week and the mean of the last four, where known."""
    config, truths = chain
    day = FIRST + timedelta(days=DAYS - 1)
    for store in STORES:
        row = store_metrics(conn, config, [store], day, day, "day").rows[0]
        earlier = [_traffic(store, truths[store], day - timedelta(days=7 * w)) for w in range(1, 5)]
        assert row.last_week["traffic_in"] == earlier[0]
        assert row.avg_4_weeks["traffic_in"] == pytest.approx(sum(earlier) / 4)  # type: ignore[arg-type]
        tx = [
            expected(store, truths[store], d, d)["transactions"]
            for d in (day - timedelta(days=7 * w) for w in range(1, 5))
        ]
        assert row.last_week["transactions"] == tx[0]
        assert row.avg_4_weeks["transactions"] == pytest.approx(sum(tx) / 4)


def test_every_report_states_definitions_settings_and_window(chain: Chain, conn: Db) -> None:
    """A report names its definitions, each store's settings and the linkability windows it used."""
    config, _ = chain
    report = store_metrics(conn, config, ["brno-1", "leeds-1"], FIRST, FIRST, "day")
    settings = report.settings_used()
    assert settings["brno-1"]["linkability_window_d"] == 7
    assert settings["leeds-1"]["calibration_factor"] == 1.25
    assert settings["leeds-1"]["timezone"] == "Europe/London"
    assert report.linkability().startswith("1, 7 day(s): a device key links visits only within its window")
    words = report.definitions()
    for term in (
        "capture rate",
        "bounce rate",
        "engagement",
        "loyalty",
        "conversion",
        "comparisons",
        "shopper-to-staff ratio",
        "member conversion",
        "visitors",
        "traffic in",
        "occupancy",
    ):
        assert term in words
    assert "adds up its days" in words["visitors"]
    assert "1.25 (leeds-1)" in words["traffic in"]  # each store's setting value, by store where they differ


def test_no_data_in_the_range_is_an_error(chain: Chain, conn: Db) -> None:
    """Asking for a period with nothing stored is a clear error, not a page of empty rows."""
    with pytest.raises(NoMetricsError, match="no data for store 'brno-1' from 2030-01-01 to 2030-01-02"):
        store_metrics(conn, chain[0], ["brno-1"], date(2030, 1, 1), date(2030, 1, 2), "day")


def test_rows_without_members_are_unknown_not_zero(tmp_path: Path, hub_database: DatabaseConfig) -> None:
    """Before any member visit is stored (the agent side is pending), member metrics are None."""
    from tests.hub.scenario import build as day_build  # noqa: PLC0415

    config = HubConfig(database=hub_database, default_timezone="Europe/Prague")
    day_build(config, tmp_path)
    with open_database(config.database) as db:
        row = store_metrics(db, config, ["brno-1"], date(2026, 11, 26), date(2026, 11, 26), "day").rows[0]
    assert (row.member_visits_n, row.member_conversion, row.loyalty_daily_n) == (None, None, None)
    assert row.labour_hours is None and row.transactions == 4
