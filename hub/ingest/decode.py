"""Turn one MQTT message into rows, a status update, or a dead letter. Pure: no database, no MQTT.

Never raises on bad input: whatever a payload holds, the result is a DeadLetter with a counter-friendly
reason (the wire's reasons, plus `decode_error` for anything the wire codec did not foresee).

With a Verifier (the hub's), a data batch must carry a valid signature by the registered key of the
gateway it names: `unknown_key` (no key registered for org/store/agent), `bad_signature` (missing
when required, malformed, truncated, or not matching topic + body), `unsigned` (no signature while
signatures are required). The topic is checked against the signer first (`topic_mismatch`). `digest`
lets the writer tell an identical redelivery (a duplicate) from a different body under the same
`(agent, epoch, seq)` (`replay`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields
from typing import Any

from agent.wire import Envelope, Status, Visit, WireError, decode_envelope, decode_signed, parse_agent_topic
from agent.wire.records import check_record
from agent.wire.signing import verify
from hub.pki.registry import SigningKeys
from hub.store.rows import RECORD_TABLES


@dataclass(frozen=True)
class Verifier:
    """The hub's trust: registered gateway keys, and whether unsigned batches are refused."""

    keys: SigningKeys
    require_signatures: bool = True

    def check(self, env: Envelope, message: bytes | None) -> None:
        """Raise WireError unless `env` is acceptable: signed by its gateway (or unsigned, if allowed)."""
        if env.signature is None:
            if self.require_signatures:
                raise WireError("unsigned", "the batch carries no signature")
            return
        public = self.keys.get(env.org, env.store, env.agent)
        if public is None:
            raise WireError("unknown_key", "no signing key is registered for the batch's gateway")
        if message is None or not verify(public, message, env.signature):
            raise WireError("bad_signature", "the signature does not match the topic and body")


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
    digest: bytes | None = None  # SHA-256 of the signed bytes (topic + body as sent); None: unsigned
    # visits an agent tagged as a member's: (store, started, ended epoch s, dwell_s, agent, gateway key)
    member_visits: tuple[tuple[str, int, int, int, str, str], ...] = ()
    # members' arrivals (hub.members.arrivals): (store, seen epoch s, agent, gateway key)
    arrivals: tuple[tuple[str, int, str, str], ...] = ()


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
    learned_json: str = "{}"  # what the agent's estimates use: its calibration and intervals (issue 19)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A payload set aside: its reason is a counter name, detail never holds payload content."""

    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class Ignored:
    """Nothing to store (an empty retained payload: a status being cleared)."""


Decoded = DataBatch | StatusUpdate | DeadLetter | Ignored


def decode(topic: str, payload: bytes, verifier: Verifier | None = None) -> Decoded:
    """Decode a message received on a data or status topic; `verifier` checks data batches' signatures."""
    try:
        kind = topic.rsplit("/", 1)[-1]
        if kind == "data":
            return _data(topic, payload, verifier)
        if kind == "status":
            return _status(topic, payload)
        return DeadLetter("unknown_topic", f"topic kind {kind[:32]!r} is not data or status")
    except WireError as exc:
        return DeadLetter(exc.reason, exc.detail[:500])
    except Exception as exc:  # bad input must never stop ingest (docs/reliability.md)
        return DeadLetter("decode_error", type(exc).__name__)


def _data(topic: str, payload: bytes, verifier: Verifier | None) -> DataBatch:
    digest = None
    if verifier is None:
        env = decode_envelope(topic, payload, check_record)
    else:
        env, message = decode_signed(topic, payload, check_record)
        verifier.check(env, message)
        digest = hashlib.sha256(message).digest() if message is not None else None
    key = (env.org, env.store, env.agent, env.epoch, env.seq)
    rows: dict[str, list[tuple[Any, ...]]] = {}
    members = []
    arrivals = []
    for idx, rec in enumerate(env.records):  # (type, values, epoch seconds): see check_record
        rows.setdefault(rec[0], []).append(RECORD_TABLES[rec[0]].row(key, idx, rec))
        if rec[0] == "visit" and rec[1][_MEMBER] is not None:
            members.append((env.store, rec[2][0], rec[2][1], rec[1][_DWELL], env.agent, rec[1][_MEMBER]))
        elif rec[0] == "arrival":
            arrivals.append((env.store, rec[2][0], env.agent, rec[1][1]))
    return DataBatch(
        env.agent, env.org, env.store, env.epoch, env.seq, env.sent_at, len(env.records), rows,
        env.topics.ack, digest, tuple(members), tuple(arrivals),
    )


_VISIT_FIELDS = [f.name for f in fields(Visit)]
_MEMBER, _DWELL = _VISIT_FIELDS.index("member_key"), _VISIT_FIELDS.index("dwell_s")


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
        json.dumps({k[:64]: v[:64] for k, v in list(st.learned.items())[:32]}, sort_keys=True),
    )
