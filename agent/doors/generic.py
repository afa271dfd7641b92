"""Any counter that can send JSON: `POST /generic` with `{"sensor", "time", "in", "out"}`.

`in` and `out` are the counter's running totals (what most counters display), read at `time` (RFC 3339
with a zone, or epoch seconds). Totals rather than per-minute counts so that a lost or repeated push
loses or doubles nothing: the next push carries the difference. A total lower than the one before is a
reset (a reboot, a midnight reset) and counts from zero. The first push a sensor ever sends is the
baseline and counts nobody; the baseline survives agent restarts.

Example: `{"sensor": "door-main", "time": "2026-11-26T10:15:00Z", "in": 1204, "out": 1187}`
"""

from __future__ import annotations

from typing import Any, ClassVar

from agent.doors import BaseSource, PushError, count_field, time_field
from agent.doors.ledger import Observation, Totals


class GenericSource(BaseSource):
    """A counter pushing its running totals as generic JSON."""

    route: ClassVar[str | None] = "generic"

    @staticmethod
    def parse(body: Any, path_sensor: str | None) -> tuple[str, list[Observation]]:
        if not isinstance(body, dict):
            raise PushError("bad_field", 'a generic push is a JSON object {"sensor", "time", "in", "out"}')
        if "sensor" not in body:
            raise PushError("missing_field", "missing field 'sensor'")
        sensor = body["sensor"]
        if not isinstance(sensor, str):
            raise PushError("bad_field", "field 'sensor' is not a string")
        return sensor, [Totals(time_field(body, "time"), count_field(body, "in"), count_field(body, "out"))]
