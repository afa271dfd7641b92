"""The data team's metrics payload: one definition (FIELDS) builds the JSON Schema, the README table
and the encoder, so the three cannot drift apart (a test checks the README against `field_table()`).

A payload is one store and one period (a local hour, or a local day):

    {"schema": 3, "org": "acme", "store": "brno-1", "period": "hour",
     "start_at": "2026-11-26T09:00:00Z", "end_at": "2026-11-26T10:00:00Z",
     "local_start": "2026-11-26T10:00:00+01:00", "timezone": "Europe/Prague",
     "published_at": "2026-11-26T10:17:03Z", "revision": 0, "k": 5, "noise_epsilon": null,
     "visits_n": null, "visitors_n": 6, "passersby_n": 9, "capture_rate": 0.4, "traffic_in": 9.0,
     "traffic_source": "wifi_visitors", "transactions_n": null, "net_sales_cents": null,
     "conversion": null, "members_active_n": null, "members_normal_n": null, "members_lapsing_n": null,
     "members_churn_risk_n": null, "members_new_n": null,
     "withheld": [{"field": "visits_n", "reason": "below_k"}]}

The schema is also a file, `schema/metrics.schema.json` (`python -m hub.publish.schema` prints it),
and is published retained on `schema_topic(org)` for a data team that has only the broker.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.wire.topics import PREFIX
from hub.suppress import REASONS

SCHEMA_VERSION = 3  # 3: members by lifecycle segment on day payloads
SCHEMA_FILE = Path(__file__).parent / "schema" / "metrics.schema.json"


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
    Field("revision", "integer", False, "0: the final figures; 1 or more: a correction (device counts move"
          " by k or more, at most once) or sales figures that came later"),
    Field("k", "integer", False, "suppression threshold: device counts from 1 to k-1 are withheld"),
    Field("noise_epsilon", "number", True, "differential privacy: the epsilon of each device count's"
          " noise (discrete Laplace); null: exact counts, suppressed below k"),
    Field("visits_n", "integer", True, "visitor visits that started in the period"),
    Field("visitors_n", "integer", True, "visitor devices (static devices excluded)"),
    Field("passersby_n", "integer", True, "devices heard that made no visitor visit"),
    Field("capture_rate", "number", True, "visitors_n / (visitors_n + passersby_n)"),
    Field("traffic_in", "number", True, "people who came in, in the hour they came in (hours add up to"
          " the day): door counts, else visitor arrivals x calibration factor"),
    Field(
        "traffic_source", "string", False, "where traffic_in comes from", ("door_counters", "wifi_visitors")
    ),
    Field("transactions_n", "integer", True, "POS transactions with a net amount above 0; null until a POS"
          " import covers the store's day"),
    Field("net_sales_cents", "integer", True, "sum of POS net amounts in cents, refunds included; null"
          " until a POS import covers the store's day"),
    Field("conversion", "number", True, "transactions_n / traffic_in"),
    *(Field(f"members_{s}_n", "integer", True, f"day payloads: the store's members (a member visit there in"
            f" the 90 days to the day) in lifecycle segment {s} on that day; withheld from 1 to k-1 with"
            " complements even with noise on (k of publish.k); null on hour payloads")
      for s in ("active", "normal", "lapsing", "churn_risk", "new")),
    Field(
        "withheld", "array", False,
        "each field withheld (null) and why: below_k (1 to k-1 devices), complementary (would let a"
        " withheld count be solved from the others), derived (computed from a withheld count); a null"
        " field not listed is not known (yet)",
    ),
)
NAMES = tuple(f.name for f in FIELDS)
# Fields that count devices (primary suppression) and the fields computed from them (withheld with them).
DEVICE_FIELDS = ("visits_n", "visitors_n", "passersby_n")
# Members by lifecycle segment (hub.members.segments.SEGMENTS, in order): a table whose total is known.
SEGMENT_FIELDS = tuple(f.name for f in FIELDS if f.name.startswith("members_"))


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
        if f.name == "withheld":
            prop["items"] = {
                "type": "object", "required": ["field", "reason"], "additionalProperties": False,
                "properties": {"field": {"enum": [g.name for g in FIELDS if g.nullable]},
                               "reason": {"enum": list(REASONS)}},
            }
        if f.name in ("k", "revision", *DEVICE_FIELDS, *SEGMENT_FIELDS, "transactions_n"):
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


def schema_text() -> str:
    """The schema file's text (hub/publish/schema/metrics.schema.json; a test keeps the file in step)."""
    return json.dumps(metrics_schema(), indent=2) + "\n"


def schema_payload() -> bytes:
    """The schema as published on `schema_topic`: the file's JSON, compact (one line)."""
    return json.dumps(metrics_schema(), separators=(",", ":")).encode()


def field_table() -> str:
    """The README's table of payload fields, built from FIELDS."""
    lines = ["| field | JSON type | meaning |", "|---|---|---|"]
    for f in FIELDS:
        kind = f"{f.json_type} or null" if f.nullable else f.json_type
        lines.append(f"| `{f.name}` | {kind} | {f.doc} |")
    return "\n".join(lines)


def schema_topic(org: str) -> str:
    """Where the JSON Schema is published, retained (the data-team identity may read it)."""
    return f"{PREFIX}/{org}/schema/metrics"


def encode(values: dict[str, Any]) -> bytes:
    """The payload: every field of FIELDS in their order, compact JSON; KeyError when one is missing."""
    extra = set(values) - set(NAMES)
    if extra:
        raise KeyError(f"not payload fields: {sorted(extra)}")
    return json.dumps({n: values[n] for n in NAMES}, separators=(",", ":")).encode()
