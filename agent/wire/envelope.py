"""The data envelope, the ack and the status payloads, and their codec.

A payload is compact JSON, or zlib-compressed JSON (first byte 0x78) for large batches. Decoding checks
everything the hub relies on and raises WireError with a counter-friendly reason (`bad_json`,
`too_large`, `bad_envelope`, `bad_record`, `out_of_range`, `bad_shape`, `mac_shaped`, `topic_mismatch`,
`schema_version`), never echoing payload content. Decompression stops at MAX_PAYLOAD_BYTES, checked
while inflating: a zlib bomb costs at most that much memory, never what it would expand to.
Signing and its exact bytes: agent/wire/signing.py.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.wire.ranges import MAX_SEQ, RangeError, check_time
from agent.wire.records import RECORD_TYPES, epoch_s, record_from_dict, record_schema, record_to_dict
from agent.wire.signing import attach, detach, signed_message
from agent.wire.topics import Topics, check_id

SCHEMA_VERSION = 1
COMPRESS_ABOVE_BYTES = 4096
# The largest (decompressed) payload accepted: a full batch (outbox.max_records_per_batch is at most a few
# thousand records of ~300 bytes) is far smaller. Also the cap of the broker config `broker-config` writes.
MAX_PAYLOAD_BYTES = 8 << 20
MAX_PACKET_BYTES = MAX_PAYLOAD_BYTES + (64 << 10)  # the MQTT packet around it: topic and properties
# every field a data envelope may hold; any other is an error
_ENVELOPE_FIELDS = frozenset(
    {"schema", "org", "store", "agent", "epoch", "seq", "sent_at", "records", "signature"})


class WireError(ValueError):
    """A payload that does not fit the contract; `reason` is the counter name."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Envelope:
    """One batch of records from one agent; `(agent, epoch, seq)` identifies it for ever."""

    org: str
    store: str
    agent: str
    epoch: str
    seq: int
    sent_at: str
    records: tuple[Any, ...]
    schema: int = SCHEMA_VERSION
    signature: str | None = field(default=None)

    @property
    def topics(self) -> Topics:
        return Topics(self.org, self.store, self.agent)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema": self.schema,
            "org": self.org,
            "store": self.store,
            "agent": self.agent,
            "epoch": self.epoch,
            "seq": self.seq,
            "sent_at": self.sent_at,
            "records": [record_to_dict(r) for r in self.records],
        }
        if self.signature is not None:
            out["signature"] = self.signature
        return out


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=False).encode()


def _loads(payload: bytes) -> Any:
    return _loads_raw(payload)[0]


def _loads_raw(payload: bytes) -> tuple[Any, bytes]:
    """The decoded JSON and the (decompressed) bytes it came from."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise WireError("too_large", f"payload is larger than {MAX_PAYLOAD_BYTES} bytes")
    try:
        if payload[:1] == b"\x78":
            payload = inflate(payload)
        return json.loads(payload), payload
    except (zlib.error, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise WireError("bad_json", type(exc).__name__) from None


def inflate(payload: bytes, limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    """zlib-decompress at most `limit` bytes; WireError `too_large` as soon as there would be more."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(payload, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise WireError("too_large", f"payload expands beyond {limit} bytes")
    return out


def encode_envelope(env: Envelope, compress: bool = True, key: Ed25519PrivateKey | None = None) -> bytes:
    """Serialize an envelope, signed by `key` when given (before compression); compressed when larger
    than COMPRESS_ABOVE_BYTES and `compress`."""
    body = env.body()
    if key is None:
        raw = _dumps(body)
    else:
        body.pop("signature", None)
        raw = attach(key, env.topics.data, _dumps(body))
    if compress and len(raw) > COMPRESS_ABOVE_BYTES:
        return zlib.compress(raw, 6)
    return raw


# Turns one checked record object into what Envelope.records holds: a record dataclass
# (record_from_dict, the default) or the hub's value tuples (records.check_record, no object per record).
RecordBuilder = Callable[[Any], Any]


def decode_envelope(topic: str, payload: bytes, build: RecordBuilder = record_from_dict) -> Envelope:
    """Parse and check a data payload received on `topic`; raise WireError when anything is off."""
    return _decode(topic, payload, build)[0]


def decode_signed(
    topic: str, payload: bytes, build: RecordBuilder = record_from_dict
) -> tuple[Envelope, bytes | None]:
    """decode_envelope, plus the bytes its signature covers (agent/wire/signing.py) for the verifier:
    None when the payload does not end with a signature member (unsigned, or signed anywhere else)."""
    env, raw = _decode(topic, payload, build)
    unsigned = detach(raw) if env.signature is not None else None
    return env, None if unsigned is None else signed_message(topic, unsigned)


def _decode(topic: str, payload: bytes, build: RecordBuilder) -> tuple[Envelope, bytes]:
    obj, raw = _loads_raw(payload)
    if not isinstance(obj, dict):
        raise WireError("bad_envelope", "payload is not an object")
    if obj.get("schema") != SCHEMA_VERSION:
        raise WireError("schema_version", f"schema {obj.get('schema')!r} is not {SCHEMA_VERSION}")
    try:
        for k in ("org", "store", "agent"):
            value = obj.get(k)
            check_id(k, value if isinstance(value, str) else "")
        epoch, seq, sent_at, records = obj["epoch"], obj["seq"], obj["sent_at"], obj["records"]
        if not (isinstance(epoch, str) and 1 <= len(epoch) <= 64):
            raise ValueError("epoch must be a string of 1 to 64 characters")
        if not (isinstance(seq, int) and not isinstance(seq, bool)):
            raise ValueError("seq must be an integer")
        if not 0 <= seq <= MAX_SEQ:
            raise RangeError("out_of_range", f"seq: out of range [0, {MAX_SEQ}]")
        check_time("sent_at", epoch_s(sent_at))
        if not isinstance(records, list):
            raise ValueError("records must be a list")
        extra = set(obj) - _ENVELOPE_FIELDS
        if extra:
            raise ValueError(f"unknown field {sorted(extra)[0]!r}")
    except RangeError as exc:
        raise WireError(exc.reason, str(exc)) from None
    except (KeyError, ValueError) as exc:
        raise WireError("bad_envelope", str(exc)) from None
    expected = Topics(obj["org"], obj["store"], obj["agent"]).data
    if topic != expected:
        raise WireError("topic_mismatch", "envelope ids do not match the topic")
    try:
        recs = tuple(map(build, records))
    except ValueError:
        raise WireError(*_first_bad(records, build)) from None
    signature = obj.get("signature")
    if signature is not None and not isinstance(signature, str):
        raise WireError("bad_envelope", "signature must be a string")
    env = Envelope(
        org=obj["org"], store=obj["store"], agent=obj["agent"], epoch=epoch, seq=seq, sent_at=sent_at,
        records=recs, signature=signature,
    )
    return env, raw


def _first_bad(records: list[Any], build: RecordBuilder) -> tuple[str, str]:
    """(reason, detail) of the first record `build` refuses (the fast path above does not say): a value
    outside its range or shape has its own reason (agent/wire/ranges.py), anything else is bad_record."""
    for i, r in enumerate(records):
        try:
            build(r)
        except RangeError as exc:
            return exc.reason, f"records[{i}]: {exc}"
        except ValueError as exc:
            return "bad_record", f"records[{i}]: {exc}"
    return "bad_record", "a record was refused"


@dataclass(frozen=True, slots=True)
class Ack:
    """The hub's end-to-end acknowledgement: these seqs of this epoch are committed in its database."""

    epoch: str
    seqs: tuple[int, ...]

    def encode(self) -> bytes:
        return _dumps({"schema": SCHEMA_VERSION, "epoch": self.epoch, "seqs": list(self.seqs)})

    @staticmethod
    def decode(payload: bytes) -> Ack:
        obj = _loads(payload)
        try:
            seqs = tuple(_count(s) for s in obj["seqs"])  # an agent deletes by these: SQLite's range
            epoch = obj["epoch"]
            if not isinstance(epoch, str) or not 1 <= len(epoch) <= 64:
                raise ValueError("epoch must be a string of 1 to 64 characters")
            return Ack(epoch, seqs)
        except (KeyError, TypeError, ValueError):
            raise WireError("bad_ack", "ack must hold epoch and seqs (integers from 0 to 2^53 - 1)") from None


@dataclass(frozen=True, slots=True)
class Status:
    """Retained agent status; `state` offline is also the agent's last will."""

    state: str
    agent_version: str = ""
    backlog_batches: int = 0
    clock_synced: bool = True
    counters: dict[str, int] = field(default_factory=dict)
    updated_at: str = ""
    # what estimates use that was learned or calibrated, and when (issue 19: no drift), as text:
    # calibration_factor, visitors_factor, calibrated_at, near_rssi_dbm, occupied_min_near, static_days_n,
    # and the calibration's 80 % intervals as ratios truth / estimate: present_q10, present_q90,
    # visitors_q10, visitors_q90 (the hub shows visitors and traffic in with the latter)
    learned: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return _dumps({
            "schema": SCHEMA_VERSION, "state": self.state, "agent_version": self.agent_version,
            "backlog_batches": self.backlog_batches, "clock_synced": self.clock_synced,
            "counters": self.counters, "updated_at": self.updated_at, "learned": self.learned,
        })

    @staticmethod
    def decode(payload: bytes) -> Status:
        obj = _loads(payload)
        if not isinstance(obj, dict) or obj.get("state") not in ("online", "offline"):
            raise WireError("bad_status", "status must hold state online or offline")
        try:
            backlog = _count(obj.get("backlog_batches", 0))
            counters = obj.get("counters", {})
            if not isinstance(counters, dict) or len(counters) > 1000:
                raise ValueError("counters must be an object of at most 1000 names")
            counts = {str(k)[:100]: _count(v) for k, v in counters.items()}
            facts = obj.get("learned", {})
            if not isinstance(facts, dict) or len(facts) > 100:
                raise ValueError("learned must be an object of at most 100 names")
            learned = {str(k)[:100]: str(v)[:500] for k, v in facts.items()}
        except (TypeError, ValueError) as exc:
            raise WireError("bad_status", str(exc)) from None
        return Status(
            state=obj["state"], agent_version=str(obj.get("agent_version", "")),
            backlog_batches=backlog, clock_synced=bool(obj.get("clock_synced", True)),
            counters=counts, updated_at=str(obj.get("updated_at", "")),
            learned=learned,
        )


def _count(value: Any) -> int:
    """A status count: an integer from 0 to MAX_SEQ (SQLite and every JSON reader hold it)."""
    if type(value) not in (int, bool) or not 0 <= value <= MAX_SEQ:
        raise ValueError(f"status counts must be integers from 0 to {MAX_SEQ}")
    return int(value)


def envelope_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of the decompressed data payload, built from the record classes."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "footfall data envelope",
        "type": "object",
        "properties": {
            "schema": {"const": SCHEMA_VERSION, "description": "wire schema version"},
            "org": {"type": "string", "pattern": "^[a-z0-9-]{1,64}$", "description": "chain id"},
            "store": {"type": "string", "pattern": "^[a-z0-9-]{1,64}$", "description": "store id"},
            "agent": {"type": "string", "pattern": "^[a-z0-9-]{1,64}$", "description": "gateway id"},
            "epoch": {"type": "string", "description": "id of the agent's outbox, new when it is created"},
            "seq": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ,
                    "description": "batch number, gap-free per epoch"},
            "sent_at": {"type": "string", "format": "date-time",
                        "description": "when the batch was made; from 2020-01-01 to a day after the "
                                       "receiver's clock"},
            "records": {
                "type": "array",
                "items": {"oneOf": [record_schema(c) for c in RECORD_TYPES.values()]},
            },
            "signature": {"type": "string", "description": "Ed25519 signature over topic and body (hex)"},
        },
        "required": ["schema", "org", "store", "agent", "epoch", "seq", "sent_at", "records"],
        "additionalProperties": False,
    }
