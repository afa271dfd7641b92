"""JSON: the whole report as one object; null where no agent reported, money in integer cents."""

from __future__ import annotations

import json
from typing import Any, TextIO

from hub.joins.daily import DailyReport
from hub.joins.metrics import MetricsReport


def render(report: DailyReport | MetricsReport, out: TextIO) -> None:
    if isinstance(report, MetricsReport):
        json.dump(metrics_document(report), out, indent=2)
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
        "hours": [h.as_dict() for h in report.hours],
        "day": report.day.as_dict(),
    }
    json.dump(doc, out, indent=2)
    out.write("\n")


def metrics_document(report: MetricsReport) -> dict[str, Any]:
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
        "rows": [r.as_dict() for r in report.rows],
    }
