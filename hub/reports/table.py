"""A rich table for the terminal: local hours, the day's totals, then the definitions and settings."""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table

from hub.joins.daily import DailyReport, PeriodRow
from hub.reports.columns import money

DASH = "-"


def _pct(x: float | None) -> str:
    return DASH if x is None else f"{x * 100:.1f}%"


def _n(x: float | None, fmt: str = "{:,.0f}") -> str:
    return DASH if x is None else fmt.format(x)


def _cells(label: str, r: PeriodRow) -> list[str]:
    dwell = DASH if r.median_dwell_s is None else f"{r.median_dwell_s / 60:.1f} min"
    return [
        label,
        _n(r.visitors),
        _n(r.passersby),
        _pct(r.capture_rate),
        dwell,
        _n(r.transactions),
        money(r.net_sales_cents),
        _n(r.traffic_in, "{:,.1f}"),
        _pct(r.conversion),
    ]


def render(report: DailyReport, out: TextIO) -> None:
    console = Console(file=out, width=max(120, Console(file=out).width), highlight=False)
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
        table.add_column(name, justify="left" if name == "Hour" else "right", min_width=len(name))
    dst_day = len(report.hours) != 24
    for h in report.hours:
        label = h.start.strftime("%H:%M %z" if dst_day else "%H:%M")
        table.add_row(*_cells(label, h))
    table.add_section()
    table.add_row(*_cells("Day", report.day), style="bold")
    console.print(table)
    for title, items in (("Definitions", report.definitions()), ("Settings", report.settings_used())):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold", no_wrap=True)
        grid.add_column()
        for key, value in items.items():
            grid.add_row(key, str(value))
        console.print(title, style="bold underline")
        console.print(grid)
