"""CSV: one row per local hour, then the day; definitions and settings as leading `# ` lines
(pandas: `read_csv(..., comment="#")`). Ratios unrounded, money as a decimal amount."""

from __future__ import annotations

import csv
from typing import TextIO

from hub.joins.daily import DailyReport
from hub.joins.metrics import MetricsReport
from hub.reports.columns import COLUMNS, metric_columns, metric_record, money, record

CSV_COLUMNS = tuple("net_sales" if c == "net_sales_cents" else c for c in COLUMNS)


def render(report: DailyReport | MetricsReport, out: TextIO) -> None:
    if isinstance(report, MetricsReport):
        render_metrics(report, out)
        return
    out.write(f"# footfall daily report: store {report.store}, {report.date.isoformat()}\n")
    for key, value in report.settings_used().items():
        out.write(f"# setting {key}: {value}\n")
    for term, meaning in report.definitions().items():
        out.write(f"# {term}: {meaning}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for period, row in [*(("hour", h) for h in report.hours), ("day", report.day)]:
        rec = record(period, row)
        rec["net_sales"] = money(rec.pop("net_sales_cents"))
        writer.writerow(["" if rec[c] is None else rec[c] for c in CSV_COLUMNS])


def render_metrics(report: MetricsReport, out: TextIO) -> None:
    """One row per store and period; money in integer cents (`*_cents`), as in json."""
    out.write(f"# footfall report: stores {', '.join(report.stores)}, {report.start.isoformat()} to"
              f" {report.end.isoformat()}, by {report.grain}\n")
    for store, settings in report.settings_used().items():
        for key, value in settings.items():
            out.write(f"# setting {store} {key}: {value}\n")
    for term, meaning in report.definitions().items():
        out.write(f"# {term}: {meaning}\n")
    columns = metric_columns()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in report.rows:
        rec = metric_record(row)
        writer.writerow(["" if rec[c] is None else rec[c] for c in columns])
