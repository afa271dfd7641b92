"""Record types carried in a data envelope. Field names carry their unit (`_s`, `_dbm`, `_n`, `_at`).

Every field has a description: the README's field table and the JSON Schema are built from them, and a
test checks that the README matches. Times are ISO 8601 UTC strings with a `Z`, to the second.
"""

from __future__ import annotations

import re
import time
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, ClassVar

from agent.wire import ranges


def doc(text: str, **kw: Any) -> Any:
    """A dataclass field with its description (used for the schema and the README table)."""
    return field(metadata={"doc": text}, **kw)


def iso(ts: float) -> str:
    """Format epoch seconds as ISO 8601 UTC with a Z, to the second (the wire's time format)."""
    return datetime.fromtimestamp(int(ts), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_ISO_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
_TIME_ERROR = "time is not ISO 8601 UTC like 2026-11-26T12:00:00Z"
# Epoch seconds of each minute (`YYYY-MM-DDThh:mm`) already parsed: records of a batch share minutes,
# so most times cost two dict lookups instead of a datetime parse. Bounded; a dict is safe across threads.
_MINUTES: dict[str, int] = {}
_MINUTES_MAX = 200_000
_SECONDS = {f":{s:02d}Z": s for s in range(60)}


def parse_iso(text: str) -> float:
    """Parse the wire's time format back to epoch seconds; ValueError when it is not one."""
    if not isinstance(text, str) or not _ISO_RE.fullmatch(text):
        raise ValueError(_TIME_ERROR)
    return datetime.fromisoformat(text).timestamp()


def epoch_s(text: object) -> int:
    """parse_iso as an int, fast for a minute seen before; ValueError when `text` is not a wire time."""
    if type(text) is str and len(text) == 20:
        base, second = _MINUTES.get(text[:16]), _SECONDS.get(text[16:])
        if base is not None and second is not None:
            return base + second
    if not isinstance(text, str) or not _ISO_RE.fullmatch(text):
        raise ValueError(_TIME_ERROR)
    at = datetime.fromisoformat(text)
    epoch = int(at.timestamp())
    if len(_MINUTES) >= _MINUTES_MAX:  # months of minutes: start again rather than stop caching
        _MINUTES.clear()
    _MINUTES[text[:16]] = epoch - at.second
    return epoch


@dataclass(frozen=True, slots=True)
class Visit:
    """A closed visit that reached bounce or visitor level. Passers-by never leave as visits."""

    type: ClassVar[str] = "visit"
    started_at: str = doc("first sighting of the visit (UTC)")
    ended_at: str = doc("last sighting of the visit (UTC)")
    dwell_s: int = doc("ended_at - started_at, seconds")
    sightings_n: int = doc("probe requests heard during the visit")
    rssi_max_dbm: int = doc("strongest signal heard, dBm")
    kind: str = doc("visitor or bounce (docs/metrics.md)")
    randomized: bool = doc("the device used locally administered (random) MACs")
    device_key: str | None = doc(
        "visit key (32 hex) of a visitor, valid within one key window; null for a bounce"
    )
    key_window: str = doc("id of the key window the device key belongs to (its linkability scope)")
    # before member_key: the hub keeps every field but the last (member_key) in its visits table
    person_key: str | None = doc(
        "key (32 hex) of the person this visitor visit is a fragment of (fragments of one phone that "
        "changed its MAC, linked by fingerprint and gap: agent/pipeline/link.py), valid within the key "
        "window; visitors (people) are distinct person keys; null for a bounce or an unlinked visit",
        default=None,
    )
    person_dwell_s: int = doc(
        "that person's stay so far: from the first sighting of its first fragment to this visit's end, "
        "seconds (a person's stay is the largest over its visits); 0 when not linked",
        default=0,
    )
    member_key: str | None = doc(
        "gateway key (32 hex) of a consenting member's registered device, when the hub listed it in the "
        "agent's config; null for everyone else (the hub stores the member's visit, never this key)",
        default=None,
    )


@dataclass(frozen=True, slots=True)
class MinuteCounts:
    """What the gateway heard in one minute."""

    type: ClassVar[str] = "minute"
    minute_at: str = doc("start of the minute (UTC)")
    probe_requests_n: int = doc("probe requests parsed in the minute")
    seen_n: int = doc("distinct devices heard in the minute (after grouping, static devices excluded)")
    clock_synced: bool = doc("the gateway's clock was synchronised when these were heard")


@dataclass(frozen=True, slots=True)
class PeriodCounts:
    """Distinct devices of an hour or a day, classified once the period's visits are known."""

    type: ClassVar[str] = "period"
    period: str = doc("hour or day (day in the store's time zone)")
    start_at: str = doc("start of the period (UTC)")
    seen_n: int = doc("distinct devices heard (static excluded)")
    visitors_n: int = doc("devices that made a visitor visit overlapping the period")
    passersby_n: int = doc("devices heard that made no visitor visit in the period")
    bounces_n: int = doc("bounce visits overlapping the period")
    visits_n: int = doc("visitor visits overlapping the period")


@dataclass(frozen=True, slots=True)
class DoorCounts:
    """Entries and exits counted by a door sensor in one minute."""

    type: ClassVar[str] = "door"
    sensor: str = doc("sensor id from the agent's config")
    minute_at: str = doc("start of the minute (UTC)")
    traffic_in_n: int = doc("people entering")
    traffic_out_n: int = doc("people leaving")


@dataclass(frozen=True, slots=True)
class DeviceFlag:
    """A device flagged static (fixture, staff phone): excluded from counts, listed for review."""

    type: ClassVar[str] = "device_flag"
    device_key: str = doc("visit key (32 hex) of the device in key_window")
    key_window: str = doc("id of the key window the key belongs to")
    flag: str = doc("static")
    hours_present_h: float = doc("hours the device was heard on the flagging day")
    days_present_n: int = doc("days of the last D the device was present for more than N hours")


@dataclass(frozen=True, slots=True)
class Erase:
    """An opted-out device's visits of one key window, to delete: only the gateway can name its key."""

    type: ClassVar[str] = "erase"
    device_key: str = doc("visit key (32 hex) of the opted-out device in key_window")
    key_window: str = doc("id of the key window the key belongs to")
    erased_at: str = doc("when the gateway matched the device to the opt-out list (UTC)")


@dataclass(frozen=True, slots=True)
class Presence:
    """Who is in the store now, sent within seconds (a visit record leaves only when the visit closes).

    Counts of devices heard at visitor RSSI, before the visitor test: the hub's live view, never a report.
    """

    type: ClassVar[str] = "presence"
    taken_at: str = doc("when the counts were taken (UTC)")
    present_n: int = doc("devices heard at visitor RSSI within the last recent_s seconds")
    entered_n: int = doc("devices first heard at visitor RSSI (a new visit) since the previous record")
    new_n: int = doc("devices first heard at any RSSI (a new visit) since the previous presence record")
    recent_s: int = doc("the window of present_n, seconds")


@dataclass(frozen=True, slots=True)
class Arrival:
    """A consenting member's listed device opened a visit at visitor RSSI: sent at once, once per visit."""

    type: ClassVar[str] = "arrival"
    seen_at: str = doc("first sighting of the visit at visitor RSSI (UTC)")
    member_key: str = doc(
        "gateway key (32 hex) of the member's registered device, from the agent's config list "
        "(the hub translates it to the member, never stores it)"
    )


Record = Visit | MinuteCounts | PeriodCounts | DoorCounts | DeviceFlag | Erase | Presence | Arrival

RECORD_TYPES: dict[str, type[Any]] = {
    cls.type: cls
    for cls in (Visit, MinuteCounts, PeriodCounts, DoorCounts, DeviceFlag, Erase, Presence, Arrival)
}

_PY_TO_JSON: dict[str, Any] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "str | None": {"type": ["string", "null"]},
}


def record_to_dict(rec: Any) -> dict[str, Any]:
    """A record as the JSON object on the wire, with its `type`."""
    out: dict[str, Any] = {"type": rec.type}
    for f in fields(rec):
        out[f.name] = getattr(rec, f.name)
    return out


def _is_int(v: Any) -> bool:
    return type(v) is int


def _is_float(v: Any) -> bool:
    return type(v) is float or type(v) is int


def _is_bool(v: Any) -> bool:
    return type(v) is bool


def _is_str(v: Any) -> bool:
    return type(v) is str


def _is_opt_str(v: Any) -> bool:
    return v is None or type(v) is str


_CHECKS = {"str": _is_str, "int": _is_int, "float": _is_float, "bool": _is_bool, "str | None": _is_opt_str}


_TIME, _NUMBER, _WORD, _SHAPE = 1, 2, 3, 4  # what bounds a field, besides its type


def _bound(name: str) -> tuple[int, Any]:
    """(kind, bound) of field `name` (agent/wire/ranges.py), in the form check_record tests inline (a call
    per field would make the hub's decode half as fast again): a time, (lo, hi), a set of words,
    (characters, shortest, longest); (0, None) when the type says all."""
    if name.endswith("_at"):
        return _TIME, None
    if name in ranges.NUMBERS:
        return _NUMBER, ranges.NUMBERS[name]
    if name in ranges.CHOICES:
        return _WORD, frozenset(ranges.CHOICES[name])
    if name in ranges.PATTERNS:
        return _SHAPE, ranges.SHAPES[ranges.PATTERNS[name]]
    return 0, None


# per record type: (field name, type check, type name, kind of bound, bound) in declaration order
_FIELD_CHECKS: dict[str, tuple[tuple[str, Any, str, int, Any], ...]] = {
    t: tuple((f.name, _CHECKS[str(f.type)], str(f.type), *_bound(f.name)) for f in fields(c))
    for t, c in RECORD_TYPES.items()
}
# fields added later, with a default: a record from an older agent may leave them out
_OPTIONAL: dict[str, dict[str, Any]] = {
    t: {f.name: f.default for f in fields(c) if f.default is not MISSING}
    for t, c in RECORD_TYPES.items()
}


# A record checked against its type: (type, field values in declaration order, epoch seconds of its
# `_at` fields in declaration order). What the hub stores, without building a dataclass per record.
Checked = tuple[str, tuple[Any, ...], tuple[int, ...]]


def check_record(obj: Any, now: float | None = None) -> Checked:
    """Check a record's wire object field by field, types then ranges (agent/wire/ranges.py); ValueError
    naming the field, never its value (a RangeError, with its counter reason, for a range or shape).
    Times must fall between 2020 and a day after `now` (default: this machine's clock)."""
    if type(obj) is not dict:
        raise ValueError("record is not an object")
    rtype = obj.get("type")
    if type(rtype) is not str or (checks := _FIELD_CHECKS.get(rtype)) is None:
        raise ValueError("unknown record type")
    if len(obj) != len(checks) + 1:
        extra = sorted(set(obj) - {c[0] for c in checks} - {"type"})
        if extra:
            raise ValueError(f"{rtype}: unknown field {extra[0]!r}")
    values: list[Any] = []
    times: list[int] = []
    earliest, latest = ranges.EARLIEST_S, (time.time() if now is None else now) + ranges.AHEAD_S
    for name, check, typ, kind, bound in checks:
        try:
            value = obj[name]
        except KeyError:
            if name not in _OPTIONAL[rtype]:
                raise ValueError(f"{rtype}: missing field {name!r}") from None
            value = _OPTIONAL[rtype][name]
        if not check(value):
            raise ValueError(f"{rtype}.{name}: is not {typ}")
        if kind == 1:  # _TIME (literals: a global lookup per field costs the hub's decode)
            try:
                at = epoch_s(value)
            except ValueError:
                raise ValueError(f"{rtype}.{name}: {_TIME_ERROR}") from None
            if not earliest <= at <= latest:
                ranges.check_time(f"{rtype}.{name}", at, now)
            times.append(at)
        elif kind == 2:  # _NUMBER
            if not bound[0] <= value <= bound[1]:
                ranges.check_number(f"{rtype}.{name}", name, value)
        elif kind == 3:  # _WORD
            if value not in bound:
                ranges.check_text(f"{rtype}.{name}", name, value)
        elif kind and value is not None and (value.strip(bound[0]) or not bound[1] <= len(value) <= bound[2]):
            ranges.check_text(f"{rtype}.{name}", name, value)  # _SHAPE: the characters and the length
        values.append(value)
    return rtype, tuple(values), tuple(times)


def wire_problem(rec: Any) -> str | None:
    """Why the hub would refuse this record (its dead-letter reason), or None: what an agent checks
    before a record goes into a batch, so that one bad value never takes a whole batch with it."""
    try:
        check_record(record_to_dict(rec))
    except ranges.RangeError as exc:
        return exc.reason
    except ValueError:
        return "bad_record"
    return None


def record_from_dict(obj: Any) -> Any:
    """Build a record from its wire object; ValueError naming the field (never its value)."""
    rtype, values, _ = check_record(obj)
    return RECORD_TYPES[rtype](*values)


def record_schema(cls: type[Any]) -> dict[str, Any]:
    """JSON Schema of one record type, built from the dataclass."""
    props: dict[str, Any] = {"type": {"const": cls.type}}
    for f in fields(cls):
        props[f.name] = {**_PY_TO_JSON[str(f.type)], **ranges.schema_bounds(f.name),
                         "description": f.metadata["doc"]}
        if f.name.endswith("_at"):
            props[f.name]["format"] = "date-time"
            props[f.name]["description"] += "; from 2020-01-01 to a day after the receiver's clock"
    return {
        "type": "object",
        "title": cls.type,
        "description": (cls.__doc__ or "").strip(),
        "properties": props,
        "required": ["type", *(f.name for f in fields(cls) if f.default is MISSING)],
        "additionalProperties": False,
    }


def field_table() -> str:
    """The README's table of record fields, built from the code (a test keeps the README in step)."""
    lines = ["| record `type` | field | JSON type | meaning |", "|---|---|---|---|"]
    for rtype, cls in RECORD_TYPES.items():
        for f in fields(cls):
            json_type = _PY_TO_JSON[str(f.type)]["type"]
            lines.append(f"| `{rtype}` | `{f.name}` | {json_type} | {f.metadata['doc']} |")
    return "\n".join(lines).replace("['string', 'null']", "string or null")
