"""The wire's JSON Schema describes what the codec really sends (README: for the data team)."""

from __future__ import annotations

import json
import zlib

import jsonschema

from agent.wire import DeviceFlag, DoorCounts, Envelope, MinuteCounts, PeriodCounts, Visit, encode_envelope
from agent.wire.envelope import envelope_schema
from agent.wire.records import iso

T = 1_790_000_000.0


def test_encoded_envelopes_validate_against_the_published_schema() -> None:
    """One record of every type, encoded (and compressed) as an agent sends it, fits the JSON Schema;
    a field the schema does not know is refused."""
    records = (
        Visit(started_at=iso(T), ended_at=iso(T + 600), dwell_s=600, sightings_n=9, rssi_max_dbm=-50,
              kind="visitor", randomized=True, device_key="ab" * 16, key_window="2026-09-21"),
        MinuteCounts(minute_at=iso(T), probe_requests_n=12, seen_n=3, clock_synced=True),
        PeriodCounts(period="hour", start_at=iso(T), seen_n=5, visitors_n=2, passersby_n=3, bounces_n=0,
                     visits_n=2),
        DoorCounts(sensor="door-1", minute_at=iso(T), traffic_in_n=4, traffic_out_n=1),
        DeviceFlag(device_key="cd" * 16, key_window="2026-09-21", flag="static", hours_present_h=7.5,
                   days_present_n=3),
    )
    payload = encode_envelope(Envelope("acme", "brno-1", "gw-1", "e1", 0, iso(T), records * 40))
    body = json.loads(zlib.decompress(payload) if payload[:1] == b"\x78" else payload)
    schema = envelope_schema()
    jsonschema.validate(body, schema)
    body["records"][0]["colour"] = "red"
    try:
        jsonschema.validate(body, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("an unknown record field passed the schema")
