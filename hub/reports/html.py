"""HTML: one self-contained page (inline CSS, inline SVG charts, no script, no network) for a phone.

Per store: traffic in and conversion by local hour, the heat map of traffic by day (or weekday) and
hour, engagement buckets, loyalty of members (when there are member visits), the day totals; then
the definitions and the settings behind every number.

    write_page(conn, config, ["brno-1"], date(2026, 11, 23), date(2026, 11, 29), out=out)  # a week
    render(report, out)  # the formats registry's entry: a MetricsReport or a DailyReport

`write_page` asks `hub.joins.metrics.store_metrics` for hour and day rows, which is what the charts
need whatever grain a table would show; `render` draws what the report it is given holds (a
DailyReport has no engagement or loyalty, and says so).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any, TextIO

from hub.config import HubConfig
from hub.joins.daily import DailyReport
from hub.joins.metrics import MetricsReport, MetricsRow, store_metrics
from hub.reports import html_charts as charts
from hub.reports.columns import money

ENGAGEMENT = ("5-20 min", "20-60 min", "1-6 h", "6 h+")
LOYALTY = ("first-time", "occasional", "weekly", "daily")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

CSS = """
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#111827;background:#fff}main{max-width:960px;margin:0 auto;padding:12px}
h1{font-size:1.35rem;margin:.4rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .4rem;
border-bottom:1px solid #e5e7eb}h3{font-size:1rem;margin:1rem 0 .3rem}.muted{color:#6b7280}
.cards{display:grid;gap:8px;
grid-template-columns:repeat(auto-fit,minmax(130px,1fr))}.card{border:1px solid #e5e7eb;border-radius:8px;
padding:8px}.card b{display:block;font-size:1.25rem}figure{margin:.4rem 0 1rem}svg{width:100%;height:auto;
display:block}figcaption{font-size:.85rem;color:#6b7280}.legend span{display:inline-block;width:.8em;
height:.8em;margin:0 .3em 0 .8em;vertical-align:middle}.scroll{overflow-x:auto}table{border-collapse:collapse;
font-size:.85rem;width:100%}th,td{padding:3px 6px;border-bottom:1px solid #f3f4f6;text-align:right;
white-space:nowrap}th:first-child,td:first-child{text-align:left}dl{margin:0}dt{font-weight:600;margin-top:.5rem}
dd{margin:0 0 0 1rem}@media (min-width:720px){.two{display:grid;grid-template-columns:1fr 1fr;gap:16px}}
"""


@dataclass(frozen=True)
class Hour:
    start: datetime  # local
    traffic_in: float | None
    transactions: int


@dataclass(frozen=True)
class Day:
    day: date
    traffic_in: float | None
    visitors: int | None
    passersby: int | None
    capture_rate: float | None
    transactions: int
    net_sales_cents: int
    conversion: float | None
    loyalty: tuple[int, int, int, int] | None


@dataclass(frozen=True)
class StorePage:
    store: str
    timezone: str
    hours: tuple[Hour, ...]
    days: tuple[Day, ...]
    engagement: tuple[int, int, int, int] | None  # None: not in the report


@dataclass(frozen=True)
class Page:
    title: str
    stores: tuple[StorePage, ...]
    definitions: dict[str, str]
    settings: dict[str, dict[str, Any]]


def _loyalty(r: MetricsRow) -> tuple[int, int, int, int] | None:
    vals = (r.loyalty_first_time_n, r.loyalty_occasional_n, r.loyalty_weekly_n, r.loyalty_daily_n)
    return None if any(v is None for v in vals) else (vals[0] or 0, vals[1] or 0, vals[2] or 0, vals[3] or 0)


def _day(r: Any, loyalty: tuple[int, int, int, int] | None) -> Day:
    return Day(r.start.date(), r.traffic_in, r.visitors, r.passersby, r.capture_rate, r.transactions,
               r.net_sales_cents, r.conversion, loyalty)


def _days_from_hours(rows: Sequence[MetricsRow]) -> tuple[Day, ...]:
    """Day totals from hour rows (devices are not additive over hours: visitors stay unknown)."""
    by_day: dict[date, list[MetricsRow]] = defaultdict(list)
    for r in rows:
        by_day[r.start.date()].append(r)
    out = []
    for d, rs in sorted(by_day.items()):
        known = [r.traffic_in for r in rs if r.traffic_in is not None]
        traffic = sum(known) if known else None
        tx = sum(r.transactions for r in rs)
        out.append(Day(d, traffic, None, None, None, tx, sum(r.net_sales_cents for r in rs),
                       tx / traffic if traffic else None, None))
    return tuple(out)


def page_from_metrics(report: MetricsReport, days: MetricsReport | None = None) -> Page:
    """The page of a report: hour grain draws the hour charts; day rows (`days`, or a day-or-longer
    grain report) give the totals and loyalty."""
    hourly = report.grain == "hour"
    if not hourly:
        days = report
    stores = []
    for s in report.stores:
        rows = report.rows_of(s) if hourly else ()
        eng = tuple(sum(getattr(r, f) for r in report.rows_of(s)) for f in
                    ("engaged_5_20_min_n", "engaged_20_60_min_n", "engaged_1_6_h_n", "engaged_6_h_plus_n"))
        day_rows = (tuple(_day(r, _loyalty(r)) for r in days.rows_of(s)) if days is not None
                    else _days_from_hours(rows))
        tz = next(x.timezone for x in report.store_settings if x.store == s)
        stores.append(StorePage(
            s, tz, tuple(Hour(r.start, r.traffic_in, r.transactions) for r in rows), day_rows,
            (eng[0], eng[1], eng[2], eng[3]),
        ))
    span = report.start.isoformat() if report.start == report.end else f"{report.start} to {report.end}"
    return Page(f"Footfall: {', '.join(report.stores)}, {span}", tuple(stores), report.definitions(),
                report.settings_used())


def page_from_daily(report: DailyReport) -> Page:
    """The page of one store-day from the daily model (no engagement or loyalty in it)."""
    hours = tuple(Hour(h.start, h.traffic_in, h.transactions) for h in report.hours)
    store = StorePage(report.store, report.timezone, hours, (_day(report.day, None),), None)
    return Page(f"Footfall: {report.store}, {report.date.isoformat()}", (store,), report.definitions(),
                {report.store: report.settings_used()})


def _by_hour_of_day(hours: Sequence[Hour]) -> tuple[list[str], list[float | None], list[float | None]]:
    traffic: dict[int, float] = defaultdict(float)
    known: set[int] = set()
    tx: dict[int, int] = defaultdict(int)
    for h in hours:
        if h.traffic_in is not None:
            traffic[h.start.hour] += h.traffic_in
            known.add(h.start.hour)
        tx[h.start.hour] += h.transactions
    t = [traffic[i] if i in known else None for i in range(24)]
    conv = [tx[i] / traffic[i] if i in known and traffic[i] else None for i in range(24)]
    return [f"{i:02d}" for i in range(24)], t, conv


def _heat_rows(hours: Sequence[Hour]) -> list[tuple[str, list[float | None]]]:
    """A row per day for up to a week; beyond, a row per weekday with the mean of its days."""
    cells: dict[date, list[float | None]] = defaultdict(lambda: [None] * 24)
    for h in hours:
        row = cells[h.start.date()]
        if h.traffic_in is not None:
            row[h.start.hour] = (row[h.start.hour] or 0.0) + h.traffic_in
    if len(cells) <= 7:
        return [(f"{WEEKDAYS[d.weekday()]} {d:%d %b}", v) for d, v in sorted(cells.items())]
    out = []
    for wd, name in enumerate(WEEKDAYS):
        days = [v for d, v in cells.items() if d.weekday() == wd]
        mean = [None if all(v[i] is None for v in days) else
                sum(v[i] or 0.0 for v in days) / len(days) for i in range(24)]
        out.append((f"{name} (mean)", mean))
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.1%}"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _figure(key: str, title: str, svg: str, caption: str) -> str:
    return (f'<figure class="chart" id="chart-{key}" data-chart="{key}"><h3>{escape(title)}</h3>{svg}'
            f"<figcaption>{caption}</figcaption></figure>")


def _store_html(sp: StorePage) -> str:
    labels, traffic, conv = _by_hour_of_day(sp.hours)
    loyalty = [d.loyalty for d in sp.days if d.loyalty is not None]
    loy = tuple(sum(x[i] for x in loyalty) for i in range(4)) if loyalty else None
    tot_t = [d.traffic_in for d in sp.days if d.traffic_in is not None]
    tx = sum(d.transactions for d in sp.days)
    cards = [("traffic in", _num(sum(tot_t)) if tot_t else "-"), ("transactions", f"{tx:,}"),
             ("conversion", _pct(tx / sum(tot_t) if tot_t and sum(tot_t) else None)),
             ("net sales", money(sum(d.net_sales_cents for d in sp.days)))]
    rows = "".join(
        f"<tr><td>{WEEKDAYS[d.day.weekday()]} {d.day.isoformat()}</td><td>{_num(d.traffic_in)}</td>"
        f"<td>{_num(d.visitors)}</td><td>{_num(d.passersby)}</td><td>{_pct(d.capture_rate)}</td>"
        f"<td>{d.transactions:,}</td><td>{money(d.net_sales_cents)}</td><td>{_pct(d.conversion)}</td></tr>"
        for d in sp.days)
    legend = (f'<span style="background:{charts.BAR}"></span>traffic in'
              f'<span style="background:{charts.LINE}"></span>conversion')
    return "".join([
        f'<section class="store" id="store-{escape(sp.store)}"><h2>Store {escape(sp.store)}</h2>',
        f'<p class="muted">local time, {escape(sp.timezone)}</p><div class="cards">',
        "".join(f'<div class="card">{k}<b>{v}</b></div>' for k, v in cards if sp.days), "</div>",
        _figure("hourly", "Traffic and conversion by hour", charts.hourly(labels, traffic, conv),
                f'<span class="legend">{legend}</span> (summed over the days shown)'),
        _figure("heatmap", "Traffic by weekday and hour", charts.heat_map(_heat_rows(sp.hours)),
                "people in per local hour"),
        '<div class="two">',
        _figure("engagement", "Engagement", charts.hbars(
            "engagement: visitor visits by dwell", ENGAGEMENT, sp.engagement, charts.ENGAGEMENT,
            "no visitor visits in this period" if sp.engagement is not None else "not in this report"),
            "visitor visits by dwell, started in the period"),
        _figure("loyalty", "Loyalty (members)", charts.hbars(
            "loyalty of members", LOYALTY, loy, charts.LOYALTY, "no member visits in this period"),
            "member visit-days by loyalty class (a member on two days counts twice)"),
        "</div>",
        '<div class="scroll"><table><thead><tr><th>Day</th><th>Traffic in</th><th>Visitors</th>'
        "<th>Passers-by</th><th>Capture</th><th>Transactions</th><th>Net sales</th><th>Conversion</th>"
        f"</tr></thead><tbody>{rows}</tbody></table></div></section>",
    ])


def page_html(page: Page) -> str:
    """The whole document."""
    defs = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in page.definitions.items())
    settings = "".join(
        f"<h3>{escape(store)}</h3><table><tbody>"
        + "".join(f"<tr><td>{escape(k)}</td><td>{escape(str(v))}</td></tr>" for k, v in items.items())
        + "</tbody></table>"
        for store, items in page.settings.items())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page.title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{escape(page.title)}</h1>{''.join(_store_html(s) for s in page.stores)}"
        f"<h2>Definitions</h2><dl>{defs}</dl><h2>Settings</h2>{settings}</main></body></html>\n"
    )


def render(report: MetricsReport | DailyReport, out: TextIO) -> None:
    """The formats registry's entry: an hour-grain MetricsReport draws every chart."""
    page = page_from_daily(report) if isinstance(report, DailyReport) else page_from_metrics(report)
    out.write(page_html(page))


def write_page(conn: sqlite3.Connection, config: HubConfig, stores: list[str], start: date, end: date,
               *, out: TextIO) -> None:
    """The full page of stores from `start` to `end` (local dates, included); NoMetricsError when empty."""
    hours = store_metrics(conn, config, stores, start, end, "hour")
    days = store_metrics(conn, config, stores, start, end, "day")
    out.write(page_html(page_from_metrics(hours, days)))
