"""Turn one MQTT message into rows, a status update, or a dead letter. Pure: no database, no MQTT.

Never raises on bad input: whatever a payload holds, the result is a DeadLetter with a counter-friendly
reason (the wire's reasons, plus `decode_error` for anything the wire codec did not foresee).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from agent.wire import Status, WireError, decode_envelope, parse_agent_topic
from hub.store.rows import RECORD_TABLES


@dataclass(frozen=True, slots=True)
class DataBatch:
    """A decoded envelope as rows, keyed by record type, in wire order."""

    agent: str
    org: str
    store: str
    epoch: str
    seq: int
    sent_at: str
    records_n: int
    rows: dict[str, list[tuple[Any, ...]]]
    ack_topic: str


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """An agent's retained status (online/offline, backlog, counters)."""

    agent: str
    org: str
    store: str
    state: str
    backlog_batches: int
    clock_synced: bool
    agent_version: str
    counters_json: str
    updated_at: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A payload set aside: its reason is a counter name, detail never holds payload content."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """Nothing to store (an empty retained payload: a status being cleared)."""


Decoded = DataBatch | StatusUpdate | DeadLetter | Ignored


def decode(topic: str, payload: bytes) -> Decoded:
    """Decode a message received on a data or status topic."""
    try:
        kind = topic.rsplit("/", 1)[-1]
        if kind == "data":
            return _data(topic, payload)
        if kind == "status":
            return _status(topic, payload)
        return DeadLetter("unknown_topic", f"topic kind {kind[:32]!r} is not data or status")
    except WireError as exc:
        return DeadLetter(exc.reason, exc.detail[:500])
    except Exception as exc:  # bad input must never stop ingest (DESIGN section 5)
        return DeadLetter("decode_error", type(exc).__name__)


def _data(topic: str, payload: bytes) -> DataBatch:
    env = decode_envelope(topic, payload)
    key = (env.org, env.store, env.agent, env.epoch, env.seq)
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for idx, rec in enumerate(env.records):
        rows.setdefault(rec.type, []).append(RECORD_TABLES[rec.type].row(key, idx, rec))
    return DataBatch(
        env.agent, env.org, env.store, env.epoch, env.seq, env.sent_at, len(env.records), rows, env.topics.ack
    )


def _status(topic: str, payload: bytes) -> Decoded:
    if not payload:
        return Ignored()
    try:
        topics, _ = parse_agent_topic(topic)
    except ValueError:
        return DeadLetter("bad_topic", "status topic ids do not match [a-z0-9-]{1,64}")
    st = Status.decode(payload)
    return StatusUpdate(
        topics.agent,
        topics.org,
        topics.store,
        st.state,
        st.backlog_batches,
        st.clock_synced,
        st.agent_version[:64],
        json.dumps(st.counters, sort_keys=True),
        st.updated_at[:32],
    )
