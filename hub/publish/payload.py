"""The data team's metrics payload: one definition (FIELDS) builds the JSON Schema, the README table
and the encoder, so the three cannot drift apart (a test checks the README against `field_table()`).

A payload is one store and one period (a local hour, or a local day):

    {"schema": 1, "org": "acme", "store": "brno-1", "period": "hour",
     "start_at": "2026-11-26T09:00:00Z", "end_at": "2026-11-26T10:00:00Z",
     "local_start": "2026-11-26T10:00:00+01:00", "timezone": "Europe/Prague",
     "published_at": "2026-11-26T10:00:03Z", "k": 5, "visits_n": 3, "visitors_n": 6, "passersby_n": 9,
     "capture_rate": 0.4, "traffic_in": 9.0, "traffic_source": "wifi_visitors", "transactions_n": 2,
     "net_sales_cents": 3050, "conversion": 0.2222, "suppressed": []}
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Field:
    """One payload field: its JSON type, whether it may be null, and what it means (with its unit)."""

    name: str
    json_type: str
    nullable: bool
    doc: str
    enum: tuple[str, ...] = ()


FIELDS: tuple[Field, ...] = (
    Field("schema", "integer", False, f"payload version, {SCHEMA_VERSION}; a new version gets new fields"),
    Field("org", "string", False, "chain id"),
    Field("store", "string", False, "store id"),
    Field("period", "string", False, "hour or day (the store's local day)", ("hour", "day")),
    Field("start_at", "string", False, "start of the period (UTC, ISO 8601)"),
    Field("end_at", "string", False, "end of the period, exclusive (UTC, ISO 8601)"),
    Field("local_start", "string", False, "start of the period in the store's time zone, with offset"),
    Field("timezone", "string", False, "the store's IANA time zone"),
    Field("published_at", "string", False, "when the hub published this revision (UTC); a later one wins"),
    Field("k", "integer", False, "suppression threshold: device counts from 1 to k-1 are withheld"),
    Field("visits_n", "integer", True, "visitor visits that started in the period"),
    Field("visitors_n", "integer", True, "visitor devices (static devices excluded)"),
    Field("passersby_n", "integer", True, "devices heard that made no visitor visit"),
    Field("capture_rate", "number", True, "visitors_n / (visitors_n + passersby_n)"),
    Field("traffic_in", "number", True, "people entering: door counts, else visitors x calibration factor"),
    Field(
        "traffic_source", "string", False, "where traffic_in comes from", ("door_counters", "wifi_visitors")
    ),
    Field("transactions_n", "integer", False, "POS transactions with a net amount above 0"),
    Field("net_sales_cents", "integer", False, "sum of POS net amounts in cents, refunds included"),
    Field("conversion", "number", True, "transactions_n / traffic_in"),
    Field(
        "suppressed", "array", False,
        "fields withheld (null) because they could single out fewer than k devices; a null field not"
        " listed here is unknown (no agent reported it)",
    ),
)
NAMES = tuple(f.name for f in FIELDS)
# Fields that count devices (primary suppression) and the fields computed from them (withheld with them).
DEVICE_FIELDS = ("visits_n", "visitors_n", "passersby_n")


def metrics_schema() -> dict[str, Any]:
    """The published JSON Schema (draft 2020-12) of a metrics payload."""
    props: dict[str, Any] = {}
    for f in FIELDS:
        kind: Any = [f.json_type, "null"] if f.nullable else f.json_type
        prop: dict[str, Any] = {"description": f.doc, "type": kind}
        if f.enum:
            prop["enum"] = list(f.enum)
        if f.name == "schema":
            prop["const"] = SCHEMA_VERSION
        if f.name == "suppressed":
            prop["items"] = {"enum": [g.name for g in FIELDS if g.nullable]}
            prop["uniqueItems"] = True
        if f.name in ("k", *DEVICE_FIELDS, "transactions_n"):
            prop["minimum"] = 0
        props[f.name] = prop
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://footfall.example/schemas/metrics-v{SCHEMA_VERSION}.json",
        "title": "footfall store metrics (footfall/v1/{org}/{store}/metrics/{hour,day})",
        "type": "object",
        "required": list(NAMES),
        "additionalProperties": False,
        "properties": props,
    }


def field_table() -> str:
    """The README's table of payload fields, built from FIELDS."""
    lines = ["| field | JSON type | meaning |", "|---|---|---|"]
    for f in FIELDS:
        kind = f"{f.json_type} or null" if f.nullable else f.json_type
        lines.append(f"| `{f.name}` | {kind} | {f.doc} |")
    return "\n".join(lines)


def encode(values: dict[str, Any]) -> bytes:
    """The payload: every field of FIELDS in their order, compact JSON; KeyError when one is missing."""
    extra = set(values) - set(NAMES)
    if extra:
        raise KeyError(f"not payload fields: {sorted(extra)}")
    return json.dumps({n: values[n] for n in NAMES}, separators=(",", ":")).encode()
