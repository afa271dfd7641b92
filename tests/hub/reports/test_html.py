"""The HTML report: one self-contained page that a store manager opens on a phone, charts drawn.

The page is opened in headless Debian chromium (tests/hub/reports/chromium.py drives it over the
DevTools protocol): no console error, no request beyond the file itself, no sideways scrolling on a
phone, and every chart has coloured marks in its box on the screenshot. A page whose data leaves a
chart empty is caught by the same check.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.wire import PeriodCounts, Visit
from agent.wire.records import iso
from hub.cli import main
from hub.config import DatabaseConfig, HubConfig, StoreConfig
from hub.joins import daily_report
from hub.reports import FORMATS, formatter
from hub.reports.html import write_page
from hub.store.sql import open_database
from tests.hub.reports.chromium import Page, browser, chromium_binary, coloured_pixels, open_file, screenshot
from tests.hub.scenario import build, database_yaml, import_file, write

PRAGUE = ZoneInfo("Europe/Prague")
MONDAY = date(2026, 11, 23)
CHARTS_JS = """[...document.querySelectorAll('figure.chart svg')].map(e => {
  const r = e.getBoundingClientRect();
  return {key: e.closest('section').id + '/' + e.closest('figure').dataset.chart,
          x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height};
})"""
MIN_INK = 40  # coloured pixels that make a chart not empty (one thin bar has more)


@pytest.fixture
def config(hub_database: DatabaseConfig) -> HubConfig:
    """brno-1 on each engine: the page's figures and words."""
    return HubConfig(
        database=hub_database,
        stores={"brno-1": StoreConfig(timezone="Europe/Prague", calibration_factor=1.5)},
    )


@pytest.fixture
def page_config(tmp_path: Path) -> HubConfig:
    """brno-1 on SQLite: the tests of the page's layout in chromium (the engine changes no pixel)."""
    return HubConfig(
        database=DatabaseConfig(path=str(tmp_path / "hub.db")),
        stores={"brno-1": StoreConfig(timezone="Europe/Prague", calibration_factor=1.5)},
    )


def _visit(start: float, dwell_s: int, key: int) -> Visit:
    return Visit(iso(start), iso(start + dwell_s), dwell_s, 9, -50, "visitor", False, f"{key:032x}", "w")


def build_week(config: HubConfig, tmp_path: Path, *, with_footfall: bool = True) -> None:
    """Monday to Sunday, 08:00-19:00: hourly and daily counts, visits of every dwell bucket, sales,
    and member visits (loyalty); `with_footfall=False` leaves only sales and member visits."""
    records: list[Any] = []
    pos = ["store,timestamp,transaction_id,net_amount"]
    db = open_database(config.database)
    for d in range(7):
        t0 = datetime.combine(MONDAY + timedelta(days=d), time(0), PRAGUE).timestamp()
        day_v = 0
        for h in range(8, 20):
            v = 4 + (h * 7 + d * 5) % 11 + (6 if d >= 5 else 0)
            day_v += v
            if with_footfall:
                records.append(PeriodCounts("hour", iso(t0 + h * 3600), v + 30, v, 30, 1, v))
            for i, dwell in enumerate((400, 1500, 4000, 30000)[: 1 + (h + d) % 4] if with_footfall else ()):
                records.append(_visit(t0 + h * 3600 + 60 * i, dwell, d * 1000 + h * 10 + i))
            for i in range(v // 4):
                pos.append(f"brno-1,{iso(t0 + h * 3600 + 300 * i + 60)},T{d}-{h}-{i},{12 + i}.50")
        if with_footfall:
            records.append(PeriodCounts("day", iso(t0), day_v + 200, day_v, 200, 12, day_v))
        db.executemany(
            "INSERT INTO member_visits (store, member_key, started_epoch_s, ended_epoch_s, dwell_s, agent)"
            " VALUES ('brno-1', ?, ?, ?, 900, 'gw-1')",
            [(f"m{m}", int(t0) + 36000 + m, int(t0) + 36900 + m) for m in range(12) if d % (1 + m % 6) == 0],
        )
    write(config, [("gw-1", i, records[i * 400:(i + 1) * 400]) for i in range(len(records) // 400 + 1)])
    (tmp_path / "pos.csv").write_text("\n".join(pos) + "\n")
    db.close()
    import_file(config, "pos", tmp_path / "pos.csv")


def page_file(config: HubConfig, tmp_path: Path, start: date, end: date) -> Path:
    out = io.StringIO()
    with open_database(config.database) as db:
        write_page(db, config, ["brno-1"], start, end, out=out)
    path = tmp_path / "report.html"
    path.write_text(out.getvalue())
    return path


def chart_ink(page: Page, shots: Path | None = None) -> dict[str, int]:
    """Coloured pixels inside each chart's box, by `store-id/chart`; PNGs kept in `shots` if given."""
    ink = {}
    for box in page.evaluate(CHARTS_JS):
        png = screenshot(page, {k: box[k] for k in ("x", "y", "width", "height")})
        if shots is not None:
            (shots / f"{box['key'].replace('/', '-')}.png").write_bytes(png)
        ink[box["key"]] = coloured_pixels(png)
    return ink


def test_html_is_registered_and_needs_nothing_from_the_network(config: HubConfig, tmp_path: Path) -> None:
    """`--format html` is in the registry; the page has a phone viewport, no script, no external
    resource, and states its definitions and settings."""
    assert FORMATS["html"] == "hub.reports.html:render"
    build(config, tmp_path)
    with open_database(config.database) as db:
        out = io.StringIO()
        formatter("html")(daily_report(db, config, "brno-1", date(2026, 11, 26)), out)
    html = out.getvalue()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    for banned in ("<script", "http://", "https://", "<link", "<img", "@import", "url("):
        assert banned not in html.replace('xmlns="http://www.w3.org/2000/svg"', ""), banned
    assert "calibration factor (1.5)" in html and "linkability window" in html
    assert "a stay ends after a gap of</td><td>15 min" in html  # settings by what they do, with their value
    for key in ("visit_timeout_s", "min_dwell_s", "visitor_rssi_dbm", "calibration_factor"):
        assert key not in html, key


def test_cli_html_for_one_day_shows_that_days_row_of_the_heat_map(
    config: HubConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`footfall-hub report --format html` for a day: one heat-map row of 24 hours, engagement drawn
    from the metrics API (3 visits of 5-20 min at 10:00 among the day's 6)."""
    build(config, tmp_path)
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"version: 1\ndatabase: {database_yaml(config.database)}\nstores:\n"
                   "  brno-1: {timezone: Europe/Prague, calibration_factor: 1.5}\n")
    assert main(["report", "--store", "brno-1", "--date", "2026-11-26", "--format", "html",
                 "--config", str(cfg)]) == 0
    html = capsys.readouterr().out
    assert html.count("<title>Thu 26 Nov ") == 24
    assert "Mon " not in html.split('id="chart-heatmap"')[1].split("</figure>")[0]
    assert "5 (83%)" in html  # engagement: 5 of the 6 visits lasted 5-20 min


def test_a_week_on_a_phone_draws_every_chart_with_no_console_error(
    page_config: HubConfig, tmp_path: Path
) -> None:
    """A week's page on a 390 px phone in chromium: no console message, no network request, no
    sideways scroll, and traffic, heat map, engagement and loyalty each have coloured marks."""
    build_week(page_config, tmp_path)
    path = page_file(page_config, tmp_path, MONDAY, MONDAY + timedelta(days=6))
    assert path.read_text().count("(mean)") == 0 and path.read_text().count("<title>Sun 29 Nov ") == 24
    with browser(tmp_path) as page:
        open_file(page, path, 390, 844, mobile=True)
        assert page.problems() == []
        assert page.requests() == [path.resolve().as_uri()]
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
        (tmp_path / "phone.png").write_bytes(screenshot(page))
        ink = chart_ink(page, tmp_path)
        open_file(page, path, 1200, 900, mobile=False)
        assert page.problems() == []
        (tmp_path / "desktop.png").write_bytes(screenshot(page))
    assert sorted(ink) == [f"store-brno-1/{c}" for c in ("engagement", "heatmap", "hourly", "loyalty")]
    assert all(n >= MIN_INK for n in ink.values()), ink


def test_the_check_catches_an_empty_chart(page_config: HubConfig, tmp_path: Path) -> None:
    """Without footfall (sales only) there is no traffic and no visit: the traffic, heat-map and engagement
    charts draw no mark and the pixel check says so, while loyalty (member visits) still has its bars."""
    build_week(page_config, tmp_path, with_footfall=False)
    path = page_file(page_config, tmp_path, MONDAY, MONDAY)
    with browser(tmp_path) as page:
        open_file(page, path, 390, 844, mobile=True)
        assert page.problems() == []
        ink = chart_ink(page)
    empty = sorted(k.split("/")[1] for k, n in ink.items() if n < MIN_INK)
    assert empty == ["engagement", "heatmap", "hourly"], ink
    assert ink["store-brno-1/loyalty"] >= MIN_INK


def test_a_missing_chromium_fails_and_says_to_run_the_test_command(tmp_path: Path) -> None:
    """Without chromium the browser tests fail (never skip) with the remedy: ./run test installs it."""
    with pytest.raises(AssertionError, match=r"chromium is not installed: run \./run test"):
        chromium_binary(search=str(tmp_path))


LAYOUT_JS = """(() => {
  const vw = innerWidth, out = {overflow: document.documentElement.scrollWidth - vw, hidden: [], outside: []};
  for (const td of document.querySelectorAll('table.periods td.key, table.periods td.period')) {
    const r = td.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.left < 0 || r.right > vw + 0.5) out.hidden.push(td.textContent);
  }
  for (const svg of document.querySelectorAll('figure.chart svg')) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5
          || r.bottom > box.bottom + 0.5 || r.right > vw) out.outside.push(t.textContent);
    }
  }
  out.axis_titles = [...document.querySelectorAll('#chart-hourly text')].map(t => t.textContent)
    .filter(s => ['people in', 'conversion', 'local hour'].includes(s));
  out.total = [...document.querySelectorAll('tr.total td')].map(td => td.textContent);
  out.rows = document.querySelectorAll('table.periods tbody tr').length;
  out.money = document.querySelector('tr.total td[data-metric=net_sales_cents]').textContent;
  return out;
})()"""


@pytest.mark.parametrize(("width", "mobile"), [(1280, False), (390, True)])
def test_the_week_page_by_day_fits_the_screen_with_totals_and_money(
    page_config: HubConfig, tmp_path: Path, width: int, mobile: bool
) -> None:
    """A week by day at 1280 px and on a 390 px phone, measured in chromium: no sideways scroll; every
    period's traffic, transactions, net sales and conversion on screen (a card per day on the phone);
    every chart label inside its chart, the hourly chart's axes titled; a totals row; money in the
    store's currency with thousands separators."""
    config = replace(page_config, stores={"brno-1": replace(page_config.stores["brno-1"], currency="EUR",
                                                             locale="cs")})
    build_week(config, tmp_path)
    out = io.StringIO()
    with open_database(config.database) as db:
        write_page(db, config, ["brno-1"], MONDAY, MONDAY + timedelta(days=6), grain="day", out=out)
    path = tmp_path / "week.html"
    path.write_text(out.getvalue())
    with browser(tmp_path) as page:
        open_file(page, path, width, 900, mobile=mobile)
        assert page.problems() == []
        got = page.evaluate(LAYOUT_JS)
        (tmp_path / f"week-{width}.png").write_bytes(screenshot(page))
    assert got["overflow"] <= 0, got
    assert got["hidden"] == [] and got["outside"] == [], got
    assert sorted(got["axis_titles"]) == ["conversion", "local hour", "people in"]
    assert got["rows"] == 8 and got["total"][0].startswith("Total, 2026-11-23 to 2026-11-29"), got
    assert got["money"].endswith("\u00a0€") and "\u00a0" in got["money"][:-2], got["money"]  # 1 234,50 €


def test_the_grain_decides_the_table(config: HubConfig, tmp_path: Path) -> None:
    """`--grain week` gives a page whose table has the week and its total, `--grain hour` every hour: the
    grain is honoured, never the same page whatever it says."""
    build_week(config, tmp_path)
    cfg = tmp_path / "hub.yaml"
    cfg.write_text(f"version: 1\ndatabase: {database_yaml(config.database)}\nstores:\n"
                   "  brno-1: {timezone: Europe/Prague}\n")
    pages = {}
    for grain in ("week", "day", "hour"):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["report", "--store", "brno-1", "--from", str(MONDAY), "--to",
                         str(MONDAY + timedelta(days=6)), "--grain", grain, "--format", "html",
                         "--config", str(cfg)]) == 0
        pages[grain] = out.getvalue()
    assert pages["week"].count('<tr data-store="brno-1"') == 1 and "Week 48" in pages["week"]
    assert pages["day"].count('<tr data-store="brno-1"') == 7
    assert pages["hour"].count('<tr data-store="brno-1"') == 7 * 24
    assert all(p.count('class="total"') == 1 for p in pages.values())
