"""Report formats: one file per format, one registry dict of import strings (CONVENTIONS rule 1).

A formatter writes a `DailyReport` (report --date) or a `MetricsReport` (periods, stores) to a text
stream, definitions and settings included: a number without its definition is not a report. A report
that leaves the store is suppressed first (`suppression.suppress_report`); the formatter is then given
what was withheld, and says so (None: exact counts, and csv, json and html say that too). `segments`:
members by lifecycle segment per store (`segment_counts`), a small section of every format.
"""

from __future__ import annotations

import importlib
from typing import Protocol, TextIO

from hub.joins.daily import DailyReport
from hub.joins.metrics import MetricsReport
from hub.reports.segment_counts import SegmentCounts
from hub.reports.suppression import Suppression


class Formatter(Protocol):
    """Write one report to `out`."""

    def __call__(self, report: DailyReport | MetricsReport, out: TextIO,
                 suppression: Suppression | None = None, segments: SegmentCounts | None = None) -> None: ...


FORMATS: dict[str, str] = {
    "table": "hub.reports.table:render",  # for people at a terminal (rich)
    "csv": "hub.reports.csv_format:render",  # for spreadsheets; definitions as leading '#' lines
    "json": "hub.reports.json_format:render",  # for programs; numbers unrounded, money in cents
    "html": "hub.reports.html:render",  # for a phone: one self-contained page, inline SVG charts
}


def formatter(name: str) -> Formatter:
    """The formatter registered as `name` (KeyError when there is none)."""
    module, _, attr = FORMATS[name].partition(":")
    found: Formatter = getattr(importlib.import_module(module), attr)
    return found
