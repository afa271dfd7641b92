"""The documented ranges (agent/wire/ranges.py) are one table: the README, the JSON Schema, the hub's
decoder and the agent's own check before a batch all say the same."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest

from agent.wire import encode_envelope
from agent.wire.envelope import decode_envelope, envelope_schema
from agent.wire.ranges import NUMBERS, table
from agent.wire.records import wire_problem
from tests.hub.envelopes import envelope, visit

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_readme_table_of_ranges_is_built_from_the_code() -> None:
    """The data team reads the ranges in the README: the table there is the code's, word for word."""
    assert table() in README


@pytest.mark.parametrize("value", [2**64, -1, 10**30])
def test_the_json_schema_refuses_what_the_decoder_refuses(value: int) -> None:
    """A consumer validating with the published schema refuses the same out-of-range value the hub
    dead-letters (`out_of_range`, naming the field)."""
    env = envelope(1, [visit(1)])
    body = json.loads(encode_envelope(env, compress=False))
    jsonschema.validate(body, envelope_schema())
    body["records"][0]["dwell_s"] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, envelope_schema())
    with pytest.raises(ValueError, match=r"visit\.dwell_s: out of range \[0, 2678400\]"):
        decode_envelope(env.topics.data, json.dumps(body).encode())
    assert NUMBERS["dwell_s"] == (0, 2678400)


def test_the_agent_refuses_a_record_the_hub_would_refuse_before_it_joins_a_batch() -> None:
    """wire_problem is what the agent asks of every record before the outbox: None for a good one, the
    hub's dead-letter reason for a bad one."""
    good = visit(1)
    assert wire_problem(good) is None
    assert wire_problem(replace(good, rssi_max_dbm=300)) == "out_of_range"
    assert wire_problem(replace(good, device_key="00:1b:63:aa:bb:cc")) == "mac_shaped"
    assert wire_problem(replace(good, kind="passerby")) == "bad_shape"
