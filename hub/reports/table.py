"""A rich table for the terminal: local hours, the day's totals, then the definitions and settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TextIO

from rich.console import Console
from rich.table import Table

from hub.joins.daily import DailyReport, PeriodRow
from hub.joins.metrics import MetricsReport, MetricsRow
from hub.joins.totals import total
from hub.locales import locale
from hub.locales import money as amount
from hub.reports.columns import money, settings_words, with_interval
from hub.reports.segment_counts import SegmentCounts
from hub.reports.suppression import Suppression, suppressed_total

DASH = "-"


def _pct(x: float | None) -> str:
    return DASH if x is None else f"{x * 100:.1f}%"


def _n(x: float | None, fmt: str = "{:,.0f}") -> str:
    return DASH if x is None else fmt.format(x)


def _cells(label: str, r: PeriodRow, cash: Callable[[int], str] = money) -> list[str]:
    dwell = DASH if r.median_dwell_s is None else f"{r.median_dwell_s / 60:.1f} min"
    return [
        label,
        with_interval(_n(r.visitors), r.visitors_low, r.visitors_high, _n),
        _n(r.passersby),
        _pct(r.capture_rate),
        dwell,
        _n(r.transactions),
        cash(r.net_sales_cents),
        with_interval(_n(r.traffic_in, "{:,.1f}"), r.traffic_in_low, r.traffic_in_high, _n),
        _pct(r.conversion),
    ]


def render(report: DailyReport | MetricsReport, out: TextIO, suppression: Suppression | None = None,
           segments: SegmentCounts | None = None) -> None:
    """Exact counts unless `suppression` (report --suppress): then a line says so first. Members by
    segment (k-suppressed always) come first, a line per store."""
    rows = report.rows if isinstance(report, MetricsReport) else (report.day,)
    wide = any(r.visitors_low is not None for r in rows)
    # figures with their 80 % interval, 1,234.5 (1,049-1,481), need more room than the figures alone
    console = Console(file=out, width=max(150 if wide else 120, Console(file=out).width), highlight=False)
    if suppression is not None:
        console.print(f"Suppressed: {suppression.note()}")
    if segments is not None:
        console.print(f"Members by lifecycle segment on {segments.as_of} (k = {segments.k}, - withheld):")
        for line in segments.lines():
            console.print(f"  {line}")
    if isinstance(report, MetricsReport):
        render_metrics(report, console, suppression)
        return
    table = Table(title=f"Store {report.store}, {report.date.isoformat()} ({report.timezone})")
    for name in (
        "Hour",
        "Visitors",
        "Passers-by",
        "Capture",
        "Median dwell",
        "Transactions",
        "Net sales",
        "Traffic in",
        "Conversion",
    ):
        table.add_column(name, justify="left" if name == "Hour" else "right", min_width=len(name),
                         no_wrap=name in ("Visitors", "Traffic in"))  # a figure and its interval on one line
    dst_day = len(report.hours) != 24
    used = report.store_settings
    loc = locale(used.locale)

    def cash(cents: int) -> str:
        return amount(cents, loc, used.currency)

    for h in report.hours:
        label = h.start.strftime("%H:%M %z" if dst_day else "%H:%M")
        table.add_row(*_cells(label, h, cash))
    table.add_section()
    table.add_row(*_cells("Day", report.day, cash), style="bold")
    console.print(table)
    for title, items in (("Definitions", report.definitions()),
                         ("Settings", dict(settings_words(report.store_settings)))):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        for key, value in items.items():
            grid.add_row(key, str(value))
        console.print(title, style="bold underline")
        console.print(grid)


def _label(r: MetricsRow) -> str:
    if r.grain == "hour":
        return r.start.strftime("%Y-%m-%d %H:%M")
    if r.grain == "day":
        return r.start.strftime("%Y-%m-%d %a")
    if r.grain == "week":
        return r.start.strftime("%G-W%V") + (f" ({r.days_n} d)" if r.days_n < 7 else "")
    return r.start.strftime("%Y-%m") + f" ({r.days_n} d)"


def _change(now: float | None, then: float | None) -> str:
    return DASH if now is None or not then else f"{(now - then) / then * 100:+.0f}%"


FUNNEL = ("Period", "Traffic in", "Visitors", "Passers-by", "Capture", "Median dwell", "Bounce",
          "Transactions", "Net sales", "Conversion")
VALUE = ("Period", "Avg transaction", "Sales/visitor", "Shoppers/staff h", "Traffic vs last wk",
         "vs 4-wk avg", "Sales vs last wk", "vs 4-wk avg ")
MORE = ("Period", "5-20 min", "20-60 min", "1-6 h", "6 h+", "New", "Returning", "Member visits",
        "Member conv.", "First-time", "Occasional", "Weekly", "Daily")


def render_metrics(report: MetricsReport, console: Console, suppression: Suppression | None = None) -> None:
    """Per store: the funnel, value and comparisons, engagement and members; members who did not buy."""
    for store in report.stores:
        rows = report.rows_of(store)
        used = next(s for s in report.store_settings if s.store == store)
        tz, loc = used.timezone, locale(used.locale)

        def cash(cents: float | None) -> str:
            return DASH if cents is None else amount(round(cents), loc, used.currency)  # noqa: B023 -- per store

        span = f"{report.start.isoformat()} to {report.end.isoformat()}"
        main = Table(title=f"Store {store}, {span} by {report.grain} ({tz})")
        value = Table(title=f"Store {store}: value and comparisons")
        more = Table(title=f"Store {store}: engagement, returning visitors, members")
        for table, names in ((main, FUNNEL), (value, VALUE), (more, MORE)):
            for name in names:
                first = name == "Period"
                whole = first or name in ("Traffic in", "Visitors")  # a figure and its interval on one line
                table.add_column(name, justify="left" if first else "right", no_wrap=whole)
        for r in rows:
            dwell = DASH if r.median_dwell_s is None else f"{r.median_dwell_s / 60:.1f} min"
            main.add_row(_label(r),
                         with_interval(_n(r.traffic_in, "{:,.1f}"), r.traffic_in_low, r.traffic_in_high, _n),
                         with_interval(_n(r.visitors), r.visitors_low, r.visitors_high, _n), _n(r.passersby),
                         _pct(r.capture_rate), dwell, _pct(r.bounce_rate), _n(r.transactions),
                         cash(r.net_sales_cents), _pct(r.conversion))
            value.add_row(_label(r), cash(r.avg_transaction_value_cents), cash(r.sales_per_visitor_cents),
                          _n(r.shoppers_per_staff_hour, "{:,.1f}"),
                          _change(r.traffic_in, r.last_week.get("traffic_in")),
                          _change(r.traffic_in, r.avg_4_weeks.get("traffic_in")),
                          _change(r.net_sales_cents, r.last_week.get("net_sales_cents")),
                          _change(r.net_sales_cents, r.avg_4_weeks.get("net_sales_cents")))
            more.add_row(_label(r), _n(r.engaged_5_20_min_n), _n(r.engaged_20_60_min_n),
                         _n(r.engaged_1_6_h_n), _n(r.engaged_6_h_plus_n), _n(r.new_visitors_n),
                         _n(r.returning_visitors_n), _n(r.member_visits_n), _pct(r.member_conversion),
                         _n(r.loyalty_first_time_n), _n(r.loyalty_occasional_n), _n(r.loyalty_weekly_n),
                         _n(r.loyalty_daily_n))
        # sums and ratios of the sums (hub.joins.totals), as on the HTML page
        t = total(rows) if suppression is None else suppressed_total(
            rows, [suppression.rows[i] for i, r in enumerate(report.rows) if r.store == store], suppression.k)
        main.add_section()
        main.add_row("Total", with_interval(_n(t["traffic_in"], "{:,.1f}"), t["traffic_in_low"],
                                            t["traffic_in_high"], _n),
                     with_interval(_n(t["visitors"]), t["visitors_low"], t["visitors_high"], _n),
                     _n(t["passersby"]),
                     _pct(t["capture_rate"]), DASH, DASH, _n(t["transactions"]), cash(t["net_sales_cents"]),
                     _pct(t["conversion"]), style="bold")
        console.print(main)
        console.print(value)
        console.print(more)
        not_bought = sorted({m for r in rows for m in r.members_not_bought})
        if not_bought:
            console.print(f"Members who visited and did not buy ({len(not_bought)}): {' '.join(not_bought)}")
    console.print(f"Linkability window: {report.linkability()}")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    for term, meaning in report.definitions().items():
        grid.add_row(term, meaning)
    console.print("Definitions", style="bold underline")
    console.print(grid)
    console.print("Settings", style="bold underline")
    per_store = Table.grid(padding=(0, 2))
    per_store.add_column(style="bold", no_wrap=True)
    for store in report.stores:
        per_store.add_column(store)
    words = [settings_words(s) for s in report.store_settings]
    per_store.add_row("store", *report.stores)
    for i, (name, _) in enumerate(words[0]):
        per_store.add_row(name, *(w[i][1] for w in words))
    console.print(per_store)
