"""Every output of every metric agrees: one generated three-store month through the CLI in every format,
every grain, `--date` and `--from/--to`, and the data-team feed's store-day.

The reference is `store_metrics(..., "day")` over the month. Against it: `report --from --to` as json and
csv (every field of every row, exactly), as table and html (every figure shown, as shown), `report
--date` per store-day (every field of the day row, and the hours adding up to it), `--grain hour` (hours
add up to each day: traffic, sales, visits), `--grain week` and `month` (days add up to them; ratios are
the ratio of the sums), and the feed's store-day. It prints how many figures each output was checked on.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from hub.cli import main
from hub.config import HubConfig, load_hub_config
from hub.joins.metrics import MetricsRow, store_metrics
from hub.publish.publisher import store_day
from hub.store.sql import open_database
from tests.hub.chain import DAYS, FIRST, STORES, build
from tests.hub.scenario import database_yaml, status
from tests.support.engines import ENGINES, engine_database

LAST = FIRST + timedelta(days=DAYS - 1)
ADDITIVE = ("traffic_in", "visitors", "passersby", "visitor_visits_n", "engaged_5_20_min_n",
            "engaged_20_60_min_n", "engaged_1_6_h_n", "engaged_6_h_plus_n", "bounces_n", "transactions",
            "net_sales_cents", "labour_hours", "member_visits_n")
RATIOS = {  # metric: (numerator, denominator) of the period's sums
    "conversion": ("transactions", "traffic_in"),
    "sales_per_visitor_cents": ("net_sales_cents", "traffic_in"),
    "avg_transaction_value_cents": ("net_sales_cents", "transactions"),
    "shoppers_per_staff_hour": ("traffic_in", "labour_hours"),
}
CAPTURE = {"capture_rate": ("visitors", "seen")}
CALIBRATED = {"visitors_q10": "0.85", "visitors_q90": "1.2", "calibrated_at": "2026-10-01T10:00:00Z"}
INTERVALS = ("visitors_low", "visitors_high", "traffic_in_low", "traffic_in_high")
HUB_YAML = """\
version: 1
database: {db}
stores:
  brno-1: {{timezone: Europe/Prague, settings: {{linkability_window_d: 7}}}}
  leeds-1: {{timezone: Europe/London, calibration_factor: 1.25}}
  praha-2: {{timezone: Europe/Prague}}
"""


@pytest.fixture(scope="module", params=ENGINES)
def month(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[Path, HubConfig]]:
    """The chain's month on each engine, and a hub.yaml naming its database (path or URL)."""
    tmp = tmp_path_factory.mktemp("agreement")
    with engine_database(request, tmp) as database:
        config, _ = build(tmp, database=database)
        for store in ("brno-1", "leeds-1"):  # calibrated (80 % intervals); praha-2 never was
            status(config, store, f"{store}-gw", CALIBRATED)
        path = tmp / "hub.yaml"
        path.write_text(HUB_YAML.format(db=database_yaml(database)))
        yield path, load_hub_config(str(path))


@pytest.fixture(scope="module")
def reference(month: tuple[Path, HubConfig]) -> dict[tuple[str, date], MetricsRow]:
    with open_database(month[1].database, readonly=True) as db:
        report = store_metrics(db, month[1], list(STORES), FIRST, LAST, "day")
    return {(r.store, r.start.date()): r for r in report.rows}


def cli(config: Path, *argv: str) -> str:
    out = io.StringIO()
    from contextlib import redirect_stdout  # noqa: PLC0415

    with redirect_stdout(out):
        assert main(["report", "--config", str(config), *argv, "--no-suppress"]) == 0  # exact figures
    return out.getvalue()


def _stores() -> list[str]:
    return [a for s in STORES for a in ("--store", s)]


class Checked:
    """Figures compared per output, printed at the end."""

    def __init__(self) -> None:
        self.n: dict[str, int] = defaultdict(int)

    def eq(self, output: str, got: Any, want: Any, where: Any) -> None:
        assert got == want, (output, where, got, want)
        self.n[output] += 1


@pytest.fixture(scope="module")
def checked() -> Iterator[Checked]:
    c = Checked()
    yield c
    print("\nfigures checked against the engine, per output (all agree):")
    for output, n in c.n.items():
        print(f"  {output:<46} {n:>7,}")


def _ratio(sums: dict[str, Any], num: str, den: str) -> float | None:
    a, b = sums[num], sums[den]
    return a / b if a is not None and b else None


def test_json_and_csv_ranges_carry_every_field_exactly(
    month: tuple[Path, HubConfig], reference: dict[tuple[str, date], MetricsRow], checked: Checked
) -> None:
    """`report --from --to` as json: every field of every store-day equals the engine's, exactly; as
    csv, every column (money in cents, ratios unrounded) equals the engine's value as text."""
    doc = json.loads(cli(month[0], *_stores(), "--from", str(FIRST), "--to", str(LAST), "--format", "json"))
    assert len(doc["rows"]) == len(reference) == 3 * DAYS
    for row in doc["rows"]:
        want = reference[(row["store"], date.fromisoformat(row["start"][:10]))].as_dict()
        for key, value in want.items():
            checked.eq("json --from/--to", row[key], json.loads(json.dumps(value)), (row["store"], key))
    text = cli(month[0], *_stores(), "--from", str(FIRST), "--to", str(LAST), "--format", "csv")
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    for row in rows:
        want = reference[(row["store"], date.fromisoformat(row["start"][:10]))]
        for key, value in want.as_dict().items():
            if key in ("last_week", "avg_4_weeks"):
                for m, v in value.items():
                    checked.eq("csv --from/--to", row[f"{m}_{key}"], "" if v is None else str(v), key)
                continue
            shown = " ".join(value) if key == "members_not_bought" else "" if value is None else str(value)
            checked.eq("csv --from/--to", row[key], shown, (row["store"], key))


def test_the_daily_report_of_each_store_day_is_the_range_report_s_day(
    month: tuple[Path, HubConfig], reference: dict[tuple[str, date], MetricsRow], checked: Checked
) -> None:
    """`report --date D` (json) of every store-day of the month: every field of its day row equals the
    range report's row for D, voided sales and all; its hours add up to the day."""
    for (store, day), want in reference.items():
        doc = json.loads(cli(month[0], "--store", store, "--date", str(day), "--format", "json"))
        for key, value in want.as_dict().items():
            if key != "grain":
                want_value = json.loads(json.dumps(value))
                checked.eq("json --date (day row)", doc["day"][key], want_value, (store, day))
        for key in ("traffic_in", "transactions", "net_sales_cents", "visitor_visits_n", "bounces_n"):
            total = sum(h[key] or 0 for h in doc["hours"])
            day_value = want.as_dict()[key] or 0
            checked.eq("json --date (hours sum to the day)", total, day_value, (store, day, key))


def test_hour_week_and_month_grains_add_up_from_the_days(
    month: tuple[Path, HubConfig], reference: dict[tuple[str, date], MetricsRow], checked: Checked
) -> None:
    """`--grain hour`: each day's hours add up to the day, and an hour's conversion is its own sales over its
    own entries. `--grain week` and `month`: each period's additive figures are the sum of its days, its
    ratios the ratio of those sums."""
    hours = json.loads(cli(month[0], *_stores(), "--from", str(FIRST), "--to", str(LAST), "--grain", "hour",
                           "--format", "json"))["rows"]
    by_day: dict[tuple[str, date], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for h in hours:
        for key in ("traffic_in", "transactions", "net_sales_cents", "visitor_visits_n", "bounces_n"):
            by_day[(h["store"], date.fromisoformat(h["start"][:10]))][key] += h[key] or 0
        checked.eq("json --grain hour (hour conversion)", h["conversion"],
                   h["transactions"] / h["traffic_in"] if h["traffic_in"] else None, h["start"])
    for key, sums in by_day.items():
        want = reference[key]
        for m, v in sums.items():
            checked.eq("json --grain hour (hours sum to days)", v, getattr(want, m) or 0, (key, m))
    for grain in ("week", "month"):
        rows = json.loads(cli(month[0], *_stores(), "--from", str(FIRST), "--to", str(LAST), "--grain", grain,
                              "--format", "json"))["rows"]
        for r in rows:
            start, end = date.fromisoformat(r["start"][:10]), date.fromisoformat(r["end"][:10])
            days = [reference[(r["store"], start + timedelta(days=i))] for i in range((end - start).days)]
            sums: dict[str, Any] = {}
            for m in ADDITIVE:
                known = [getattr(d, m) for d in days if getattr(d, m) is not None]
                sums[m] = sum(known) if known else None
                checked.eq(f"json --grain {grain} (sums of days)", r[m], sums[m], (r["store"], r["start"], m))
            for m in INTERVALS:  # an interval adds up its days' bounds
                bounds = [getattr(d, m) for d in days]
                want_bound = None if None in bounds else pytest.approx(sum(b or 0 for b in bounds))
                checked.eq(f"json --grain {grain} (intervals of days)", r[m], want_bound, (r["start"], m))
            for m, (num, den) in RATIOS.items():
                ratio = _ratio(sums, num, den)
                checked.eq(f"json --grain {grain} (ratios of sums)", r[m], ratio, (r["start"], m))


def _table_rows(text: str) -> dict[tuple[str, str], list[str]]:
    """The funnel tables' rows by (store, period label), cells stripped."""
    out: dict[tuple[str, str], list[str]] = {}
    store = ""
    for line in text.splitlines():
        if m := re.search(r"Store (\S+), \d{4}-\d\d-\d\d to", line):
            store = m.group(1)
        elif m := re.search(r"Store (\S+): value", line):
            store = ""
        elif store and line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            out[(store, cells[0])] = cells
    return out


def test_the_table_shows_the_engine_s_figures(
    month: tuple[Path, HubConfig], reference: dict[tuple[str, date], MetricsRow], checked: Checked
) -> None:
    """The terminal table's traffic, visitors, passers-by, capture, transactions, net sales and conversion of
    each store-day are the engine's, rounded only for display."""
    rows = _table_rows(cli(month[0], *_stores(), "--from", str(FIRST), "--to", str(LAST)))
    for (store, day), want in reference.items():
        cells = rows[(store, f"{day:%Y-%m-%d %a}")]
        shown = dict(zip(("traffic_in", "visitors", "passersby", "capture_rate", "transactions", "net_sales",
                          "conversion"), [cells[i] for i in (1, 2, 3, 4, 7, 8, 9)], strict=True))
        expected = {
            "traffic_in": "-" if want.traffic_in is None else f"{want.traffic_in:,.1f}"
            + _bracket(want.traffic_in_low, want.traffic_in_high),
            "visitors": "-" if want.visitors is None else f"{want.visitors:,}"
            + _bracket(want.visitors_low, want.visitors_high),
            "passersby": "-" if want.passersby is None else f"{want.passersby:,}",
            "capture_rate": "-" if want.capture_rate is None else f"{want.capture_rate * 100:.1f}%",
            "transactions": f"{want.transactions:,}",
            "net_sales": _amount(want.net_sales_cents),
            "conversion": "-" if want.conversion is None else f"{want.conversion * 100:.1f}%",
        }
        for key, text in expected.items():
            checked.eq("table --from/--to", shown[key], text, (store, day, key))


def _bracket(low: float | None, high: float | None) -> str:
    """An 80 % interval as the table shows it after its figure: ' (12-18)'; nothing for a count."""
    return "" if low is None or high is None or low == high else f" ({low:,.0f}-{high:,.0f})"


def _amount(cents: int) -> str:
    return f"{'-' if cents < 0 else ''}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"


class _Cells(HTMLParser):
    """`data-value` of every cell with a `data-metric`, by its row's `data-store` and `data-start`."""

    def __init__(self) -> None:
        super().__init__()
        self.row: tuple[str, str] | None = None
        self.cells: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-start"):
            self.row = (a.get("data-store") or "", a.get("data-start") or "")
        elif tag == "td" and self.row is not None and a.get("data-metric"):
            self.cells[self.row][a["data-metric"] or ""] = a.get("data-value") or ""
            for end in ("low", "high"):
                if f"data-{end}" in a:
                    self.cells[self.row][f"{a['data-metric']}_{end}"] = a.get(f"data-{end}") or ""


def test_the_html_page_shows_the_engine_s_figures(
    month: tuple[Path, HubConfig], reference: dict[tuple[str, date], MetricsRow], checked: Checked
) -> None:
    """The page's day table: every figure cell carries the engine's exact value (data-value) for the
    store-day; the totals row carries the sums of its days and the ratio of those sums."""
    parser = _Cells()
    parser.feed(cli(month[0], *_stores(), "--from", str(FIRST), "--to", str(LAST), "--format", "html"))
    for (store, day), want in reference.items():
        cells = parser.cells[(store, day.isoformat())]
        assert cells, (store, day)
        for key, value in cells.items():
            got = getattr(want, key)
            shown = "" if got is None else repr(got)
            checked.eq("html --from/--to (day rows)", value, shown, (store, day, key))
    for store in STORES:
        totals = parser.cells[(store, "total")]
        days = [r for (s, _), r in reference.items() if s == store]
        sums = {m: sum(getattr(d, m) or 0 for d in days) for m in ADDITIVE}
        for key, value in totals.items():
            if key in INTERVALS:
                bounds = [getattr(d, key) for d in days]
                want_bound = "" if None in bounds else pytest.approx(sum(b or 0 for b in bounds))
                checked.eq("html --from/--to (totals row)", float(value) if value else value, want_bound, key)
                continue
            if key == "capture_rate":
                sums["seen"] = sums["visitors"] + sums["passersby"]
            want_total = _ratio(sums, *CAPTURE[key] if key in CAPTURE else RATIOS[key]) if key in {
                *RATIOS, *CAPTURE} else sums[key]
            checked.eq("html --from/--to (totals row)", float(value), pytest.approx(want_total), (store, key))
        assert totals, store


def test_the_feed_publishes_the_engine_s_store_day(
    month: tuple[Path, HubConfig], reference: dict[tuple[str, date], MetricsRow], checked: Checked
) -> None:
    """The data-team feed's store-day (before suppression) is the engine's day row, figure for figure."""
    with open_database(month[1].database, readonly=True) as db:
        for (store, day), want in reference.items():
            got = store_day(db, month[1], store, day).day
            for key in ("traffic_in", "visitors", "passersby", "capture_rate", "visitor_visits_n",
                        "transactions", "net_sales_cents", "conversion"):
                value = getattr(got, key)
                assert not (isinstance(value, float) and math.isnan(value))
                checked.eq("feed store-day", value, getattr(want, key), (store, day, key))
