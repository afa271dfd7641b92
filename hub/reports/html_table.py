"""The HTML report's period table (rows of the report's grain and a totals row) and its settings in words.

Every figure cell carries the engine's exact value (`data-metric`, `data-value`), so a test can check
the page against the engine figure by figure; the cell's text is that value as the store writes it
(hub.locales: thousands separators, the currency where the store's locale puts it). On a phone the
table turns into one card per period (CSS only: `data-label` heads each value), so the key figures
are on screen without scrolling sideways.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from hub.joins.metrics import MetricsRow, StoreSettings
from hub.locales import Locale, locale, money, number
from hub.reports.columns import with_interval

# metric, heading, how it is shown: n (a count), pct, money
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("traffic_in", "Traffic in", "n"),
    ("visitors", "Visitors", "n"),
    ("capture_rate", "Capture", "pct"),
    ("transactions", "Transactions", "n"),
    ("net_sales_cents", "Net sales", "money"),
    ("conversion", "Conversion", "pct"),
    ("avg_transaction_value_cents", "Avg sale", "money"),
)
INTERVALS = ("traffic_in", "visitors")  # shown with their 80 % interval: 15 (12-18)
FIELDS = (*(m for m, _, _ in COLUMNS), *(f"{m}_{end}" for m in INTERVALS for end in ("low", "high")))
KEY = ("traffic_in", "transactions", "net_sales_cents", "conversion")  # shown first on a phone
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

CSS = """
table.periods td.key{font-weight:600}table.periods tr.total td{border-top:2px solid #9ca3af;font-weight:700}
@media (max-width:600px){table.periods thead{display:none}table.periods,table.periods tbody{display:block}
table.periods tr{display:grid;grid-template-columns:1fr 1fr;gap:2px 12px;border:1px solid #e5e7eb;
border-radius:8px;padding:6px 8px;margin:0 0 8px}table.periods td{display:flex;gap:6px;border:0;
justify-content:space-between;padding:1px 0;white-space:normal;text-align:right}
table.periods td::before{content:attr(data-label);color:#6b7280;text-align:left}
table.periods td.period{grid-column:1/-1;font-weight:700;order:-2}
table.periods td.period::before{content:none}table.periods td.key{order:-1}
table.periods tr.total{border:2px solid #9ca3af}table.periods tr.total td{border-top:0}}
"""


def label(r: MetricsRow) -> str:
    """The period as a manager reads it: `10:00`, `Mon 24 Nov`, `Week 48 (24-30 Nov)`, `November 2026`."""
    if r.grain == "hour":
        return r.start.strftime("%a %d %b %H:%M")
    if r.grain == "day":
        return f"{WEEKDAYS[r.start.weekday()]} {r.start:%d %b %Y}"
    if r.grain == "week":
        days = f"{r.days_n} days, " if r.days_n < 7 else ""
        return f"Week {r.start:%V} ({days}from {r.start:%d %b})"
    return f"{r.start:%B %Y}" + (f" ({r.days_n} days)" if r.days_n < 28 else "")


def shown(value: Any, how: str, loc: Locale, currency: str) -> str:
    if value is None:
        return "-"
    if how == "pct":
        return number(value * 100, loc, 1) + "%"
    if how == "money":
        return money(round(value), loc, currency)
    return number(value, loc, 0)


def _cells(values: dict[str, Any], used: StoreSettings) -> str:
    """A cell per metric; visitors and traffic in with their 80 % interval (`data-low`, `data-high`)."""
    loc = locale(used.locale)
    out = []
    for m, head, how in COLUMNS:
        text, bounds = shown(values[m], how, loc, used.currency), ""
        if m in INTERVALS:
            low, high = values.get(f"{m}_low"), values.get(f"{m}_high")
            text = with_interval(text, low, high, lambda x: shown(x, how, loc, used.currency))  # noqa: B023
            bounds = "".join(f' data-{end}="{"" if x is None else escape(repr(x))}"'
                             for end, x in (("low", low), ("high", high)))
        css = "key" if m in KEY else "more"
        out.append(f'<td class="{css}" data-label="{escape(head)}" data-metric="{m}"'
                   f' data-value="{"" if values[m] is None else escape(repr(values[m]))}"{bounds}>'
                   f"{escape(text)}</td>")
    return "".join(out)


def table(store: str, rows: Sequence[MetricsRow], totals: dict[str, Any], used: StoreSettings,
          title: str) -> str:
    """The periods of one store, then its totals row."""
    head = "".join(f"<th>{escape(h)}</th>" for _, h, _ in COLUMNS)
    body = "".join(_row(store, _start(r), label(r), {m: getattr(r, m) for m in FIELDS}, used) for r in rows)
    total = _row(store, "total", title, totals, used, css=' class="total"')
    return (f'<table class="periods"><thead><tr><th>Period</th>{head}</tr></thead>'
            f"<tbody>{body}{total}</tbody></table>")


def _row(store: str, start: str, name: str, values: dict[str, Any], used: StoreSettings,  # noqa: PLR0917
         css: str = "") -> str:
    return (f'<tr{css} data-store="{escape(store)}" data-start="{escape(start)}">'
            f'<td class="period">{escape(name)}</td>{_cells(values, used)}</tr>')


def _start(r: MetricsRow) -> str:
    return r.start.isoformat() if r.grain == "hour" else r.start.date().isoformat()
