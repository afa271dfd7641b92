"""CSV: one row per local hour, then the day; definitions and settings as leading `# ` lines
(pandas: `read_csv(..., comment="#")`). Ratios unrounded, money as a decimal amount.

Suppressed (`report --suppress`, the default for csv): a `# suppressed with k = ...` line, withheld
cells empty, and a last column `withheld` naming each withheld column of the row with its reason
(`visitors:below_k capture_rate:derived`); not suppressed, a `# not suppressed` line. Members by
lifecycle segment, when there are members: `# members by segment ...` lines, one per store."""

from __future__ import annotations

import csv
from typing import TextIO

from hub.joins.daily import DailyReport
from hub.joins.metrics import MetricsReport
from hub.reports.columns import COLUMNS, metric_columns, metric_record, money, record
from hub.reports.segment_counts import SegmentCounts
from hub.reports.suppression import Suppression

CSV_COLUMNS = tuple("net_sales" if c == "net_sales_cents" else c for c in COLUMNS)


def _say(suppression: Suppression | None, segments: SegmentCounts | None, out: TextIO) -> None:
    out.write(f"# {suppression.note()}\n" if suppression else
              "# not suppressed: exact counts, small ones included (for use inside the store)\n")
    if segments is not None:
        out.write(f"# members by segment: {segments.definition()}\n")
        out.writelines(f"# members by segment {line}\n" for line in segments.lines())


def _withheld(suppression: Suppression | None, i: int) -> list[str]:
    """The `withheld` cell of row i (comparisons by their csv column: visitors_last_week)."""
    if suppression is None:
        return []
    names = [(f"{f.split('.')[1]}_{f.split('.')[0]}" if "." in f else f, r)
             for f, r in suppression.rows[i].items()]
    return [" ".join(f"{f}:{r}" for f, r in sorted(names))]


def render(report: DailyReport | MetricsReport, out: TextIO, suppression: Suppression | None = None,
           segments: SegmentCounts | None = None) -> None:
    if isinstance(report, MetricsReport):
        render_metrics(report, out, suppression, segments)
        return
    out.write(f"# footfall daily report: store {report.store}, {report.date.isoformat()}\n")
    _say(suppression, segments, out)
    for key, value in report.settings_used().items():
        out.write(f"# setting {key}: {value}\n")
    for term, meaning in report.definitions().items():
        out.write(f"# {term}: {meaning}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_COLUMNS, *(["withheld"] if suppression else [])])
    for i, (period, row) in enumerate([*(("hour", h) for h in report.hours), ("day", report.day)]):
        rec = record(period, row)
        rec["net_sales"] = money(rec.pop("net_sales_cents"))
        writer.writerow(["" if rec[c] is None else rec[c] for c in CSV_COLUMNS] + _withheld(suppression, i))


def render_metrics(report: MetricsReport, out: TextIO, suppression: Suppression | None = None,
                   segments: SegmentCounts | None = None) -> None:
    """One row per store and period; money in integer cents (`*_cents`), as in json."""
    out.write(f"# footfall report: stores {', '.join(report.stores)}, {report.start.isoformat()} to"
              f" {report.end.isoformat()}, by {report.grain}\n")
    _say(suppression, segments, out)
    for store, settings in report.settings_used().items():
        for key, value in settings.items():
            out.write(f"# setting {store} {key}: {value}\n")
    for term, meaning in report.definitions().items():
        out.write(f"# {term}: {meaning}\n")
    columns = metric_columns()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*columns, *(["withheld"] if suppression else [])])
    for i, row in enumerate(report.rows):
        rec = metric_record(row)
        writer.writerow(["" if rec[c] is None else rec[c] for c in columns] + _withheld(suppression, i))
