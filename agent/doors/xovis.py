"""Xovis people counters (PC2, PC3): the sensor's data push of line counts, `POST /xovis/SENSOR`.

Two shapes are accepted; both carry closed intervals, so a retried push is counted once:

- firmware 5 JSON, a LOGICS push agent (set its resolution to ONE_MINUTE):
  `{"logics_data": {"package_info": {...}, "sensor_info": {...}, "logics": [{"id": 1, "name": "Entrance",
  "records": [{"from": "...Z", "to": "...Z", "counts": [{"name": "fw", "value": 3}, {"name": "bw",
  "value": 1}]}]}]}}` (or a list of such envelopes). Logics without fw/bw counts (zones) are skipped.
- the older count push (XML v2 data as JSON): `{"content": {"element": [{"element-name": "Line 0",
  "measurement": [{"from": ..., "to": ..., "value": [{"label": "fw", "value": 3}, {"label": "bw",
  "value": 1}]}]}]}}`; an element or value that is a single object, and counts as digit strings, too.

`fw` (forward over the line) counts as in, `bw` as out; `swap: true` turns a sensor mounted the other way
round. An envelope with no logics, or a `connection_test`, is a sign of life and keeps the sensor fresh.
Xovis sends the shared token through the push connection's custom header fields
(`Authorization: Bearer TOKEN`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from agent.doors import BaseSource, PushError, count_field, time_field
from agent.doors.ledger import Interval, Observation


class XovisSource(BaseSource):
    """A Xovis sensor pushing to the listener; `lines` limits which line logics count."""

    route: ClassVar[str | None] = "xovis"

    @staticmethod
    def parse(body: Any, path_sensor: str | None) -> tuple[str, list[Observation]]:
        if path_sensor is None:
            raise PushError("unknown_path", "a Xovis push goes to /xovis/SENSOR")
        envelopes = body if isinstance(body, list) else [body]
        out: list[Observation] = []
        for env in envelopes:
            if not isinstance(env, dict):
                raise PushError("bad_field", "a Xovis push is a JSON object or a list of objects")
            if "logics_data" in env:
                out.extend(_logics(env["logics_data"]))
            elif "content" in env:
                out.extend(_legacy(env["content"]))
            elif "live_data" in env:
                raise PushError("unsupported", "live_data is not counted: add a LOGICS push agent "
                                               "(JSON, resolution ONE_MINUTE)")
            elif "connection_test" not in env:
                raise PushError("unsupported", "not a Xovis count push: expected logics_data (firmware 5 "
                                               "JSON) or content.element (legacy fw/bw)")
        return path_sensor, out

    def apply(self, observations: list[Observation], now: float) -> None:
        if self.config.lines:
            wanted = set(self.config.lines)
            observations = [o for o in observations if not isinstance(o, Interval) or o.line in wanted]
        super().apply(observations, now)


def _list(value: Any, label: str) -> list[Any]:
    """A JSON array, or one object where an XML-to-JSON conversion dropped the array of one."""
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        raise PushError("bad_field", f"field '{label}' is not a list")
    return value


def _obj(value: Any, label: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PushError("bad_field", f"field '{label}' is not an object")
    return value


def _logics(data: Any) -> list[Observation]:
    data = _obj(data, "logics_data")
    return _walk(data.get("logics", []), "logics_data.logics", ("name", "id"), ("records", "counts", "name"))


def _legacy(content: Any) -> list[Observation]:
    content = _obj(content, "content")
    if "element" not in content:
        raise PushError("missing_field", "missing field 'content.element'")
    return _walk(content["element"], "content.element", ("element-name", "element-id"),
                 ("measurement", "value", "label"))


def _walk(lines: Any, label: str, name_keys: tuple[str, str],
          keys: tuple[str, str, str]) -> list[Observation]:
    """Intervals of every line of either shape: lines -> records -> counts named fw and bw."""
    records_key, counts_key, count_name_key = keys
    out: list[Observation] = []
    for i, line_item in enumerate(_list(lines, label)):
        where = f"{label}[{i}]"
        line = _obj(line_item, where)
        name = str(line.get(name_keys[0], line.get(name_keys[1], i)))
        for j, rec_item in enumerate(_list(line.get(records_key, []), f"{where}.{records_key}")):
            rwhere = f"{where}.{records_key}[{j}]"
            rec = _obj(rec_item, rwhere)
            counts: dict[str, int] = {}
            for k, count_item in enumerate(_list(rec.get(counts_key, []), f"{rwhere}.{counts_key}")):
                count = _obj(count_item, f"{rwhere}.{counts_key}[{k}]")
                counts[str(count.get(count_name_key))] = count_field(count, "value",
                                                                     f"{rwhere}.{counts_key}[{k}].")
            if "fw" not in counts and "bw" not in counts:
                continue  # a zone or balance logic: no line crossing
            start, end = time_field(rec, "from", rwhere + "."), time_field(rec, "to", rwhere + ".")
            out.append(Interval(name, start, end, counts.get("fw", 0), counts.get("bw", 0)))
    return out
