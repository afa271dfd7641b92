"""The wire codec: its JSON Schema describes what it really sends (README: for the data team), and it
checks what it receives."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime

import jsonschema
import pytest

from agent.wire import (
    DeviceFlag,
    DoorCounts,
    Envelope,
    MinuteCounts,
    PeriodCounts,
    Visit,
    WireError,
    decode_envelope,
    encode_envelope,
)
from agent.wire.envelope import envelope_schema
from agent.wire.records import epoch_s, iso

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


def test_wire_times_are_checked_the_same_whether_their_minute_was_seen_before_or_not() -> None:
    """The codec caches each minute it parsed; a cached minute must not let a bad second, a missing Z
    or an impossible date through, and the epoch it returns equals a full parse."""
    good = "2026-11-26T12:00:59Z"
    assert epoch_s(good) == int(datetime(2026, 11, 26, 12, 0, 59, tzinfo=UTC).timestamp())
    assert epoch_s("2026-11-26T12:00:07Z") == epoch_s(good) - 52  # the cached minute, another second
    for bad in ("2026-11-26T12:00:60Z", "2026-11-26T12:00:5Z", "2026-11-26T12:00:59", "2026-11-26T12:00:59+",
                "2026-13-26T12:00:59Z", "2026-02-30T12:00:00Z", "", None, 1_790_000_000):
        with pytest.raises(ValueError):
            epoch_s(bad)
    env = Envelope("acme", "brno-1", "gw-1", "e1", 0, iso(T), (
        MinuteCounts(minute_at=good, probe_requests_n=1, seen_n=1, clock_synced=True),
        MinuteCounts(minute_at="2026-11-26T12:00:60Z", probe_requests_n=1, seen_n=1, clock_synced=True),
    ))
    with pytest.raises(WireError) as refused:
        decode_envelope(env.topics.data, encode_envelope(env, compress=False))
    assert refused.value.reason == "bad_record"
    assert refused.value.detail.startswith("records[1]: minute.minute_at: time is not ISO 8601")
    assert "12:00:60" not in refused.value.detail  # the value is never echoed
