"""JSON: the whole report as one object; null where no agent reported, money in integer cents."""

from __future__ import annotations

import json
from typing import TextIO

from hub.joins.daily import DailyReport


def render(report: DailyReport, out: TextIO) -> None:
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
