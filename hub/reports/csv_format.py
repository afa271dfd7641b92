"""CSV: one row per local hour, then the day; definitions and settings as leading `# ` lines
(pandas: `read_csv(..., comment="#")`). Ratios unrounded, money as a decimal amount."""

from __future__ import annotations

import csv
from typing import TextIO

from hub.joins.daily import DailyReport
from hub.reports.columns import COLUMNS, money, record

CSV_COLUMNS = tuple("net_sales" if c == "net_sales_cents" else c for c in COLUMNS)


def render(report: DailyReport, out: TextIO) -> None:
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
