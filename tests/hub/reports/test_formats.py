"""Report formats: the same numbers and definitions in a terminal table, CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from hub.config import DatabaseConfig, HubConfig, StoreConfig
from hub.joins import DailyReport, daily_report
from hub.reports import FORMATS, formatter
from hub.store.sql import open_database
from tests.hub.scenario import build


@pytest.fixture
def report(tmp_path: Path, hub_database: DatabaseConfig) -> DailyReport:
    """The scenario's day, read on each engine."""
    config = HubConfig(
        database=hub_database,
        stores={"brno-1": StoreConfig(timezone="Europe/Prague", calibration_factor=1.5)},
    )
    build(config, tmp_path)
    with open_database(config.database) as db:
        return daily_report(db, config, "brno-1", date(2026, 11, 26))


def render(name: str, report: DailyReport) -> str:
    out = io.StringIO()
    formatter(name)(report, out)
    return out.getvalue()


def test_every_registered_format_renders(report: DailyReport) -> None:
    """Each entry of the registry imports and writes something, definitions included."""
    assert sorted(FORMATS) == ["csv", "html", "json", "table"]
    for name in FORMATS:
        text = render(name, report)
        assert "calibration factor (1.5)" in text, name
        assert "linkability" in text, name


def test_json_has_the_numbers_unrounded_and_money_in_cents(report: DailyReport) -> None:
    """Programs get exact values: ratios unrounded, cents as integers, null where nobody reported."""
    doc = json.loads(render("json", report))
    assert (doc["store"], doc["date"], doc["timezone"]) == ("brno-1", "2026-11-26", "Europe/Prague")
    h10 = doc["hours"][10]
    assert h10["start"] == "2026-11-26T10:00:00+01:00"
    assert (h10["visitors"], h10["passersby"], h10["net_sales_cents"], h10["transactions"]) == (3, 6, 3050, 2)
    assert h10["conversion"] == pytest.approx(2 / 4.5)
    assert doc["hours"][9]["visitors"] is None
    assert (doc["day"]["visitors"], doc["day"]["median_dwell_s"]) == (6, 650)
    assert doc["settings"]["traffic_in_source"] == "wifi_visitors"
    assert "capture rate" in doc["definitions"]


def test_csv_rows_per_hour_then_day_with_definitions_as_comments(report: DailyReport) -> None:
    """Spreadsheets get one row per local hour and a day row; `#` lines hold the definitions."""
    text = render("csv", report)
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert comments[0] == "# footfall daily report: store brno-1, 2026-11-26"
    assert "# setting min_dwell_s: 300" in comments
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    assert len(rows) == 25
    assert rows[10] == {
        "period": "hour",
        "start": "2026-11-26T10:00:00+01:00",
        "visitors": "3",
        "passersby": "6",
        "capture_rate": str(3 / 9),
        "median_dwell_s": "600.0",
        "visitor_visits_n": "3",
        "transactions": "2",
        "net_sales": "30.50",
        "traffic_in": "4.5",
        "conversion": str(2 / 4.5),
        "occupancy": "4.5",
        "mean_dwell_s": "600.0",
        # never calibrated: no interval
        **dict.fromkeys(("visitors_low", "visitors_high", "traffic_in_low", "traffic_in_high"), ""),
    }
    assert rows[9]["visitors"] == ""
    assert (rows[24]["period"], rows[24]["visitors"], rows[24]["net_sales"]) == ("day", "6", "50.50")


def test_table_shows_local_hours_percentages_and_money(report: DailyReport) -> None:
    """People at a terminal read local hours, rates as percentages and amounts with two decimals."""
    text = render("table", report)
    assert "Store brno-1, 2026-11-26 (Europe/Prague)" in text
    line10 = next(line for line in text.splitlines() if "10:00" in line)
    for cell in ("3", "6", "33.3%", "10.0 min", "30.50", "4.5", "44.4%"):
        assert cell in line10, cell
    day = next(line for line in text.splitlines() if "Day" in line)
    assert "50.50" in day and "44.4%" in day
    traffic = next(line for line in text.splitlines() if line.startswith("traffic in "))
    assert traffic.split(maxsplit=2)[2].startswith("people who came in")
