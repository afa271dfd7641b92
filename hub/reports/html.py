"""HTML: one self-contained page (inline CSS, inline SVG charts, no script, no network) for a phone.

Per store: the period's headline cards, traffic in and conversion by local hour, the heat map of
traffic by day (or weekday) and hour, engagement and members' loyalty, then the table of the report's
grain (hours, days, weeks or months) with a totals row; then the definitions, in plain words with the
settings' values, and each store's settings. Money is written as the store writes it (its currency and
locale). Every figure is the metrics engine's (hub.joins.metrics); the totals are hub.joins.totals'.

    write_page(db, config, ["brno-1"], date(2026, 11, 23), date(2026, 11, 29), grain="week", out=out)
    render(report, out)  # the formats registry's entry: a MetricsReport or a DailyReport

The page says under its title whether it is suppressed (`report --format html --suppress`: small
counts withheld by hub.reports.suppression, with which k) or shows exact counts (the default).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from html import escape
from typing import Any, TextIO

from hub.config import HubConfig
from hub.joins.daily import DailyReport
from hub.joins.metrics import Grain, MetricsReport, MetricsRow, StoreSettings, store_metrics_by
from hub.joins.totals import total
from hub.locales import locale
from hub.reports import html_charts as charts
from hub.reports import html_table
from hub.reports.columns import settings_words
from hub.reports.segment_counts import SegmentCounts
from hub.reports.suppression import Suppression, suppress_metrics, suppressed_total
from hub.store.sql import Db

ENGAGEMENT = ("5-20 min", "20-60 min", "1-6 h", "6 h+")
ENGAGED = ("engaged_5_20_min_n", "engaged_20_60_min_n", "engaged_1_6_h_n", "engaged_6_h_plus_n")
LOYALTY = ("first-time", "occasional", "weekly", "daily")
LOYAL = ("loyalty_first_time_n", "loyalty_occasional_n", "loyalty_weekly_n", "loyalty_daily_n")
WEEKDAYS = html_table.WEEKDAYS

CSS = """
*{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#111827;background:#fff}main{max-width:960px;margin:0 auto;padding:12px}
h1{font-size:1.35rem;margin:.4rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .4rem;
border-bottom:1px solid #e5e7eb}h3{font-size:1rem;margin:1rem 0 .3rem}.muted{color:#6b7280}
.cards{display:grid;gap:8px;
grid-template-columns:repeat(auto-fit,minmax(140px,1fr))}.card{border:1px solid #e5e7eb;border-radius:8px;
padding:8px}.card b{display:block;font-size:1.25rem}figure{margin:.4rem 0 1rem}svg{width:100%;height:auto;
display:block}figcaption{font-size:.85rem;color:#6b7280}.legend span{display:inline-block;width:.8em;
height:.8em;margin:0 .3em 0 .8em;vertical-align:middle}table{border-collapse:collapse;
font-size:.85rem;width:100%}th,td{padding:3px 6px;border-bottom:1px solid #f3f4f6;text-align:right;
white-space:nowrap}th:first-child,td:first-child{text-align:left}dl{margin:0}dt{font-weight:600;margin-top:.5rem}
dd{margin:0 0 0 1rem}@media (min-width:720px){.two{display:grid;grid-template-columns:1fr 1fr;gap:16px}}
table.settings td{white-space:normal}
""" + html_table.CSS


@dataclass(frozen=True)
class StorePage:
    store: str
    used: StoreSettings
    hours: tuple[MetricsRow, ...]  # for the charts by hour (empty: not in the report)
    rows: tuple[MetricsRow, ...]  # the table, at the report's grain
    totals: dict[str, Any]
    engagement: tuple[int, ...] | None
    loyalty: tuple[int, ...] | None


@dataclass(frozen=True)
class Page:
    title: str
    total_label: str
    stores: tuple[StorePage, ...]
    definitions: dict[str, str]
    suppression: Suppression | None = None
    segments: SegmentCounts | None = None


def _sums(rows: Sequence[MetricsRow], fields: tuple[str, ...]) -> tuple[int, ...] | None:
    if not rows or any(getattr(r, f) is None for r in rows for f in fields):
        return None
    return tuple(sum(getattr(r, f) for r in rows) for f in fields)


def page_from_metrics(table: MetricsReport, hours: MetricsReport | None = None,
                      days: MetricsReport | None = None, suppression: Suppression | None = None) -> Page:
    """The page of a report: `table` at its grain; `hours` (or `table` at the hour grain) draws the charts
    by hour; `days` (or `table`) give the totals, engagement and loyalty. `suppression`: what `days`
    (or `table`) withholds, when the reports are suppressed."""
    hours = hours if hours is not None else table if table.grain == "hour" else None
    days = days if days is not None else table
    stores = []
    for s in table.stores:
        used = next(x for x in table.store_settings if x.store == s)
        day_rows = days.rows_of(s)
        totals = total(day_rows) if suppression is None else suppressed_total(
            day_rows, [suppression.rows[i] for i, r in enumerate(days.rows) if r.store == s], suppression.k)
        stores.append(StorePage(s, used, hours.rows_of(s) if hours is not None else (), table.rows_of(s),
                                totals, _sums(day_rows, ENGAGED), _sums(day_rows, LOYAL)))
    span = table.start.isoformat() if table.start == table.end else f"{table.start} to {table.end}"
    return Page(f"Footfall: {', '.join(table.stores)}, {span}, by {table.grain}",
                "Total" if table.start == table.end and table.grain != "hour" else f"Total, {span}",
                tuple(stores), table.definitions(), suppression)


def page_from_daily(report: DailyReport, suppression: Suppression | None = None) -> Page:
    """The page of one store-day: its hours, and the engine's day row as the totals row."""
    day = report.day
    totals = {m: getattr(day, m) for m in html_table.FIELDS}  # the day's figures with their intervals
    store = StorePage(report.store, report.store_settings, report.hours, report.hours, totals,
                      _sums([day], ENGAGED), _sums([day], LOYAL))
    return Page(f"Footfall: {report.store}, {report.date.isoformat()}, by hour", "Day", (store,),
                report.definitions(), suppression)


def _segments_html(segments: SegmentCounts | None, store: str) -> str:
    """The store's members by lifecycle segment: a card per segment, `-` where withheld."""
    if segments is None or store not in segments.counts:
        return ""
    cards = "".join(f'<div class="card" data-segment="{g}">{escape(g.replace("_", " "))}'
                    f'<b>{"-" if n is None else n}</b></div>' for g, n in segments.counts[store].items())
    return (f'<section class="segments"><h3>Members by lifecycle segment on {segments.as_of}</h3>'
            f'<div class="cards">{cards}</div><p class="muted">{escape(segments.definition())}</p></section>')


def _suppression_html(suppression: Suppression | None) -> str:
    """The plain statement under the title: suppressed with which k, or exact counts."""
    if suppression is None:
        return ('<p class="suppression" id="suppression" data-suppressed="no" data-k="">Not suppressed: exact'
                " counts, small ones included, for use inside the store (report --suppress withholds"
                " them).</p>")
    return (f'<p class="suppression" id="suppression" data-suppressed="yes" data-k="{suppression.k}">'
            f"Suppressed with k = {suppression.k}: {escape(suppression.note().split(': ', 1)[1])}; a"
            " withheld figure shows as -.</p>")


def _by_hour_of_day(hours: Sequence[MetricsRow]) -> tuple[list[str], list[float | None], list[float | None]]:
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


def _heat_rows(hours: Sequence[MetricsRow]) -> list[tuple[str, list[float | None]]]:
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


def _figure(key: str, title: str, svg: str, caption: str) -> str:
    return (f'<figure class="chart" id="chart-{key}" data-chart="{key}"><h3>{escape(title)}</h3>{svg}'
            f"<figcaption>{caption}</figcaption></figure>")


def _store_html(sp: StorePage, total_label: str, segments: SegmentCounts | None = None) -> str:
    loc, t = locale(sp.used.locale), sp.totals
    cards = [(head, html_table.shown(t[m], how, loc, sp.used.currency)) for m, head, how in html_table.COLUMNS
             if m in html_table.KEY]
    legend = (f'<span style="background:{charts.BAR}"></span>traffic in (left axis)'
              f'<span style="background:{charts.LINE}"></span>conversion (right axis)')
    charts_by_hour = [
        _figure("hourly", "Traffic and conversion by hour", charts.hourly(*_by_hour_of_day(sp.hours)),
                f'<span class="legend">{legend}</span> (summed over the days shown)'),
        _figure("heatmap", "Traffic by weekday and hour", charts.heat_map(_heat_rows(sp.hours)),
                "people who came in, per local hour"),
    ] if sp.hours else ['<p class="muted">Charts by hour: ask for a range of days (they show hours).</p>']
    settings = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>"
                       for k, v in settings_words(sp.used))
    return "".join([
        f'<section class="store" id="store-{escape(sp.store)}"><h2>Store {escape(sp.store)}</h2>',
        f'<p class="muted">local time, {escape(sp.used.timezone)}</p><div class="cards">',
        "".join(f'<div class="card">{escape(k)}<b>{escape(v)}</b></div>' for k, v in cards), "</div>",
        *charts_by_hour,
        '<div class="two">',
        _figure("engagement", "Engagement", charts.hbars(
            "engagement: visitor stays by length", ENGAGEMENT, sp.engagement, charts.ENGAGEMENT,
            "no visitor stays in this period"), "visitor stays by length, begun in the period"),
        _figure("loyalty", "Loyalty (members)", charts.hbars(
            "loyalty of members", LOYALTY, sp.loyalty, charts.LOYALTY, "no member visits in this period"),
            "member visit-days by loyalty class (a member on two days counts twice)"),
        "</div>",
        html_table.table(sp.store, sp.rows, sp.totals, sp.used, total_label),
        _segments_html(segments, sp.store),
        f'<h3>Settings of {escape(sp.store)}</h3><table class="settings"><tbody>{settings}</tbody></table>',
        "</section>",
    ])


def page_html(page: Page) -> str:
    """The whole document."""
    defs = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in page.definitions.items())
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page.title)}</title><style>{CSS}</style></head><body><main>"
        f"<h1>{escape(page.title)}</h1>{_suppression_html(page.suppression)}"
        f"{''.join(_store_html(s, page.total_label, page.segments) for s in page.stores)}"
        f"<h2>What the numbers mean</h2><dl>{defs}</dl></main></body></html>\n"
    )


def render(report: MetricsReport | DailyReport, out: TextIO, suppression: Suppression | None = None,
           segments: SegmentCounts | None = None) -> None:
    """The formats registry's entry: a DailyReport, or a MetricsReport (hour grain: with the charts)."""
    page = (page_from_daily(report, suppression) if isinstance(report, DailyReport)
            else page_from_metrics(report, suppression=suppression))
    out.write(page_html(replace(page, segments=segments)))


def write_page(db: Db, config: HubConfig, stores: list[str], start: date, end: date,
               *, grain: Grain = "day", out: TextIO, k: int | None = None,
               segments: SegmentCounts | None = None) -> None:
    """The full page of stores from `start` to `end` (local dates, included), its table by `grain`;
    NoMetricsError when empty. `k`: suppressed with it (each of the page's reports)."""
    got = store_metrics_by(db, config, stores, start, end, ("hour", "day", grain))
    if k is None:
        page = page_from_metrics(got[grain], got["hour"], got["day"])
    else:
        done = {g: suppress_metrics(r, k) for g, r in got.items()}
        page = page_from_metrics(done[grain][0], done["hour"][0], done["day"][0], done["day"][1])
    out.write(page_html(replace(page, segments=segments)))
