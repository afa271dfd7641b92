"""Property tests (Hypothesis) of every way data enters: whatever comes in, the process goes on, the bad
input is refused by name, and a good input right after it is taken.

- the wire decoder (the hub's): random bytes, and right-shaped records with each field at and past the
  bounds of agent/wire/ranges.py; then through the hub's real writer into a real SQLite file;
- the door listener's bodies (generic and Xovis): random JSON and values at and past the bounds;
- config files: random bytes and random YAML.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.common.configfile import ConfigError, load_config
from agent.config import AgentConfig, DoorsConfig, DoorSensorConfig, load
from agent.doors import PushError
from agent.doors.service import DoorService
from agent.wire import Ack, WireError, encode_envelope
from agent.wire.ranges import CHOICES, NUMBERS, PATTERNS
from agent.wire.records import RECORD_TYPES, iso, record_to_dict
from agent.wire.settings import AgentSettings
from hub.config import HubConfig
from hub.ingest.counters import Counters
from hub.ingest.decode import DataBatch, DeadLetter, decode
from hub.ingest.writer import Incoming, Writer
from hub.store import open_db
from tests.agent.doors.conftest import T0
from tests.hub.envelopes import envelope, visit
from tests.hub.support import query

TOPIC = envelope(0, []).topics.data
NOW = time.time()
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])

# one good object per record type (wire form), to break one field at a time
GOOD: dict[str, dict[str, Any]] = {
    "visit": record_to_dict(visit(1)),
    "minute": {"type": "minute", "minute_at": iso(NOW - 600), "probe_requests_n": 3, "seen_n": 2,
               "clock_synced": True},
    "period": {"type": "period", "period": "hour", "start_at": iso(NOW - 3600), "seen_n": 5, "visitors_n": 2,
               "passersby_n": 3, "bounces_n": 0, "visits_n": 2},
    "door": {"type": "door", "sensor": "door-1", "minute_at": iso(NOW - 600), "traffic_in_n": 4,
             "traffic_out_n": 1},
    "device_flag": {"type": "device_flag", "device_key": "cd" * 16, "key_window": "2026-09-21",
                    "flag": "static", "hours_present_h": 7.5, "days_present_n": 3},
    "erase": {"type": "erase", "device_key": "ab" * 16, "key_window": "2026-09-21",
              "erased_at": iso(NOW - 60)},
    "presence": {"type": "presence", "taken_at": iso(NOW - 60), "present_n": 4, "entered_n": 1, "new_n": 2,
                 "recent_s": 300},
    "arrival": {"type": "arrival", "seen_at": iso(NOW - 60), "member_key": "ef" * 16},
}
NUMERIC = sorted((t, f) for t, obj in GOOD.items() for f in obj if f in NUMBERS)
TEXT = sorted((t, f) for t, obj in GOOD.items() for f in obj if f in PATTERNS or f in CHOICES)
HUGE = [2**53, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1]


def _payload(rec: dict[str, Any], seq: int = 1) -> bytes:
    body = json.loads(encode_envelope(envelope(seq, [visit(seq)]), compress=False))
    body["records"] = [rec]
    return json.dumps(body, separators=(",", ":")).encode()


def test_the_ranges_cover_every_numeric_and_keyed_field_of_every_record() -> None:
    """No field escapes the table: every int or float field of every record type has a range, every key
    a shape, and the GOOD objects above are of every type (so the properties reach every field)."""
    for rtype, cls in RECORD_TYPES.items():
        assert rtype in GOOD
        for f in cls.__dataclass_fields__.values():
            if str(f.type) in ("int", "float"):
                assert f.name in NUMBERS, f"{rtype}.{f.name} has no range"
            if f.name.endswith("_key"):
                assert f.name in PATTERNS, f"{rtype}.{f.name} has no shape"


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_bytes_on_a_data_topic_are_a_named_dead_letter(payload: bytes) -> None:
    """Any bytes at all: the decoder returns a dead letter with a reason (never raises)."""
    got = decode(TOPIC, payload)
    assert isinstance(got, DeadLetter)
    assert re.fullmatch(r"[a-z_]+", got.reason)


@SETTINGS
@given(st.sampled_from(NUMERIC), st.data())
def test_a_number_at_or_past_its_bounds_is_taken_exactly_when_inside(field: tuple[str, str],
                                                                     data: st.DataObject) -> None:
    """Each numeric field at its bounds, one past them, and far past (2^63, 2^64, 10^30): stored when
    inside the documented range, else refused as `out_of_range` naming the record and field."""
    rtype, name = field
    lo, hi = NUMBERS[name]
    value = data.draw(st.sampled_from([lo - 1, lo, hi, hi + 1, *HUGE]) | st.integers(lo - 10, hi + 10))
    got = decode(TOPIC, _payload({**GOOD[rtype], name: value}))
    if lo <= value <= hi:
        assert isinstance(got, DataBatch), got
    else:
        assert isinstance(got, DeadLetter)
        assert (got.reason, got.detail) == ("out_of_range", f"records[0]: {rtype}.{name}: out of range "
                                                            f"[{lo}, {hi}]")


@SETTINGS
@given(st.sampled_from(TEXT), st.text(max_size=40) | st.from_regex(r"[0-9a-f]{32}", fullmatch=True)
       | st.from_regex(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", fullmatch=True))
def test_a_key_or_word_is_taken_exactly_when_of_its_shape(field: tuple[str, str], text: str) -> None:
    """Keys and words: taken when of their exact shape (32 hex, an id, one of the words), else refused
    naming the field; a MAC-shaped key is `mac_shaped`."""
    rtype, name = field
    got = decode(TOPIC, _payload({**GOOD[rtype], name: text}))
    ok = text in CHOICES[name] if name in CHOICES else re.fullmatch(PATTERNS[name], text) is not None
    if ok:
        assert isinstance(got, DataBatch), got
    else:
        assert isinstance(got, DeadLetter)
        assert got.reason in ("bad_shape", "mac_shaped")
        said = {f"does not match {PATTERNS.get(name)}", f"is not one of {', '.join(CHOICES.get(name, ()))}",
                "looks like a MAC address (a raw MAC never leaves the gateway)"}
        assert got.detail in {f"records[0]: {rtype}.{name}: {s}" for s in said}  # never the value itself


@SETTINGS
@given(st.sampled_from(sorted({(t, f) for t, obj in GOOD.items() for f in obj if f.endswith("_at")})),
       st.integers(-(2**40), 2**40))
def test_a_time_is_taken_from_2020_to_a_day_ahead(field: tuple[str, str], offset_s: int) -> None:
    """Times: from 2020-01-01 to a day after the hub's clock; anything else (a 2106 visit) is refused."""
    rtype, name = field
    at = int(NOW) + offset_s
    try:
        text = iso(at)
    except (ValueError, OverflowError, OSError):
        return  # not representable as a wire time at all: the time format's own test covers those
    got = decode(TOPIC, _payload({**GOOD[rtype], name: text}))
    inside = 1577836800 <= at <= NOW + 86400 - 5  # a few seconds' margin for the test's own run time
    outside = at < 1577836800 or at > time.time() + 86400
    if inside:
        assert isinstance(got, DataBatch), got
    elif outside:  # before year 1000 the text is not even the wire's time format: bad_record
        assert isinstance(got, DeadLetter)
        assert got.reason == ("out_of_range" if len(text) == 20 else "bad_record"), (got, text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bad=st.binary(max_size=512) | st.sampled_from(NUMERIC).map(
    lambda f: _payload({**GOOD[f[0]], f[1]: 2**64})))
def test_the_writer_survives_any_payload_and_stores_the_good_batch_after_it(tmp_path: Path,
                                                                           bad: bytes) -> None:
    """Through the hub's real writer and a real SQLite file: a bad payload is one dead letter, and the
    good batch submitted right after it is stored and acknowledged."""
    db = tmp_path / f"hub-{time.monotonic_ns()}.db"
    open_db(db).close()
    acked: list[int] = []
    writer = Writer(db, Counters(), lambda _m, acks: acked.extend(s for v in acks.values() for s in v),
                    max_wait_ms=1)
    writer.start()
    try:
        writer.submit(Incoming(TOPIC, bad, time.time()))
        writer.submit(Incoming(TOPIC, encode_envelope(envelope(7, [visit(7)])), time.time()))
        assert writer.wait_idle(10)
    finally:
        writer.stop()
    assert query(str(db), "SELECT seq FROM batches") == [(7,)]
    assert query(str(db), "SELECT count(*) FROM dead_letters") == [(1,)]
    assert acked == [7]


def _nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20), _nested,
                    max_leaves=20)


@pytest.fixture(scope="module")
def door_service(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cfg = DoorsConfig(sensors=[DoorSensorConfig(id="door-back", type="generic"),
                               DoorSensorConfig(id="door-main", type="xovis")], listen_port=0)
    service = DoorService(cfg, tmp_path_factory.mktemp("doors"), lambda: T0)
    yield service  # not started: handle() is the listener's whole logic, without sockets


def _push(service: Any, path: str, body: bytes) -> str:
    listener = service.listener
    return str(listener.handle(path, "Bearer " + listener.token.decode(), str(len(body)), lambda n: body[:n]))


def _good_generic(service: Any, total: int) -> None:
    body = json.dumps({"sensor": "door-back", "time": "2026-11-26T10:14:00Z", "in": total, "out": 0})
    assert _push(service, "/generic", body.encode()) == "accepted 1 counts"


@SETTINGS
@given(st.sampled_from(["/generic", "/xovis/door-main"]), JSON | st.binary(max_size=300).map(lambda b: b))
def test_any_door_body_is_refused_by_name_or_counted_and_a_good_push_after_it_counts(
        door_service: Any, path: str, body: Any) -> None:
    """Random JSON (and random bytes) pushed to each route: PushError with a reason word (a 4xx), or
    counts; never another exception. A good push right after is accepted."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        _push(door_service, path, raw)
    except PushError as exc:
        assert re.fullmatch(r"[a-z_]+", exc.reason)
    _good_generic(door_service, 5)


@SETTINGS
@given(st.sampled_from(["in", "out"]), st.sampled_from([-1, 0, 10**9, 10**9 + 1, 2**63, 2**64, 10**30])
       | st.integers(), st.sampled_from(["2026-11-26T10:14:00Z", "2106-01-01T00:00:00Z", 1e300,
                                          "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+01:00"]))
def test_door_counts_and_times_past_their_bounds_are_refused_by_name(door_service: Any, name: str,
                                                                    value: int, at: Any) -> None:
    """A running total from 0 to 10^9 and a time no more than 5 minutes ahead of the gateway's clock:
    anything else is a 400 naming the field (`out_of_range`, `bad_field`, `bad_time`)."""
    body = {"sensor": "door-back", "time": at, "in": 1, "out": 1, name: value}
    try:
        _push(door_service, "/generic", json.dumps(body).encode())
        accepted = True
    except PushError as exc:
        accepted = False
        assert exc.reason in ("out_of_range", "bad_field", "bad_time")
    assert accepted == (0 <= value <= 10**9 and at == "2026-11-26T10:14:00Z")


@SETTINGS
@given(st.binary(max_size=600) | st.text(max_size=300).map(str.encode))
def test_any_config_file_is_loaded_or_refused_with_one_line_naming_the_file(tmp_path: Path,
                                                                           raw: bytes) -> None:
    """Random bytes or text as agent.yaml and hub.yaml: a config, or ConfigError on one line starting
    with the file's name; never another exception. The good file written after it loads."""
    path = tmp_path / "agent.yaml"
    path.write_bytes(raw)
    for cls in (AgentConfig, HubConfig):
        try:
            load_config(path, cls)
        except ConfigError as exc:
            assert "\n" not in str(exc)
            assert str(exc).startswith(("agent.yaml", str(path)))
    path.write_text("version: 1\nstore: brno-1\n")
    assert load(path).store == "brno-1"


@SETTINGS
@given(st.binary(max_size=600) | JSON.map(lambda v: json.dumps(v).encode())
       | st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n)
       | st.sampled_from([2**64, -1, 10**30]).map(
           lambda s: json.dumps({"epoch": "e1", "seqs": [s]}).encode()))
def test_what_the_hub_sends_an_agent_is_decoded_or_refused_by_name(payload: bytes) -> None:
    """The agent's side of the wire: any ack or config payload (random bytes, random or deeply nested
    JSON, a seq of 2^64) decodes or raises WireError (`bad_ack`, `bad_config`, `bad_json`): never an
    exception that would end the MQTT thread, and with it the agent."""
    for decoder in (Ack.decode, AgentSettings.decode):
        try:
            decoder(payload)
        except WireError as exc:
            assert exc.reason in ("bad_ack", "bad_config", "bad_json")
