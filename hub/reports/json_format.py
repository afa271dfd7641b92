"""JSON: the whole report as one object; null where no agent reported, money in integer cents.

`suppression`: whether small counts are withheld, with which k and a note; each row (hour, day) has a
`withheld` list as the feed's payloads do (`[{"field": "visitors", "reason": "below_k"}]`; comparisons
as `last_week.visitors`): a null listed there is withheld, a null not listed is not known.
`member_segments`: members by lifecycle segment per store (null: no member seen), k-suppressed."""

from __future__ import annotations

import json
from typing import Any, TextIO

from hub.joins.daily import DailyReport
from hub.joins.metrics import MetricsReport
from hub.reports.segment_counts import SegmentCounts
from hub.reports.suppression import Suppression


def _suppression(suppression: Suppression | None) -> dict[str, Any]:
    if suppression is None:
        return {"applied": False, "k": None, "note": "not suppressed: exact counts, small ones included"
                " (for use inside the store)"}
    return {"applied": True, "k": suppression.k, "note": suppression.note()}


def _rows(rows: list[dict[str, Any]], suppression: Suppression | None, first: int = 0
          ) -> list[dict[str, Any]]:
    return [{**r, "withheld": suppression.withheld(first + i) if suppression else []}
            for i, r in enumerate(rows)]


def render(report: DailyReport | MetricsReport, out: TextIO, suppression: Suppression | None = None,
           segments: SegmentCounts | None = None) -> None:
    if isinstance(report, MetricsReport):
        json.dump(metrics_document(report, suppression, segments), out, indent=2)
        out.write("\n")
        return
    doc = {
        "report": "daily",
        "store": report.store,
        "date": report.date.isoformat(),
        "timezone": report.timezone,
        "agents": list(report.agents),
        "settings": report.settings_used(),
        "definitions": report.definitions(),
        "suppression": _suppression(suppression),
        "hours": _rows([h.as_dict() for h in report.hours], suppression),
        "day": _rows([report.day.as_dict()], suppression, len(report.hours))[0],
        "member_segments": segments.document() if segments else None,
    }
    json.dump(doc, out, indent=2)
    out.write("\n")


def metrics_document(report: MetricsReport, suppression: Suppression | None = None,
                     segments: SegmentCounts | None = None) -> dict[str, Any]:
    """The whole MetricsReport as one JSON object (also what programs should parse)."""
    return {
        "report": "metrics",
        "stores": list(report.stores),
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "grain": report.grain,
        "linkability_window": report.linkability(),
        "settings": report.settings_used(),
        "definitions": report.definitions(),
        "suppression": _suppression(suppression),
        "rows": _rows([r.as_dict() for r in report.rows], suppression),
        "member_segments": segments.document() if segments else None,
    }
